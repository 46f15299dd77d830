"""The hump test: does a per-depth mean rise above *both* end depths? (intersection-union, Holm)."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from .. import _validate as v
from .families import holm_adjust_last_axis
from .tables import check_table

__all__ = ["MAX_ABS_VALUE", "MIN_ALPHA", "check_alpha", "check_magnitude", "hump_test", "hump_test_batch",
           "guarded_critical_value", "hump_test_proportions", "hump_z_test"]


# --------------------------------------------------------------------------------------------
# One-sided comparison of two means: Welch's t with Hall's skewness correction, one-sided
# --------------------------------------------------------------------------------------------

class _Moments(NamedTuple):
    """Per-group sample moments; every field has the same shape."""

    n: np.ndarray       # sample size
    mean: np.ndarray
    var: np.ndarray     # unbiased variance (ddof = 1)
    k3: np.ndarray      # unbiased third cumulant n / ((n-1)(n-2)) * sum (x - mean)^3

    def take(self, index) -> _Moments:
        return _Moments(*(f[..., index] for f in self))


def _sample_moments(samples: np.ndarray) -> _Moments:
    """Moments along the last axis of ``samples`` (shape (..., n))."""
    n = samples.shape[-1]
    mean = samples.mean(axis=-1)
    d = samples - mean[..., None]
    var = (d * d).sum(axis=-1) / (n - 1)
    k3 = (d * d * d).sum(axis=-1) * (n / ((n - 1) * (n - 2)))
    return _Moments(np.full(mean.shape, float(n)), mean, var, k3)


def _welch_hall(a: _Moments, b: _Moments) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of the one-sided comparison "mean of a > mean of b".

    Returns ``(difference, se, gamma, df)``: the difference of the means, its Welch standard
    error, the (truncated, <= 0) skewness ``gamma`` of the difference and the Welch-Satterthwaite
    degrees of freedom.
    """
    va, vb = a.var / a.n, b.var / b.n
    s2 = va + vb
    se = np.sqrt(s2)
    ok = se > 0
    safe = np.where(ok, se, 1.0)
    # Welch-Satterthwaite, in the variances over the larger one (squares of tiny variances would
    # underflow); mathematically between min(n) - 1 and n_a + n_b - 2 (clipped against rounding)
    big = np.where(ok, np.maximum(va, vb), 1.0)
    ra, rb = va / big, vb / big
    denom = np.where(ok, ra * ra / (a.n - 1) + rb * rb / (b.n - 1), 1.0)
    df = np.clip(np.where(ok, (ra + rb) ** 2 / denom, 1.0), np.minimum(a.n, b.n) - 1, a.n + b.n - 2)
    # Third cumulant of the difference of the means over se^3: the skewness that biases the
    # t statistic (Hall 1992). Only a negative value (b more right-skewed than a) makes the
    # upper tail of t heavier than Student's; there the correction is applied, elsewhere not.
    # (Divided by se three times: se^3 itself underflows for tiny values.)
    gamma = np.where(ok, (a.k3 / a.n**2 - b.k3 / b.n**2) / safe / safe / safe, 0.0)
    return a.mean - b.mean, se, np.minimum(gamma, 0.0), df


