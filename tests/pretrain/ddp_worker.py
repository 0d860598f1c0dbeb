"""2-process gloo DDP run of CSP losses (used by test_distributed.py; also runnable by hand).

    python tests/pretrain/ddp_worker.py OUT.pt

Spawns 2 CPU processes; each takes half of a fixed global batch, wraps the CSP model in
DistributedDataParallel, gathers embeddings with gradient and back-propagates. Rank 0 saves the mean
loss over ranks, the (DDP-averaged) gradients and the logs to OUT.pt.
"""

import os
import sys
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD = 2
B_GLOBAL = 8
KINDS = ("mc", "nce")


def build_model(kind: str):
    import geosrl
    from geosrl.pretrain.image_encoder import PatchCNN
    from geosrl.pretrain.model import CSPModel
    from geosrl.pretrain.objectives import CSPObjective

    torch.manual_seed(0)
    loc = geosrl.create_encoder("sphere2vec_spherec", embed_dim=8, frequency_num=4, validate=False,
                                net_kwargs={"hidden_dim": 16, "dropout": 0.0})
    img = PatchCNN(in_channels=4, embed_dim=8, width=4, depth=2, groups=2)
    obj = CSPObjective(kind, "BLD", tau_b=0.2, tau_l=0.5, tau_d=0.7, learnable_temperature=True, symmetric=True)
    return CSPModel(loc, img, obj, embed_dim=8).double()


def make_batch():
    g = torch.Generator().manual_seed(1)
    lon = torch.rand(B_GLOBAL, generator=g, dtype=torch.float64) * 360 - 180
    lat = torch.rand(B_GLOBAL, generator=g, dtype=torch.float64) * 160 - 80
    rand = torch.rand(B_GLOBAL, 2, 2, generator=g, dtype=torch.float64) * torch.tensor([360.0, 160.0]) - \
        torch.tensor([180.0, 80.0])
    images = torch.rand(B_GLOBAL, 4, 8, 8, generator=g, dtype=torch.float64)
    return torch.stack([lon, lat], 1), images, rand


def _worker(rank: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    from torch.nn.parallel import DistributedDataParallel as DDP

    from geosrl.pretrain.distributed import gather_with_grad

    ll, img, rand = make_batch()
    b = B_GLOBAL // WORLD
    sl = slice(rank * b, (rank + 1) * b)
    result = {}
    for kind in KINDS:
        model = DDP(build_model(kind))
        loss, logs = model(ll[sl], img[sl], rand[sl], gather=gather_with_grad)
        loss.backward()
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss)
        mean_loss /= WORLD
        grads = {k: p.grad.detach().clone() for k, p in model.module.named_parameters() if p.grad is not None}
        result[kind] = {"loss": mean_loss.item(), "grads": grads, "logs": logs}
    if rank == 0:
        torch.save(result, out)
    dist.barrier()
    dist.destroy_process_group()


def main(out: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        mp.spawn(_worker, args=(os.path.join(d, "rdzv"), out), nprocs=WORLD, join=True)


if __name__ == "__main__":
    main(sys.argv[1])
