"""Mean numbers of fixed points by the Kac-Rice formula: an exact Monte-Carlo estimator and the spectral route.

For a random network ``F = Phi_L o ... o Phi_1`` with ``Phi_l(x) = phi(W_l x + b_l)`` the fixed points
lie in the open box ``B = (low, high)^N`` of the activation's range, and (Kac-Rice)::

    E[#{x in B : F(x) = x}] = int_B E[ |det(I - J_F(x))| delta(F(x) - x) ] dx.

Exact estimator (:func:`kac_rice_estimate`)
    Substitute ``x = phi(u)``, ``u`` in R^N (phi maps R onto the open interval, so u covers B once).
    Condition on the first L-1 layers: for a fixed x they fix ``h = h_{L-1}(x)`` and
    ``J_{L-1}(x)``, and the last pre-activation ``z = W_L h + b_L`` has independent coordinates.
    F(x) = x is z = u, so the Jacobian factor of ``x = phi(u)`` cancels and::

        E[Q_all] = E_{first L-1 layers} int_{R^N} p_z(u | h) E[ |det(I - D_L W_L J_{L-1})| | z = u ] du,

    with ``D_L = diag(phi'(u))`` fixed by u. Every weight law used here is a Gaussian scale
    mixture, ``W_ij = c * tau_ij * G_ij`` with G standard normal (``tau = 1`` for Gaussian
    weights; ``tau^2 = 1 / chi^2_1`` for Cauchy weights, ``df / chi^2_df`` for Student-t). Given the
    scales, row i of ``(W_L, b_L)`` is Gaussian, ``z_i ~ N(0, v_i)`` with
    ``v_i = c^2 sum_j tau_ij^2 h_j^2 + beta^2 tau_bi^2``, and the row given ``z_i = u_i`` is a
    rank-one Gaussian conditioning (Matheron's rule, written without cancellation). So one sample
    draws ``u`` from a proposal density ``q``, a network's first L-1 layers, the last layer's
    scales ``tau`` from their prior and the last layer's weights given ``z = u``, and scores::

        f = prod_i N(u_i; 0, v_i) * |det(I - J_F(x))| / q(u).

    ``E[f]`` is ``E[Q_all]`` exactly (the scales are importance-weighted by the Gaussian density
    of z given them, whose mean over the scales is the true density of z: for Cauchy weights,
    the Cauchy density of scale ``c sum_j |h_j| + beta``), at every N. The same sample with the
    indicator ``rho(J_F(x)) < 1`` estimates ``E[Q]`` (stable fixed points), and with
    ``sign det(I - J)`` instead of ``|det|`` the mean index sum, which is exactly 1 for every
    network (degree of ``x - F(x)`` on the box; chapter 5): a built-in check.

Spectral route (:func:`layer_spectrum`, :func:`spectral_route`, :func:`complexity`)
    Replace the conditional ``E|det(I - J)|`` by ``exp(N int log|1 - lambda| dmu_J(lambda))`` with
    ``mu_J`` the free-probability eigenvalue law of :class:`~fpkit.spectra.FreeJacobianLaw` at x
    (rotation invariant, Haagerup-Larsen), for which Jensen's formula gives
    ``int log|1 - lambda| dmu = int log max(1, |lambda|) dmu``, and the density of z by its
    mean-field value ``prod_i N(u_i; 0, q_L)``. See :func:`spectral_route` for the details and the
    approximations.

References
----------
Kac (1943), Rice (1945); Adler & Taylor, *Random Fields and Geometry* (2007), Thm 11.2.1.
Fyodorov & Khoruzhenko, PNAS 113, 6827 (2016); Ipsen & Forrester, J. Phys. A 51, 474003 (2018),
arXiv:1807.05790 (mean number of fixed points of Gaussian maps as the expected absolute
characteristic polynomial of a product of Ginibre matrices). Haagerup & Larsen (2000).
Hesterberg, Technometrics 37, 185 (1995) (defensive mixture proposals).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special
from tqdm import tqdm

from . import _validate as v
from . import spectra
from .backend import make_rng
from .activations import get_activation
from .network import Ensemble, NetworkConfig
from .sampling import hill_estimator, scale_factor, weight_law

__all__ = [
    "KAC_RICE_LAWS",
    "PROPOSALS",
    "KacRiceEstimate",
    "LayerSpectrum",
    "SpectralRouteEstimate",
    "complexity",
    "ginibre_product_log_potential",
    "kac_rice_code_hash",
    "kac_rice_estimate",
    "kac_rice_table",
    "layer_spectrum",
    "meanfield_fixed_variance",
    "spectral_route",
]

#: Weight and bias laws the exact estimator supports (Gaussian scale mixtures).
KAC_RICE_LAWS = ("gaussian", "cauchy", "student_t")
#: Proposal densities of the estimator (see :func:`kac_rice_estimate`).
PROPOSALS = ("meanfield", "uniform")

_LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# The estimate
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KacRiceEstimate:
    """Monte-Carlo Kac-Rice estimate of the mean numbers of fixed points of one configuration.

    Attributes
    ----------
    config : fpkit.network.NetworkConfig
        The configuration.
    q_all : float
        Mean number of fixed points per network, ``E[Q_all]``, from the index -1 points (see
        :meth:`from_scores`).
    q_all_se : float
        Its standard error.
    q_all_plain : float
        The same from the plain mean of the scores.
    q_all_plain_se : float
        Its standard error.
    q_stable : float
        Mean number of stable fixed points (spectral radius of ``J_F`` below 1), ``E[Q]``.
    q_stable_se : float
        Its standard error.
    index_sum : float
        Mean index sum ``E[sum over fixed points of sign det(I - J)]``; exactly 1 in theory, so
        a value off by several standard errors flags a bug or an unreliable error bar.
    index_sum_se : float
        Its standard error.
    n_samples : int
        Number of Monte-Carlo samples.
    ess : float
        Effective sample size ``(sum f)^2 / sum f^2`` of the ``Q_all`` scores ``f``; much
        smaller than ``n_samples`` means a few samples carry the estimate.
    tail_index : float
        Hill estimate of the tail index of the scores (``inf`` if fewer than 20 are positive);
        below 2 the scores' variance looks infinite and the standard error is not to be trusted.
    max_share : float
        The largest single score's share of the sum.
    proposal : str
        The proposal density used.
    scores : numpy.ndarray
        The ``Q_all`` scores f, shape (n_samples,) (their mean is ``q_all_plain``).
    stable : numpy.ndarray
        Whether ``J_F`` had spectral radius < 1 at each sample, bool, shape (n_samples,).
    signs : numpy.ndarray
        ``sign det(I - J_F)`` at each sample, int, shape (n_samples,).
    """

    config: NetworkConfig
    q_all: float
    q_all_se: float
    q_all_plain: float
    q_all_plain_se: float
    q_stable: float
    q_stable_se: float
    index_sum: float
    index_sum_se: float
    n_samples: int
    ess: float
    tail_index: float
    max_share: float
    proposal: str
    scores: np.ndarray = field(repr=False)
    stable: np.ndarray = field(repr=False)
    signs: np.ndarray = field(repr=False)

    @property
    def infinite_variance_suspected(self) -> bool:
        """True when the scores' tail index is below 2 or one score carries over 10 % of the sum."""
        return bool(self.tail_index < 2.0 or self.max_share > 0.1)

    def summary(self) -> dict[str, Any]:
        """The numbers as a flat dict (config fields included), for a table row."""
        out = dict(self.config.as_dict())
        out.update(q_all=self.q_all, q_all_se=self.q_all_se, q_all_plain=self.q_all_plain,
                   q_all_plain_se=self.q_all_plain_se, q_stable=self.q_stable,
                   q_stable_se=self.q_stable_se, index_sum=self.index_sum, index_sum_se=self.index_sum_se,
                   n_samples=self.n_samples, ess=self.ess, tail_index=self.tail_index,
                   max_share=self.max_share, infinite_variance_suspected=self.infinite_variance_suspected,
                   proposal=self.proposal)
        return out

    @classmethod
    def from_scores(cls, config: NetworkConfig, scores, stable, signs, proposal: str) -> KacRiceEstimate:
        """Summarise per-sample scores (used by :func:`kac_rice_estimate`).

        Two unbiased estimates of ``E[Q_all]``: the plain mean of ``f``, and
        ``1 + 2 mean(f 1[det(I - J) < 0])``, which uses the exact identity
        ``Q_all = 1 + 2 #{fixed points of index -1}`` (the indices of a network's fixed points sum
        to 1) and needs only the index -1 points; it is the reported ``q_all`` (for networks with a
        single fixed point its variance is tiny). The plain mean is ``q_all_plain``: the two must
        agree within their errors. ``E[Q]`` and the index sum (exactly 1 in theory) are plain means.
        """
        f = np.asarray(scores, dtype=float)
        stable = np.asarray(stable, dtype=bool)
        signs = np.asarray(signs, dtype=np.int8)
        n = f.size
        if n < 2:
            raise ValueError(f"scores must hold at least 2 samples; got {n}")
        if stable.shape != f.shape or signs.shape != f.shape:
            raise ValueError("scores, stable and signs must have the same shape")

        def mean_se(a):
            return float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size))

        g = f * signs
        q_all, q_all_se = mean_se(1.0 + 2.0 * f * (signs < 0))
        q_plain, q_plain_se = mean_se(f)
        q_st, q_st_se = mean_se(f * stable)
        idx, idx_se = mean_se(g)
        total = f.sum()
        ess = float(total**2 / np.sum(f * f)) if total > 0 else 0.0
        pos = f[f > 0]
        if pos.size >= 20:
            k = max(10, int(math.sqrt(pos.size)))
            tail = hill_estimator(pos, k=min(k, pos.size - 1)).alpha
        else:
            tail = math.inf
        return cls(config=config, q_all=q_all, q_all_se=q_all_se, q_all_plain=q_plain,
                   q_all_plain_se=q_plain_se, q_stable=q_st, q_stable_se=q_st_se,
                   index_sum=idx, index_sum_se=idx_se, n_samples=n, ess=ess, tail_index=float(tail),
                   max_share=float(f.max() / total) if total > 0 else 0.0, proposal=proposal,
                   scores=f, stable=stable, signs=signs)


