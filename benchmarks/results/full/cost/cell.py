"""One measured full-profile cell: python cell.py CONFIG TASK ENCODER SPLIT SEED  (CONFIG: B | A0 | A1); see run.sh.
B = HEAD code; A0 = new code, HEAD's full protocol; A1 = new code, new full.toml protocol (pruner, fused Adam);
A2 = A1 + fast_dropout (BitDropout masks; added after the A1 measurements).
Prints one JSON line: CPU seconds (time.process_time, after a warm-up cell), epochs trained, choices, metrics."""
import json, sys, time
import torch
torch.set_num_threads(1)
import geosrl
from geosrl.datasets import load_offline_task
from geosrl.tasks import run_task
import geosrl.tasks.training as T

config, task, enc, split, seed = sys.argv[1:6]
MAX = {"land_ocean": 4000, "country": 6000, "city_population": 6000, "elevation": 4000, "air_temperature": 4000,
       "sdm_presence_only": 4000}
proto = {"profile": "full", "epochs": 100, "patience": 10, "tune": {"trials": 20}}
if config == "A1":
    proto = {**proto, "fused_adam": True, "tune": {"trials": 20, "pruner": "median", "prune_startup": 5, "prune_warmup": 10}}
if config == "A2":
    proto = {**proto, "fused_adam": True, "fast_dropout": True,
             "tune": {"trials": 20, "pruner": "median", "prune_startup": 5, "prune_warmup": 10}}
epochs = [0]
curves = {}  # id(stopper) -> running best after each epoch (the value the pruner sees)
call = T.EarlyStopping.__call__
def counting(self, epoch):
    epochs[0] += 1
    out = call(self, epoch)
    if not hasattr(self, "_trial_index"):
        self._trial_index = len(curves)
    curves.setdefault(self._trial_index, []).append(self.best)
    return out
T.EarlyStopping.__call__ = counting
data = load_offline_task(task, max_samples=MAX[task])
run_task(load_offline_task("land_ocean", max_samples=4000), enc, "random", 0, {**proto, "epochs": 1, "tune": {"trials": 1}})  # warm-up
epochs[0] = 0
curves.clear()
t0, w0 = time.process_time(), time.perf_counter()
r = run_task(data, enc, split, int(seed), proto)
cpu, wall = time.process_time() - t0, time.perf_counter() - w0
trials = r.info["val_trials"]
print(json.dumps({"config": config, "task": task, "encoder": enc, "split": split, "seed": int(seed), "cpu_s": round(cpu, 2),
                  "wall_s": round(wall, 2), "epochs_trained": epochs[0], "cpu_s_per_epoch": round(cpu / max(1, epochs[0]), 4),
                  "pruned": sum(1 for t in trials if t.get("pruned_at_epoch") is not None), "n_trial_rows": len(trials),
                  "tuned": r.chosen_hparams.get("tuned"), "val": r.val_metrics, "test": r.metrics,
                  "sampler": r.chosen_hparams.get("sampler"), "code": geosrl.__file__}, default=str), flush=True)
import os
if os.environ.get("CURVES"):  # per-trial running-best validation scores, for simulate.py
    os.makedirs(os.environ["CURVES"], exist_ok=True)
    with open(f"{os.environ['CURVES']}/{config}.{task}.{enc}.json", "w") as f:
        json.dump({"curves": list(curves.values()), "records": trials}, f, default=str)
