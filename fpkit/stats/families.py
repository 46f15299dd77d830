"""Families of tests: Holm's step-down adjustment, and the exact paired sign test."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from .. import _validate as v

__all__ = ["holm_adjust", "holm_adjust_last_axis", "paired_sign_test"]


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
    """Holm-adjusted p-values along the last axis of ``p`` (shape (..., m))."""
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
