"""Make the synthetic-data helpers in ``hetero_synth.py`` importable from the hetero tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
