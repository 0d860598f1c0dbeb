# %% [markdown]
# # Benchmark your own encoder
#
# Write a position encoding in a file of your own, register it with `@register_encoder`, and name the file in
# the `[bench] imports` of a config: `geosrl bench` then ranks it beside the built-in encoders, in every
# worker process too — without editing geosrl (`geosrl/bench/plugins.py`).

# %%
import os
import subprocess
import sys
import textwrap
from pathlib import Path

out = Path(os.environ.get("GEOSRL_TUTORIAL_OUT", "build/tutorials")).resolve()
out.mkdir(parents=True, exist_ok=True)

(out / "my_encoders.py").write_text(textwrap.dedent('''
    import math

    import torch

    from geosrl.encoders import PositionEncoding, register_encoder


    @register_encoder("my_fourier")
    class MyFourier(PositionEncoding):
        """sin/cos of lon and lat at 1, 2 and 4 cycles per turn: 12 features."""

        output_dim = 12

        def encode(self, lonlat, dtype):  # (..., 2) degrees, already validated → (..., 12)
            rad = lonlat * (math.pi / 180.0)
            k = torch.tensor([1.0, 2.0, 4.0], dtype=rad.dtype, device=rad.device)
            phase = (rad[..., :, None] * k).flatten(-2)
            return torch.cat([phase.sin(), phase.cos()], dim=-1).to(dtype)
'''))

# %% [markdown]
# A small grid: one task, two encoders, one seed, the random split, few epochs.

# %%
(out / "my_bench.toml").write_text(textwrap.dedent(f'''
    [bench]
    imports = ["{out / 'my_encoders.py'}"]
    tasks = ["land_ocean"]
    encoders = ["my_fourier", "wrap"]
    splits = ["random"]
    seeds = 1
'''))
result = subprocess.run([sys.executable, "-m", "geosrl.cli", "bench", "--config", str(out / "my_bench.toml"),
                         "--out", str(out / "bench"), "--cache-dir", str(out / "cache")],
                        capture_output=True, text=True)
print(result.stdout[-3000:])
assert result.returncode == 0, result.stderr
assert "my_fourier" in (out / "bench" / "leaderboard.csv").read_text()
