"""Simulated per-depth data for calibrating the hump test, and the former bootstrap "test" kept as
the reference whose inflated error rate the appendix shows."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validate as v
from ..backend import make_rng
from .hump import check_magnitude

__all__ = ["SIMULATION_FAMILIES", "bootstrap_max_hump_batch", "simulate_depth_data"]


def bootstrap_max_hump_batch(samples: Any, *, confidence: float = 0.95, n_resamples: int = 400,
                             seed: Any = 0) -> dict[str, np.ndarray]:
    """The former hump "test", vectorised: kept only to show that its error rate is inflated.

    Statistic: ``excess = max over interior depths of the mean - max(mean at the two ends)``.
    Networks are resampled within each depth, the percentile interval of the resampled excess is
    ``[low, high]`` and a hump is declared when ``low > 0``; nominally a test at level
    ``(1 - confidence) / 2``. Bootstrapping a maximum is biased upward (the resampled maximum
    re-selects the luckiest depth), so under flat and plateau-then-fall curves the rate of
    declared humps is several times the nominal one. Use :func:`hump_test` instead.

    Parameters
    ----------
    samples : array_like, shape (..., K, n)
        As in :func:`hump_test_batch` (at least one data set: no axis of length 0); values on a
        small finite set (counts, 0/1) - at most 64 distinct values, so that a resample of a depth
        is a multinomial draw of its value counts (the same distribution as resampling the networks).
    confidence : float
        Two-sided confidence of the percentile interval.
    n_resamples : int
        Bootstrap resamples per data set.
    seed : int or numpy.random.Generator

    Returns
    -------
    dict of numpy.ndarray
        ``excess``, ``low``, ``high`` and ``hump`` (``low > 0``), each of shape (...).
    """
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    n_resamples = v.check_int(n_resamples, "n_resamples", minimum=10)
    rng = make_rng(seed, "numpy")
    s = v.check_array(samples, "samples")
    if s.ndim < 2 or s.shape[-2] < 3 or s.shape[-1] < 1 or s.size == 0:
        raise ValueError(f"samples must have shape (..., K, n) with K >= 3, n >= 1 and at least one data set; "
                         f"got {s.shape}")
    check_magnitude(s, "samples")
    values = np.unique(s)
    if values.size > 64:
        raise ValueError(f"samples must take at most 64 distinct values (counts, 0/1); got {values.size}")
    n = s.shape[-1]
    # the draws (int64) and the (B, ..., K) bootstrap means, besides the data
    v.check_memory(8 * n_resamples * s[..., 0].size * (values.size + 2),
                   f"n_resamples = {n_resamples} resamples of {s[..., 0].size} depths")
    counts = (s[..., None] == values).sum(axis=-2)                       # (..., K, d)
    draws = rng.multinomial(n, counts / n, size=(n_resamples, *counts.shape[:-1]))
    boot_means = draws @ values / n                                       # (B, ..., K)

    def excess(m):
        return m[..., 1:-1].max(axis=-1) - np.maximum(m[..., 0], m[..., -1])

    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(excess(boot_means), [tail, 1.0 - tail], axis=0)
    return {"excess": excess(s.mean(axis=-1)), "low": low, "high": high, "hump": low > 0}


#: The data families of :func:`simulate_depth_data` and the range of means each can take (NumPy's
#: Poisson sampler refuses means near 2^63; 1e15 keeps the counts exact in float64).
SIMULATION_FAMILIES = {"poisson": (0.0, 1e15), "binary": (0.0, 1.0), "mixture": (0.7, 2.6)}


def simulate_depth_data(family: str, means: Any, *, n: int, reps: int, seed: Any) -> np.ndarray:
    """Simulated per-network values with the given mean at each depth, for calibrating tests.

    Parameters
    ----------
    family : {"poisson", "binary", "mixture"}
        ``"poisson"``: Poisson counts. ``"binary"``: 0/1 values (an indicator such as Q >= 2).
        ``"mixture"``: shaped like attractor counts Q - with probability ``pi`` a network is
        multistable with Q = 2 (70 %) or 4 (30 %), otherwise Q = 0 (30 %) or 1 (70 %); the mean is
        0.7 + 1.9 pi, so means lie in [0.7, 2.6]. In every family equal means give equal
        distributions.
    means : array_like, shape (K,)
        The mean at each depth, inside the family's range (:data:`~fpkit.stats.simulation.SIMULATION_FAMILIES`).
    n : int
        Networks per depth (>= 1).
    reps : int
        Independent data sets (>= 1).
    seed : int or numpy.random.Generator

    Returns
    -------
    numpy.ndarray, shape (reps, K, n)
    """
    v.check_choice(family, "family", tuple(SIMULATION_FAMILIES))
    n = v.check_int(n, "n", minimum=1)
    reps = v.check_int(reps, "reps", minimum=1)
    mu = v.check_array(means, "means", finite=False)
    low, high = SIMULATION_FAMILIES[family]
    if mu.ndim != 1 or mu.size < 1 or not np.all(np.isfinite(mu)) or np.any(mu < low) or np.any(mu > high):
        raise ValueError(f"means must be a 1-d array of finite values in [{low}, {high}] for family "
                         f"{family!r}; got {mu.tolist()}")
    # the mixture draws three uniform arrays and the result (8 bytes each)
    v.check_memory(32 * reps * mu.size * n, f"reps * len(means) * n = {reps} * {mu.size} * {n} values")
    rng = make_rng(seed, "numpy")
    shape = (reps, mu.size, n)
    m = mu[None, :, None]
    if family == "poisson":
        return rng.poisson(m, size=shape).astype(float)
    if family == "binary":
        return (rng.random(shape) < m).astype(float)
    multi = rng.random(shape) < (m - 0.7) / 1.9
    high_q = np.where(rng.random(shape) < 0.7, 2.0, 4.0)
    low_q = (rng.random(shape) >= 0.3).astype(float)
    return np.where(multi, high_q, low_q)
