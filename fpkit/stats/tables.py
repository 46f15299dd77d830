"""Curves over a grouping column of a table: means with bootstrap intervals, proportions with Wilson
intervals, and the table checks every table-reading function of :mod:`fpkit.stats` shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .. import _validate as v
from ..backend import make_rng
from .proportions import wilson_interval

__all__ = ["bootstrap_curve", "check_column", "check_orderable", "check_table", "check_unique_column",
           "proportion_curve"]


def check_table(table: Any, by: Any, column: Any, by_name: str = "by") -> None:
    """Check a table read by a curve or a test: ``by`` (one column name or a non-empty list of them) and
    ``column`` name columns of the DataFrame ``table``, each exactly once; the ``by`` columns hold no
    missing or infinite value and values of one orderable kind (numbers, or strings); ``column`` is real
    and finite.

    Raises a TypeError or ValueError naming the argument (``by_name`` for ``by``, ``column``) and the
    column; ``table`` must have at least one row.
    """
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
        check_unique_column(table, name, f"{arg}: table")
    if len(table) == 0:
        raise ValueError("table must have at least one row")
    for b in by_list:
        check_labels(table[b], f"table column {b!r} ({by_name})")
    values = table[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_complex_dtype(values):
        raise TypeError(f"table column {column!r} (column) must be numeric (real); got dtype {values.dtype}")
    if not np.all(np.isfinite(values.to_numpy(dtype=float))):
        raise ValueError(f"table column {column!r} (column) must be finite (found NaN or inf)")


def check_unique_column(table: pd.DataFrame, name: Any, label: str) -> None:
    """A ValueError (``label`` names the argument) when ``table`` has more than one column called ``name``:
    ``table[name]`` would then be a table, not a column."""
    count = int((table.columns == name).sum())
    if count > 1:
        raise ValueError(f"{label} has {count} columns named {name!r}; a column read by name must be unique")


def check_orderable(values: pd.Series, label: str) -> None:
    """A TypeError naming ``label`` when ``values`` mix kinds that cannot be sorted (numbers and strings):
    groups and curves are ordered by these values. Missing values (NaN, None) are not looked at."""
    try:
        sorted(pd.unique(values.dropna()))
    except TypeError:
        kinds = sorted({type(x).__name__ for x in values.dropna().to_numpy()})
        raise TypeError(f"{label} must hold values of one orderable kind (numbers, or strings); "
                        f"got a mix of {', '.join(kinds)}") from None


def check_labels(values: pd.Series, label: str) -> None:
    """A ValueError or TypeError naming ``label`` unless ``values`` can name groups: no missing value, values
    of one orderable kind (:func:`check_orderable`), numbers finite."""
    if values.isna().any():
        raise ValueError(f"{label} has missing values (NaN/None); its rows would be dropped")
    check_orderable(values, label)
    if pd.api.types.is_float_dtype(values) and not np.all(np.isfinite(values.to_numpy(dtype=float))):
        raise ValueError(f"{label} must be finite (found inf): a group or depth of inf means nothing")


def check_column(table: pd.DataFrame, column: str, label: str, *, low: float | None = None,
                 high: float | None = None, integer: bool = False) -> np.ndarray:
    """A numeric column of ``table`` as float64, checked: real numbers (not text, booleans or complex
    numbers), finite, in ``[low, high]``, integral where ``integer``; else a TypeError or ValueError
    whose message starts with ``label`` (which names the argument) and the column (also when the column
    is missing). An empty column of any dtype passes (callers that need rows check for them).

    Returns
    -------
    numpy.ndarray, shape (len(table),)
    """
    if column not in table.columns:
        raise ValueError(f"{label} lacks the column {column!r}; columns: {list(table.columns)}")
    check_unique_column(table, column, label)
    values = table[column]
    name = f"{label} column {column!r}"
    if len(values) and (not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_complex_dtype(values)
                        or pd.api.types.is_bool_dtype(values)):  # (an empty column holds nothing wrong)
        raise TypeError(f"{name} must hold real numbers; got dtype {values.dtype}")
    x = values.to_numpy(dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    if integer and np.any(x != np.floor(x)):
        raise ValueError(f"{name} must hold whole numbers; got {float(x[x != np.floor(x)][0]):g}")
    if (low is not None and np.any(x < low)) or (high is not None and np.any(x > high)):
        bad = x[(x < (-np.inf if low is None else low)) | (x > (np.inf if high is None else high))][0]
        raise ValueError(f"{name} must be in [{'-inf' if low is None else f'{low:g}'}, "
                         f"{'inf' if high is None else f'{high:g}'}]; got {bad:g}")
    return x


def bootstrap_curve(table: pd.DataFrame, by: str | list[str], column: str, *, confidence: float = 0.95,
                    n_resamples: int = 2000, seed: Any = 0) -> pd.DataFrame:
    """Mean of ``column`` per group of ``by``, with a bootstrap confidence interval.

    Returns a table with the ``by`` columns, ``mean``, ``low``, ``high`` and ``n`` (rows in the
    group). A group with a single row, or with no spread, gets ``low = high = mean``.
    """
    check_table(table, by, column)
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


def proportion_curve(table: pd.DataFrame, by: str | list[str], column: str, *,
                     confidence: float = 0.95) -> pd.DataFrame:
    """Fraction of rows with ``column`` true (0/1 or bool) per group of ``by``, with Wilson intervals.

    The same columns as :func:`bootstrap_curve` (the ``by`` columns, ``mean``, ``low``, ``high``,
    ``n``), so the two draw alike; for an indicator the Wilson interval is the better one (it
    stays in [0, 1] and keeps its coverage near 0 and 1, where a percentile bootstrap of a rare
    event collapses to a point).
    """
    check_table(table, by, column)
    values = table[column]
    if not values.isin([0, 1, True, False]).all():
        raise ValueError(f"table column {column!r} (column) must hold 0/1 or booleans")
    names = [by] if isinstance(by, str) else list(by)
    g = table.assign(_hit=values.astype(int)).groupby(names, sort=True)["_hit"].agg(["sum", "size"]).reset_index()
    low, high = wilson_interval(g["sum"].to_numpy(dtype=np.int64), g["size"].to_numpy(dtype=np.int64), confidence)
    return g[names].assign(mean=g["sum"] / g["size"], low=np.atleast_1d(low), high=np.atleast_1d(high),
                           n=g["size"].to_numpy())
