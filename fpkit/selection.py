"""The regime-selection rule as code: which explored setting becomes the heavy-tailed default.

Chapter 3 states the rule: *among the explored settings with fewer than 10 % of starts on cycles at
depth L = 8, take the one with the highest fraction of networks with several attractors,
P(Q >= 2)*. :func:`select_regime` applies it to the table of
:func:`fpkit.regimes.summarize_regimes` and says why it picked what it picked.

The exploration is small (24 networks per setting in the book), so the rule is made robust in
three ways, each reported rather than hidden:

* **Ranking by a lower confidence bound.** Settings are ranked by the lower end of the Wilson
  interval (Wilson 1927) of P(Q >= 2), not by the fraction itself: a fraction measured on few
  networks does not beat a slightly smaller one measured on many. With the same number of
  networks in every setting (as in the book) the Wilson bound is increasing in the count, so the
  order is that of the point estimates; the bound then only tells the reader how small the
  picked fraction may be.
* **Separation from the runner-up.** A one-sided Fisher exact test of "the pick has a higher
  P(Q >= 2) than the runner-up" says whether another seed might pick the runner-up instead. The
  comparison is made after choosing the larger of the two, so its p-value is optimistic: "not
  separated" is reliable, "separated" is weak evidence.
* **Ties and empty filters are named.** Equal bounds are broken by the smaller cycle fraction,
  then by the larger mean Q, then by the order of the table, and the reason lists the tied
  settings. When no setting passes the cycle filter nothing is chosen and the reason says so.

References
----------
E. B. Wilson, "Probable inference, the law of succession, and statistical inference", Journal of
the American Statistical Association 22 (1927) 209-212.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import _validate as v
from .stats.proportions import MAX_TRIALS
from .stats.tables import check_column, check_unique_column

__all__ = ["RegimeChoice", "select_regime", "setting_label", "setting_labels"]

#: The columns of :func:`fpkit.regimes.summarize_regimes` that name a setting (besides the depth L).
SETTING_COLUMNS = ("activation", "convention", "scale", "bias_law")


@dataclasses.dataclass(frozen=True)
class RegimeChoice:
    """What :func:`select_regime` chose, and why.

    Attributes
    ----------
    chosen : dict or None
        The picked setting's columns (``activation``, ``convention``, ``scale``, ``bias_law``, ``L``),
        ready for ``NetworkConfig.replace(**chosen)`` (a ``bias_law`` of ``"none"`` becomes
        ``None``); ``None`` when no setting passes the filter.
    reason : str
        One paragraph a chapter can glue: the rule, the pick and its numbers, ties, separation.
    ranking : pandas.DataFrame
        The settings that pass the filter, best first, with ``multi_networks`` (count with Q >= 2),
        ``multi_low`` and ``multi_high`` (Wilson interval of P(Q >= 2)) and ``rank`` (1 = pick).
    runner_up : dict or None
        The second setting of the ranking (same fields as ``chosen``).
    separation_p : float or None
        One-sided Fisher exact p-value of "the pick has a higher P(Q >= 2) than the runner-up".
    separated : bool or None
        ``separation_p <= separation_alpha``; ``None`` when there is no runner-up.
    tied : tuple of dict
        Settings whose Wilson lower bound equals the pick's (the pick excluded).
    n_settings : int
        Settings at the depth.
    n_passing : int
        Settings that pass the cycle filter.
    """

    chosen: dict[str, Any] | None
    reason: str
    ranking: pd.DataFrame
    runner_up: dict[str, Any] | None
    separation_p: float | None
    separated: bool | None
    tied: tuple[dict[str, Any], ...]
    n_settings: int
    n_passing: int


def setting_label(setting: dict[str, Any] | pd.Series) -> str:
    """A short label like ``"tanh, fan_in, s = 4, bias same"`` for a setting's fields."""
    if not isinstance(setting, (dict, pd.Series)):
        raise TypeError(f"setting must be a dict or a pandas Series of the fields {SETTING_COLUMNS}; "
                        f"got {type(setting).__name__}")
    parts = []
    for key in SETTING_COLUMNS:
        if key not in setting:
            continue
        value = setting[key]
        if key == "scale":
            parts.append(f"s = {v.check_real(value, 'setting[scale]'):g}")
        elif key == "bias_law":  # None and NaN (a missing value in a table) are "no biases"
            parts.append(f"bias {'none' if value is None or (isinstance(value, float) and value != value) else value}")
        else:
            parts.append(str(value))
    return ", ".join(parts)


