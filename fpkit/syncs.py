"""Counting host syncs: a NumPy namespace that stands in for a GPU's, so that tests and benchmarks can
count the round trips a loop would make on CuPy without a device.

On a GPU every value the host needs from the device (``bool(mask.any())``, ``int(counts.max())``, a
copy to NumPy) waits until the device has finished all work queued before it, and so does every
operation whose result's *shape* depends on the data (``nonzero``, a boolean mask as an index,
``unique``): the host must know the number of results before it can allocate them. A loop that makes
a few of these per step keeps the GPU idle between steps. :class:`CountingNamespace` is the NumPy
module with arrays (:class:`CountingArray`, an ``ndarray`` subclass) that count those events in a
:class:`SyncCounter`, and behave like CuPy's where that matters here: reductions and scalar indexing
give 0-d arrays (not Python or NumPy scalars), and, with ``strict=True`` (the default), a plain NumPy
array among the operands of an operation is a TypeError, as on CuPy. :func:`counting_ensemble` puts an
:class:`~fpkit.network.Ensemble` on it; the engine then runs unchanged, on the CPU, with the same
numbers as on NumPy.

What it counts (:data:`SYNC_KINDS`):

``"conversion"``
    ``bool()``, ``int()``, ``float()``, ``complex()``, ``operator.index()`` of an array, ``.item()``,
    ``.tolist()``, and NumPy functions that answer with a Python value (``array_equal``,
    ``allclose``, ...).
``"copy"``
    copies to the host: ``.get()`` (what :func:`fpkit.backend.to_numpy` calls) and ``asnumpy``.
``"shape"``
    operations whose result's shape depends on the data: ``nonzero`` (function and method),
    ``flatnonzero``, ``argwhere``, ``unique`` (and ``unique_*``), ``compress``, ``extract``,
    one-argument ``where``, and a boolean array as an index, read or written (CuPy counts the True
    entries on the host in both cases).

Not counted as syncs, but recorded: ``"upload"`` (a host array or list moved onto the namespace by
``asarray``/``array``, or used as an index or a value in an assignment: a host-to-device copy, which
does not wait for the device) and ``"host operand"`` (a plain NumPy array among an operation's
operands, recorded where ``strict=False``).

What it cannot see: NumPy's own coercion of a counting array into a plain one (``np.asarray(a)``,
``np.array(a)``, ``host[...] = a``, ``list(a)``) is silent, because NumPy treats a subclass as an array
and asks it nothing; CuPy refuses these with a TypeError, so only a run on a device finds them (the
engine converts with :func:`fpkit.backend.to_numpy`, which is counted). Nor does it see the cost of a
sync, kernel launches, or device memory; and it cannot tell a sync the host needs from one it could
have avoided. A CuPy function that NumPy lacks, or one NumPy has and CuPy lacks
(``linalg.eigvals``), is not flagged.
"""

from __future__ import annotations

import collections
import functools
import os
import sys
import types
from typing import Any

import numpy as np

__all__ = ["SYNC_KINDS", "CountingArray", "CountingNamespace", "SyncCounter", "counting_ensemble"]

#: The events that make the host wait for a device (see the module doc).
SYNC_KINDS = ("conversion", "copy", "shape")
#: Events recorded but not counted as syncs.
OTHER_KINDS = ("upload", "host operand")

#: NumPy functions whose result's shape depends on the data.
_SHAPE_FUNCTIONS = frozenset(getattr(np, n) for n in (
    "nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract", "unique_values", "unique_counts",
    "unique_inverse", "unique_all") if hasattr(np, n))
#: NumPy functions that answer with a Python value.
_HOST_VALUE_FUNCTIONS = frozenset(getattr(np, n) for n in ("array_equal", "array_equiv", "allclose", "isscalar"))
#: NumPy functions that take host data and put it on the namespace (an upload, not an error).
_UPLOADS = frozenset({"asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray", "copy"})
_HERE = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(np.__file__)


