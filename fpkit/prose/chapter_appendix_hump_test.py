"""The sentences of the appendix *A hump test with a verified error rate*, as functions of its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

__all__ = ["above_level_text", "coverage_text", "formula_check_text", "liberal_text"]


def _and(items):
    """Words joined as a list: 'a', 'a and b', 'a, b and c'."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def above_level_text(n_above, n_conditions):
    """In how many conditions a rate's whole 95 % interval lies above the level (completes "... lies above
    the level").

    >>> above_level_text(0, 30)
    'in none of the 30 conditions'
    >>> above_level_text(1, 30)
    'in 1 of the 30 conditions'
    >>> above_level_text(7, 30)
    'in 7 of the 30 conditions'
    >>> above_level_text(30, 30)
    'in all 30 conditions'
    """
    if n_above == 0:
        return f"in none of the {n_conditions} conditions"
    if n_above == n_conditions:
        return f"in all {n_conditions} conditions"
    return f"in {n_above} of the {n_conditions} conditions"


def formula_check_text(networks, low, high, target):
    """Whether the simulated power at the formula's detectable size agrees with the target power: its
    95 % interval (``low``, ``high`` per design of ``networks`` per depth) contains ``target``.

    >>> formula_check_text([150, 1000], [0.78, 0.79], [0.81, 0.82], 0.8)
    'On one raised depth the simulated power agrees with the formula: its 95 % interval contains 0.8 at every design.'
    >>> formula_check_text([150, 1000], [0.74, 0.79], [0.77, 0.82], 0.8)
    'On one raised depth the simulated power agrees with the formula at 1 of the 2 designs; at 150 networks per depth its 95 % interval is 0.74 to 0.77, not containing 0.8.'
    >>> formula_check_text([150, 1000, 5000], [0.74, 0.82, 0.8], [0.77, 0.85, 0.81], 0.8)
    'On one raised depth the simulated power agrees with the formula at 1 of the 3 designs; at 150 and 1000 networks per depth its 95 % intervals are 0.74 to 0.77 and 0.82 to 0.85, not containing 0.8.'
    >>> formula_check_text([150, 1000], [0.7, 0.82], [0.75, 0.85], 0.8)
    'On one raised depth the simulated power does not agree with the formula at any design; at 150 and 1000 networks per depth its 95 % intervals are 0.7 to 0.75 and 0.82 to 0.85, not containing 0.8.'
    """
    rows = list(zip(networks, low, high))
    off = [(n, lo, hi) for n, lo, hi in rows if not lo <= target <= hi]
    if not off:
        return (f"On one raised depth the simulated power agrees with the formula: its 95 % interval contains "
                f"{target:g} at every design.")
    agree = (f"does not agree with the formula at any design" if len(off) == len(rows) else
             f"agrees with the formula at {len(rows) - len(off)} of the {len(rows)} designs")
    intervals = _and(f"{lo:.2g} to {hi:.2g}" for _, lo, hi in off)
    plural = "s are" if len(off) > 1 else " is"
    return (f"On one raised depth the simulated power {agree}; at {_and(n for n, _, _ in off)} networks per depth "
            f"its 95 % interval{plural} {intervals}, not containing {target:g}.")


def coverage_text(curves, coverage, high, nominal):
    """Whether the interval of the hump's size keeps its nominal coverage on every simulated curve: it falls
    short where the upper end ``high`` of the 95 % Wilson interval of the coverage is below ``nominal``.

    >>> coverage_text(["flat", "broad hump"], [0.99, 0.97], [0.995, 0.975], 0.95)
    'The interval covered the true size in at least 0.95 of the data sets on every curve, within the simulation error (lowest: 0.97, broad hump).'
    >>> coverage_text(["flat", "broad hump"], [0.99, 0.93], [0.995, 0.94], 0.95)
    'The interval covered the true size in fewer than 0.95 of the data sets on the broad hump curve (0.93); on the other curves it kept its coverage.'
    >>> coverage_text(["flat", "broad hump"], [0.9, 0.93], [0.92, 0.94], 0.95)
    'The interval covered the true size in fewer than 0.95 of the data sets on the flat and broad hump curves (0.9 and 0.93).'
    """
    rows = list(zip(curves, coverage, high))
    short = [(c, cov) for c, cov, hi in rows if hi < nominal]
    if not short:
        curve, lowest, _ = min(rows, key=lambda r: r[1])
        return (f"The interval covered the true size in at least {nominal:g} of the data sets on every curve, "
                f"within the simulation error (lowest: {lowest:.2g}, {curve}).")
    which = _and(c for c, _ in short)
    values = _and(f"{cov:.2g}" for _, cov in short)
    if len(short) == len(rows):
        return f"The interval covered the true size in fewer than {nominal:g} of the data sets on the {which} curves ({values})."
    noun = "curve" if len(short) == 1 else "curves"
    return (f"The interval covered the true size in fewer than {nominal:g} of the data sets on the {which} {noun} "
            f"({values}); on the other curves it kept its coverage.")


def liberal_text(networks_above):
    """Where the whole test's false-positive rate is significantly above its level (completes "with ...").

    >>> liberal_text([])
    'no number of networks per depth where its 95 % interval lies above the level'
    >>> liberal_text([30])
    'its 95 % interval above the level at 30 networks per depth: there the test is somewhat liberal'
    >>> liberal_text([30, 60])
    'its 95 % interval above the level at 30 and 60 networks per depth: there the test is somewhat liberal'
    """
    if not networks_above:
        return "no number of networks per depth where its 95 % interval lies above the level"
    return (f"its 95 % interval above the level at {_and(networks_above)} networks per depth: there the test "
            "is somewhat liberal")
