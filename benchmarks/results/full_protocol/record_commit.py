"""Mend the code provenance of cells: python record_commit.py CELLS COMMIT [--dirty-was-results]

1. The first cells of this folder were made by a clean clone at git 0dee710 (its run.json: git_commit 0dee710…,
   git_dirty false), whose runner did not yet store the commit in each cell: adds ``git_commit`` and
   ``git_dirty: false`` to every cell JSON under CELLS that has no ``git_commit``; never changes one that has.
2. ``--dirty-was-results``: cells made at COMMIT before ``git_dirty`` looked at the package's folder only were
   marked dirty by the result files the run itself rewrites in the repository (run.json, summary.md, …). Use it
   only after checking the clone that made them had no code change (``git -C CLONE status --porcelain
   --untracked-files=no -- src`` prints nothing): sets ``git_dirty: false`` on CELLS' cells of COMMIT."""
import sys
from pathlib import Path

from geosrl.bench.store import read_json, write_json

cells, commit = Path(sys.argv[1]), sys.argv[2]
results_only = "--dirty-was-results" in sys.argv[3:]
if len(commit) != 40:
    raise SystemExit("give the full 40-hex commit")
changed = 0
for path in sorted(cells.glob("*.json")):
    rec = read_json(path)
    if "git_commit" not in rec:
        write_json(path, {**rec, "git_commit": commit, "git_dirty": False})
        changed += 1
    elif results_only and rec["git_commit"] == commit and rec.get("git_dirty"):
        write_json(path, {**rec, "git_dirty": False})
        changed += 1
print(f"{changed} cells given commit {commit[:7]} with git_dirty false")
