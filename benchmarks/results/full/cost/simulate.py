"""Replay unpruned trials (their per-epoch running-best validation scores, in trial order) under a pruning rule:
which trials would be stopped, at which epoch, how many epochs saved, and whether the chosen trial survives.
(The replay keeps the unpruned run's trial sequence; in a pruned run TPE's later proposals differ.)
python simulate.py curves/A0.*.json"""
import json, sys
import numpy as np

KEYS = ("top1", "r2", "auc")

def key(r):
    for k in KEYS:
        if k in r:
            return (r[k], r.get("mrr", r.get("auc", 0.0)) if k == "top1" else 0.0)

def replay(curves, recs, keep, startup, warmup, carry=False):
    done, ran, pruned = [], [], []
    for c in curves:
        stop = None
        if len(done) >= startup:
            for e in range(warmup, len(c) + 1):
                vals = [d[e - 1] for d in done if len(d) >= e]
                if vals and c[e - 1] < np.percentile(vals, 100 - keep):
                    stop = e
                    break
        if stop is None:
            done.append(c + [c[-1]] * (100 - len(c)) if carry else c); ran.append(len(c)); pruned.append(False)
        else:
            ran.append(stop); pruned.append(True)
    best_all = max(range(len(recs)), key=lambda i: key(recs[i]))
    best_kept = max((i for i in range(len(recs)) if not pruned[i]), key=lambda i: key(recs[i]))
    return sum(ran), sum(pruned), best_all, best_kept

RULES = [(50, 5, 10, False), (50, 5, 20, False), (75, 5, 20, False), (50, 5, 10, True), (50, 5, 20, True), (75, 5, 10, True), (75, 5, 20, True)]
for path in sys.argv[1:]:
    d = json.load(open(path))
    curves, recs = d["curves"], d["records"]
    searches = [(0, len(curves))] if len(curves) == len(recs) and len(curves) <= 20 else [(0, 20), (20, 40)]
    for lo, hi in searches:
        c, r = curves[lo:hi], recs[lo:hi]
        total = sum(len(x) for x in c)
        print(f"{path.split('/')[-1]} search {lo // 20}: {total} epochs unpruned; chosen trial {max(range(len(r)), key=lambda i: key(r[i]))} key {key(r[max(range(len(r)), key=lambda i: key(r[i]))])}")
        for keep, startup, warmup, carry in RULES:
            ep, npr, ba, bk = replay(c, r, keep, startup, warmup, carry)
            loss = key(r[ba])[0] - key(r[bk])[0]
            print(f"   keep top {keep}% after {startup} trials, warm-up {warmup}{', carry' if carry else ''}: {ep} epochs ({ep / total:.0%}), {npr} pruned, "
                  f"chosen {'same' if ba == bk else f'trial {bk} (val key −{loss:.4f})'}")
