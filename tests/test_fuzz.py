"""Property-based tests: every public entry point of fpkit gets bad and extreme inputs (issue 14).

Each entry point is called with valid, cheap defaults in which hypothesis replaces ONE argument by a
generated value: a wrong type (strings, None, containers, complex numbers, booleans), NaN or
+-inf, a negative, zero or huge size, a huge or tiny real (up to 1e300 and beyond the float64
range), an array of a wrong shape or dtype, or with NaN/inf/1e300 entries. The call must either
raise a ValueError/TypeError whose message names that argument, or return a valid result (no
NaN anywhere; inf only where an entry documents it). Any other exception (IndexError, LinAlgError,
ZeroDivisionError, KeyError, OverflowError, MemoryError from deep inside NumPy/SciPy) fails.

A separate property drives the fixed-point engine with extreme networks (weight scales from 1e-300 to
1e300, depths up to 1000, every law including the heaviest tails allowed). ``test_every_public_name
_is_covered`` checks that no public function of the fpkit modules escapes this file.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import math
import numbers
import os
import re
import sys
import tempfile
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fpkit import activations, backend, bench, cli, engine, kacrice, meanfield, network, plotting, regimes, restore
from fpkit import cache, sampling, selection, spectra, stats, sweep, train, trained
from fpkit.theory import cavity, free, kac_rice, kac_rice_sampling, lengthmap, quadrature, spectral_route
from fpkit.engine import EngineSettings, FixedPoints
from fpkit.network import Ensemble, NetworkConfig

NAN, INF = float("nan"), float("inf")


# --------------------------------------------------------------------------- valid, cheap defaults

CFG = NetworkConfig(N=2, L=2, law="cauchy", scale=4.0, activation="tanh")
ENS = Ensemble.sample(CFG, 2, seed=0)
STARTS = engine.uniform_starts(ENS, 3, seed=0)
RES = engine.find_fixed_points(ENS, STARTS, max_iter=200)
GAUSS_CFG = NetworkConfig(N=3, L=2, law="gaussian", activation="tanh")
TABLE = pd.DataFrame({"L": [1, 1, 2, 2, 3, 3], "Q": [1.0, 2.0, 3.0, 3.0, 1.0, 2.0], "name": list("abcdef")})
SWEEP_TABLE = sweep.run_sweep([CFG], n_networks=2, n_starts=4, max_iter=100, progress=False)
COEFFS = meanfield.hermite_coefficients("tanh", 6)[0]
INFO = meanfield.classify("tanh", n=6)
FREE = spectra.FreeJacobianLaw.linear(2)
LAW = sampling.weight_law("cauchy")
IMAGES = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 4))
ONE_NET = Ensemble(np.random.default_rng(1).normal(size=(1, 1, 4, 4)) / 2, activation="tanh")


# --------------------------------------------------------------------------- generated bad values

_JUNK = ["abc", "", None, b"x", [], {}, (1, 2), 1j, object(), types.SimpleNamespace()]
junk = st.sampled_from(_JUNK)
big_ints = st.sampled_from([10**12, 10**18, 2**63, 10**400])
floats = st.floats(allow_nan=True, allow_infinity=True)
reals = st.one_of(floats, st.sampled_from([1e300, -1e300, 1e-300, -1e-300, 5e-324, 0.0, -0.0, 1e308 * 10]),
                  st.integers(-10, 10), big_ints, st.just(np.float64(NAN)), st.just(np.int64(-1)))
dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.complex128, np.bool_, np.dtype("<U2"), np.uint8])
array_elems = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e300, -1e300]))


def arrays(shape=None):
    """Arrays of any dtype and shape (or of ``shape`` with NaN/inf/huge entries), and non-arrays."""
    any_shape = hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3))
    options = [any_shape, junk, st.lists(st.one_of(st.floats(), st.text(max_size=1)), max_size=3)]
    if shape is not None:
        options += [hnp.arrays(np.float64, shape, elements=array_elems),
                    hnp.arrays(dtypes, shape)]
    return st.one_of(*options)


_BAD_CALLABLES = [lambda *a: "a", lambda *a: NAN, lambda x: np.full_like(np.asarray(x, float), INF),
                  lambda *a: None, lambda *a: [1, 2], lambda *a: 1j]

KINDS: dict[str, Callable[[Any], st.SearchStrategy]] = {
    # allocation sizes: zero, negative, non-integral, huge (must be refused before allocating)
    "size": lambda a: st.one_of(st.integers(-5, 0), big_ints, st.floats(), junk, st.booleans()),
    # iteration counts and small integers: no huge values (a huge cap is legitimately slow)
    "count": lambda a: st.one_of(st.integers(-5, 0), st.sampled_from([2.5, 3.0, NAN, INF]), junk, st.booleans()),
    "real": lambda a: st.one_of(reals, junk, st.booleans()),
    "choice": lambda a: st.one_of(st.text(max_size=6), junk, st.integers()),
    "bool": lambda a: st.one_of(st.sampled_from(["no", "false", "True", 0, 1, 0.0, 2]), junk),
    "seed": lambda a: st.one_of(st.integers(-10**20, 10**20), st.floats(), junk, st.booleans(),
                                st.just(np.random.default_rng(3))),
    "array": lambda a: arrays(a.shape),
    "ensemble": lambda a: st.sampled_from([None, "net", np.zeros((1, 1, 2, 2)), CFG, 3, RES]),
    "config": lambda a: st.sampled_from([{"N": 3, "L": 1}, None, "cfg", 3, ENS, GAUSS_CFG if a.default is CFG
                                         else CFG]),
    "callable": lambda a: st.sampled_from([None, 3, "f", [1], *_BAD_CALLABLES]),
    "phi": lambda a: st.one_of(st.text(max_size=8), st.sampled_from(["sigmoid", "relu", "tanh ", None, 3,
                                                                     *_BAD_CALLABLES])),
    "table": lambda a: st.sampled_from([None, "t", {}, pd.DataFrame(), TABLE.assign(Q=np.nan),
                                        TABLE.assign(Q=TABLE["name"]), TABLE.assign(L=[1, None, 2, 2, 3, 3]),
                                        TABLE.iloc[:0], TABLE.assign(Q=TABLE["Q"] * 1j)]),
    # column-level damage of the entry's own (valid) table: a column missing, duplicated, of the wrong
    # type, NaN, infinite, negative, huge; an extra column; the table empty, one row, shuffled
    "columns": lambda a: st.one_of(KINDS["table"](a), st.builds(_damage, st.just(a.default), st.sampled_from(DAMAGE),
                                                                 st.sampled_from(list(a.default.columns)))),
    "settings": lambda a: st.sampled_from([{"n_starts": 4}, "x", 3, EngineSettings, ENS]),
    "path": lambda a: st.sampled_from([3, None, 2.5, ["a"], b"\x00"]),
    "shape": lambda a: st.one_of(st.integers(-3, 0), st.tuples(st.integers(-2, 3), st.integers(-2, 3)),
                                 st.just((10**6, 10**6, 10)), st.lists(st.floats(), max_size=2), junk),
    "names": lambda a: st.one_of(st.text(max_size=4), st.lists(st.one_of(st.text(max_size=2), st.integers()),
                                                               max_size=3), junk),
    "mapping": lambda a: st.one_of(st.sampled_from([{"L": []}, {"L": 3.5}, {"bogus": [1]}, {"L": "x"}]), junk,
                                   st.integers()),
    "result": lambda a: st.sampled_from([None, "res", ENS, {}, SWEEP_TABLE]),
    "module": lambda a: st.sampled_from([None, "numpy", math, 3, types]),
    "yaml": lambda a: _yaml_values,
}


#: The kinds of column-level damage of :func:`_damage`.
DAMAGE = ("missing", "duplicate", "extra", "nan", "one nan", "text", "one text", "bool", "inf", "negative", "huge",
          "complex", "object", "empty", "one row", "shuffled", "fraction")


def _damage(table: pd.DataFrame, how: str, column: str) -> pd.DataFrame:
    """``table`` with one column-level damage (``how``) to ``column`` (or to the whole table)."""
    t = table.copy()
    first = t.index[0]
    if how == "missing":
        return t.drop(columns=column)
    if how == "duplicate":
        return pd.concat([t, t[[column]]], axis=1)
    if how == "extra":
        return t.assign(**{"extra column": "x"})
    if how in ("one nan", "one text"):
        t[column] = t[column].astype(object)
        t.loc[first, column] = np.nan if how == "one nan" else "x"
        return t
    if how == "object":
        return t.assign(**{column: t[column].astype(object)})
    if how == "empty":
        return t.iloc[:0]
    if how == "one row":
        return t.iloc[:1]
    if how == "shuffled":
        return t.sample(frac=1.0, random_state=0)
    if how == "fraction":
        return t.assign(**{column: 0.5})
    value = {"nan": np.nan, "text": "x", "bool": True, "inf": np.inf, "negative": -1, "huge": 1e300, "complex": 1j}[how]
    return t.assign(**{column: value})


@dataclasses.dataclass
class Arg:
    default: Any
    kind: str
    shape: tuple | None = None  # for arrays: the valid shape (also tried with bad entries)
    names: tuple = ()  # other words an error about this argument may use
    extra: st.SearchStrategy | None = None  # valid but extreme values of this argument


@dataclasses.dataclass
class Entry:
    name: str
    call: Callable[..., Any]
    args: dict[str, Arg]
    examples: int = 12
    allow_inf: bool = False
    allowed: tuple = ()  # further exception types this entry documents (e.g. KeyError of glued)
    check: Callable | None = None  # check(kwargs, result) instead of the generic assert_valid


ENTRIES: list[Entry] = []


def entry(_id, _call, _examples=60, _allow_inf=False, _allowed=(), _check=None, **args):
    ENTRIES.append(Entry(_id, _call, args, _examples, _allow_inf, _allowed, _check))


#: The suite (and CI) runs a fixed, reproducible set of examples per entry: a red run is a defect
#: that reruns the same way, never a flake. FPKIT_FUZZ_RANDOM=1 draws fresh examples on every run
#: (what found most of the defects fixed so far); run it that way after changing an entry point.
DERANDOMIZE = os.environ.get("FPKIT_FUZZ_RANDOM", "") != "1"


# --------------------------------------------------------------------------- a safety net


@pytest.fixture(autouse=True, scope="module")
def _address_space_limit():
    """Cap this worker's address space at 8 GiB while the fuzz runs: an allocation whose size check
    is missing then fails here as a MemoryError (reported as a defect) instead of taking the
    machine's memory (and the other worker with it). Restored afterwards."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = 8 * 2**30
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# --------------------------------------------------------------------------- validity of results


#: FixedPoints fields whose NaN means "this stage did not look at the network" (documented).
NOT_LOOKED_AT = ("pairs_closed",)


def assert_valid(obj, allow_inf=False, where="result", depth=0):
    """No NaN anywhere in a result (and no inf unless allowed); recurses into containers."""
    if depth > 4:
        return
    if isinstance(obj, (bool, np.bool_, str, bytes, type(None), types.ModuleType, np.random.Generator)):
        return
    if isinstance(obj, numbers.Integral):
        return
    if isinstance(obj, numbers.Number):
        val = complex(obj)
        assert not (math.isnan(val.real) or math.isnan(val.imag)), f"NaN in {where}"
        if not allow_inf:
            assert math.isfinite(val.real) and math.isfinite(val.imag), f"inf in {where}"
        return
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            assert not np.isnan(obj).any(), f"NaN in {where}"
            if not allow_inf:
                assert np.isfinite(obj).all(), f"inf in {where}"
        return
    if isinstance(obj, pd.DataFrame):
        for col in obj.columns:
            if col in NOT_LOOKED_AT:
                continue  # checked on the FixedPoints field itself
            if col == "mean_iterations" and "converged_starts" in obj:  # NaN where no start converged
                assert not obj.loc[obj["converged_starts"] > 0, col].isna().any()
                continue
            if pd.api.types.is_numeric_dtype(obj[col]):
                assert_valid(obj[col].to_numpy(), allow_inf, f"{where}[{col!r}]", depth + 1)
        return
    if isinstance(obj, (tuple, list)):
        for i, item in enumerate(obj):
            assert_valid(item, allow_inf, f"{where}[{i}]", depth + 1)
        return
    if isinstance(obj, dict):
        for key, item in obj.items():
            assert_valid(item, allow_inf, f"{where}[{key!r}]", depth + 1)
        return
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(obj, FixedPoints) and f.name in NOT_LOOKED_AT:
                # documented: 1.0 / 0.0, or NaN where that stage did not look at the network
                assert np.isin(value[~np.isnan(value)], (0.0, 1.0)).all(), f"{where}.{f.name}"
                continue
            assert_valid(value, allow_inf, f"{where}.{f.name}", depth + 1)
        if isinstance(obj, FixedPoints):
            assert_valid(obj.per_network(), allow_inf, f"{where}.per_network()", depth + 1)


COUNTS = {"cases": 0, "errors": 0, "results": 0, "faults": 0}


def _run(ent: Entry, arg_name: str, value: Any) -> None:
    kwargs = {k: a.default for k, a in ent.args.items()}
    kwargs[arg_name] = value
    COUNTS["cases"] += 1
    names = (arg_name, *ent.args[arg_name].names)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # overflow / invalid value is a bug
        warnings.simplefilter("ignore", UserWarning)
        try:
            result = ent.call(**kwargs)
        except (ValueError, TypeError) as exc:
            COUNTS["errors"] += 1
            msg = str(exc)
            assert any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", msg) for n in names), \
                f"{ent.name}({arg_name}={value!r:.80}): {type(exc).__name__} does not name {names}: {msg}"
            assert "\n" not in msg.strip() or len(msg) < 2000
            return
        except ent.allowed:
            COUNTS["errors"] += 1
            return
    COUNTS["results"] += 1
    if ent.check is not None:
        ent.check(kwargs, result)
    else:
        assert_valid(result, ent.allow_inf, f"{ent.name}({arg_name}={value!r:.60})")


# --------------------------------------------------------------------------- the entry points

#: Documented for every backend argument: "cupy" (in any case) where CuPy cannot run.
_NO_GPU = (backend.BackendUnavailableError,)

# backend
entry("backend.array_namespace", lambda arrays: backend.array_namespace(arrays),
      arrays=Arg(STARTS, "array", names=("arrays",)))
entry("backend.backend_name", backend.backend_name, backend=Arg("numpy", "choice"), _allowed=_NO_GPU)
entry("backend.get_namespace", backend.get_namespace, backend=Arg("numpy", "choice"), _allowed=_NO_GPU)
entry("backend.device_description", backend.device_description, backend=Arg("numpy", "choice"), _allowed=_NO_GPU)
entry("backend.make_rng", backend.make_rng, seed=Arg(0, "seed"),
      backend=Arg("numpy", "choice", extra=st.sampled_from([np, math])), _allowed=_NO_GPU)
