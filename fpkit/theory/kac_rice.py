"""The exact Monte-Carlo Kac-Rice estimator of the mean numbers of fixed points (all, and stable).

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

Variance
    A score carries ``|det(I - J_F)|``, which is large exactly where fixed points are unstable and their
    neighbourhoods thin (a large Cauchy weight feeding an unsaturated unit makes a slab of width ``1/|w|``
    in which ``|det| ~ |w|``): the ``Q_all`` scores have infinite variance for Cauchy weights (and a
    huge one for chaotic Gaussian networks), so their standard error is not valid, and an estimate whose
    scores look heavy-tailed is flagged (:attr:`KacRiceEstimate.infinite_variance_suspected`). A stable
    point has every eigenvalue of J in the unit disc, so ``|det(I - J)| <= 2^N`` on it, and the ``E[Q]``
    scores are bounded: :func:`mean_stable_fixed_points` is the check with a valid standard error.

References
----------
Kac (1943), Rice (1945); Adler & Taylor, *Random Fields and Geometry* (2007), Thm 11.2.1.
Fyodorov & Khoruzhenko, PNAS 113, 6827 (2016).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from .. import _validate as v
from ..activations import get_activation
from ..backend import single_threaded_blas, split_rows
from ..network import Ensemble, NetworkConfig
from ..sampling import hill_estimator
from .kac_rice_sampling import (
    PROPOSALS,
    KacRiceProposal,
    batch_seeds,
    check_kac_rice_config,
    condition_last_layer,
    pilot_scales,
    scale_bounds,
    seed_sequence,
)

__all__ = [
    "HEAVY_TAIL_INDEX",
    "HEAVY_TAIL_SHARE",
    "KacRiceEstimate",
    "StableFixedPointsEstimate",
    "default_batch_size",
    "kac_rice_estimate",
    "mean_stable_fixed_points",
    "score_tail",
]

#: The scores look heavy-tailed (their variance infinite) when their Hill tail index is below this ...
HEAVY_TAIL_INDEX = 2.0
#: ... or when one score carries more than this share of their sum.
HEAVY_TAIL_SHARE = 0.1


def score_tail(scores) -> tuple[float, float, float]:
    """``(tail_index, max_share, ess)`` of non-negative Monte-Carlo scores.

    ``tail_index``: Hill estimate (:func:`fpkit.sampling.hill_estimator`) over the ``max(10, sqrt(n+))``
    largest of the ``n+`` positive scores (``inf`` if fewer than 20 are positive, or if the largest are
    all equal); ``max_share``: the largest score's share of the sum; ``ess``: the effective sample size
    ``(sum f)^2 / sum f^2``. The scores are flagged as heavy-tailed (infinite variance suspected, their
    standard error not valid) when ``tail_index < 2`` or ``max_share > 0.1``; on simulated scores of known
    tail this rule flags Pareto tails of index 1.5 and below, and passes bounded scores and Pareto tails
    of index 3 and above (tests/test_kacrice.py).
    """
    f = v.check_array(scores, "scores", ndim=1, min_size=2)
    if np.any(f < 0):
        raise ValueError("scores must be >= 0")
    if f.max() > 0 and not 1e-100 <= f.max() <= 1e100:  # squares and sums could leave float64: in units of
        f = f / f.max()  # the largest score (the same numbers)
    total = f.sum()
    ess = float(total**2 / np.sum(f * f)) if total > 0 else 0.0
    pos = f[f > 0]
    tail = math.inf
    if pos.size >= 20:
        k = max(10, int(math.sqrt(pos.size)))
        try:
            tail = hill_estimator(pos, k=min(k, pos.size - 1)).alpha
        except ValueError:  # the largest scores are all equal: no tail at all
            tail = math.inf
    return float(tail), (float(f.max() / total) if total > 0 else 0.0), ess


def _heavy_weights(config: NetworkConfig) -> bool:
    """True for weights of tail index at most 1 (Cauchy; Student-t with df <= 1), for which the ``Q_all``
    scores have infinite variance (see :attr:`KacRiceEstimate.infinite_variance_suspected`)."""
    return bool(config.weights_law().tail_index <= 1.0)


def _heavy_tailed(tail_index: float, max_share: float) -> bool:
    return bool(tail_index < HEAVY_TAIL_INDEX or max_share > HEAVY_TAIL_SHARE)


def _mean_se(a) -> tuple[float, float]:
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size))


@dataclass(frozen=True)
class KacRiceEstimate:
    """Monte-Carlo Kac-Rice estimate of the mean numbers of fixed points of one configuration.

    Attributes
    ----------
    config : fpkit.network.NetworkConfig
        The configuration.
    q_all : float
        Mean number of fixed points per network, ``E[Q_all]``, from the index -1 points (see
        :meth:`from_scores`). Not a valid check where :attr:`infinite_variance_suspected`: its scores
        then have (or look to have) infinite variance, the standard error is not valid and the
        estimate is typically below the mean at these sample sizes.
    q_all_se : float
        Its standard error.
    q_all_plain : float
        The same from the plain mean of the scores.
    q_all_plain_se : float
        Its standard error.
    q_stable : float
        Mean number of stable fixed points (spectral radius of ``J_F`` below 1), ``E[Q]``; its scores are
        bounded (see :func:`mean_stable_fixed_points`).
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
        """True when the ``Q_all`` scores have infinite variance by theory or look heavy-tailed: then
        ``q_all`` and ``q_all_plain`` are no valid check (their standard errors are not valid, and at
        these sample sizes the estimates typically fall below the mean).

        By theory for weights of tail index ``a <= 1`` (Cauchy; Student-t with ``df <= 1``): a weight of size
        w feeding an unsaturated unit makes ``|det(I - J)| ~ |w|`` on a slab of width ``~1/|w|``, so
        ``P(f > t) >~ P(|w| > t) / t ~ t^-(1 + a)``, a tail of index ``1 + a <= 2``; measured, by the rule
        of :func:`~fpkit.theory.kac_rice.score_tail` (Hill tail index below 2, or one score over 10 % of the sum).
        """
        return _heavy_weights(self.config) or _heavy_tailed(self.tail_index, self.max_share)

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
        ``scores`` (>= 0), ``stable`` and ``signs`` have one entry per sample, shape (n,), n >= 2.
        """
        f = np.asarray(scores, dtype=float)
        stable = np.asarray(stable, dtype=bool)
        signs = np.asarray(signs, dtype=np.int8)
        n = f.size
        if n < 2:
            raise ValueError(f"scores must hold at least 2 samples; got {n}")
        if stable.shape != f.shape or signs.shape != f.shape:
            raise ValueError("scores, stable and signs must have the same shape")
        q_all, q_all_se = _mean_se(1.0 + 2.0 * f * (signs < 0))
        q_plain, q_plain_se = _mean_se(f)
        q_st, q_st_se = _mean_se(f * stable)
        idx, idx_se = _mean_se(f * signs)
        tail, share, ess = score_tail(f)
        return cls(config=config, q_all=q_all, q_all_se=q_all_se, q_all_plain=q_plain,
                   q_all_plain_se=q_plain_se, q_stable=q_st, q_stable_se=q_st_se,
                   index_sum=idx, index_sum_se=idx_se, n_samples=n, ess=ess, tail_index=tail,
                   max_share=share, proposal=proposal, scores=f, stable=stable, signs=signs)


# ---------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------


def _batch_scores(config: NetworkConfig, proposal: KacRiceProposal, M: int, rng, exact: bool):
    """Scores of M independent samples: (f, stable, sign det(I - J)), each shape (M,).

    u = z_L from the proposal, x = phi(u), the first L-1 layers drawn from their law and
    evaluated at x, the last layer drawn given ``W_L h + b_L = u``. The random draws run in this
    thread, in order; the linear algebra (the first layers' Jacobians, J, its determinant and
    eigenvalues) is shared by rows among fpkit's threads (:func:`fpkit.backend.split_rows`), always
    under :data:`fpkit.backend.single_threaded_blas`: each sample's numbers are the same for any number
    of threads.
    """
    N, L = config.N, config.L
    phi = get_activation(config.activation, sigmoid_type=True)
    u = proposal.sample(rng, (M, N))
    log_q = proposal.logpdf(u)
    x = phi(u, np)
    if L > 1:  # the first L-1 layers of M independent networks, evaluated at their own x
        ens = Ensemble.sample(config.replace(L=L - 1), M, seed=rng, backend="numpy")
        h, jac = np.empty((M, N)), np.empty((M, N, N))

        def first_layers(a, b):
            fx, jx = ens.forward_with_jacobian(x[a:b, None, :], networks=slice(a, b))
            h[a:b], jac[a:b] = fx[:, 0], jx[:, 0]

        with single_threaded_blas:
            split_rows(first_layers, M, work=2.0 * M * (L - 1) * N**3)
    else:
        h, jac = x, np.broadcast_to(np.eye(N), (M, N, N))
    W, log_w = condition_last_layer(config, h, u, rng, exact)
    d = phi.derivative(u, np)[..., None]
    sign, logabs, radius = np.empty(M), np.empty(M), np.empty(M)

    def last_layer(a, b):
        J = d[a:b] * (W[a:b] @ jac[a:b])
        sign[a:b], logabs[a:b] = np.linalg.slogdet(np.eye(N) - J)
        radius[a:b] = np.abs(np.linalg.eigvals(J)).max(axis=-1)

    with single_threaded_blas:
        split_rows(last_layer, M, work=30.0 * M * N**3)
    log_f = log_w + logabs - log_q
    f = np.exp(np.minimum(log_f, 700.0))
    f = np.where(np.isfinite(log_f), f, 0.0)  # log_f = -inf: a zero score
    return f, radius < 1.0, sign.astype(np.int8)


def _proposal(config: NetworkConfig, kind: str, pilot_seed) -> KacRiceProposal:
    phi = get_activation(config.activation, sigmoid_type=True)
    if kind == "uniform":
        scales = np.ones(1)
    else:
        scales = pilot_scales(config, np.random.default_rng(pilot_seed), at_images=kind == "image")[-1]
        if kind == "image":
            scales = np.concatenate([scales, scale_bounds(config)])
    return KacRiceProposal(kind, phi, scales, heavy=config.law != "gaussian")


def _scores(config, proposal, n_samples, batch_size, batch_seqs, exact: bool, progress: bool):
    """(f, stable, signs) of ``n_samples`` samples in batches, batch k drawn from ``batch_seqs[k]``."""
    parts = []
    done = 0
    with np.errstate(divide="ignore", invalid="ignore", under="ignore", over="ignore"):
        for seq in tqdm(batch_seqs, total=math.ceil(n_samples / batch_size),
                        desc=f"Kac-Rice N={config.N} L={config.L}", disable=not progress):
            m = min(batch_size, n_samples - done)
            parts.append(_batch_scores(config, proposal, m, np.random.default_rng(seq), exact))
            done += m
    return tuple(np.concatenate(p) for p in zip(*parts))


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
        Weight law and bias law among :data:`~fpkit.theory.kac_rice_sampling.KAC_RICE_LAWS` (Gaussian,
        Cauchy, Student-t), any activation, convention, N and L. A ValueError where the last
        pre-activation's scale falls below 1e-150 (tiny weights without biases: the fixed points then sit
        in a region float64 cannot resolve).
    n_samples : int
        Monte-Carlo samples (>= 2). Each sample is an independent network and point.
    seed : int or Generator
        Batch k uses child k of a :class:`numpy.random.SeedSequence` made from the seed (from one
        integer drawn from it, for a Generator), so the result depends on the seed,
        ``n_samples`` and ``batch_size`` only.
    proposal : {"meanfield", "image", "uniform"}
        Density of ``u = phi^{-1}(x)``. ``"meanfield"`` (default): a mixture over the scales the
        last pre-activation takes in a seeded pilot run of 256 networks at inputs uniform on the box,
        with Gaussian components for Gaussian weights and Cauchy components for heavy-tailed ones, plus
        a defensive wide Cauchy component, so the ratio p_z / q stays bounded. ``"image"``: the same
        with the pilot at the images F(x) of those inputs, where the fixed points lie, and two more
        components at the smallest and largest scales the pre-activation can take
        (:func:`~fpkit.theory.kac_rice_sampling.scale_bounds`): better matched where the last layer's input
        is x itself (L = 1) and at large N (see :func:`mean_stable_fixed_points`). ``"uniform"``: x uniform on the box;
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
        (unbiased for every law of :data:`~fpkit.theory.kac_rice_sampling.KAC_RICE_LAWS`).
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
    a Hill tail index of the scores and flags heavy tails
    (:attr:`KacRiceEstimate.infinite_variance_suspected`): such a ``q_all`` is no valid check.
    :func:`mean_stable_fixed_points` gives ``E[Q]`` alone, with a valid standard error of a chosen size.
    Threads. The random draws run in the calling thread, in order; the linear algebra (the first layers'
    Jacobians, J, its determinant and eigenvalues) is shared by rows among fpkit's threads, always under
    :data:`fpkit.backend.single_threaded_blas`: the numbers do not depend on ``FPKIT_NUM_THREADS`` or on the
    BLAS threads.
    """
    check_kac_rice_config(config)
    n_samples = v.check_int(n_samples, "n_samples", minimum=2)
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    v.check_choice(proposal, "proposal", PROPOSALS)
    v.check_choice(conditioning, "conditioning", ("exact", "mixture"))
    progress = v.check_bool(progress, "progress")
    pilot_seq, batch_seqs = batch_seeds(seed, config, n_samples, batch_size)
    prop = _proposal(config, proposal, pilot_seq)
    f, stable, signs = _scores(config, prop, n_samples, batch_size, batch_seqs, conditioning == "exact", progress)
    return KacRiceEstimate.from_scores(config, f, stable, signs, proposal)


