"""Ensembles of random (or given) same-dimension networks F = Phi_L o ... o Phi_1.

Each layer is ``Phi_l(x) = phi(W_l x + b_l)`` with ``W_l`` of shape (N, N). An
:class:`Ensemble` stores E independent networks as stacked arrays ``weights`` (E, L, N, N)
and ``biases`` (E, L, N), evaluates them on batches of points (E, M, N) and returns the
input-output Jacobian ``J_F(x) = D_L W_L ... D_1 W_1`` with ``D_l = diag(phi'(z_l))``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _validate as v
from .backend import array_namespace, get_namespace, make_rng, to_numpy
from .sampling import CONVENTIONS, LAWS, sample_weights, weight_law

__all__ = ["ACTIVATIONS", "Activation", "Ensemble", "NetworkConfig", "get_activation"]

# Inputs beyond this magnitude are clipped before x**2 is formed: the algebraic sigmoid
# is then +-1 to within 1e-300 and x**2 cannot overflow.
_ALGEBRAIC_CLIP = 1e150


@dataclass(frozen=True)
class Activation:
    """A sigmoid-type activation: name, value, derivative and the interval its values fill.

    Every activation here is monotone and bounded, so F maps R^N into ``range**N``: all
    fixed points, and all attractors, lie in that box.
    """

    name: str
    low: float
    high: float

    def __call__(self, z, xp=None):
        xp = xp or array_namespace(z)
        if self.name == "logistic":
            # Stable: exp(-|z|) never overflows.
            e = xp.exp(-xp.abs(z))
            return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        if self.name == "tanh":
            return xp.tanh(z)
        if self.name == "erf":
            return _erf(z / math.sqrt(2.0), xp)
        zc = xp.clip(z, -_ALGEBRAIC_CLIP, _ALGEBRAIC_CLIP)
        return zc / xp.sqrt(1.0 + zc * zc)

    def derivative(self, z, xp=None):
        """phi'(z), evaluated stably (no overflow for ``|z|`` up to the float64 maximum)."""
        xp = xp or array_namespace(z)
        if self.name == "logistic":
            e = xp.exp(-xp.abs(z))
            return e / (1.0 + e) ** 2
        if self.name == "tanh":
            t = xp.tanh(z)
            return 1.0 - t * t
        if self.name == "erf":
            # d/dz erf(z/sqrt2) = sqrt(2/pi) exp(-z^2/2); clip so z*z cannot overflow.
            zc = xp.clip(z, -1e100, 1e100)
            return math.sqrt(2.0 / math.pi) * xp.exp(-0.5 * zc * zc)
        zc = xp.clip(z, -_ALGEBRAIC_CLIP, _ALGEBRAIC_CLIP)
        return (1.0 + zc * zc) ** -1.5


def _erf(z, xp):
    if xp.__name__.split(".")[0] == "cupy":
        from cupyx.scipy.special import erf  # type: ignore[import-not-found]
    else:
        from scipy.special import erf
    return erf(z)


#: Activations known to fpkit, by name. ``erf`` is erf(z / sqrt 2), the odd
#: sigmoid with phi'(0) = sqrt(2/pi); ``algebraic`` is z / sqrt(1 + z^2).
ACTIVATIONS = {
    "logistic": Activation("logistic", 0.0, 1.0),
    "tanh": Activation("tanh", -1.0, 1.0),
    "erf": Activation("erf", -1.0, 1.0),
    "algebraic": Activation("algebraic", -1.0, 1.0),
}


def get_activation(name: str | Activation) -> Activation:
    """Look up an activation by name (one of :data:`ACTIVATIONS`)."""
    if isinstance(name, Activation):
        return name
    return ACTIVATIONS[v.check_choice(name, "activation", tuple(ACTIVATIONS))]


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
        One of :data:`ACTIVATIONS`.
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
        get_activation(self.activation)

    def replace(self, **changes: Any) -> NetworkConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def _bias_law(self):
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


