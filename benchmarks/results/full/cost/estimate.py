"""CPU-hours of the full profile from measured cells (measure.jsonl) and per-encoder step costs (enc_cost.csv).

cell CPU-s (task, encoder) = cell CPU-s of spherical_harmonics on that task (measured; tasks not measured: CPU-s per
epoch from the issue-10 README table × the mean epochs per search measured here × searches) × the encoder's step
cost relative to spherical_harmonics (enc_cost.csv: mean of the two shapes; default Adam before, fused after);
× 3 seeds × 2 splits."""
import csv, json, statistics as st
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
SEARCHES = {"land_ocean": 1, "country": 2, "city_population": 1, "elevation": 1, "air_temperature": 1,
            "sdm_presence_only": 1, "country_from_imagery": 1}
OLD_PER_EPOCH = {"land_ocean": 0.106, "country": 0.355, "city_population": 0.197, "elevation": 0.139,
                 "air_temperature": 0.126, "sdm_presence_only": 0.059, "country_from_imagery": 0.178}
CNN_S = 121.0  # country_from_imagery's image CNN, once per (split, seed) and worker process


def estimate(show: bool = True) -> dict[str, dict[str, float]]:
    """CPU-hours per task over the 6 (split, seed) pairs, by configuration (B: before, A1: after); prints the
    working when ``show``."""
    say = print if show else (lambda *args, **kwargs: None)
    rows = [json.loads(l) for l in open(HERE / "measure.jsonl")]
    seen = defaultdict(list)
    for r in rows:
        seen[(r["config"], r["task"], r["encoder"])].append(r)
    last = {k: v[-1] for k, v in seen.items()}  # A1 land_ocean SH: the last run is the final pruner

    cost = defaultdict(dict)
    for r in csv.DictReader(open(HERE / "enc_cost.csv")):
        cost[(r["encoder"], r["adam"])][r["shape"]] = float(r["ms_per_step"])
    ms = {k: st.mean(v.values()) for k, v in cost.items()}
    encoders = sorted({e for e, _ in ms})
    ratio = {cfg: {e: ms[(e, adam)] / ms[("spherical_harmonics", adam)] for e in encoders}
             for cfg, adam in (("B", "default"), ("A1", "fused"))}
    for cfg in ratio:
        say(cfg, "Σ step cost / SH over the 17 encoders:", round(sum(ratio[cfg].values()), 2))
    say("encoder,ms_default,ms_fused,ratio_B,ratio_A1")
    for e in encoders:
        say(f"{e},{ms[(e, 'default')]:.1f},{ms[(e, 'fused')]:.1f},{ratio['B'][e]:.2f},{ratio['A1'][e]:.2f}")

    sh = {cfg: {t: last[(cfg, t, "spherical_harmonics")] for (c, t, e) in last if c == cfg and e == "spherical_harmonics"}
          for cfg in ("B", "A1")}
    measured = sorted(set(sh["B"]) & set(sh["A1"]))
    say("\ntask,B_cpu_s,B_epochs,A1_cpu_s,A1_epochs,cpu_ratio,epoch_ratio")
    for t in measured:
        b, a = sh["B"][t], sh["A1"][t]
        say(f"{t},{b['cpu_s']},{b['epochs_trained']},{a['cpu_s']},{a['epochs_trained']},{a['cpu_s'] / b['cpu_s']:.3f},"
            f"{a['epochs_trained'] / b['epochs_trained']:.3f}")
    # tasks not measured: old per-epoch cost scaled to today's machine load by the measured tasks' per-epoch ratio
    scale = st.mean(sh["B"][t]["cpu_s_per_epoch"] / (OLD_PER_EPOCH[t] / SEARCHES[t]) for t in measured) if measured else 1
    epochs_per_search = {cfg: st.mean(sh[cfg][t]["epochs_trained"] / SEARCHES[t] for t in measured) for cfg in sh}
    per_epoch_ratio = st.mean(sh["A1"][t]["cpu_s_per_epoch"] / sh["B"][t]["cpu_s_per_epoch"] for t in measured)
    say(f"\nscale of the old per-epoch table to today: {scale:.2f}; epochs per search: {epochs_per_search}; "
        f"per-epoch CPU A1/B: {per_epoch_ratio:.3f}")
    total, per_task = {}, {}
    for cfg in ("B", "A1"):
        hours = 0.0
        say(f"\n{cfg}: task,SH_cell_cpu_s,all_encoders_cell_cpu_s,cpu_h_over_6_split_seeds")
        for t in SEARCHES:
            if t in sh[cfg]:
                cell = sh[cfg][t]["cpu_s"]
            else:
                per_epoch = OLD_PER_EPOCH[t] * scale * (per_epoch_ratio if cfg == "A1" else 1.0)
                cell = per_epoch * epochs_per_search[cfg]
            enc_total = cell * sum(ratio[cfg].values())
            h = enc_total * 6 / 3600 + (6 * CNN_S / 3600 if t == "country_from_imagery" else 0)
            hours += h
            per_task.setdefault(cfg, {})[t] = h
            say(f"{t},{cell:.0f},{enc_total:.0f},{h:.2f}")
        total[cfg] = hours
        say(f"{cfg} total: {hours:.1f} CPU-hours")
    say(f"\nreduction: {total['A1'] / total['B']:.3f} (−{1 - total['A1'] / total['B']:.0%})")
    return per_task


if __name__ == "__main__":
    estimate()
