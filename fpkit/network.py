"""Ensembles of random (or given) same-dimension networks F = Phi_L o ... o Phi_1.

Each layer is ``Phi_l(x) = phi(W_l x + b_l)`` with ``W_l`` of shape (N, N). An
:class:`Ensemble` stores E independent networks as stacked arrays ``weights`` (E, L, N, N)
and ``biases`` (E, L, N), evaluates them on batches of points (E, M, N) and returns the
input-output Jacobian ``J_F(x) = D_L W_L ... D_1 W_1`` with ``D_l = diag(phi'(z_l))``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from dataclasses import dataclass
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from . import _validate as v
from .activations import Activation, get_activation
from .backend import array_namespace, get_namespace, make_rng, single_threaded_blas, split_rows, to_numpy
from .sampling import CONVENTIONS, LAWS, sample_weights, weight_law

__all__ = ["WEIGHT_ULPS_ENV", "Ensemble", "NetworkConfig", "check_configs", "check_ensemble", "config_seed", "lipschitz_bound",
           "log_lipschitz_bound", "weight_ulps"]

@dataclass(frozen=True)
class NetworkConfig:
    """Everything that defines the law of a random network (hashable; used as a cache key).

    Parameters
    ----------
    N : int
        Width = input = output dimension (>= 1).
    L : int
        Depth, number of layers (>= 1).
    law : str
        Weight law, one of :data:`fpkit.sampling.LAWS`.
    scale : float
        Weight scale ``s`` (> 0); see :func:`fpkit.sampling.scale_factor`.
    convention : str
        Weight scaling convention, one of :data:`fpkit.sampling.CONVENTIONS`.
    df, alpha : float, optional
        Parameter of the ``student_t`` / ``alpha_stable`` weight law.
    bias_law : str or None
        Bias law (one of LAWS), ``"same"`` for the weights' law, or ``None`` for no biases.
    bias_scale : float
        Biases are ``bias_scale * Z`` (absolute scale: a bias is not a sum over inputs).
    activation : str
        One of :data:`fpkit.activations.SIGMOID_ACTIVATIONS`.
    """

    N: int
    L: int
    law: str = "gaussian"
    scale: float = 1.0
    convention: str = "fan_in"
    df: float | None = None
    alpha: float | None = None
    bias_law: str | None = "same"
    bias_scale: float = 1.0
    activation: str = "logistic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "N", v.check_int(self.N, "N", minimum=1))
        object.__setattr__(self, "L", v.check_int(self.L, "L", minimum=1))
        weight_law(self.law, df=self.df, alpha=self.alpha)  # validates law/df/alpha
        object.__setattr__(self, "scale", v.check_real(self.scale, "scale", low=0.0, low_open=True))
        v.check_choice(self.convention, "convention", CONVENTIONS)
        if self.bias_law is not None and self.bias_law != "same":
            v.check_choice(self.bias_law, "bias_law", (*LAWS, "same"))
        object.__setattr__(self, "bias_scale", v.check_real(self.bias_scale, "bias_scale", low=0.0))
        get_activation(self.activation, sigmoid_type=True)

    def replace(self, **changes: Any) -> NetworkConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def weights_law(self):
        """The :class:`~fpkit.sampling.WeightLaw` of the weights (standard form)."""
        return weight_law(self.law, df=self.df, alpha=self.alpha)

    def biases_law(self):
        """The :class:`~fpkit.sampling.WeightLaw` of the biases, or None when there are none."""
        if self.bias_law is None or self.bias_scale == 0.0:
            return None
        if self.bias_law == "same":
            return weight_law(self.law, df=self.df, alpha=self.alpha)
        if self.bias_law == self.law:
            return weight_law(self.law, df=self.df, alpha=self.alpha)
        if self.bias_law in ("student_t", "alpha_stable"):
            raise ValueError(
                f"bias_law {self.bias_law!r} needs a parameter; use bias_law='same' with law={self.bias_law!r}"
            )
        return weight_law(self.bias_law)


def config_seed(seed: int, config: NetworkConfig) -> np.random.SeedSequence:
    """Seed sequence of one configuration: depends only on ``seed`` (an int >= 0) and the config's fields.

    ``SeedSequence([seed, h])`` with h the first 8 bytes (little-endian) of the SHA-256 of the sorted
    fields, so adding or reordering configurations of a sweep or a Kac-Rice table changes no other
    configuration's numbers. (Also importable from :mod:`fpkit.sweep`, where it was first defined.)
    """
    seed = v.check_int(seed, "seed", minimum=0)
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    digest = hashlib.sha256(repr(sorted(config.as_dict().items())).encode()).digest()
    return np.random.SeedSequence([seed, int.from_bytes(digest[:8], "little")])


class Ensemble:
    """E independent networks of depth L and width N, stored as stacked arrays.

    Parameters
    ----------
    weights : array, shape (E, L, N, N)
    biases : array, shape (E, L, N), optional
        Zeros when omitted.
    activation : str or Activation
        A sigmoid-type activation (:data:`fpkit.activations.SIGMOID_ACTIVATIONS`).
    config : NetworkConfig, optional
        The law the networks were drawn from (``None`` for given weights).

    Use :meth:`sample` for random networks and the constructor for given (e.g. trained)
    weights. Arrays stay on their backend (NumPy or CuPy); integer arrays are converted to
    float64, complex ones are refused.
    """

    def __init__(self, weights, biases=None, activation: str | Activation = "logistic", config=None):
        if isinstance(weights, (list, tuple)):
            weights = np.asarray(weights)
        _check_array(weights, "weights")
        xp = array_namespace(weights)
        weights = v.as_float64(weights, "weights", xp)
        if weights.ndim != 4 or weights.shape[-1] != weights.shape[-2]:
            raise ValueError(f"weights must have shape (E, L, N, N); got {tuple(weights.shape)}")
        E, L, N, _ = weights.shape
        if E < 1 or L < 1 or N < 1:
            raise ValueError(f"weights must have E, L, N >= 1; got shape {tuple(weights.shape)}")
        if biases is None:
            biases = xp.zeros((E, L, N), dtype=xp.float64)
        else:
            if isinstance(biases, (list, tuple)):
                biases = np.asarray(biases)
            _check_array(biases, "biases")
            if array_namespace(biases) is not xp:
                biases = xp.asarray(to_numpy(biases) if xp is not np else biases)
            biases = v.as_float64(biases, "biases", xp)
        if tuple(biases.shape) != (E, L, N):
            raise ValueError(f"biases must have shape (E, L, N) = {(E, L, N)}; got {tuple(biases.shape)}")
        if not bool(xp.all(xp.isfinite(weights))):
            raise ValueError("weights must be finite (found NaN or inf)")
        if not bool(xp.all(xp.isfinite(biases))):
            raise ValueError("biases must be finite (found NaN or inf)")
        if config is not None and not isinstance(config, NetworkConfig):
            raise TypeError(f"config must be a NetworkConfig or None; got {type(config).__name__}")
        # |z_i| <= sum_j |W_ij| |x_j| + |b_i|: keep every pre-activation inside float64 (a sum of +inf
        # and -inf would be NaN); inputs of layers >= 2 lie in the activation's range (|x| <= 1)
        with np.errstate(over="ignore"):
            row_sum = float(xp.max(xp.sum(xp.abs(weights), axis=-1)))
            b_max = float(xp.max(xp.abs(biases)))
        if not row_sum <= _MAX_PREACTIVATION:
            raise ValueError(f"weights are too large: a pre-activation sum_j |W_ij| x_j reaches {row_sum:.3g} for "
                             f"|x| = 1 (at most {_MAX_PREACTIVATION:g} keeps it within float64)")
        if not b_max <= _MAX_PREACTIVATION:
            raise ValueError(f"biases are too large: |b| up to {b_max:.3g} (at most {_MAX_PREACTIVATION:g})")
        self._first_layer = (float(xp.max(xp.sum(xp.abs(weights[:, 0]), axis=-1))), b_max)
        self._row_sum = row_sum
        self._float32 = None  # (W^T, b) in float32, made on first use (forward_into of float32 points)
        self._weights = weights
        self._parent = None  # (ensemble, index) of a subset, whose arrays are taken on first use
        self.biases = biases
        self.activation = get_activation(activation, sigmoid_type=True)
        self.config = config
        self.xp = xp
        self._m = _plain_module(xp)
        self._wt = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def sample(cls, config: NetworkConfig, n_networks: int, *, seed: Any, backend: str | None = None) -> Ensemble:
        """Draw ``n_networks`` independent networks from ``config``.

        Weights get ``scale_factor(law, N, convention, scale)``; biases ``bias_scale``. Where the
        environment sets ``FPKIT_WEIGHT_ULPS`` (see :func:`weight_ulps`), every weight is moved
        that many units in its last place, up or down: the test suite reruns chapters with 1 to
        check that no verdict rests on the last bit.
        """
        if not isinstance(config, NetworkConfig):
            raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
        E = v.check_int(n_networks, "n_networks", minimum=1)
        v.check_memory(8 * E * config.L * config.N**2,
                       f"n_networks * L * N**2 = {E} * {config.L} * {config.N}**2 weights")
        xp = get_namespace(backend)
        rng = make_rng(seed, xp)
        W = sample_weights(
            config.weights_law(), (E, config.L, config.N, config.N), seed=rng, scale=config.scale,
            convention=config.convention, fan_in=config.N, backend=backend,
        )
        W = _nudged(W, xp)
        blaw = config.biases_law()
        if blaw is None:
            b = xp.zeros((E, config.L, config.N), dtype=xp.float64)
        else:
            with np.errstate(over="ignore"):
                b = config.bias_scale * blaw.sample((E, config.L, config.N), rng, xp)
        try:
            return cls(W, b, config.activation, config=config)
        except ValueError as exc:  # weights or biases beyond float64's reach: say which setting
            if str(exc).startswith("weights are too large"):
                raise ValueError(f"scale={config.scale:g} is too large for this law and width: {exc}") from None
            if str(exc).startswith(("biases are too large", "biases must be finite")):
                raise ValueError(f"bias_scale={config.bias_scale:g} is too large for this law: {exc}") from None
            raise

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int, int]:
        """(E, L, N)."""
        E, L, N = self.biases.shape
        return int(E), int(L), int(N)

    @property
    def n_networks(self) -> int:
        return self.shape[0]

    @property
    def depth(self) -> int:
        return self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[2]

    @property
    def array_module(self):
        """The plain array module of the arrays, ``numpy`` or ``cupy`` (for in-place ``out=`` work)."""
        return self._m

    @property
    def backend(self) -> str:
        """``"numpy"`` or ``"cupy"``."""
        return "cupy" if self._m is not np else "numpy"

    @property
    def domain(self) -> tuple[float, float]:
        """The interval (low, high) whose N-th power contains F(R^N), hence every fixed point."""
        return self.activation.low, self.activation.high

    @property
    def weights_t(self):
        """The transposed weights ``W_l^T`` as one contiguous (E, L, N, N) array (cached)."""
        if self._wt is None:
            if self._parent is not None:
                parent, index = self._parent
                self._wt = parent.weights_t[index]
            else:
                self._wt = self._m.ascontiguousarray(self._m.swapaxes(self.weights, -1, -2))
        return self._wt

    @property
    def weights(self):
        """The weights, shape (E, L, N, N) (a lazy subset takes its networks' on first use)."""
        if self._weights is None:
            parent, index = self._parent
            self._weights = parent.weights[index]
        return self._weights

    def __repr__(self) -> str:
        E, L, N = self.shape
        return f"Ensemble(E={E}, L={L}, N={N}, activation={self.activation.name!r}, backend={self.backend!r})"

    def subset(self, index, *, lazy: bool = False) -> Ensemble:
        """Ensemble of the networks selected by ``index`` (int array or slice along axis 0).

        ``lazy=True``: the weights, their transposed and float32 copies are taken from this
        ensemble when first used (which keeps this ensemble alive meanwhile, and shows its later
        in-place changes of the weights): the engine's packed blocks, which need only W^T in one
        precision, use it. The default copies what this ensemble holds now.
        """
        if not isinstance(lazy, (bool, np.bool_)):
            raise TypeError(f"lazy must be True or False; got {lazy!r}")
        return self._select(index, "index", lazy=bool(lazy))

    def _select(self, index, name: str, *, lazy: bool = False) -> Ensemble:
        index = self._check_index(index, name)
        out = Ensemble.__new__(Ensemble)
        out.biases = self.biases[index]
        if out.biases.ndim != 3 or out.biases.shape[0] < 1:
            raise ValueError(f"{name} must select at least one network of {self.n_networks}; got {index!r:.80}")
        if lazy:  # (a copy of the index: the caller may change its array before the weights are used)
            index = index if isinstance(index, slice) else index.copy()
            out._weights, out._wt, out._float32, out._parent = None, None, None, (self, index)
        else:
            out._weights, out._parent = self.weights[index], None
            out._wt = self._wt[index] if self._wt is not None else None
            out._float32 = tuple(a[index] for a in self._float32) if self._float32 is not None else None
        out.activation, out.config, out.xp, out._m = self.activation, self.config, self.xp, self._m
        out._first_layer = self._first_layer  # a bound over all networks holds for a subset
        out._row_sum = self._row_sum
        return out

    def _check_index(self, index, name: str):
        """A slice, an integer, integer indices in [-E, E) or a boolean mask of length E (on the backend)."""
        E = self.n_networks
        if isinstance(index, slice):
            return index
        if isinstance(index, (bool, np.bool_)):
            raise TypeError(f"{name} must be network indices, a slice or a boolean mask; got {index!r}")
        if isinstance(index, (int, np.integer)):
            if not -E <= int(index) < E:
                raise ValueError(f"{name} must be in [0, {E - 1}]; got {index}")
            return slice(int(index) % E, int(index) % E + 1)
        if not hasattr(index, "dtype"):
            if isinstance(index, (str, bytes)) or not isinstance(index, (list, tuple, range)):
                raise TypeError(f"{name} must be network indices, a slice or a boolean mask; got "
                                f"{type(index).__name__}")
            index = np.asarray(index) if len(index) else np.zeros(0, dtype=np.int64)
        kind = np.dtype(str(index.dtype)).kind if str(index.dtype) != "object" else "O"
        if kind == "b":
            if tuple(index.shape) != (E,):
                raise ValueError(f"{name} as a boolean mask must have shape ({E},); got {tuple(index.shape)}")
        elif kind in "iu":
            if index.ndim != 1:
                raise ValueError(f"{name} must be a 1-D array of network indices; got shape {tuple(index.shape)}")
            if index.size and (int(index.min()) < -E or int(index.max()) >= E):
                raise ValueError(f"{name} must hold network indices in [0, {E - 1}]")
        else:
            raise TypeError(f"{name} must be network indices (integers), a slice or a boolean mask; "
                            f"got dtype {index.dtype}")
        return self.xp.asarray(index) if array_namespace(index) is not self.xp else index

    # ------------------------------------------------------------------ evaluation
    def check_points(self, x, name: str = "x"):
        """Validate a batch of points: shape (E, M, N), real and finite; returns float64 on the backend.

        Integer points are converted to float64 (they must not truncate the iteration);
        complex or non-numeric points are refused with a TypeError, NaN/inf with a ValueError.
        """
        xp = self.xp
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        _check_array(x, name)
        if self._m is not np and array_namespace(x) is np:
            x = xp.asarray(x)
        x = v.as_float64(x, name, xp)
        E, _, N = self.shape
        if x.ndim != 3 or x.shape[0] != E or x.shape[2] != N:
            raise ValueError(f"{name} must have shape (E, M, N) = ({E}, M, {N}); got {tuple(x.shape)}")
        if x.shape[1] < 1:
            raise ValueError(f"{name} must hold at least one point per network (M >= 1); got shape {tuple(x.shape)}")
        largest = float(xp.max(xp.abs(x)))  # NaN if any is NaN
        if not math.isfinite(largest):
            raise ValueError(f"{name} must be finite (found NaN or inf)")
        row_sum, b_max = self._first_layer
        if largest * row_sum + b_max > 1e308:
            limit = (1e308 - b_max) / max(row_sum, 1e-300)
            raise ValueError(f"{name} is too large: |{name}| up to {largest:.3g} overflows the first layer's "
                             f"pre-activations (|{name}| must be <= {limit:.3g} for these weights)")
        return x

    def preactivation_bound(self, x_max: float = 1.0) -> float:
        """An upper bound on every pre-activation ``|W_l x + b_l|`` (max norm) of every network, for
        inputs with ``|x|_inf <= x_max`` (deeper layers see the activation's range, ``|x| <= 1``).

        The engine's mixed precision iterates in float32 only where this stays far inside
        float32's range. ``x_max`` is a finite real >= 0 small enough that the bound is finite
        (a ValueError gives the largest allowed).
        """
        x_max = v.check_real(x_max, "x_max", low=0.0)
        row_sum0, b_max = self._first_layer
        limit = (np.finfo(np.float64).max - b_max) / max(row_sum0, 1e-300)
        if x_max > limit:
            raise ValueError(f"x_max must be <= {limit:.3g} for these weights (a larger input overflows the "
                             f"first layer's pre-activations); got {x_max:.3g}")
        bound = max(row_sum0 * x_max, self._row_sum if self.depth > 1 else 0.0) + b_max
        return float(bound)

    def forward(self, x, *, networks=None):
        """F(x) for a batch of points.

        Parameters
        ----------
        x : array, shape (E, M, N)
            M points per network (``x[e]`` is fed to network e).
        networks : int array, optional
            Evaluate only these networks; ``x`` then has shape (len(networks), M, N).

        Returns
        -------
        array, shape like ``x``
        """
        if networks is not None:
            return _on_selected(self._select(networks, "networks"), "forward", x)
        x = self.check_points(x)
        out = self._m.empty_like(x)
        return self.forward_into(x, out, self._m.empty_like(x))

    def forward_into(self, x, out, scratch, *, step=None):
        """F(x) written into ``out``, using ``scratch`` (both shaped like ``x``; neither may be ``x``).

        The engine's hot loop: no validation and no allocation of (E, M, N) arrays (the
        products and the activation write into the two buffers). ``x`` is not modified. On
        NumPy the networks are shared among :func:`fpkit.backend.cpu_threads` threads (each
        network in one thread, so the result does not depend on the number of threads).

        Bits: each network's product is one BLAS call on its M rows, and a BLAS picks its kernel
        (and so the order of its sums) by the shape: a network alone and the same network in an
        ensemble whose packed block gives it another row count can differ in the last bits of a
        step (measured: limits up to 2e-15 apart at N = 10, L = 8). What the engine decides from
        them (statuses, periods, attractor counts) is the same (``tests/test_network.py``).

        ``step``: optional pair ``(diff, sq)`` of arrays shaped (E, M, N) and (E, M); then
        ``diff = F(x) - x`` and ``sq = |F(x) - x|_2^2`` per point are written too, each network's
        in the thread that computed its F(x) (while its rows are still in cache).
        """
        E, M, N = x.shape
        wt, bias = (self.weights_t, self.biases) if x.dtype == self._m.float64 else self._float32_params()
        if self._m is np:
            with single_threaded_blas:  # also unsplit: a network's bits must not depend on the split
                split_rows(lambda a, b: self._forward_rows(x, out, scratch, wt, bias, a, b, step), E,
                            work=2.0 * E * M * N * N * self.depth)
        else:
            self._forward_rows(x, out, scratch, wt, bias, 0, E, step)
        return out

    def _forward_rows(self, x, out, scratch, wt, bias, a, b, step=None):
        m, phi = self._m, self.activation
        wt, bias = wt[a:b], bias[a:b]
        L = wt.shape[1]
        src = x[a:b]
        for layer in range(L):
            dst = (out if (L - layer) % 2 == 1 else scratch)[a:b]  # the last layer writes into out
            m.matmul(src, wt[:, layer], out=dst)
            dst += bias[:, layer, None, :]
            phi.value(dst, m, out=dst)
            src = dst
        if step is not None:
            diff, sq = step[0][a:b], step[1]
            m.subtract(src, x[a:b], out=diff)
            sq[a:b] = m.einsum("emn,emn->em", diff, diff)

    def _float32_params(self):
        """W^T and b as float32 (cached; a subset takes its rows)."""
        if self._float32 is None:
            if self._parent is not None:
                parent, index = self._parent
                self._float32 = tuple(a[index] for a in parent._float32_params())
            else:
                self._float32 = (self.weights_t.astype(self._m.float32), self.biases.astype(self._m.float32))
        return self._float32

    def forward_with_jacobian(self, x, *, networks=None):
        """F(x) and J_F(x) = D_L W_L ... D_1 W_1.

        Returns
        -------
        fx : array, shape (E, M, N)
        jac : array, shape (E, M, N, N)
            ``jac[e, m, i, j] = dF_i / dx_j`` at ``x[e, m]``. Entries whose modulus exceeds the
            float64 range (deep networks where they expand, e.g. L = 500 layers of weight scale 10
            at an unsaturated point) are ``+-inf``, never NaN; :meth:`forward_with_scaled_jacobian`
            gives J there as a finite matrix times a power of 2.
        """
        if networks is not None:
            return _on_selected(self._select(networks, "networks"), "forward_with_jacobian", x)
        x = self.check_points(x)
        m, W, wt, b, phi = self._m, self.weights, self.weights_t, self.biases, self.activation
        jac = None
        x0 = x
        with np.errstate(over="ignore", invalid="ignore"):
            for layer in range(W.shape[1]):
                Wl = W[:, layer]  # (E, N, N)
                z = m.matmul(x, wt[:, layer]) + b[:, layer, None, :]
                d = phi.derivative(z, m)  # (E, M, N)
                if jac is None:
                    jac = d[..., :, None] * Wl[:, None, :, :]
                else:
                    jac = d[..., :, None] * m.matmul(Wl[:, None, :, :], jac)
                x = phi.value(z, m, out=z)
            if not bool(m.all(m.isfinite(jac))):  # overflow: the product again, rescaled by powers of 2
                _, unit, exponent = self.forward_with_scaled_jacobian(x0)
                jac = m.ldexp(unit, exponent[..., None, None])
        return x, jac

    def forward_with_scaled_jacobian(self, x, *, networks=None):
        """F(x) and J_F(x) = ``unit * 2**exponent``, finite at any depth.

        The product D_L W_L ... D_1 W_1 is formed with every factor and partial product
        rescaled by a power of 2 (exact), so it cannot overflow however deep the network.

        Returns
        -------
        fx : array, shape (E, M, N)
        unit : array, shape (E, M, N, N)
            J_F(x) / 2**exponent, with entries of modulus below 1 (all zero where J_F(x) = 0).
        exponent : int array, shape (E, M)
        """
        if networks is not None:
            return _on_selected(self._select(networks, "networks"), "forward_with_scaled_jacobian", x)
        x = self.check_points(x)
        m, W, wt, b, phi = self._m, self.weights, self.weights_t, self.biases, self.activation
        E, M, N = x.shape
        exponent = m.zeros((E, M), dtype=m.int64)
        jac = None
        for layer in range(W.shape[1]):
            Wl = W[:, layer]  # (E, N, N)
            _, w_exp = m.frexp(m.abs(Wl).max(axis=(-2, -1)))  # (E,): |W_l| < 2**w_exp
            Wl = m.ldexp(Wl, -w_exp[:, None, None])
            z = m.matmul(x, wt[:, layer]) + b[:, layer, None, :]
            d = phi.derivative(z, m)  # (E, M, N), |d| <= sup |phi'| <= 2
            if jac is None:
                jac = d[..., :, None] * Wl[:, None, :, :]
            else:
                jac = d[..., :, None] * m.matmul(Wl[:, None, :, :], jac)
            _, j_exp = m.frexp(m.abs(jac).max(axis=(-2, -1)))  # (E, M); 0 for a zero matrix
            jac = m.ldexp(jac, -j_exp[..., None, None])
            exponent += w_exp[:, None] + j_exp
            x = phi.value(z, m, out=z)
        return x, jac, exponent

    def jacobian_eigenvalues(self, x, *, networks=None) -> np.ndarray:
        """Eigenvalues of J_F(x), complex NumPy array of shape (E, M, N), at any depth.

        Where J_F(x) overflows float64 the eigenvalues are those of the rescaled product
        (:meth:`forward_with_scaled_jacobian`) times its power of 2; an eigenvalue whose modulus
        exceeds the float64 range then has ``+-inf`` real and/or imaginary parts (zero parts
        stay 0, so there is never a NaN): it is unstable, and its sign still decides the index
        sign det(I - J). Eigenvalues far below the largest one (relative 1e-16) are rounding
        noise there, as for any matrix formed explicitly.
        """
        if networks is not None:
            return _on_selected(self._select(networks, "networks"), "jacobian_eigenvalues", x)
        jac = to_numpy(self.jacobian(x))
        if np.all(np.isfinite(jac)):
            return np.linalg.eigvals(jac)
        _, unit, exponent = self.forward_with_scaled_jacobian(x)
        mu = np.linalg.eigvals(to_numpy(unit))
        e = to_numpy(exponent)[..., None]
        out = np.empty(mu.shape, dtype=np.complex128)
        with np.errstate(over="ignore"):
            out.real = np.ldexp(mu.real, e)
            out.imag = np.ldexp(mu.imag, e)
        return out

    def jacobian(self, x, *, networks=None):
        """J_F(x), shape (E, M, N, N); see :meth:`forward_with_jacobian`."""
        return self.forward_with_jacobian(x, networks=networks)[1]


#: Largest sum_j |W_ij| (and |b_i|) an Ensemble accepts: pre-activations then stay within float64.
#: The largest row sum of |W| (and |b|) a network may have: pre-activations stay within float64.
MAX_PREACTIVATION = 1e300
_MAX_PREACTIVATION = MAX_PREACTIVATION


def _on_selected(sub: Ensemble, method: str, x):
    """``sub.method(x)`` where ``sub`` holds the networks chosen by ``networks=``: a shape error says so."""
    try:
        return getattr(sub, method)(x)
    except ValueError as exc:
        if str(exc).startswith("x must have shape"):
            raise ValueError(f"{exc} (E = {sub.n_networks}: the networks selected by networks=)") from None
        raise


def _plain_module(xp):
    """numpy or cupy behind an array-API namespace (the engine writes in place with ``out=``)."""
    if "cupy" in xp.__name__.split("."):
        import cupy  # type: ignore[import-not-found]

        return cupy
    return np


def _check_array(x, name: str) -> None:
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"{name} must be an array (NumPy or CuPy); got {type(x).__name__}")