class Ensemble:
    """E independent networks of depth L and width N, stored as stacked arrays.

    Parameters
    ----------
    weights : array, shape (E, L, N, N)
    biases : array, shape (E, L, N), optional
        Zeros when omitted.
    activation : str or Activation
    config : NetworkConfig, optional
        The law the networks were drawn from (``None`` for given weights).

    Use :meth:`sample` for random networks and the constructor for given (e.g. trained)
    weights. Arrays stay on their backend (NumPy or CuPy).
    """

    def __init__(self, weights, biases=None, activation: str | Activation = "logistic", config=None):
        if isinstance(weights, (list, tuple)):
            weights = np.asarray(weights, dtype=np.float64)
        xp = array_namespace(weights)
        if weights.ndim != 4 or weights.shape[-1] != weights.shape[-2]:
            raise ValueError(f"weights must have shape (E, L, N, N); got {tuple(weights.shape)}")
        E, L, N, _ = weights.shape
        if E < 1 or L < 1 or N < 1:
            raise ValueError(f"weights must have E, L, N >= 1; got shape {tuple(weights.shape)}")
        if biases is None:
            biases = xp.zeros((E, L, N), dtype=weights.dtype)
        elif isinstance(biases, (list, tuple)) or array_namespace(biases) is not xp:
            biases = xp.asarray(to_numpy(biases) if xp is not np else biases, dtype=weights.dtype)
        if tuple(biases.shape) != (E, L, N):
            raise ValueError(f"biases must have shape (E, L, N) = {(E, L, N)}; got {tuple(biases.shape)}")
        if not bool(xp.all(xp.isfinite(weights))):
            raise ValueError("weights must be finite (found NaN or inf)")
        if not bool(xp.all(xp.isfinite(biases))):
            raise ValueError("biases must be finite (found NaN or inf)")
        self.weights = xp.astype(weights, xp.float64) if weights.dtype != xp.float64 else weights
        self.biases = xp.astype(biases, xp.float64) if biases.dtype != xp.float64 else biases
        self.activation = get_activation(activation)
        self.config = config
        self.xp = xp

    # ------------------------------------------------------------------ construction
    @classmethod
    def sample(cls, config: NetworkConfig, n_networks: int, *, seed: Any, backend: str | None = None) -> Ensemble:
        """Draw ``n_networks`` independent networks from ``config``.

        Weights get ``scale_factor(law, N, convention, scale)``; biases ``bias_scale``.
        """
        if not isinstance(config, NetworkConfig):
            raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
        E = v.check_int(n_networks, "n_networks", minimum=1)
        xp = get_namespace(backend)
        rng = make_rng(seed, xp)
        law = weight_law(config.law, df=config.df, alpha=config.alpha)
        W = sample_weights(
            law, (E, config.L, config.N, config.N), seed=rng, scale=config.scale,
            convention=config.convention, fan_in=config.N, backend=backend,
        )
        blaw = config._bias_law()
        if blaw is None:
            b = xp.zeros((E, config.L, config.N), dtype=xp.float64)
        else:
            b = config.bias_scale * blaw.sample((E, config.L, config.N), rng, xp)
        return cls(W, b, config.activation, config=config)

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int, int]:
        """(E, L, N)."""
        E, L, N, _ = self.weights.shape
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
    def domain(self) -> tuple[float, float]:
        """The interval (low, high) whose N-th power contains F(R^N), hence every fixed point."""
        return self.activation.low, self.activation.high

    def __repr__(self) -> str:
        E, L, N = self.shape
        backend = "cupy" if self.xp.__name__.split(".")[0] == "cupy" else "numpy"
        return f"Ensemble(E={E}, L={L}, N={N}, activation={self.activation.name!r}, backend={backend!r})"

    def subset(self, index) -> Ensemble:
        """Ensemble of the networks selected by ``index`` (int array or slice along axis 0)."""
        return Ensemble(self.weights[index], self.biases[index], self.activation, self.config)

    # ------------------------------------------------------------------ evaluation
    def _check_points(self, x):
        xp = self.xp
        if isinstance(x, (list, tuple)) or (xp is not np and array_namespace(x) is np):
            x = xp.asarray(x, dtype=xp.float64)
        E, _, N = self.shape
        if x.ndim != 3 or x.shape[0] != E or x.shape[2] != N:
            raise ValueError(f"x must have shape (E, M, N) = ({E}, M, {N}); got {tuple(x.shape)}")
        return x

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
        W, b = self._params(networks)
        if networks is None:
            x = self._check_points(x)
        phi = self.activation
        xp = self.xp
        for layer in range(W.shape[1]):
            z = xp.matmul(x, xp.swapaxes(W[:, layer], -1, -2)) + b[:, layer, None, :]
            x = phi(z, xp)
        return x

    def forward_with_jacobian(self, x, *, networks=None):
        """F(x) and J_F(x) = D_L W_L ... D_1 W_1.

        Returns
        -------
        fx : array, shape (E, M, N)
        jac : array, shape (E, M, N, N)
            ``jac[e, m, i, j] = dF_i / dx_j`` at ``x[e, m]``.
        """
        W, b = self._params(networks)
        if networks is None:
            x = self._check_points(x)
        xp = self.xp
        phi = self.activation
        E, M, N = x.shape
        jac = None
        for layer in range(W.shape[1]):
            Wl = W[:, layer]  # (E, N, N)
            z = xp.matmul(x, xp.swapaxes(Wl, -1, -2)) + b[:, layer, None, :]
            d = phi.derivative(z, xp)  # (E, M, N)
            if jac is None:
                jac = d[..., :, None] * Wl[:, None, :, :]
            else:
                jac = d[..., :, None] * xp.matmul(Wl[:, None, :, :], jac)
            x = phi(z, xp)
        return x, jac

    def jacobian(self, x, *, networks=None):
        """J_F(x), shape (E, M, N, N); see :meth:`forward_with_jacobian`."""
        return self.forward_with_jacobian(x, networks=networks)[1]

    def _params(self, networks):
        if networks is None:
            return self.weights, self.biases
        return self.weights[networks], self.biases[networks]


def lipschitz_bound(ensemble: Ensemble) -> np.ndarray:
    """Upper bound on the Lipschitz constant of each network: sup|phi'|^L * prod_l ||W_l||_2.

    Returns a NumPy array of shape (E,). A bound < 1 proves F is a contraction, hence has
    exactly one fixed point (Banach).
    """
    sup_d = {"logistic": 0.25, "tanh": 1.0, "erf": math.sqrt(2.0 / math.pi), "algebraic": 1.0}
    norms = np.linalg.norm(to_numpy(ensemble.weights), ord=2, axis=(-2, -1))  # (E, L)
    return np.prod(norms * sup_d[ensemble.activation.name], axis=1)
