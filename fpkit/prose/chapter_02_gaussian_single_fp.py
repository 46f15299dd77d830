"""The sentences of chapter 2 (*One fixed point at Gaussian initialisation*), as functions of its numbers.

A *cell* is one width N and depth L of the chapter's grid: a row of a table with its number of
``networks``, the number of exceptions in a column such as ``several`` (networks with more than one
fixed point), and the exact (Clopper-Pearson) 95 % interval ``several_low``, ``several_high`` of their
share. Every function has doctest examples for each
of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["claim_verdict", "contraction_text", "exceptions_text", "exception_verdict", "how_sure_text",
           "list_text", "regime_text", "scale_test_text", "scale_text", "scale_verdict", "upper_limit_where_none", "wide_text",
           "wide_verdict"]


def list_text(values, unit="width"):
    """Values as words, with the unit in the singular or plural.

    >>> list_text([2]), list_text([2, 8]), list_text([2, 8, 32]), list_text([1.5, 3], "weight scale")
    ('width 2', 'widths 2 and 8', 'widths 2, 8 and 32', 'weight scales 1.5 and 3')
    >>> list_text([])
    'no width'
    """
    values = [f"{x:g}" for x in values]
    if not values:
        return f"no {unit}"
    if len(values) == 1:
        return f"{unit} {values[0]}"
    return f"{unit}s {', '.join(values[:-1])} and {values[-1]}"


def _pct(x):
    return f"{100 * x:.1f}"


def _cells(cells, column):
    """The rows of ``cells`` with at least one network counted in ``column``, as sentence parts."""
    hit = cells[cells[column] > 0]
    return [f"N = {N}, L = {L} ({k} of {n}, 95 % interval {_pct(low)}–{_pct(high)} %)"
            for N, L, k, n, low, high
            in zip(hit["N"], hit["L"], hit[column], hit["networks"], hit[f"{column}_low"], hit[f"{column}_high"])]


def upper_limit_where_none(cells, column):
    """The largest upper 95 % limit of the share among the cells without a network counted in
    ``column`` (None if every cell has one).

    >>> cells = pd.DataFrame({"N": [2, 8], "L": [1, 1], "networks": [100, 50], "several": [4, 0],
    ...                       "several_low": [0.011, 0.0], "several_high": [0.099, 0.071]})
    >>> upper_limit_where_none(cells, "several"), upper_limit_where_none(cells[:1], "several")
    (0.071, None)
    """
    clean = cells[cells[column] == 0]
    return float(clean[f"{column}_high"].max()) if len(clean) else None


def exceptions_text(cells, column, what="more than one fixed point"):
    """Where the networks with ``what`` are, cell by cell.

    ``cells``: one row per searched cell (width ``N``, depth ``L``), with its number of ``networks``,
    the number ``column`` of those with ``what``, and the exact 95 % interval ``column_low``,
    ``column_high`` of their share.

    >>> cells = pd.DataFrame({"N": [2, 2, 8], "L": [1, 3, 1], "networks": 100, "several": [4, 0, 0],
    ...                       "several_low": [0.011, 0, 0], "several_high": [0.099, 0.036, 0.036]})
    >>> exceptions_text(cells[1:].assign(several=0), "several")
    'No network with more than one fixed point was found in any of the 2 cells searched: in each, the share of such networks is below 3.6 % (upper end of its exact 95 % interval).'
    >>> exceptions_text(cells, "several")
    'Networks with more than one fixed point occur in 1 of the 3 cells searched: N = 2, L = 1 (4 of 100, 95 % interval 1.1–9.9 %). In each of the other 2 none was found: the share is below 3.6 % (upper 95 % limit).'
    >>> exceptions_text(cells.assign(several=[4, 1, 0]), "several", "no single stable fixed point").split(":")[0]
    'Networks with no single stable fixed point occur in 2 of the 3 cells searched'
    >>> exceptions_text(cells.assign(several=[4, 1, 0])[1:], "several").split(". ")[1]
    'In the other cell none was found: the share is below 3.6 % (upper 95 % limit).'
    >>> exceptions_text(cells[:1], "several")
    'Networks with more than one fixed point occur in the only cell searched: N = 2, L = 1 (4 of 100, 95 % interval 1.1–9.9 %).'
    >>> exceptions_text(cells.assign(several=[4, 1, 2])[:2], "several").split(":")[0]
    'Networks with more than one fixed point occur in all 2 cells searched'
    >>> exceptions_text(cells[:0], "several")
    'No cell of the grid was searched for unstable fixed points.'
    """
    n_searched, hits = len(cells), _cells(cells, column)
    if n_searched == 0:
        return "No cell of the grid was searched for unstable fixed points."
    upper = upper_limit_where_none(cells, column)
    if not hits:
        return (f"No network with {what} was found in any of the {n_searched} cells searched: in each, the share "
                f"of such networks is below {_pct(upper)} % (upper end of its exact 95 % interval).")
    listed = "; ".join(hits)
    if len(hits) == n_searched:
        where = "the only cell searched" if n_searched == 1 else f"all {n_searched} cells searched"
        return f"Networks with {what} occur in {where}: {listed}."
    rest = n_searched - len(hits)
    return (f"Networks with {what} occur in {len(hits)} of the {n_searched} cells searched: {listed}. In "
            f"{'the other cell' if rest == 1 else f'each of the other {rest}'} none was found: the share is below "
            f"{_pct(upper)} % (upper 95 % limit).")


def wide_text(widths, n_networks, n_not_one):
    """The widths searched by iteration only: one attractor or not, and why they are not counted.

    >>> wide_text([128, 256], 1000, 0)
    'At widths 128 and 256, searched by iteration alone, every one of the 1000 networks has exactly one attractor; iteration cannot see unstable fixed points, so these cells are not counted for the claim.'
    >>> wide_text([128], 100, 3)
    'At width 128, searched by iteration alone, 3 of the 100 networks do not have exactly one attractor; iteration cannot see unstable fixed points, so these cells are not counted for the claim.'
    >>> wide_text([], 0, 0)
    'Every width of the grid was searched for unstable fixed points.'
    """
    if not widths:
        return "Every width of the grid was searched for unstable fixed points."
    found = (f"every one of the {n_networks} networks has exactly one attractor" if n_not_one == 0 else
             f"{n_not_one} of the {n_networks} networks do not have exactly one attractor")
    return (f"At {list_text(widths)}, searched by iteration alone, {found}; iteration cannot see unstable fixed "
            "points, so these cells are not counted for the claim.")


def contraction_text(contracting_from, max_depth):
    """From which depth on every Jacobian sampled at a fixed point has spectral norm below 1.

    >>> contraction_text(10, 50)
    'from L = 10 on, every Jacobian sampled at a fixed point has spectral norm below 1'
    >>> contraction_text(50, 50)
    'at the largest depth, L = 50, every Jacobian sampled at a fixed point has spectral norm below 1'
    >>> contraction_text(None, 50)
    'at no depth up to L = 50 does every Jacobian sampled at a fixed point have spectral norm below 1'
    """
    if contracting_from is None:
        return f"at no depth up to L = {max_depth} does every Jacobian sampled at a fixed point have spectral norm below 1"
    if contracting_from == max_depth:
        return f"at the largest depth, L = {max_depth}, every Jacobian sampled at a fixed point has spectral norm below 1"
    return f"from L = {contracting_from} on, every Jacobian sampled at a fixed point has spectral norm below 1"


def scale_text(activation, drop_scales, unit_scale, top_scale, n_larger):
    """Whether the share of networks with one fixed point that attracts every start falls significantly
    below its share at the unit scale, and at which of the ``n_larger`` larger scales tried.

    >>> scale_text("tanh", [1.5, 2.0, 3.0], 1.0, 3.0, 3)
    'For tanh, the share of networks with one fixed point that attracts every start falls significantly below its share at s = 1 at weight scales 1.5, 2 and 3.'
    >>> scale_text("tanh", [3.0], 1.0, 3.0, 3)
    'For tanh, the share of networks with one fixed point that attracts every start falls significantly below its share at s = 1 at weight scale 3.'
    >>> scale_text("the logistic sigmoid", [], 1.0, 3.0, 3)
    'For the logistic sigmoid, the share of networks with one fixed point that attracts every start does not fall significantly below its share at s = 1 at any larger scale tried, up to s = 3.'
    >>> scale_text("tanh", [], 1.0, 1.0, 0)
    'For tanh, no scale larger than s = 1 was tried.'
    """
    if n_larger == 0:
        return f"For {activation}, no scale larger than s = {unit_scale:g} was tried."
    share = (f"For {activation}, the share of networks with one fixed point that attracts every start {{}} below its "
             f"share at s = {unit_scale:g}")
    if not drop_scales:
        return share.format("does not fall significantly") + f" at any larger scale tried, up to s = {top_scale:g}."
    return share.format("falls significantly") + f" at {list_text(drop_scales, 'weight scale')}."


def scale_test_text(n_tests, alpha, unit_scale=1.0):
    """How the scales are compared with the unit scale, and the error rate of the comparison.

    >>> scale_test_text(8, 0.05)
    'Each larger scale is compared with s = 1 by a one-sided Fisher exact test, Holm-corrected over all 8 comparisons of both activations, so that the chance of one or more false drops is at most 5 %.'
    >>> scale_test_text(1, 0.01, 1.5)
    'The larger scale is compared with s = 1.5 by a one-sided Fisher exact test, so that the chance of a false drop is at most 1 %.'
    >>> scale_test_text(0, 0.05)
    'No scale larger than s = 1 was tried, so none is compared with it.'
    """
    if n_tests == 0:
        return f"No scale larger than s = {unit_scale:g} was tried, so none is compared with it."
    if n_tests == 1:
        return (f"The larger scale is compared with s = {unit_scale:g} by a one-sided Fisher exact test, so that the "
                f"chance of a false drop is at most {100 * alpha:g} %.")
    return (f"Each larger scale is compared with s = {unit_scale:g} by a one-sided Fisher exact test, Holm-corrected "
            f"over all {n_tests} comparisons of both activations, so that the chance of one or more false drops is at "
            f"most {100 * alpha:g} %.")


def exception_verdict(cells, column):
    """The verdict on one reading of the claim, from the searched cells (no numbers).

    >>> cells = pd.DataFrame({"several": [4, 0]})
    >>> exception_verdict(cells, "several"), exception_verdict(cells[1:], "several"), exception_verdict(cells[:0], "several")
    ('counterexamples found', 'no counterexample found', 'not searched')
    """
    if len(cells) == 0:
        return "not searched"
    return "counterexamples found" if (cells[column] > 0).any() else "no counterexample found"


def wide_verdict(n_widths, n_not_one):
    """The verdict on the widths searched by iteration only (no numbers).

    >>> wide_verdict(2, 0), wide_verdict(2, 3), wide_verdict(0, 0)
    ('one attractor in every network, not counted', 'not one attractor in every network', 'no such widths')
    """
    if n_widths == 0:
        return "no such widths"
    return "one attractor in every network, not counted" if n_not_one == 0 else "not one attractor in every network"


def scale_verdict(drop_scales, n_larger):
    """The verdict on the weight scale for one activation (no numbers): does the share of networks with one
    attracting fixed point fall significantly at a scale larger than the unit scale?

    >>> scale_verdict([1.5, 2.0], 3), scale_verdict([], 3), scale_verdict([], 0)
    ('drops significantly at larger weight scales', 'no significant drop at any larger scale tried', 'no larger scale tried')
    """
    if n_larger == 0:
        return "no larger scale tried"
    return "drops significantly at larger weight scales" if drop_scales else "no significant drop at any larger scale tried"


def claim_verdict(n_exceptions, n_networks, exception_widths, tanh_drops_from, unit_scale=1.0):
    """The status word and the one-sentence finding: exactly one fixed point in the searched cells
    (``n_exceptions`` of ``n_networks`` networks have more, at ``exception_widths``), and the smallest weight
    scale at which tanh networks significantly less often have one attracting fixed point (None: at none).

    >>> claim_verdict(12, 900, [2, 8], 1.5)
    ('partly', 'Exactly one fixed point in 888 of 900 networks searched, exceptions at widths 2 and 8; tanh loses the single attractor from weight scale 1.5.')
    >>> claim_verdict(5, 900, [2, 8, 32], None)[1]
    'Exactly one fixed point in 895 of 900 networks searched, exceptions at 3 widths; no significant loss at larger weight scales.'
    >>> claim_verdict(0, 900, [], 1.5)
    ('partly', 'Exactly one fixed point in all 900 networks searched at weight scale 1; tanh loses the single attractor from weight scale 1.5.')
    >>> claim_verdict(0, 900, [], None)
    ('reproduces', 'Exactly one fixed point in all 900 networks searched, at every width, depth and weight scale tried.')
    >>> claim_verdict(0, 0, [], 1.5)
    ('not testable here', 'No network was searched for unstable fixed points: the grid has no width narrow enough.')
    """
    if n_networks == 0:
        return "not testable here", "No network was searched for unstable fixed points: the grid has no width narrow enough."
    scale = (f"tanh loses the single attractor from weight scale {tanh_drops_from:g}" if tanh_drops_from is not None
             else "no significant loss at larger weight scales")
    if n_exceptions:
        where = list_text(exception_widths) if len(exception_widths) <= 2 else f"{len(exception_widths)} widths"
        return "partly", (f"Exactly one fixed point in {n_networks - n_exceptions} of {n_networks} networks searched, "
                          f"exceptions at {where}; {scale}.")
    if tanh_drops_from is not None:
        return "partly", f"Exactly one fixed point in all {n_networks} networks searched at weight scale {unit_scale:g}; {scale}."
    return "reproduces", (f"Exactly one fixed point in all {n_networks} networks searched, at every width, depth and "
                          "weight scale tried.")


def how_sure_text(n_networks, newton_max_n, upper_none, wide_widths):
    """How sure: the search, the interval per cell, what is not counted.

    >>> how_sure_text(100, 32, 0.036, [128, 256])
    'A deflated Newton search for unstable fixed points in 100 networks per cell up to width 32; per cell, the exact 95 % interval of the share of exceptions (below 3.6 % where none was found); widths 128 and 256 searched by iteration only and not counted.'
    >>> how_sure_text(100, 32, None, [])
    'A deflated Newton search for unstable fixed points in 100 networks per cell up to width 32; per cell, the exact 95 % interval of the share of exceptions; every width searched.'
    """
    none = f" (below {_pct(upper_none)} % where none was found)" if upper_none is not None else ""
    wide = f"{list_text(wide_widths)} searched by iteration only and not counted" if wide_widths else "every width searched"
    return (f"A deflated Newton search for unstable fixed points in {n_networks} networks per cell up to width "
            f"{newton_max_n}; per cell, the exact 95 % interval of the share of exceptions{none}; {wide}.")


def regime_text(scale, bias_scale, widths, depths, scales, scale_width, scale_depth):
    """Where the finding holds.

    >>> regime_text(1.0, 0.5, [2, 8, 32], [1, 3, 10], [0.5, 1.0, 4.0], 32, 10)
    'tanh, Gaussian weights of standard deviation s/√N with s = 1, Gaussian biases of standard deviation 0.5; widths 2 to 32, depths 1 to 10; weight scales s from 0.5 to 4 at N = 32, L = 10, for tanh and the logistic sigmoid.'
    """
    return (f"tanh, Gaussian weights of standard deviation s/√N with s = {scale:g}, Gaussian biases of standard "
            f"deviation {bias_scale:g}; widths {min(widths)} to {max(widths)}, depths {min(depths)} to {max(depths)}; "
            f"weight scales s from {min(scales):g} to {max(scales):g} at N = {scale_width}, L = {scale_depth}, for "
            "tanh and the logistic sigmoid.")