# ---------------------------------------------------------------------------
# Laws as Gaussian scale mixtures
# ---------------------------------------------------------------------------


def _check_config(config: NetworkConfig) -> None:
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    if config.law not in KAC_RICE_LAWS:
        raise ValueError(f"config.law must be one of {KAC_RICE_LAWS} for the Kac-Rice estimator; got {config.law!r}")
    blaw = config.biases_law()
    if blaw is not None and blaw.name not in KAC_RICE_LAWS:
        raise ValueError(f"the bias law must be one of {KAC_RICE_LAWS} (or none); got {blaw.name!r}")


def _mixture_variances(law, shape, rng) -> np.ndarray:
    """tau^2 with ``Z = tau G`` in law for a standard draw Z of ``law`` (G standard normal)."""
    if law.name == "gaussian":
        return np.ones(shape)
    df = 1.0 if law.name == "cauchy" else float(law.df)
    chi2 = 2.0 * rng.standard_gamma(df / 2.0, size=shape)
    return df / np.maximum(chi2, 1e-250)


def _exclusive_sums(a: np.ndarray) -> np.ndarray:
    """``out[..., j] = sum_{k != j} a[..., k]`` without subtracting ``a[..., j]`` (no cancellation)."""
    zero = np.zeros_like(a[..., :1])
    left = np.cumsum(np.concatenate([zero, a[..., :-1]], axis=-1), axis=-1)
    right = np.flip(np.cumsum(np.flip(np.concatenate([a[..., 1:], zero], axis=-1), -1), axis=-1), -1)
    return left + right


