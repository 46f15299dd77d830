"""Free probability for finite-variance weights: the spectral laws of J J^T and of J.

For i.i.d. weights of variance sigma_w^2 / N the factors W_l W_l^T and D_l^2 of the input-output Jacobian
``J_F = D_L W_L ... D_1 W_1`` are asymptotically free, and the S-transform of J J^T is the product of
theirs (Pennington, Schoenholz & Ganguli 2017, 2018; Pastur & Slavin 2020, 2022 for i.i.d. entries)::

    S_{JJ^T}(w) = prod_l S_{WW^T}(w) S_{D_l^2}(w),   S_{WW^T}(w) = 1 / (sigma_w^2 (1 + w)),

where D_l^2 has the law of phi'(h)^2 with h ~ N(0, q_l) and q_l follows the mean-field length map
(:func:`fpkit.theory.lengthmap.preactivation_variances`). :class:`FreeJacobianLaw` turns this into the
density of J J^T (Stieltjes transform solved on a grid by Newton's method, tracked from far above the real
axis down to it), its first two moments in closed form, and - because a product of Gaussian layers is
R-diagonal - the law of the eigenvalues of J itself by the Haagerup-Larsen theorem: rotation invariant,
with ``P(|lambda| <= r) = t`` where ``S_{JJ^T}(t - 1) = 1 / r^2`` (:func:`haagerup_larsen_log_radius`).
The mass of that law outside the unit circle is the theory's count of unstable directions.
:func:`marchenko_pastur_density` and :func:`fuss_catalan_moment` are closed forms used as checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from .. import _validate as v
from ..activations import get_activation
from ..network import NetworkConfig
from .lengthmap import gaussian_weight_scales, preactivation_variances, uniform_input_moments

__all__ = [
    "FreeJacobianLaw",
    "fuss_catalan_moment",
    "gaussian_d2_atoms",
    "haagerup_larsen_log_radius",
    "marchenko_pastur_density",
]

_LOG_MAX = math.log(np.finfo(np.float64).max)
_LOG_TINY = math.log(np.finfo(np.float64).tiny)
_MIN_RELATIVE_X = 1e-100  # density() is reliable down to this fraction of the support's edge



def marchenko_pastur_density(x, sigma2: float = 1.0):
    """Density of W W^T for square W with i.i.d. entries of variance sigma2 / N (ratio 1).

    ``rho(x) = sqrt(x (4 sigma2 - x)) / (2 pi sigma2 x)`` on (0, 4 sigma2].
    """
    sigma2 = v.check_real(sigma2, "sigma2", low=0.0, low_open=True)
    x = v.check_array(x, "x", finite=False)
    if np.isnan(x).any():
        raise ValueError("x must not contain NaN")
    inside = (x > 0) & (x < 4 * sigma2)
    out = np.zeros_like(x)
    xi = x[inside]
    out[inside] = np.sqrt(xi * (4 * sigma2 - xi)) / (2 * np.pi * sigma2 * xi)
    return out


def fuss_catalan_moment(L: int, k: int) -> float:
    """k-th moment of J J^T for a product of L square Gaussian matrices of unit variance scale.

    ``FC_L(k) = binom((L + 1) k, k) / (L k + 1)`` (Fuss-Catalan numbers).
    """
    L = v.check_int(L, "L", minimum=1)
    k = v.check_int(k, "k", minimum=0)
    if k <= 1:
        return 1.0
    # binom(n, k) >= (n / k)^k, so FC_L(k) >= (L + 1)^k / (L k + 1): beyond float64 when this is
    too_big = ValueError(f"the Fuss-Catalan number FC_L(k) for L = {L}, k = {k} exceeds the float64 range; "
                         "use smaller L or k")
    if k > 2000 or k * math.log(L + 1) - math.log(L * k + 1) > _LOG_MAX:  # FC_L(k) >= 2^k / (k + 1)
        raise too_big
    try:
        return math.comb((L + 1) * k, k) / (L * k + 1)
    except OverflowError:
        raise too_big from None




@dataclass
class _DiscreteLaw:
    """A law on [0, inf) given by atoms (values, probabilities): the law of D_l^2."""

    values: np.ndarray
    probs: np.ndarray

    def psi(self, u):
        """psi(u) = E[u d / (1 - u d)] and its derivative E[d / (1 - u d)^2]."""
        ud = np.multiply.outer(u, self.values)
        den = 1.0 - ud
        return (ud / den) @ self.probs, (self.values / den**2) @ self.probs

    @property
    def atom_at_zero(self) -> float:
        return float(self.probs[self.values == 0].sum())

    def inverse_psi_real(self, w: float) -> float:
        """The u < 0 with psi(u) = w, for w in (-1 + P(d = 0), 0)."""
        if w == 0.0:
            return 0.0
        lo = -1.0 / max(self.values.max(), 1e-300)
        while self.psi(np.array(lo))[0] > w:
            lo *= 4.0
            if lo < -1e300:
                raise ValueError(f"psi^-1({w}) is out of range")
        return optimize.brentq(lambda u: float(self.psi(np.array(u))[0]) - w, lo, 0.0, xtol=1e-300, rtol=1e-14)


def _inverse_psi_batch(values: np.ndarray, probs: np.ndarray, w: np.ndarray, iters: int = 64) -> np.ndarray:
    """u < 0 with psi(u) = w for many discrete laws and many w at once (bisection in log(-u)).

    ``values``, ``probs``: (..., K) atoms of laws on [0, inf); ``w``: (T,) in (-1, 0). Returns
    (..., T); NaN where ``w <= -(1 - P(d = 0))`` (no solution: that part of the eigenvalue law is
    the atom at 0). psi(-e^s) = -sum p d e^s / (1 + d e^s) decreases in s, so bisection on s is safe.
    """
    values = np.asarray(values, dtype=float)[..., None, :]  # (..., 1, K)
    probs = np.asarray(probs, dtype=float)[..., None, :]
    w = np.asarray(w, dtype=float)
    shape = np.broadcast_shapes(values.shape[:-2], probs.shape[:-2]) + w.shape
    with np.errstate(divide="ignore"):
        log_d = np.log(values)  # -inf for atoms at 0: expit(-inf) = 0
    lo = np.full(shape, -700.0)
    hi = np.full(shape, 700.0)
    target = -w  # solve g(s) = sum p d e^s / (1 + d e^s) = sum p expit(s + log d) = -w, increasing in s
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        g = np.sum(probs * special.expit(mid[..., None] + log_d), axis=-1)
        above = g > target
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    u = -np.exp(0.5 * (lo + hi))
    reach = np.sum(probs * (values > 0), axis=-1)  # sup of g = 1 - P(d = 0)
    return np.where(target < reach * (1.0 - 1e-12), u, np.nan)


def haagerup_larsen_log_radius(sigma_w2, layers, t) -> np.ndarray:
    """log r(t) of the Haagerup-Larsen eigenvalue law of J, ``r(t)^2 = 1 / S_{JJ^T}(t - 1)``.

    ``P(|lambda| <= r(t)) = t`` for the eigenvalues of J (Haagerup & Larsen 2000), with the S-transform
    of J J^T the product of the layers' (see the module docstring).

    Parameters
    ----------
    sigma_w2 : sequence of float > 0, length L
        Weight variance times N, per layer.
    layers : list of (values, probs), length L
        The law of D_l^2 per layer as atoms, arrays >= 0 of shape (..., K_l) (a batch of laws per layer;
        values and probs broadcast against each other).
    t : array of float in (0, 1), shape (T,)

    Returns
    -------
    ndarray, shape (..., T)
        NaN where t is below the atom at 0.
    """
    sigma_w2 = v.check_array(sigma_w2, "sigma_w2", ndim=1, min_size=1)
    if np.any(sigma_w2 <= 0):
        raise ValueError("sigma_w2 must be positive")
    if isinstance(layers, (str, bytes)) or not isinstance(layers, (list, tuple)) or len(layers) != sigma_w2.size:
        raise TypeError(f"layers must be a list of (values, probs) pairs, one per entry of sigma_w2 ({sigma_w2.size}); "
                        f"got {layers!r:.60}")
    checked = []
    for i, law in enumerate(layers):
        if isinstance(law, (str, bytes)) or not isinstance(law, (tuple, list)) or len(law) != 2:
            raise TypeError(f"layers[{i}] must be a (values, probs) pair; got {law!r:.60}")
        values = np.atleast_1d(v.check_array(law[0], f"layers[{i}] values"))
        probs = np.atleast_1d(v.check_array(law[1], f"layers[{i}] probs"))
        if values.shape[-1] < 1 or np.any(values < 0) or np.any(probs < 0):
            raise ValueError(f"layers[{i}] must hold atoms of shape (..., K), K >= 1, values and probs >= 0")
        try:
            np.broadcast_shapes(values.shape, probs.shape)
        except ValueError:
            raise ValueError(f"layers[{i}]: values {values.shape} and probs {probs.shape} do not broadcast") from None
        checked.append((values, probs))
    t = v.check_array(t, "t", ndim=1)
    if np.any((t <= 0) | (t >= 1)):
        raise ValueError("t must be in (0, 1)")
    w = t - 1.0
    log_s = 0.0
    for s2, (values, probs) in zip(sigma_w2, checked):
        u = _inverse_psi_batch(values, probs, w)
        with np.errstate(invalid="ignore"):
            log_s = log_s + np.log(u / w) - math.log(s2)
    return -0.5 * log_s



_D2_GRID = np.linspace(0.0, 10.0, 251)
_D2_PROBS = np.exp(-0.5 * _D2_GRID**2) * np.where(_D2_GRID == 0, 1.0, 2.0)
_D2_PROBS = _D2_PROBS / _D2_PROBS.sum()


def gaussian_d2_atoms(activation, q: float) -> tuple[np.ndarray, np.ndarray]:
    """The law of ``phi'(sqrt(q) Z)^2``, Z standard normal, as 251 atoms (values, probabilities).

    Atoms on a uniform z-grid (step 0.04 on [0, 10]; phi' is even for every activation here).
    Gauss-Hermite nodes would be spaced too widely in the tails: saturated units give
    ``d ~ exp(-2 sqrt(q) |z|)``, and sparse atoms there put spurious bumps into the density at small x.
    """
    phi = get_activation(activation, sigmoid_type=True)
    q = v.check_real(q, "q", low=0.0)
    return phi.derivative(math.sqrt(q) * _D2_GRID, np) ** 2, _D2_PROBS




@dataclass
class FreeJacobianLaw:
    """Asymptotic (N -> infinity) spectral law of J J^T and J for i.i.d. finite-variance weights.

    Parameters
    ----------
    sigma_w2 : sequence of float, length L
        Weight variance times N, per layer.
    d2_laws : list of (values, probs), length L
        Law of the squared derivative D_l^2 of each layer, as atoms. ``[(1.0, 1.0)]`` for a
        linear layer.

    Use :meth:`from_config` for a network of fpkit and :meth:`linear` for products of
    Gaussian matrices.
    """

    sigma_w2: np.ndarray
    d2_laws: list = field(repr=False)
    _layers: list = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.sigma_w2 = v.check_array(self.sigma_w2, "sigma_w2").ravel()
        if self.sigma_w2.size < 1 or not np.all(self.sigma_w2 > 0):
            raise ValueError("sigma_w2 must be a non-empty sequence of positive numbers")
        try:
            n_laws = len(self.d2_laws) if not isinstance(self.d2_laws, (str, bytes)) else -1
        except TypeError:
            n_laws = -1
        if n_laws < 0:
            raise TypeError(f"d2_laws must be a list of (values, probs) pairs; got {type(self.d2_laws).__name__}")
        if n_laws != self.sigma_w2.size:
            raise ValueError(f"d2_laws must have one law per layer of sigma_w2 ({self.sigma_w2.size}); got {n_laws}")
        self._layers = []
        for i, law in enumerate(self.d2_laws):
            if isinstance(law, (str, bytes)) or not isinstance(law, (tuple, list)) or len(law) != 2:
                raise TypeError(f"d2_laws[{i}] must be a (values, probs) pair; got {law!r:.60}")
            values = np.atleast_1d(v.check_array(law[0], f"d2_laws[{i}] values"))
            probs = np.atleast_1d(v.check_array(law[1], f"d2_laws[{i}] probs"))
            if values.shape != probs.shape or np.any(values < 0) or np.any(probs < 0):
                raise ValueError("each d2 law needs non-negative values and probabilities of the same shape")
            if not math.isclose(probs.sum(), 1.0, rel_tol=1e-9):
                raise ValueError(f"d2 law probabilities must sum to 1; got {probs.sum()}")
            if np.all(values == 0):
                raise ValueError("a d2 law with all its mass at 0 gives J = 0")
            self._layers.append(_DiscreteLaw(values, probs))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def linear(cls, L: int, sigma_w: float = 1.0) -> FreeJacobianLaw:
        """Product of L square Gaussian matrices of variance sigma_w^2 / N (Fuss-Catalan law)."""
        L = v.check_int(L, "L", minimum=1)
        v.check_memory(64 * L, f"L = {L} layers")
        sigma_w = v.check_real(sigma_w, "sigma_w", low=0.0, low_open=True)
        if not 1e-150 < sigma_w < 1e150:
            raise ValueError(f"sigma_w must be in (1e-150, 1e150) (sigma_w^2 must be a positive float64); got {sigma_w:g}")
        return cls(np.full(L, sigma_w**2), [(1.0, 1.0)] * L)

    @classmethod
    def from_config(cls, config: NetworkConfig, input_second_moment: float | None = None) -> FreeJacobianLaw:
        """Theory for random networks of ``config`` (Gaussian weights and biases, or no biases).

        Parameters
        ----------
        config : NetworkConfig
            Must have ``law="gaussian"``; biases Gaussian or absent.
        input_second_moment : float, optional
            ``|x|^2 / N`` at the points where J is taken; default: inputs uniform on the
            activation's range (1/3 for tanh on [-1, 1] and for logistic on [0, 1]).
        """
        sigma_w, sigma_b = gaussian_weight_scales(config)
        if input_second_moment is None:
            input_second_moment = uniform_input_moments(config.activation)[1]
        input_second_moment = v.check_real(input_second_moment, "input_second_moment", low=0.0)
        phi = get_activation(config.activation, sigmoid_type=True)
        q = preactivation_variances(config.activation, config.L, sigma_w, sigma_b, input_second_moment)
        # The law of D_l^2 as atoms phi'(sqrt(q) z)^2 on a uniform z-grid (step 0.04 on [0, 10];
        # phi' is even for every activation here). Gauss-Hermite nodes would be spaced too
        # widely in the tails: saturated units give d ~ exp(-2 sqrt(q) |z|), and sparse atoms
        # there put spurious bumps into the density at small x.
        laws = [gaussian_d2_atoms(phi, ql) for ql in q]
        return cls(np.full(config.L, sigma_w**2), laws)

    # ------------------------------------------------------------------ closed forms
    @property
    def depth(self) -> int:
        return int(self.sigma_w2.size)

    def log_moments(self) -> tuple[float, float]:
        """(log m1, log m2) of J J^T (see :meth:`moments`): finite at any depth.

        ``log m1 = sum_l log(sigma_l^2 E[d_l])`` and ``log m2 = 2 log m1 + log(m2 / m1^2)``.
        """
        log_m1 = 0.0
        excess = 0.0
        for s2, law in zip(self.sigma_w2, self._layers):
            e1 = float(law.values @ law.probs)
            e2 = float(law.values**2 @ law.probs)
            log_m1 += math.log(s2) + math.log(e1)
            excess += e2 / e1**2
        return log_m1, 2.0 * log_m1 + math.log1p(excess)

    def moments(self) -> tuple[float, float]:
        """(m1, m2) of J J^T in closed form.

        ``m1 = prod_l sigma_l^2 E[d_l]`` and, since the normalised variance m2/m1^2 - 1 adds
        over free factors (it is minus the linear coefficient of S, times m1),
        ``m2 / m1^2 = 1 + sum_l (1 + E[d_l^2] / E[d_l]^2 - 1)`` (the 1 per layer is the
        Marchenko-Pastur factor).

        Raises
        ------
        ValueError
            Where m1 or m2 is outside the float64 range (deep networks, e.g. L = 1000 with
            sigma_w = 2); :meth:`log_moments` is finite there.
        """
        log_m1, log_m2 = self.log_moments()
        if not (_LOG_TINY < log_m1 < _LOG_MAX and _LOG_TINY < log_m2 < _LOG_MAX):
            raise ValueError(f"the moments of J J^T are outside the float64 range at depth L = {self.depth} "
                             f"(log m1 = {log_m1:.4g}, log m2 = {log_m2:.4g}); use log_moments(), or fewer layers")
        m1 = 1.0
        excess = 0.0
        for s2, law in zip(self.sigma_w2, self._layers):
            e1 = float(law.values @ law.probs)
            e2 = float(law.values**2 @ law.probs)
            m1 *= s2 * e1
            excess += 1.0 + (e2 / e1**2 - 1.0)
        return m1, m1 * m1 * (1.0 + excess)

    @property
    def atom_at_zero(self) -> float:
        """The mass of J J^T at 0, the largest over layers of P(D_l^2 = 0) (free multiplicative convolution)."""
        return max(law.atom_at_zero for law in self._layers)

    def log_s_transform(self, w: float) -> float:
        """log S_{JJ^T}(w) for real w in (-1, 0].

        Per layer ``S_{WW^T}(w) S_{D^2}(w) = u / (sigma^2 w)`` with ``u = psi_{D^2}^{-1}(w)`` (the
        factors 1 + w cancel), so ``log S = sum_l log(u_l / (sigma_l^2 w))``: a sum of logs, which
        cannot overflow for deep networks.
        """
        w = v.check_real(w, "w", low=-1.0, high=0.0, low_open=True)
        out = 0.0
        for s2, law in zip(self.sigma_w2, self._layers):
            e1 = float(law.values @ law.probs)
            if abs(w) < 1e-8:  # psi(u) = u E[d] + u^2 E[d^2] + ...: the root to second order
                ratio = 1.0 / e1 - w * float(law.values**2 @ law.probs) / e1**3
            else:
                ratio = law.inverse_psi_real(w) / w
            out += math.log(ratio) - math.log(s2)
        return out

    def s_transform(self, w: float) -> float:
        """S_{JJ^T}(w) for real w in (-1, 0]; a ValueError where it leaves the float64 range (deep
        networks): :meth:`log_s_transform` is finite there."""
        log_s = self.log_s_transform(w)
        if not _LOG_TINY < log_s < _LOG_MAX:
            raise ValueError(f"S(w) at w = {w} is outside the float64 range (log S = {log_s:.4g}); use log_s_transform")
        return math.exp(log_s)

    # ------------------------------------------------------------------ eigenvalues of J
    def eigenvalue_cdf(self, r) -> np.ndarray:
        """``P(|lambda| <= r)`` for the eigenvalues of J (Haagerup-Larsen; rotation invariant law).

        ``t = P(|lambda| <= r)`` solves ``S_{JJ^T}(t - 1) = 1 / r^2`` for r inside the ring
        (inner radius 0 for square Gaussian factors, outer radius ``sqrt(m1)``).
        """
        r = v.check_array(r, "r", finite=False)
        shape = np.atleast_1d(r).shape
        r = r.ravel()
        if np.any(~np.isfinite(r)) or np.any(r < 0):
            raise ValueError("r must be finite and >= 0")
        log_m1 = self.log_moments()[0]
        t_min = self.atom_at_zero
        out = np.empty_like(r)
        for i, ri in enumerate(r):
            if ri == 0.0:
                out[i] = t_min
                continue
            log_target = -2.0 * math.log(ri)  # log(1 / r^2), in logs: no overflow for any r
            if -log_target >= log_m1:
                out[i] = 1.0
                continue
            lo, hi = t_min + 1e-15, 1.0

            def g(t):
                return self.log_s_transform(t - 1.0) - log_target

            if g(lo) < 0:  # inside the inner radius
                out[i] = t_min
                continue
            out[i] = optimize.brentq(g, lo, hi, xtol=1e-13)
        return out.reshape(shape)

    def mass_outside(self, radius: float = 1.0) -> float:
        """Theory's fraction of eigenvalues of J with modulus above ``radius``."""
        radius = v.check_real(radius, "radius", low=0.0)
        return float(1.0 - self.eigenvalue_cdf(radius)[0])

    @property
    def outer_radius(self) -> float:
        """The edge sqrt(m1) of the eigenvalue law, the spectral radius of J in the limit."""
        return math.sqrt(self.moments()[0])

    def radial_quantile(self, t) -> np.ndarray:
        """r(t) with ``P(|lambda| <= r(t)) = t`` (Haagerup-Larsen: ``S_{JJ^T}(t - 1) = 1 / r^2``), vectorised.

        0 for t at or below the atom at 0; ``outer_radius`` at t = 1.
        """
        t = np.atleast_1d(v.check_array(t, "t", finite=False))
        if np.any(~np.isfinite(t)) or np.any((t < 0) | (t > 1)):
            raise ValueError("t must be in [0, 1]")
        inner = (t > 0) & (t < 1)
        out = np.where(t >= 1, self.outer_radius, 0.0)
        if inner.any():
            lr = haagerup_larsen_log_radius(self.sigma_w2, [(law.values, law.probs) for law in self._layers], t[inner])
            out[inner] = np.where(np.isnan(lr), 0.0, np.exp(lr))
        return out

    def log_potential(self, z: float = 1.0, *, nodes: int = 64) -> float:
        """``int log|z - lambda| dmu_J(lambda)`` for real z >= 0: the theory's (1/N) log|det(z - J)|.

        The eigenvalue law is rotation invariant, and by Jensen's formula the mean of
        ``log|z - r e^{i theta}|`` over theta is ``log max(|z|, r)``, so the integral is
        ``log|z| + int_{t*}^1 log(r(t) / |z|) dt`` with ``t* = P(|lambda| <= |z|)`` (Gauss-Legendre
        on [t*, 1], where the integrand is smooth). At z = 1 it is the large-N exponent of
        ``|det(I - J)|``, the determinant in the Kac-Rice formula; for a product of L Ginibre
        matrices of variance tau^(2/L) / N it is ``log tau - (L/2)(1 - tau^(-2/L))`` for tau > 1
        and 0 otherwise (Ipsen & Forrester 2018; see fpkit.kacrice).
        """
        z = v.check_real(z, "z", low=0.0)
        nodes = v.check_int(nodes, "nodes", minimum=4)
        if z == 0.0:
            raise ValueError("z must be > 0 (at z = 0 the potential is the mean log-modulus, not computed here)")
        if self.outer_radius <= z:
            return math.log(z)
        t_star = float(self.eigenvalue_cdf(z)[0])
        x, wts = np.polynomial.legendre.leggauss(nodes)
        t = t_star + (1.0 - t_star) * (x + 1.0) / 2.0
        lr = haagerup_larsen_log_radius(self.sigma_w2, [(law.values, law.probs) for law in self._layers], t)
        lr = np.where(np.isnan(lr), -np.inf, lr)
        return math.log(z) + float(np.sum(wts * np.maximum(lr - math.log(z), 0.0)) * (1.0 - t_star) / 2.0)

    # ------------------------------------------------------------------ density of J J^T
    def density(self, x, *, eta_final: float = 1e-10, steps: int = 120, newton: int = 30):
        """Density of J J^T at the points ``x`` > 0 (the atom at 0, if any, is not included).

        Solves, for every x at once, the system in (w, u_1 .. u_L)::

            w / (1 + w) * prod_l u_l / (sigma_l^2 w) = z,    psi_{D_l^2}(u_l) = w,

        with ``z = 1 / (x + i eta)`` (``w = psi_{JJ^T}(z)``), by Newton's method, tracking the
        root continuously (geometric steps) from ``eta = 10 max(x, support_hint())``, where it is the small-z
        branch, down to ``eta = eta_final * x`` (relative, so that the density is resolved
        at every scale: products of many layers spread it over many decades). The density is ``-Im G(x + i eta) / pi`` with
        ``G(zeta) = (1 + psi(1 / zeta)) / zeta``. ``eta_final`` is in (0, 1] (a relative smoothing),
        ``steps`` >= 2 and ``newton`` >= 1.

        Returns
        -------
        ndarray, shape like ``x``
        """
        x = v.check_array(x, "x", finite=False)
        if x.size == 0 or np.any(~np.isfinite(x)) or np.any(x <= 0):
            raise ValueError("x must be a non-empty array of finite numbers > 0")
        eta_final = v.check_real(eta_final, "eta_final", low=0.0, high=1.0, low_open=True)
        steps = v.check_int(steps, "steps", minimum=2)
        newton = v.check_int(newton, "newton", minimum=1)
        flat = x.ravel()
        scale = max(float(flat.max()), self.support_hint())  # |z| * support << 1 at the start
        if flat.max() > self.support_hint() / _MIN_RELATIVE_X:
            raise ValueError(f"x must be <= support_hint() / {_MIN_RELATIVE_X:g} = "
                             f"{self.support_hint() / _MIN_RELATIVE_X:.3g} (far beyond the support the tracking "
                             "underflows; the density there is 0)")
        if flat.min() < _MIN_RELATIVE_X * self.support_hint():
            raise ValueError(
                f"x must be >= {_MIN_RELATIVE_X:g} * support_hint() = {_MIN_RELATIVE_X * self.support_hint():.3g}: "
                "below that, 1 + psi(1/x) underflows in float64"
            )
        m1 = self.moments()[0]
        eta0, eta1 = 10.0 * scale, eta_final * flat  # per point: from far away to eta_final * x
        z = 1.0 / (flat + 1j * eta0)
        w = m1 * z
        u = [w / float(law.values @ law.probs) for law in self._layers]
        with np.errstate(all="ignore"):  # a point whose tracking fails is reported below
            for t in np.linspace(0.0, 1.0, steps):
                z = 1.0 / (flat + 1j * eta0 ** (1.0 - t) * eta1**t)
                w, u = self._newton(z, w, u, newton, 1e-13 if t == 1.0 else 1e-9)
            G = (1.0 + w) * z
        bad = ~np.isfinite(G)
        if bad.any():
            raise ValueError(f"x must be larger here: at x = {flat[bad].min():.3g} (of {bad.sum()} point(s)) "
                             "1 + psi(1/x) is below float64 resolution and the density cannot be tracked; "
                             f"it can at x >= {flat[~bad].min() if (~bad).any() else math.nan:.3g}")
        return (-G.imag / np.pi).reshape(x.shape)

    def _newton(self, z, w, u, iters, tol):
        """Newton steps on the (arrow-shaped) system, each point until its own step is < tol."""
        L = self.depth
        w = w.copy()
        u = [ul.copy() for ul in u]
        act = np.arange(w.size)
        for _ in range(iters):
            wa, za = w[act], z[act]
            ua = [ul[act] for ul in u]
            ratio = wa / (1.0 + wa) / za
            for s2, ul in zip(self.sigma_w2, ua):
                ratio = ratio * ul / (s2 * wa)
            num = ratio - 1.0
            den = ratio * (1.0 / wa - 1.0 / (1.0 + wa) - L / wa)
            res, dpsi = [], []
            for law, ul in zip(self._layers, ua):
                p, dp = law.psi(ul)
                res.append(p - wa)
                dpsi.append(dp)
                b = ratio / ul
                num = num - b * (p - wa) / dp
                den = den + b / dp
            dw = -num / den
            # damp steps that would move w by more than half its size
            big = np.abs(dw) > 0.5 * np.abs(wa)
            dw = np.where(big, dw * 0.5 * np.abs(wa) / np.maximum(np.abs(dw), 1e-300), dw)
            for ul, rl, dp in zip(u, res, dpsi):
                ul[act] = ul[act] + (dw - rl) / dp
            w[act] = wa + dw
            act = act[np.abs(dw) > tol * np.abs(w[act])]
            if act.size == 0:
                break
        return w, u

    def cdf(self, x, *, per_decade: int = 15) -> np.ndarray:
        """P(JJ^T <= x), as ``1 - integral of the density from x to the right edge``.

        Integrated from the top (trapezoid rule in log x on a grid from ``min(x)`` to
        :meth:`support_hint`, ``per_decade`` points per decade), so it stays right however much
        mass lies at tiny x (saturated units put a lot there: the spectrum can span dozens of
        decades).
        """
        x = v.check_array(x, "x", finite=False)
        if x.size == 0 or np.any(~np.isfinite(x)):
            raise ValueError("x must be a non-empty array of finite numbers")
        per_decade = v.check_int(per_decade, "per_decade", minimum=2)
        top = self.support_hint()
        pos = x[x > 0]
        bottom = min(float(pos.min()) if pos.size else top, top) * 0.5
        bottom = max(bottom, _MIN_RELATIVE_X * top)  # below: the value there (all mass above it)
        n = int(math.ceil(per_decade * math.log10(top / bottom))) + 2
        grid = np.geomspace(bottom, top, n)
        d = self.density(grid)
        inc = 0.5 * (d[1:] * grid[1:] + d[:-1] * grid[:-1]) * np.diff(np.log(grid))
        upper = np.concatenate([np.cumsum(inc[::-1])[::-1], [0.0]])  # mass in (grid_k, top]
        cdf = np.clip(1.0 - upper, 0.0, 1.0)
        out = np.interp(x, grid, cdf, left=cdf[0], right=1.0)
        return np.where(x <= 0, self.atom_at_zero, out)

    def ks_distance(self, samples, *, rel_floor: float = 1e-20) -> float:
        """Kolmogorov-Smirnov distance between the law of JJ^T and the ESD of ``samples``.

        The supremum is taken over ``x >= rel_floor * max(samples)`` (and over the range where
        :meth:`density` is resolved, ``x >= 1e-100 * support_hint()``). The floor is where
        sampled values stop being data: the singular values of a float64 matrix are computed
        with an absolute error of about ``1e-16 * sigma_max``, so squared singular values far
        below ``1e-20 * max`` (singular values below ``1e-10 sigma_max``) are rounding noise,
        the more so for a product of many layers. The mass below the floor still enters
        through the CDF at the floor.
        """
        s = np.sort(v.check_array(samples, "samples").ravel())
        if s.size == 0:
            raise ValueError("samples must not be empty")
        rel_floor = v.check_real(rel_floor, "rel_floor", low=0.0, high=1.0)
        n = s.size
        keep = s >= max(_MIN_RELATIVE_X * self.support_hint(), rel_floor * s[-1])
        if not keep.any():
            raise ValueError("samples must have values above rel_floor * max(samples) and above "
                             f"{_MIN_RELATIVE_X:g} * support_hint() (all of them are 0 or too small)")
        F = self.cdf(s[keep])
        above = np.arange(1, n + 1)[keep] / n  # empirical CDF at the sample, and just below it
        below = np.arange(n)[keep] / n
        return float(max(np.max(above - F), np.max(F - below)))

    def support_hint(self) -> float:
        """An upper bound for the right edge of the support, for plotting grids: 3 m2 / m1."""
        m1, m2 = self.moments()
        return 3.0 * m2 / m1

