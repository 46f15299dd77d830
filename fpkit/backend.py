"""Array backend: NumPy on the CPU, CuPy on an NVIDIA GPU, one code path.

The backend is chosen by the ``FPKIT_BACKEND`` environment variable or by the
``backend=`` argument of the functions that create arrays:

``"auto"`` (default)
    CuPy when it is installed *and* a CUDA device answers, NumPy otherwise.
``"numpy"``
    Always NumPy.
``"cupy"``
    CuPy; asking for it where it cannot run raises :class:`BackendUnavailableError`
    instead of falling back silently.

Functions that receive arrays dispatch on them with
:func:`array_api_compat.array_namespace`, so the same code serves both backends.
Random numbers come from a per-backend generator built by :func:`make_rng` from
``seed: int | Generator``; nothing is seeded globally.
"""

from __future__ import annotations

import functools
import inspect
import os
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

from . import _validate as v

__all__ = [
    "BACKENDS",
    "BackendUnavailableError",
    "array_namespace",
    "backend_name",
    "cpu_threads",
    "device_description",
    "get_namespace",
    "make_rng",
    "single_threaded_blas",
    "split_rows",
    "to_numpy",
]

#: Names accepted by ``FPKIT_BACKEND`` and by ``backend=`` arguments.
BACKENDS = ("auto", "numpy", "cupy")


class BackendUnavailableError(RuntimeError):
    """Raised when the CuPy backend is requested where it cannot run."""


@functools.cache
def _cupy_or_reason() -> tuple[ModuleType | None, str]:
    """Import CuPy and touch a device; return ``(cupy, "")`` or ``(None, why)``."""
    try:
        import cupy  # type: ignore[import-not-found]
    except Exception as exc:  # ImportError, or a broken CUDA install
        return None, f"CuPy is not importable ({exc.__class__.__name__}: {exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"CuPy is installed but no CUDA device answers ({exc})"
    if count < 1:
        return None, "CuPy is installed but no CUDA device is present"
    return cupy, ""


def _resolve_name(backend: str | None) -> str:
    name = os.environ.get("FPKIT_BACKEND", "auto") if backend is None else backend
    if not isinstance(name, str):
        raise TypeError(f"backend must be a str, one of {BACKENDS}; got {type(name).__name__}")
    name = name.strip().lower()
    if name not in BACKENDS:
        source = "FPKIT_BACKEND" if backend is None else "backend"
        raise ValueError(f"{source} must be one of {BACKENDS}; got {name!r}")
    if name == "auto":
        cupy, _ = _cupy_or_reason()
        return "cupy" if cupy is not None else "numpy"
    return name


def backend_name(backend: str | None = None) -> str:
    """Resolve a backend request (``None`` reads ``FPKIT_BACKEND``) to ``"numpy"`` or ``"cupy"``."""
    return _resolve_name(backend)


def get_namespace(backend: str | None = None) -> ModuleType:
    """Return the array module (``numpy`` or ``cupy``) for a backend request.

    Raises
    ------
    BackendUnavailableError
        If ``"cupy"`` is requested explicitly but CuPy or a CUDA device is missing.
    """
    name = _resolve_name(backend)
    if name == "numpy":
        return np
    cupy, why = _cupy_or_reason()
    if cupy is None:
        raise BackendUnavailableError(
            f"backend 'cupy' was requested but cannot run: {why}. "
            "Install the extra `pip install fpkit[gpu]` on a machine with an NVIDIA GPU, "
            "or use FPKIT_BACKEND=numpy."
        )
    return cupy


def array_namespace(*arrays: Any) -> ModuleType:
    """Array-API namespace of the given arrays (NumPy or CuPy), via ``array_api_compat``.

    Arrays of a stand-in device namespace (:class:`fpkit.syncs.CountingNamespace`, whose arrays
    name it in ``fpkit_namespace``) give that namespace; mixed with other arrays they are a TypeError,
    as CuPy and NumPy arrays are.
    """
    if not arrays:
        raise TypeError("array_namespace needs at least one array")
    stand_ins = {id(ns): ns for ns in (_stand_in_namespace(a) for a in arrays) if ns is not None}
    if stand_ins:
        if len(stand_ins) > 1 or any(_stand_in_namespace(a) is None and hasattr(a, "shape") for a in arrays):
            raise TypeError("arrays must be of one backend; got arrays of a counting namespace mixed with others")
        return next(iter(stand_ins.values()))
    try:
        return array_api_compat.array_namespace(*arrays)
    except TypeError as exc:
        kinds = sorted({type(a).__name__ for a in arrays})
        raise TypeError(f"arrays must be NumPy or CuPy arrays of one backend; got {kinds} ({exc})") from None