# ---------------------------------------------------------------------------
# Proposal densities for u = phi^{-1}(x)
# ---------------------------------------------------------------------------


def _component_logpdf(u, scale, heavy: bool):
    """log of prod_i g(u_i; scale) over the last axis; g Cauchy (heavy) or Gaussian, scale (K,)."""
    z = u[..., None, :] / scale[:, None]  # (..., K, N)
    n = u.shape[-1]
    if heavy:
        return -np.sum(np.log1p(z * z), axis=-1) - n * (np.log(scale) + math.log(math.pi))
    return -0.5 * np.sum(z * z, axis=-1) - n * (np.log(scale) + 0.5 * _LOG_2PI)


class _Proposal:
    """Density q(u) of one layer's pre-activation vector u (shape (..., N)).

    ``"meanfield"``: a mixture of product densities, ``sum_k pi_k prod_i g(u_i; s_k)``, one
    component per scale ``s_k`` (quantiles of the scale of the pre-activation given its input in a
    pilot run: the proposal imitates the law of z, whose scale varies from network to network),
    g Gaussian for Gaussian weights and Cauchy for heavy-tailed ones, plus a defensive Cauchy
    component of scale ``4 max s_k`` (weight 0.05; Hesterberg 1995) that bounds the ratio p/q.
    ``"uniform"``: x = phi(u) uniform on the box.
    """

    def __init__(self, kind: str, activation, scales, heavy: bool):
        self.kind, self.phi, self.heavy = kind, activation, heavy
        scales = np.asarray(scales, dtype=float)
        self.scales = np.concatenate([scales, [4.0 * scales.max()]])
        self.log_pi = np.log(np.concatenate([np.full(scales.size, 0.95 / scales.size), [0.05]]))

    def sample(self, rng, shape):
        if self.kind == "uniform":  # x uniform on the box, u = phi^{-1}(x)
            lo, hi = self.phi.low, self.phi.high
            x = np.clip(rng.uniform(lo, hi, shape), lo + 1e-300, hi - 1e-300)
            return _phi_inverse(self.phi, x)
        k = rng.choice(self.scales.size, size=shape[:-1], p=np.exp(self.log_pi))
        defensive = k == self.scales.size - 1
        g = rng.standard_cauchy(shape) if self.heavy else rng.standard_normal(shape)
        g = np.where(defensive[..., None], rng.standard_cauchy(shape), g)
        return g * self.scales[k][..., None]

    def logpdf(self, u):
        if self.kind == "uniform":
            d = self.phi.derivative(u, np)
            with np.errstate(divide="ignore"):
                return np.sum(np.log(d), axis=-1) - u.shape[-1] * math.log(self.phi.high - self.phi.low)
        main = _component_logpdf(u, self.scales[:-1], self.heavy) + self.log_pi[:-1]
        wide = _component_logpdf(u, self.scales[-1:], True) + self.log_pi[-1:]
        return special.logsumexp(np.concatenate([main, wide], axis=-1), axis=-1)


def _phi_inverse(phi, x):
    return phi.inverse(x, np)