# ---------------------------------------------------------------------------
# E[Q]: stable fixed points, bounded scores
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StableFixedPointsEstimate:
    """Exact Monte-Carlo Kac-Rice estimate of ``E[Q]``, the mean number of stable fixed points.

    Attributes
    ----------
    config : fpkit.network.NetworkConfig
    q_stable : float
        ``E[Q]``: the mean of the stable scores of ``n_samples`` samples drawn after the sample size
        was fixed (unbiased).
    q_stable_se : float
        Its standard error (the scores are bounded, so it is valid; see :attr:`infinite_variance_suspected`).
    n_samples : int
        Samples of the estimate.
    target_se : float or None
        The standard error asked for (None when ``n_samples`` was given).
    pilot_samples : int
        Samples of the separate pilot run that sized ``n_samples`` (0 when ``n_samples`` was given).
    capped : bool
        True when the target needed more than ``max_samples`` samples (then ``q_stable_se`` is larger).
    index_sum, index_sum_se : float
        The mean index sum from the same samples (exactly 1 in theory): a coarse check that the proposal
        covers the fixed points (its scores carry ``|det(I - J)|`` of unstable points too, so its standard
        error may be invalid for Cauchy weights).
    tail_index, max_share, ess : float
        :func:`~fpkit.theory.kac_rice.score_tail` of the stable scores.
    seconds : float
        Wall time of the whole call (proposal pilot, sizing run and estimate).
    proposal : str
    scores : numpy.ndarray
        The stable scores ``f 1[rho(J) < 1]``, shape (n_samples,).
    """

    config: NetworkConfig
    q_stable: float
    q_stable_se: float
    n_samples: int
    target_se: float | None
    pilot_samples: int
    capped: bool
    index_sum: float
    index_sum_se: float
    tail_index: float
    max_share: float
    ess: float
    seconds: float
    proposal: str
    scores: np.ndarray = field(repr=False)

    @property
    def infinite_variance_suspected(self) -> bool:
        """True when the stable scores look heavy-tailed (the rule of :func:`~fpkit.theory.kac_rice.score_tail`); they are bounded by
        ``2^N sup p_z / q``, so this flags a proposal that covers the fixed points poorly."""
        return _heavy_tailed(self.tail_index, self.max_share)

    def summary(self) -> dict[str, Any]:
        """The numbers as a flat dict (config fields included), for a table row."""
        out = dict(self.config.as_dict())
        out.update(q_stable=self.q_stable, q_stable_se=self.q_stable_se, n_samples=self.n_samples,
                   target_se=self.target_se, pilot_samples=self.pilot_samples, capped=self.capped,
                   index_sum=self.index_sum, index_sum_se=self.index_sum_se, tail_index=self.tail_index,
                   max_share=self.max_share, ess=self.ess,
                   infinite_variance_suspected=self.infinite_variance_suspected, seconds=self.seconds,
                   proposal=self.proposal)
        return out


