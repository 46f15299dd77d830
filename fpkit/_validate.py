"""Argument checks shared by the public functions.

Every check names the argument and the allowed range, so bad input fails at the
boundary with a ValueError/TypeError instead of a NaN or a traceback deep inside NumPy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int; TypeError if it is not integral, ValueError if below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return value


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the given interval, else raise naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    value = float(value)
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, in {interval}; got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be in {interval}; got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be in {interval}; got {value}")
    return value


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices`` (strings), else raise naming them."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {tuple(choices)}; got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")
    return value


def check_shape(shape: Any, name: str = "shape") -> tuple[int, ...]:
    """Normalise an int or a sequence of ints to a shape tuple of non-negative ints."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name} must be an int or a tuple of ints; got {type(shape).__name__}")
    return tuple(check_int(s, f"{name}[{i}]", minimum=0) for i, s in enumerate(shape))


def check_ensemble(value: Any, name: str = "ensemble"):
    """Return ``value`` if it is a :class:`fpkit.network.Ensemble`, else raise a TypeError naming it."""
    from .network import Ensemble

    if not isinstance(value, Ensemble):
        raise TypeError(f"{name} must be an Ensemble; got {type(value).__name__}")
    return value
