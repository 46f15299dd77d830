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

__all__ = ["bootstrap_curve", "hump_test"]


def _check(table, by, column, by_name="by"):
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    if isinstance(by, str):
        by_list = [by]
    elif isinstance(by, (list, tuple)) and by and all(isinstance(b, str) for b in by):
        by_list = list(by)
    else:
        raise TypeError(f"{by_name} must be a column name or a non-empty list of column names; got {by!r:.60}")
    if not isinstance(column, str):
        raise TypeError(f"column must be a column name (str); got {type(column).__name__}")
    for arg, name in [*((by_name, b) for b in by_list), ("column", column)]:
        if name not in table.columns:
            raise ValueError(f"{arg}: column {name!r} is not in the table; columns: {list(table.columns)}")
    if len(table) == 0:
        raise ValueError("table must have at least one row")
    for b in by_list:
        if table[b].isna().any():
            raise ValueError(f"table column {b!r} ({by_name}) has missing values (NaN/None); its rows would be dropped")
    values = table[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_complex_dtype(values):
        raise TypeError(f"table column {column!r} (column) must be numeric (real); got dtype {values.dtype}")
    if not np.all(np.isfinite(values.to_numpy(dtype=float))):
        raise ValueError(f"table column {column!r} (column) must be finite (found NaN or inf)")


def bootstrap_curve(table: pd.DataFrame, by: str | list[str], column: str, *, confidence: float = 0.95,
                    n_resamples: int = 2000, seed: Any = 0) -> pd.DataFrame:
    """Mean of ``column`` per group of ``by``, with a bootstrap confidence interval.

    Returns a table with the ``by`` columns, ``mean``, ``low``, ``high`` and ``n`` (rows in the
    group). A group with a single row, or with no spread, gets ``low = high = mean``.
    """
    _check(table, by, column)
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    n_resamples = v.check_int(n_resamples, "n_resamples", minimum=10)
    largest = int(table[column].groupby([table[b] for b in ([by] if isinstance(by, str) else by)]).size().max())
    v.check_memory(8 * 2 * n_resamples * largest, f"n_resamples = {n_resamples} resamples")
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
    _check(table, x, column, by_name="x")
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    n_resamples = v.check_int(n_resamples, "n_resamples", minimum=10)
    v.check_memory(8 * 2 * n_resamples * len(table), f"n_resamples = {n_resamples} resamples of {len(table)} rows")
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
