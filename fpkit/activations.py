"""The one registry of activations: value, derivative, range, largest slope, torch op,
mean-field facts.

Every module of fpkit that needs an activation looks it up here (:func:`get_activation`): the
networks (:mod:`fpkit.network`), the mean-field kernel map (:mod:`fpkit.meanfield`), the spectra
(:mod:`fpkit.spectra`), training (:mod:`fpkit.train`) and the benchmarks (:mod:`fpkit.bench`).
Each name means one function everywhere:

========== ======================================== =============== ===========
name       phi(z)                                   range           max slope
========== ======================================== =============== ===========
logistic   1 / (1 + exp(-z))                        (0, 1)          1/4
tanh       tanh(z)                                  (-1, 1)         1
erf        erf(z)                                   (-1, 1)         2/sqrt(pi)
algebraic  z / sqrt(1 + z^2)                        (-1, 1)         1
identity   z                                        R               1
relu       max(z, 0)                                [0, inf)        1
leaky_relu z if z > 0 else 0.01 z                   R               1
elu        z if z > 0 else exp(z) - 1               (-1, inf)       1
celu       CELU with alpha = 1 (equals elu)         (-1, inf)       1
selu       SELU (Klambauer et al. 2017)             (-1.76, inf)    1.76
gelu       z Phi(z)                                 [-0.17, inf)    1.13
silu       z / (1 + exp(-z))                        [-0.28, inf)    1.10
softplus   log(1 + exp(z))                          (0, inf)        1
exp        exp(z)                                   (0, inf)        inf
sin        sin(z)                                   [-1, 1]         1
========== ======================================== =============== ===========

The first four are *sigmoid-type* (monotone and bounded): only these can define the
same-dimension networks of the book, because then F maps R^N into the box ``range**N`` and every
fixed point lies in it. The others serve the mean-field chapter.

Values and derivatives are evaluated stably for every finite input (no overflow warning, no NaN
for ``|z|`` up to the float64 maximum), on NumPy or CuPy arrays (``xp``), optionally into a
preallocated ``out`` array (the fixed-point engine's hot loop).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import _validate as v
from .theory.quadrature import gaussian_expectation

__all__ = ["ACTIVATIONS", "SIGMOID_ACTIVATIONS", "Activation", "get_activation"]

# Inputs beyond this magnitude are clipped before z**2 is formed: the algebraic sigmoid is
# then +-1 to within 1e-300 and z**2 cannot overflow.
_ALGEBRAIC_CLIP = 1e150
_ALGEBRAIC_CLIP32 = 1e18  # the same for float32 (z**2 <= 1e36 < 3.4e38)
_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
# SELU's value is _SELU_SCALE * z for z > 0: beyond this z it would exceed the float64 maximum, so z is
# clipped there (the value saturates at the float64 maximum instead of overflowing to inf with a warning).
_SELU_MAX_INPUT = float(np.finfo(np.float64).max) / _SELU_SCALE


def _special(xp):
    if _module(xp) is np:
        from scipy import special
    else:  # pragma: no cover - needs a GPU
        from cupyx.scipy import special  # type: ignore[import-not-found]
    return special


# ----------------------------------------------------------------------------- values


def _logistic(z, m, out):
    # exp(-|z|) never overflows; both branches are exact to rounding.
    e = m.exp(-m.abs(z))
    return m.divide(m.where(z >= 0, 1.0, e), 1.0 + e, out=out)


def _tanh(z, m, out):
    return m.tanh(z, out=out)


def _erf(z, m, out):
    return _special(m).erf(z, out=out) if out is not None else _special(m).erf(z)


def _algebraic(z, m, out):
    clip = _ALGEBRAIC_CLIP if str(z.dtype) == "float64" else _ALGEBRAIC_CLIP32
    zc = m.clip(z, -clip, clip)
    return m.divide(zc, m.sqrt(1.0 + zc * zc), out=out)


def _elu(z, m, a=1.0):
    return m.where(z > 0, z, a * m.expm1(m.minimum(z, 0.0)))


_VALUES: dict[str, Callable] = {
    "logistic": _logistic,
    "tanh": _tanh,
    "erf": _erf,
    "algebraic": _algebraic,
    "identity": lambda z, m, out: z.copy(),
    "relu": lambda z, m, out: m.maximum(z, 0.0, out=out),
    "leaky_relu": lambda z, m, out: m.where(z > 0, z, 0.01 * z),
    "elu": lambda z, m, out: _elu(z, m),
    "celu": lambda z, m, out: _elu(z, m),
    "selu": lambda z, m, out: _SELU_SCALE * _elu(m.minimum(z, _SELU_MAX_INPUT), m, _SELU_ALPHA),
    "gelu": lambda z, m, out: _gelu(m.maximum(z, -1e100), m),  # below -40 it is 0 to float64 anyway
    "silu": lambda z, m, out: m.clip(z, -1e300, 1e300) * _logistic(z, m, None),  # no inf * 0
    "softplus": lambda z, m, out: _quiet(m.logaddexp, 0.0, z),  # NaN in, NaN out, no warning
    "exp": lambda z, m, out: m.exp(m.minimum(z, 709.0)),
    "sin": lambda z, m, out: _quiet(m.sin, z, out=out),  # sin(+-inf) is NaN: it has no limit
}


def _gelu(z, m):
    return 0.5 * z * (1.0 + _special(m).erf(z / math.sqrt(2.0)))


def _quiet(f, *args, **kwargs):
    with np.errstate(invalid="ignore"):
        return f(*args, **kwargs)


def _d_logistic(z, m):
    e = m.exp(-m.abs(z))
    return e / (1.0 + e) ** 2


def _d_tanh(z, m):
    t = m.tanh(z)
    return 1.0 - t * t


def _d_erf(z, m):
    zc = m.clip(z, -1e100, 1e100)  # z*z cannot overflow; exp(-huge) is 0
    return (2.0 / math.sqrt(math.pi)) * m.exp(-zc * zc)


def _d_algebraic(z, m):
    zc = m.clip(z, -_ALGEBRAIC_CLIP, _ALGEBRAIC_CLIP)
    return (1.0 + zc * zc) ** -1.5


def _d_gelu(z, m):
    zc = m.clip(z, -1e100, 1e100)
    cdf = 0.5 * (1.0 + _special(m).erf(zc / math.sqrt(2.0)))
    return cdf + zc * m.exp(-0.5 * zc * zc) / math.sqrt(2.0 * math.pi)


def _d_silu(z, m):
    s = _logistic(z, m, None)
    return s + m.clip(z, -1e300, 1e300) * _d_logistic(z, m)


_DERIVATIVES: dict[str, Callable] = {
    "logistic": _d_logistic,
    "tanh": _d_tanh,
    "erf": _d_erf,
    "algebraic": _d_algebraic,
    "identity": lambda z, m: m.ones_like(z),
    "relu": lambda z, m: (z > 0).astype(z.dtype),
    "leaky_relu": lambda z, m: m.where(z > 0, 1.0, 0.01),
    "elu": lambda z, m: m.where(z > 0, 1.0, m.exp(m.minimum(z, 0.0))),
    "celu": lambda z, m: m.where(z > 0, 1.0, m.exp(m.minimum(z, 0.0))),
    "selu": lambda z, m: _SELU_SCALE * m.where(z > 0, 1.0, _SELU_ALPHA * m.exp(m.minimum(z, 0.0))),
    "gelu": _d_gelu,
    "silu": _d_silu,
    "softplus": lambda z, m: _logistic(z, m, None),
    "exp": lambda z, m: m.exp(m.minimum(z, 709.0)),
    "sin": lambda z, m: _quiet(m.cos, z),
}


_INVERSES: dict[str, Callable] = {
    "logistic": lambda x, m: m.log(x) - m.log1p(-x),
    "tanh": lambda x, m: m.arctanh(x),
    "erf": lambda x, m: _special(m).erfinv(x),
    "algebraic": lambda x, m: x / m.sqrt((1.0 - x) * (1.0 + x)),
}


def _torch_op(name: str) -> Callable:
    import torch

    ops = {
        "logistic": torch.sigmoid,
        "tanh": torch.tanh,
        "erf": torch.erf,
        "algebraic": lambda z: z / torch.sqrt(1.0 + z.clamp(-_ALGEBRAIC_CLIP, _ALGEBRAIC_CLIP) ** 2),
        "identity": lambda z: z,
        "relu": torch.relu,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
        "elu": torch.nn.functional.elu,
        "celu": torch.nn.functional.celu,
        "selu": torch.selu,
        "gelu": torch.nn.functional.gelu,
        "silu": torch.nn.functional.silu,
        "softplus": torch.nn.functional.softplus,
        "exp": torch.exp,
        "sin": torch.sin,
    }
    return ops[name]


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Activation:
    """One activation function and the facts fpkit uses about it.

    Attributes
    ----------
    name : str
        Its one name in fpkit (see the table in the module docstring).
    formula : str
        phi(z) in words.
    low : float
        The infimum of phi's values (-inf for activations unbounded below).
    high : float
        The supremum of phi's values (inf for activations unbounded above).
    sup_derivative : float
        The largest slope, sup over z of abs(phi'(z)) (a Lipschitz constant of phi).
    odd : bool
        phi(-z) = -phi(z), so its Gaussian mean is exactly 0 (kappa(0) = 0 in the mean-field map).
    kinks : tuple of float
        Points where phi is not differentiable (quadrature splits there).
    kappa_prime1_is_one : bool
        kappa'(1) = E[phi'^2] / E[phi^2] = 1 exactly (positively homogeneous activations, exp).
    """

    name: str
    formula: str
    low: float
    high: float
    sup_derivative: float
    odd: bool = False
    kinks: tuple[float, ...] = ()
    kappa_prime1_is_one: bool = False
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or self.name not in _VALUES:
            raise ValueError(f"name must be one of the implemented activations {tuple(_VALUES)}; got {self.name!r}")

    @property
    def sigmoid_type(self) -> bool:
        """True for the monotone bounded activations, the ones a same-dimension network may use
        (then F maps R^N into a box)."""
        return self.name in SIGMOID_ACTIVATIONS

    @property
    def range(self) -> tuple[float, float]:
        """``(low, high)``."""
        return self.low, self.high

    def value(self, z, xp=None, *, out=None):
        """phi(z) elementwise, stable for every finite z; written into ``out`` when given.

        ``z``: a real array (NumPy or CuPy; other real array-likes are converted to float64);
        NaN stays NaN. ``out``: a float64 array of z's shape on z's backend. For the sigmoid-type
        activations a float32 ``z`` is evaluated in float32 (``out`` then float32): the first stage
        of the engine's mixed precision.
        """
        dtype = "float64"
        if not (isinstance(z, np.ndarray) and z.dtype == np.float64):  # the common case costs one test
            if (str(getattr(z, "dtype", "")) == "float32" and type(z).__module__.split(".")[0] in ("numpy", "cupy")
                    and self.sigmoid_type):
                dtype = "float32"
            else:
                z = _as_real(z)
        m = _module(xp) if xp is not None else _module(_namespace(z))
        if out is not None and out is not z and (not hasattr(out, "shape") or tuple(out.shape) != tuple(z.shape)
                                                 or str(out.dtype) != dtype):
            raise ValueError(f"out must be a {dtype} array of z's shape {tuple(z.shape)}; got "
                             f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}")
        result = _VALUES[self.name](z, m, out)
        if out is not None and result is not out:
            m.copyto(out, result)
            return out
        return result

    def __call__(self, z, xp=None):
        return self.value(z, xp)

    def derivative(self, z, xp=None):
        """phi'(z) elementwise, stable (no overflow for ``|z|`` up to the float64 maximum)."""
        if not (isinstance(z, np.ndarray) and z.dtype == np.float64):
            z = _as_real(z)
        m = _module(xp) if xp is not None else _module(_namespace(z))
        return _DERIVATIVES[self.name](z, m)

    def inverse(self, x, xp=None):
        """phi^-1(x) for x inside the range of a sigmoid-type activation (ValueError for the others)."""
        if self.name not in _INVERSES:
            raise ValueError(f"activation {self.name!r} has no inverse here; the sigmoid-type ones do: "
                             f"{tuple(_INVERSES)}")
        m = _module(xp) if xp is not None else _module(_namespace(x))
        return _INVERSES[self.name](x, m)

    def torch(self, z):
        """The same function as a differentiable torch operation."""
        import torch

        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z must be a torch.Tensor; got {type(z).__name__}")
        if z.is_complex() or not z.is_floating_point():
            raise TypeError(f"z must be a real floating-point tensor; got {z.dtype}")
        return _torch_op(self.name)(z)

    def torch_derivative(self, z, value):
        """phi'(z) as a torch operation, from the pre-activation ``z`` and ``value = phi(z)`` (the
        sigmoid-type activations; what hand-written backpropagation needs)."""
        import torch

        if self.name == "tanh":
            return 1.0 - value * value
        if self.name == "logistic":
            return value * (1.0 - value)
        if self.name == "algebraic":
            return (1.0 - value * value) ** 1.5
        if self.name == "erf":
            return (2.0 / math.sqrt(math.pi)) * torch.exp(-z.clamp(-1e100, 1e100) ** 2)
        raise ValueError(f"torch_derivative is defined for the sigmoid-type activations {SIGMOID_ACTIVATIONS}; "
                         f"got {self.name!r}")

    def numpy(self, z):
        """phi on NumPy arrays or floats (what the mean-field quadratures call)."""
        if not (isinstance(z, np.ndarray) and z.dtype == np.float64):
            z = v.check_array(z, "z", finite=False)
        return _VALUES[self.name](z, np, None)

    def meanfield_normalization(self) -> float:
        """sqrt(E[phi(X)^2]) for X ~ N(0, 1): divide by it to get the mean-field-normalised phi."""
        if "norm" not in self._cache:
            m2, _ = gaussian_expectation(lambda x: self.numpy(x) ** 2, kinks=self.kinks)
            self._cache["norm"] = math.sqrt(m2)
        return self._cache["norm"]


