"""Data-parallel pre-training with gathered negatives (``torchrun`` + ``torch.distributed``).

Contrastive losses need every process to see the whole global batch as negatives. Plain
``torch.distributed.all_gather`` returns tensors without autograd history, so gradients would only
flow through the local rows. :func:`gather_with_grad` uses
``torch.distributed.nn.functional.all_gather``, whose backward sums the incoming gradients of every
process and hands each process the slice of its own rows (a reduce-scatter). Each process then
computes its **local** rows against **all** gathered candidates (:mod:`geosrl.pretrain.objectives`);
DDP averages the parameter gradients, so the update equals the gradient of the mean loss over the
global batch (tested in ``tests/pretrain/test_distributed.py`` with 2 gloo processes). Gradient
accumulation does not add negatives; the number logged as ``effective_negatives`` is
``world_size·B − 1`` in-batch candidates (+ K random locations for the L term).

Launch (one node, 8 GPUs)::

    torchrun --nproc_per_node=8 -m geosrl.pretrain.train --config pretrain.json

Multi-node (2 nodes × 8 GPUs; run on every node with its ``--node_rank``)::

    torchrun --nnodes=2 --nproc_per_node=8 --node_rank=R --master_addr=HOST0 --master_port=29500 \\
        -m geosrl.pretrain.train --config pretrain.json

On CPU use ``--nproc_per_node=2`` (backend gloo is picked automatically). Under SLURM:
``srun --nodes=2 --ntasks-per-node=1 torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d
--rdzv_endpoint=$HOST0:29500 -m geosrl.pretrain.train --config …``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "gather_with_grad", "init_distributed", "is_distributed", "world_info"]


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size, local rank and the device of this process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_distributed() -> bool:
    """True inside an initialised process group with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_info() -> DistInfo:
    """The current process's :class:`DistInfo` (single process when no group is initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    device = f"cuda:{local}" if torch.cuda.is_available() and dist.get_backend() == "nccl" else "cpu"
    return DistInfo(dist.get_rank(), dist.get_world_size(), local, device)


def init_distributed(device: str | None = None) -> DistInfo:
    """Initialise the default process group from ``torchrun``'s environment, if present.

    Without ``WORLD_SIZE`` > 1 in the environment nothing happens and a single-process
    :class:`DistInfo` is returned. Backend: ``nccl`` when CUDA is available and ``device`` is not
    ``"cpu"``, else ``gloo``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return DistInfo(device=dev)
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and device != "cpu"
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    info = world_info()
    return info


def gather_with_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Concatenate ``x`` ``(B, …)`` of every process along dim 0, keeping gradients.

    Every process must pass the same B. Returns ``(x_all, offset)``: ``x_all`` is ``(world·B, …)``
    in rank order, and ``offset = rank·B`` is where this process's rows start (its own slice is
    replaced by ``x`` itself, so local gradients never go through the communication). Outside an
    initialised group (or with one process) returns ``(x, 0)``.
    """
    if not is_distributed():
        return x, 0
    from torch.distributed.nn.functional import all_gather

    parts = list(all_gather(x.contiguous()))
    rank = dist.get_rank()
    parts[rank] = x
    return torch.cat(parts, dim=0), rank * x.shape[0]