class SyncCounter:
    """Tallies of the events a :class:`CountingNamespace` saw, by kind and by the line that caused them.

    ``counts[kind]`` is the number of events of each kind (:data:`SYNC_KINDS` and ``"upload"``,
    ``"host operand"``); ``sites[(kind, "file:line", function)]`` the same by the first line of the
    caller outside NumPy, this module and :mod:`fpkit.backend` (which line of the engine made the host
    wait, and in which function).
    """

    def __init__(self):
        self.counts: collections.Counter = collections.Counter()
        self.sites: collections.Counter = collections.Counter()

    @property
    def syncs(self) -> int:
        """Events that make the host wait for the device (the kinds of :data:`SYNC_KINDS`)."""
        return sum(self.counts[k] for k in SYNC_KINDS)

    def reset(self) -> None:
        """Forget every event counted so far."""
        self.counts.clear()
        self.sites.clear()

    def record(self, kind: str) -> None:
        """Count one event of ``kind`` (one of :data:`SYNC_KINDS` or ``OTHER_KINDS``)."""
        if kind not in SYNC_KINDS and kind not in OTHER_KINDS:
            raise ValueError(f"kind must be one of {SYNC_KINDS + OTHER_KINDS}; got {kind!r}")
        self.counts[kind] += 1
        self.sites[(kind, *_caller())] += 1

    def top_sites(self, n: int = 10) -> list[tuple[tuple[str, str, str], int]]:
        """The ``n`` (kind, site, function) keys with the most syncs (uploads and host operands left out)."""
        return [item for item in self.sites.most_common() if item[0][0] in SYNC_KINDS][:n]

    def syncs_in(self, function: str, file: str | None = None) -> int:
        """Syncs caused in functions named ``function`` (of a file whose path ends with ``file``)."""
        return sum(n for (kind, site, func), n in self.sites.items()
                   if kind in SYNC_KINDS and func == function
                   and (file is None or site.rsplit(":", 1)[0].endswith(file)))

    def __repr__(self) -> str:
        return f"SyncCounter(syncs={self.syncs}, {dict(self.counts)})"


#: Frames :func:`_caller` looks through: NumPy's, this module's and fpkit.backend's (``to_numpy``).
_PASS_THROUGH = (os.path.join(_HERE, "syncs.py"), os.path.join(_HERE, "backend.py"))


def _caller() -> tuple[str, str]:
    """``("file:line", function)`` of the innermost frame outside NumPy, this module and fpkit.backend."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if not (path.startswith(_NUMPY_DIR) or os.path.abspath(path) in _PASS_THROUGH):
            where = os.path.relpath(path) if path.startswith(os.getcwd()) else path
            return f"{where}:{frame.f_lineno}", frame.f_code.co_name
        frame = frame.f_back
    return "?", "?"


class CountingArray(np.ndarray):
    """A NumPy array of a :class:`CountingNamespace` (one subclass per namespace, see there).

    Behaves as a plain ndarray except that host conversions, copies to the host and boolean-mask
    indexing are counted, reductions and scalar indexing give 0-d arrays, and (``strict``) plain
    NumPy operands are refused, as on CuPy.
    """

    fpkit_namespace: Any = None  # set on each namespace's subclass

    # ------------------------------------------------------------------ host conversions
    def _count(self, kind: str) -> None:
        self.fpkit_namespace.counter.record(kind)

    def __bool__(self):
        self._count("conversion")
        return bool(self.view(np.ndarray))

    def __int__(self):
        self._count("conversion")
        return int(self.view(np.ndarray))

    def __float__(self):
        self._count("conversion")
        return float(self.view(np.ndarray))

    def __complex__(self):
        self._count("conversion")
        return complex(self.view(np.ndarray))

    def __index__(self):
        self._count("conversion")
        return self.view(np.ndarray).__index__()

    def item(self, *args):
        self._count("conversion")
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        self._count("conversion")
        return self.view(np.ndarray).tolist()

    def get(self) -> np.ndarray:
        """A plain NumPy copy on the host (CuPy's ``get``; counted as a copy)."""
        self._count("copy")
        return np.array(self.view(np.ndarray))

    def nonzero(self):
        self._count("shape")
        return self.fpkit_namespace.wrap(self.view(np.ndarray).nonzero())

    def argmax(self, *args, **kwargs):
        return self.fpkit_namespace.wrap(self.view(np.ndarray).argmax(*args, **kwargs))

    def argmin(self, *args, **kwargs):
        return self.fpkit_namespace.wrap(self.view(np.ndarray).argmin(*args, **kwargs))

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, key):
        ns = self.fpkit_namespace
        key = ns.index_key(key)
        return ns.wrap(self.view(np.ndarray)[key])

    def __setitem__(self, key, value):
        ns = self.fpkit_namespace
        key = ns.index_key(key)
        if isinstance(value, np.ndarray) and not isinstance(value, CountingArray):
            ns.counter.record("upload")
        self.view(np.ndarray)[key] = ns.unwrap(value)

    # ------------------------------------------------------------------ NumPy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        ns = self.fpkit_namespace
        ns.check_operands(ufunc.__name__, inputs)
        out = kwargs.get("out")
        result = getattr(ufunc, method)(*ns.unwrap(inputs), **ns.unwrap(kwargs))
        if out is not None:
            return out[0] if len(out) == 1 else out
        return ns.wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        return self.fpkit_namespace.call(func, args, kwargs)