def _pilot_scales(config: NetworkConfig, rng, n_components: int = 8) -> np.ndarray:
    """Quantiles of each layer's pre-activation scale given its input, shape (L, n_components).

    From a seeded run of 256 networks at inputs uniform on the box: the scale of z_i given the
    layer's input h is ``c sum_j |h_j| + beta`` for Cauchy weights (exact, the Cauchy scale) and
    ``sqrt(c^2 |h|^2 + beta^2)`` otherwise (the standard deviation for Gaussian weights and biases).
    """
    ens = Ensemble.sample(config, 256, seed=rng, backend="numpy")
    lo, hi = ens.domain
    x = rng.uniform(lo, hi, (256, 1, config.N))
    law = weight_law(config.law, df=config.df, alpha=config.alpha)
    c = scale_factor(law, config.N, config.convention, config.scale)
    beta = 0.0 if config.biases_law() is None else config.bias_scale
    W, b = ens.weights, ens.biases
    levels = (np.arange(n_components) + 0.5) / n_components
    out = np.empty((config.L, n_components))
    for layer in range(config.L):
        h = x[:, 0]
        if config.law == "cauchy":
            sc = c * np.abs(h).sum(-1) + beta
        else:
            sc = np.sqrt(c * c * (h * h).sum(-1) + beta * beta)
        out[layer] = np.maximum(np.quantile(sc, levels), 1e-3)
        z = x @ np.swapaxes(W[:, layer], -1, -2) + b[:, layer, None, :]
        x = ens.activation(z, np)
    return out


# ---------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------


def _cauchy_split(gam: np.ndarray, total: np.ndarray, rng) -> np.ndarray:
    """Independent Cauchy variables a_k (scales ``gam[..., k]``) drawn given their sum ``total``.

    Exact: a_k is drawn from its law given the sum of the remaining ones, by rejection from a
    two-component envelope of the product of two Cauchy densities (acceptance >= about 1/4), then
    the sum is updated. ``gam`` has shape (..., K), ``total`` shape (...); scales may be 0.
    """
    gam = np.asarray(gam, dtype=float)
    out = np.zeros_like(gam)
    rest = np.cumsum(gam[..., ::-1], axis=-1)[..., ::-1]  # rest[k] = sum_{m >= k} gam[m]
    S = np.array(total, dtype=float, copy=True)
    K = gam.shape[-1]
    for k in range(K - 1):
        g1, g2 = gam[..., k], rest[..., k + 1]
        a = np.zeros_like(S)
        todo = (g1 > 0) & (g2 > 0)
        a = np.where((g1 > 0) & (g2 == 0), S, a)
        idx = np.nonzero(todo)
        if idx[0].size:
            a[idx] = _two_cauchy_given_sum(g1[idx], g2[idx], S[idx], rng)
        out[..., k] = a
        S = S - a
    out[..., K - 1] = np.where(gam[..., K - 1] > 0, S, 0.0)
    return out


def _two_cauchy_given_sum(g1, g2, S, rng, max_rounds: int = 400):
    """a ~ density proportional to P_g1(a) P_g2(S - a) (P_g: Cauchy density of scale g), 1-D arrays."""
    n = S.size
    out = np.empty(n)
    # Envelope A: P_small-scale proposal, area 1 / (pi max(g1, g2)).
    # Envelope B: kappa2 P_g1(a) + kappa1 P_g2(S - a), kappa_i = g_i / (pi (S^2/4 + g_i^2)).
    k1 = g1 / (np.pi * (S * S / 4 + g1 * g1))
    k2 = g2 / (np.pi * (S * S / 4 + g2 * g2))
    use_b = (k1 + k2) < 1.0 / (np.pi * np.maximum(g1, g2))
    left = np.arange(n)
    for _ in range(max_rounds):
        if left.size == 0:
            return out
        a1, b1, s, ub = g1[left], g2[left], S[left], use_b[left]
        c1 = rng.standard_cauchy(left.size)
        from_first = np.where(ub, rng.random(left.size) < k2[left] / (k1[left] + k2[left]), a1 <= b1)
        a = np.where(from_first, a1 * c1, s - b1 * c1)
        p1 = a1 / (np.pi * (a * a + a1 * a1))
        p2 = b1 / (np.pi * ((s - a) ** 2 + b1 * b1))
        env_a = np.where(a1 <= b1, p1 / (np.pi * b1), p2 / (np.pi * a1))
        env_b = k2[left] * p1 + k1[left] * p2
        ratio = p1 * p2 / np.where(ub, env_b, env_a)
        ok = rng.random(left.size) < ratio
        out[left[ok]] = a[ok]
        left = left[~ok]
    raise RuntimeError("Cauchy conditional sampler did not finish; report this as a bug")