def _namespace(z):
    from .backend import array_namespace

    return array_namespace(z)


def _module(xp):
    """The plain array module (numpy or cupy) behind an array-API namespace."""
    name = getattr(xp, "__name__", None)
    if not isinstance(name, str) or name.split(".")[0] not in ("numpy", "cupy", "array_api_compat"):
        raise TypeError(f"xp must be the numpy or cupy module (or their array-API namespace); got {xp!r:.60}")
    if "cupy" in name.split("."):
        import cupy  # type: ignore[import-not-found]

        return cupy
    return np


def _as_real(z):
    """z as a real float array on its backend: CuPy arrays stay on the GPU, anything else is checked."""
    if type(z).__module__.split(".")[0] == "cupy":  # pragma: no cover - GPU
        kind = z.dtype.kind
        if kind not in "biuf":
            raise TypeError(f"z must be a real array; got dtype {z.dtype}")
        return z if str(z.dtype) == "float64" else z.astype("float64")
    return v.check_array(z, "z", finite=False)  # float64 (float32 would overflow the clips)


_INF = math.inf
#: Every activation known to fpkit, by its one name.
ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("logistic", "1 / (1 + exp(-z))", 0.0, 1.0, 0.25),
        Activation("tanh", "tanh(z)", -1.0, 1.0, 1.0, odd=True),
        Activation("erf", "erf(z)", -1.0, 1.0, 2.0 / math.sqrt(math.pi), odd=True),
        Activation("algebraic", "z / sqrt(1 + z^2)", -1.0, 1.0, 1.0, odd=True),
        Activation("identity", "z", -_INF, _INF, 1.0, odd=True, kappa_prime1_is_one=True),
        Activation("relu", "max(z, 0)", 0.0, _INF, 1.0, kinks=(0.0,), kappa_prime1_is_one=True),
        Activation("leaky_relu", "z if z > 0 else 0.01 z", -_INF, _INF, 1.0, kinks=(0.0,),
                   kappa_prime1_is_one=True),
        Activation("elu", "z if z > 0 else exp(z) - 1", -1.0, _INF, 1.0, kinks=(0.0,)),
        Activation("celu", "CELU with alpha = 1 (equal to elu)", -1.0, _INF, 1.0, kinks=(0.0,)),
        Activation("selu", "SELU: 1.0507 (z if z > 0 else 1.6733 (exp(z) - 1))",
                   -_SELU_SCALE * _SELU_ALPHA, _INF, _SELU_SCALE * _SELU_ALPHA, kinks=(0.0,)),
        Activation("gelu", "z Phi(z), Phi the standard normal CDF", -0.16997120747940217, _INF, 1.1289041451825208),
        Activation("silu", "z / (1 + exp(-z))", -0.2784645427588263, _INF, 1.0998393201285284),
        Activation("softplus", "log(1 + exp(z))", 0.0, _INF, 1.0),
        Activation("exp", "exp(z)", 0.0, _INF, _INF, kappa_prime1_is_one=True),
        Activation("sin", "sin(z)", -1.0, 1.0, 1.0, odd=True),
    ]
}

