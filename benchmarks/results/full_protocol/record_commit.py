"""Add the commit that made them to cells written before cells recorded it: python record_commit.py CELLS COMMIT

The cells of this folder were made by a clean clone at git 0dee710 (its run.json: git_commit 0dee710…,
git_dirty false), whose runner did not yet store the commit in each cell. Adds ``git_commit`` and
``git_dirty: false`` to every cell JSON under CELLS that has no ``git_commit``; never changes one that has."""
import sys
from pathlib import Path

from geosrl.bench.store import read_json, write_json

cells, commit = Path(sys.argv[1]), sys.argv[2]
if len(commit) != 40:
    raise SystemExit("give the full 40-hex commit")
changed = 0
for path in sorted(cells.glob("*.json")):
    rec = read_json(path)
    if "git_commit" not in rec:
        write_json(path, {**rec, "git_commit": commit, "git_dirty": False})
        changed += 1
print(f"{changed} cells given commit {commit[:7]}")