#: The environment variable that moves every sampled weight by this many units in its last place (see
#: :func:`weight_ulps`).
WEIGHT_ULPS_ENV = "FPKIT_WEIGHT_ULPS"


def weight_ulps() -> int:
    """How many units in the last place ``FPKIT_WEIGHT_ULPS`` asks every sampled weight to move (0 where
    it is unset).

    An integer in [0, 1024]. At 1 every weight moves by one ulp, up or down: the size of the
    differences two BLAS kernels' rounding makes in a product. The suite's verdict tests set it to
    rerun chapters and check that no verdict rests on the last bit; nothing else does. A bad value
    is a ValueError naming the variable.
    """
    import os

    raw = os.environ.get(WEIGHT_ULPS_ENV, "").strip()
    if raw == "":
        return 0
    if not re.fullmatch(r"\d{1,4}", raw) or int(raw) > 1024:
        raise ValueError(f"{WEIGHT_ULPS_ENV} must be an integer in [0, 1024]; got {raw!r:.40}")
    return int(raw)


def _nudged(W, xp):
    """``W`` with every entry moved ``weight_ulps()`` units in its last place, up or down by a fixed
    pseudo-random sign (unchanged where the variable is unset or 0)."""
    ulps = weight_ulps()
    if ulps == 0:
        return W
    sign = np.random.default_rng(20251207).integers(0, 2, tuple(W.shape)) * 2.0 - 1.0
    Wn = to_numpy(W)
    return xp.asarray(Wn + sign * ulps * np.spacing(np.abs(Wn)))


