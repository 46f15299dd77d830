"""How large a hump a design can see: the power of :func:`~fpkit.stats.hump_test`, the smallest hump it
detects, and the networks per depth it needs.

A *design* is the number of depths K (the test compares every interior depth with both ends, with
Holm's correction over the K - 2 interior depths) and the networks at the three depths that decide a
hump: the first and the last depth, and the peak. A *hump of size* ``size`` is the true value at the
peak minus the (equal) true values at the two ends; it is the excess
:math:`\\theta = \\max_l \\mu_l - \\max(\\mu_{first}, \\mu_{last})` that :func:`~fpkit.stats.hump_test`
bounds. The statistic is either a proportion (a 0/1 property such as Q >= 2: give the end level
``proportion``; the spread at each depth follows from it) or a mean (such as E[Q]: give the standard
deviation ``sd`` of the per-network statistic, one value or one at the ends and one at the peak).

**The formula.** The test rejects at the peak depth when both one-sided comparisons, peak against first
and peak against last, reject at level ``alpha / (K - 2)``. For large samples the two statistics are
jointly normal: means ``size / se_first`` and ``size / se_last`` (``se`` the standard error of the
difference of two means), correlation ``var_peak / n_peak / (se_first se_last)`` (they share the peak's
mean), and critical values the Student-t quantiles with Welch's degrees of freedom, raised by the test's
skewness guard (:func:`~fpkit.stats.hump.guarded_critical_value`; for a proportion the skewness of a
Bernoulli variable, for a mean none is assumed). The power is their
bivariate normal orthant probability (computed by quadrature). It is a lower bound on the power of the
whole test in that the other interior depths can only add rejections (a broad hump, with several depths
near its peak, is detected more often), but it treats the test's skewness guard as if the skewness were
known: estimated from the sample, the guard costs a little more. The test suite checks the formula by
simulation (:func:`hump_power_by_simulation`, 20,000 data sets each): at the formula's detectable hump
(power 0.8) of a proportion the simulated power was 0.78-0.80 for 60 to 3,000 networks per depth and
3 to 12 depths, and for Poisson means within 0.035 of the formula.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import integrate, optimize, special

from .. import _validate as v
from ..backend import make_rng
from .hump import check_alpha, guarded_critical_value, hump_test_batch, hump_test_proportions
from .proportions import MAX_TRIALS, wilson_interval
from .simulation import SIMULATION_FAMILIES, simulate_depth_data

__all__ = ["detectable_hump", "hump_power", "hump_power_by_simulation", "networks_for_hump"]


def _scalar(value: Any) -> Any:
    """A 0-d NumPy array as its element (so that it is checked as a number)."""
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _sequence(value: Any, name: str) -> bool:
    """Whether ``value`` is a sequence of numbers (a 1-d list, tuple or array); other arrays are an error."""
    if isinstance(value, np.ndarray) and value.ndim != 1:
        raise ValueError(f"{name} must be one number or a 1-d sequence of numbers; got an array of shape {value.shape}")
    return isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, (str, bytes))


def _networks(networks: Any) -> tuple[int, int, int]:
    """``networks`` as (first, peak, last), each an integer in [3, MAX_TRIALS]."""
    networks = _scalar(networks)
    if _sequence(networks, "networks"):
        if len(networks) != 3:
            raise ValueError(f"networks must be one integer or three (first, peak, last); got {len(networks)} values")
        return tuple(v.check_int(n, f"networks[{i}]", minimum=3, maximum=MAX_TRIALS)  # type: ignore[return-value]
                     for i, n in enumerate(networks))
    n = v.check_int(networks, "networks", minimum=3, maximum=MAX_TRIALS)
    return n, n, n


def _spread(proportion: Any, sd: Any) -> tuple[str, Any]:
    """Which kind of statistic: ("proportion", p) or ("mean", (sd at the ends, sd at the peak))."""
    if (proportion is None) == (sd is None):
        raise ValueError("give exactly one of proportion (a 0/1 statistic: its level at the ends) and sd (a mean: "
                         "the standard deviation of the per-network statistic)")
    if proportion is not None:
        return "proportion", v.check_real(_scalar(proportion), "proportion", low=0.0, high=1.0, high_open=True)
    sd = _scalar(sd)
    if _sequence(sd, "sd"):
        if len(sd) != 2:
            raise ValueError(f"sd must be one number or two (at the ends, at the peak); got {len(sd)} values")
        pair = tuple(v.check_real(x, f"sd[{i}]", low=0.0, low_open=True, high=1e150) for i, x in enumerate(sd))
        return "mean", pair
    sd = v.check_real(sd, "sd", low=0.0, low_open=True, high=1e150)
    return "mean", (sd, sd)


def _check_size(size: Any, kind: str, level: Any) -> float:
    if kind == "proportion":
        size = v.check_real(size, "size", low=0.0)
        if size > 1.0 - level:
            raise ValueError(f"size must be at most 1 - proportion = {1.0 - level:g} (the peak is a proportion); "
                             f"got size = {size:g} with proportion = {level:g}")
        return size
    return v.check_real(size, "size", low=0.0, high=1e150)


def _both_exceed(a: float, b: float, rho: float) -> float:
    """P(Z1 > a, Z2 > b) for standard normal Z1, Z2 with correlation ``rho`` in [0, 1]."""
    if rho >= 1.0 - 1e-12:
        return float(special.ndtr(-max(a, b)))
    if rho <= 1e-12:
        return float(special.ndtr(-a) * special.ndtr(-b))
    scale = math.sqrt(1.0 - rho * rho)
    low, high = max(a, -40.0), 40.0  # the normal density outside [-40, 40] is below 1e-300
    if low >= high:
        return 0.0
    norm = 1.0 / math.sqrt(2.0 * math.pi)
    value, _ = integrate.quad(lambda x: norm * math.exp(-0.5 * x * x) * special.ndtr((rho * x - b) / scale), low, high,
                              epsabs=1e-13, epsrel=1e-10, limit=200)
    return min(1.0, max(0.0, value))


def _power(size: float, n: tuple[int, int, int], n_depths: int, alpha: float, kind: str, level: Any) -> float:
    """The power formula of the module documentation (arguments already checked)."""
    n_first, n_peak, n_last = n
    if kind == "proportion":  # Bernoulli variances and third cumulants p (1 - p) (1 - 2p)
        var_end, top = level * (1.0 - level), min(level + size, 1.0)
        var_peak = top * (1.0 - top)
        k3_end, k3_peak = var_end * (1.0 - 2.0 * level), var_peak * (1.0 - 2.0 * top)
        unit = max(var_end, var_peak)
        if unit == 0.0:  # no spread at all: the comparison is exact
            return 1.0 if size > 0 else 0.0
        size, var_end, var_peak = size / math.sqrt(unit), var_end / unit, var_peak / unit
        k3_end, k3_peak = k3_end / unit / math.sqrt(unit), k3_peak / unit / math.sqrt(unit)
    else:  # in units of the larger standard deviation (1e150 squared twice would overflow, 1e-300 underflow)
        unit = max(level)
        size, var_end, var_peak = size / unit, (level[0] / unit) ** 2, (level[1] / unit) ** 2
        k3_end = k3_peak = 0.0  # a mean is taken as symmetric
    peak, first, last = var_peak / n_peak, var_end / n_first, var_end / n_last
    se_first, se_last = math.sqrt(peak + first), math.sqrt(peak + last)
    df_first = (peak + first) ** 2 / (peak**2 / (n_peak - 1) + first**2 / (n_first - 1))
    df_last = (peak + last) ** 2 / (peak**2 / (n_peak - 1) + last**2 / (n_last - 1))
    tail = alpha / (n_depths - 2)
    # the skewness guard of the test (Hall's correction) raises the critical value where an end is more
    # right-skewed than the peak's mean: gamma = (k3_peak / n_peak^2 - k3_end / n_end^2) / se^3
    gamma_first = (k3_peak / n_peak**2 - k3_end / n_first**2) / se_first**3
    gamma_last = (k3_peak / n_peak**2 - k3_end / n_last**2) / se_last**3
    crit_first = float(guarded_critical_value(-special.stdtrit(df_first, tail), gamma_first))
    crit_last = float(guarded_critical_value(-special.stdtrit(df_last, tail), gamma_last))
    rho = peak / (se_first * se_last)
    return _both_exceed(float(crit_first - size / se_first), float(crit_last - size / se_last), rho)


def _common(n_depths: Any, alpha: Any, proportion: Any, sd: Any) -> tuple[int, float, str, Any]:
    n_depths = v.check_int(n_depths, "n_depths", minimum=3, maximum=10**6)
    alpha = check_alpha(alpha)
    kind, level = _spread(proportion, sd)
    return n_depths, alpha, kind, level


def hump_power(size: float, *, networks: Any, n_depths: int, alpha: float = 0.025, proportion: float | None = None,
               sd: float | None = None) -> float:
    """The power of :func:`~fpkit.stats.hump_test` against a hump of ``size`` (normal approximation).

    Parameters
    ----------
    size : float >= 0
        The rise of the peak above both (equal) ends; for a proportion at most ``1 - proportion``.
    networks : int or (int, int, int)
        Networks per depth, or at (first, peak, last); each in [3, MAX_TRIALS].
    n_depths : int >= 3
        Depths of the curve (K; Holm over its K - 2 interior depths).
    alpha : float, default 0.025
        Level of the test, in [MIN_ALPHA, 0.5).
    proportion : float, optional
        For a 0/1 statistic: its level at the ends, in [0, 1); the peak is at ``proportion + size`` and
        the spread at each depth is that of a Bernoulli variable, ``p (1 - p)``.
    sd : float or (float, float), optional
        For a mean: the standard deviation of the per-network statistic, > 0, the same at the three
        depths or given as (at the ends, at the peak) (counts such as Q spread more where their mean is
        higher: a Poisson count has variance equal to its mean). Exactly one of ``proportion`` and ``sd``.

    Returns
    -------
    float
        The probability, in [0, 1], that the test declares a hump; a lower bound (module documentation).
    """
    n_depths, alpha, kind, level = _common(n_depths, alpha, proportion, sd)
    n = _networks(networks)
    return _power(_check_size(size, kind, level), n, n_depths, alpha, kind, level)


def detectable_hump(*, networks: Any, n_depths: int, alpha: float = 0.025, power: float = 0.8,
                    proportion: float | None = None, sd: float | None = None) -> float:
    """The smallest hump that :func:`~fpkit.stats.hump_test` detects with probability ``power``.

    The size at which :func:`hump_power` reaches ``power`` (arguments as there). "No hump larger than
    this" is what a test that finds none says about the design: a hump of this size would have been
    found in a fraction ``power`` of repetitions.

    Returns
    -------
    float
        The size, >= 0; ``inf`` for a proportion that cannot rise far enough (even a peak at 1 is
        detected with probability below ``power``).
    """
    n_depths, alpha, kind, level = _common(n_depths, alpha, proportion, sd)
    n = _networks(networks)
    power = v.check_real(power, "power", low=0.0, high=1.0, low_open=True, high_open=True)
    unit = 1.0
    if kind == "mean":  # the power depends on size / sd only: solve in units of the larger sd
        unit = max(level)
        level = (level[0] / unit, level[1] / unit)

    def gap(size):
        return _power(size, n, n_depths, alpha, kind, level) - power

    if gap(0.0) >= 0:
        return 0.0
    if kind == "proportion":
        top = 1.0 - level
        if top <= 0 or gap(top) < 0:
            return math.inf
    else:
        top = 1.0
        while gap(top) < 0:
            top *= 2.0
    return unit * float(optimize.brentq(gap, 0.0, top, xtol=1e-12 * top, rtol=1e-10))


def networks_for_hump(size: float, *, n_depths: int, alpha: float = 0.025, power: float = 0.8,
                      proportion: float | None = None, sd: float | None = None) -> int:
    """The fewest networks per depth (at the two ends and the peak) that detect a hump of ``size``
    with probability ``power`` (:func:`hump_power`; other arguments as there).

    Returns
    -------
    int
        In [3, MAX_TRIALS]; a ValueError naming ``size`` when even MAX_TRIALS networks are too few.

    Examples
    --------
    A rise of 0.02 in P(Q >= 2) near 0.17, on a curve of 12 depths at alpha = 0.025:

    >>> networks_for_hump(0.02, proportion=0.17, n_depths=12)  # doctest: +SKIP
    11644
    """
    n_depths, alpha, kind, level = _common(n_depths, alpha, proportion, sd)
    size = _check_size(size, kind, level)
    power = v.check_real(power, "power", low=0.0, high=1.0, low_open=True, high_open=True)

    def enough(n):
        return _power(size, (n, n, n), n_depths, alpha, kind, level) >= power

    if enough(3):
        return 3
    if size == 0 or not enough(MAX_TRIALS):
        raise ValueError(f"size = {size:g} is too small: even {MAX_TRIALS:g} networks per depth detect it with "
                         f"probability below {power:g}")
    low, high = 3, 6
    while not enough(high):
        low, high = high, min(2 * high, MAX_TRIALS)
    while high - low > 1:  # enough(high), not enough(low)
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid, high)
    return high


def hump_power_by_simulation(means: Any, *, networks: Any, family: str = "binary", reps: int = 2000,
                             alpha: float = 0.025, seed: Any) -> dict[str, float]:
    """The rejection rate of :func:`~fpkit.stats.hump_test` on simulated curves with true means ``means``.

    The check of :func:`hump_power` (and, with a null curve, of the test's level). Binary data are
    simulated as binomial counts and tested by :func:`~fpkit.stats.hump_test_proportions`, so tens of
    thousands of networks per depth cost nothing; the other families of
    :func:`~fpkit.stats.simulate_depth_data` as per-network values through
    :func:`~fpkit.stats.hump_test_batch`.

    Parameters
    ----------
    means : array_like, shape (K,)
        True mean at each depth (K >= 3), inside the family's range (``SIMULATION_FAMILIES``).
    networks : int or array_like of int, shape (K,)
        Networks per depth, each in [3, MAX_TRIALS]; per depth only for ``family="binary"``.
    family : {"binary", "poisson", "mixture"}
    reps : int
        Simulated data sets, >= 1.
    alpha : float
        Level of the test, in [MIN_ALPHA, 0.5).
    seed : int or numpy.random.Generator

    Returns
    -------
    dict
        ``power`` (the rejection rate), ``low`` and ``high`` (its 95 % Wilson interval) and ``reps``.
    """
    v.check_choice(family, "family", tuple(SIMULATION_FAMILIES))
    reps = v.check_int(reps, "reps", minimum=1, maximum=10**8)
    alpha = check_alpha(alpha)
    mu = v.check_array(means, "means", ndim=1, min_size=3)
    lo, hi = SIMULATION_FAMILIES[family]
    if np.any(mu < lo) or np.any(mu > hi):
        raise ValueError(f"means must be in [{lo:g}, {hi:g}] for family {family!r}; got {mu.tolist()}")
    n = _per_depth(networks, mu.size)
    rng = make_rng(seed, "numpy")
    if family == "binary":
        v.check_memory(16 * reps * mu.size, f"reps * len(means) = {reps} * {mu.size} counts")
        hits = hump_test_proportions(rng.binomial(n, mu, size=(reps, mu.size)), n, alpha=alpha)["hump"]
    else:
        if np.any(n != n[0]):
            raise ValueError(f"networks must be the same at every depth for family {family!r} (per depth only for "
                             "'binary')")
        v.check_memory(48 * reps * mu.size * int(n[0]), f"reps * len(means) * networks = {reps} * {mu.size} * {n[0]}")
        hits = hump_test_batch(simulate_depth_data(family, mu, n=int(n[0]), reps=reps, seed=rng), alpha=alpha)["hump"]
    k = int(np.count_nonzero(hits))
    low, high = wilson_interval(k, reps)
    return {"power": k / reps, "low": low, "high": high, "reps": reps}


def _per_depth(networks: Any, K: int) -> np.ndarray:
    networks = _scalar(networks)
    if _sequence(networks, "networks"):
        if len(networks) != K:
            raise ValueError(f"networks must be one integer or one per depth ({K}); got {len(networks)} values")
        return np.array([v.check_int(x, f"networks[{i}]", minimum=3, maximum=MAX_TRIALS)
                         for i, x in enumerate(networks)], dtype=np.int64)
    return np.full(K, v.check_int(networks, "networks", minimum=3, maximum=MAX_TRIALS), dtype=np.int64)