class _Ufunc:
    """A NumPy ufunc seen through a namespace: calls and methods check operands and wrap results."""

    def __init__(self, ns: CountingNamespace, ufunc):
        self._ns, self._ufunc = ns, ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return self._ns.call(self._ufunc, args, kwargs)

    def __getattr__(self, name):
        attr = getattr(self._ufunc, name)
        if callable(attr) and name in ("reduce", "accumulate", "reduceat", "outer", "at"):
            return lambda *a, **k: self._ns.call(attr, a, k, name=f"{self.__name__}.{name}")
        return attr


class _Submodule:
    """A NumPy submodule (``linalg``, ``fft``) seen through a namespace."""

    def __init__(self, ns: CountingNamespace, module):
        self._ns, self._module = ns, module
        self.__name__ = f"{ns.__name__}.{module.__name__.split('.')[-1]}"

    def __getattr__(self, name):
        attr = getattr(self._module, name)
        if callable(attr) and not isinstance(attr, type):
            wrapped = functools.wraps(attr)(lambda *a, **k: self._ns.call(attr, a, k))
            setattr(self, name, wrapped)
            return wrapped
        return attr


class CountingGenerator:
    """A NumPy ``Generator`` whose draws are arrays of a namespace (like CuPy's device generator, but
    drawing NumPy's numbers: a census on the namespace reproduces NumPy's bit for bit)."""

    def __init__(self, ns: CountingNamespace, generator: np.random.Generator):
        self._ns, self.generator = ns, generator

    def __getattr__(self, name):
        attr = getattr(self.generator, name)
        if callable(attr) and name not in ("spawn", "bit_generator"):
            return lambda *a, **k: self._ns.wrap(attr(*a, **k))
        return attr


class _Random:
    """``namespace.random``: ``default_rng`` and ``Generator`` as on CuPy."""

    Generator = CountingGenerator

    def __init__(self, ns: CountingNamespace):
        self._ns = ns

    def default_rng(self, seed=None) -> CountingGenerator:
        source = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return CountingGenerator(self._ns, source)


class _CudaStandIn:
    """``namespace.cuda.runtime.getDeviceCount()``: one pretend device (for code that asks)."""

    class runtime:  # noqa: N801 - CuPy's name
        @staticmethod
        def getDeviceCount() -> int:  # noqa: N802 - CuPy's name
            return 1


