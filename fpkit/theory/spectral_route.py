"""The spectral route to the Kac-Rice formula, and the complexity of wide Gaussian networks.

Replace the conditional ``E|det(I - J)|`` of the exact formula (:mod:`fpkit.theory.kac_rice`) by
``exp(N int log|1 - lambda| dmu_J(lambda))`` with ``mu_J`` the free-probability eigenvalue law of
:class:`~fpkit.theory.free.FreeJacobianLaw` at x (rotation invariant, Haagerup-Larsen), for which Jensen's
formula gives ``int log|1 - lambda| dmu = int log max(1, |lambda|) dmu``, and the density of z by its
mean-field value ``prod_i N(u_i; 0, q_L)``. :func:`layer_spectrum` gives one layer's law at the
self-consistent point (free probability for Gaussian weights, the cavity equation for Cauchy ones), whose
powers give the depth dependence; :func:`spectral_route` the finite-N estimate; :func:`complexity` the
large-N exponent. :func:`ginibre_product_log_potential` is the closed form for products of Ginibre matrices.

References
----------
Ipsen & Forrester, J. Phys. A 51, 474003 (2018), arXiv:1807.05790 (mean number of fixed points of
Gaussian maps as the expected absolute characteristic polynomial of a product of Ginibre matrices).
Haagerup & Larsen (2000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from .. import _validate as v
from ..activations import get_activation
from ..network import NetworkConfig
from .cavity import cavity_s_transform
from .free import FreeJacobianLaw, gaussian_d2_atoms, haagerup_larsen_log_radius
from .kac_rice_sampling import KacRiceProposal, batch_seeds, pilot_scales
from .lengthmap import (
    cauchy_fixed_scale,
    gaussian_weight_scales,
    length_map,
    meanfield_fixed_variance,
)

__all__ = [
    "LayerSpectrum",
    "SpectralRouteEstimate",
    "complexity",
    "ginibre_product_log_potential",
    "layer_spectrum",
    "spectral_route",
]

_LOG_2PI = math.log(2.0 * math.pi)


def ginibre_product_log_potential(L: int, tau: float) -> float:
    """``lim (1/N) log E|det(I - tau X)|`` for X a product of L real Ginibre matrices (variance 1/N).

    The eigenvalues of X fill the unit disc with ``P(|lambda| <= r) = r^(2/L)``; by Jensen's formula
    the exponent is ``int log max(1, tau r) d(r^(2/L)) = log tau - (L/2)(1 - tau^(-2/L))`` for
    tau > 1 and 0 for tau <= 1 (derived here). Ipsen & Forrester (2018) show that the mean number
    of fixed points of homogeneous, isotropic multi-layer Gaussian maps is the expected absolute
    characteristic polynomial of a product of Ginibre matrices; this is its large-N exponent in the
    parametrisation ``det(I - tau X)``: one fixed point for tau <= 1, exponentially many above.
    """
    # beyond 1e15 layers L * (1 - tau^(-2/L)) loses every digit in float64
    L = v.check_int(L, "L", minimum=1, maximum=10**15)
    tau = v.check_real(tau, "tau", low=0.0)
    if tau <= 1.0:
        return 0.0
    return math.log(tau) - 0.5 * L * (1.0 - tau ** (-2.0 / L))


@dataclass(frozen=True)
class LayerSpectrum:
    """One layer's eigenvalue law at the self-consistent mean-field point, as a radial quantile function.

    ``P(|lambda| <= exp(log_r[k])) = t[k]`` for the eigenvalues of one layer's Jacobian ``D W``
    (Haagerup-Larsen), with the layer's input and pre-activation laws those along the orbit of a
    fixed point of a wide network: Gaussian ``N(0, q*)`` pre-activations for Gaussian weights
    (free probability), Cauchy ``gamma*`` ones for Cauchy weights (cavity equation). For L such
    layers, free and identically distributed, the S-transforms multiply, ``S_L = S_1^L``, so the
    radial quantiles are ``r_L(t) = r_1(t)^L`` at the same t: the whole depth dependence of the
    spectral route at the typical point is in that power.

    Attributes
    ----------
    t : numpy.ndarray
        Increasing values in (0, 1), shape (K,).
    log_r : numpy.ndarray
        The log of the radius at each t, shape (K,).
    method : str
        ``"free probability"`` or ``"cavity"``.
    scale : float
        q* (Gaussian: pre-activation variance) or gamma* (Cauchy scale).
    """

    t: np.ndarray
    log_r: np.ndarray
    method: str
    scale: float

    def log_potential(self, L: int) -> float:
        """``int log max(1, |lambda|) dmu_{J_L}`` for a product of L such layers: the typical-point
        exponent Lambda(L) of ``|det(I - J)| ~ exp(N Lambda)``; equal to ``L * log_potential(1)``. ``L`` is an
        integer in [1, 10^15] (beyond, L times a radius's log leaves the float64 range or its precision)."""
        L = v.check_int(L, "L", minimum=1, maximum=10**15)
        y = np.maximum(L * self.log_r, 0.0)
        t = np.concatenate([[0.0], self.t, [1.0]])
        y = np.concatenate([[0.0], y, [y[-1]]])  # beyond the last point: its value (a lower bound)
        return float(np.trapezoid(y, t))

    @property
    def mass_outside(self) -> float:
        """The fraction of eigenvalues outside the unit circle (the same for every depth)."""
        out = self.log_r > 0
        if not out.any():
            return 0.0
        return float(1.0 - self.t[np.argmax(out)])


def layer_spectrum(
    config: NetworkConfig,
    *,
    seed: Any = 0,
    n_points: int = 400,
    population: int = 3000,
    sweeps: int = 30,
    burn_in: int = 10,
) -> LayerSpectrum:
    """The one-layer eigenvalue law at the self-consistent point, for Gaussian or Cauchy weights.

    Gaussian weights (and Gaussian or no biases): :class:`~fpkit.theory.free.FreeJacobianLaw` of one
    layer with ``D^2 = phi'(sqrt(q*) Z)^2`` (:func:`~fpkit.theory.lengthmap.meanfield_fixed_variance`), exact
    as N -> infinity. Cauchy weights (fan-in, Cauchy or no biases): :func:`fpkit.theory.cavity.cavity_s_transform`
    at inputs ``phi(gamma* C)`` (:func:`fpkit.theory.lengthmap.cauchy_fixed_scale`), exact for one layer as
    N -> infinity; using it for products assumes the layers are asymptotically free and the
    product's eigenvalue law is given by Haagerup-Larsen (neither is proven for heavy tails: a
    stated approximation). ``seed``, ``population``, ``sweeps``, ``burn_in`` are the cavity's;
    ``n_points`` (10 to 10^6) is the size of the grid the law is tabulated on.
    """
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    n_points = v.check_int(n_points, "n_points", minimum=10, maximum=10**6)
    if config.law == "cauchy":
        gam = cauchy_fixed_scale(config)
        y = np.geomspace(1e-12, 1e12, n_points)
        w, log_s = cavity_s_transform(config, y, population=population, sweeps=sweeps,
                                      burn_in=burn_in, seed=seed)
        t = np.maximum.accumulate(1.0 + w)  # population-dynamics noise can break monotonicity
        log_r = np.maximum.accumulate(-0.5 * log_s)
        keep = (t > 0) & (t < 1)
        return LayerSpectrum(t[keep], log_r[keep], "cavity", gam)
    sigma_w, _ = gaussian_weight_scales(config)
    q = meanfield_fixed_variance(config)
    law = FreeJacobianLaw([sigma_w**2], [gaussian_d2_atoms(config.activation, q)])
    t = (np.arange(n_points) + 0.5) / n_points
    r = law.radial_quantile(t)
    with np.errstate(divide="ignore"):
        log_r = np.log(r)
    keep = np.isfinite(log_r)
    return LayerSpectrum(t[keep], log_r[keep], "free probability", q)


def _first_layers_table(config: NetworkConfig, sigma_w: float, sigma_b: float, m_grid, t):
    """What the first L-1 layers contribute, as functions of ``m_x = |x|^2 / N`` on ``m_grid`` (K,):
    log r(t) of their eigenvalue law (K, T), its m1 factor (K,), the last pre-activation variance q_L (K,)
    and ``|h_{L-1}|^2 / N`` (K,), all in mean field (the length map from ``q_1 = sigma_w^2 m_x + sigma_b^2``)."""
    L, n_grid, s2 = config.L, m_grid.size, sigma_w**2
    q = np.empty((L, n_grid))
    q[0] = s2 * m_grid + sigma_b**2
    for layer in range(1, L):
        q[layer] = length_map(config.activation, q[layer - 1], sigma_w, sigma_b)
    first = np.zeros((n_grid, t.size))
    first_m1 = np.ones(n_grid)
    for k in range(n_grid if L > 1 else 0):
        atoms = [gaussian_d2_atoms(config.activation, float(ql)) for ql in q[:-1, k]]
        lr = haagerup_larsen_log_radius([s2] * (L - 1), atoms, t)
        first[k] = np.where(np.isnan(lr), -np.inf, lr)
        first_m1[k] = float(np.prod([s2 * vals @ pr for vals, pr in atoms]))
    return first, first_m1, q[-1], (q[-1] - sigma_b**2) / s2


@dataclass(frozen=True)
class SpectralRouteEstimate:
    """The spectral route's E[Q_all] and E[Q] at finite N (Monte Carlo over x only).

    See :func:`spectral_route`. ``q_all``/``q_stable`` with standard errors of the Monte-Carlo
    integral over x (the theory itself has no sampling error), and ``n_samples``.
    """

    config: NetworkConfig
    q_all: float
    q_all_se: float
    q_stable: float
    q_stable_se: float
    n_samples: int


def spectral_route(
    config: NetworkConfig,
    n_samples: int,
    *,
    seed: Any,
    n_grid: int = 33,
    n_t: int = 96,
    batch_size: int = 2048,
) -> SpectralRouteEstimate:
    """E[Q_all] and E[Q] with the Kac-Rice determinant replaced by its free-probability value.

    In the exact formula ``E[Q_all] = int du p_z(u) E[|det(I - J)| | z = u]`` this replaces

    * ``E[|det(I - J)| | z = u]`` by ``exp(N int log|1 - lambda| dmu_J(lambda))``, with mu_J the
      Haagerup-Larsen eigenvalue law of the free-probability theory at that point: the first
      L-1 layers with the mean-field laws of D_l^2 (pre-activation variances from the length map
      started at ``m_x = |x|^2 / N``), the last layer with the empirical law of
      ``phi'(u_i)^2`` (u is given), Marchenko-Pastur weights; the integral is
      ``int_0^1 max(0, log r(t)) dt`` (Jensen's formula; t on a midpoint grid of ``n_t`` points);
    * the density ``p_z(u)`` by its mean-field value ``prod_i N(u_i; 0, q_L(m_x))``;
    * the stability indicator by ``(1 - p_out)^N``, p_out the law's mass outside the unit circle
      (the chance that none of N eigenvalues drawn independently from mu_J lies outside: a
      heuristic, exact only when p_out is 0 or 1).

    The first L-1 layers' part depends on x only through m_x: it is tabulated on ``n_grid`` values
    of m_x and interpolated. The integral over u uses the same proposal as
    :func:`kac_rice_estimate`. Gaussian weights with Gaussian or no biases only: for Cauchy weights
    there is no free-probability theory; see :func:`layer_spectrum`.
    """
    sigma_w, sigma_b = gaussian_weight_scales(config)
    n_samples = v.check_int(n_samples, "n_samples", minimum=2)
    n_grid = v.check_int(n_grid, "n_grid", minimum=2)
    n_t = v.check_int(n_t, "n_t", minimum=8)
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    N = config.N
    phi = get_activation(config.activation, sigmoid_type=True)
    pilot_seq, batch_seqs = batch_seeds(seed, config, n_samples, batch_size)
    prop = KacRiceProposal("meanfield", phi, pilot_scales(config, np.random.default_rng(pilot_seq))[-1], heavy=False)
    t = (np.arange(n_t) + 0.5) / n_t
    s2 = sigma_w**2

    m_max = max(phi.low**2, phi.high**2)
    m_grid = np.linspace(0.0, m_max, n_grid)
    first, first_m1, q_last, h2 = _first_layers_table(config, sigma_w, sigma_b, m_grid, t)
    dh2 = np.gradient(h2, m_grid)  # d(|h|^2/N)/d m_x: h^T J_{L-1} = dh2 * x^T in mean field
    f_all, f_stable = [], []
    done = 0
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        for seq in batch_seqs:
            rng = np.random.default_rng(seq)
            M = min(batch_size, n_samples - done)
            done += M
            u = prop.sample(rng, (M, N))
            log_q = prop.logpdf(u)
            mx = np.mean(phi(u, np) ** 2, axis=-1)
            pos = np.clip(mx / m_max * (n_grid - 1), 0, n_grid - 1 - 1e-12)
            lo = np.floor(pos).astype(int)
            frac = pos - lo
            hi = np.minimum(lo + 1, n_grid - 1)
            lr_first = (1 - frac)[:, None] * first[lo] + frac[:, None] * first[hi]
            qL = (1 - frac) * q_last[lo] + frac * q_last[hi]
            m1_first = (1 - frac) * first_m1[lo] + frac * first_m1[hi]
            d2 = phi.derivative(u, np) ** 2
            lr_last = haagerup_larsen_log_radius([s2], [(d2, np.full(N, 1.0 / N))], t)
            lr = np.where(np.isnan(lr_last), -np.inf, lr_first + lr_last)
            lam = np.mean(np.maximum(lr, 0.0), axis=-1)
            p_out = np.mean(lr > 0, axis=-1)
            # rank-one part of the last layer's conditioning (matrix determinant lemma)
            slope = (1 - frac) * dh2[lo] + frac * dh2[hi]
            x = phi(u, np)
            rank_one = 1.0 - (1.0 - p_out) * s2 * slope / qL * np.mean(x * np.sqrt(d2) * u, axis=-1)
            log_density = np.sum(-0.5 * (_LOG_2PI + np.log(qL))[:, None] - 0.5 * u * u / qL[:, None], axis=-1)
            log_f = log_density + N * lam + np.log(np.abs(rank_one)) - log_q
            f = np.exp(np.minimum(log_f, 700.0))
            m1 = m1_first * s2 * d2.mean(axis=-1)
            stable_prob = np.where(rank_one > 0, np.where(m1 < 1.0, 1.0, (1.0 - p_out) ** N), 0.0)
            f_all.append(f)
            f_stable.append(f * stable_prob)
    fa, fs = np.concatenate(f_all), np.concatenate(f_stable)
    n = fa.size
    return SpectralRouteEstimate(config, float(fa.mean()), float(fa.std(ddof=1) / math.sqrt(n)),
                                 float(fs.mean()), float(fs.std(ddof=1) / math.sqrt(n)), n)


def complexity(config: NetworkConfig, *, n_grid: int = 41) -> dict[str, float]:
    """Large-N complexity ``Sigma(L) = lim (1/N) log E[Q_all]`` of the spectral route (Gaussian weights).

    Laplace's method on the integral of :func:`spectral_route` over u: with the empirical law nu of
    the coordinates of u, ``Sigma = sup_nu [ -KL(nu || N(0, q_L(nu))) + Lambda(nu) ]``, Lambda the
    log-potential at 1 of the eigenvalue law with last-layer ``D^2 ~ phi'(nu)^2`` and the first
    L-1 layers from the length map started at ``m_x = E_nu phi^2``. Returned:

    ``typical``: nu = N(0, q*) (KL = 0), that is ``L * Lambda_1`` (:class:`LayerSpectrum`);
    ``gaussian_family``: the supremum over nu = N(0, a), a > 0 (grid of ``n_grid`` values of log a
    around q*, ``n_grid >= 5``, then a bounded refinement), a lower bound on the full supremum over all laws nu;
    ``a_opt``, the maximiser, and ``q_star``.
    """
    sigma_w, sigma_b = gaussian_weight_scales(config)
    n_grid = v.check_int(n_grid, "n_grid", minimum=5, maximum=10**6)
    L = config.L
    phi = get_activation(config.activation, sigmoid_type=True)
    q_star = meanfield_fixed_variance(config)

    def objective(a, q):  # q: the pre-activation variances q_1 .. q_L started at m_x = E[phi(sqrt(a) Z)^2]
        r = a / q[-1]
        kl = 0.5 * (r - 1.0 - math.log(r))
        atoms = [gaussian_d2_atoms(config.activation, float(ql)) for ql in q[:-1]]
        atoms.append(gaussian_d2_atoms(config.activation, a))
        law = FreeJacobianLaw(np.full(L, sigma_w**2), atoms)
        return -kl + law.log_potential(1.0)

    def variances(a):  # vectorised over a: the length map from q_1 = sigma_w^2 m_x + sigma_b^2
        q = [sigma_w**2 * length_map(phi, a, 1.0, 0.0) + sigma_b**2]
        for _ in range(1, L):
            q.append(length_map(phi, q[-1], sigma_w, sigma_b))
        return np.array(q)

    grid = np.linspace(math.log(q_star) - 4.0, math.log(q_star) + 4.0, n_grid)
    q_grid = variances(np.exp(grid))
    vals = np.array([objective(math.exp(g), q_grid[:, k]) for k, g in enumerate(grid)])
    k = int(np.argmax(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, n_grid - 1)]
    res = optimize.minimize_scalar(lambda g: -objective(math.exp(g), variances(math.exp(g))), bounds=(lo, hi),
                                   method="bounded", options={"xatol": 1e-4})
    best = max(float(vals[k]), float(-res.fun))
    a_opt = math.exp(res.x if -res.fun >= vals[k] else grid[k])
    typical = layer_spectrum(config).log_potential(L)
    return {"typical": typical, "gaussian_family": max(best, typical), "a_opt": a_opt, "q_star": q_star}