def _same_values(kwargs, out):
    """A copy to the host keeps every value, NaN included."""
    assert isinstance(out, np.ndarray)
    x = kwargs["x"]
    if isinstance(x, np.ndarray):
        assert out.dtype == x.dtype and out.shape == x.shape
        if x.dtype.kind in "fc":
            np.testing.assert_array_equal(out, x)  # NaN == NaN here


entry("backend.to_numpy", backend.to_numpy, x=Arg(STARTS, "array"), _check=_same_values)


def _cpu_threads(FPKIT_NUM_THREADS):
    """cpu_threads reads its one input from the environment: the variable is the fuzzed argument."""
    import os

    old = os.environ.get("FPKIT_NUM_THREADS")
    os.environ["FPKIT_NUM_THREADS"] = str(FPKIT_NUM_THREADS).replace("\x00", "")
    try:
        return backend.cpu_threads()
    finally:
        if old is None:
            del os.environ["FPKIT_NUM_THREADS"]
        else:
            os.environ["FPKIT_NUM_THREADS"] = old


def _threads_ok(kwargs, out):
    assert isinstance(out, int) and out >= 1


entry("backend.cpu_threads", _cpu_threads, FPKIT_NUM_THREADS=Arg("2", "choice", extra=st.integers(1, 64)),
      _check=_threads_ok, _examples=24)


def _weight_ulps(FPKIT_WEIGHT_ULPS):
    """weight_ulps reads its one input from the environment: the variable is the fuzzed argument."""
    import os

    old = os.environ.get("FPKIT_WEIGHT_ULPS")
    os.environ["FPKIT_WEIGHT_ULPS"] = str(FPKIT_WEIGHT_ULPS).replace("\x00", "")
    try:
        return network.weight_ulps()
    finally:
        if old is None:
            del os.environ["FPKIT_WEIGHT_ULPS"]
        else:
            os.environ["FPKIT_WEIGHT_ULPS"] = old


entry("network.weight_ulps", _weight_ulps, FPKIT_WEIGHT_ULPS=Arg("1", "choice", extra=st.integers(0, 1024)),
      _check=lambda kwargs, out: isinstance(out, int) and 0 <= out <= 1024, _examples=24)
_ROWS = object()  # the default fn: records the row ranges it is called on


def _split_rows(fn, n_rows, work, min_work):
    calls = []
    backend.split_rows((lambda a, b: calls.append((a, b))) if fn is _ROWS else fn, n_rows, work=work,
                       min_work=min_work)
    return calls if fn is _ROWS else None


def _rows_covered(kwargs, calls):
    """The ranges called are contiguous and cover range(n_rows) exactly once."""
    if kwargs["fn"] is _ROWS:
        spans = sorted(calls)
        assert spans[0][0] == 0 and spans[-1][1] == kwargs["n_rows"], spans
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans)), spans


entry("backend.split_rows", _split_rows, fn=Arg(_ROWS, "callable"), n_rows=Arg(4, "size", extra=st.integers(1, 9)),
      work=Arg(1e7, "real", extra=st.floats(0.0, 1e300)), min_work=Arg(4e6, "real"), _check=_rows_covered)



# activations


def _nan_only_from_nan(kwargs, result):
    """An activation may return NaN exactly where its input is NaN (it does not create any)."""
    z = np.asarray(kwargs["z"], dtype=float) if not hasattr(kwargs["z"], "detach") else kwargs["z"].numpy()
    out = np.asarray(result.detach() if hasattr(result, "detach") else result)
    assert out.shape == z.shape
    created = np.isnan(out) & ~np.isnan(z)
    if kwargs.get("_name") == "sin":  # sin(+-inf) has no limit: NaN is its value
        created &= np.isfinite(z)
    assert not np.any(created), f"a NaN from a non-NaN input: {z} -> {out}"


for _act in activations.ACTIVATIONS:
    _a = activations.get_activation(_act)
    entry(f"activations.Activation.value[{_act}]", lambda z, out, _name, _a=_a: _a.value(z, out=out),
          z=Arg(np.linspace(-3, 3, 5), "array", shape=(5,), extra=hnp.arrays(np.float64, (5,),
                                                                            elements=st.floats(-1e308, 1e308))),
          out=Arg(None, "array", shape=(5,)), _name=Arg(_act, "fixed"), _check=_nan_only_from_nan, _examples=18)
    entry(f"activations.Activation.derivative[{_act}]", lambda z, _name, _a=_a: _a.derivative(z),
          z=Arg(np.linspace(-3, 3, 5), "array", shape=(5,)), _name=Arg(_act, "fixed"), _check=_nan_only_from_nan,
          _examples=18)
entry("activations.Activation.numpy", lambda z: activations.get_activation("erf").numpy(z),
      z=Arg(0.5, "array"), _check=_nan_only_from_nan)
entry("activations.Activation.torch", lambda z: activations.get_activation("tanh").torch(z),
      z=Arg(__import__("torch").zeros(3, dtype=__import__("torch").float64), "array"), _check=_nan_only_from_nan,
      _examples=24)
entry("activations.get_activation", activations.get_activation,
      name=Arg("tanh", "phi", names=("activation",)), sigmoid_type=Arg(False, "bool"),
      argument=Arg("activation", "choice"), _allow_inf=True)
entry("activations.Activation", lambda name: activations.Activation(name, "f", -1.0, 1.0, 1.0),
      name=Arg("tanh", "choice"))

# sampling
entry("sampling.WeightLaw", sampling.WeightLaw, name=Arg("student_t", "choice", names=("law",)),
      df=Arg(3.0, "real", extra=st.floats(0.1, 1e300)), alpha=Arg(None, "real"))
entry("sampling.weight_law", sampling.weight_law, law=Arg("alpha_stable", "choice"), df=Arg(None, "real"),
      alpha=Arg(1.5, "real", extra=st.floats(0.1, 2.0)))
entry("sampling.scale_factor", sampling.scale_factor, law=Arg("cauchy", "choice"), fan_in=Arg(10, "size"),
      convention=Arg("fan_in", "choice"), scale=Arg(1.0, "real", extra=st.floats(1e-300, 1e300)))
entry("sampling.sample_weights", sampling.sample_weights, law=Arg("alpha_stable", "choice"),
      shape=Arg((3, 4), "shape"), seed=Arg(0, "seed"), scale=Arg(1.0, "real", extra=st.floats(1e-300, 1e300)),
      convention=Arg("fan_in", "choice"), fan_in=Arg(None, "size"), df=Arg(None, "real"),
      alpha=Arg(0.5, "real", extra=st.floats(0.1, 2.0)), backend=Arg("numpy", "choice"), _examples=60,
      _allowed=_NO_GPU)
entry("sampling.hill_estimator", sampling.hill_estimator,
      x=Arg(np.arange(1.0, 30.0), "array", shape=(29,)), k=Arg(None, "size"))
entry("sampling.fit_power_law", sampling.fit_power_law, x=Arg(np.arange(1.0, 80.0), "array", shape=(79,)),
      xmin=Arg(None, "real"), min_tail=Arg(10, "size"), max_candidates=Arg(5, "count"))
entry("sampling.WeightLaw.survival", lambda x: LAW.survival(x), x=Arg(np.array([0.0, 1.0, 1e3]), "array"),
      _examples=24)
entry("sampling.WeightLaw.sample", lambda shape, rng, xp: LAW.sample(shape, rng, xp),
      shape=Arg((3,), "shape"), rng=Arg(np.random.default_rng(0), "module"), xp=Arg(np, "module"))
entry("sampling.esd_power_law", sampling.esd_power_law, W=Arg(np.random.default_rng(0).standard_cauchy((16, 12)),
      "array", shape=(16, 12)), min_tail=Arg(5, "size"))

# network
entry("network.NetworkConfig", NetworkConfig, N=Arg(3, "size"), L=Arg(2, "size"), law=Arg("gaussian", "choice"),
      scale=Arg(1.0, "real", extra=st.floats(1e-300, 1e300)), convention=Arg("fan_in", "choice"),
      df=Arg(None, "real"), alpha=Arg(None, "real"), bias_law=Arg("same", "choice"),
      bias_scale=Arg(1.0, "real"), activation=Arg("tanh", "phi"), _examples=60)
entry("network.NetworkConfig.replace", lambda L: CFG.replace(L=L), L=Arg(3, "size"))
entry("network.Ensemble", Ensemble, weights=Arg(ENS.weights, "array", shape=(2, 2, 2, 2)),
      biases=Arg(None, "array", shape=(2, 2, 2)), activation=Arg("tanh", "phi"), config=Arg(None, "config"),
      _examples=60)
entry("network.Ensemble.sample", Ensemble.sample, config=Arg(CFG, "config"), n_networks=Arg(2, "size"),
      seed=Arg(0, "seed"), backend=Arg("numpy", "choice"), _allowed=_NO_GPU)
entry("network.Ensemble.subset", lambda index: ENS.subset(index).weights,
      index=Arg(np.array([1]), "array", extra=st.sampled_from([0, -1, slice(0, 1), np.array([True, False])]),
                names=("index",)))
for _m in ("forward", "forward_with_jacobian", "forward_with_scaled_jacobian", "jacobian", "jacobian_eigenvalues"):
    entry(f"network.Ensemble.{_m}", lambda x, networks, _m=_m: getattr(ENS, _m)(x, networks=networks),
          x=Arg(STARTS, "array", shape=(2, 3, 2)), networks=Arg(None, "array", extra=st.sampled_from([[0, 1], 1])),
          _allow_inf=True)
entry("network.Ensemble.preactivation_bound", lambda x_max: ENS.preactivation_bound(x_max),
      x_max=Arg(1.0, "real"))
entry("network.Ensemble.check_points", lambda x: ENS.check_points(x), x=Arg(STARTS, "array", shape=(2, 3, 2)))
entry("network.lipschitz_bound", network.lipschitz_bound, ensemble=Arg(ENS, "ensemble"))
entry("network.check_ensemble", lambda value: network.check_ensemble(value, "value"), value=Arg(ENS, "ensemble"))
entry("network.log_lipschitz_bound", network.log_lipschitz_bound, ensemble=Arg(ENS, "ensemble"))
entry("network.check_configs", network.check_configs, configs=Arg([CFG], "names"))

# engine
_SETTING_KINDS = {"n_starts": "size", "seeding": "choice", "tol": "real", "max_iter": "count", "max_period": "count",
                  "cycle_min_step": "real", "cycle_check_every": "count", "merge_tol": "real", "polish_tol": "real",
                  "newton": "bool", "newton_starts": "size", "newton_rounds": "count", "max_starts": "size",
                  "unseen_target": "real", "census": "bool", "census_starts": "size", "census_rounds": "count",
                  "census_min_rounds": "count", "census_unseen_target": "real", "precision": "choice",
                  "float32_tol": "real", "float32_steps": "count", "census_continuation": "bool",
                  "continuation_steps": "count", "continuation_rounds": "count", "census_pairing": "bool",
                  "census_warn_fraction": "real", "root_tol": "real", "shooting_patience": "count",
                  "shooting_max_halvings": "count", "shooting_memory": "size", "continuation_initial_step": "real",
                  "continuation_max_step": "real", "continuation_min_step": "real", "continuation_meet": "bool",
                  "continuation_memory": "size", "converge_attractors": "bool", "attractor_starts": "size",
                  "attractor_rounds": "count", "convergence_fraction": "real", "attractor_max_halvings": "count",
                  "attractor_patience": "count", "sync_every": "count", "census_descent_starts": "size",
                  "census_until_quiet": "count"}
_DEFAULT_SETTINGS = EngineSettings()
_TWO = engine.find_fixed_points(ENS, n_starts=8, max_iter=200, seed=1)
entry("engine.union_counts", engine.union_counts, first=Arg(_TWO, "module"), second=Arg(_TWO, "module"),
      tol=Arg(1e-6, "real"))
entry("engine.jacobian_norms", engine.jacobian_norms, ensemble=Arg(ENS, "ensemble"),
      points=Arg(STARTS, "array", shape=(2, 3, 2)), networks=Arg(None, "array"))
entry("engine.EngineSettings", EngineSettings,
      **{k: Arg(getattr(_DEFAULT_SETTINGS, k), kind) for k, kind in _SETTING_KINDS.items()}, _examples=80)
#: The census settings run, not only constructed: a census with continuation (and pairing) on ENS.
_CENSUS_SETTINGS = {"census_continuation": Arg(True, "bool"),
                    "continuation_steps": Arg(200, "count", extra=st.sampled_from([1, 2, 5])),
                    "continuation_rounds": Arg(1, "count", extra=st.sampled_from([1, 2, 3])),
                    "census_pairing": Arg(False, "bool", extra=st.booleans()),
                    "census_warn_fraction": Arg(0.5, "real", extra=st.sampled_from([0.0, 1e-300, 0.999999]))}


