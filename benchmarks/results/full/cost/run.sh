#!/bin/bash
# How measure.jsonl, enc_cost.csv and curves/ were made (2026-11-30, issue 10 item 8), from the repository root:
#   B  = the code at 547b725 (before):     git archive 547b725 src | tar -x -C /tmp/B
#   A  = 547b725 + this change's src/geosrl/tasks/{search,training,common,geoprior,regression,presence_only}.py
# A0 = tree A with B's protocol (same numbers as B), A1 = tree A with the new full.toml protocol.
# Each cell in its own process, one torch thread, interleaved B / A0 / A1 so that all see the same load.
# The recorded run (06:59-07:49 UTC) went in batches: B/A0/A1 of land_ocean x SH (A1 with the plain MedianPruner,
# superseded), B/A0 of land_ocean x dfs; B/A0 of sdm and elevation, A0 of land_ocean x SH again (for its curves)
# and of country; A1 of all five; enc_cost.py; B of country. This script replays the same cells in one loop.
set -e
HERE=benchmarks/results/full/cost
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run() { CURVES=$HERE/curves PYTHONPATH=$1/src .venv/bin/python $HERE/cell.py $2 $3 $4 spatial 0 >> $HERE/measure.jsonl; }
for cell in "land_ocean spherical_harmonics" "land_ocean sphere2vec_dfs" "sdm_presence_only spherical_harmonics" \
            "elevation spherical_harmonics" "country spherical_harmonics"; do
  run /tmp/B B $cell; run /tmp/A A0 $cell; run /tmp/A A1 $cell
done
PYTHONPATH=/tmp/A/src .venv/bin/python $HERE/enc_cost.py > $HERE/enc_cost.csv
.venv/bin/python $HERE/simulate.py $HERE/curves/A0.*.json     # pruning rules replayed on the unpruned curves
.venv/bin/python $HERE/estimate.py                            # the CPU-hour estimate
