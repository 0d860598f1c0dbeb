"""Make ``bench_fakes`` importable (pytest runs with --import-mode=importlib, which adds no test folder to
sys.path); spawned ``--workers`` processes inherit this path, so they can unpickle the fake backend."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