def _census_run(**changed):
    settings = EngineSettings(n_starts=3, max_iter=100, census=True, census_starts=2, census_rounds=1,
                              census_min_rounds=0, **changed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the documented "incomplete networks" warning
        return engine.find_fixed_points(ENS, settings=settings, seed=0)


entry("engine.find_fixed_points[census settings]", _census_run, **_CENSUS_SETTINGS, _allow_inf=True, _examples=30)
entry("engine.EngineSettings.from_mapping", EngineSettings.from_mapping, options=Arg({"tol": 1e-8}, "mapping"))
entry("engine.EngineSettings.replace", lambda max_iter: _DEFAULT_SETTINGS.replace(max_iter=max_iter),
      max_iter=Arg(10, "count"))
entry("engine.EngineSettings.grid_per_axis", lambda N: EngineSettings(seeding="grid", n_starts=16).grid_per_axis(N),
      N=Arg(2, "size", names=("seeding",)))
entry("engine.EngineSettings.starts_per_network",
      lambda N: EngineSettings(seeding="grid", n_starts=16).starts_per_network(N), N=Arg(2, "size", names=("seeding",)))
entry("engine.resolve_settings", lambda settings: engine.settings.resolve_settings(settings, {}),
      settings=Arg(None, "settings"))
entry("engine.uniform_starts", engine.uniform_starts, ensemble=Arg(ENS, "ensemble"), n_starts=Arg(3, "size"),
      seed=Arg(0, "seed"), low=Arg(None, "real"), high=Arg(None, "real"))
entry("engine.grid_starts", engine.grid_starts, ensemble=Arg(ENS, "ensemble"), per_axis=Arg(3, "size"),
      low=Arg(None, "real"), high=Arg(None, "real"))
_E2 = np.zeros((2, 2))
entry("engine.plane_starts", engine.plane_starts, origin=Arg(_E2, "array", shape=(2, 2)),
      u=Arg(np.eye(2), "array", shape=(2, 2)), v_dir=Arg(np.eye(2)[::-1].copy(), "array", shape=(2, 2)),
      extent=Arg((-1.0, 1.0, -1.0, 1.0), "array", shape=(4,)), resolution=Arg(3, "size"))
entry("engine.seeded_starts", engine.seeded_starts, ensemble=Arg(ENS, "ensemble"),
      settings=Arg(EngineSettings(n_starts=3), "settings"), seed=Arg(0, "seed"))
entry("engine.iterate_map", lambda ensemble, starts, max_iter, max_period, precision: engine.iterate_map(
      ensemble, starts, max_iter=max_iter, max_period=max_period, precision=precision), ensemble=Arg(ENS, "ensemble"),
      starts=Arg(STARTS, "array", shape=(2, 3, 2)), max_iter=Arg(50, "count"), max_period=Arg(4, "size"),
      precision=Arg("mixed", "choice"), _allow_inf=True)
entry("engine.polish", engine.polish, ensemble=Arg(ENS, "ensemble"), x=Arg(STARTS, "array", shape=(2, 3, 2)),
      tol=Arg(1e-12, "real"), max_iter=Arg(5, "count"))
entry("engine.newton_search", engine.newton_search, ensemble=Arg(ENS, "ensemble"),
      starts=Arg(STARTS, "array", shape=(2, 3, 2)), known=Arg(None, "array", shape=(2, 1, 2)),
      tol=Arg(1e-12, "real"), max_iter=Arg(10, "count"), deflation_power=Arg(2.0, "real"),
      deflation_shift=Arg(1.0, "real"), max_halvings=Arg(4, "count"), patience=Arg(5, "count"), _allow_inf=True)
entry("engine.merge_points", engine.merge_points, points=Arg(np.zeros((3, 2)), "array", shape=(3, 2)),
      residuals=Arg(np.zeros(3), "array", shape=(3,)), tol=Arg(1e-6, "real", names=("merge_tol",)))
entry("engine.find_fixed_points", lambda ensemble, starts, settings, seed, max_iter, newton: engine.find_fixed_points(
      ensemble, starts, settings=settings, seed=seed, max_iter=max_iter, newton=newton),
      ensemble=Arg(ENS, "ensemble"), starts=Arg(None, "array", shape=(2, 3, 2)), settings=Arg(None, "settings"),
      seed=Arg(0, "seed"), max_iter=Arg(100, "count"), newton=Arg(False, "bool"), _allow_inf=True, _examples=60)
entry("engine.shooting_search", engine.shooting_search, ensemble=Arg(ENS, "ensemble"),
      states=Arg(np.zeros((2, 3, 2, 2)), "array", shape=(2, 3, 2, 2)), known=Arg(None, "array", shape=(2, 1, 2)),
      tol=Arg(1e-12, "real"), max_iter=Arg(5, "count"), deflation_power=Arg(2.0, "real"),
      deflation_shift=Arg(1.0, "real"), max_halvings=Arg(3, "count"), patience=Arg(3, "count"), _allow_inf=True)
entry("engine.chao1_unseen", engine.chao1_unseen, hits=Arg(np.array([1, 1, 2]), "array"))
entry("engine.fixed_point_index", engine.fixed_point_index, eigenvalues=Arg(RES.eigenvalues, "array"),
      _allow_inf=True)
entry("engine.basin_fractions", engine.basin_fractions, result=Arg(RES, "result"), confidence=Arg(0.9, "real"))
entry("engine.basin_map", lambda network, origin, u, v_dir, resolution, reference: engine.basin_map(
      ENS, network, origin, u, v_dir, resolution=resolution, reference=reference, max_iter=30),
      network=Arg(0, "size"), origin=Arg(np.zeros(2), "array", shape=(2,)), u=Arg(np.eye(2)[0], "array", shape=(2,)),
      v_dir=Arg(np.eye(2)[1], "array", shape=(2,)), resolution=Arg(3, "size"),
      reference=Arg(None, "array", shape=(1, 2)), _allow_inf=True)
entry("engine.attractors_near", lambda points, networks, radius, n_probe: engine.attractors_near(
      ENS, points, networks, radius=radius, n_probe=n_probe, max_iter=50),
      points=Arg(RES.x, "array", shape=RES.x.shape), networks=Arg(RES.fp_network, "array"),
      radius=Arg(1e-3, "real"), n_probe=Arg(3, "size"))
_KNOWN = np.full((2, 2, 2), NAN)  # the fixed points found per network, NaN-padded
for _e in range(2):
    _pts = RES.x[RES.fp_network == _e][:2]
    _KNOWN[_e, :len(_pts)] = _pts
_CONT = engine.continuation_search(ENS, _KNOWN, max_steps=200)


def _continued(kwargs, res):
    """Documented NaN/inf: x, z NaN and residual, error inf exactly where an arc did not cross;
    known_z NaN where a known point is padding or no root. Everything else finite."""
    assert isinstance(res, engine.ContinuationResult)
    crossed = res.status == engine.continuation.CONTINUATION_STATUS["crossed"]
    assert np.array_equal(np.isnan(res.x).all(axis=-1), ~crossed) and not np.isnan(res.x[crossed]).any()
    assert np.array_equal(np.isnan(res.z).all(axis=(-2, -1)), ~crossed) and not np.isnan(res.z[crossed]).any()
    for name in ("residual", "error"):
        val = getattr(res, name)
        assert np.array_equal(np.isinf(val), ~crossed) and np.all(np.isfinite(val[crossed]) & (val[crossed] >= 0))
    assert np.all(np.isfinite(res.log_t0))
    kz = res.known_z
    assert np.array_equal(np.isnan(kz).any(axis=(-2, -1)), np.isnan(kz).all(axis=(-2, -1)))
    assert np.all(np.isfinite(kz[~np.isnan(kz)]))
    assert np.all(res.steps >= res.rejected) and np.all(res.rejected >= 0)
    assert res.status_names().shape == res.status.shape


entry("engine.continuation_search", engine.continuation_search, ensemble=Arg(ENS, "ensemble"),
      known=Arg(_KNOWN, "array", shape=(2, 2, 2)), max_steps=Arg(200, "count"), initial_step=Arg(0.02, "real"),
      max_step=Arg(0.5, "real"), min_step=Arg(1e-13, "real"), main_branch=Arg(True, "bool"),
      known_z=Arg(None, "array", shape=(2, 2, 2, 2)), meet=Arg(True, "bool"), _check=_continued, _examples=30)


def _layer_eigenvalues(kwargs, ev):
    """NaN rows (documented) for padding and unresolved points, never part of a row; no inf."""
    E, _, N = ENS.shape
    z = np.asarray(kwargs["z"], dtype=float)
    assert ev.shape == (E, z.shape[1], N) and ev.dtype.kind == "c"
    nan = np.isnan(ev)
    assert np.array_equal(nan.any(axis=-1), nan.all(axis=-1))
    assert nan.all(axis=-1)[~np.isfinite(z).all(axis=(-2, -1))].all()
    assert np.all(np.isfinite(ev[~nan]))


entry("engine.layer_jacobian_eigenvalues", engine.layer_jacobian_eigenvalues, ensemble=Arg(ENS, "ensemble"),
      z=Arg(_CONT.z, "array", shape=_CONT.z.shape), _check=_layer_eigenvalues)
entry("stats.wilson_interval", stats.wilson_interval, successes=Arg(3, "array"), trials=Arg(10, "array"),
      confidence=Arg(0.95, "real"))
entry("engine.ActiveBlock", engine.ActiveBlock, m=Arg(np, "module"), E=Arg(2, "size"), M=Arg(3, "size"),
      shrink=Arg(0.5, "real"))
entry("engine.FixedPoints.per_network", lambda result: engine.basin_fractions(result), result=Arg(RES, "result"))

# sweep
entry("sweep.config_grid", lambda base, L: sweep.config_grid(base, L=L), base=Arg({"N": 3}, "mapping"),
      L=Arg([1, 2], "names", names=("'L'", "L ")))
entry("sweep.config_seed", sweep.config_seed, seed=Arg(0, "seed"), config=Arg(CFG, "config"))
entry("sweep.sample_and_solve", lambda config, n_networks, seed: sweep.sample_and_solve(
      config, n_networks, seed=seed, n_starts=3, max_iter=50), config=Arg(CFG, "config"),
      n_networks=Arg(2, "size"), seed=Arg(0, "seed"), _allow_inf=True)
entry("sweep.chunk_size", sweep.chunk_size, config=Arg(CFG, "config"), settings=Arg(None, "settings"),
      max_bytes=Arg(2**20, "size"))
entry("sweep.run_config", lambda config, n_networks, seed, chunk, backend: sweep.run_config(
      config, n_networks=n_networks, seed=seed, chunk=chunk, backend=backend, n_starts=3, max_iter=50),
      config=Arg(CFG, "config"), n_networks=Arg(2, "size"), seed=Arg(0, "seed"), chunk=Arg(None, "size"),
      backend=Arg("numpy", "choice"), _allowed=_NO_GPU)
entry("sweep.run_sweep", lambda configs, n_networks, seed, progress, chunk: sweep.run_sweep(
      configs, n_networks=n_networks, seed=seed, progress=progress, chunk=chunk, n_starts=3, max_iter=50),
      configs=Arg([CFG], "names"), n_networks=Arg(2, "size"), seed=Arg(0, "seed"), progress=Arg(False, "bool"),
      chunk=Arg(None, "size"))
_TMP = tempfile.mkdtemp(prefix="fpkit-fuzz-")
entry("sweep.SweepCache", lambda directory: sweep.SweepCache(directory), directory=Arg(_TMP, "path",
                                                                                        names=("cache_dir",)))
entry("sweep.SweepCache.load", lambda key, desc: sweep.SweepCache(_TMP).load(key, desc),
      key=Arg("0" * 32, "choice"), desc=Arg(None, "path"))
entry("sweep.SweepCache.store", lambda key, desc, table: sweep.SweepCache(_TMP).store(key, desc, table),
      key=Arg("1" * 32, "choice"), desc=Arg(sweep.SweepCache.key(CFG, {})[1], "path"),
      table=Arg(SWEEP_TABLE, "columns"))
entry("sweep.SweepCache.key", sweep.SweepCache.key, config=Arg(CFG, "config"), settings=Arg({}, "mapping"),
      code=Arg("abc", "path"))

# stats and regimes
entry("stats.bootstrap_curve", stats.bootstrap_curve, table=Arg(TABLE, "columns"), by=Arg("L", "names"),
      column=Arg("Q", "names"), confidence=Arg(0.9, "real"), n_resamples=Arg(20, "size"), seed=Arg(0, "seed"))
_HUMP_TABLE = pd.DataFrame({"L": np.repeat([1, 2, 3], 4), "Q": [0.0, 1, 1, 2, 2, 3, 2, 3, 1, 0, 1, 1]})


def _hump_result(kwargs, res):
    """The p-value columns of ``depths`` are NaN in the two end rows (documented: no comparison applies
    there) and nowhere else; everything else is valid."""
    depths = res["depths"]
    p_cols = ["p_vs_first", "p_vs_last", "p", "p_holm"]
    ends = np.zeros(len(depths), dtype=bool)
    ends[[0, -1]] = True
    for col in p_cols:
        assert np.array_equal(depths[col].isna().to_numpy(), ends), f"NaN pattern of depths[{col!r}]"
        assert depths.loc[~ends, col].between(0.0, 1.0).all()
    assert_valid({k: val for k, val in res.items() if k != "depths"}, where="hump_test")
    assert_valid(depths.drop(columns=p_cols), where="hump_test depths")


entry("stats.hump_test", stats.hump_test, table=Arg(_HUMP_TABLE, "columns"), x=Arg("L", "names"),
      column=Arg("Q", "names"), alpha=Arg(0.025, "real", extra=st.floats(1e-12, 0.6)), _check=_hump_result,
      _examples=80)
_SAMPLES = np.random.default_rng(0).poisson(1.0, (2, 4, 6)).astype(float)
entry("stats.hump_test_batch", stats.hump_test_batch, samples=Arg(_SAMPLES, "array", shape=(2, 4, 6)),
      alpha=Arg(0.025, "real"))
entry("stats.bootstrap_max_hump_batch", stats.bootstrap_max_hump_batch,
      samples=Arg(_SAMPLES, "array", shape=(2, 4, 6)), confidence=Arg(0.95, "real"), n_resamples=Arg(20, "size"),
      seed=Arg(0, "seed"))
entry("stats.holm_adjust", stats.holm_adjust, p_values=Arg(np.array([0.01, 0.2]), "array", names=("p_values",)))
entry("stats.simulate_depth_data", stats.simulate_depth_data, family=Arg("poisson", "choice"),
      means=Arg(np.array([1.0, 2.0, 1.0]), "array"), n=Arg(4, "size"), reps=Arg(2, "size"), seed=Arg(0, "seed"))
entry("stats.proportion_test", stats.proportion_test, successes_a=Arg(3, "size"), trials_a=Arg(10, "size"),
      successes_b=Arg(1, "size"), trials_b=Arg(10, "size"), alternative=Arg("greater", "choice"))
entry("stats.proportion_curve", stats.proportion_curve, table=Arg(TABLE.assign(hit=[0, 1, 1, 0, 1, 1]), "columns"),
      by=Arg("L", "names"), column=Arg("hit", "names"), confidence=Arg(0.9, "real"))
entry("stats.paired_sign_test", stats.paired_sign_test, x=Arg(np.array([1.0, 2.0, 3.0]), "array"),
      y=Arg(np.array([0.0, 2.0, 1.0]), "array"), alternative=Arg("greater", "choice"))
entry("stats.hump_test_proportions", stats.hump_test_proportions, successes=Arg(np.array([3, 5, 2]), "array"),
      trials=Arg(np.array([10, 10, 12]), "array", extra=st.sampled_from([10, 10**9, [3, 3, 3]])),
      alpha=Arg(0.025, "real"))
_POWER = dict(networks=Arg(100, "size", extra=st.sampled_from([3, 10**9, (3, 10**9, 3), [100, 200, 300]])),
              n_depths=Arg(6, "size", extra=st.sampled_from([3, 10**6])), alpha=Arg(0.025, "real"))
entry("stats.hump_power", lambda size, proportion, sd, **kw: stats.hump_power(size, proportion=proportion, sd=sd, **kw),
      size=Arg(0.1, "real", extra=st.floats(0.0, 0.8)), proportion=Arg(0.2, "real", extra=st.floats(0.0, 0.99)),
      sd=Arg(None, "real"), **_POWER)
entry("stats.hump_power[sd]", lambda size, sd, **kw: stats.hump_power(size, sd=sd, **kw),
      size=Arg(0.5, "real", extra=st.floats(0.0, 1e150)), sd=Arg((1.0, 2.0), "array", extra=st.floats(1e-300, 1e150)),
      **_POWER)
entry("stats.detectable_hump", lambda proportion, sd, power, **kw: stats.detectable_hump(
      proportion=proportion, sd=sd, power=power, **kw), proportion=Arg(0.2, "real", extra=st.floats(0.0, 0.999)),
      sd=Arg(None, "real"), power=Arg(0.8, "real", extra=st.floats(1e-6, 0.999999)), _allow_inf=True, **_POWER)
entry("stats.detectable_hump[sd]", lambda sd, **kw: stats.detectable_hump(sd=sd, **kw),
      sd=Arg(1.0, "real", extra=st.floats(1e-300, 1e150)), **_POWER)
entry("stats.networks_for_hump", lambda size, proportion, sd, power, n_depths, alpha: stats.networks_for_hump(
      size, proportion=proportion, sd=sd, power=power, n_depths=n_depths, alpha=alpha),
      size=Arg(0.05, "real", extra=st.floats(1e-6, 0.5)), proportion=Arg(0.2, "real", extra=st.floats(0.0, 0.5)),
      sd=Arg(None, "real"), power=Arg(0.8, "real", extra=st.floats(1e-6, 0.999999)), n_depths=Arg(6, "size"),
      alpha=Arg(0.025, "real"))
entry("stats.hump_power_by_simulation", lambda means, networks, family, reps, alpha, seed: stats.hump_power_by_simulation(
      means, networks=networks, family=family, reps=reps, alpha=alpha, seed=seed),
      means=Arg(np.array([0.2, 0.3, 0.2]), "array"), networks=Arg(50, "size", extra=st.sampled_from([[3, 10**9, 3]])),
      family=Arg("binary", "choice"), reps=Arg(20, "size"), alpha=Arg(0.025, "real"), seed=Arg(0, "seed"))
_HUMP_RESULT = stats.hump_test(pd.DataFrame({"L": np.repeat([1, 2, 3], 4), "Q": [0.0, 1, 1, 2, 2, 3, 2, 3, 1, 0, 1, 1]}),
                               "L", "Q")
entry("stats.hump_verdict", stats.hump_verdict, result=Arg(_HUMP_RESULT, "mapping", extra=st.sampled_from([
      {**_HUMP_RESULT, "low": NAN}, {**_HUMP_RESULT, "hump": "yes"}, {**_HUMP_RESULT, "p_value": 2.0},
      {k: val for k, val in _HUMP_RESULT.items() if k != "peak"}, pd.Series(_HUMP_RESULT)])),
      statistic=Arg("Q", "choice"), detectable=Arg(0.3, "real"), power=Arg(0.8, "real"), x=Arg("L", "choice"),
      digits=Arg(3, "count"))
_CURVES_TABLE = pd.DataFrame({"N": np.repeat([2, 4], 12), "L": np.tile(np.repeat([1, 2, 3], 4), 2),
                              "Q": [0.0, 1, 1, 2, 2, 3, 2, 3, 1, 0, 1, 1] * 2, "multi": [0.0, 1, 0, 0, 1, 1] * 4})


def _hump_table_valid(kwargs, out):
    """detectable may be inf (documented); every other number is finite; one verdict per curve."""
    assert_valid(out.drop(columns=["detectable", "hump_x", "verdict"]), where="hump_table")
    assert not out["detectable"].isna().any() and (out["detectable"] >= 0).all()
    assert out["verdict"].map(lambda t: isinstance(t, str) and ("has a hump of size" in t or "no hump" in t
                                                                or "cannot detect a hump" in t)).all()


entry("stats.hump_table", lambda table, x, columns, by, alpha, power: stats.hump_table(
      table, x, columns, by=by, alpha=alpha, power=power), table=Arg(_CURVES_TABLE, "columns"), x=Arg("L", "names"),
      columns=Arg(["Q", "multi"], "names"), by=Arg("N", "names"), alpha=Arg(0.025, "real"), power=Arg(0.8, "real"),
      _check=_hump_table_valid, _examples=80)
_FAMILY = pd.DataFrame({"comparison": ["a", "b", "c"], "p": [0.01, 0.2, 0.04]})


def _family_valid(kwargs, out):
    """p, p_holm and the flags are valid; other columns of a table pass through as given."""
    flag = kwargs.get("reject_column", "reject")
    assert_valid(out[["p", "p_holm", flag]] if "p" in out else out[["p_holm", flag]], where="holm_family")
    assert (out["p_holm"] >= out[kwargs.get("p_column", "p")] if "p" in out else True).all()


entry("stats.holm_family", stats.holm_family, tests=Arg(_FAMILY, "columns", extra=st.sampled_from([
      {"a": 0.1, "b": {"p_value": 0.2}}, pd.Series({"x": 0.5}), {"a": {"p": 0.1}}, {"a": NAN}, {"a": [0.1]}, {}])),
      alpha=Arg(0.05, "real"), p_column=Arg("p", "names"), reject_column=Arg("reject", "names"), _check=_family_valid,
      _examples=80)
_LONG = pd.DataFrame({"pair": np.tile([0, 1, 2, 3], 3), "variant": np.repeat(["trained", "shuffled", "iid"], 4),
                      "Q": [3.0, 2, 4, 1, 1, 1, 2, 0, 3, 2, 4, 1], "kind": "k"})
entry("stats.paired_sign_tests", lambda table, value, pair, group, reference, against, by, alternative, alpha:
      stats.paired_sign_tests(table, value, pair=pair, group=group, reference=reference, against=against, by=by,
                              alternative=alternative, alpha=alpha),
      table=Arg(_LONG, "columns"), value=Arg("Q", "names"), pair=Arg("pair", "names"), group=Arg("variant", "names"),
      reference=Arg("trained", "names"), against=Arg(["shuffled", "iid"], "names"), by=Arg("kind", "names"),
      alternative=Arg("both", "choice"), alpha=Arg(0.05, "real"), _examples=80)
entry("stats.hump_z_test", stats.hump_z_test, x=Arg(np.array([1.0, 2.0, 3.0]), "array", names=("x",)),
      mean=Arg(np.array([1.0, 2.0, 1.0]), "array"), se=Arg(np.array([0.1, 0.1, 0.1]), "array"),
      alpha=Arg(0.05, "real"))
entry("regimes.explore_regimes", regimes.explore_regimes, n_networks=Arg(2, "size"), n_starts=Arg(3, "size"),
      seed=Arg(0, "seed"), N=Arg(2, "size"), law=Arg("cauchy", "choice"),
      axes=Arg({"activation": ["tanh"], "L": [1]}, "mapping", names=("axis", "L", "activation")),
      max_iter=Arg(50, "count"), progress=Arg(False, "bool"), _examples=30)
_FLAG_COLUMNS = ("Q", "converged_starts", "cycle_starts", "not_converged_starts")


def _flags_added(kwargs, out):
    """The three indicators are valid; every other column is the input's, unchanged (NaN included)."""
    table = kwargs["table"]
    assert_valid(out[["multi", "none", "unsettled"]], where="attractor_flags")
    assert out["multi"].isin([0.0, 1.0]).all() and out["unsettled"].between(0.0, 1.0).all()
    kept = [c for c in table.columns if c != "bias_law"]
    pd.testing.assert_frame_equal(out[kept], table[kept])


def _summary_valid(kwargs, out):
    """NaN only where documented: sem_Q of a one-network group, and group keys that were missing."""
    by = kwargs["by"] if kwargs["by"] is not None else ["activation", "convention", "scale", "bias_law", "L"]
    assert np.array_equal(out["sem_Q"].isna().to_numpy(), (out["networks"] == 1).to_numpy())
    assert_valid(out.drop(columns=["sem_Q", *by]), where="summarize_regimes")
    assert out[["p_multi", "p_none", "cycle_fraction"]].stack().between(0.0, 1.0).all()


entry("regimes.summarize_regimes", regimes.summarize_regimes, table=Arg(SWEEP_TABLE, "columns"),
      by=Arg(["activation", "L"], "names"), _check=_summary_valid, _examples=80)
entry("regimes.attractor_flags", regimes.attractor_flags, table=Arg(SWEEP_TABLE, "columns"), _check=_flags_added,
      _examples=80)
entry("regimes.tail_configs", regimes.tail_configs, base=Arg(CFG, "config"), alphas=Arg([2.0, 1.0], "array"),
      matching=Arg("median", "choice"))
_SUMMARY = regimes.summarize_regimes(pd.concat([SWEEP_TABLE, SWEEP_TABLE.assign(scale=16.0)], ignore_index=True))


def _choice_valid(kwargs, choice):
    """The numbers the rule read and made are valid; other columns of the summary pass through as given."""
    assert isinstance(choice, selection.RegimeChoice) and isinstance(choice.reason, str)
    read = ["L", "mean_Q", "p_multi", "cycle_fraction", "networks", "multi_networks", "multi_low", "multi_high", "rank"]
    assert_valid(choice.ranking[read], where="select_regime ranking")
    assert choice.separation_p is None or 0.0 <= choice.separation_p <= 1.0
    assert choice.n_passing == len(choice.ranking) <= choice.n_settings


entry("selection.select_regime", lambda summary, depth, max_cycle_fraction: selection.select_regime(
      summary, depth=depth, max_cycle_fraction=max_cycle_fraction), summary=Arg(_SUMMARY, "columns"),
      depth=Arg(2, "size"), max_cycle_fraction=Arg(1.0, "real"), _check=_choice_valid, _examples=100)
entry("selection.setting_label", selection.setting_label, setting=Arg(CFG.as_dict(), "mapping"))
entry("selection.setting_labels", selection.setting_labels, table=Arg(_SUMMARY, "columns"))

# spectra
entry("spectra.jacobian_spectrum", spectra.jacobian_spectrum, ensemble=Arg(ENS, "ensemble"),
      x=Arg(STARTS, "array", shape=(2, 3, 2)))
entry("spectra.mass_outside", spectra.mass_outside, eigenvalues=Arg(RES.eigenvalues, "array"), radius=Arg(1.0, "real"))
entry("spectra.smoothed_esd", spectra.smoothed_esd, values=Arg(np.array([0.5, 1.0]), "array"),
      x=Arg(np.array([0.5, 2.0]), "array", shape=(2,)), eta=Arg(0.05, "real"))
entry("spectra.marchenko_pastur_density", spectra.marchenko_pastur_density,
      x=Arg(np.array([0.5, 2.0]), "array", shape=(2,)), sigma2=Arg(1.0, "real"))
entry("spectra.fuss_catalan_moment", spectra.fuss_catalan_moment, L=Arg(2, "size", extra=st.integers(1, 1000)),
      k=Arg(3, "size", extra=st.integers(0, 1000)))
entry("spectra.preactivation_variances", spectra.preactivation_variances, activation=Arg("tanh", "phi"),
      L=Arg(3, "size", extra=st.integers(1, 1000)), sigma_w=Arg(1.0, "real"), sigma_b=Arg(0.1, "real"),
      input_second_moment=Arg(0.3, "real"))
entry("spectra.FreeJacobianLaw", spectra.FreeJacobianLaw, sigma_w2=Arg([1.0, 2.0], "array"),
      d2_laws=Arg([(1.0, 1.0), ([0.5, 1.0], [0.5, 0.5])], "array"))
entry("spectra.FreeJacobianLaw.linear", spectra.FreeJacobianLaw.linear, L=Arg(2, "size", extra=st.integers(1, 1000)),
      sigma_w=Arg(1.0, "real"))
entry("spectra.FreeJacobianLaw.from_config", spectra.FreeJacobianLaw.from_config, config=Arg(GAUSS_CFG, "config"),
      input_second_moment=Arg(None, "real"))
entry("spectra.FreeJacobianLaw.moments", lambda L, sigma_w: spectra.FreeJacobianLaw.linear(L, sigma_w).moments(),
      L=Arg(2, "size", extra=st.integers(1, 1000), names=("log_moments",)),
      sigma_w=Arg(1.0, "real", extra=st.floats(1e-3, 1e3), names=("log_moments",)))
entry("spectra.FreeJacobianLaw.log_s_transform", FREE.log_s_transform, w=Arg(-0.5, "real"))
entry("spectra.FreeJacobianLaw.s_transform", lambda w, L: spectra.FreeJacobianLaw.linear(L, 3.0).s_transform(w),
      w=Arg(-0.5, "real"), L=Arg(2, "size", extra=st.integers(1, 1000), names=("log_s_transform",)))
entry("spectra.FreeJacobianLaw.eigenvalue_cdf", FREE.eigenvalue_cdf, r=Arg(np.array([0.5, 1.0]), "array"))
entry("spectra.FreeJacobianLaw.mass_outside", FREE.mass_outside, radius=Arg(1.0, "real"))
entry("spectra.FreeJacobianLaw.density", FREE.density, x=Arg(np.array([0.5, 2.0]), "array", shape=(2,)),
      eta_final=Arg(1e-10, "real"), steps=Arg(10, "count"), newton=Arg(10, "count"), _examples=24)
entry("spectra.FreeJacobianLaw.cdf", FREE.cdf, x=Arg(np.array([0.5, 2.0]), "array", shape=(2,)),
      per_decade=Arg(5, "count"), _examples=18)
entry("spectra.FreeJacobianLaw.ks_distance", FREE.ks_distance, samples=Arg(np.array([0.5, 1.0, 2.0]), "array"),
      rel_floor=Arg(1e-20, "real"), _examples=18)
entry("spectra.cauchy_scale_sequence", spectra.cauchy_scale_sequence, config=Arg(CFG, "config"),
      input_mean_abs=Arg(None, "real"))
entry("spectra.cavity_jjt_density", spectra.cavity_jjt_density, config=Arg(CFG, "config"),
      x=Arg(np.array([0.5]), "array", shape=(1,)), eta=Arg(0.05, "real"), population=Arg(20, "size"),
      sweeps=Arg(3, "count"), burn_in=Arg(1, "count"), cutoff=Arg(0.1, "real"), seed=Arg(0, "seed"), _examples=30)
entry("spectra.cavity_s_transform", spectra.cavity_s_transform, config=Arg(CFG, "config"),
      y=Arg(np.array([0.5, 2.0]), "array", shape=(2,)), input_scale=Arg(None, "real"), population=Arg(20, "size"),
      sweeps=Arg(3, "count"), burn_in=Arg(1, "count"), cutoff=Arg(0.1, "real"), seed=Arg(0, "seed"), _examples=30)
entry("spectra.cauchy_fixed_scale", spectra.cauchy_fixed_scale, config=Arg(CFG, "config"), tol=Arg(1e-12, "real"),
      max_iter=Arg(50, "count"))
entry("spectra.gaussian_d2_atoms", spectra.gaussian_d2_atoms, activation=Arg("tanh", "phi", extra=st.sampled_from(
      list(activations.ACTIVATIONS))), q=Arg(1.0, "real", extra=st.floats(0.0, 1e300)))
_MATS = np.random.default_rng(2).normal(size=(2, 3, 3))
entry("spectra.matrix_spectrum", spectra.matrix_spectrum, matrices=Arg(_MATS, "array", shape=(2, 3, 3)))
entry("spectra.preactivations", spectra.preactivations, ensemble=Arg(ENS, "ensemble"),
      x=Arg(STARTS, "array", shape=(2, 3, 2)))
entry("spectra.real_eigenvalue_mask", spectra.real_eigenvalue_mask, eigenvalues=Arg(RES.eigenvalues, "array"))
_SPEC_DATA = spectra.jacobian_spectrum(ENS, STARTS)
entry("spectra.spectrum_statistics", spectra.spectrum_statistics, spectrum=Arg(_SPEC_DATA, "result", extra=st.builds(
      spectra.JacobianSpectrum, arrays((2, 3, 2)), st.just(_SPEC_DATA.sv2))))
entry("spectra.fixed_point_index_sums", spectra.fixed_point_index_sums, result=Arg(RES, "result"))

# meanfield
_C = COEFFS
entry("meanfield.gaussian_expectation", meanfield.gaussian_expectation, f=Arg(np.tanh, "callable"),
      kinks=Arg((), "array"), tol=Arg(1e-8, "real"), _examples=24)
entry("meanfield.hermite_coefficients", meanfield.hermite_coefficients, phi=Arg("tanh", "phi"),
      n=Arg(3, "size"), normalize=Arg(True, "bool"), _examples=24)
for _f in ("kernel_map", "kernel_map_derivative", "truncation_bound"):
    entry(f"meanfield.{_f}", getattr(meanfield, _f), rho=Arg(0.5, "array"), c=Arg(_C, "array", shape=(6,)))
entry("meanfield.kernel_map_direct", meanfield.kernel_map_direct, rho=Arg(0.5, "array"), phi=Arg("tanh", "phi"),
      normalize=Arg(True, "bool"), tol=Arg(1e-8, "real"), _examples=24)
def _classified(kwargs, info):
    """rho* is NaN exactly for a linear activation (case 0: every rho is a fixed point)."""
    assert isinstance(info, meanfield.KernelMapInfo) and info.case in (0, 1, 2, 3, 4)
    assert_valid(dataclasses.replace(info, rho_star=0.0 if info.case == 0 else info.rho_star))
    assert math.isnan(info.rho_star) == (info.case == 0)


entry("meanfield.classify", meanfield.classify, phi=Arg("tanh", "phi", extra=st.sampled_from(list(
      activations.ACTIVATIONS))), tol=Arg(1e-8, "real"), n=Arg(4, "size"), _check=_classified, _examples=30)
entry("meanfield.kernel_fixed_point", meanfield.kernel_fixed_point, c=Arg(_C, "array", shape=(6,)))
entry("meanfield.kernel_sequence", meanfield.kernel_sequence, rho0=Arg(0.5, "real"),
      depth=Arg(5, "size", extra=st.integers(0, 1000)), kappa=Arg(lambda r: 0.5 * r, "callable"))
entry("meanfield.convergence_bound", meanfield.convergence_bound, rho0=Arg(0.5, "real"),
      depth=Arg(5, "size", extra=st.integers(0, 1000)), c=Arg(_C, "array", shape=(6,)), info=Arg(INFO, "result"))
entry("meanfield.q_map_fixed_point", meanfield.q_map_fixed_point, phi=Arg("tanh", "phi"), sigma_w=Arg(1.5, "real"),
      sigma_b=Arg(0.1, "real"), q0=Arg(1.0, "real"), iters=Arg(20, "count"), _examples=24)
entry("meanfield.variance_map_slope", meanfield.variance_map_slope, phi=Arg("tanh", "phi"), _examples=24)
entry("meanfield.simulate_correlations", meanfield.simulate_correlations, phi=Arg("tanh", "phi"),
      width=Arg(8, "size"), depth=Arg(2, "size", extra=st.integers(0, 1000)),
      rho0=Arg(0.5, "real", extra=st.sampled_from([1.0, -1.0 / 3.0, 0.0])), n_inputs=Arg(4, "size"),
      seed=Arg(0, "seed"), residual=Arg(0.0, "real"), norm=Arg("none", "choice"), _examples=45)
entry("meanfield.critical_sigma_w", meanfield.critical_sigma_w, phi=Arg("tanh", "phi"), sigma_b=Arg(0.1, "real"),
      bracket=Arg((1.0, 1.5), "array", shape=(2,)), xtol=Arg(1e-2, "real"), _examples=12)
_RHOS = (-1.0, -0.5, 0.0, 0.3, 1.0)
_KAPPA = lambda r: float(meanfield.kernel_map(r, _C))
entry("meanfield.residual_kernel_map", lambda kappa, residual: [meanfield.residual_kernel_map(kappa, residual)(r)
                                                                for r in _RHOS],
      kappa=Arg(_KAPPA, "callable"), residual=Arg(0.5, "real", extra=st.floats(0.0, 1.0, exclude_max=True)))
entry("meanfield.layer_norm_kernel_map", lambda kappa: [meanfield.layer_norm_kernel_map(kappa)(r) for r in _RHOS],
      kappa=Arg(_KAPPA, "callable", extra=st.sampled_from([lambda r: 0.5 + 0.5 * r, lambda r: r**3])))

# restore
entry("restore.corrupt", restore.corrupt, x=Arg(IMAGES, "array", shape=(2, 4)), kind=Arg("gaussian", "choice"),
      strength=Arg(0.3, "real"), low=Arg(-0.5, "real"), high=Arg(0.5, "real"), seed=Arg(0, "seed"),
      side=Arg(2, "size"))
entry("restore.psnr", restore.psnr, x=Arg(IMAGES, "array", shape=(2, 4)),
      reference=Arg(IMAGES[::-1].copy(), "array", shape=(2, 4)), data_range=Arg(1.0, "real"), _allow_inf=True)
entry("restore.restore", restore.restore, ensemble=Arg(ONE_NET, "ensemble"), x=Arg(IMAGES, "array", shape=(2, 4)),
      network=Arg(0, "size"), max_iter=Arg(50, "count"), tol=Arg(1e-8, "real"))
entry("restore.median_baseline", restore.median_baseline, x=Arg(IMAGES, "array", shape=(2, 4)),
      side=Arg(2, "size"), size=Arg(1, "size"))
entry("restore.basin_radius", restore.basin_radius, ensemble=Arg(ONE_NET, "ensemble"),
      attractors=Arg(IMAGES[:1], "array", shape=(1, 4)), radii=Arg(np.array([0.01, 0.1]), "array"),
      network=Arg(0, "size"), n_probe=Arg(2, "size"), seed=Arg(0, "seed"), max_iter=Arg(30, "count"),
      tol=Arg(1e-6, "real"), fraction=Arg(0.9, "real"))
entry("restore.attractor_distances", restore.attractor_distances, ensemble=Arg(ONE_NET, "ensemble"),
      images=Arg(IMAGES, "array", shape=(2, 4)), network=Arg(0, "size"), max_iter=Arg(50, "count"),
      tol=Arg(1e-8, "real"))
entry("restore.repairs", restore.repairs, ensemble=Arg(ONE_NET, "ensemble"), images=Arg(IMAGES, "array", shape=(2, 4)),
      network=Arg(0, "size"), side=Arg(2, "size"), max_iter=Arg(30, "count"))


class _Classifier:
    """A stand-in for a scikit-learn classifier: the share of images whose first pixel's sign is the label."""

    def score(self, images, labels):
        return float(np.mean((np.asarray(images)[:, 0] > 0) == labels))


def _restoration(kwargs, table):
    """``same attractor as clean`` is NaN (documented) exactly in the rows of other methods; psnr is
    inf where a repair gives the clean images back exactly; per image, squared errors are finite."""
    assert isinstance(table, pd.DataFrame) and len(table)
    same = table["same attractor as clean"]
    assert np.array_equal(same.isna().to_numpy(), (table["method"] != "attractor").to_numpy())
    assert same.dropna().between(0.0, 1.0).all()
    if kwargs.get("per_image"):
        err = table["squared_error"].to_numpy()
        assert np.all(np.isfinite(err) & (err >= 0))
        return
    assert table["accuracy"].between(0.0, 1.0).all()
    assert not table["psnr"].isna().any() and not np.isneginf(table["psnr"]).any()


entry("restore.evaluate_restoration", restore.evaluate_restoration, ensemble=Arg(ONE_NET, "ensemble"),
      clean=Arg(IMAGES, "array", shape=(2, 4)), labels=Arg(np.array([0, 1]), "array", shape=(2,)),
      network=Arg(0, "size"), strengths=Arg({"gaussian": [0.3], "occlusion": [0.5]}, "mapping",
                                            extra=st.sampled_from([{"gaussian": [2.0]}, {"gaussian": "x"},
                                                                   {"gaussian": [NAN]}, {"gaussian": 0.3}])),
      classifier=Arg(_Classifier(), "module"), low=Arg(-0.5, "real"), high=Arg(0.5, "real"), seed=Arg(0, "seed"),
      side=Arg(2, "size"), max_iter=Arg(30, "count"), per_image=Arg(False, "bool"), _check=_restoration,
      _examples=30)

# bench
entry("bench.compare", bench.compare, funcs=Arg({"a": lambda: 1}, "mapping"), repeats=Arg(1, "count"))
entry("bench.python_loop_iterate", bench.python_loop_iterate, ensemble=Arg(ENS, "ensemble"),
      starts=Arg(STARTS, "array", shape=(2, 3, 2)), tol=Arg(1e-8, "real"), max_iter=Arg(30, "count"),
      subset=Arg(None, "array"))
entry("bench.torch_iterate", bench.torch_iterate, ensemble=Arg(ENS, "ensemble"),
      starts=Arg(STARTS, "array", shape=(2, 3, 2)), tol=Arg(1e-8, "real"), max_iter=Arg(30, "count"),
      device=Arg("cpu", "choice"), _examples=24)
entry("bench.steady_iteration", bench.steady_iteration, ensemble=Arg(ENS, "ensemble"),
      starts=Arg(STARTS, "array", shape=(2, 3, 2)), steps=Arg(3, "count"))
entry("bench.matmul_roofline", bench.matmul_roofline, ensemble=Arg(ENS, "ensemble"),
      starts=Arg(STARTS, "array", shape=(2, 3, 2)), steps=Arg(3, "count"))
entry("bench.activation_share", bench.activation_share, ensemble=Arg(ENS, "ensemble"),
      starts=Arg(STARTS, "array", shape=(2, 3, 2)), steps=Arg(3, "count"), repeats=Arg(1, "count"))
entry("bench.cost_law", bench.cost_law, widths=Arg((2,), "names"), depths=Arg((1,), "names"),
      sizes=Arg((32,), "names"), base_N=Arg(2, "size"), base_L=Arg(1, "size"), base_size=Arg(32, "size"),
      steps=Arg(2, "count"), repeats=Arg(1, "count"), seed=Arg(0, "seed"), _examples=24)
entry("bench.syncs_per_step", bench.syncs_per_step, ensemble=Arg(ENS, "ensemble"),
      starts=Arg(STARTS, "array", shape=(2, 3, 2)), sync_every=Arg((1, 2), "names"),
      stages=Arg(("iteration",), "names"), max_iter=Arg(20, "count"), newton_steps=Arg(2, "count"),
      continuation_steps=Arg(5, "count"), _examples=24)
entry("bench.cadence_timing", bench.cadence_timing, ensemble=Arg(ENS, "ensemble"),
      starts=Arg(STARTS, "array", shape=(2, 3, 2)), sync_every=Arg((1, 2), "names"), repeats=Arg(1, "count"),
      warmup=Arg(0.0, "real"), _examples=24)

# plotting (chapter_setup takes no argument and changes the warning filters: not called here)
entry("plotting.law_palette", plotting.law_palette, labels=Arg(["Gaussian", "Cauchy", "x"], "names"))
entry("plotting.glue", plotting.glue, name=Arg("fuzz_value", "names"), value=Arg(0.5, "real"),
      display=Arg(False, "bool"), markdown=Arg(True, "bool"))
entry("plotting.glued", plotting.glued, name=Arg("fuzz_value", "names"), _allowed=(KeyError,))


# --- proposed (branch book): the book helpers of fpkit.plotting
def _book_figure(**kwargs):
    import matplotlib.pyplot as plt

    fig, _ = plotting.book_figure(**kwargs)
    plt.close(fig)
    return fig.get_size_inches()


entry("plotting.book_figure", _book_figure, nrows=Arg(1, "count"), ncols=Arg(2, "count"), width=Arg(7.0, "real"),
      height=Arg(None, "real"))
entry("plotting.glue_figure", plotting.glue_figure, name=Arg("fig-fuzz", "names"),
      fig=Arg(__import__("matplotlib.figure", fromlist=["Figure"]).Figure(figsize=(3, 2)), "module"), _examples=24)
entry("plotting.format_significant", plotting.format_significant, value=Arg(0.5, "real"), digits=Arg(3, "count"))
entry("plotting.book_table", plotting.book_table, frame=Arg(TABLE, "table"), digits=Arg(3, "count"),
      full=Arg(None, "table"), csv_name=Arg(None, "names"), caption=Arg(None, "names"))
entry("plotting.glue_claim", plotting.glue_claim, status=Arg("partly", "choice"), finding=Arg("Fine.", "names"),
      how_sure=Arg("A test.", "names"), regime=Arg("Here.", "names"))

entry("plotting.GluedText", plotting.GluedText, text=Arg("partly: 3 of 4", "names"))
_FIGURE = __import__("matplotlib.figure", fromlist=["Figure"]).Figure
_AX = _FIGURE().subplots()


def _on_fresh_axes(plot):
    """Each valid call draws on new axes (what one example drew must not affect the next)."""
    def call(ax, **kwargs):
        return plot(_FIGURE().subplots() if ax is _AX else ax, **kwargs)
    return call


entry("plotting.plot_basin_map", _on_fresh_axes(lambda ax, labels, extent, stable, unstable, palette:
                                                plotting.plot_basin_map(ax, labels, extent, stable=stable,
                                                                        unstable=unstable, palette=palette)),
      ax=Arg(_AX, "module"), labels=Arg(np.array([[0, 1, -1], [1, 1, -2], [0, 0, 2]]), "array", shape=(3, 3)),
      extent=Arg((-1.0, 1.0, -1.0, 1.0), "array", shape=(4,)), stable=Arg(np.zeros((1, 2)), "array", shape=(1, 2)),
      unstable=Arg(None, "array", shape=(2, 2)), palette=Arg("Set2", "choice"))
_CURVES = stats.bootstrap_curve(TABLE, "L", "Q", n_resamples=20, seed=0).assign(law="Cauchy")
entry("plotting.plot_bootstrap_bands", _on_fresh_axes(plotting.plot_bootstrap_bands), ax=Arg(_AX, "module"),
      curves=Arg(_CURVES, "table"), x=Arg("L", "names"), hue=Arg("law", "names"), color=Arg(None, "choice"),
      label=Arg("{hue} law", "choice"), xticks=Arg([1, 2, 3], "array"), log_x=Arg(True, "bool"),
      marker_size=Arg(4.0, "real"))


# trained networks and their controls
entry("trained.shuffle_within_layers", lambda ens, seed: trained.shuffle_within_layers(ens, seed=seed).weights,
      ens=Arg(ENS, "ensemble"), seed=Arg(0, "seed"))
entry("trained.layer_tail_indices", lambda ens, tail_fraction: trained.layer_tail_indices(
      ens, tail_fraction=tail_fraction), ens=Arg(ONE_NET, "ensemble"), tail_fraction=Arg(0.2, "real"))
entry("trained.matched_iid_ensemble", lambda ens, seed: trained.matched_iid_ensemble(ens, seed=seed).weights,
      ens=Arg(ONE_NET, "ensemble"), seed=Arg(0, "seed"))
entry("trained.heaviest_layers", lambda ens, tail_fraction: trained.heaviest_layers(ens, tail_fraction=tail_fraction),
      ens=Arg(ONE_NET, "ensemble"), tail_fraction=Arg(0.2, "real"))
_LAYERS = pd.DataFrame({"run": np.repeat([0, 1], 4), "step": np.tile([1, 1, 9, 9], 2), "layer": np.tile([1, 2], 4),
                        "hill_alpha": [3.0, 1.5, 2.0, 2.5, 2.6, 0.9, 4.0, 4.0],
                        "csn_alpha": [NAN, NAN, 2.0, 1.0, NAN, NAN, 0.5, 0.7], "optimizer": "sgd"})


def _heaviest_valid(kwargs, out):
    """csn_min is NaN where no layer was fitted (documented); the rest is valid."""
    assert_valid(out[["heaviest_layer", "hill_min"]], where="heaviest_layer_summary")
    if "csn_min" in out:
        assert (out["csn_min"].isna() | (out["csn_min"] >= 0)).all()


entry("trained.heaviest_layer_summary", trained.heaviest_layer_summary, table=Arg(_LAYERS, "columns"),
      by=Arg(["run", "step"], "names"), _check=_heaviest_valid, _examples=80)
entry("trained.census_with_controls", lambda ens, n_starts, newton_starts, seed: trained.census_with_controls(
      ens, n_starts=n_starts, newton_starts=newton_starts, seed=seed, max_iter=50, census_rounds=1),
      ens=Arg(ONE_NET, "ensemble"), n_starts=Arg(3, "size"), newton_starts=Arg(2, "size"), seed=Arg(0, "seed"),
      _allow_inf=True, _examples=24)
entry("trained.fixed_point_census", lambda ens, n_starts, newton_starts, seed: trained.fixed_point_census(
      ens, n_starts=n_starts, newton_starts=newton_starts, seed=seed, max_iter=50, census_rounds=1),
      ens=Arg(ENS, "ensemble"), n_starts=Arg(3, "size"), newton_starts=Arg(2, "size"), seed=Arg(0, "seed"),
      _allow_inf=True)


def _train_results():
    """Two training runs made by hand (no training), depth 1 and width 8: the inputs of the trained helpers."""
    rng = np.random.default_rng(0)
    out = []
    for seed in range(2):
        config = train.TrainConfig(L=1, width=8, steps=10, checkpoints=2, seed=seed)
        steps = np.array(config.checkpoint_steps())
        out.append(train.TrainResult(config, pd.DataFrame({"step": steps, "train_loss": [1.0, 0.5], "test_loss": 0.7}),
                                     steps, rng.standard_t(1.5, (2, 1, 8, 8)), rng.standard_normal((2, 1, 8))))
    return out


def _tails_valid(kwargs, out):
    """The power-law fit is NaN at the checkpoints where it is not made, seconds where a run was not timed
    (documented); the Hill indices are numbers."""
    assert len(out) and np.isfinite(out["hill_alpha"]).all() and np.isfinite(out["hill_offdiag"]).all()


def _reference_valid(kwargs, out):
    """esd_alpha is NaN where too few eigenvalues are non-zero (documented); the rest is valid."""
    assert_valid(out.drop(columns="esd_alpha"), where="random_matrix_tails")


entry("trained.last_checkpoints", lambda results: trained.last_checkpoints(results).weights,
      results=Arg(_train_results(), "names"))
entry("trained.training_tails", trained.training_tails, results=Arg(_train_results(), "names"),
      tail_fraction=Arg(0.2, "real"), _check=_tails_valid, _examples=24)
entry("trained.random_matrix_tails", lambda laws, n_matrices, width, seed: trained.random_matrix_tails(
      laws, n_matrices, width, seed=seed), laws=Arg({"Cauchy": "cauchy"}, "mapping"), n_matrices=Arg(2, "size"),
      width=Arg(8, "size"), seed=Arg(0, "seed"), _check=_reference_valid, _examples=24)

# Kac-Rice
_KR_CFG = NetworkConfig(N=1, L=1, law="gaussian", activation="tanh")
entry("kacrice.kac_rice_estimate", lambda config, n_samples, seed, proposal: kacrice.kac_rice_estimate(
      config, n_samples, seed=seed, proposal=proposal, batch_size=64), config=Arg(_KR_CFG, "config"),
      n_samples=Arg(64, "size"), seed=Arg(0, "seed"), proposal=Arg("meanfield", "choice"), _examples=24,
      _allow_inf=True)
entry("kacrice.kac_rice_table", lambda configs, n_samples, seed: kacrice.kac_rice_table(
      configs, n_samples, seed=seed, progress=False, batch_size=64), configs=Arg([_KR_CFG], "names"),
      n_samples=Arg(64, "size"), seed=Arg(0, "seed"), _examples=18, _allow_inf=True)
entry("kacrice.ginibre_product_log_potential", kacrice.ginibre_product_log_potential, L=Arg(2, "size"),
      tau=Arg(2.0, "real"))
entry("kacrice.meanfield_fixed_variance", kacrice.meanfield_fixed_variance, config=Arg(GAUSS_CFG, "config"),
      tol=Arg(1e-10, "real"), max_iter=Arg(100, "count"))
entry("kacrice.layer_spectrum", lambda config, n_points: kacrice.layer_spectrum(config, n_points=n_points),
      config=Arg(GAUSS_CFG, "config"), n_points=Arg(20, "size"), _examples=18, _allow_inf=True)
entry("kacrice.spectral_route", lambda config, n_samples, seed: kacrice.spectral_route(
      config, n_samples, seed=seed, n_grid=5, n_t=8, batch_size=16), config=Arg(GAUSS_CFG, "config"),
      n_samples=Arg(16, "size"), seed=Arg(0, "seed"), _examples=18, _allow_inf=True)
entry("kacrice.complexity", lambda config, n_grid: kacrice.complexity(config, n_grid=n_grid),
      config=Arg(GAUSS_CFG, "config"), n_grid=Arg(5, "size"), _examples=12, _allow_inf=True)


# the theory layer (fpkit.theory): what the chapters reach through spectra, meanfield and kacrice is fuzzed there
# (the same objects); here the rest of each module's public names
_CAUCHY_CFG = NetworkConfig(N=2, L=2, law="cauchy", scale=2.0, activation="tanh")
entry("quadrature.gaussian_expectation", lambda f, mean, variance, kinks, tol: quadrature.gaussian_expectation(
      f, mean, variance, kinks=kinks, tol=tol), f=Arg(np.tanh, "callable"),
      mean=Arg(0.3, "array", extra=st.sampled_from([np.array([-1e3, 0.0, 1e3]), 1e150])),
      variance=Arg(2.0, "array", extra=st.sampled_from([0.0, np.array([0.0, 1e-300, 1e300]), 5e-324])),
      kinks=Arg((0.0,), "array"), tol=Arg(1e-8, "real"), _examples=40)
entry("quadrature.cauchy_expectation", lambda f, scale, kinks, tol: quadrature.cauchy_expectation(
      f, scale, kinks=kinks, tol=tol), f=Arg(np.tanh, "callable", extra=st.sampled_from([np.abs, np.exp, np.cos])),
      scale=Arg(2.0, "array", extra=st.sampled_from([0.0, np.array([0.0, 1e-300, 1e300]), 5e-324])),
      kinks=Arg((0.0,), "array"), tol=Arg(1e-8, "real"), _examples=40)
entry("lengthmap.activation_functions", lambda phi, argument: lengthmap.activation_functions(
      phi, argument=argument).value(np.linspace(-2.0, 2.0, 5)), phi=Arg("tanh", "phi", extra=st.sampled_from(
      [np.sin, activations.get_activation("erf")])), argument=Arg("phi", "choice", names=("argument", "phi")))
entry("lengthmap.gaussian_weight_scales", lengthmap.gaussian_weight_scales, config=Arg(GAUSS_CFG, "config"))
entry("lengthmap.cauchy_weight_scales", lengthmap.cauchy_weight_scales, config=Arg(_CAUCHY_CFG, "config"))
entry("lengthmap.uniform_input_moments", lengthmap.uniform_input_moments, activation=Arg("logistic", "phi"))
entry("lengthmap.length_map", lengthmap.length_map, activation=Arg("tanh", "phi", extra=st.sampled_from(
      ["relu", "exp", "sin", "identity"])), q=Arg(np.array([0.5, 2.0]), "array", extra=st.sampled_from(
      [0.0, 1e300, np.array([0.0, 1e-300, 1e308])])), sigma_w=Arg(1.5, "real", extra=st.floats(0.0, 1e150)),
      sigma_b=Arg(0.1, "real"), _examples=40)
entry("lengthmap.chi_1", lengthmap.chi_1, activation=Arg("erf", "phi", extra=st.sampled_from(
      ["relu", "exp", "identity", "selu"])), q=Arg(1.2, "array", extra=st.sampled_from([0.0, 1e300, 5e-324])),
      sigma_w=Arg(2.0, "real", extra=st.floats(0.0, 1e150)), _examples=40)
entry("lengthmap.length_map_fixed_point", lambda activation, sigma_w, sigma_b, q0, tol, max_iter:
      lengthmap.length_map_fixed_point(activation, sigma_w, sigma_b, q0=q0, tol=tol, max_iter=max_iter),
      activation=Arg("tanh", "phi", extra=st.sampled_from(["relu", "exp", "erf"])),
      sigma_w=Arg(2.0, "real", extra=st.floats(0.0, 1e150)), sigma_b=Arg(0.2, "real"),
      q0=Arg(1.0, "real", extra=st.sampled_from([1e-300, 1e300])), tol=Arg(1e-10, "real"), max_iter=Arg(50, "count"),
      _examples=40)
entry("lengthmap.cauchy_scale_map", lengthmap.cauchy_scale_map, activation=Arg("tanh", "phi"),
      gamma=Arg(np.array([0.3, 3.0]), "array", extra=st.sampled_from([0.0, 1e300, np.array([0.0, 5e-324])])),
      s=Arg(2.0, "real", extra=st.floats(0.0, 1e300)), beta=Arg(0.5, "real", extra=st.floats(0.0, 1e300)),
      _examples=40)
entry("lengthmap.self_consistent_points", lambda config, n_networks, n_points, seed: lengthmap.self_consistent_points(
      config, n_networks, n_points, seed=seed), config=Arg(_CAUCHY_CFG, "config"), n_networks=Arg(2, "size"),
      n_points=Arg(3, "size"), seed=Arg(0, "seed"))
_D2 = free.gaussian_d2_atoms("tanh", 1.0)


def _log_radius(kwargs, out):
    """NaN (documented) only where t is at or below the atom at 0; log r increases with t; no inf."""
    t = np.asarray(kwargs["t"], dtype=float)
    atom = max(float(np.sum(np.asarray(p) * (np.asarray(vals) == 0))) for vals, p in kwargs["layers"])
    assert out.shape[-1] == t.size and not np.isinf(out).any()
    assert not np.isnan(out[..., t > atom + 1e-9]).any()
    ok = out[..., ~np.isnan(out).any(axis=tuple(range(out.ndim - 1)))]
    assert np.all(np.diff(ok, axis=-1) >= -1e-9)


entry("free.haagerup_larsen_log_radius", free.haagerup_larsen_log_radius,
      sigma_w2=Arg([2.0, 1.0], "array", extra=st.sampled_from([[1e-300, 1e300], [1.0, 1.0]])),
      layers=Arg([_D2, _D2], "array", extra=st.sampled_from([[_D2, (np.array([0.0, 1.0]), np.array([0.5, 0.5]))],
                                                              [(1.0, 1.0), (2.0, 1.0)], [_D2], [(1.0,), _D2]])),
      t=Arg(np.array([0.2, 0.5, 0.9]), "array", extra=st.sampled_from([np.array([1e-300, 0.999999999]),
                                                                         np.array([0.1])])), _check=_log_radius)
_FREE_TANH = spectra.FreeJacobianLaw.from_config(GAUSS_CFG)
entry("free.FreeJacobianLaw.radial_quantile", _FREE_TANH.radial_quantile,
      t=Arg(np.array([0.0, 0.2, 1.0]), "array", extra=st.sampled_from([5e-324, 1.0 - 1e-16])), _examples=24)
entry("free.FreeJacobianLaw.log_potential", _FREE_TANH.log_potential, z=Arg(1.0, "real",
      extra=st.sampled_from([1e-300, 1e300, 0.5])), nodes=Arg(16, "count", extra=st.sampled_from([4, 200])),
      _examples=24)
_KR_GAUSS = NetworkConfig(N=2, L=2, law="gaussian", scale=1.5, activation="tanh")


def _stable_estimate(kwargs, est):
    """tail_index is inf where fewer than 20 scores are positive (documented); every other number is finite,
    the estimate and its error non-negative, one score per sample."""
    assert isinstance(est, kac_rice.StableFixedPointsEstimate) and est.scores.shape == (est.n_samples,)
    assert_valid(dataclasses.replace(est, tail_index=0.0), where="mean_stable_fixed_points")
    assert not math.isnan(est.tail_index) and est.q_stable >= 0 and est.q_stable_se >= 0
    assert est.n_samples <= max(kwargs["max_samples"], kwargs["pilot_samples"]) or kwargs["n_samples"] is not None


entry("kac_rice.mean_stable_fixed_points", lambda config, seed, standard_error, n_samples, pilot_samples, max_samples,
      proposal, conditioning, batch_size, progress: kac_rice.mean_stable_fixed_points(
          config, seed=seed, standard_error=standard_error, n_samples=n_samples, pilot_samples=pilot_samples,
          max_samples=max_samples, proposal=proposal, conditioning=conditioning, batch_size=batch_size,
          progress=progress),
      config=Arg(_KR_CFG, "config", extra=st.sampled_from([_CAUCHY_CFG, _KR_GAUSS])), seed=Arg(0, "seed"),
      standard_error=Arg(0.5, "real", extra=st.sampled_from([1e-300, 1e300])), n_samples=Arg(None, "size"),
      pilot_samples=Arg(16, "size"), max_samples=Arg(64, "size", extra=st.sampled_from([2, 10**9])),
      proposal=Arg("image", "choice", extra=st.sampled_from(list(kac_rice_sampling.PROPOSALS))),
      conditioning=Arg("exact", "choice", extra=st.just("mixture")), batch_size=Arg(None, "size"),
      progress=Arg(False, "bool"), _check=_stable_estimate, _examples=40)
entry("kac_rice.score_tail", kac_rice.score_tail, scores=Arg(np.random.default_rng(0).pareto(2.5, 40), "array",
      extra=st.sampled_from([np.zeros(30), np.full(30, 1e300), np.array([0.0, 5e-324]), np.arange(2.0)])),
      _allow_inf=True)
entry("kac_rice.default_batch_size", kac_rice.default_batch_size, config=Arg(GAUSS_CFG, "config",
      extra=st.sampled_from([NetworkConfig(N=10**4, L=10**6)])))
entry("kac_rice_sampling.check_kac_rice_config", kac_rice_sampling.check_kac_rice_config, config=Arg(
      _CAUCHY_CFG, "config", extra=st.sampled_from([CFG.replace(law="alpha_stable", alpha=1.5),
                                                    CFG.replace(bias_law="alpha_stable")])))
entry("kac_rice_sampling.seed_sequence", lambda seed: kac_rice_sampling.seed_sequence(seed).generate_state(2),
      seed=Arg(0, "seed"))


def _batch_seeds(seed, config, n_samples, batch_size):
    pilot, batches = kac_rice_sampling.batch_seeds(seed, config, n_samples, batch_size)
    first = list(itertools.islice(batches, 3))
    assert len(first) == min(3, math.ceil(n_samples / batch_size))
    assert [s.spawn_key for s in first] == [(k,) for k in range(1, len(first) + 1)] and pilot.spawn_key == (0,)
    return pilot.generate_state(2)


entry("kac_rice_sampling.batch_seeds", _batch_seeds, seed=Arg(0, "seed"), config=Arg(_KR_CFG, "config"),
      n_samples=Arg(10, "size", extra=st.integers(1, 10**6)), batch_size=Arg(4, "size", extra=st.integers(1, 10**6)))
entry("kac_rice_sampling.scale_bounds", kac_rice_sampling.scale_bounds, config=Arg(_CAUCHY_CFG, "config",
      extra=st.sampled_from([_CAUCHY_CFG.replace(scale=1e300), _CAUCHY_CFG.replace(scale=1e-300, bias_law=None),
                             _KR_GAUSS.replace(law="student_t", df=0.5)])))
entry("kac_rice_sampling.pilot_scales", lambda config, rng, n_components, at_images: kac_rice_sampling.pilot_scales(
      config, rng, n_components, at_images=at_images), config=Arg(_CAUCHY_CFG, "config", extra=st.sampled_from(
      [_CAUCHY_CFG.replace(scale=1e100), _KR_GAUSS.replace(scale=1e-100, bias_law=None)])),
      rng=Arg(np.random.default_rng(0), "module"), n_components=Arg(4, "size"), at_images=Arg(True, "bool"),
      _examples=30)
_PHI = activations.get_activation("tanh")
entry("kac_rice_sampling.KacRiceProposal", lambda kind, activation, scales, heavy: kac_rice_sampling.KacRiceProposal(
      kind, activation, scales, heavy).scales, kind=Arg("meanfield", "choice"), activation=Arg(_PHI, "phi"),
      scales=Arg(np.array([0.5, 2.0]), "array", extra=st.sampled_from([np.array([1e-300]), np.array([1e150])])),
      heavy=Arg(True, "bool"))
for _kind in kac_rice_sampling.PROPOSALS:
    _PROP = kac_rice_sampling.KacRiceProposal(_kind, _PHI, [0.5, 2.0], True)
    entry(f"kac_rice_sampling.KacRiceProposal.sample[{_kind}]", lambda rng, shape, _p=_PROP: _p.sample(rng, shape),
          rng=Arg(np.random.default_rng(0), "module"), shape=Arg((3, 2), "shape"), _examples=24)
    entry(f"kac_rice_sampling.KacRiceProposal.logpdf[{_kind}]", _PROP.logpdf, u=Arg(np.zeros((3, 2)), "array",
          shape=(3, 2), extra=st.sampled_from([np.full((1, 2), 1e300), np.full((2, 2), 5e-324)])), _allow_inf=True,
          _examples=24)


def _split_sums_to_total(kwargs, out):
    """Where a row's total is finite and its scales positive, the parts add up to the total (to rounding)."""
    gam, total = np.asarray(kwargs["gam"], dtype=float), np.asarray(kwargs["total"], dtype=float)
    assert out.shape == gam.shape and np.isfinite(out).all() and np.all(out[gam == 0] == 0)
    scale = np.maximum(np.abs(total), np.abs(out).max(axis=-1, initial=0.0))
    assert np.all(np.abs(out.sum(axis=-1) - total) <= 1e-12 * np.maximum(scale, 1e-300))


entry("kac_rice_sampling.split_cauchy_sum", kac_rice_sampling.split_cauchy_sum,
      gam=Arg(np.array([[1.0, 0.5, 0.0], [2.0, 1e-300, 1e300]]), "array", shape=(2, 3)),
      total=Arg(np.array([0.3, -4.0]), "array", shape=(2,), extra=st.sampled_from([np.array([1e300, -1e-300])])),
      rng=Arg(np.random.default_rng(0), "module"), _check=_split_sums_to_total)


def _conditioned(kwargs, out):
    """W y + b = u is what was drawn: the weights are finite; the log weight is -inf at worst (a density of 0)."""
    W, log_w = out
    y = np.asarray(kwargs["y"], dtype=float)
    assert W.shape == (y.shape[0], y.shape[1], y.shape[1]) and log_w.shape == (y.shape[0],)
    assert np.isfinite(W).all() and not np.isnan(log_w).any() and not np.isposinf(log_w).any()


_Y = np.random.default_rng(4).uniform(-1.0, 1.0, (3, 2))
entry("kac_rice_sampling.condition_last_layer", kac_rice_sampling.condition_last_layer,
      config=Arg(_CAUCHY_CFG, "config", extra=st.sampled_from([_KR_GAUSS.replace(N=2, law="student_t", df=0.5),
                                                               _CAUCHY_CFG.replace(scale=1e140),
                                                               _CAUCHY_CFG.replace(bias_law=None)])),
      y=Arg(_Y, "array", shape=(3, 2), extra=st.sampled_from([np.zeros((3, 2)), np.full((1, 2), 1e-300)])),
      u=Arg(3.0 * _Y, "array", shape=(3, 2), extra=st.sampled_from([np.full((3, 2), 1e300), np.zeros((0, 2))])),
      rng=Arg(np.random.default_rng(0), "module"), exact=Arg(True, "bool", extra=st.just(False)), _check=_conditioned,
      _examples=40)
_LAYER = kacrice.layer_spectrum(GAUSS_CFG, n_points=20)
entry("spectral_route.LayerSpectrum.log_potential", _LAYER.log_potential, L=Arg(3, "size",
      extra=st.integers(1, 10**12)))
entry("kacrice.mean_stable_fixed_points", lambda config, n_samples: kacrice.mean_stable_fixed_points(
      config, seed=0, n_samples=n_samples, batch_size=16), config=Arg(_KR_CFG, "config"), n_samples=Arg(32, "size"),
      _examples=18)
_KR_TMP = tempfile.mkdtemp(prefix="fpkit-fuzz-kacrice-")
_KR_DESC = kacrice.KacRiceCache.make_key({"config": _KR_CFG.as_dict(), "settings": {"n_samples": 64, "seed": 0}})[1]
_KR_ROW = kacrice.kac_rice_table([_KR_CFG], 64, seed=0, progress=False, batch_size=64)
entry("kacrice.KacRiceCache", lambda directory: kacrice.KacRiceCache(directory), directory=Arg(
      _KR_TMP, "path", names=("cache_dir",)))
entry("kacrice.KacRiceCache.load", lambda key, desc: kacrice.KacRiceCache(_KR_TMP).load(key, desc),
      key=Arg("0" * 32, "choice"), desc=Arg(None, "path"))
entry("kacrice.KacRiceCache.store", lambda key, desc, table: kacrice.KacRiceCache(_KR_TMP).store(key, desc, table),
      key=Arg("2" * 32, "choice"), desc=Arg(_KR_DESC, "path"), table=Arg(_KR_ROW, "columns"))

# spectra and meanfield: the chapters' helpers
entry("spectra.linear_network_jacobians", lambda L, N, n_networks, sigma_w, seed: spectra.linear_network_jacobians(
      L, N, n_networks, sigma_w=sigma_w, seed=seed), L=Arg(3, "size", extra=st.integers(1, 1000)),
      N=Arg(2, "size"), n_networks=Arg(2, "size"), sigma_w=Arg(1.3, "real", extra=st.floats(1e-300, 1e300)),
      seed=Arg(0, "seed"), _examples=40)
entry("spectra.empirical_log_potential", spectra.empirical_log_potential, spectrum=Arg(_SPEC_DATA, "result",
      extra=st.builds(spectra.JacobianSpectrum, arrays((2, 3, 2)), st.just(_SPEC_DATA.sv2))),
      z=Arg(1.0, "real"), _allow_inf=True)
entry("spectra.random_input_spectrum", lambda config, n_networks, n_points, seed: spectra.random_input_spectrum(
      config, n_networks, n_points, seed=seed), config=Arg(CFG, "config"), n_networks=Arg(2, "size"),
      n_points=Arg(3, "size"), seed=Arg(0, "seed"))
entry("meanfield.kernel_ode", meanfield.kernel_ode, kappa=Arg(_KAPPA, "callable", extra=st.sampled_from(
      [lambda r: 0.5 + 0.5 * r, lambda r: 2.0 * r, lambda r: r**3])), rho0=Arg(0.5, "real"),
      t=Arg(np.linspace(0.0, 5.0, 4), "array", extra=st.sampled_from([np.array([0.0]), np.array([0.0, 1e300]),
                                                                       np.array([0.0, 5e-324, 1.0])])), _examples=30)

# the cache layer (fpkit.cache); its subclasses' entries are those of the sweep, the Kac-Rice tables and training
entry("cache.describe", cache.describe, description=Arg({"a": 1, "b": [1.5, "x"]}, "mapping", extra=st.sampled_from(
      [{"x": NAN}, {"x": object()}, {"x": {"y": [INF, None]}}, {3: "int key"}])))
entry("cache.check_table", lambda table, rows, columns, constants, counts: cache.check_table(
      table, rows=rows, columns=columns, constants=constants, counts=counts), table=Arg(TABLE, "columns"),
      rows=Arg(6, "size"), columns=Arg(["L", "Q"], "names"), constants=Arg(None, "mapping"),
      counts=Arg(["L"], "names"), _allowed=())
entry("cache.check_arrays", cache.check_arrays, arrays=Arg({"x": np.zeros((2, 3))}, "mapping"),
      shapes=Arg({"x": (2, -1)}, "mapping"))
entry("cache.check_fields", cache.check_fields, fields=Arg({"n": 3, "name": "a"}, "mapping"),
      required=Arg({"n": int, "name": (str,)}, "mapping"))
_CACHE_TMP = tempfile.mkdtemp(prefix="fpkit-fuzz-cache-")
for _cls in (cache.DiskCache, cache.TableCache, cache.ArrayCache):
    entry(f"cache.{_cls.__name__}", lambda directory, what, _cls=_cls: _cls(directory, what=what).directory,
          directory=Arg(_CACHE_TMP, "path", names=("cache_dir",)), what=Arg("cache_dir", "choice"))
_T_KEY, _T_DESC = cache.TableCache.make_key({"x": 1}, code="fuzz")
entry("cache.TableCache.store", lambda key, desc, table: cache.TableCache(_CACHE_TMP).store(key, desc, table),
      key=Arg(_T_KEY, "choice"), desc=Arg(_T_DESC, "path"), table=Arg(TABLE, "columns"))
_T_ABSENT = cache.TableCache.make_key({"x": 2}, code="fuzz")  # (the store entries write _T_KEY)
entry("cache.TableCache.load", lambda key, desc: cache.TableCache(_CACHE_TMP).load(key, desc),
      key=Arg(_T_ABSENT[0], "choice"), desc=Arg(_T_ABSENT[1], "path"))
entry("cache.ArrayCache.store", lambda key, desc, value: cache.ArrayCache(_CACHE_TMP).store(
      key, desc, cache.ArrayRecord(value, {"n": 1})), key=Arg(_T_KEY, "choice"), desc=Arg(_T_DESC, "path"),
      value=Arg({"x": np.zeros(3)}, "mapping", names=("arrays", "value"), extra=st.sampled_from(
          [{"meta": np.zeros(2)}, {"x": np.array([object()])}, {"x": np.array(["a"])}, {}])))
entry("cache.ArrayCache.load", lambda key, desc: cache.ArrayCache(_CACHE_TMP).load(key, desc),
      key=Arg(_T_ABSENT[0], "choice"), desc=Arg(_T_ABSENT[1], "path"))

# training (argument checks; the training itself is tested in tests/test_train.py)
entry("train.digit_pixel_range", train.digit_pixel_range, activation=Arg("tanh", "phi"))
entry("train.digits", lambda activation, test_fraction, seed, width: train.digits(
      activation, test_fraction=test_fraction, seed=seed, width=width), activation=Arg("tanh", "phi"),
      test_fraction=Arg(0.25, "real"), seed=Arg(0, "seed"), width=Arg(64, "size"), _examples=24)
entry("train.TrainConfig", lambda L, steps, lr, batch_size, optimizer: train.TrainConfig(
      L=L, steps=steps, lr=lr, batch_size=batch_size, optimizer=optimizer), L=Arg(2, "size"), steps=Arg(10, "count"),
      lr=Arg(1e-3, "real"), batch_size=Arg(8, "size"), optimizer=Arg("adam", "choice"))


# cli
def _info(out, err):
    return cli.info(out, err)


entry("cli.info", _info, out=Arg(io.StringIO(), "path"), err=Arg(io.StringIO(), "path"), _allowed=(SystemExit,),
      _examples=12)
entry("cli.load_sweep_spec", cli.load_sweep_spec, path=Arg("/nonexistent.yaml", "path"), _allowed=(OSError,),
      _examples=15)
entry("cli.sweep", lambda config_file, out_dir: cli.sweep(config_file, out_dir, progress=False),
      config_file=Arg("/nonexistent.yaml", "path", names=("path",)), out_dir=Arg("/tmp", "path"),
      _allowed=(OSError,), _examples=15)
entry("cli.main", lambda argv: cli.main(argv), argv=Arg(["--help"], "names"), _allowed=(SystemExit,), _examples=30)

_SPEC = {"base": {"N": 2, "activation": "tanh"}, "axes": {"L": [1]}, "n_networks": 2, "n_starts": 3, "seed": 0,
         "seeding": "uniform", "chunk": 1, "engine": {"max_iter": 20}}
_yaml_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(), st.text(max_size=5),
                         st.lists(st.integers(-2, 3), max_size=3),
                         st.dictionaries(st.sampled_from(["L", "N", "", "max_iter", "x"]), st.integers(-1, 2),
                                         max_size=2))


