"""Families of tests: Holm's step-down adjustment, a family as one tidy table, and exact paired sign tests.

* :func:`holm_adjust` - Holm's adjusted p-values of an array of p-values.
* :func:`holm_family` - a family of named tests (p-values, test results, or a table with a p-value
  column) with its Holm-adjusted p-values and reject flags, as one table: what a chapter reports.
* :func:`paired_sign_test` - the exact sign test for paired observations;
  :func:`paired_sign_tests` the family of them over a long table (a reference against each of several
  others, per group), Holm-adjusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .. import _validate as v
from .tables import check_column, check_labels, check_unique_column

__all__ = ["holm_adjust", "holm_adjust_last_axis", "holm_family", "paired_sign_test", "paired_sign_tests"]


def holm_adjust(p_values: Any) -> np.ndarray:
    """Holm's step-down adjusted p-values: reject test ``i`` at family-wise level ``alpha`` iff
    ``adjusted[i] <= alpha``.

    With the ``m`` p-values sorted, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`, the adjusted value of
    the ``j``-th smallest is :math:`\\max_{i \\le j} \\min(1, (m - i + 1)\\, p_{(i)})` (Holm 1979).
    It controls the family-wise error rate (the chance of one or more false rejections) at
    ``alpha`` under any dependence between the tests, and rejects everything Bonferroni rejects.

    Parameters
    ----------
    p_values : array_like, shape (m,)
        One p-value per test of the family, each in ``[0, 1]``.

    Returns
    -------
    numpy.ndarray, shape (m,)
        The adjusted p-values, in the order given.

    References
    ----------
    S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian Journal of
    Statistics 6 (1979) 65-70.

    Examples
    --------
    >>> holm_adjust([0.01, 0.04, 0.03, 0.005]).round(3).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = v.check_array(p_values, "p_values", finite=False)
    if p.ndim != 1:
        raise ValueError(f"p_values must be one-dimensional (one p-value per test); got shape {p.shape}")
    if p.size == 0:
        raise ValueError("p_values is empty: a family needs at least one test")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"p_values must all be in [0, 1] (no NaN); got {p.tolist()}")
    return holm_adjust_last_axis(p)


def holm_adjust_last_axis(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along the last axis of ``p`` (shape (..., m)); no checks (for callers that
    made the p-values themselves, such as the hump test over its interior depths)."""
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1)
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked * (m - np.arange(m)), axis=-1))
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


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
    x = v.check_array(x, "x", finite=False)
    y = v.check_array(y, "y", finite=False)
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


def _p_of(value: Any, name: str) -> float:
    """A p-value: a number, or a test result (mapping) with a ``p_value`` entry."""
    if isinstance(value, Mapping):
        if "p_value" not in value:
            raise ValueError(f"tests[{name!r}] must be a p-value or a test result with a 'p_value' entry; got the keys "
                             f"{list(value)[:8]}")
        value = value["p_value"]
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    return v.check_real(value, f"tests[{name!r}] (a p-value)", low=0.0, high=1.0)


def holm_family(tests: Any, *, alpha: float = 0.05, p_column: str = "p", reject_column: str = "reject") -> pd.DataFrame:
    """A family of tests with Holm's correction, as one table: each member's p-value, its Holm-adjusted
    p-value and whether it is rejected at family-wise level ``alpha``.

    Holm's step-down procedure (:func:`holm_adjust`) keeps the chance of one or more false rejections
    in the family at most ``alpha`` whatever the dependence between the tests.

    Parameters
    ----------
    tests : mapping, pandas.Series or pandas.DataFrame
        The family, at least one test: a mapping name -> p-value or name -> test result with a
        ``p_value`` entry (the dicts of :func:`~fpkit.stats.hump_test` and :func:`paired_sign_test`); a
        Series of p-values indexed by name; or a table with one row per test and its p-value in the
        column ``p_column`` (every other column is kept). p-values in [0, 1], names unique.
    alpha : float, default 0.05
        Family-wise level, in (0, 1).
    p_column : str, default "p"
        The p-value column of a table ``tests``.
    reject_column : str, default "reject"
        Name of the column of reject flags (``p_holm <= alpha``), e.g. ``"hump"`` or ``"significant"``.

    Returns
    -------
    pandas.DataFrame
        From a mapping or a Series: columns ``test`` (the names, in the given order), ``p``, ``p_holm``
        and ``reject_column``. From a table: a copy with ``p_holm`` and ``reject_column`` added (its
        index and row order kept).

    Examples
    --------
    >>> holm_family({"a": 0.01, "b": 0.04, "c": 0.03}, alpha=0.05)
      test     p  p_holm  reject
    0    a  0.01    0.03    True
    1    b  0.04    0.06   False
    2    c  0.03    0.06   False
    """
    alpha = v.check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(reject_column, str) or not reject_column or reject_column == "p_holm":
        raise TypeError(f"reject_column must be a non-empty column name other than 'p_holm'; got {reject_column!r:.40}")
    if isinstance(tests, pd.DataFrame):
        if not isinstance(p_column, str) or p_column not in tests.columns:
            raise ValueError(f"p_column: {p_column!r:.40} is not a column of tests; columns: {list(tests.columns)}")
        p = check_column(tests, p_column, "tests", low=0.0, high=1.0)
        clash = [c for c in ("p_holm", reject_column) if c in tests.columns]
        if clash:
            raise ValueError(f"tests already has the columns {clash}; holm_family adds them")
        out = tests.copy()
    elif isinstance(tests, (Mapping, pd.Series)):
        items = list(tests.items())
        names = [k for k, _ in items]
        if len(set(map(repr, names))) != len(names):
            raise ValueError("tests must name each member once (duplicate names)")
        p = np.array([_p_of(value, str(name)) for name, value in items], dtype=float)
        out = pd.DataFrame({"test": names, "p": p})
    else:
        raise TypeError(f"tests must be a mapping of name -> p-value, a pandas Series or a DataFrame; got "
                        f"{type(tests).__name__}")
    if p.size == 0:
        raise ValueError("tests is empty: a family needs at least one test")
    adjusted = holm_adjust_last_axis(p)
    out["p_holm"] = adjusted
    out[reject_column] = adjusted <= alpha
    return out


#: The directions of :func:`paired_sign_tests`: "both" makes two one-sided tests per comparison.
PAIRED_ALTERNATIVES = ("greater", "less", "two-sided", "both")


def paired_sign_tests(table: pd.DataFrame, value: str, *, pair: str, group: str, reference: Any,
                      against: Sequence[Any], by: str | Sequence[str] | None = None,
                      alternative: str = "greater", alpha: float = 0.05) -> pd.DataFrame:
    """Exact sign tests of a reference against each of several others, paired, as one Holm family.

    ``table`` is long: one row per unit (``pair``: a network, an image), ``group`` (trained / shuffled
    / i.i.d.; one pass / attractor) and, optionally, case (the ``by`` columns). In each case, the
    ``value`` of ``reference`` is paired with the ``value`` of each member of ``against`` on the same
    unit (units missing from either are left out) and :func:`paired_sign_test` asks whether the
    reference tends to exceed it (``"greater"``), to fall below it (``"less"``), either
    (``"two-sided"``), or runs both one-sided tests (``"both"``, two rows). Every test of the table is
    one family, adjusted by :func:`holm_family`.

    Parameters
    ----------
    table : pandas.DataFrame
        Long table; ``value`` finite real numbers; at most one row per (case, ``pair``, ``group``).
    value, pair, group : str
        Column names.
    reference : scalar
        The ``group`` label of the reference.
    against : sequence
        The other ``group`` labels, at least one (not the reference).
    by : str or sequence of str, optional
        Columns that name the cases, each tested separately (in the family).
    alternative : {"greater", "less", "two-sided", "both"}
    alpha : float, default 0.05
        Family-wise level, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        One row per case, member of ``against`` and direction: the ``by`` columns, ``against``,
        ``alternative``, ``n_pairs``, ``n_greater`` (units where the reference is larger), ``n_less``,
        ``n_ties``, ``median_difference`` (reference minus other; 0.0 where no unit is paired), ``p``
        (1.0 where no unit is paired: also for an empty table without ``by``, e.g. no network to test),
        ``p_holm`` and ``reject``.
    """
    by_list = [] if by is None else [by] if isinstance(by, str) else list(by) if isinstance(by, Sequence) else None
    if by_list is None or not all(isinstance(b, str) for b in by_list):
        raise TypeError(f"by must be a column name or a sequence of column names; got {by!r:.60}")
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    names = {"value": value, "pair": pair, "group": group, **{f"by[{i}]": b for i, b in enumerate(by_list)}}
    for arg, name in names.items():
        if not isinstance(name, str):
            raise TypeError(f"{arg} must be a column name (str); got {type(name).__name__}")
        if name not in table.columns:
            raise ValueError(f"{arg}: column {name!r} is not in the table; columns: {list(table.columns)}")
        check_unique_column(table, name, f"{arg}: table")
    if len(set(names.values())) != len(names):
        raise ValueError(f"value, pair, group and by must be different columns; got {list(names.values())}")
    if len(table) == 0 and by_list:
        raise ValueError("table must have at least one row when by names cases")
    check_column(table, value, "table")
    for b in by_list:
        check_labels(table[b], f"table column {b!r} (by)")
    v.check_choice(alternative, "alternative", PAIRED_ALTERNATIVES)
    if isinstance(against, (str, bytes)) or not isinstance(against, (Sequence, np.ndarray)) or len(against) == 0:
        raise TypeError(f"against must be a non-empty sequence of group labels; got {against!r:.60}")
    for name, label in (("reference", reference), *((f"against[{i}]", a) for i, a in enumerate(against))):
        if not pd.api.types.is_scalar(label):
            raise TypeError(f"{name} must be a group label (a name or a number); got {type(label).__name__}")
    if any(a == reference for a in against):
        raise ValueError(f"against must not contain the reference {reference!r}")
    rows = []
    for case, sub in (table.groupby(by_list, sort=False, dropna=False) if by_list else [((), table)]):
        if sub.duplicated([pair, group]).any():
            raise ValueError(f"table has more than one row per ({pair}, {group}){f' in case {case}' if by_list else ''}")
        wide = sub.pivot(index=pair, columns=group, values=value)
        keys = dict(zip(by_list, case if isinstance(case, tuple) else (case,)))
        for other in against:
            both = wide.reindex(columns=[reference, other]).dropna()
            for direction in (("greater", "less") if alternative == "both" else (alternative,)):
                test = (paired_sign_test(both[reference].to_numpy(), both[other].to_numpy(), alternative=direction)
                        if len(both) else {"n_pairs": 0, "n_greater": 0, "n_less": 0, "n_ties": 0,
                                           "median_difference": 0.0, "p_value": 1.0})
                rows.append({**keys, "against": other, "alternative": direction,
                             **{k: test[k] for k in ("n_pairs", "n_greater", "n_less", "n_ties", "median_difference")},
                             "p": test["p_value"]})
    return holm_family(pd.DataFrame(rows), alpha=alpha)