def check_ensemble(value: Any, name: str = "ensemble") -> Ensemble:
    """Return ``value`` if it is an :class:`Ensemble`, else raise a TypeError naming it."""
    if not isinstance(value, Ensemble):
        raise TypeError(f"{name} must be an Ensemble; got {type(value).__name__}")
    return value


def lipschitz_bound(ensemble: Ensemble) -> np.ndarray:
    """Upper bound on the Lipschitz constant of each network: the activation's largest slope to the
    power L times the product of the spectral norms of the W_l.

    Returns a NumPy array of shape (E,). A bound below 1 proves F is a contraction, hence has
    exactly one fixed point (Banach). Where the bound exceeds the float64 range (deep or
    heavy-tailed networks) a ValueError points to :func:`log_lipschitz_bound`, which is finite.
    """
    logs = log_lipschitz_bound(ensemble)
    if np.any(logs > math.log(np.finfo(np.float64).max)):
        raise ValueError(f"the Lipschitz bound exceeds the float64 range (log bound up to {logs.max():.4g}) "
                         f"for this ensemble (L = {ensemble.depth}); use log_lipschitz_bound")
    return np.exp(logs)


def log_lipschitz_bound(ensemble: Ensemble) -> np.ndarray:
    """Natural logarithm of :func:`lipschitz_bound`, finite at any depth; shape (E,)."""
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be an Ensemble; got {type(ensemble).__name__}")
    norms = np.linalg.norm(to_numpy(ensemble.weights), ord=2, axis=(-2, -1))  # (E, L)
    with np.errstate(divide="ignore"):
        logs = np.log(norms) + math.log(ensemble.activation.sup_derivative)
    return logs.sum(axis=1)


def check_configs(configs: Any) -> list[NetworkConfig]:
    """``configs`` (one :class:`NetworkConfig` or a non-empty iterable of them) as a list, else a
    TypeError or ValueError naming ``configs`` or the bad element."""
    if isinstance(configs, NetworkConfig):
        configs = [configs]
    if isinstance(configs, (str, bytes, Mapping)) or not isinstance(configs, Iterable):
        raise TypeError(f"configs must be an iterable of NetworkConfig; got {type(configs).__name__}")
    configs = list(configs)
    if not configs:
        raise ValueError("configs must hold at least one NetworkConfig; got none (an empty grid?)")
    for i, c in enumerate(configs):
        if not isinstance(c, NetworkConfig):
            raise TypeError(f"configs[{i}] must be a NetworkConfig; got {type(c).__name__}")
    return configs
