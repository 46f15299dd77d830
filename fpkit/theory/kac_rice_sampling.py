"""The sampling pieces of the exact Kac-Rice estimator (:mod:`fpkit.theory.kac_rice`).

Every weight law the estimator supports is a Gaussian scale mixture, ``W_ij = c tau_ij G_ij`` with G
standard normal (``tau = 1`` for Gaussian weights; ``tau^2 = 1 / chi^2_1`` for Cauchy weights,
``df / chi^2_df`` for Student-t). Here:

* :class:`KacRiceProposal`, the density ``q(u)`` from which the last pre-activation ``u`` is drawn, and
  :func:`pilot_scales`, the seeded pilot run that fits it to a configuration;
* :func:`condition_last_layer`, the last layer drawn given ``W_L h + b_L = u`` (exactly for Cauchy
  weights, by :func:`split_cauchy_sum`; by Matheron's rule for the scale mixtures), with the density of
  the pre-activation at u;
* :func:`batch_seeds`, the seeds of the pilot and of each batch.

References: Hesterberg, Technometrics 37, 185 (1995) (defensive mixture proposals).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from .. import _validate as v
from ..activations import Activation, get_activation
from ..backend import make_rng
from ..network import Ensemble, NetworkConfig
from ..sampling import scale_factor, weight_law

__all__ = [
    "KAC_RICE_LAWS",
    "PROPOSALS",
    "KacRiceProposal",
    "batch_seeds",
    "check_kac_rice_config",
    "condition_last_layer",
    "pilot_scales",
    "scale_bounds",
    "seed_sequence",
    "split_cauchy_sum",
]

#: Weight and bias laws the exact estimator supports (Gaussian scale mixtures).
KAC_RICE_LAWS = ("gaussian", "cauchy", "student_t")
#: Proposal densities of the estimator (see :class:`KacRiceProposal`).
PROPOSALS = ("meanfield", "image", "uniform")

_LOG_2PI = math.log(2.0 * math.pi)
#: Largest scale, pre-activation or input magnitude the sampling pieces accept (squares stay finite, sums of
#: many stay below the float64 maximum).
MAX_VALUE = 1e150


def _generator(rng: Any, name: str = "rng") -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator; got {type(rng).__name__}")
    return rng


def _values(x: Any, name: str, *, ndim=None) -> np.ndarray:
    """A finite float64 array with ``|x| <= MAX_VALUE``, else an error naming ``name``."""
    arr = v.check_array(x, name, ndim=ndim)
    if arr.size and np.max(np.abs(arr)) > MAX_VALUE:
        raise ValueError(f"{name} must be at most {MAX_VALUE:g} in magnitude; got {np.max(np.abs(arr)):g}")
    return arr


def check_kac_rice_config(config: NetworkConfig) -> NetworkConfig:
    """``config`` if its weight and bias laws are among :data:`~fpkit.theory.kac_rice_sampling.KAC_RICE_LAWS`, else a TypeError/ValueError."""
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    if config.law not in KAC_RICE_LAWS:
        raise ValueError(f"config.law must be one of {KAC_RICE_LAWS} for the Kac-Rice estimator; got {config.law!r}")
    try:
        blaw = config.biases_law()
    except ValueError as exc:  # a bias law that needs a parameter of its own
        raise ValueError(f"config: {exc}") from None
    if blaw is not None and blaw.name not in KAC_RICE_LAWS:
        raise ValueError(f"the bias law must be one of {KAC_RICE_LAWS} (or none); got {blaw.name!r}")
    return config


# ---------------------------------------------------------------------------
# Laws as Gaussian scale mixtures
# ---------------------------------------------------------------------------


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


class KacRiceProposal:
    """Density q(u) of one layer's pre-activation vector u (shape (..., N)).

    ``"meanfield"`` and ``"image"``: a mixture of product densities, ``sum_k pi_k prod_i g(u_i; s_k)``, one
    component per scale ``s_k`` (quantiles of the scale of the pre-activation given its input in a
    pilot run: the proposal imitates the law of z, whose scale varies from network to network),
    g Gaussian for Gaussian weights and Cauchy for heavy-tailed ones, plus a defensive Cauchy
    component of scale ``4 max s_k`` (weight 0.05; Hesterberg 1995) that bounds the ratio p/q.
    ``"uniform"``: x = phi(u) uniform on the box. (``"meanfield"`` and ``"image"`` differ only in the
    pilot run that gives the scales: see :func:`pilot_scales`.)

    Parameters
    ----------
    kind : {"meanfield", "image", "uniform"}
    activation : str or Activation
        The network's (sigmoid-type) activation phi.
    scales : array of float in (0, 1e150], shape (K,)
        The component scales s_k (from :func:`pilot_scales`; ignored for ``"uniform"``).
    heavy : bool
        Cauchy components (heavy-tailed weights) instead of Gaussian ones.
    """

    def __init__(self, kind: str, activation: str | Activation, scales, heavy: bool):
        kind = v.check_choice(kind, "kind", PROPOSALS)
        activation = get_activation(activation, sigmoid_type=True)
        scales = _values(scales, "scales", ndim=1)
        if scales.size == 0 or np.any(scales <= 0):
            raise ValueError(f"scales must be a non-empty array of positive numbers; got {scales!r:.80}")
        self.kind, self.phi, self.heavy = kind, activation, v.check_bool(heavy, "heavy")
        self.scales = np.concatenate([scales, [4.0 * scales.max()]])
        self.log_pi = np.log(np.concatenate([np.full(scales.size, 0.95 / scales.size), [0.05]]))

    def sample(self, rng, shape):
        """Draws u of shape ``shape`` (..., N) from the proposal, with the NumPy generator ``rng``."""
        rng = _generator(rng)
        shape = v.check_shape(shape)
        if not shape:
            raise ValueError("shape must have at least one axis (..., N)")
        v.check_memory(40 * math.prod(shape), f"shape = {shape}")
        if self.kind == "uniform":  # x uniform on the box, u = phi^{-1}(x)
            lo, hi = self.phi.low, self.phi.high
            x = np.clip(rng.uniform(lo, hi, shape), lo + 1e-300, hi - 1e-300)
            return self.phi.inverse(x, np)
        k = rng.choice(self.scales.size, size=shape[:-1], p=np.exp(self.log_pi))
        defensive = k == self.scales.size - 1
        g = rng.standard_cauchy(shape) if self.heavy else rng.standard_normal(shape)
        g = np.where(defensive[..., None], rng.standard_cauchy(shape), g)
        return g * self.scales[k][..., None]

    def logpdf(self, u):
        """log q(u) for u of shape (..., N) (finite), shape (...); ``-inf`` where q underflows to 0."""
        u = v.check_array(u, "u", ndim=tuple(range(1, 33)))
        with np.errstate(over="ignore", under="ignore", divide="ignore"):  # a density of 0 is log q = -inf
            if self.kind == "uniform":
                d = self.phi.derivative(u, np)
                return np.sum(np.log(d), axis=-1) - u.shape[-1] * math.log(self.phi.high - self.phi.low)
            main = _component_logpdf(u, self.scales[:-1], self.heavy) + self.log_pi[:-1]
            wide = _component_logpdf(u, self.scales[-1:], True) + self.log_pi[-1:]
            return special.logsumexp(np.concatenate([main, wide], axis=-1), axis=-1)


def pilot_scales(config: NetworkConfig, rng, n_components: int = 8, *, at_images: bool = False) -> np.ndarray:
    """Quantiles of each layer's pre-activation scale given its input, shape (L, n_components).

    From a seeded run of 256 networks at inputs uniform on the box (``at_images``: at the images F(x) of
    such inputs under each network, where its fixed points lie; the same random draws): the scale of z_i given the
    layer's input h is ``c sum_j |h_j| + beta`` for Cauchy weights (exact, the Cauchy scale) and
    ``sqrt(c^2 |h|^2 + beta^2)`` otherwise (the standard deviation for Gaussian weights and biases).
    The quantiles are floored at ``1e-3`` times the largest one (and at 1e-280), so that no component
    is degenerate.
    """
    config = check_kac_rice_config(config)
    rng = _generator(rng)
    n_components = v.check_int(n_components, "n_components", minimum=1, maximum=10**6)
    at_images = v.check_bool(at_images, "at_images")
    ens = Ensemble.sample(config, 256, seed=rng, backend="numpy")
    lo, hi = ens.domain
    x = rng.uniform(lo, hi, (256, 1, config.N))
    if at_images:
        x = ens.forward(x)
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
        quantiles = np.quantile(sc, levels)
        out[layer] = np.maximum(quantiles, max(1e-3 * quantiles.max(), 1e-280))
        z = x @ np.swapaxes(W[:, layer], -1, -2) + b[:, layer, None, :]
        x = ens.activation(z, np)
    return out


def scale_bounds(config: NetworkConfig) -> np.ndarray:
    """The smallest and largest scale the last pre-activation can have given its input, where both are finite
    and positive (shape (0,), (1,) or (2,)).

    Every layer's input lies in the activation's range, ``|h_j| <= M``: the scale is ``c sum_j |h_j| + beta``
    in ``[beta, c N M + beta]`` for Cauchy weights and ``sqrt(c^2 |h|^2 + beta^2)`` in
    ``[beta, sqrt(c^2 N M^2 + beta^2)]`` for Gaussian weights (Gaussian or Cauchy biases of scale beta for
    the lower end; Student-t scale mixtures have no upper end). As components of the ``"image"`` proposal
    they bound ``p_z / q`` at the ends of the range the pilot's quantiles may miss.
    """
    config = check_kac_rice_config(config)
    phi = get_activation(config.activation, sigmoid_type=True)
    law = weight_law(config.law, df=config.df, alpha=config.alpha)
    c = scale_factor(law, config.N, config.convention, config.scale)
    blaw = config.biases_law()
    beta = 0.0 if blaw is None else config.bias_scale
    M = max(abs(phi.low), abs(phi.high))
    out = [beta] if beta > 0 and (blaw is None or blaw.name in ("gaussian", "cauchy")) else []
    if law.name == "cauchy":
        out.append(c * config.N * M + beta)
    elif law.name == "gaussian":
        out.append(math.sqrt(c * c * config.N * M * M + beta * beta))
    return np.array([b for b in out if 1e-280 < b < 1e280])


# ---------------------------------------------------------------------------
# The last layer given its pre-activation
# ---------------------------------------------------------------------------


def split_cauchy_sum(gam, total, rng) -> np.ndarray:
    """Independent Cauchy variables a_k (scales ``gam[..., k]``) drawn given their sum ``total``.

    Exact: a_k is drawn from its law given the sum of the remaining ones, by rejection from a
    two-component envelope of the product of two Cauchy densities (acceptance >= about 1/4), then
    the sum is updated. ``gam`` has shape (..., K), K >= 1, finite and >= 0 (scales may be 0, but not all of
    a row's where its total is not 0: such a sum is 0), ``total`` shape (...), finite; ``rng`` a NumPy
    Generator.
    """
    gam = v.check_array(gam, "gam", ndim=tuple(range(1, 33)))
    if gam.shape[-1] == 0 or (gam.size and np.min(gam) < 0):
        raise ValueError(f"gam must have shape (..., K) with K >= 1 and scales >= 0; got shape {gam.shape}"
                         + (f", minimum {np.min(gam):g}" if gam.size else ""))
    S = np.array(v.check_array(total, "total"), dtype=float, copy=True)
    if S.shape != gam.shape[:-1]:
        raise ValueError(f"total must have the shape of gam without its last axis, {gam.shape[:-1]}; got {S.shape}")
    rng = _generator(rng)
    with np.errstate(over="ignore"):
        rest = np.cumsum(gam[..., ::-1], axis=-1)[..., ::-1]  # rest[k] = sum_{m >= k} gam[m]
    if not np.all(np.isfinite(rest)):
        raise ValueError("gam: the sum of a row's scales overflows float64")
    if np.any((rest[..., 0] == 0) & (S != 0)):
        raise ValueError("gam: a row whose scales are all 0 has a sum of 0, but its total is not 0")
    out = np.zeros_like(gam)
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
    """a ~ density proportional to P_g1(a) P_g2(S - a) (P_g: Cauchy density of scale g), 1-D arrays.

    Rejection sampling from one of two envelopes (A: the Cauchy law of the smaller scale, times the
    other density's maximum ``1 / (pi max(g1, g2))``; B: ``kappa2 P_g1(a) + kappa1 P_g2(S - a)`` with
    ``kappa_i = P_gi(S / 2)``), the one of smaller area. Every acceptance ratio is written as a ratio of
    like quantities, e.g. ``P_g1(a) P_g2(S - a) / (P_g1(a) max P_g2) = 1 / (1 + ((S - a) / g2)^2)``, so
    no product of densities under- or overflows, whatever the scales: they may differ by hundreds of
    orders of magnitude. The draws are made in units of ``2^e``, the power of two next to
    ``max(|S|, g1, g2)`` (exact). A scale below ``2^-1074`` of that unit (0 in it) is a variable that is 0 at
    float64 resolution: the other one is the whole sum; where both are, the sum goes to the first with
    probability ``g1 / (g1 + g2)`` (the limit of the conditional law as both scales go to 0).
    """
    _, exponent = np.frexp(np.maximum(np.maximum(np.abs(S), g1), g2))
    share = g1 / (g1 + g2)
    g1, g2, S = (np.ldexp(a, -exponent) for a in (g1, g2, S))
    n = S.size
    out = np.empty(n)
    zero1, zero2 = g1 == 0, g2 == 0
    out[zero1] = 0.0
    out[zero2 & ~zero1] = S[zero2 & ~zero1]
    both = np.nonzero(zero1 & zero2)[0]
    if both.size:
        out[both] = np.where(rng.random(both.size) < share[both], S[both], 0.0)
    g1, g2 = np.where(zero1, 1.0, g1), np.where(zero2, 1.0, g2)  # (not used where 0)
    with np.errstate(over="ignore"):  # an overflowing square means a ratio of 0, as it should
        # pi kappa_i = 1 / (g_i (1 + (S / 2 g_i)^2)); envelope A has area 1 / (pi max(g1, g2))
        q1 = 1.0 / (g1 * (1.0 + (0.5 * S / g1) ** 2))
        q2 = 1.0 / (g2 * (1.0 + (0.5 * S / g2) ** 2))
        use_b = (q1 + q2) * np.maximum(g1, g2) < 1.0
        # envelope B's first component has weight q2 / (q1 + q2); where both q underflow (|S| >> g1, g2) the
        # same ratio from q_i = 4 g_i / (4 g_i^2 + S^2), whose terms are at most 1 in these units
        with np.errstate(invalid="ignore"):
            p_first = np.where(q1 + q2 > 0, q2 / (q1 + q2), g2 * (4 * g1 * g1 + S * S)
                               / (g2 * (4 * g1 * g1 + S * S) + g1 * (4 * g2 * g2 + S * S)))
        left = np.nonzero(~(zero1 | zero2))[0]
        for _ in range(max_rounds):
            if left.size == 0:
                return np.ldexp(out, exponent)
            a1, b1, s, ub = g1[left], g2[left], S[left], use_b[left]
            c1 = rng.standard_cauchy(left.size)
            from_first = np.where(ub, rng.random(left.size) < p_first[left], a1 <= b1)
            a = np.where(from_first, a1 * c1, s - b1 * c1)
            # envelope B: 1 / (kappa2 / P_g2(S - a) + kappa1 / P_g1(a)), kappa_i / P_gi(x) = ((x^2 + g_i^2) / (S^2 / 4 + g_i^2))
            ratio_b = 1.0 / ((np.hypot(s - a, b1) / np.hypot(0.5 * s, b1)) ** 2
                             + (np.hypot(a, a1) / np.hypot(0.5 * s, a1)) ** 2)
            # envelope A: the other density over its maximum
            ratio_a = np.where(a1 <= b1, 1.0 / (1.0 + ((s - a) / b1) ** 2), 1.0 / (1.0 + (a / a1) ** 2))
            ok = rng.random(left.size) < np.where(ub, ratio_b, ratio_a)
            out[left[ok]] = a[ok]
            left = left[~ok]
    raise RuntimeError("Cauchy conditional sampler did not finish; report this as a bug")


def condition_last_layer(config: NetworkConfig, y: np.ndarray, u: np.ndarray, rng, exact: bool):
    """Weights of one layer given its pre-activation: W y + b = u, row by row.

    Parameters
    ----------
    config : NetworkConfig
        Weight and bias laws among :data:`KAC_RICE_LAWS`.
    y : array, shape (M, N)
        Inputs of the layer (finite, at most 1e150 in magnitude; N = ``config.N``).
    u : array, shape (M, N)
        Required pre-activations (finite; where ``u^2`` leaves float64 the density is computed in logs, or
        is 0 and ``log_weight`` is ``-inf``).
    rng : numpy.random.Generator
    exact : bool
        Exact conditioning for Cauchy weights (with Cauchy biases or none); otherwise the scale mixture.

    Returns
    -------
    W : (M, N, N)
        Drawn from the law of W given ``W y + b = u`` (exactly), or, with ``exact=False`` for
        heavy tails, given the scale-mixture variables that are drawn from their prior.
    log_weight : (M,)
        ``sum_i log p(z_i = u_i)``: the exact density of z at u (exact mode), or the Gaussian
        density given the drawn scales (mixture mode; its mean over the scales is the density).

    Raises
    ------
    ValueError
        Where the pre-activation's scale given its input is below 1e-150 or the weight scale above 1e150
        (densities and squares beyond float64).
    """
    config = check_kac_rice_config(config)
    y = _values(y, "y", ndim=2)
    u = v.check_array(u, "u", ndim=2)
    if y.shape != u.shape or y.shape[1] != config.N:
        raise ValueError(f"y and u must both have shape (M, N) with N = config.N = {config.N}; got {y.shape} and "
                         f"{u.shape}")
    rng = _generator(rng)
    exact = v.check_bool(exact, "exact")
    M, N = u.shape
    v.check_memory(64 * M * N * (N + 1), f"M * N^2 = {M * N * N} weights")
    law = weight_law(config.law, df=config.df, alpha=config.alpha)
    c = scale_factor(law, N, config.convention, config.scale)
    blaw = config.biases_law()
    beta = 0.0 if blaw is None else config.bias_scale
    if not (c <= MAX_VALUE and beta <= MAX_VALUE):
        raise ValueError(f"config.scale = {config.scale:g} with bias_scale = {config.bias_scale:g} is too large for "
                         f"the Kac-Rice estimator: the last layer's weight scale {c:.3g} or bias scale exceeds "
                         f"{MAX_VALUE:g}, where the squares of its pre-activation scales leave float64")
    if exact and law.name == "cauchy":
        # a_ij = W_ij y_j ~ Cauchy(c |y_j|), bias ~ Cauchy(beta): split u_i among them exactly.
        gam = np.concatenate([np.broadcast_to(c * np.abs(y)[:, None, :], (M, N, N)),
                              np.full((M, N, 1), beta)], axis=-1)
        g = gam.sum(-1)
        _check_scale(g, config)
        a = split_cauchy_sum(gam, u, rng)[..., :N]
        safe = np.where(y == 0.0, 1.0, y)[:, None, :]
        W = np.where(y[:, None, :] == 0.0, c * rng.standard_cauchy((M, N, N)), a / safe)
        with np.errstate(over="ignore", under="ignore"):  # handled: ``tiny`` below
            square = u * u + g * g
            log_p = np.log(g / np.pi) - np.log(square)
        tiny = ~((square >= np.finfo(float).tiny) & (square < np.inf))  # u^2 + g^2 under- or overflows
        log_p = np.where(tiny, np.log(g / np.pi) - 2.0 * np.log(np.hypot(u, g)), log_p)
        return W, np.sum(log_p, axis=-1)
    with np.errstate(over="ignore", under="ignore"):  # a density of 0 far out: log_weight = -inf
        s2 = c * c * _mixture_variances(law, (M, N, N), rng)
        sb2 = beta * beta * (_mixture_variances(blaw, (M, N), rng) if blaw is not None else np.zeros((M, N)))
        w0 = np.sqrt(s2) * rng.standard_normal((M, N, N))  # unconditioned draws
        b0 = np.sqrt(sb2) * rng.standard_normal((M, N))
        terms_v = s2 * (y * y)[:, None, :]  # s2_ij y_j^2
        v_row = terms_v.sum(-1) + sb2
        _check_scale(np.sqrt(v_row), config)
        # Matheron's rule w = w0 + s2 y (u - z0) / v, written with sums over the *other* inputs so
        # that a dominant heavy-tailed weight does not cancel against itself:
        # w_j = w0_j v_{-j} / v + s2_j y_j (u - z0_{-j}) / v.
        v_minus = _exclusive_sums(terms_v) + sb2[..., None]
        z_minus = _exclusive_sums(w0 * y[:, None, :]) + b0[..., None]
        W = (w0 * v_minus + s2 * y[:, None, :] * (u[..., None] - z_minus)) / v_row[..., None]
        log_w = np.sum(-0.5 * (_LOG_2PI + np.log(v_row)) - 0.5 * u * u / v_row, axis=-1)
        return W, log_w


def _check_scale(scale, config: NetworkConfig) -> None:
    """A ValueError where the last pre-activation's scale (given the layer's input) is below 1e-150."""
    if np.any(scale < 1e-150):
        raise ValueError(
            f"config.scale = {config.scale:g} with bias_scale = {config.bias_scale:g} is too small for the "
            f"Kac-Rice estimator at L = {config.L}: the last pre-activation's scale given its input falls "
            f"below 1e-150 (down to {float(np.min(scale)):.3g}), where its density is not representable in "
            "float64; use a larger scale or biases (bias_scale > 0)")


def batch_seeds(seed: Any, config: NetworkConfig, n_samples: int, batch_size: int):
    """The pilot run's seed and a lazy iterator of the batches' seeds, after checking that the
    per-sample results (at most 10 bytes each) and one batch of matrices fit in memory.

    Children spawned one at a time are the children ``spawn(n)`` would give (child 0 seeds the
    pilot, child k the k-th batch), without holding one SeedSequence per batch at once. ``n_samples`` and
    ``batch_size`` are integers >= 1."""
    config = check_kac_rice_config(config)
    n_samples = v.check_int(n_samples, "n_samples", minimum=1)
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    v.check_memory(10 * n_samples + 48 * min(batch_size, n_samples) * config.L * config.N**2,
                   f"n_samples = {n_samples} and batch_size = {batch_size}")
    ss = seed_sequence(seed)
    pilot = ss.spawn(1)[0]
    return pilot, (ss.spawn(1)[0] for _ in range(math.ceil(n_samples / batch_size)))


def seed_sequence(seed: Any) -> np.random.SeedSequence:
    """A SeedSequence from ``seed: int | Generator`` (validated like every fpkit seed)."""
    rng = make_rng(seed, "numpy")
    if isinstance(seed, (int, np.integer)):
        return np.random.SeedSequence(int(seed))
    return np.random.SeedSequence(int(rng.integers(0, 2**63 - 1)))
