"""Your own encoder in the benchmark: ``[bench] imports`` names modules (or ``.py`` files) that register encoders.

A plugin is ordinary Python that registers its classes on import, e.g. ``my_encoders.py``::

    import torch
    from geosrl.encoders import PositionEncoding, register_encoder

    @register_encoder("my_fourier")
    class MyFourier(PositionEncoding):
        output_dim = 8

        def encode(self, lonlat, dtype):          # (..., 2) degrees, already checked → (..., 8)
            ...

and ``geosrl bench --config my.toml`` with ``[bench] imports = ["my_encoders.py"]`` and ``encoders =
["my_fourier", "sphere2vec_spherec_plus"]`` ranks it beside the built-in ones. The plugins are imported in the
main process before the grid is built and in every worker process (``--workers``); they run with your
permissions, like any code you import.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from ..config import ConfigError

__all__ = ["load_plugins"]


def load_plugins(imports: list[str]) -> None:
    """Import every module name or ``.py`` path of ``imports`` (each once per process).

    Raises:
        ConfigError: a module cannot be found or raises while importing (the message names it and the error).
    """
    for name in imports:
        try:
            if name.endswith(".py"):
                _import_file(Path(name))
            else:
                importlib.import_module(name)
        except ConfigError:
            raise
        except Exception as exc:  # the plugin's own error, reported as one line naming the plugin
            raise ConfigError(f"[bench] imports: cannot import {name!r}: {type(exc).__name__}: {exc}") from None


def _import_file(path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"[bench] imports: no file {str(path)!r}")
    path = path.resolve()
    module_name = "geosrl_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if module_name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