def _condition_layer(config: NetworkConfig, y: np.ndarray, u: np.ndarray, rng, exact: bool):
    """Weights of one layer given its pre-activation: W y + b = u, row by row.

    Parameters
    ----------
    y : (M, N) inputs of the layer; u : (M, N) required pre-activations.

    Returns
    -------
    W : (M, N, N)
        Drawn from the law of W given ``W y + b = u`` (exactly), or, with ``exact=False`` for
        heavy tails, given the scale-mixture variables that are drawn from their prior.
    log_weight : (M,)
        ``sum_i log p(z_i = u_i)``: the exact density of z at u (exact mode), or the Gaussian
        density given the drawn scales (mixture mode; its mean over the scales is the density).
    """
    M, N = u.shape
    law = weight_law(config.law, df=config.df, alpha=config.alpha)
    c = scale_factor(law, N, config.convention, config.scale)
    blaw = config.biases_law()
    beta = 0.0 if blaw is None else config.bias_scale
    if exact and law.name == "cauchy":
        # a_ij = W_ij y_j ~ Cauchy(c |y_j|), bias ~ Cauchy(beta): split u_i among them exactly.
        gam = np.concatenate([np.broadcast_to(c * np.abs(y)[:, None, :], (M, N, N)),
                              np.full((M, N, 1), beta)], axis=-1)
        a = _cauchy_split(gam, u, rng)[..., :N]
        safe = np.where(y == 0.0, 1.0, y)[:, None, :]
        W = np.where(y[:, None, :] == 0.0, c * rng.standard_cauchy((M, N, N)), a / safe)
        g = gam.sum(-1)
        log_w = np.sum(np.log(g / np.pi) - np.log(u * u + g * g), axis=-1)
        return W, log_w
    s2 = c * c * _mixture_variances(law, (M, N, N), rng)
    sb2 = beta * beta * (_mixture_variances(blaw, (M, N), rng) if blaw is not None else np.zeros((M, N)))
    w0 = np.sqrt(s2) * rng.standard_normal((M, N, N))  # unconditioned draws
    b0 = np.sqrt(sb2) * rng.standard_normal((M, N))
    terms_v = s2 * (y * y)[:, None, :]  # s2_ij y_j^2
    v_row = np.maximum(terms_v.sum(-1) + sb2, 1e-300)
    # Matheron's rule w = w0 + s2 y (u - z0) / v, written with sums over the *other* inputs so
    # that a dominant heavy-tailed weight does not cancel against itself:
    # w_j = w0_j v_{-j} / v + s2_j y_j (u - z0_{-j}) / v.
    v_minus = _exclusive_sums(terms_v) + sb2[..., None]
    z_minus = _exclusive_sums(w0 * y[:, None, :]) + b0[..., None]
    W = (w0 * v_minus + s2 * y[:, None, :] * (u[..., None] - z_minus)) / v_row[..., None]
    log_w = np.sum(-0.5 * (_LOG_2PI + np.log(v_row)) - 0.5 * u * u / v_row, axis=-1)
    return W, log_w


def _batch_scores(config: NetworkConfig, proposal: _Proposal, M: int, rng, exact: bool):
    """Scores of M independent samples: (f, stable, sign det(I - J)), each shape (M,).

    u = z_L from the proposal, x = phi(u), the first L-1 layers drawn from their law and
    evaluated at x, the last layer drawn given ``W_L h + b_L = u``.
    """
    N, L = config.N, config.L
    phi = get_activation(config.activation, sigmoid_type=True)
    u = proposal.sample(rng, (M, N))
    log_q = proposal.logpdf(u)
    x = phi(u, np)
    if L > 1:  # the first L-1 layers of M independent networks, evaluated at their own x
        ens = Ensemble.sample(config.replace(L=L - 1), M, seed=rng, backend="numpy")
        h, jac = ens.forward_with_jacobian(x[:, None, :])
        h, jac = h[:, 0], jac[:, 0]
    else:
        h, jac = x, np.broadcast_to(np.eye(N), (M, N, N))
    W, log_w = _condition_layer(config, h, u, rng, exact)
    J = phi.derivative(u, np)[..., None] * (W @ jac)
    sign, logabs = np.linalg.slogdet(np.eye(N) - J)
    radius = np.abs(np.linalg.eigvals(J)).max(axis=-1)
    log_f = log_w + logabs - log_q
    f = np.exp(np.minimum(log_f, 700.0))
    f = np.where(np.isfinite(log_f), f, 0.0)  # log_f = -inf: a zero score
    return f, radius < 1.0, sign.astype(np.int8)