def _load_spec(**changed):
    import yaml

    spec = {**_SPEC, **changed}
    path = f"{_TMP}/fuzz.yaml"
    with open(path, "w") as fh:
        fh.write(yaml.safe_dump(spec))
    return cli.load_sweep_spec(path)


_FIELD = ("field", "configuration")
entry("cli.load_sweep_spec[file content]", _load_spec,
      **{k: Arg(v, "yaml", names=(*_FIELD, "L", "N", "activation", "max_iter", "engine",
                                                        "x", "''", "n_starts", "seeding", "YAML")
                if k in ("base", "axes", "engine") else ("YAML",))
         for k, v in _SPEC.items()}, _examples=80)


# --------------------------------------------------------------------------- the properties


def _strategy(arg: Arg) -> st.SearchStrategy:
    bad = KINDS[arg.kind](arg)
    return st.one_of(bad, arg.extra) if arg.extra is not None else bad


#: Entries whose defects lie in a module this branch does not own: fpkit/cache.py does not check the arguments of
#: its sense-check helpers (check_table(constants="abc") is an AttributeError, counts=[0] a KeyError,
#: check_arrays(None, ...) and check_fields(None, ...) bare TypeErrors), nor ArrayRecord.arrays (an
#: AttributeError), and TableCache.store fails on a table with a column name twice (AttributeError: 'DataFrame'
#: object has no attribute 'dtype'; SweepCache and KacRiceCache check for it themselves). Fixed by
#: shared/handoff/follow-cache-fixes.patch, which also empties this tuple (not strict: whether the examples hit
#: a defect depends on hypothesis's draws).
CACHE_DEFECTS = ("cache.check_table", "cache.check_arrays", "cache.check_fields", "cache.ArrayCache.store",
                 "cache.TableCache.store")