#: The monotone bounded activations that can define a same-dimension network.
SIGMOID_ACTIVATIONS = ("logistic", "tanh", "erf", "algebraic")

_RENAMED = {"sigmoid": "logistic", "expit": "logistic", "swish": "silu", "linear": "identity"}


def get_activation(name: str | Activation, *, sigmoid_type: bool = False, argument: str = "activation") -> Activation:
    """Look up an activation by its name (one of :data:`ACTIVATIONS`).

    Parameters
    ----------
    name : str or Activation
    sigmoid_type : bool
        Only accept the monotone bounded activations of :data:`SIGMOID_ACTIVATIONS` (networks).
    argument : str
        The argument name used in error messages.
    """
    if not isinstance(argument, str) or not argument:
        raise TypeError(f"argument must be a non-empty str (the name used in error messages); got {argument!r:.40}")
    sigmoid_type = v.check_bool(sigmoid_type, "sigmoid_type")
    if isinstance(name, Activation):
        act = name
    else:
        if not isinstance(name, str):
            raise TypeError(f"{argument} must be a str, one of {tuple(ACTIVATIONS)}; got {type(name).__name__}")
        if name in _RENAMED:
            raise ValueError(f"{argument} {name!r} is called {_RENAMED[name]!r} in fpkit (one name per function)")
        act = ACTIVATIONS[v.check_choice(name, argument, tuple(ACTIVATIONS))]
    if sigmoid_type and not act.sigmoid_type:
        raise ValueError(f"{argument} must be a sigmoid-type activation, one of {SIGMOID_ACTIVATIONS}; "
                         f"got {act.name!r}")
    return act
