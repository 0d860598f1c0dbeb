"""Argument checks shared by the position encodings, the networks, ``create_encoder``, the geometry encoders and ``embed``.

One policy, applied everywhere (every check returns the value converted to its canonical Python type):

* **counts** (:func:`check_count`: frequencies, widths, layers, seeds): ``int`` or a NumPy integer.
  An integral float such as ``4.0`` (what JSON or a hyper-parameter sweep may hand over) is accepted
  and becomes ``4``; a non-integral float (``4.5``), NaN or inf raises :class:`ValueError` instead of
  being truncated. ``bool`` is refused with :class:`TypeError` although ``True`` is an ``int`` in
  Python, and so is anything that is not a real number (``"4"``, ``None``, a tensor).
* **reals** (:func:`check_real`: radii, scales, dropout): ``int``, ``float`` or a NumPy real (not
  ``bool``), finite, inside the stated bounds.
* **flags** (:func:`check_flag`): ``bool`` or ``numpy.bool_`` only (``1`` or ``"yes"`` are refused).
* **choices** (:func:`check_choice`): one of a fixed tuple of strings.

Type problems raise :class:`TypeError`, value problems :class:`ValueError`; every message names the
argument, the value received and what is allowed.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

__all__ = ["check_choice", "check_count", "check_dropout", "check_extent", "check_flag", "check_order",
           "check_positive", "check_real", "check_reals", "check_seed", "describe"]


def describe(value: Any) -> str:
    """``repr(value)`` (cut to 60 characters) and its type, for error messages."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


#: default upper bound of a count (frequencies, anchors, widths): far above any useful encoder, low enough
#: that a constructor never tries to allocate terabytes for a typo such as ``frequency_num=2**40``
MAX_COUNT = 1_000_000


def check_count(name: str, value: Any, minimum: int = 1, maximum: int | None = MAX_COUNT) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]`` (see the module docstring for what is accepted)."""
    allowed = f"an integer >= {minimum}" + ("" if maximum is None else f" and <= {maximum}")
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {allowed}, got {describe(value)}")
    if not isinstance(value, numbers.Integral):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValueError(f"{name} must be {allowed}, got {describe(value)}; it is not rounded silently")
    count = int(value)
    if count < minimum or (maximum is not None and count > maximum):
        raise ValueError(f"{name} must be {allowed}, got {describe(value)}")
    return count


def check_real(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
) -> float:
    """``value`` as a finite ``float`` in the interval given by ``minimum``/``maximum``.

    ``min_open``/``max_open`` exclude the bound itself (``minimum=0, min_open=True`` means ``> 0``).
    """
    if minimum == 0:  # the common cases read better in words
        allowed, minimum_text = ("a positive finite number" if min_open else "a non-negative finite number"), ""
    else:
        allowed = "a finite number"
        minimum_text = "" if minimum is None else f"{'>' if min_open else '>='} {minimum:g}"
    maximum_text = "" if maximum is None else f"{'<' if max_open else '<='} {maximum:g}"
    allowed = " ".join([allowed, " and ".join(b for b in (minimum_text, maximum_text) if b)]).rstrip()
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {allowed}, got {describe(value)}")
    x = float(value)
    ok = math.isfinite(x)
    if ok and minimum is not None:
        ok = x > minimum if min_open else x >= minimum
    if ok and maximum is not None:
        ok = x < maximum if max_open else x <= maximum
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {describe(value)}")
    return x


def check_positive(name: str, value: Any, maximum: float | None = None) -> float:
    """A finite ``float`` > 0 (and <= ``maximum`` if given): radii, scales, widths of kernels."""
    return check_real(name, value, minimum=0.0, min_open=True, maximum=maximum)


def check_dropout(name: str, value: Any) -> float:
    """A dropout probability in [0, 1) (1 would zero every feature)."""
    return check_real(name, value, minimum=0.0, maximum=1.0, max_open=True)


def check_reals(name: str, values: Any, length: int | None = None, **bounds: Any) -> tuple[float, ...]:
    """A non-empty sequence of reals (list, tuple or 1-d array; ``length`` items if given), each checked by
    :func:`check_real` with ``bounds``; returns a tuple of floats."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) or np.ndim(values) != 1:
        raise TypeError(f"{name} must be a sequence of numbers, got {describe(values)}")
    if len(values) == 0 or (length is not None and len(values) != length):
        size = "at least one number" if length is None else f"exactly {length} numbers"
        raise ValueError(f"{name} must hold {size}, got {describe(values)}")
    return tuple(check_real(f"{name}[{i}]", v, **bounds) for i, v in enumerate(values))


def check_flag(name: str, value: Any) -> bool:
    """``value`` as a ``bool``; only ``True``/``False`` (or NumPy booleans) are accepted."""
    if not _is_bool(value):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {describe(value)}")
    return value


def check_order(low_name: str, low: float, high_name: str, high: float, strict: bool = False) -> None:
    """Raise ``ValueError`` unless ``low <= high`` (``low < high`` if ``strict``)."""
    if low > high or (strict and low == high):
        relation = "be less than" if strict else "not exceed"
        raise ValueError(f"{low_name} must {relation} {high_name}, got {low_name}={low!r} and {high_name}={high!r}")


def check_seed(name: str, value: Any) -> int:
    """A random seed: an integer in [0, 2⁶⁴ − 1] (what ``torch.Generator.manual_seed`` takes)."""
    return check_count(name, value, minimum=0, maximum=2**64 - 1)


def check_extent(name: str, extent: Any) -> tuple[float, float, float, float]:
    """``(x_min, x_max, y_min, y_max)`` in degrees: four finite numbers with x_min < x_max and y_min < y_max."""
    x_min, x_max, y_min, y_max = check_reals(name, extent, length=4)
    check_order(f"{name} x_min", x_min, f"{name} x_max", x_max, strict=True)
    check_order(f"{name} y_min", y_min, f"{name} y_max", y_max, strict=True)
    return x_min, x_max, y_min, y_max
