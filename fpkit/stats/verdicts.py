"""Hump verdicts in words, from the numbers that support them, and the table of a family of hump tests.

The verdict on "does the curve rise above both ends, then fall?" never says a bare "no". A test that
finds a hump reports its size with an interval; a test that does not reports how large a hump could
still hide in the data: the upper end of the interval, and the smallest hump the design detects with
power 0.8 (:func:`~fpkit.stats.detectable_hump`): "no hump larger than X".

* :func:`hump_verdict` - one sentence from one hump test (:func:`~fpkit.stats.hump_test`, or a row of
  :func:`hump_table`).
* :func:`hump_table` - every curve of a table (groups of ``by``, statistics ``columns``) tested, the
  tests Holm-adjusted as one family, each with its size, interval, smallest detectable hump and verdict.

The hump's size is the excess of the curve, :math:`\\theta = \\max_l \\mu_l - \\max(\\mu_{first},
\\mu_{last})` over the interior depths l: how far the highest interior value lies above the larger end.
It is estimated by the same difference of the sample means (biased upwards on a flat curve: the
largest of several noisy means) and bounded by the interval ``[low, high]`` of
:func:`~fpkit.stats.hump_test`, which covers it with probability at least ``1 - 2 alpha`` (95 % at the
default alpha = 0.025; checked by simulation in the test suite).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import _validate as v
from .families import holm_family
from .hump import check_alpha, hump_test
from .power import detectable_hump
from .tables import check_table

__all__ = ["hump_table", "hump_verdict"]

_NEEDED = ("hump", "excess", "low", "high", "peak", "peak_x", "first", "last")


def _number(value: float, digits: int) -> str:
    return "0" if value == 0 else f"{value:.{digits}g}"


def _depths(values: Sequence[Any], x: str) -> str:
    return f"{x} = {', '.join(str(d) for d in values)}"


def _result_fields(result: Any) -> dict[str, Any]:
    """The entries of a hump test (a dict or a row) that a verdict needs, checked."""
    if isinstance(result, pd.Series):
        result = result.to_dict()
    if not isinstance(result, Mapping):
        raise TypeError(f"result must be the dict of hump_test or a row of hump_table; got {type(result).__name__}")
    missing = [k for k in _NEEDED if k not in result]
    p_key = next((k for k in ("p_holm", "p_value", "p") if k in result), None)
    if missing or p_key is None:
        raise ValueError(f"result lacks the entries {missing or ['p_value']} of a hump test (hump_test, hump_table)")
    out = {k: result[k] for k in _NEEDED}
    out["hump"] = v.check_bool(out["hump"], "result['hump']")
    for k in ("excess", "low", "high", "peak", "first", "last"):
        out[k] = v.check_real(out[k], f"result[{k!r}]")
    out["p"] = v.check_real(result[p_key], f"result[{p_key!r}]", low=0.0, high=1.0)
    out["alpha"] = check_alpha(result.get("alpha", 0.025))
    for k in ("first_x", "last_x"):
        out[k] = result.get(k)
    hump_x = result.get("hump_x", [])
    out["hump_x"] = list(hump_x) if isinstance(hump_x, (list, tuple, np.ndarray)) else []
    if not out["low"] <= out["high"]:
        raise ValueError(f"result['low'] must be <= result['high']; got {out['low']} and {out['high']}")
    return out


def hump_verdict(result: Any, *, statistic: str = "the statistic", detectable: float | None = None,
                 power: float = 0.8, x: str = "L", digits: int = 3) -> str:
    """One sentence (no final period) that states what a hump test found, with its numbers.

    Branches:

    * **a hump**: "{statistic} has a hump of size X (95 % interval A to B) at L = P: ...", naming the
      depths shown above both ends (one, or several); with no spread within any depth the comparison
      is exact and the sentence says so instead of an interval.
    * **no significant hump**, with ``detectable``: "{statistic} has no hump larger than D (the
      smallest this design detects with power 0.8); ...", then the observed excess and its interval;
      whether some interior value lies above both ends in the sample or none does. ``detectable`` =
      inf: the design cannot detect a hump of any possible size. Without ``detectable``: the upper end
      of the interval is the largest hump the data leave possible.
    * **all equal**: every network has the same value at every depth: no hump, size exactly 0.

    Parameters
    ----------
    result : dict or pandas.Series
        :func:`~fpkit.stats.hump_test`'s result, or a row of :func:`hump_table`: ``hump``, ``excess``,
        ``low``, ``high``, ``peak``, ``peak_x``, ``first``, ``last``, and ``p_holm``, ``p_value`` or ``p``
        (the first present is quoted), optionally ``alpha`` (default 0.025), ``hump_x``, ``first_x`` and
        ``last_x``.
    statistic : str
        What the curve is, as the sentence's subject ("the fraction with Q >= 2").
    detectable : float, optional
        The smallest hump the design detects with ``power`` (:func:`~fpkit.stats.detectable_hump`),
        >= 0 or inf.
    power : float
        The power ``detectable`` is computed at, in (0, 1) (only quoted).
    x : str
        Name of the curve's axis ("L").
    digits : int
        Significant digits of the numbers (1 to 12); p-values get 2.

    Returns
    -------
    str
    """
    r = _result_fields(result)
    if not isinstance(statistic, str) or not isinstance(x, str):
        raise TypeError("statistic and x must be strings")
    digits = v.check_int(digits, "digits", minimum=1, maximum=12)
    power = v.check_real(power, "power", low=0.0, high=1.0, low_open=True, high_open=True)
    if detectable is not None and not (isinstance(detectable, (float, np.floating)) and detectable == math.inf):
        detectable = v.check_real(detectable, "detectable", low=0.0)

    def f(value):
        return _number(value, digits)

    confidence = f"{100 * (1 - 2 * r['alpha']):.3g} %"
    exact = r["low"] == r["high"] == r["excess"]
    ends = [f"{x} = {r[k]}" if r.get(k) is not None else f"the {k.split('_')[0]} {x}" for k in ("first_x", "last_x")]
    where = f"from {f(r['first'])} at {ends[0]} to {f(r['peak'])} at {x} = {r['peak_x']} and {f(r['last'])} at {ends[1]}"
    if r["hump"]:
        shown = r["hump_x"] or [r["peak_x"]]
        above = (f"{_depths(shown, x)} {'lies' if len(shown) == 1 else 'lie'} above both ends")
        size = (f"{f(r['excess'])} (exact: no network differs from the others at its {x})" if exact else
                f"{f(r['excess'])} ({confidence} interval {f(r['low'])} to {f(r['high'])})")
        return f"{statistic} has a hump of size {size} at {x} = {r['peak_x']}: it goes {where}; {above} (p = {r['p']:.2g})"
    if exact and r["excess"] == 0 and r["first"] == r["peak"] == r["last"]:
        return (f"{statistic} is {f(r['first'])} at every {x} in every network: no hump (size exactly 0, "
                f"no spread to test)")
    interval = "exact: no spread within a depth" if exact else f"{confidence} interval {f(r['low'])} to {f(r['high'])}"
    seen = (f"in the sample the peak lies {f(r['excess'])} above the larger end" if r["excess"] > 0 else
            f"in the sample no interior value lies above both ends: the excess is {f(r['excess'])}")
    tail = f"{seen} ({interval}; p = {r['p']:.2g}), going {where}"
    if detectable is None:
        bound = max(r["high"], 0.0)
        return f"{statistic} has no hump larger than {f(bound)} (the upper end of the interval); {tail}"
    if math.isinf(detectable):
        return (f"{statistic} shows no significant hump, and this design cannot detect a hump of any possible size "
                f"with power {power:g}; {tail}")
    return (f"{statistic} has no hump larger than {f(detectable)} (the smallest this design detects with power "
            f"{power:g}); {tail}")


def _design_of(values: np.ndarray, keys: np.ndarray, test: dict, alpha: float, power: float) -> float:
    """The smallest hump the curve's design detects: its networks at the ends and at the peak, its
    spread (a proportion for 0/1 values, else the sample standard deviations)."""
    depths = test["depths"]
    first, last = depths.iloc[0], depths.iloc[-1]
    peak = depths[depths["x"] == test["peak_x"]].iloc[0]
    networks = (int(first["n"]), int(peak["n"]), int(last["n"]))
    if np.isin(values, (0.0, 1.0)).all():
        return detectable_hump(networks=networks, n_depths=len(depths), alpha=alpha, power=power,
                               proportion=min(max(test["first"], test["last"]), 1.0 - 1e-12))
    sd = [float(np.std(values[keys == d], ddof=1)) for d in (first["x"], peak["x"], last["x"])]
    ends = math.sqrt((sd[0] ** 2 + sd[2] ** 2) / 2)
    if ends == 0 or sd[1] == 0:
        return 0.0 if ends == sd[1] == 0 else detectable_hump(
            networks=networks, n_depths=len(depths), alpha=alpha, power=power, sd=max(ends, sd[1]))
    return detectable_hump(networks=networks, n_depths=len(depths), alpha=alpha, power=power, sd=(ends, sd[1]))


def hump_table(table: pd.DataFrame, x: str, columns: str | Sequence[str], *, by: str | Sequence[str] | None = None,
               alpha: float = 0.025, power: float = 0.8, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Hump tests of every curve of a table as one family: size, interval, detectable size, verdict.

    Each curve (a group of the ``by`` columns, one statistic of ``columns``) is tested with
    :func:`~fpkit.stats.hump_test` at level ``alpha``; the curves' p-values are adjusted together by
    Holm's method (:func:`~fpkit.stats.holm_family`), so the chance of declaring any hump that is not
    there is at most ``alpha`` over the whole table. The smallest detectable hump of a curve uses its
    own design (networks at its ends and at its observed peak; a proportion's level is the larger end,
    a mean's spread the sample standard deviations at the ends and at the peak) at level
    ``alpha / m`` for a family of m curves (Holm's first threshold: conservative).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per network.
    x : str
        The curve's axis (depth L).
    columns : str or sequence of str
        The per-network statistics (0/1 columns are proportions).
    by : str or sequence of str, optional
        The columns that tell curves apart (width, setting).
    alpha : float, default 0.025
        Family-wise level, in [MIN_ALPHA, 0.5); each interval covers its excess with probability
        at least 1 - 2 alpha (per curve, not simultaneously over the family).
    power : float, default 0.8
        Power of the detectable size, in (0, 1).
    names : mapping, optional
        Column -> words for the verdicts ("the fraction with Q >= 2"); default: the column name.

    Returns
    -------
    pandas.DataFrame
        One row per curve: the ``by`` columns, ``statistic``, ``first_x``, ``first``, ``peak_x``, ``peak``,
        ``last_x``, ``last``,
        ``excess`` (the hump's size), ``low``, ``high``, ``p`` (the curve's own test), ``p_holm``,
        ``hump`` (``p_holm <= alpha``), ``hump_x`` (the depths shown above both ends where ``hump``, else
        an empty list), ``detectable`` (inf where a proportion cannot rise far enough), ``alpha`` and
        ``verdict`` (:func:`hump_verdict`).
    """
    cols = [columns] if isinstance(columns, str) else list(columns) if isinstance(columns, Sequence) else None
    if not cols or not all(isinstance(c, str) for c in cols):
        raise TypeError(f"columns must be a column name or a non-empty sequence of column names; got {columns!r:.60}")
    by_list = [] if by is None else [by] if isinstance(by, str) else list(by) if isinstance(by, Sequence) else None
    if by_list is None or not all(isinstance(b, str) for b in by_list):
        raise TypeError(f"by must be a column name or a sequence of column names; got {by!r:.60}")
    names = {} if names is None else names
    if not isinstance(names, Mapping):
        raise TypeError(f"names must be a mapping of column -> words; got {type(names).__name__}")
    alpha = check_alpha(alpha)
    power = v.check_real(power, "power", low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(x, str):
        raise TypeError(f"x must be one column name (str); got {x!r:.60}")
    for c in cols:
        check_table(table, x, c, by_name="x")
        if by_list:
            check_table(table, by_list, c, by_name="by")
    groups = table.groupby(by_list, sort=True) if by_list else [((), table)]
    rows, designs = [], []
    for key, sub in groups:
        labels = dict(zip(by_list, key if isinstance(key, tuple) else (key,)))
        for c in cols:
            h = hump_test(sub, x, c, alpha=alpha)
            rows.append({**labels, "statistic": c, **{k: h[k] for k in ("first_x", "first", "peak_x", "peak", "last_x",
                                                                           "last", "excess", "low", "high")},
                         "p": h["p_value"], "hump_x": h["hump_x"], "alpha": alpha})
            designs.append((sub[c].to_numpy(dtype=float), sub[x].to_numpy(), h))
    out = holm_family(pd.DataFrame(rows), alpha=alpha, reject_column="hump")
    out["hump_x"] = [hx if hump else [] for hx, hump in zip(out["hump_x"], out["hump"])]
    level = max(alpha / len(out), 1e-10)
    out["detectable"] = [_design_of(values, keys, h, level, power) for values, keys, h in designs]
    out["verdict"] = [hump_verdict(r, statistic=names.get(r["statistic"], r["statistic"]), detectable=r["detectable"],
                                   power=power, x=x) for _, r in out.iterrows()]
    return out
