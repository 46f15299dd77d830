"""Summaries and tests for sweep tables.

:func:`bootstrap_curve` and :func:`hump_test` resample *networks* (rows) within each group,
independently per group, with :func:`scipy.stats.bootstrap` (percentile intervals); the
generator is seeded, so the same seed gives the same intervals. :func:`paired_sign_test` is an
exact test for paired counts (one pair per network, e.g. a trained network and its shuffled
control) and :func:`holm` corrects several p-values for multiplicity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import _validate as v
from .backend import make_rng

__all__ = ["bootstrap_curve", "holm", "hump_test", "paired_sign_test"]


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


def paired_sign_test(x, y, *, alternative: str = "greater") -> dict:
    """Exact sign test for paired observations ``x[i]``, ``y[i]`` (e.g. Q of a network and of its control).

    Null hypothesis: for every pair, ``x > y`` and ``x < y`` are equally likely (no tendency of
    one to exceed the other; ties allowed). Ties are dropped and the number of pairs with
    ``x > y`` among the ``n`` untied ones is compared with Binomial(n, 1/2)
    (:func:`scipy.stats.binomtest`). Conditionally on the number of ties the test is exact, so its
    false-positive rate is at most the nominal level whatever the law of the pairs, and without
    any assumption on the size of the differences (counts with many ties, heavy tails).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Paired observations (finite).
    alternative : {"greater", "less", "two-sided"}
        ``"greater"``: x tends to exceed y.

    Returns
    -------
    dict
        ``n_pairs``, ``n_greater``, ``n_less``, ``n_ties``, ``median_difference`` (of x - y) and
        ``p_value`` (1.0 when every pair is tied).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-d arrays of the same length; got shapes {x.shape} and {y.shape}")
    if x.size == 0:
        raise ValueError("x and y must contain at least one pair")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    v.check_choice(alternative, "alternative", ("greater", "less", "two-sided"))
    d = x - y
    n_greater, n_less = int((d > 0).sum()), int((d < 0).sum())
    n = n_greater + n_less
    p = 1.0 if n == 0 else float(stats.binomtest(n_greater, n, 0.5, alternative=alternative).pvalue)
    return {"n_pairs": int(x.size), "n_greater": n_greater, "n_less": n_less, "n_ties": int(x.size - n),
            "median_difference": float(np.median(d)), "p_value": p}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of p-values (family-wise error rate control), same order as given.

    ``p_(i)`` sorted increasingly becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``; reject the
    hypotheses whose adjusted p-value is at most the level.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p_values must be a non-empty 1-d array of numbers in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out
