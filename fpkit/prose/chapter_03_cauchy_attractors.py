"""The sentences of chapter 3 (*Many attractors with Cauchy weights*), as functions of its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

__all__ = ["attractor_verdict", "boundary_text", "census_text", "claim_verdict", "completeness_text", "default_regime_text", "emergence_verdict", "how_sure_text", "matched_text", "partition_text", "partition_verdict", "ratio_text", "regime_text", "seeding_text", "stability_text", "stable_verdict", "tail_conclusion", "tail_verdict", "test_result"]


def _share(x):
    return f"{x:.2f}"


def test_result(p_holm, significant, level):
    """A test's outcome in parentheses: its Holm-adjusted p-value and what it means at ``level``.

    >>> test_result(3.1e-8, True, 0.05), test_result(0.056, False, 0.05)
    ('Holm-adjusted p = 3.1e-08, significant at family-wise level 0.05', 'Holm-adjusted p = 0.056, not significant at family-wise level 0.05')
    """
    return f"Holm-adjusted p = {p_holm:.2g}, {'' if significant else 'not '}significant at family-wise level {level:g}"


def default_regime_text(picked_by, rank, n_settings, share, cycles):
    """Whether the default regime is a rule's pick, and how it ranks.

    ``picked_by``: the names of the rules that pick it (empty: none).

    >>> default_regime_text([], 8, 24, 0.1875, 0.3646)
    'It is the pick of neither rule: at depth 8 a fraction 0.19 of its networks has two or more attractors (rank 8 of the 24 settings), and a fraction 0.36 of its starts ends on a cycle or does not settle.'
    >>> default_regime_text(["the second"], 1, 24, 0.56, 0.36).split(":")[0]
    'It is the pick of the second rule'
    >>> default_regime_text(["the first", "the second"], 1, 24, 0.56, 0.06).split(":")[0]
    'It is the pick of both rules'
    """
    who = ("neither rule" if not picked_by else "both rules" if len(picked_by) > 1 else f"{picked_by[0]} rule")
    return (f"It is the pick of {who}: at depth 8 a fraction {_share(share)} of its networks has two or more "
            f"attractors (rank {rank} of the {n_settings} settings), and a fraction {_share(cycles)} of its starts "
            "ends on a cycle or does not settle.")


def matched_text(matching, share_heavy, share_light, p_holm, significant, level):
    """One matched comparison of the tail: alpha = 1 against alpha = 2.

    >>> matched_text("the same median weight", 0.14, 0.005, 3.1e-8, True, 0.05)
    'At the same median weight, a fraction 0.14 of the Cauchy networks (α = 1) has two or more attractors against 0.01 of the Gaussian ones (α = 2): more often (Holm-adjusted p = 3.1e-08, significant at family-wise level 0.05).'
    >>> matched_text("the same generalised-CLT scale", 0.17, 0.08, 0.056, False, 0.05).split(": ")[1]
    'not significantly more often (Holm-adjusted p = 0.056, not significant at family-wise level 0.05).'
    """
    verdict = "more often" if significant else "not significantly more often"
    return (f"At {matching}, a fraction {_share(share_heavy)} of the Cauchy networks (α = 1) has two or more "
            f"attractors against {_share(share_light)} of the Gaussian ones (α = 2): {verdict} "
            f"({test_result(p_holm, significant, level)}).")


def ratio_text(scale, ratio, low, high, p_holm, significant, level):
    """Gaussian networks of large weight scale against the Cauchy regime: the ratio of their shares of
    multistable networks, with its 95 % interval, and what it allows.

    >>> ratio_text(16, 1.06, 0.69, 1.62, 0.9, False, 0.05)
    'Gaussian networks of weight scale s = 16 have two or more attractors 1.06 times as often as the Cauchy ones (95 % interval 0.69–1.62; Holm-adjusted p = 0.9, not significant at family-wise level 0.05): large light-tailed weights can be as multistable as the heavy tail, but the data allow anything from 0.69 to 1.62 times its rate.'
    >>> ratio_text(16, 0.4, 0.2, 0.7, 0.001, True, 0.05).split(": ")[1]
    'large light-tailed weights are less often multistable than the heavy tail.'
    >>> ratio_text(16, 2.1, 1.4, 3.0, 0.001, True, 0.05).split(": ")[1]
    'large light-tailed weights are more often multistable than the heavy tail.'
    """
    head = (f"Gaussian networks of weight scale s = {scale:g} have two or more attractors {ratio:.2f} times as often "
            f"as the Cauchy ones (95 % interval {low:.2f}–{high:.2f}; {test_result(p_holm, significant, level)})")
    if low <= 1.0 <= high:
        return (f"{head}: large light-tailed weights can be as multistable as the heavy tail, but the data allow "
                f"anything from {low:.2f} to {high:.2f} times its rate.")
    return f"{head}: large light-tailed weights are {'less' if high < 1.0 else 'more'} often multistable than the heavy tail."


def stability_text(n_reached, n_reached_stable, n_all, n_unstable):
    """The fixed points found: those iteration reaches (attractors) and all, stable or not.

    >>> stability_text(92, 92, 156, 64)
    'Of the 92 fixed points that iteration reaches, all 92 are stable (spectral radius below 1); of all 156 fixed points found, 64 (41.0 %) are unstable: not every fixed point is a stable attractor, and iteration sees only the stable ones.'
    >>> stability_text(92, 92, 92, 0).split(": ")[1]
    'every fixed point found is a stable attractor.'
    >>> stability_text(92, 90, 156, 66).split(";")[0]
    'Of the 92 fixed points that iteration reaches, 90 are stable (spectral radius below 1), 2 are not'
    """
    if n_reached_stable == n_reached:
        reached = f"Of the {n_reached} fixed points that iteration reaches, all {n_reached} are stable (spectral radius below 1)"
    else:
        reached = (f"Of the {n_reached} fixed points that iteration reaches, {n_reached_stable} are stable (spectral "
                   f"radius below 1), {n_reached - n_reached_stable} are not")
    if n_unstable == 0:
        return f"{reached}; of all {n_all} fixed points found, none is unstable: every fixed point found is a stable attractor."
    return (f"{reached}; of all {n_all} fixed points found, {n_unstable} ({100 * n_unstable / n_all:.1f} %) are "
            "unstable: not every fixed point is a stable attractor, and iteration sees only the stable ones.")


def partition_text(share_settled, width):
    """Whether every start reaches a fixed point, i.e. whether the basins partition the box.

    >>> partition_text(0.67, 10)
    'At N = 10, every start reaches a fixed point in a fraction 0.67 of the Cauchy networks; in the others some starts end on a cycle or do not settle, so there the basins do not partition the box.'
    >>> partition_text(1.0, 10)
    'At N = 10, every start reaches a fixed point in every Cauchy network: the basins partition the box.'
    >>> partition_text(0.0, 10)
    'At N = 10, in every Cauchy network some starts end on a cycle or do not settle: the basins never partition the box.'
    """
    if share_settled >= 1.0:
        return f"At N = {width}, every start reaches a fixed point in every Cauchy network: the basins partition the box."
    if share_settled <= 0.0:
        return (f"At N = {width}, in every Cauchy network some starts end on a cycle or do not settle: the basins "
                "never partition the box.")
    return (f"At N = {width}, every start reaches a fixed point in a fraction {_share(share_settled)} of the Cauchy "
            "networks; in the others some starts end on a cycle or do not settle, so there the basins do not "
            "partition the box.")


def _pct(x):
    return f"{100 * x:.0f} %"


def census_text(width, mean_q, k_multi, n, low, high, max_q, share_none, mean_all, mean_unstable, share_unstable):
    """The census of the Cauchy networks of one width: attractors, networks without one, all fixed points.

    >>> census_text(10, 0.98, 6, 48, 0.06, 0.25, 2, 0.146, 2.08, 1.10, 0.48)
    'At N = 10, Cauchy networks have on average 0.98 attractors; 6 of 48 have two or more (95 % interval 0.06–0.25), up to 2, while a fraction 0.15 has none. Counting all fixed points gives on average 2.08 per network, 1.10 of them unstable; a fraction 0.48 of the networks has at least one unstable fixed point.'
    >>> census_text(10, 1.0, 0, 48, 0.0, 0.07, 1, 0.0, 1.0, 0.0, 0.0).split(". ")[0].split("; ")[1]
    'none of 48 has two or more (95 % interval 0.00–0.07), while every network has at least one'
    """
    if k_multi:
        multi = f"{k_multi} of {n} have two or more (95 % interval {_share(low)}–{_share(high)}), up to {max_q}"
    else:
        multi = f"none of {n} has two or more (95 % interval {_share(low)}–{_share(high)})"
    none = f"a fraction {_share(share_none)} has none" if share_none > 0 else "every network has at least one"
    head = f"At N = {width}, Cauchy networks have on average {mean_q:.2f} attractors; {multi}, while {none}."
    return (f"{head} Counting all fixed points gives on average {mean_all:.2f} per network, {mean_unstable:.2f} of them "
            f"unstable; a fraction {_share(share_unstable)} of the networks has at least one unstable fixed point.")


def completeness_text(index_share, unseen_mass, unseen_fp):
    """How complete the census is: the index check, the Good–Turing and Chao1 estimates.

    >>> completeness_text(1.0, 0.00016, 0.08)
    'The index check passes in every Cauchy network; the Good–Turing estimate of the basin mass of unseen attractors averages 0.0002, and the Chao1 estimate of fixed points the random shooting missed averages 0.08 per network (a lower bound), so the counts of unstable fixed points are lower bounds.'
    >>> completeness_text(0.9, 0.001, 0.5).split(";")[0]
    'The index check passes in a fraction 0.90 of the Cauchy networks (where it fails, fixed points were missed)'
    """
    index = ("The index check passes in every Cauchy network" if index_share >= 1.0 else
             f"The index check passes in a fraction {_share(index_share)} of the Cauchy networks (where it fails, "
             "fixed points were missed)")
    return (f"{index}; the Good–Turing estimate of the basin mass of unseen attractors averages {unseen_mass:.4f}, "
            f"and the Chao1 estimate of fixed points the random shooting missed averages {unseen_fp:.2f} per network "
            "(a lower bound), so the counts of unstable fixed points are lower bounds.")


def boundary_text(n_probe, n_unstable, n_boundary):
    """The probes around the unstable fixed points: how many sit on a basin boundary.

    >>> boundary_text(12, 58, 8)
    'Of the 58 unstable fixed points probed with 12 starts each, 8 (14 %) have two or more attractors within distance 0.001: they sit on basin boundaries; the others are surrounded by a single basin or by cycles.'
    >>> boundary_text(12, 0, 0)
    'No unstable fixed point was found, so none was probed.'
    """
    if n_unstable == 0:
        return "No unstable fixed point was found, so none was probed."
    return (f"Of the {n_unstable} unstable fixed points probed with {n_probe} starts each, {n_boundary} "
            f"({_pct(n_boundary / n_unstable)}) have two or more attractors within distance 0.001: they sit on basin "
            "boundaries; the others are surrounded by a single basin or by cycles.")


def seeding_text(agree, census_ge, grid_side, n_starts):
    """Grid against uniform starts, and the census against both.

    >>> seeding_text(1.0, 1.0, 16, 64)
    'A 16 × 16 grid and 64 uniform random starts give the same number of attractors in every network; the census finds at least as many as either in every network.'
    >>> seeding_text(0.95, 0.98, 16, 64)
    'A 16 × 16 grid and 64 uniform random starts give the same number of attractors in 95 % of the networks (where they differ, one missed a small basin); the census finds at least as many as either in 98 % of them.'
    """
    same = "in every network" if agree >= 1.0 else f"in {_pct(agree)} of the networks (where they differ, one missed a small basin)"
    more = "in every network" if census_ge >= 1.0 else f"in {_pct(census_ge)} of them"
    return (f"A {grid_side} × {grid_side} grid and {n_starts} uniform random starts give the same number of attractors "
            f"{same}; the census finds at least as many as either {more}.")


def emergence_verdict(significant):
    """Verdict words: do several attractors emerge with Cauchy weights, more often than with Gaussian ones?

    >>> emergence_verdict(True), emergence_verdict(False)
    ('reproduces', 'not detected')
    """
    return "reproduces" if significant else "not detected"


def stable_verdict(n_unstable):
    """Verdict words: is every fixed point found a stable attractor? (An unstable one is a counterexample.)

    >>> stable_verdict(64), stable_verdict(0)
    ('no, unstable fixed points found', 'no unstable fixed point found')
    """
    return "no, unstable fixed points found" if n_unstable else "no unstable fixed point found"


def attractor_verdict(k_none):
    """Verdict words: does every network have a stable fixed point (an attractor)?

    >>> attractor_verdict(30), attractor_verdict(0)
    ('no, some networks have only cycles', 'no network without an attractor found')
    """
    return "no, some networks have only cycles" if k_none else "no network without an attractor found"


def partition_verdict(k_settled, n):
    """Verdict words: do the basins partition the box (every start of a network reaches a fixed point)?

    >>> partition_verdict(200, 200), partition_verdict(130, 200), partition_verdict(0, 200)
    ('reproduces', 'partly, not where starts cycle', 'no, starts cycle in every network')
    """
    if k_settled == n:
        return "reproduces"
    return "no, starts cycle in every network" if k_settled == 0 else "partly, not where starts cycle"


def tail_verdict(median_significant, large_gaussian_significant, large_gaussian_more):
    """Verdict words on tail against scale: the tail at the same median weight (a one-sided test) and the
    Cauchy networks against Gaussian ones of the largest scale (two-sided; ``large_gaussian_more``: the
    Gaussian share is the larger).

    >>> tail_verdict(True, False, True), tail_verdict(True, True, False), tail_verdict(True, True, True)
    ('heavy tail sufficient, not necessary', 'heavy tail needed', 'large weights suffice, and more so')
    >>> tail_verdict(False, False, False)
    'no effect of the tail detected'
    """
    if not median_significant:
        return "no effect of the tail detected"
    if not large_gaussian_significant:
        return "heavy tail sufficient, not necessary"
    return "large weights suffice, and more so" if large_gaussian_more else "heavy tail needed"


def tail_conclusion(verdict, gclt_significant):
    """What the tail supplies, as far as the tests allow (``verdict``: from :func:`tail_verdict`).

    >>> tail_conclusion("heavy tail sufficient, not necessary", False)
    'So the heavy tail is sufficient but not necessary: light-tailed weights of large enough scale are as often multistable, within the interval above. At the same generalised-CLT scale, where the Gaussian weights are the larger ones, no significant difference was found.'
    >>> tail_conclusion("heavy tail needed", True).split(". ")[1]
    'At the same generalised-CLT scale, where the Gaussian weights are the larger ones, the Cauchy networks are still significantly more often multistable, so weight size alone does not explain them.'
    >>> tail_conclusion("large weights suffice, and more so", False).split(":")[0]
    'So large light-tailed weights suffice'
    >>> tail_conclusion("no effect of the tail detected", False).split(".")[0]
    'So no effect of the tail at the same median weight was detected at this sample size'
    """
    head = {
        "heavy tail sufficient, not necessary": "So the heavy tail is sufficient but not necessary: light-tailed weights "
                                                "of large enough scale are as often multistable, within the interval above",
        "heavy tail needed": "So the heavy tail matters: at the same median weight and against the largest Gaussian "
                             "scale tried, the Cauchy networks are more often multistable",
        "large weights suffice, and more so": "So large light-tailed weights suffice: they are more often multistable "
                                              "than the Cauchy networks",
    }.get(verdict, "So no effect of the tail at the same median weight was detected at this sample size")
    gclt = ("the Cauchy networks are still significantly more often multistable, so weight size alone does not "
            "explain them" if gclt_significant else "no significant difference was found")
    return f"{head}. At the same generalised-CLT scale, where the Gaussian weights are the larger ones, {gclt}."


def claim_verdict(emerged, share_cauchy, share_gauss, n_all, n_unstable, share_none):
    """The status word and the finding (at most 25 words): several attractors with Cauchy weights, but
    unstable fixed points and networks that only cycle.

    >>> claim_verdict(True, 0.17, 0.0, 150, 58, 0.15)
    ('partly', 'Several attractors in 17 % of Cauchy networks (Gaussian 0 %); 39 % of fixed points unstable; 15 % of networks only cycle.')
    >>> claim_verdict(True, 0.17, 0.0, 92, 0, 0.0)
    ('reproduces', 'Several attractors in 17 % of Cauchy networks (Gaussian 0 %); every fixed point found is stable and every network has an attractor.')
    >>> claim_verdict(False, 0.02, 0.0, 92, 10, 0.1)
    ('not detected', 'Cauchy networks are not detectably more often multistable than Gaussian ones: 2 % against 0 %.')
    """
    if not emerged:
        return "not detected", (f"Cauchy networks are not detectably more often multistable than Gaussian ones: "
                                f"{_pct(share_cauchy)} against {_pct(share_gauss)}.")
    head = f"Several attractors in {_pct(share_cauchy)} of Cauchy networks (Gaussian {_pct(share_gauss)})"
    if n_unstable == 0 and share_none == 0:
        return "reproduces", f"{head}; every fixed point found is stable and every network has an attractor."
    return "partly", (f"{head}; {_pct(n_unstable / max(n_all, 1))} of fixed points unstable; {_pct(share_none)} of "
                      "networks only cycle.")


def how_sure_text(level, p_emerge, n_networks, n_census, census_widths, index_share):
    """How sure: the test family, the census and its completeness check.

    >>> how_sure_text(0.05, 1e-11, 200, 48, [2, 10], 1.0)
    'Four Fisher exact tests, Holm-corrected at family-wise level 0.05, on 200 networks per setting (Cauchy against Gaussian: adjusted p below 0.001); Wilson 95 % intervals for the shares; unstable fixed points verified to machine precision, from a census of 48 networks per width (N = 2 and 10) whose index check closes in a fraction 1.00 of the Cauchy networks.'
    >>> how_sure_text(0.05, 0.02, 200, 48, [10], 0.9).split("(")[1].split(")")[0]
    'Cauchy against Gaussian: adjusted p = 0.02'
    """
    p = "below 0.001" if p_emerge < 0.001 else f"= {p_emerge:.2g}"
    widths = [str(w) for w in census_widths]
    widths = widths[0] if len(widths) == 1 else f"{', '.join(widths[:-1])} and {widths[-1]}"
    return (f"Four Fisher exact tests, Holm-corrected at family-wise level {level:g}, on {n_networks} networks per "
            f"setting (Cauchy against Gaussian: adjusted p {p}); Wilson 95 % intervals for the shares; unstable fixed "
            f"points verified to machine precision, from a census of {n_census} networks per width (N = {widths}) "
            f"whose index check closes in a fraction {_share(index_share)} of the Cauchy networks.")


def regime_text(config):
    """Where the finding holds: the default heavy-tailed regime (a NetworkConfig).

    >>> from fpkit.regimes import CAUCHY_REGIME
    >>> regime_text(CAUCHY_REGIME)
    'tanh, Cauchy weights of scale s/N with s = 4, Cauchy biases of scale 1, depth L = 8, width N = 10 for the tests; a census at several widths; the tail and the scale varied around it.'
    """
    return (f"{config.activation}, Cauchy weights of scale s/N with s = {config.scale:g}, Cauchy biases of scale "
            f"{config.bias_scale:g}, depth L = {config.L}, width N = {config.N} for the tests; a census at several "
            "widths; the tail and the scale varied around it.")