def setting_labels(table: pd.DataFrame) -> pd.Series:
    """:func:`setting_label` of every row of a table with the setting columns (``activation``,
    ``convention``, ``scale``, ``bias_law``; those present), as a Series aligned with the table."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    present = [c for c in SETTING_COLUMNS if c in table.columns]
    if not present:
        raise ValueError(f"table has none of the setting columns {SETTING_COLUMNS}; columns: {list(table.columns)}")
    for column in present:
        check_unique_column(table, column, "table")
    if "scale" in present:
        check_column(table, "scale", "table")
    labels = [setting_label(dict(zip(present, row))) for row in table[present].itertuples(index=False, name=None)]
    return pd.Series(labels, index=table.index, dtype=object, name="setting")


def _fields(row: pd.Series, keys: list[str]) -> dict[str, Any]:
    out = {}
    for key in keys:
        value = row[key]
        if isinstance(value, np.generic):
            value = value.item()
        if key == "bias_law" and (value == "none" or (isinstance(value, float) and np.isnan(value))):
            value = None
        out[key] = value
    return out


#: The numeric columns :func:`select_regime` reads at the chosen depth, and their ranges.
_RANGES = {"mean_Q": (0.0, None, False), "p_multi": (0.0, 1.0, False), "cycle_fraction": (0.0, 1.0, False),
           "networks": (1, MAX_TRIALS, True), "scale": (0.0, None, False)}


def _rows_at_depth(summary: Any, depth: int) -> pd.DataFrame:
    """The rows of ``summary`` at ``L == depth``, every column the rule reads checked (errors name
    ``summary``, the column and the allowed range), one row per setting."""
    if not isinstance(summary, pd.DataFrame):
        raise TypeError(f"summary must be a pandas DataFrame; got {type(summary).__name__}")
    needed = [*SETTING_COLUMNS, "L", "mean_Q", "p_multi", "cycle_fraction", "networks"]
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks the columns {missing} (expected the table of "
                         f"fpkit.regimes.summarize_regimes); columns: {list(summary.columns)}")
    for column in needed:
        check_unique_column(summary, column, "summary")
    depths = check_column(summary, "L", "summary", low=1, high=10**9, integer=True)
    at_depth = summary[depths == depth].reset_index(drop=True)
    if at_depth.empty:
        raise ValueError(f"summary has no rows at depth L = {depth}; depths present: "
                         f"{sorted(set(depths.astype(np.int64).tolist()))}")
    for column, (low, high, integer) in _RANGES.items():
        check_column(at_depth, column, "summary", low=low, high=high, integer=integer)
    try:
        duplicated = at_depth.duplicated(subset=list(SETTING_COLUMNS))
    except TypeError as exc:  # unhashable cells (lists, dicts)
        raise TypeError(f"summary columns {list(SETTING_COLUMNS)} must hold plain values (names, numbers); {exc}") from None
    if duplicated.any():
        raise ValueError(f"summary has more than one row per setting at L = {depth}")
    return at_depth


def select_regime(summary: pd.DataFrame, *, depth: int = 8, max_cycle_fraction: float = 0.10,
                  confidence: float = 0.95, separation_alpha: float = 0.05) -> RegimeChoice:
    """Apply the regime rule of chapter 3 to a regime summary table.

    Rule: among the settings at ``L == depth`` whose ``cycle_fraction`` (fraction of starts that
    end on a cycle or do not settle) is below ``max_cycle_fraction``, choose the one with the
    largest lower Wilson bound of P(Q >= 2) at ``confidence``; report ties, whether the pick is
    separated from the runner-up, and an empty filter (see the module documentation).

    Parameters
    ----------
    summary : pandas.DataFrame
        The table of :func:`fpkit.regimes.summarize_regimes`: one row per setting and depth with
        columns ``activation``, ``convention``, ``scale``, ``bias_law``, ``L``, ``mean_Q``,
        ``p_multi``, ``cycle_fraction`` and ``networks``.
    depth : int, default 8
        The depth at which settings are compared.
    max_cycle_fraction : float, default 0.10
        Settings need ``cycle_fraction < max_cycle_fraction``; in (0, 1].
    confidence : float, default 0.95
        Two-sided confidence of the Wilson intervals; in (0, 1).
    separation_alpha : float, default 0.05
        Level of the one-sided Fisher exact test of the pick against the runner-up; in (0, 1).

    Returns
    -------
    RegimeChoice
    """
    depth = v.check_int(depth, "depth", minimum=1, maximum=10**9)
    max_cycle_fraction = v.check_real(max_cycle_fraction, "max_cycle_fraction", low=0.0, high=1.0,
                                      low_open=True)
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    separation_alpha = v.check_real(separation_alpha, "separation_alpha", low=0.0, high=1.0,
                                    low_open=True, high_open=True)
    at_depth = _rows_at_depth(summary, depth)
    networks = at_depth["networks"].to_numpy(dtype=float).astype(np.int64)
    p_multi = at_depth["p_multi"].to_numpy(dtype=float)
    keys = [*SETTING_COLUMNS, "L"]

    counts = np.rint(p_multi * networks).astype(int)
    intervals = [stats.binomtest(int(k), int(n)).proportion_ci(confidence, method="wilson")
                 for k, n in zip(counts, networks)]
    table = at_depth.assign(multi_networks=counts, multi_low=[ci.low for ci in intervals],
                            multi_high=[ci.high for ci in intervals])
    rule = (f"the rule: among the settings at L = {depth} with fewer than {100 * max_cycle_fraction:g} % of "
            f"starts on cycles, the largest lower {100 * confidence:g} % Wilson bound of P(Q >= 2)")
    passing = table[table["cycle_fraction"] < max_cycle_fraction]
    n_settings, n_passing = len(table), len(passing)
    if passing.empty:
        best = table.loc[table["cycle_fraction"].idxmin()]
        reason = (f"No regime is chosen by {rule}: none of the {n_settings} settings passes the cycle filter "
                  f"(smallest cycle fraction {best['cycle_fraction']:.2f}, {setting_label(best)}).")
        return RegimeChoice(None, reason, passing.assign(rank=pd.Series(dtype=int)), None, None, None, (),
                            n_settings, 0)

    # rank: bound (desc), then cycle fraction (asc), mean Q (desc), table order (stable sort)
    ranking = passing.assign(_order=np.arange(n_passing)).sort_values(
        ["multi_low", "cycle_fraction", "mean_Q", "_order"], ascending=[False, True, False, True],
        kind="mergesort").drop(columns="_order").reset_index(drop=True)
    ranking["rank"] = np.arange(1, n_passing + 1)
    top = ranking.iloc[0]
    chosen = _fields(top, keys)
    tied_rows = ranking.iloc[1:][np.isclose(ranking["multi_low"].iloc[1:], top["multi_low"], rtol=0, atol=1e-12)]
    tied = tuple(_fields(r, keys) for _, r in tied_rows.iterrows())

    def describe(row):
        return (f"P(Q >= 2) = {row['p_multi']:.2f}, {int(row['multi_networks'])} of {int(row['networks'])} "
                f"networks, Wilson interval [{row['multi_low']:.2f}, {row['multi_high']:.2f}]")

    reason = (f"{setting_label(top)} is chosen by {rule}; {n_passing} of {n_settings} settings pass the filter. "
              f"The pick has {describe(top)}, cycle fraction {top['cycle_fraction']:.2f}.")
    if tied:
        reason += (f" It ties on the bound with {'; '.join(setting_label(t) for t in tied)}; the tie is broken "
                   f"by the smaller cycle fraction, then the larger mean Q, then the table order.")
    runner_up = separation_p = separated = None
    if n_passing > 1:
        second = ranking.iloc[1]
        runner_up = _fields(second, keys)
        k1, n1, k2, n2 = (int(top["multi_networks"]), int(top["networks"]),
                          int(second["multi_networks"]), int(second["networks"]))
        separation_p = float(stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="greater").pvalue)
        separated = separation_p <= separation_alpha
        verdict = ("is separated from" if separated else "is not separated from")
        reason += (f" It {verdict} the runner-up, {setting_label(second)} ({describe(second)}): one-sided "
                   f"Fisher exact p = {separation_p:.2g}"
                   + (f" > {separation_alpha:g}, so another seed may pick the runner-up." if not separated
                      else f" <= {separation_alpha:g} (optimistic: the comparison follows the ranking)."))
    else:
        reason += " It is the only setting that passes the filter."
    return RegimeChoice(chosen, reason, ranking, runner_up, separation_p, separated, tied, n_settings, n_passing)