class CountingNamespace(types.ModuleType):
    """The NumPy module, with arrays that count host syncs in ``counter`` (see the module doc).

    Every NumPy function, ufunc and constant is an attribute; functions and ufuncs return
    :class:`CountingArray` arrays of this namespace. ``asarray``/``array`` of host data count an
    upload; ``asnumpy(a)`` (CuPy's name) and ``a.get()`` copy back to the host, counted.

    Parameters
    ----------
    strict : bool
        Refuse (TypeError) plain NumPy arrays among the operands of an operation, as CuPy does;
        ``False`` records them as ``"host operand"`` events instead.
    counter : SyncCounter, optional
        Where to count (a new one by default).
    """

    def __init__(self, *, strict: bool = True, counter: SyncCounter | None = None):
        super().__init__("numpy.counting", "NumPy arrays that count host syncs (fpkit.syncs)")
        if not isinstance(strict, (bool, np.bool_)):
            raise TypeError(f"strict must be True or False; got {strict!r}")
        if counter is not None and not isinstance(counter, SyncCounter):
            raise TypeError(f"counter must be a SyncCounter or None; got {type(counter).__name__}")
        self.strict = bool(strict)
        self.counter = counter if counter is not None else SyncCounter()
        # the arrays' module reads as NumPy's (fpkit.activations takes float32 arrays of numpy or cupy)
        self.ndarray = type("CountingArray", (CountingArray,), {"fpkit_namespace": self, "__module__": self.__name__})
        self.random = _Random(self)
        self.cuda = _CudaStandIn
        self.linalg = _Submodule(self, np.linalg)
        self.fft = _Submodule(self, np.fft)

    def __getattr__(self, name):
        attr = getattr(np, name)  # AttributeError for names NumPy lacks
        if isinstance(attr, np.ufunc):
            wrapped = _Ufunc(self, attr)
        elif callable(attr) and not isinstance(attr, type):
            wrapped = functools.wraps(attr)(lambda *a, **k: self.call(attr, a, k))
        else:
            return attr
        setattr(self, name, wrapped)
        return wrapped

    # ------------------------------------------------------------------ plumbing
    def call(self, func, args, kwargs, *, name: str | None = None):
        """``func(*args, **kwargs)`` on this namespace: host operands checked (uploads counted), the
        result wrapped."""
        name = name or getattr(func, "__name__", "?")
        if func in _SHAPE_FUNCTIONS or (func is np.where and len(args) + len(kwargs) == 1):
            self.counter.record("shape")
        elif func in _HOST_VALUE_FUNCTIONS:
            self.counter.record("conversion")
        if name in _UPLOADS:
            if any(isinstance(a, (np.ndarray, list, tuple)) and not isinstance(a, CountingArray) for a in args[:1]):
                self.counter.record("upload")
        else:
            self.check_operands(name, args, kwargs)
        out = kwargs.get("out")
        result = func(*self.unwrap(args), **self.unwrap(kwargs))
        if out is not None and name != "copyto":
            return out
        return self.wrap(result)

    def asnumpy(self, a) -> np.ndarray:
        """A host copy of ``a`` (CuPy's name; counted as a copy)."""
        return a.get() if isinstance(a, CountingArray) else np.asarray(a)

    def wrap(self, x):
        """Arrays and NumPy scalars in ``x`` (nested tuples, lists) as arrays of this namespace."""
        if isinstance(x, self.ndarray):
            return x
        if isinstance(x, np.ndarray):
            return x.view(self.ndarray)
        if isinstance(x, np.generic):
            return np.asarray(x).view(self.ndarray)
        if isinstance(x, tuple):
            items = [self.wrap(a) for a in x]
            return type(x)(*items) if hasattr(x, "_fields") else tuple(items)
        if isinstance(x, list):
            return [self.wrap(a) for a in x]
        return x

    def unwrap(self, x):
        """``x`` with every counting array (nested in tuples, lists, dicts) as a plain ndarray view."""
        if isinstance(x, CountingArray):
            return x.view(np.ndarray)
        if isinstance(x, tuple):
            items = [self.unwrap(a) for a in x]
            return type(x)(*items) if hasattr(x, "_fields") else tuple(items)
        if isinstance(x, list):
            return [self.unwrap(a) for a in x]
        if isinstance(x, dict):
            return {k: self.unwrap(a) for k, a in x.items()}
        return x

    def check_operands(self, name: str, args, kwargs=None) -> None:
        """Refuse (``strict``) or record plain NumPy arrays among the operands (CuPy refuses them)."""
        found = _host_arrays(args) or (kwargs is not None and _host_arrays(tuple(kwargs.values())))
        if not found:
            return
        if self.strict:
            raise TypeError(f"{name}: a plain NumPy array among the operands of an operation on the counting "
                            "namespace (CuPy refuses it: move it onto the device with asarray first)")
        self.counter.record("host operand")

    def index_key(self, key):
        """An index for ``__getitem__``/``__setitem__``: boolean arrays counted (a sync on CuPy), host
        index arrays counted as uploads; returned unwrapped."""
        parts = key if isinstance(key, tuple) else (key,)
        for part in parts:
            if isinstance(part, np.ndarray) and part.dtype == bool and part.ndim > 0:
                self.counter.record("shape")
            elif isinstance(part, (np.ndarray, list)) and not isinstance(part, CountingArray):
                self.counter.record("upload")
        return self.unwrap(key)


def _host_arrays(items) -> bool:
    """Whether ``items`` (nested tuples and lists) hold a plain NumPy array."""
    for a in items:
        if isinstance(a, np.ndarray) and not isinstance(a, CountingArray):
            return True
        if isinstance(a, (tuple, list)) and _host_arrays(a):
            return True
    return False


def counting_ensemble(ensemble, namespace: CountingNamespace | None = None):
    """The networks of ``ensemble`` on a :class:`CountingNamespace` (a new strict one by default).

    Returns ``(ensemble, namespace)``; ``namespace.counter`` counts what the engine does with it.
    Its arrays hold the same numbers, so every result of the engine is the NumPy result (the
    forward pass runs unsplit, as on CuPy; with one BLAS thread that is bit for bit the same).
    """
    from .network import Ensemble, check_ensemble

    check_ensemble(ensemble)
    if namespace is None:
        namespace = CountingNamespace()
    if not isinstance(namespace, CountingNamespace):
        raise TypeError(f"namespace must be a CountingNamespace or None; got {type(namespace).__name__}")
    from .backend import to_numpy

    W, b = (namespace.asarray(to_numpy(a)) for a in (ensemble.weights, ensemble.biases))
    out = Ensemble(W, b, ensemble.activation, ensemble.config)
    # Ensemble takes its in-place module from the array namespace's name (numpy or cupy); this one
    # is its own in-place module (a lead-side hook in fpkit.network would make this line go away)
    vars(out)["_m"] = namespace
    return out, namespace
