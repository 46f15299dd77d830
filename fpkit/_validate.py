"""Argument checks shared by the public functions.

Every check names the argument and the allowed range, so bad input fails at the
boundary with a ValueError/TypeError instead of a NaN or a traceback deep inside NumPy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int; TypeError if it is not integral, ValueError outside [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        low = "" if minimum is None else f"{minimum} <= "
        raise ValueError(f"{name} must be an integer {low}{name} <= {maximum}; got {value}")
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
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float64 range
        value = math.inf if value > 0 else -math.inf
    finite = math.isfinite(value)
    below = low is not None and (value < low or (low_open and value == low))
    above = high is not None and (value > high or (high_open and value == high))
    if finite and not below and not above:
        return value
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
    raise ValueError(f"{name} must be {'in' if finite else 'finite, in'} {interval}; got {value}")


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


def check_bool(value: Any, name: str) -> bool:
    """Only real booleans (``True``/``False``, NumPy bools): ``"no"`` or ``1`` are not silently true."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__})")


def check_callable(value: Any, name: str) -> Any:
    """Return ``value`` if it is callable, else a TypeError naming it."""
    if not callable(value):
        raise TypeError(f"{name} must be callable; got {type(value).__name__}")
    return value


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    min_size: int = 0,
    finite: bool = True,
    complex_ok: bool = False,
    dtype: Any = None,
):
    """``x`` as a NumPy array of real (or, with ``complex_ok``, complex) numbers, else raise naming it.

    Lists, tuples, scalars and CuPy arrays are accepted (CuPy arrays are copied to the host).
    Strings, objects and booleans-as-text are a TypeError; complex numbers are a TypeError
    unless ``complex_ok``; NaN or inf a ValueError when ``finite``; a wrong number of axes or
    fewer than ``min_size`` elements a ValueError. Returns float64 (complex128) arrays unless
    ``dtype`` is given.
    """
    import numpy as np

    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array; got {type(x).__name__} {x!r:.40}")
    if hasattr(x, "get") and type(x).__module__.split(".")[0] == "cupy":  # pragma: no cover - GPU
        x = x.get()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise TypeError(f"{name} must be a numeric array; got {type(x).__name__} ({exc})") from None
    kind = arr.dtype.kind
    if kind == "c" and not complex_ok:
        raise TypeError(f"{name} must be real; got a complex array ({arr.dtype})")
    if kind not in "biufc":
        raise TypeError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    if dtype is None:
        dtype = np.complex128 if kind == "c" else np.float64
    arr = arr.astype(dtype, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} axes; got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} element(s); got {arr.size}")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return arr


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where it cannot be read)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def check_memory(n_bytes: float, what: str) -> None:
    """Refuse (ValueError) an allocation larger than this machine's physical memory.

    Better a clear error naming the sizes up front than a process killed by the kernel halfway.
    ``what`` names the arguments that set the size, e.g. ``"n_networks * L * N**2 weights"``.
    """
    total = physical_memory()
    if total is not None and n_bytes > total:
        raise ValueError(f"{what} need {_gib(n_bytes)}, more than this machine's memory ({_gib(total)}); "
                         "use smaller sizes (or chunks)")


def _gib(n_bytes: float) -> str:
    try:
        return f"{n_bytes / 2**30:.3g} GiB"
    except OverflowError:  # an int beyond the float64 range
        return f"about 10^{int(math.log10(n_bytes)) - 9} GB"


def one_line(text: Any) -> str:
    """A message on one line (for the command line's single error line)."""
    return " ".join(str(text).split())


def as_float64(x, name: str, xp):
    """Real numbers (bool, int, float) as float64 in namespace ``xp``; complex or other dtypes are
    a TypeError naming ``name``."""
    import numpy as np

    kind = np.dtype(str(x.dtype)).kind if str(x.dtype) != "object" else "O"
    if kind == "c":
        raise TypeError(f"{name} must be real; got a complex array ({x.dtype})")
    if kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array; got dtype {x.dtype}")
    return x if x.dtype == xp.float64 else xp.astype(x, xp.float64)


def checked_real_function(f: Any, name: str):
    """``f`` wrapped so that a value that is not a finite real number of the input's shape is an error
    naming ``name``, instead of a NaN or a RuntimeWarning deep inside a quadrature.

    ``f`` must act elementwise on float64 arrays (return an array of the input's shape, or a scalar
    for every point). The wrapper is marked, so wrapping it again returns it unchanged.
    """
    import numpy as np

    check_callable(f, name)
    if getattr(f, "_fpkit_checked", False):
        return f

    def checked(x):
        y = f(x)
        arr = np.asarray(y) if not isinstance(y, (str, bytes)) else np.asarray(None)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must return real numbers; got {y!r:.60}")
        if arr.shape not in ((), np.shape(x)):
            raise ValueError(f"{name} must act elementwise (return the shape of its input {np.shape(x)}); "
                             f"got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} returned NaN or inf (at some x in {np.min(x):.3g}..{np.max(x):.3g}); "
                             "it must be finite")
        return y

    checked._fpkit_checked = True
    checked.__name__ = getattr(f, "__name__", name)
    return checked