def kac_rice_estimate(
    config: NetworkConfig,
    n_samples: int,
    *,
    seed: Any,
    proposal: str = "meanfield",
    conditioning: str = "exact",
    batch_size: int = 2048,
    progress: bool = False,
) -> KacRiceEstimate:
    """Unbiased Monte-Carlo Kac-Rice estimate of E[Q_all] and E[Q] for random networks of ``config``.

    Parameters
    ----------
    config : NetworkConfig
        Weight law and bias law among :data:`KAC_RICE_LAWS` (Gaussian, Cauchy, Student-t), any
        activation, convention, N and L. Practical for N up to about 10.
    n_samples : int
        Monte-Carlo samples (>= 2). Each sample is an independent network and point.
    seed : int or Generator
        Batch k uses child k of a :class:`numpy.random.SeedSequence` made from the seed (from one
        integer drawn from it, for a Generator), so the result depends on the seed,
        ``n_samples`` and ``batch_size`` only.
    proposal : {"meanfield", "uniform"}
        Density of ``u = phi^{-1}(x)``. ``"meanfield"`` (default): a mixture over the scales the
        last pre-activation takes in a seeded pilot run of 256 networks, with Gaussian components
        for Gaussian weights and Cauchy components for heavy-tailed ones, plus a defensive wide
        Cauchy component, so the ratio p_z / q stays bounded. ``"uniform"``: x uniform on the box;
        fine for Gaussian weights, but for Cauchy weights ``p_z(u) ~ 1/u^2`` against
        ``q(u) ~ exp(-2|u|)`` (tanh), and the scores' variance is infinite (the estimate's
        ``tail_index`` shows it).
    conditioning : {"exact", "mixture"}
        How the last layer is drawn given ``z = u`` for heavy-tailed weights. ``"exact"``: for
        Cauchy weights with Cauchy biases (or none) the row is drawn from its exact conditional
        law (the Cauchy variables ``W_ij h_j`` and ``b_i`` split ``u_i`` exactly, by rejection
        sampling) and the density of z is the exact Cauchy density of scale
        ``c sum_j |h_j| + beta``; other laws fall back to the mixture. ``"mixture"``: scale-mixture
        variables from their prior, importance-weighted by the Gaussian density of z given them
        (unbiased for every law of :data:`KAC_RICE_LAWS`).
    batch_size : int
        Samples per vectorised batch (memory ~ 6 * batch_size * L * N^2 floats).
    progress : bool
        A tqdm bar over batches.

    Returns
    -------
    KacRiceEstimate

    Notes
    -----
    Variance. The scores ``f`` carry ``|det(I - J_F)|``, which is large exactly where fixed
    points are unstable and their neighbourhoods thin (a large Cauchy weight feeding an
    unsaturated unit makes a slab of width ``1/|w|`` in which ``|det| ~ |w|``); their variance is
    large for chaotic Gaussian networks and infinite (logarithmically) for Cauchy weights.
    ``E[Q]`` is unaffected (a stable point has ``|det(I - J)| <= 2^N``). The estimate of
    ``E[Q_all]`` uses the exact identity ``Q_all = 1 + 2 #(index -1)`` (see
    :meth:`KacRiceEstimate.from_scores`), and the result reports the effective sample size and
    a Hill tail index of the scores, so an unreliable error bar is visible.
    """
    _check_config(config)
    n_samples = v.check_int(n_samples, "n_samples", minimum=2)
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    v.check_choice(proposal, "proposal", PROPOSALS)
    v.check_choice(conditioning, "conditioning", ("exact", "mixture"))
    progress = _check_bool(progress, "progress")
    pilot_seq, batch_seqs = _batch_seeds(seed, config, n_samples, batch_size)
    phi = get_activation(config.activation, sigmoid_type=True)
    scales = (_pilot_scales(config, np.random.default_rng(pilot_seq))[-1] if proposal == "meanfield"
              else np.ones(1))
    prop = _Proposal(proposal, phi, scales, heavy=config.law != "gaussian")

    parts = []
    done = 0
    with np.errstate(divide="ignore", invalid="ignore", under="ignore", over="ignore"):
        for seq in tqdm(batch_seqs, total=math.ceil(n_samples / batch_size),
                        desc=f"Kac-Rice N={config.N} L={config.L}", disable=not progress):
            m = min(batch_size, n_samples - done)
            parts.append(_batch_scores(config, prop, m, np.random.default_rng(seq), conditioning == "exact"))
            done += m
    f, stable, signs = (np.concatenate(p) for p in zip(*parts))
    return KacRiceEstimate.from_scores(config, f, stable, signs, proposal)


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool; got {value!r} ({type(value).__name__})")
    return bool(value)


def _batch_seeds(seed: Any, config: NetworkConfig, n_samples: int, batch_size: int):
    """The pilot run's seed and a lazy iterator of the batches' seeds, after checking that the
    per-sample results (at most 10 bytes each) and one batch of matrices fit in memory.

    Children spawned one at a time are the children ``spawn(n)`` would give (child 0 seeds the
    pilot, child k the k-th batch), without holding one SeedSequence per batch at once."""
    v.check_memory(10 * n_samples + 48 * min(batch_size, n_samples) * config.L * config.N**2,
                   f"n_samples = {n_samples} and batch_size = {batch_size}")
    ss = _seed_sequence(seed)
    pilot = ss.spawn(1)[0]
    return pilot, (ss.spawn(1)[0] for _ in range(math.ceil(n_samples / batch_size)))


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    """A SeedSequence from ``seed: int | Generator`` (validated like every fpkit seed)."""
    rng = make_rng(seed, "numpy")
    if isinstance(seed, (int, np.integer)):
        return np.random.SeedSequence(int(seed))
    return np.random.SeedSequence(int(rng.integers(0, 2**63 - 1)))


