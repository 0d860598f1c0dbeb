"""Your own encoder in the benchmark: ``[bench] imports`` names modules (or ``.py`` files) that register encoders.

A plugin is ordinary Python that registers its classes on import, e.g. ``my_encoders.py``::

    import torch
    from geosrl.encoders import PositionEncoding, register_encoder

    @register_encoder("my_fourier")
    class MyFourier(PositionEncoding):
        output_dim = 8

        def encode(self, lonlat, dtype):          # (..., 2) degrees, already checked → (..., 8)
            ...

and ``geosrl bench --config my.toml`` with ``[bench] imports = ["my_encoders.py"]`` (or ``geosrl bench --imports
my_encoders.py``) and ``encoders = ["my_fourier", "sphere2vec_spherec_plus"]`` ranks it beside the built-in ones.

An encoder can also be named by where it lives: ``geosrl bench --encoders my_package.encoders:MyFourier`` imports
the module and registers the ``PositionEncoding`` subclass under that name (no decorator needed).

An installed package can instead declare its module in the ``geosrl.encoders`` entry-point group
(``pyproject.toml``: ``[project.entry-points."geosrl.encoders"] my_fourier = "my_package.encoders"``); every
``geosrl bench`` imports the modules of that group, so its encoders are available by name with no config. The plugins are imported in the
main process before the grid is built and in every worker process (``--workers``); they run with your
permissions, like any code you import.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

from ..config import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "installed_plugins", "is_encoder_spec", "load_plugins", "register_encoder_specs"]

#: entry-point group of installed packages that register location encoders on import
ENTRY_POINT_GROUP = "geosrl.encoders"


def installed_plugins() -> list[str]:
    """Module names declared in the :data:`ENTRY_POINT_GROUP` entry points of the installed packages."""
    return sorted({ep.module for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})


def load_plugins(imports: list[str]) -> None:
    """Import the installed plugins (:func:`installed_plugins`), then every module name or ``.py`` path of
    ``imports`` (each once per process).

    Raises:
        ConfigError: a module cannot be found or raises while importing (the message names it and the error).
    """
    for name in [*installed_plugins(), *imports]:
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


def is_encoder_spec(name: str) -> bool:
    """Whether an encoder name is a ``module:ClassName`` spec (see the module docstring)."""
    return ":" in name


def register_encoder_specs(names: list[str]) -> None:
    """Import each ``module:ClassName`` of ``names`` and register that class under the spec itself.

    Raises:
        ConfigError: the module cannot be imported, has no such attribute, or it is not a position encoding.
    """
    from ..encoders import PositionEncoding
    from ..encoders.registry import ENCODERS

    for spec in filter(is_encoder_spec, names):
        if spec in ENCODERS.names():
            continue
        module_name, _, attr = spec.partition(":")
        load_plugins([module_name])
        cls = getattr(sys.modules[module_name], attr, None)
        if not (isinstance(cls, type) and issubclass(cls, PositionEncoding)):
            raise ConfigError(f"encoder {spec!r}: {module_name} has no PositionEncoding subclass named {attr!r} "
                              "(write module:ClassName)")
        ENCODERS.register(spec)(cls)
