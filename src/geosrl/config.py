"""Nested configuration dictionaries: profile defaults updated by a user's keys."""

from __future__ import annotations

import copy
from collections.abc import Collection


def merge_config(base: dict, over: dict, free_tables: Collection[str] = (), path: str = "", what: str = "config") -> dict:
    """A deep copy of ``base`` updated by ``over``, table by table.

    Unknown keys raise ``ValueError`` naming the dotted key and the known ones, so a typo never passes
    silently. Tables named in ``free_tables`` (e.g. keyword arguments passed through to a constructor)
    accept any keys and are updated shallowly.
    """
    out = copy.deepcopy(base)
    for key, value in over.items():
        if key not in out:
            raise ValueError(f"unknown {what} key {path + key!r}; known: {sorted(out)}")
        if isinstance(out[key], dict) and isinstance(value, dict):
            if key in free_tables:
                out[key] = {**out[key], **copy.deepcopy(value)}
            else:
                out[key] = merge_config(out[key], value, free_tables, path + key + ".", what)
        else:
            out[key] = copy.deepcopy(value)
    return out
