"""Spectra of the input-output Jacobian J_F = D_L W_L ... D_1 W_1: sampled, and in theory.

Empirical side
    :func:`jacobian_spectrum` gives the (complex) eigenvalues of J_F and the eigenvalues of
    J_F J_F^T (squared singular values) at given points, batched over an :class:`~fpkit.network.Ensemble`
    (:func:`matrix_spectrum` for any stack of matrices); :func:`spectrum_statistics` reduces
    them per network to the quantities that bear on fixed points (mass outside the unit circle,
    real eigenvalues above 1, spectral radius); :func:`preactivations` gives the layers'
    pre-activations h_l, whose law the theory predicts; :func:`fixed_point_index_sums` checks
    the degree argument on a network's fixed points.

Finite-variance theory (free probability)
    For i.i.d. weights of variance sigma_w^2 / N the factors W_l W_l^T and D_l^2 are
    asymptotically free, and the S-transform of J J^T is the product of theirs (Pennington,
    Schoenholz & Ganguli 2017, 2018; Pastur & Slavin 2020, 2022 for i.i.d. entries)::

        S_{JJ^T}(w) = prod_l S_{WW^T}(w) S_{D_l^2}(w),   S_{WW^T}(w) = 1 / (sigma_w^2 (1 + w)),

    where D_l^2 has the law of phi'(h)^2 with h ~ N(0, q_l) and q_l follows the mean-field
    length map. :class:`FreeJacobianLaw` turns this into the density of J J^T (Stieltjes
    transform solved on a grid by Newton's method, tracked from far above the real axis down
    to it), its first two moments in closed form, and - because a product of Gaussian layers
    is R-diagonal - the law of the eigenvalues of J itself by the Haagerup-Larsen theorem:
    rotation invariant, with ``P(|lambda| <= r) = t`` where ``S_{JJ^T}(t - 1) = 1 / r^2``.
    The mass of that law outside the unit circle is the theory's count of unstable directions.

Heavy tails (Cauchy weights, fan-in scaling s / N)
    Free probability needs finite variance and fails here. Two results that do hold:
    :func:`cauchy_scale_sequence` - a sum of independent Cauchy variables is Cauchy, so each
    pre-activation is exactly Cauchy with scale ``s mean|x| + beta`` (the heavy-tailed
    analogue of the length map); and :func:`cavity_jjt_density`, the population-dynamics
    solution of the cavity equations on the bipartite Poisson weighted infinite tree, the
    local limit of a heavy-tailed matrix (Cizeau & Bouchaud 1994; Bordenave, Caputo & Chafai
    2011), for one layer J = D W, with the correlation between a unit's derivative and its
    own large weights kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from . import _validate as v
from .backend import make_rng, to_numpy
from .engine.result import FixedPoints, fixed_point_index  # noqa: F401  (the index re-exported: chapter 5's bridge)
from .activations import get_activation
from .network import Ensemble, NetworkConfig

__all__ = [
    "FreeJacobianLaw",
    "JacobianSpectrum",
    "cauchy_scale_sequence",
    "cauchy_fixed_scale",
    "cavity_jjt_density",
    "cavity_s_transform",
    "fixed_point_index",
    "fixed_point_index_sums",
    "gaussian_d2_atoms",
    "fuss_catalan_moment",
    "jacobian_spectrum",
    "marchenko_pastur_density",
    "mass_outside",
    "matrix_spectrum",
    "preactivation_variances",
    "preactivations",
    "real_eigenvalue_mask",
    "smoothed_esd",
    "spectrum_statistics",
]


# ---------------------------------------------------------------------------
# Empirical spectra
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JacobianSpectrum:
    """Spectra of J_F at a batch of points.

    ``eigenvalues`` (complex, shape (E, M, N)) holds the eigenvalues of J_F(x[e, m]); ``sv2``
    (shape (E, M, N)) those of J_F J_F^T (squared singular values), descending.
    """

    eigenvalues: np.ndarray
    sv2: np.ndarray

    @property
    def spectral_radius(self) -> np.ndarray:
        """The largest ``|lambda|`` per point, shape (E, M)."""
        return np.abs(self.eigenvalues).max(axis=-1)

    def pooled(self) -> tuple[np.ndarray, np.ndarray]:
        """All eigenvalues and all squared singular values, flattened."""
        return self.eigenvalues.ravel(), self.sv2.ravel()


def matrix_spectrum(matrices) -> JacobianSpectrum:
    """Eigenvalues of real square matrices ``A`` and of ``A A^T``, shape (..., N, N) -> (..., N).

    LAPACK on the host (:func:`numpy.linalg.eigvals`, :func:`numpy.linalg.svd`); the squared
    singular values are sorted in descending order. The entries must be real and finite, with
    ``N max|A_ij|`` below ``sqrt(float64 max)`` (about 1.3e154) so that ``A A^T`` is finite.
    """
    a = v.check_array(matrices, "matrices", finite=False, complex_ok=True)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"matrices must have shape (..., N, N); got {a.shape}")
    if np.iscomplexobj(a):
        raise ValueError("matrices must be real (Jacobians of real networks)")
    if not np.all(np.isfinite(a)):
        raise ValueError("matrices must be finite (found NaN or inf)")
    if np.abs(a).max(initial=0.0) >= _SQRT_MAX / max(a.shape[-1], 1):
        raise ValueError(f"matrices must have N max|A_ij| < {_SQRT_MAX:.3g} (A A^T overflows float64); got "
                         f"max|A_ij| = {np.abs(a).max():.3g} with N = {a.shape[-1]}")
    sv = np.linalg.svd(a, compute_uv=False)
    return JacobianSpectrum(eigenvalues=np.linalg.eigvals(a), sv2=sv**2)


def jacobian_spectrum(ensemble: Ensemble, x) -> JacobianSpectrum:
    """Eigenvalues of J_F(x) and of J_F(x) J_F(x)^T for every network and point.

    Parameters
    ----------
    ensemble : Ensemble
    x : array, shape (E, M, N)
        Points (random inputs, or fixed points from the engine).

    Returns
    -------
    JacobianSpectrum
        ``eigenvalues`` and ``sv2`` of shape (E, M, N).
    """
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be an Ensemble; got {type(ensemble).__name__}")
    jac = to_numpy(ensemble.jacobian(x))
    if not np.all(np.isfinite(jac)) or np.abs(jac).max(initial=0.0) >= _SQRT_MAX / max(jac.shape[-1], 1):
        raise ValueError(
            f"J_F(x) J_F(x)^T overflows float64 at some points of x (L = {ensemble.depth}); use "
            "Ensemble.forward_with_scaled_jacobian (J_F as a finite matrix times a power of 2) and "
            "Ensemble.jacobian_eigenvalues there"
        )
    return matrix_spectrum(jac)


def preactivations(ensemble: Ensemble, x):
    """The pre-activations ``h_l = W_l x_{l-1} + b_l`` of every layer, for points ``x``.

    Computed on the ensemble's backend with its own activation (``x_l = phi(h_l)``), the same
    layer map as :meth:`~fpkit.network.Ensemble.forward`.

    Parameters
    ----------
    ensemble : Ensemble
        E networks of depth L and width N.
    x : array, shape (E, M, N)
        M >= 1 inputs per network, real and finite (see :meth:`~fpkit.network.Ensemble.check_points`).

    Returns
    -------
    array, shape (E, L, M, N)
        ``h[:, l]`` is the pre-activation of layer ``l + 1``; the last layer's output is
        ``phi(h[:, -1])``, which equals ``ensemble.forward(x)``.
    """
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be an Ensemble; got {type(ensemble).__name__}")
    xp = ensemble.xp
    L = ensemble.depth
    x = ensemble.check_points(x, "x")
    out = []
    for layer in range(L):
        h = xp.matmul(x, xp.swapaxes(ensemble.weights[:, layer], -1, -2)) + ensemble.biases[:, layer, None, :]
        out.append(h)
        x = ensemble.activation(h, xp)
    return xp.stack(out, axis=1)


def real_eigenvalue_mask(eigenvalues) -> np.ndarray:
    """Which eigenvalues of real matrices are real: ``imag == 0``, exactly, no tolerance.

    For a real matrix LAPACK (``dgeev``, behind :func:`numpy.linalg.eigvals` and
    :func:`jacobian_spectrum`) reduces to the real Schur form: a real eigenvalue is a 1 x 1
    block and gets an imaginary part of exactly 0; the 2 x 2 blocks give conjugate pairs with
    non-zero imaginary parts. So the test is exact for eigenvalues computed that way, and it is
    consistent with the sign of ``det(I - J)`` (see :func:`fixed_point_index`): the parity of
    the number of real eigenvalues above 1 is that sign (checked in the tests). A tolerance such
    as ``|imag| < 1e-12`` would instead depend on the scale of J.
    """
    ev = np.asarray(eigenvalues)
    if not np.iscomplexobj(ev):
        return np.ones(ev.shape, dtype=bool)
    return ev.imag == 0


def spectrum_statistics(spectrum: JacobianSpectrum) -> pd.DataFrame:
    """Per network, the statistics of J's eigenvalues that bear on fixed points.

    Parameters
    ----------
    spectrum : JacobianSpectrum
        Eigenvalues of shape (E, M, N), finite: M >= 1 points (e.g. random inputs) per network.

    Returns
    -------
    pandas.DataFrame
        One row per network (E rows): ``network``; ``mass_outside_unit_circle``, the fraction of
        its eigenvalues with modulus above 1 (the ESD's mass outside the unit circle, the
        unstable directions); ``p_real_eigenvalue_above_1``, the fraction of its points at which
        J has a real eigenvalue above 1 (:func:`real_eigenvalue_mask`; an index -1 fixed point
        needs one); ``mean_spectral_radius``, the largest modulus averaged over its points.
    """
    if not isinstance(spectrum, JacobianSpectrum):
        raise TypeError(f"spectrum must be a JacobianSpectrum; got {type(spectrum).__name__}")
    ev = v.check_array(spectrum.eigenvalues, "spectrum.eigenvalues", complex_ok=True)
    if ev.ndim != 3 or ev.shape[1] < 1 or ev.shape[2] < 1:
        raise ValueError(f"spectrum.eigenvalues must have shape (E, M, N) with M, N >= 1; got {ev.shape}")
    modulus = np.abs(ev)
    real_above = np.any(real_eigenvalue_mask(ev) & (ev.real > 1.0), axis=-1)
    return pd.DataFrame({"network": np.arange(ev.shape[0]),
                         "mass_outside_unit_circle": (modulus > 1.0).mean(axis=(1, 2)),
                         "p_real_eigenvalue_above_1": real_above.mean(axis=1),
                         "mean_spectral_radius": (modulus.max(axis=-1) / ev.shape[1]).sum(axis=1)})


def fixed_point_index_sums(result) -> pd.DataFrame:
    """Per network: the sum of the indices of the fixed points found, and what it says.

    By the degree argument of :func:`fixed_point_index` the indices of *all* fixed points of a
    network sum to 1, so ``index_sum != 1`` means the search missed some (``index_sum > 1``: one
    of index -1, a saddle, is missing).

    Parameters
    ----------
    result : FixedPoints
        From :func:`~fpkit.engine.find_fixed_points` (best with ``newton=True``: iteration
        alone finds only attractors).

    Returns
    -------
    pandas.DataFrame
        One row per network (all E of them, also those with no fixed point found):
        ``network``, ``index_sum``, ``index_complete`` (``index_sum == 1``), ``fixed_points``,
        ``index_minus`` (fixed points of index -1), ``stable_fixed_points``.
    """
    if not isinstance(result, FixedPoints):
        raise TypeError(f"result must be a FixedPoints; got {type(result).__name__}")
    idx = result.index
    E = result.n_networks
    net = np.asarray(result.fp_network)
    sums = result.index_sum()
    return pd.DataFrame({"network": np.arange(E), "index_sum": sums, "index_complete": sums == 1,
                         "fixed_points": np.bincount(net, minlength=E),
                         "index_minus": np.bincount(net[idx == -1], minlength=E),
                         "stable_fixed_points": np.bincount(net[np.asarray(result.stable)], minlength=E)})


def mass_outside(eigenvalues, radius: float = 1.0) -> float:
    """Fraction of the eigenvalues with modulus above ``radius`` (the ESD's mass outside the circle)."""
    radius = v.check_real(radius, "radius", low=0.0)
    ev = v.check_array(eigenvalues, "eigenvalues", finite=False, complex_ok=True).ravel()
    if ev.size == 0:
        raise ValueError("eigenvalues must not be empty")
    if np.isnan(ev).any():
        raise ValueError("eigenvalues must not contain NaN")
    return float(np.mean(np.abs(ev) > radius))


def smoothed_esd(values, x, eta: float = 0.05) -> np.ndarray:
    """The empirical ESD of ``values`` seen at ``z = x (1 + i eta)``: ``Im mean 1/(v - z) / pi``.

    This is what :func:`cavity_jjt_density` returns for the theory, so the two compare at the
    same spectral parameter (the ESD convolved with the same Lorentzian), without binning.
    """
    vals = v.check_array(values, "values").ravel()
    x = v.check_array(x, "x", finite=False)
    if vals.size == 0:
        raise ValueError("values must not be empty")
    if x.size == 0 or np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError("x must be a non-empty array of finite numbers > 0")
    eta = v.check_real(eta, "eta", low=1e-12, high=1e6)
    z = x.ravel() * (1.0 + 1j * eta)
    with np.errstate(all="ignore"):
        out = np.array([np.mean(1.0 / (vals - zi)).imag / np.pi for zi in z])
    if not np.all(np.isfinite(out)):
        raise ValueError("values and x must keep 1 / (values - x (1 + i eta)) within float64 (their "
                         "magnitudes are too far apart)")
    return out.reshape(x.shape)


# ---------------------------------------------------------------------------
# Closed forms used as checks
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Mean-field statistics of the layers
# ---------------------------------------------------------------------------

_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(201)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def _gauss(f, q: float) -> float:
    """E[f(sqrt(q) Z)], Z standard normal (201-node Gauss-Hermite)."""
    return float(np.dot(_GH_WEIGHTS, f(math.sqrt(q) * _GH_NODES)))


def preactivation_variances(activation: str, L: int, sigma_w: float, sigma_b: float, input_second_moment: float):
    """Mean-field pre-activation variances q_1 .. q_L of a Gaussian network at a typical input.

    ``q_1 = sigma_w^2 m_x + sigma_b^2`` with ``m_x = |x|^2 / N``, and
    ``q_{l+1} = sigma_w^2 E[phi(sqrt(q_l) Z)^2] + sigma_b^2`` (Poole et al. 2016).
    """
    phi = get_activation(activation, sigmoid_type=True)
    L = v.check_int(L, "L", minimum=1)
    v.check_memory(8 * L, f"L = {L} layers")
    sigma_w = v.check_real(sigma_w, "sigma_w", low=0.0, low_open=True)
    sigma_b = v.check_real(sigma_b, "sigma_b", low=0.0)
    mx = v.check_real(input_second_moment, "input_second_moment", low=0.0)
    q = np.empty(L)
    with np.errstate(over="ignore"):
        q[0] = np.float64(sigma_w) ** 2 * mx + np.float64(sigma_b) ** 2
        for layer in range(1, L):
            if not q[layer - 1] < 1e300:
                break
            q[layer] = np.float64(sigma_w) ** 2 * _gauss(lambda h: phi(h, np) ** 2, q[layer - 1]) + np.float64(sigma_b) ** 2
    if not np.all(q < 1e300):
        raise ValueError(f"the pre-activation variances overflow float64 for sigma_w={sigma_w:g}, sigma_b={sigma_b:g}, "
                         f"input_second_moment={mx:g}; use smaller values")
    return q


def _uniform_second_moment(low: float, high: float) -> float:
    return (low * low + low * high + high * high) / 3.0


def _uniform_mean_abs(low: float, high: float) -> float:
    if low >= 0.0:
        return (low + high) / 2.0
    return (low * low + high * high) / (2.0 * (high - low))


# ---------------------------------------------------------------------------
# Free-probability theory for finite-variance weights
# ---------------------------------------------------------------------------


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


def _log_radius(sigma_w2, layers, t: np.ndarray) -> np.ndarray:
    """log r(t) of the Haagerup-Larsen eigenvalue law, r(t)^2 = 1 / S_{JJ^T}(t - 1), shape (..., T).

    ``layers``: list of (values, probs) with arrays of shape (..., K_l); ``sigma_w2``: per layer.
    NaN where t is below the atom at 0.
    """
    w = np.asarray(t, dtype=float) - 1.0
    log_s = 0.0
    for s2, (values, probs) in zip(sigma_w2, layers):
        u = _inverse_psi_batch(values, probs, w)
        with np.errstate(invalid="ignore"):
            log_s = log_s + np.log(u / w) - math.log(s2)
    return -0.5 * log_s



_LOG_MAX = math.log(np.finfo(np.float64).max)
_SQRT_MAX = math.sqrt(np.finfo(np.float64).max)
_LOG_TINY = math.log(np.finfo(np.float64).tiny)
_MIN_RELATIVE_X = 1e-100  # density() is reliable down to this fraction of the support's edge


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
        if not isinstance(config, NetworkConfig):
            raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
        if input_second_moment is not None:
            input_second_moment = v.check_real(input_second_moment, "input_second_moment", low=0.0)
        if config.law != "gaussian":
            raise ValueError(
                f"config must have finite-variance (law='gaussian') weights for FreeJacobianLaw; got "
                f"law={config.law!r}. For Cauchy weights use cavity_jjt_density."
            )
        blaw = config.biases_law()
        if blaw is not None and blaw.name != "gaussian":
            raise ValueError(f"config must have Gaussian or no biases for FreeJacobianLaw; got bias law {blaw.name!r}")
        sigma_b = 0.0 if blaw is None else config.bias_scale
        sigma_w = config.scale * (math.sqrt(config.N) if config.convention == "absolute" else 1.0)
        phi = get_activation(config.activation, sigmoid_type=True)
        if input_second_moment is None:
            input_second_moment = _uniform_second_moment(phi.low, phi.high)
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
        t = np.atleast_1d(np.asarray(t, dtype=float))
        if np.any(~np.isfinite(t)) or np.any((t < 0) | (t > 1)):
            raise ValueError("t must be in [0, 1]")
        inner = (t > 0) & (t < 1)
        out = np.where(t >= 1, self.outer_radius, 0.0)
        if inner.any():
            lr = _log_radius(self.sigma_w2, [(law.values, law.probs) for law in self._layers], t[inner])
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
        lr = _log_radius(self.sigma_w2, [(law.values, law.probs) for law in self._layers], t)
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


# ---------------------------------------------------------------------------
# Heavy tails: Cauchy weights
# ---------------------------------------------------------------------------


def _check_cauchy(config: NetworkConfig) -> tuple[float, float]:
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    if config.law != "cauchy" or config.convention != "fan_in":
        raise ValueError(
            f"config must have law='cauchy' with convention='fan_in' here; got law={config.law!r}, "
            f"convention={config.convention!r}"
        )
    blaw = config.biases_law()
    if blaw is not None and blaw.name != "cauchy":
        raise ValueError(f"config must have Cauchy biases or none here; got bias law {blaw.name!r}")
    return config.scale, (0.0 if blaw is None else config.bias_scale)


def _cauchy_expectation(f, gamma: float, n: int = 4001) -> float:
    """E[f(gamma C)] for standard Cauchy C, by the substitution C = tan(pi (U - 1/2))."""
    u = (np.arange(n) + 0.5) / n
    return float(np.mean(f(gamma * np.tan(np.pi * (u - 0.5)))))


def cauchy_scale_sequence(config: NetworkConfig, input_mean_abs: float | None = None) -> np.ndarray:
    """Cauchy scales gamma_1 .. gamma_L of the pre-activations of a Cauchy network.

    With W_ij = (s / N) C_ij and b_i = beta C_i, the pre-activation ``h_i = sum_j W_ij x_j + b_i``
    is, given x, exactly Cauchy with scale ``s mean_j |x_j| + beta`` (stability of the Cauchy
    law, at every N). Deeper layers use the law of large numbers for ``mean_j |x_j|``::

        gamma_1 = s m + beta,    gamma_{l+1} = s E|phi(gamma_l C)| + beta.

    Parameters
    ----------
    config : NetworkConfig
        ``law="cauchy"``, ``convention="fan_in"``, Cauchy biases or none.
    input_mean_abs : float, optional
        ``mean_j |x_j|`` of the input; default: inputs uniform on the activation's range.
    """
    s, beta = _check_cauchy(config)
    phi = get_activation(config.activation, sigmoid_type=True)
    if input_mean_abs is None:
        input_mean_abs = _uniform_mean_abs(phi.low, phi.high)
    m = v.check_real(input_mean_abs, "input_mean_abs", low=0.0)
    gam = np.empty(config.L)
    gam[0] = s * m + beta if m < 1e300 / max(s, 1.0) else math.inf
    if not gam[0] < 1e300:
        raise ValueError(f"input_mean_abs = {m:g} is too large: the first scale s * input_mean_abs + beta overflows")
    for layer in range(1, config.L):
        gam[layer] = s * _cauchy_expectation(lambda h: np.abs(phi(h, np)), gam[layer - 1]) + beta
    return gam


def _population_options(population, sweeps, burn_in, cutoff, seed):
    """Checked options of the population-dynamics solvers, and their generator."""
    population = v.check_int(population, "population", minimum=10)
    sweeps = v.check_int(sweeps, "sweeps", minimum=2)
    burn_in = v.check_int(burn_in, "burn_in", minimum=0)
    if burn_in >= sweeps:
        raise ValueError(f"burn_in must be < sweeps ({sweeps}); got {burn_in}")
    cutoff = v.check_real(cutoff, "cutoff", low=0.0, high=1e3, low_open=True)
    return population, sweeps, burn_in, cutoff, make_rng(seed, np)


def cavity_jjt_density(
    config: NetworkConfig,
    x,
    *,
    eta: float = 0.05,
    population: int = 4000,
    sweeps: int = 40,
    burn_in: int = 15,
    cutoff: float = 0.02,
    seed: Any,
):
    """Density of J J^T for ONE Cauchy layer J = D W (N -> infinity), by population dynamics.

    The local limit of W = (s/N) C is the bipartite Poisson weighted infinite tree: a unit
    has O(1) weights ``|w| >= t`` with intensity ``(2 s / pi) t^-2``. On a tree the resolvent of
    the Hermitisation H = [[0, J], [J^T, 0]] obeys ``G_v = -1 / (zeta + sum_c J_vc^2 G_c)``
    over the children c of v. A row unit i has ``J_ic = d_i w_ic`` with
    ``d_i = phi'(h_i)``, ``h_i = sum_c w_ic x_c + b_i``: its derivative depends on its own
    large weights, a correlation free probability ignores and which matters here (a large
    weight saturates the unit). Rows carry ``(S, h)`` = (sum over children of w^2 G, sum of
    w x + bias), columns carry ``(T, x)``; weights below ``cutoff`` are summed in the mean
    (their number is large, each is small).

    Parameters
    ----------
    config : NetworkConfig
        ``law="cauchy"``, ``convention="fan_in"``; only layer 1 is modelled (inputs uniform on
        the activation's range).
    x : array of float > 0
        Where the density is evaluated.
    eta : float
        Imaginary part of the spectral parameter relative to x: the density at x is smoothed
        over a relative width eta (the spectrum spans many decades, so a relative width).
    population, sweeps, burn_in : int
        Population size, number of sweeps, sweeps discarded before averaging.
    cutoff : float
        Smallest weight kept explicitly.
    seed : int or Generator

    Returns
    -------
    ndarray, shape like ``x``
    """
    s, beta = _check_cauchy(config)
    phi = get_activation(config.activation, sigmoid_type=True)
    x = v.check_array(x, "x", finite=False)
    if x.size == 0 or np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError("x must be a non-empty array of finite numbers > 0")
    eta = v.check_real(eta, "eta", low=0.0, low_open=True)
    P, sweeps, burn_in, cutoff, rng = _population_options(population, sweeps, burn_in, cutoff, seed)
    v.check_memory(16 * 8 * x.size * P, f"population * x.size = {P} * {x.size} complex numbers")
    if 2.0 * s / (math.pi * cutoff) * P > 1e8:
        raise ValueError(f"cutoff = {cutoff:g} is too small: about {2.0 * s / (math.pi * cutoff) * P:.3g} explicit "
                         f"weights per sweep (population {P}); use cutoff >= {2.0 * s * P / (math.pi * 1e8):.3g}")

    flat = x.ravel()
    zeta = np.sqrt(flat * (1.0 + 1j * eta))  # (K,), Im > 0
    K = flat.size
    lam = 2.0 * s / (np.pi * cutoff)  # mean number of weights above the cutoff
    small = 2.0 * s * cutoff / np.pi  # sum of w^2 over the weights below the cutoff (per unit)
    lo, hi = phi.low, phi.high
    ex2 = _uniform_second_moment(lo, hi)

    def weights(n_items):
        counts = rng.poisson(lam, n_items)
        owner = np.repeat(np.arange(n_items), counts)
        w = cutoff / rng.uniform(size=owner.size) * rng.choice([-1.0, 1.0], size=owner.size)
        return owner, w

    def bias(n):
        return beta * rng.standard_cauchy(n) if beta > 0 else np.zeros(n)

    def csum(owner, vals):  # per-owner sum of a complex vector
        return np.bincount(owner, vals.real, P) + 1j * np.bincount(owner, vals.imag, P)

    S = np.zeros((K, P), dtype=complex)  # rows: sum over children of w^2 G_child
    T = np.zeros((K, P), dtype=complex)  # columns: sum over children of (d w)^2 G_child
    xcol = rng.uniform(lo, hi, P)
    hrow = s * _uniform_mean_abs(lo, hi) * rng.standard_cauchy(P) + bias(P)
    acc = np.zeros(K, dtype=complex)
    n_acc = 0
    for sweep in range(sweeps):
        # new rows: their children are columns
        owner_r, w_r = weights(P)
        pick_r = rng.integers(0, P, owner_r.size)
        hrow = np.bincount(owner_r, w_r * xcol[pick_r], P) + math.sqrt(small * ex2) * rng.standard_normal(P) + bias(P)
        d2_root = phi.derivative(hrow, np) ** 2  # a row without parent (the root)
        # new columns: their children are rows, whose h includes the edge to this column
        owner_c, w_c = weights(P)
        pick_c = rng.integers(0, P, owner_c.size)
        xnew = rng.uniform(lo, hi, P)
        d2_child = phi.derivative(w_c * xnew[owner_c] + hrow[pick_c], np) ** 2
        for k in range(K):
            Gc = -1.0 / (zeta[k] + T[k])
            S[k] = csum(owner_r, w_r**2 * Gc[pick_r]) + small * Gc.mean()
            G_root = -1.0 / (zeta[k] + d2_root * S[k])
            if sweep >= burn_in:
                acc[k] += G_root.mean()
            Gr = -1.0 / (zeta[k] + d2_child * S[k][pick_c])
            T[k] = csum(owner_c, d2_child * w_c**2 * Gr) + small * (d2_root * G_root).mean()
        xcol = xnew
        if sweep >= burn_in:
            n_acc += 1
    g_row = acc / n_acc  # diagonal resolvent of H at a row unit
    g = g_row / zeta  # E (JJ^T - zeta^2)^-1_ii
    return (g.imag / np.pi).reshape(x.shape)


def cauchy_fixed_scale(config: NetworkConfig, *, tol: float = 1e-12, max_iter: int = 1000) -> float:
    """The fixed point gamma* of the Cauchy scale map ``gamma -> s E|phi(gamma C)| + beta``.

    At a fixed point x* = F(x*) of a wide Cauchy network the orbit's pre-activations are Cauchy
    with a common scale, which must be this fixed point (the cyclic version of
    :func:`cauchy_scale_sequence`; the map is increasing and bounded, so iteration converges).
    Stops when a step changes gamma by at most ``tol * max(1, gamma)`` (``tol`` >= 0), or after
    ``max_iter`` (>= 1) steps.
    """
    s, beta = _check_cauchy(config)
    tol = v.check_real(tol, "tol", low=0.0)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    phi = get_activation(config.activation, sigmoid_type=True)
    gam = s * _uniform_mean_abs(phi.low, phi.high) + beta
    for _ in range(max_iter):
        new = s * _cauchy_expectation(lambda h: np.abs(phi(h, np)), gam) + beta
        if abs(new - gam) <= tol * max(1.0, gam):
            return float(new)
        gam = new
    return float(gam)


def cavity_s_transform(
    config: NetworkConfig,
    y,
    *,
    input_scale: float | None = None,
    population: int = 3000,
    sweeps: int = 30,
    burn_in: int = 10,
    cutoff: float = 0.02,
    seed: Any,
):
    """S-transform of J J^T for ONE Cauchy layer J = D W (N -> infinity), from the cavity equation.

    The same bipartite Poisson-weighted-tree recursion as :func:`cavity_jjt_density`, solved at the
    negative real spectral parameter ``zeta^2 = -y`` (``zeta = i sqrt(y)``), where every resolvent
    is purely imaginary, ``G = i g``, and the recursion is real and positive::

        g_v = 1 / (sqrt(y) + sum_{c child of v} J_vc^2 g_c).

    It gives ``g(y) = E[(J J^T + y)^-1]_ii`` and with it, for ``psi(u) = int u t / (1 - u t) dmu``,
    ``psi(-1/y) = -1 + y g(y)``; so ``w = -1 + y g`` and ``S(w) = g / (1 - y g)``. In the
    Haagerup-Larsen form that is ``t = y g`` and ``r(t)^2 = 1 / S = (1 - y g) / g``.

    Parameters
    ----------
    config : NetworkConfig
        ``law="cauchy"``, ``convention="fan_in"``, Cauchy biases or none.
    y : array of float > 0
    input_scale : float, optional
        The layer's inputs are ``phi(input_scale * C)``, C standard Cauchy (i.i.d.); default
        :func:`cauchy_fixed_scale`, the inputs of every layer along a fixed point's orbit.
    population, sweeps, burn_in, cutoff, seed
        As in :func:`cavity_jjt_density`.

    Returns
    -------
    w, log_s : ndarrays, shape like ``y``
    """
    s, beta = _check_cauchy(config)
    phi = get_activation(config.activation, sigmoid_type=True)
    y = v.check_array(y, "y", finite=False)
    if y.size == 0 or np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise ValueError("y must be a non-empty array of finite numbers > 0")
    gam_in = cauchy_fixed_scale(config) if input_scale is None else v.check_real(
        input_scale, "input_scale", low=0.0, low_open=True)
    P, sweeps, burn_in, cutoff, rng = _population_options(population, sweeps, burn_in, cutoff, seed)
    v.check_memory(16 * 8 * y.size * P, f"population * y.size = {P} * {y.size} numbers")
    if 2.0 * s / (math.pi * cutoff) * P > 1e8:
        raise ValueError(f"cutoff = {cutoff:g} is too small: about {2.0 * s / (math.pi * cutoff) * P:.3g} explicit "
                         f"weights per sweep (population {P}); use cutoff >= {2.0 * s * P / (math.pi * 1e8):.3g}")

    eta = np.sqrt(y.ravel())[:, None]  # (K, 1)
    K = eta.shape[0]
    lam = 2.0 * s / (np.pi * cutoff)
    small = 2.0 * s * cutoff / np.pi
    ex2 = _cauchy_expectation(lambda h: phi(h, np) ** 2, gam_in)
    mean_abs = _cauchy_expectation(lambda h: np.abs(phi(h, np)), gam_in)

    def inputs(n):
        return phi(gam_in * rng.standard_cauchy(n), np)

    def weights(n_items):
        counts = rng.poisson(lam, n_items)
        ends = np.cumsum(counts)
        owner = np.repeat(np.arange(n_items), counts)
        w = cutoff / rng.uniform(size=owner.size) * rng.choice([-1.0, 1.0], size=owner.size)
        return owner, ends - counts, ends, w

    def bias(n):
        return beta * rng.standard_cauchy(n) if beta > 0 else np.zeros(n)

    def owner_sums(vals, starts, ends):  # (K, E) -> (K, P): per-owner sums of positive values
        c = np.concatenate([np.zeros((vals.shape[0], 1)), np.cumsum(vals, axis=1)], axis=1)
        return c[:, ends] - c[:, starts]

    S = np.zeros((K, P))
    T = np.zeros((K, P))
    xcol = inputs(P)
    acc = np.zeros(K)
    n_acc = 0
    for sweep in range(sweeps):
        owner_r, st_r, en_r, w_r = weights(P)
        pick_r = rng.integers(0, P, owner_r.size)
        hrow = (np.bincount(owner_r, w_r * xcol[pick_r], P) + math.sqrt(small * ex2) * rng.standard_normal(P)
                + bias(P))
        if sweep == 0:
            hrow = s * mean_abs * rng.standard_cauchy(P) + bias(P)
        d2_root = phi.derivative(hrow, np) ** 2
        owner_c, st_c, en_c, w_c = weights(P)
        pick_c = rng.integers(0, P, owner_c.size)
        xnew = inputs(P)
        d2_child = phi.derivative(w_c * xnew[owner_c] + hrow[pick_c], np) ** 2
        gc = 1.0 / (eta + T)  # columns (children of rows)
        S = owner_sums(w_r**2 * gc[:, pick_r], st_r, en_r) + small * gc.mean(axis=1, keepdims=True)
        g_root = 1.0 / (eta + d2_root * S)
        if sweep >= burn_in:
            acc += g_root.mean(axis=1)
            n_acc += 1
        gr = 1.0 / (eta + d2_child * S[:, pick_c])
        T = owner_sums(d2_child * w_c**2 * gr, st_c, en_c) + small * (d2_root * g_root).mean(axis=1, keepdims=True)
        xcol = xnew
    g = acc / n_acc / eta[:, 0]  # E (J J^T + y)^-1_ii
    yg = y.ravel() * g
    w = np.clip(yg, 1e-300, 1.0 - 1e-16) - 1.0
    log_s = np.log(g) - np.log(np.maximum(1.0 - yg, 1e-300))
    return w.reshape(y.shape), log_s.reshape(y.shape)