def _hall(x: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Hall's monotone cubic g(x) = x + gamma x^2/3 + gamma^2 x^3/27 + gamma/6, finite x only."""
    with np.errstate(invalid="ignore", over="ignore"):
        out = x + gamma * x * x / 3.0 + gamma * gamma * x * x * x / 27.0 + gamma / 6.0
    return np.where(np.isfinite(x), out, x)


def _hall_inverse(y: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_hall` in x: (3 / gamma) (cbrt(1 + gamma (y - gamma/6)) - 1)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = gamma * (y - gamma / 6.0)
        c = np.where(u > -1.0, np.expm1(np.log1p(np.maximum(u, -1.0 + 1e-15)) / 3.0), np.cbrt(1.0 + u) - 1.0)
        x = np.where(gamma != 0.0, 3.0 * c / np.where(gamma != 0.0, gamma, 1.0), y - gamma / 6.0)
    return x


def guarded_critical_value(critical: Any, gamma: Any) -> np.ndarray:
    """The smallest Welch statistic t that the skewness-guarded comparison of :func:`hump_test` rejects
    at the Student-t critical value ``critical``, for the skewness ``gamma`` of the difference of the
    means (the third cumulant over se^3): ``max(critical, g^-1(critical))`` with Hall's cubic g, which
    applies where ``gamma < 0`` (the second group more right-skewed). For power calculations."""
    c = np.asarray(critical, dtype=float)
    g = np.minimum(np.asarray(gamma, dtype=float), 0.0)
    return np.maximum(c, _hall_inverse(c, g))


def _greater_pvalue(a: _Moments, b: _Moments) -> np.ndarray:
    """One-sided p-value of H0: mean(a) <= mean(b) against mean(a) > mean(b).

    The larger of Welch's p-value and the Hall-corrected one (a test that rejects only when both
    reject holds its level wherever either does). Two groups without spread: p = 0 if the first
    mean is larger, else 1.
    """
    diff, se, gamma, df = _welch_hall(a, b)
    ok = se > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(ok, diff / np.where(ok, se, 1.0), np.where(diff > 0, np.inf, -np.inf))
    statistic = np.minimum(t, _hall(t, gamma))
    return stats.t.sf(statistic, df)


def _greater_lower_bound(a: _Moments, b: _Moments, level: np.ndarray | float) -> np.ndarray:
    """Lower confidence bound, at one-sided error ``level``, for mean(a) - mean(b).

    The inversion of :func:`_greater_pvalue`: the bound is > 0 exactly when that test rejects at
    ``level``.
    """
    diff, se, gamma, df = _welch_hall(a, b)
    q = stats.t.isf(level, df)
    return diff - se * np.maximum(q, _hall_inverse(q, gamma))


def _hump_core(m: _Moments, alpha: float) -> dict[str, np.ndarray]:
    """The hump test on per-depth moments of shape (..., K); see :func:`hump_test`."""
    K = m.mean.shape[-1]
    inner, first, last = m.take(slice(1, -1)), m.take(slice(0, 1)), m.take(slice(-1, None))
    first = _Moments(*(np.broadcast_to(f, inner.mean.shape) for f in first))
    last = _Moments(*(np.broadcast_to(f, inner.mean.shape) for f in last))
    p_first, p_last = _greater_pvalue(inner, first), _greater_pvalue(inner, last)
    p_depth = np.maximum(p_first, p_last)                       # intersection-union (Berger 1982)
    p_holm = holm_adjust_last_axis(p_depth)                     # over the K - 2 interior depths
    p_value = p_holm.min(axis=-1)                               # = min(1, (K - 2) min p_depth)
    level = alpha / (K - 2)
    low = np.minimum(_greater_lower_bound(inner, first, level),
                     _greater_lower_bound(inner, last, level)).max(axis=-1)
    # Upper bound: both comparisons of every interior depth at alpha / (2 (K - 2)).
    up_level = alpha / (2 * (K - 2))
    high = np.minimum(-_greater_lower_bound(first, inner, up_level),
                      -_greater_lower_bound(last, inner, up_level)).max(axis=-1)
    return {"p_value": p_value, "hump": p_value <= alpha, "p_first": p_first, "p_last": p_last,
            "p_depth": p_depth, "p_holm": p_holm, "low": low, "high": high}


#: The smallest level of :func:`hump_test`: below it the Student-t quantiles of the Holm levels
#: leave float64 (scipy's ``t.isf`` returns -inf at 1e-300 with 3 degrees of freedom).
MIN_ALPHA = 1e-10

#: The largest magnitude of a tested value (so that the third central moments stay inside float64).
MAX_ABS_VALUE = 1e90


def check_alpha(alpha: Any) -> float:
    """``alpha`` as a level of the hump test, in [MIN_ALPHA, 0.5); else a ValueError naming it."""
    return v.check_real(alpha, "alpha", low=MIN_ALPHA, high=0.5, high_open=True)


def check_magnitude(values: np.ndarray, name: str) -> None:
    """A ValueError naming ``name`` when a value exceeds MAX_ABS_VALUE in magnitude."""
    if values.size and float(np.abs(values).max()) > MAX_ABS_VALUE:
        raise ValueError(f"{name} must have |values| <= {MAX_ABS_VALUE:g} (their third moments must fit in "
                         f"float64); got {float(np.abs(values).max()):g}")


def hump_test(table: pd.DataFrame, x: str, column: str, *, alpha: float = 0.025,
              n_resamples: Any = None, seed: Any = None) -> dict:
    """Does the mean of ``column`` rise above *both* ends, then fall, as a function of ``x``?

    The K values of ``x`` (depths) are sorted; the first and the last are the ends, the K - 2
    others the interior. With :math:`\\mu_l` the mean of ``column`` at the l-th value:

    * null hypothesis H0: no interior l has :math:`\\mu_l > \\mu_{first}` and
      :math:`\\mu_l > \\mu_{last}` (flat, monotone, plateau-then-fall curves are all null);
    * alternative: some interior l lies above both ends (a hump).

    **Construction.** For each interior l, H0_l ("l is not above both ends") is the union of
    :math:`\\mu_l \\le \\mu_{first}` and :math:`\\mu_l \\le \\mu_{last}`; the intersection-union
    test (Berger 1982) rejects it when both one-sided comparisons reject, i.e. its p-value is the
    larger of the two. H0 is the intersection of the H0_l, so the K - 2 depth p-values are
    combined with Holm's step-down correction (Holm 1979); the overall p-value is the smallest
    Holm-adjusted one, ``min(1, (K - 2) * min_l p_l)``, and the depths whose adjusted p-value is
    at most ``alpha`` are the ones shown to lie above both ends (family-wise error ``alpha``).

    Each one-sided comparison of two means is Welch's t test (Welch 1947) made robust to
    skewness: the counts of attractors are skewed, and when an end depth is more right-skewed
    than an interior depth with the same mean, Welch's one-sided p-value is too small (at
    n = 60 per depth by a factor of about 2 at the tail levels used here; measured in the
    appendix). Hall's (1992) monotone cubic transformation of the t statistic, with the sample
    skewness of the difference of the means (applied to two samples as in Zhou & Dinh 2005),
    removes that first-order error. The p-value used is the larger of Welch's and Hall's: a test
    that rejects only when both reject holds its level wherever either does, and Welch's is close
    to exact when the two distributions are the same (the difference of the means is then
    symmetric). No mean test can be valid for every distribution at a
    fixed n (Bahadur & Savage 1956): a rare, very large value that the sample does not contain
    cannot be corrected for; the calibration (tests/test_stats.py, the appendix) covers Poisson
    counts, a skewed mixture of 0, 1, 2, 4 and 0/1 data at 60 and 150 networks per depth, and a
    first depth more skewed than a plateau of interior depths with its mean at 30 to 150. That
    skewed case is the limit: at 30 networks per depth one guarded comparison still rejects about
    3 times too often at the levels used, and the whole test with 6 depths at alpha = 0.025 had a
    size of 0.033 (1.3 times nominal; 0.024 with 12 depths); from 45 networks per depth on it held
    its level in every case checked.

    **Interval.** The excess of the curve, :math:`\\theta = \\max_l \\mu_l - \\max(\\mu_{first},
    \\mu_{last})`, gets the lower bound ``low`` = :math:`\\max_l \\min` (lower bounds of
    :math:`\\mu_l - \\mu_{first}` and :math:`\\mu_l - \\mu_{last}` at level alpha / (K - 2)), which
    is a simultaneous one-sided (1 - alpha) bound; ``low > 0`` exactly when the test rejects. The
    upper bound ``high`` is built the same way with both comparisons of every depth at level
    alpha / (2 (K - 2)), so ``[low, high]`` covers :math:`\\theta` with probability at least
    1 - 2 alpha (95 % at the default alpha = 0.025).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per independent unit (network); at least 3 rows per value of ``x`` and at least
        3 values of ``x``.
    x : str
        The column ordering the curve (depth L).
    column : str
        The per-unit statistic whose mean is tested (Q, or a 0/1 indicator such as Q >= 2);
        finite, with ``|value| <= MAX_ABS_VALUE`` (1e90).
    alpha : float, default 0.025
        Level of the test, in [MIN_ALPHA, 0.5) = [1e-10, 0.5).
    n_resamples, seed
        Deprecated and ignored (the former bootstrap test used them; this test has no
        resampling). Passing them warns; they will be removed once the chapters stop passing them.

    Returns
    -------
    dict
        ``p_value`` (overall), ``alpha``, ``hump`` (bool, ``p_value <= alpha``), ``hump_x``
        (list of interior ``x`` values shown above both ends), ``peak_x`` (interior ``x`` with
        the largest mean), ``peak``, ``first``, ``last`` (means there), ``first_x``, ``last_x`` (the end
        values of ``x``), ``excess`` (``peak - max(first, last)``: the hump's size), ``low``, ``high``
        (the interval above) and ``depths``: a DataFrame
        with one row per value of ``x``: ``x``, ``n``, ``mean``, ``p_vs_first``, ``p_vs_last``,
        ``p`` (the larger of the two) and ``p_holm``. The four p-value columns are NaN in the
        first and the last row, and only there: the two end depths are what the interior depths
        are compared with, so no p-value applies to them.

    References
    ----------
    R. L. Berger, "Multiparameter hypothesis testing and acceptance sampling", Technometrics 24
    (1982) 295-300. S. Holm, Scand. J. Statist. 6 (1979) 65-70. B. L. Welch, "The generalization
    of Student's problem when several different population variances are involved", Biometrika
    34 (1947) 28-35. P. Hall, "On the removal of skewness by transformation", J. R. Statist. Soc. B
    54 (1992) 221-228. X.-H. Zhou and P. Dinh, "Nonparametric confidence intervals for the one- and
    two-sample problems", Biostatistics 6 (2005) 187-200. R. R. Bahadur and L. J. Savage, Ann.
    Math. Statist. 27 (1956) 1115-1122.
    """
    if not isinstance(x, str):
        raise TypeError(f"x must be one column name (str); got {x!r:.60}")
    check_table(table, x, column, by_name="x")
    alpha = check_alpha(alpha)
    if n_resamples is not None or seed is not None:
        warnings.warn("hump_test: n_resamples and seed are ignored (the test is analytic, with no "
                      "resampling); remove them from the call", FutureWarning, stacklevel=2)
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"table column {column!r} must hold finite real numbers (no NaN); "
                         f"{int((~np.isfinite(values)).sum())} entries are not")
    check_magnitude(values, f"table column {column!r}")
    keys = table[x].to_numpy()
    xs = np.sort(pd.unique(keys))
    if xs.size < 3:
        raise ValueError(f"table must have at least 3 values of x = {x!r} (hump_test); got {xs.size}")
    groups = [values[keys == k] for k in xs]
    sizes = np.array([g.size for g in groups])
    if sizes.min() < 3:
        raise ValueError(f"table must have at least 3 rows per value of x = {x!r} (hump_test); "
                         f"{x} = {xs[int(np.argmin(sizes))]!r} has {int(sizes.min())}")
    # the test is scale-free: the values are brought to [0.5, 1) in magnitude by a power of two (exact),
    # so that squares and cubes of tiny values (1e-200) do not underflow into "no spread"
    exponent = _unit_exponent(values)
    moments = _Moments(*(np.array(f) for f in zip(*(_sample_moments(np.ldexp(g, -exponent)) for g in groups))))
    res = _scaled_back(_hump_core(moments, alpha), exponent)
    means = np.ldexp(moments.mean, exponent)
    peak = 1 + int(np.argmax(means[1:-1]))
    nan = np.array([np.nan])
    depths = pd.DataFrame({
        "x": xs, "n": sizes, "mean": means,
        "p_vs_first": np.r_[nan, res["p_first"], nan], "p_vs_last": np.r_[nan, res["p_last"], nan],
        "p": np.r_[nan, res["p_depth"], nan], "p_holm": np.r_[nan, res["p_holm"], nan],
    })
    return {
        "p_value": float(res["p_value"]), "alpha": alpha, "hump": bool(res["hump"]),
        "hump_x": [_plain(xs[1 + i]) for i in np.flatnonzero(res["p_holm"] <= alpha)],
        "peak_x": _plain(xs[peak]), "peak": float(means[peak]), "first": float(means[0]),
        "last": float(means[-1]), "excess": float(means[peak] - max(means[0], means[-1])),
        "first_x": _plain(xs[0]), "last_x": _plain(xs[-1]),
        "low": float(res["low"]), "high": float(res["high"]), "depths": depths,
    }


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value (an x column of object dtype already holds Python values)."""
    return value.item() if isinstance(value, np.generic) else value


def hump_test_batch(samples: Any, *, alpha: float = 0.025) -> dict[str, np.ndarray]:
    """:func:`hump_test` on many data sets at once, each with the same n per depth.

    Parameters
    ----------
    samples : array_like, shape (..., K, n)
        ``samples[..., l, i]`` is the statistic of unit ``i`` at the l-th (sorted) value of x;
        K >= 3 values, n >= 3 units each. Leading axes index independent data sets
        (simulation replicates).
    alpha : float, default 0.025
        Level of the test, in [MIN_ALPHA, 0.5).

    Returns
    -------
    dict of numpy.ndarray
        ``p_value`` and ``hump`` (shape (...)), ``low`` and ``high`` (shape (...)), and per interior
        depth (shape (..., K - 2)) ``p_first``, ``p_last``, ``p_depth`` and ``p_holm``; the same
        numbers :func:`hump_test` gives for each data set.
    """
    alpha = check_alpha(alpha)
    s = v.check_array(samples, "samples", finite=False)
    if s.ndim < 2 or s.shape[-2] < 3 or s.shape[-1] < 3:
        raise ValueError(f"samples must have shape (..., K, n) with K >= 3 depths and n >= 3 units; got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("samples must be finite (no NaN or inf)")
    check_magnitude(s, "samples")
    exponent = _unit_exponent(s, axis=(-2, -1))       # per data set, as in hump_test
    return _scaled_back(_hump_core(_sample_moments(np.ldexp(s, -exponent[..., None, None])), alpha), exponent)


def hump_test_proportions(successes: Any, trials: Any, *, alpha: float = 0.025) -> dict[str, np.ndarray]:
    """:func:`hump_test` of a 0/1 statistic (such as Q >= 2) from its counts per depth.

    A 0/1 sample is determined by its count, and so are its moments: with ``k`` ones among ``n``
    networks, mean ``k / n``, unbiased variance ``k (n - k) / (n (n - 1))`` and third cumulant
    ``k (n - k) (n - 2k) / (n (n - 1) (n - 2))``. The test is the one of :func:`hump_test` on these
    moments, so it gives the numbers of :func:`hump_test` on the per-network 0/1 rows (to rounding)
    without them: curves of 20,000 networks per depth, or a million simulated data sets (the power
    and coverage checks of the test suite), cost one array of counts.

    Parameters
    ----------
    successes, trials : array_like of int, broadcast to shape (..., K)
        ``successes[..., l]`` networks with the property among ``trials[..., l]`` at the l-th (sorted)
        depth; K >= 3 depths, ``3 <= trials <= MAX_TRIALS`` (10^9) and ``0 <= successes <= trials``.
        Leading axes index independent data sets.
    alpha : float, default 0.025
        Level of the test, in [MIN_ALPHA, 0.5).

    Returns
    -------
    dict of numpy.ndarray
        The entries of :func:`hump_test_batch` (``p_value``, ``hump``, ``low``, ``high`` of shape (...);
        ``p_first``, ``p_last``, ``p_depth``, ``p_holm`` of shape (..., K - 2)) and ``mean`` (the
        proportions, shape (..., K)).
    """
    from .proportions import MAX_TRIALS

    alpha = check_alpha(alpha)
    k, n = _counts(successes, trials, MAX_TRIALS)
    kf, nf = k.astype(float), n.astype(float)
    mean = kf / nf
    var = kf * (nf - kf) / (nf * (nf - 1.0))
    k3 = kf * (nf - kf) * (nf - 2.0 * kf) / (nf * (nf - 1.0) * (nf - 2.0))
    return {**_hump_core(_Moments(nf, mean, var, k3), alpha), "mean": mean}


def _counts(successes: Any, trials: Any, max_trials: int) -> tuple[np.ndarray, np.ndarray]:
    """``successes`` and ``trials`` as int64 arrays broadcast to (..., K), checked (errors name them)."""
    arrays = []
    for name, value in (("successes", successes), ("trials", trials)):
        v.check_array(value, name, finite=False)  # numbers, not text or objects
        a = np.asarray(value)
        if a.dtype.kind not in "iu" or (a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max):
            raise TypeError(f"{name} must be integers (counts of networks); got dtype {a.dtype}")
        arrays.append(a.astype(np.int64))
    try:
        k, n = np.broadcast_arrays(*arrays)
    except ValueError:
        raise ValueError(f"successes and trials must broadcast together; got shapes {arrays[0].shape} and "
                         f"{arrays[1].shape}") from None
    if k.ndim < 1 or k.shape[-1] < 3:
        raise ValueError(f"successes and trials must have shape (..., K) with K >= 3 depths; got {k.shape}")
    if k.size and (n.min() < 3 or n.max() > max_trials):
        raise ValueError(f"trials must be in [3, {max_trials:g}] (networks per depth); got {n.min()} to {n.max()}")
    if k.size and (k.min() < 0 or np.any(k > n)):
        raise ValueError("successes must be in [0, trials] at every depth")
    return k, n


def _unit_exponent(values: np.ndarray, axis=None) -> np.ndarray:
    """The power of two e with max |values| * 2^-e in [0.5, 1) (0 where every value is 0), over ``axis``."""
    top = np.abs(values).max(axis=axis) if values.size else np.zeros(())
    return np.frexp(top)[1]


def _scaled_back(res: dict[str, np.ndarray], exponent: np.ndarray) -> dict[str, np.ndarray]:
    """The bounds of the excess of :func:`_hump_core` in the units of the data (p-values are scale-free)."""
    return {**res, "low": np.ldexp(res["low"], exponent), "high": np.ldexp(res["high"], exponent)}


def hump_z_test(x, mean, se, *, alpha: float = 0.05) -> dict:
    """Does a curve of independent estimates (``mean`` +- ``se``) rise above *both* ends?

    For estimates that come with standard errors instead of per-network rows (e.g. Monte-Carlo
    Kac-Rice means). Null: no interior point's true value exceeds both end values. For each
    interior point i, ``z_i = min((m_i - m_first) / sqrt(se_i^2 + se_first^2),
    (m_i - m_last) / sqrt(se_i^2 + se_last^2))``; the curve has a hump when ``max_i z_i`` exceeds
    the one-sided normal quantile at ``alpha / k``, k the number of interior points. Each z_i is an
    intersection-union test (both one-sided tests must reject, so its level is that of one) and
    the Bonferroni bound over i keeps the level at ``alpha`` whatever the correlation, for normal
    estimates with correct standard errors (the suite checks the rate by simulation).

    Parameters
    ----------
    x, mean, se : sequences of the same length >= 3
        Sorted by x; ``|mean| <= MAX_ABS_VALUE`` (1e90) and ``1e-90 <= se <= 1e90``.
    alpha : float in (0, 1)

    Returns
    -------
    dict
        ``hump`` (bool), ``z`` (max z_i), ``critical``, ``peak_x``, ``peak``, ``first``, ``last``.
    """
    x = v.check_array(x, "x", finite=False)
    mean = v.check_array(mean, "mean", finite=False)
    se = v.check_array(se, "se", finite=False)
    if not (x.ndim == mean.ndim == se.ndim == 1 and x.size == mean.size == se.size):
        raise ValueError("x, mean and se must be 1-d sequences of the same length")
    if x.size < 3:
        raise ValueError(f"hump_z_test needs at least 3 points; got {x.size}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ValueError("mean must be finite and se finite and > 0")
    check_magnitude(mean, "mean")
    if np.any(se < 1.0 / MAX_ABS_VALUE) or np.any(se > MAX_ABS_VALUE):
        raise ValueError(f"se must be in [{1.0 / MAX_ABS_VALUE:g}, {MAX_ABS_VALUE:g}] (z statistics must fit in "
                         f"float64); got {se.tolist()}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing")
    alpha = v.check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    inner = np.arange(1, x.size - 1)
    z_first = (mean[inner] - mean[0]) / np.hypot(se[inner], se[0])
    z_last = (mean[inner] - mean[-1]) / np.hypot(se[inner], se[-1])
    z = np.minimum(z_first, z_last)
    best = int(np.argmax(z))
    critical = float(stats.norm.isf(alpha / inner.size))
    return {"hump": bool(z[best] > critical), "z": float(z[best]), "critical": critical,
            "peak_x": float(x[inner[best]]), "peak": float(mean[inner[best]]),
            "first": float(mean[0]), "last": float(mean[-1])}