def kac_rice_code_hash() -> str:
    """SHA-256 (16 hex digits) of the modules that determine a Kac-Rice estimate (for cache keys)."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("_validate", "backend", "sampling", "network", "spectra", "kacrice"):
        digest.update((root / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


def kac_rice_table(
    configs,
    n_samples: int,
    *,
    seed: int,
    cache_dir: str | None = None,
    progress: bool = True,
    **options: Any,
):
    """:func:`kac_rice_estimate` for several configurations: one row per configuration.

    Each configuration's seed is :func:`fpkit.sweep.config_seed` ``(seed, config)``, so adding or
    reordering configurations changes no other row. With ``cache_dir`` every finished
    configuration is stored at once (atomically, checksummed; :class:`fpkit.sweep.SweepCache`,
    keyed by the configuration, the settings and :func:`kac_rice_code_hash`), so an interrupted
    run resumes where it stopped. ``options`` go to :func:`kac_rice_estimate`.

    Returns
    -------
    pandas.DataFrame
        :meth:`KacRiceEstimate.summary` per configuration, in the order of ``configs``.
    """
    import pandas as pd

    from .sweep import SweepCache, config_seed

    if isinstance(configs, NetworkConfig):
        configs = [configs]
    if isinstance(configs, (str, bytes)) or not hasattr(configs, "__iter__"):
        raise TypeError(f"configs must be a sequence of NetworkConfig; got {type(configs).__name__}")
    configs = list(configs)
    if not configs:
        raise ValueError("configs must hold at least one NetworkConfig; got an empty sequence")
    for i, c in enumerate(configs):
        if not isinstance(c, NetworkConfig):
            raise TypeError(f"configs[{i}] must be a NetworkConfig; got {type(c).__name__}")
        _check_config(c)
    n_samples = v.check_int(n_samples, "n_samples", minimum=2)
    seed = v.check_int(seed, "seed", minimum=0)
    progress = _check_bool(progress, "progress")
    cache = SweepCache(cache_dir) if cache_dir is not None else None
    code = kac_rice_code_hash() if cache else None
    rows = []
    for config in tqdm(configs, desc="Kac-Rice configurations", disable=not progress):
        settings = {"kind": "kac_rice", "n_samples": n_samples, "seed": seed, **options}
        key, desc = SweepCache.key(config, settings, code) if cache else (None, None)
        row = cache.load(key) if cache else None
        if row is None:
            est = kac_rice_estimate(config, n_samples, seed=np.random.default_rng(config_seed(seed, config)),
                                    **options)
            row = pd.DataFrame([est.summary()])
            if cache:
                cache.store(key, desc, row)
        rows.append(row)
    return pd.concat(rows, ignore_index=True)


# ---------------------------------------------------------------------------
# The spectral route
# ---------------------------------------------------------------------------


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


def meanfield_fixed_variance(config: NetworkConfig, *, tol: float = 1e-13, max_iter: int = 10000) -> float:
    """The fixed point q* of the length map ``q -> sigma_w^2 E[phi(sqrt(q) Z)^2] + sigma_b^2``.

    Along the orbit of a fixed point of a wide Gaussian network every pre-activation has this
    variance (the L-cycle of the length map through the layers must be its fixed point).
    """
    sigma_w, sigma_b = _gaussian_sigmas(config)
    tol = v.check_real(tol, "tol", low=0.0, high=1.0, low_open=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1, maximum=10**7)
    phi = get_activation(config.activation, sigmoid_type=True)
    q = 1.0
    for _ in range(max_iter):
        new = sigma_w**2 * spectra._gauss(lambda h: phi(h, np) ** 2, q) + sigma_b**2
        if abs(new - q) <= tol * max(1.0, q):
            return float(new)
        q = new
    return float(q)


def _gaussian_sigmas(config: NetworkConfig) -> tuple[float, float]:
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    if config.law != "gaussian":
        raise ValueError(f"config must have law='gaussian' (finite variance); got law={config.law!r}. "
                         "For Cauchy weights use layer_spectrum (cavity equation)")
    blaw = config.biases_law()
    if blaw is not None and blaw.name != "gaussian":
        raise ValueError(f"this needs Gaussian biases or none; got bias law {blaw.name!r}")
    c = scale_factor("gaussian", config.N, config.convention, config.scale)
    return c * math.sqrt(config.N), (0.0 if blaw is None else config.bias_scale)


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
        exponent Lambda(L) of ``|det(I - J)| ~ exp(N Lambda)``; equal to ``L * log_potential(1)``."""
        L = v.check_int(L, "L", minimum=1)
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

    Gaussian weights (and Gaussian or no biases): :class:`~fpkit.spectra.FreeJacobianLaw` of one
    layer with ``D^2 = phi'(sqrt(q*) Z)^2`` (:func:`meanfield_fixed_variance`), exact as N -> infinity.
    Cauchy weights (fan-in, Cauchy or no biases): :func:`fpkit.spectra.cavity_s_transform` at inputs
    ``phi(gamma* C)`` (:func:`fpkit.spectra.cauchy_fixed_scale`), exact for one layer as
    N -> infinity; using it for products assumes the layers are asymptotically free and the
    product's eigenvalue law is given by Haagerup-Larsen (neither is proven for heavy tails: a
    stated approximation). ``seed``, ``population``, ``sweeps``, ``burn_in`` are the cavity's;
    ``n_points`` (10 to 10^6) is the size of the grid the law is tabulated on.
    """
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    n_points = v.check_int(n_points, "n_points", minimum=10, maximum=10**6)
    if config.law == "cauchy":
        gam = spectra.cauchy_fixed_scale(config)
        y = np.geomspace(1e-12, 1e12, n_points)
        w, log_s = spectra.cavity_s_transform(config, y, population=population, sweeps=sweeps,
                                              burn_in=burn_in, seed=seed)
        t = np.maximum.accumulate(1.0 + w)  # population-dynamics noise can break monotonicity
        log_r = np.maximum.accumulate(-0.5 * log_s)
        keep = (t > 0) & (t < 1)
        return LayerSpectrum(t[keep], log_r[keep], "cavity", gam)
    sigma_w, _ = _gaussian_sigmas(config)
    q = meanfield_fixed_variance(config)
    law = spectra.FreeJacobianLaw([sigma_w**2], [spectra.gaussian_d2_atoms(config.activation, q)])
    t = (np.arange(n_points) + 0.5) / n_points
    r = law.radial_quantile(t)
    with np.errstate(divide="ignore"):
        log_r = np.log(r)
    keep = np.isfinite(log_r)
    return LayerSpectrum(t[keep], log_r[keep], "free probability", q)


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
    sigma_w, sigma_b = _gaussian_sigmas(config)
    n_samples = v.check_int(n_samples, "n_samples", minimum=2)
    n_grid = v.check_int(n_grid, "n_grid", minimum=2)
    n_t = v.check_int(n_t, "n_t", minimum=8)
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    N, L = config.N, config.L
    phi = get_activation(config.activation, sigmoid_type=True)
    pilot_seq, batch_seqs = _batch_seeds(seed, config, n_samples, batch_size)
    prop = _Proposal("meanfield", phi, _pilot_scales(config, np.random.default_rng(pilot_seq))[-1], heavy=False)
    t = (np.arange(n_t) + 0.5) / n_t
    s2 = sigma_w**2

    # Tables over m_x: log r of the first L-1 layers, their m1 factor, and q_L.
    m_max = max(phi.low**2, phi.high**2)
    m_grid = np.linspace(0.0, m_max, n_grid)
    first = np.zeros((n_grid, n_t))
    first_m1 = np.ones(n_grid)
    q_last = np.empty(n_grid)
    h2 = np.empty(n_grid)  # |h_{L-1}|^2 / N as a function of m_x (mean field)
    for k, m in enumerate(m_grid):
        q = spectra.preactivation_variances(config.activation, L, sigma_w, sigma_b, float(m))
        q_last[k] = q[-1]
        h2[k] = (q[-1] - sigma_b**2) / sigma_w**2
        if L > 1:
            atoms = [spectra.gaussian_d2_atoms(config.activation, float(ql)) for ql in q[:-1]]
            lr = spectra._log_radius([s2] * (L - 1), atoms, t)
            first[k] = np.where(np.isnan(lr), -np.inf, lr)
            first_m1[k] = float(np.prod([s2 * vals @ pr for vals, pr in atoms]))

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
            lr_last = spectra._log_radius([s2], [(d2, np.full(N, 1.0 / N))], t)
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
    from scipy import optimize

    sigma_w, sigma_b = _gaussian_sigmas(config)
    n_grid = v.check_int(n_grid, "n_grid", minimum=5, maximum=10**6)
    L = config.L
    phi = get_activation(config.activation, sigmoid_type=True)
    q_star = meanfield_fixed_variance(config)

    def objective(log_a):
        a = math.exp(log_a)
        mx = spectra._gauss(lambda h: phi(h, np) ** 2, a)
        q = spectra.preactivation_variances(config.activation, L, sigma_w, sigma_b, mx)
        r = a / q[-1]
        kl = 0.5 * (r - 1.0 - math.log(r))
        atoms = [spectra.gaussian_d2_atoms(config.activation, float(ql)) for ql in q[:-1]]
        atoms.append(spectra.gaussian_d2_atoms(config.activation, a))
        law = spectra.FreeJacobianLaw(np.full(L, sigma_w**2), atoms)
        return -kl + law.log_potential(1.0)

    grid = np.linspace(math.log(q_star) - 4.0, math.log(q_star) + 4.0, n_grid)
    vals = np.array([objective(g) for g in grid])
    k = int(np.argmax(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, n_grid - 1)]
    res = optimize.minimize_scalar(lambda g: -objective(g), bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-4})
    best = max(float(vals[k]), float(-res.fun))
    a_opt = math.exp(res.x if -res.fun >= vals[k] else grid[k])
    typical = layer_spectrum(config).log_potential(L)
    return {"typical": typical, "gaussian_family": max(best, typical), "a_opt": a_opt, "q_star": q_star}