def _stand_in_namespace(x: Any):
    """The namespace a stand-in device array (or its class) names in ``fpkit_namespace``, or None."""
    return getattr(x if isinstance(x, type) else type(x), "fpkit_namespace", None)


def _is_cupy_module(xp: ModuleType) -> bool:
    return xp.__name__.split(".")[0] == "cupy" or array_api_compat.is_cupy_namespace(xp)


def make_rng(seed: Any, backend: str | ModuleType | None = None):
    """A random generator for a backend from ``seed: int | Generator``.

    Parameters
    ----------
    seed : int, numpy.random.Generator or cupy.random.Generator
        A non-negative integer seeds a fresh generator; a generator of the
        right backend is returned unchanged (so callers can thread one
        generator through several draws). A NumPy generator passed to the
        CuPy backend seeds a CuPy generator from one draw of it, which is
        deterministic.
    backend : str, module or None
        ``"numpy"``, ``"cupy"``, ``"auto"``, an array module, or ``None``
        (read ``FPKIT_BACKEND``).

    Returns
    -------
    numpy.random.Generator or cupy.random.Generator
    """
    if isinstance(backend, ModuleType) and _stand_in_namespace(getattr(backend, "ndarray", None)) is backend:
        # a stand-in device namespace (fpkit.syncs): NumPy's generator, drawing onto the namespace
        if isinstance(seed, backend.random.Generator):
            return seed
        return backend.random.default_rng(make_rng(seed, "numpy"))
    if isinstance(backend, ModuleType):
        if backend.__name__.split(".")[0] not in ("numpy", "cupy", "array_api_compat"):
            raise TypeError(f"backend must be 'auto', 'numpy', 'cupy' or an array module; got module "
                            f"{backend.__name__!r}")
        xp = backend
    else:
        xp = get_namespace(backend)
    if isinstance(seed, (bool, np.bool_)) or seed is None:
        raise TypeError(
            "seed must be a non-negative int or a Generator; got "
            f"{seed!r} (no implicit global or time-based seeding)"
        )
    if _is_cupy_module(xp):
        cupy = xp
        if isinstance(seed, cupy.random.Generator):
            return seed
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(0, 2**63 - 1))
        return cupy.random.default_rng(_check_seed_int(seed))
    if isinstance(seed, np.random.Generator):
        return seed
    if type(seed).__module__.split(".")[0] == "cupy":
        raise TypeError("seed is a CuPy generator but the backend is NumPy; pass an int seed")
    return np.random.default_rng(_check_seed_int(seed))