def _stage_seeds(ss: np.random.SeedSequence, n_samples: int, batch_size: int):
    return (ss.spawn(1)[0] for _ in range(math.ceil(n_samples / batch_size)))


def default_batch_size(config: NetworkConfig) -> int:
    """Samples per batch that keep a batch's arrays near 2^21 numbers (about 100 MB): 16 to 2048."""
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    return int(min(2048, max(16, 2**21 // (config.L * config.N**2))))


def mean_stable_fixed_points(
    config: NetworkConfig,
    *,
    seed: Any,
    standard_error: float = 0.01,
    n_samples: int | None = None,
    pilot_samples: int = 1024,
    max_samples: int = 2_000_000,
    proposal: str = "image",
    conditioning: str = "exact",
    batch_size: int | None = None,
    progress: bool = False,
) -> StableFixedPointsEstimate:
    """``E[Q]``, the mean number of stable fixed points, by the exact Kac-Rice estimator, with a valid error.

    The scores of :func:`kac_rice_estimate` restricted to stable samples (spectral radius of ``J_F`` below
    1). On a stable point every eigenvalue of J lies in the unit disc, so ``|det(I - J)| <= 2^N``, and the
    proposal's defensive component bounds ``p_z / q``: the scores are bounded, their variance is finite
    and the standard error valid (unlike those of ``E[Q_all]``).

    Parameters
    ----------
    config : NetworkConfig
        Weight and bias laws Gaussian, Cauchy or Student-t; any N and L. Cost per sample about
        ``L N^3``; measured for a standard error of 0.01 (one thread, a loaded 2-core machine): below 1 s
        for N <= 4, 1-4 s for N = 10, up to 10 s for N = 16, 38 s for Cauchy weights at N = 32, L = 64,
        about 7 minutes for the whole grid N in {2, 4, 8, 10, 16, 24, 32}, L in {1, 2, ..., 64}, both laws.
    seed : int or Generator
        One SeedSequence from it has three children: the proposal's pilot run, the sizing run, and the
        estimate's batches (child k of the last for batch k).
    standard_error : float > 0
        Target standard error: a separate run of ``pilot_samples`` samples estimates the scores' standard
        deviation ``sd``, and the estimate then uses ``ceil((sd / standard_error)^2)`` fresh samples (at
        least ``pilot_samples``, at most ``max_samples``). The estimate is unbiased (its sample size does
        not depend on its own samples); its standard error is near the target (the pilot's sd is an estimate:
        measured within 20 % of it, mostly below).
    n_samples : int, optional
        Use exactly this many samples (>= 2) instead; no sizing run.
    pilot_samples : int >= 16
    max_samples : int >= 2
    proposal, conditioning : str
        As in :func:`kac_rice_estimate`; the default proposal ``"image"`` fits the scales at images of
        uniform points (for Cauchy weights at N = 32, L = 1 the scores' standard deviation is 0.8 with it
        and 4.3, with a Hill tail index of 1.4, with ``"meanfield"``).
    batch_size : int, optional
        Samples per batch; default :func:`~fpkit.theory.kac_rice.default_batch_size`.
    progress : bool
        tqdm bars.

    Returns
    -------
    StableFixedPointsEstimate
    """
    start = time.perf_counter()
    check_kac_rice_config(config)
    target = v.check_real(standard_error, "standard_error", low=0.0, low_open=True)
    pilot_samples = v.check_int(pilot_samples, "pilot_samples", minimum=16, maximum=10**8)
    max_samples = v.check_int(max_samples, "max_samples", minimum=2, maximum=10**9)
    if n_samples is not None:
        n_samples = v.check_int(n_samples, "n_samples", minimum=2, maximum=10**9)
    v.check_choice(proposal, "proposal", PROPOSALS)
    v.check_choice(conditioning, "conditioning", ("exact", "mixture"))
    batch_size = default_batch_size(config) if batch_size is None else v.check_int(batch_size, "batch_size",
                                                                                   minimum=1)
    progress = v.check_bool(progress, "progress")
    v.check_memory(10 * min(n_samples or max_samples, 10**8) + 48 * batch_size * config.L * config.N**2,
                   f"max_samples = {max_samples} and batch_size = {batch_size}")
    proposal_ss, sizing_ss, estimate_ss = seed_sequence(seed).spawn(3)
    prop = _proposal(config, proposal, proposal_ss)
    exact = conditioning == "exact"
    used_pilot, capped = 0, False
    if n_samples is None:
        f, stable, _ = _scores(config, prop, pilot_samples, batch_size,
                               _stage_seeds(sizing_ss, pilot_samples, batch_size), exact, progress)
        sd = float((f * stable).std(ddof=1))
        wanted = math.ceil((sd / target) ** 2)
        n_samples = int(min(max(wanted, pilot_samples), max_samples))
        used_pilot, capped = pilot_samples, wanted > max_samples
    f, stable, signs = _scores(config, prop, n_samples, batch_size, _stage_seeds(estimate_ss, n_samples, batch_size),
                               exact, progress)
    scores = f * stable
    q, q_se = _mean_se(scores)
    idx, idx_se = _mean_se(f * signs)
    tail, share, ess = score_tail(scores)
    return StableFixedPointsEstimate(
        config=config, q_stable=q, q_stable_se=q_se, n_samples=n_samples,
        target_se=None if used_pilot == 0 else target, pilot_samples=used_pilot, capped=capped, index_sum=idx,
        index_sum_se=idx_se, tail_index=tail, max_share=share, ess=ess, seconds=time.perf_counter() - start,
        proposal=proposal, scores=scores)