def _params(entries):
    mark = pytest.mark.xfail(reason="a defect of fpkit/cache.py (see CACHE_DEFECTS)", strict=False)
    return [pytest.param(e, marks=mark) if e.name in CACHE_DEFECTS else e for e in entries]


@pytest.mark.parametrize("ent", _params(ENTRIES), ids=[e.name for e in ENTRIES])
def test_bad_and_extreme_inputs(ent: Entry):
    """One argument replaced by a generated bad or extreme value: a named error, or a valid result."""

    @settings(max_examples=ent.examples, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def prop(data):
        name = data.draw(st.sampled_from(sorted(k for k, a in ent.args.items() if a.kind != "fixed")),
                         label="argument")
        value = data.draw(_strategy(ent.args[name]), label=name)
        _run(ent, name, value)

    prop()


# --------------------------------------------------------------------------- cache faults


def _cache_file(kind: str, directory: str):
    """(cache, key, desc, value): one valid entry of a sweep, Kac-Rice, table or array cache, stored."""
    if kind == "sweep":
        cache, (key, desc), value = sweep.SweepCache(directory), sweep.SweepCache.key(CFG, {}), SWEEP_TABLE
    elif kind == "Kac-Rice":
        cache, value = kacrice.KacRiceCache(directory), _KR_ROW
        key, desc = cache.make_key({"config": _KR_CFG.as_dict(), "settings": {"n_samples": 64, "seed": 0}})
    elif kind == "table":
        cache, value = cache_mod.TableCache(directory), TABLE
        key, desc = cache.make_key({"x": 1}, code="fuzz")
    else:
        cache, value = cache_mod.ArrayCache(directory), cache_mod.ArrayRecord({"x": np.arange(3.0)}, {"n": 1})
        key, desc = cache.make_key({"x": 1}, code="fuzz")
    cache.store(key, desc, value)
    return cache, key, desc, value


cache_mod = cache
FAULTS = ("truncate", "flip", "append", "empty", "forge", "other key", "other versions")


@settings(max_examples=80, deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(["sweep", "Kac-Rice", "table", "array"]), fault=st.sampled_from(FAULTS),
       where=st.floats(0.0, 1.0), byte=st.integers(1, 255), damage=st.sampled_from(DAMAGE), column=st.integers(0, 40))
def test_damaged_and_forged_cache_files(kind, fault, where, byte, damage, column):
    """A cache file damaged on disk (truncated, a flipped byte, junk appended, emptied), stored under another key or
    by other library versions, or forged with a valid checksum around a damaged table: load never raises; a damaged,
    misplaced or foreign file is reported (a warning naming it) and counts as absent; a forged table is used only if
    it makes sense for its key (its validate passes) and then exactly as written."""
    COUNTS["faults"] += 1
    with tempfile.TemporaryDirectory(prefix="fpkit-fuzz-faults-") as directory:
        cache, key, desc, value = _cache_file(kind, directory)
        path = cache.path(key)
        blob = path.read_bytes()
        forged = None
        if fault == "truncate":
            path.write_bytes(blob[: int(where * (len(blob) - 1))])
        elif fault == "flip":
            i = int(where * (len(blob) - 1))
            path.write_bytes(blob[:i] + bytes([blob[i] ^ byte]) + blob[i + 1:])
        elif fault == "append":
            path.write_bytes(blob + bytes([byte]) * (1 + int(where * 8)))
        elif fault == "empty":
            path.write_bytes(b"")
        elif fault == "other key":  # a valid file copied under the name of another key
            other, _ = cache.make_key({"other": where}, code="fuzz")
            path = cache.path(other)
            path.write_bytes(blob)
            key = other
        elif fault == "other versions":
            header, stored = cache.decode(blob)
            header = {k: header[k] for k in ("format", "key", "description")}
            path.write_bytes(cache.encode({**header, "versions": {**cache.versions(), "numpy": "0.0"}}, stored))
        elif kind == "array":  # forge: another record (arrays of other names or shapes, other fields), checksummed
            header, _ = cache.decode(blob)
            arrays = {"x": np.arange(3.0)[: int(where * 3)]} if damage == "missing" else {"y": np.zeros(2)}
            forged = cache_mod.ArrayRecord(arrays, {"n": "x"} if damage == "text" else {})
            header = {k: header[k] for k in ("format", "key", "description", "versions")}
            path.write_bytes(cache.encode(header, forged))
        else:  # forge: a table with one column-level damage, behind a valid checksum
            forged = _damage(value, damage, list(value.columns)[column % len(value.columns)])
            header, _ = cache.decode(blob)
            header = {k: header[k] for k in ("format", "key", "description", "versions")}
            try:
                path.write_bytes(cache.encode(header, forged))
            except (TypeError, ValueError):  # a table the format cannot hold (complex numbers, a name twice)
                return
            except AttributeError:  # a name twice: TableCache.encode's defect (CACHE_DEFECTS), refused by store()
                assert damage == "duplicate"
                return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = cache.load(key, desc if fault != "other key" else None)
        messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        if forged is None:  # damaged, misplaced or foreign: reported and absent ...
            if loaded is not None:  # ... unless the bytes changed carry nothing (a zip header's time stamp, a zip
                assert kind == "array" and fault in ("flip", "append"), fault  # file's trailing bytes)
                assert loaded.fields == value.fields and all(np.array_equal(loaded.arrays[k], a)
                                                              for k, a in value.arrays.items())
                return
            assert any(str(path) in m for m in messages), (fault, messages)
            return
        if loaded is None:
            assert any(str(path) in m and "does not fit its key" in m for m in messages), messages
            return
        cache.validate(loaded, json.loads(desc))  # accepted: sensible for its key ...
        if kind == "array":
            assert set(loaded.arrays) == set(forged.arrays)
        else:  # ... and exactly what was written
            pd.testing.assert_frame_equal(loaded.reset_index(drop=True), forged.reset_index(drop=True),
                                          check_dtype=False, check_exact=True)


_LAWS = st.one_of(
    st.just({"law": "gaussian"}), st.just({"law": "cauchy"}),
    st.builds(lambda d: {"law": "student_t", "df": d}, st.sampled_from([0.1, 0.5, 2.0, 30.0])),
    st.builds(lambda a: {"law": "alpha_stable", "alpha": a}, st.sampled_from([0.1, 0.3, 1.0, 1.7, 2.0])),
)


@settings(max_examples=60, deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
@given(law=_LAWS, scale=st.sampled_from([1e-300, 1e-10, 1.0, 10.0, 1e10, 1e300]),
       L=st.sampled_from([1, 2, 50, 1000]), N=st.integers(1, 3),
       activation=st.sampled_from(["logistic", "tanh", "erf", "algebraic"]),
       bias=st.sampled_from([None, "same"]), convention=st.sampled_from(["fan_in", "absolute"]),
       newton=st.booleans(), seed=st.integers(0, 2**32))
def test_engine_on_extreme_networks(law, scale, L, N, activation, bias, convention, newton, seed):
    """Scales 1e-300..1e300, depths up to 1000, the heaviest tails: a named refusal or a valid census."""
    COUNTS["cases"] += 1
    cfg = NetworkConfig(N=N, L=L, scale=scale, activation=activation, bias_law=bias, convention=convention, **law)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            ens = Ensemble.sample(cfg, 2, seed=seed)
        except ValueError as exc:
            assert "scale" in str(exc)  # weights beyond float64: the scale is named
            return
        res = engine.find_fixed_points(ens, n_starts=3, max_iter=20 if L > 100 else 200, newton=newton,
                                       newton_rounds=1, newton_starts=2, seed=seed)
        spec_x = res.x[:1][None] if res.x.size else None
        log_lip = network.log_lipschitz_bound(ens)
    assert_valid(res, allow_inf=True, where=f"find_fixed_points({cfg})")
    assert np.all(np.isfinite(res.x)) and np.all(np.isfinite(log_lip))
    low, high = ens.domain
    assert np.all((res.x >= low - 1e-12) & (res.x <= high + 1e-12))
    assert np.array_equal(res.stable, res.spectral_radius < 1)
    ok = res.fp_residual <= res.settings.polish_tol * 10 + 1e-9
    assert np.all(ok | (res.found_by == "iteration"))
    if spec_x is not None and res.fp_network[0] == 0:
        assert not np.isnan(ens.subset(0).jacobian_eigenvalues(spec_x)).any()


# --------------------------------------------------------------------------- coverage and the count

#: Public names that are not entry points: constants, exception classes, plain result containers,
#: private-use hooks; and the one public function that takes no argument but changes global state.
EXEMPT = {
    "BookTable", "GluedFigure", "Provenance",
    "ACTIVATIONS", "SIGMOID_ACTIVATIONS", "BACKENDS", "BackendUnavailableError", "CONVENTIONS", "LAWS",
    "MIN_TAIL_INDEX", "STATUS", "SEEDINGS", "MAX_GRID_STARTS", "CAUCHY_REGIME", "GAUSSIAN_REGIME",
    "CORRUPTIONS", "ENGINE_MODULES", "SWEEP_KEYS", "HillEstimate", "PowerLawFit", "JacobianSpectrum",
    "KernelMapInfo", "IterationResult", "FixedPoints", "chapter_setup", "Ensemble", "EngineSettings",
    "FreeJacobianLaw", "WeightLaw", "Activation", "SweepCache", "NetworkConfig", "__version__",
    "source_hash", "engine_hash",
    "Compaction", "SIMULATION_FAMILIES", "TAIL_MATCHINGS", "RegimeChoice", "PAIRED_ALTERNATIVES", "CONTROL_VARIANTS",
    "EXPLORATION_AXES", "MAX_TRIALS", "MAX_ABS_VALUE", "MIN_ALPHA", "KAC_RICE_LAWS", "PROPOSALS",
    "KacRiceEstimate", "LayerSpectrum", "SpectralRouteEstimate", "kac_rice_code_hash", "StableFixedPointsEstimate",
    # theory: a NamedTuple of the activation's functions (activation_functions, fuzzed above, makes and checks it)
    "ActivationFunctions",
    # cache: the record an ArrayCache stores (a plain container, checked by ArrayCache.store above)
    "ArrayRecord",
    # plain result containers (no checks of their own): filled and checked by continuation_search and
    # esd_power_law, whose entries above validate them
    "ContinuationResult", "ESDPowerLaw",
    # training: containers and constants; train, train_many, train_bottleneck, run_table, layer_statistics,
    # checkpoint_ensemble and RunCache run or read trainings and are checked in tests/test_train.py
    "Bottleneck", "DRAW_BLOCK", "EVAL_TRAIN", "OPTIMIZERS", "RunCache", "STATUSES", "TRAINING_MODULES",
    "TrainResult", "train", "train_many", "train_bottleneck", "run_table", "layer_statistics",
    "checkpoint_ensemble", "training_hash",
}
# fpkit.source_hash and sweep.engine_hash take no argument; Ensemble, EngineSettings, ... are covered
# through their constructors and methods above (entries named module.Class and module.Class.method).

MODULES = [activations, backend, sampling, network, engine, sweep, stats, regimes, selection, spectra, meanfield,
           restore, bench, plotting, cli, trained, kacrice, train, quadrature, lengthmap, free, cavity,
           kac_rice_sampling, kac_rice, spectral_route, cache]
MODULE_BY_NAME = {m.__name__.split(".")[-1]: m for m in MODULES}


def _public_functions():
    out = set()
    for mod in MODULES:
        short = mod.__name__.split(".")[-1]
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if name in EXEMPT or not callable(obj):
                continue
            out.add(f"{short}.{name}")
    for name in ("info", "load_sweep_spec", "sweep"):
        out.add(f"cli.{name}")
    return out


def test_every_engine_setting_is_fuzzed():
    """A new EngineSettings field gets a kind in _SETTING_KINDS (and so a fuzz of its constructor)."""
    assert set(EngineSettings.field_names()) == set(_SETTING_KINDS)


def test_every_public_name_is_covered():
    covered = {e.name.split("[")[0] for e in ENTRIES}
    covered |= {".".join(n.split(".")[:2]) for n in covered}
    objects = {}
    for name in _public_functions():
        mod, attr = name.split(".")
        objects.setdefault(id(getattr(MODULE_BY_NAME[mod], attr)), set()).add(name)
    missing = sorted(n for n in _public_functions() if n not in covered
                     and not (objects[id(getattr(MODULE_BY_NAME[n.split(".")[0]], n.split(".")[1]))] & covered))
    assert not missing, f"public entry points without a fuzz entry: {missing}"


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    import shutil

    shutil.rmtree(_TMP, ignore_errors=True)
    n_entries = len({e.name for e in ENTRIES})
    n_functions = len({e.name.split("[")[0] for e in ENTRIES})
    sys.stderr.write(f"\n[fuzz] {n_functions} distinct public functions and methods in {n_entries} entries "
                     f"(+ the engine on extreme networks), {COUNTS['cases']} generated cases "
                     f"({COUNTS['errors']} named errors, {COUNTS['results']} valid results), "
                     f"{COUNTS['faults']} damaged or forged cache files\n")
