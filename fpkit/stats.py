"""Bootstrap summaries of sweep tables: curves with confidence bands and a test for a hump.

Both resample *networks* (rows) within each group, independently per group, with
:func:`scipy.stats.bootstrap` (percentile intervals); the generator is seeded, so the same
seed gives the same intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import _validate as v
from .backend import make_rng

__all__ = ["bootstrap_curve", "hump_test", "hump_z_test"]


def _check(table, by, column):
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    for name in (*([by] if isinstance(by, str) else by), column):
        if name not in table.columns:
            raise ValueError(f"column {name!r} is not in the table; columns: {list(table.columns)}")


def bootstrap_curve(table: pd.DataFrame, by: str | list[str], column: str, *, confidence: float = 0.95,
                    n_resamples: int = 2000, seed: Any = 0) -> pd.DataFrame:
    """Mean of ``column`` per group of ``by``, with a bootstrap confidence interval.

    Returns a table with the ``by`` columns, ``mean``, ``low``, ``high`` and ``n`` (rows in the
    group). A group with a single row, or with no spread, gets ``low = high = mean``.
    """
    _check(table, by, column)
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    n_resamples = v.check_int(n_resamples, "n_resamples", minimum=10)
    rng = make_rng(seed, "numpy")
    rows = []
    for key, group in table.groupby(by, sort=True):
        x = group[column].to_numpy(dtype=float)
        mean = float(x.mean())
        if x.size < 2 or np.all(x == x[0]):
            low = high = mean
        else:
            res = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                                  method="percentile", vectorized=True, random_state=rng)
            low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        keys = key if isinstance(key, tuple) else (key,)
        names = [by] if isinstance(by, str) else list(by)
        rows.append({**dict(zip(names, keys)), "mean": mean, "low": low, "high": high, "n": x.size})
    return pd.DataFrame(rows)


def hump_test(table: pd.DataFrame, x: str, column: str, *, confidence: float = 0.95,
              n_resamples: int = 2000, seed: Any = 0) -> dict:
    """Does the mean of ``column`` against ``x`` rise above *both* ends and fall back?

    The statistic is ``excess = max over interior x of mean - max(mean at the smallest x,
    mean at the largest x)``. Its bootstrap distribution (networks resampled within every x,
    the peak location re-chosen in every resample) gives the interval ``low, high``; the
    curve has a hump at this confidence when ``low > 0``.

    Returns
    -------
    dict
        ``peak_x``, ``peak`` (mean there), ``first``, ``last`` (means at the ends),
        ``excess``, ``low``, ``high``, ``hump`` (bool).
    """
    _check(table, x, column)
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    n_resamples = v.check_int(n_resamples, "n_resamples", minimum=10)
    rng = make_rng(seed, "numpy")
    groups = [g[column].to_numpy(dtype=float) for _, g in table.groupby(x, sort=True)]
    xs = np.sort(table[x].unique())
    if len(groups) < 3:
        raise ValueError(f"hump_test needs at least 3 values of {x!r}; got {len(groups)}")
    means = np.array([g.mean() for g in groups])

    def excess(m):
        return m[..., 1:-1].max(axis=-1) - np.maximum(m[..., 0], m[..., -1])

    boot = np.stack([rng.choice(g, size=(n_resamples, g.size), replace=True).mean(axis=1) for g in groups],
                    axis=-1)
    dist = excess(boot)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(dist, [alpha, 1.0 - alpha])
    peak = 1 + int(np.argmax(means[1:-1]))
    return {"peak_x": xs[peak].item(), "peak": float(means[peak]), "first": float(means[0]),
            "last": float(means[-1]), "excess": float(excess(means)), "low": float(low),
            "high": float(high), "hump": bool(low > 0)}


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
        Sorted by x; ``se > 0``.
    alpha : float in (0, 1)

    Returns
    -------
    dict
        ``hump`` (bool), ``z`` (max z_i), ``critical``, ``peak_x``, ``peak``, ``first``, ``last``.
    """
    x = np.asarray(x, dtype=float)
    mean = np.asarray(mean, dtype=float)
    se = np.asarray(se, dtype=float)
    if not (x.ndim == mean.ndim == se.ndim == 1 and x.size == mean.size == se.size):
        raise ValueError("x, mean and se must be 1-d sequences of the same length")
    if x.size < 3:
        raise ValueError(f"hump_z_test needs at least 3 points; got {x.size}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ValueError("mean must be finite and se finite and > 0")
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
