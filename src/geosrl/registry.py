"""A named registry of classes (timm-style), shared by the location and the geometry encoders.

A :class:`Registry` maps names to classes. ``register(name)`` is a class decorator that refuses to
rebind a name to another class (timm silently overwrites), ``names(filter)`` lists the registered
names, ``get(name)`` returns a class with an error listing the choices, and ``create(name, **kw)``
builds one, dropping keyword arguments equal to ``None`` so that config files can leave a value unset.

Registration happens when the module defining a class is imported: the package holding a registry
imports all its members in its ``__init__`` (Python runs a package's ``__init__`` before any of its
modules), so a registry is complete whatever was imported first, without import cycles.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable

__all__ = ["Registry"]


class Registry:
    """Name → class table of one kind of object (``what`` is used in error messages)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._classes: dict[str, type] = {}

    def register(self, name: str) -> Callable[[type], type]:
        """Class decorator: register ``cls`` under ``name`` and set ``cls.registry_name``."""

        def wrap(cls: type) -> type:
            if name in self._classes and self._classes[name] is not cls:
                raise ValueError(f"{self.what} name {name!r} is already registered to {self._classes[name].__name__}")
            self._classes[name] = cls
            cls.registry_name = name
            return cls

        return wrap

    def names(self, filter: str = "*") -> list[str]:
        """Sorted registered names matching the fnmatch pattern ``filter``."""
        return sorted(n for n in self._classes if fnmatch.fnmatch(n, filter))

    def get(self, name: str) -> type:
        """The class registered as ``name``; ``ValueError`` naming the choices otherwise."""
        try:
            return self._classes[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.what} {name!r}; choose one of {self.names()}") from None

    def create(self, name: str, **kwargs: Any) -> Any:
        """``get(name)(**kwargs)`` with ``None``-valued keyword arguments dropped."""
        return self.get(name)(**{k: v for k, v in kwargs.items() if v is not None})