def _check_seed_int(seed: Any) -> int:
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative int or a Generator; got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed}")
    return int(seed)


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array of any backend to a NumPy array on the host (no-op for NumPy)."""
    if array_api_compat.is_cupy_array(x) or _stand_in_namespace(x) is not None:
        return x.get()
    return np.asarray(x)


def device_description(backend: str | None = None) -> str:
    """One line naming the device the backend runs on."""
    name = _resolve_name(backend)
    if name == "numpy":
        import platform

        return f"CPU ({platform.machine()}, {os.cpu_count()} logical cores)"
    cupy = get_namespace("cupy")
    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    mem = props["totalGlobalMem"] / 2**30
    return f"GPU {dev.id}: {gpu} ({mem:.0f} GiB)"


# --------------------------------------------------------------------------- CPU threads


def cpu_threads() -> int:
    """Threads the NumPy engine splits its work over: ``FPKIT_NUM_THREADS`` or the usable cores.

    The engine runs the networks of a block in this many threads (NumPy releases the GIL in its
    products and ufuncs), each network in one thread, so the numbers do not depend on it.
    """
    raw = os.environ.get("FPKIT_NUM_THREADS")
    if raw is not None:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"FPKIT_NUM_THREADS must be a positive integer; got {raw!r}") from None
        if value < 1:
            raise ValueError(f"FPKIT_NUM_THREADS must be a positive integer; got {raw!r}")
        return value
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@functools.cache
def _pool(threads: int):
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fpkit")


def _check_row_function(fn) -> None:
    """A TypeError naming ``fn`` unless it can be called as ``fn(start, stop)``."""
    v.check_callable(fn, "fn")
    code = getattr(fn, "__code__", None)
    if code is not None and not getattr(fn, "__defaults__", None) and not code.co_flags & 0x04:
        if code.co_argcount - (1 if inspect.ismethod(fn) else 0) == 2:  # the common case, fast
            return
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - a callable without a signature (some builtins)
        return
    try:
        signature.bind(0, 1)
    except TypeError:
        raise TypeError(f"fn must take two arguments (start, stop); its signature is {signature}") from None


def split_rows(fn, n_rows: int, *, work: float, min_work: float = 4e6) -> None:
    """Call ``fn(start, stop)`` on contiguous row ranges covering ``range(n_rows)``, in threads.

    Runs in the calling thread when there is one CPU thread, one row, or less than ``min_work``
    (floating-point operations) to share. ``fn`` must only write to its own rows; inside the
    threads BLAS runs single-threaded (:data:`single_threaded_blas`). ``n_rows`` is an integer in
    [0, 2**63 - 1]; ``work`` and ``min_work`` are finite reals >= 0. The checks cost about a
    microsecond for a plain function (the forward kernel calls this at every step).
    """
    _check_row_function(fn)
    n_rows = v.check_int(n_rows, "n_rows", minimum=0, maximum=2**63 - 1)
    work = v.check_real(work, "work", low=0.0)
    min_work = v.check_real(min_work, "min_work", low=0.0)
    threads = min(cpu_threads(), n_rows)
    if threads <= 1 or work < min_work:
        fn(0, n_rows)
        return
    edges = [round(i * n_rows / threads) for i in range(threads + 1)]
    pool = _pool(threads)
    with single_threaded_blas:
        futures = [pool.submit(fn, a, b) for a, b in zip(edges[1:-1], edges[2:])]
        fn(edges[0], edges[1])
        for f in futures:
            f.result()


class _BlasThreads:
    """Keeps the BLAS libraries single-threaded while rows are split among fpkit's threads.

    Each of our threads calls BLAS on its own rows; a multithreaded BLAS (OpenBLAS threads every
    product above 256 x 32 x 32) would start its own threads in each, and the two levels compete:
    measured on 2 cores, a steady iteration at N = 64 took 1.5 times as long as with BLAS in one
    thread, at N = 256 1.3 times (at N = 32 the same). A threaded OpenBLAS product also differs
    from a single-threaded one in the last bit, so the forward kernel keeps BLAS at one thread
    whether it splits or not. Nested and concurrent users share one count; the first in saves
    the libraries' thread counts, the last out restores them. The limit is process-wide: other
    threads' BLAS calls run single-threaded meanwhile.
    """

    def __init__(self):
        import threading

        self._lock = threading.Lock()
        self._depth = 0
        self._saved: list = []
        self._libs = None

    def _controllers(self):
        if self._libs is None:
            try:
                from threadpoolctl import ThreadpoolController

                self._libs = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
            except Exception:  # pragma: no cover - threadpoolctl missing or a library it cannot drive
                self._libs = []
        return self._libs

    def __enter__(self):
        with self._lock:
            if self._depth == 0:
                libs = self._controllers()
                self._saved = [c.num_threads for c in libs]
                for c in libs:
                    c.set_num_threads(1)
            self._depth += 1

    def __exit__(self, *exc):
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for c, n in zip(self._libs, self._saved):
                    c.set_num_threads(n)


#: ``with single_threaded_blas:`` keeps the BLAS libraries at one thread inside (see _BlasThreads):
#: fpkit's forward kernel runs under it, split or not, so a network's bits never depend on the split.
single_threaded_blas = _BlasThreads()
