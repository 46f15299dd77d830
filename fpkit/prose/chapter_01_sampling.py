"""The sentences of chapter 1 (*Sampling light- and heavy-tailed weights*), as functions of its numbers.

Every function has doctest examples for each of its branches; tests/test_chapters.py runs them.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["claim_verdict", "drift_text", "good_up_to", "how_sure_text", "ks_text", "range_text"]


def good_up_to(rows, tol):
    """Largest alpha up to which an estimator's mean is consistent with a relative bias of at most
    tol: at every alpha up to it, the 95 % interval of the mean's relative error reaches into
    [-tol, tol]. None if that fails at the smallest alpha.

    >>> rows = pd.DataFrame({"alpha": [0.5, 1.0, 1.9], "relative error": [0.01, -0.04, 0.2],
    ...                      "half-width": [0.02, 0.02, 0.05]})
    >>> good_up_to(rows, 0.05), good_up_to(rows.assign(**{"relative error": 0.0}), 0.05)
    (1.0, 1.9)
    >>> good_up_to(rows.assign(**{"relative error": 0.3}), 0.05) is None
    True
    """
    rows = rows.sort_values("alpha")
    bad = rows[rows["relative error"].abs() - rows["half-width"] > tol]
    below = rows["alpha"] if bad.empty else rows.loc[rows["alpha"] < bad["alpha"].min(), "alpha"]
    return float(below.max()) if len(below) else None


def range_text(limit):
    """The alphas an estimator is good for, as words.

    >>> range_text(1.5), range_text(None)
    ('every α up to 1.5', 'no α of the grid')
    """
    return f"every α up to {limit:g}" if limit is not None else "no α of the grid"


def drift_text(hill_high, fit_high):
    """Whether each estimator is significantly more than 5 % too high near alpha = 2.

    >>> drift_text(True, True)
    'both estimates are significantly more than 5 % too high'
    >>> drift_text(True, False)
    "Hill's estimate is significantly more than 5 % too high, the power-law fit's not significantly"
    >>> drift_text(False, True)
    "the power-law fit's estimate is significantly more than 5 % too high, Hill's not significantly"
    >>> drift_text(False, False)
    'neither estimate is significantly more than 5 % too high at this sample size'
    """
    if hill_high and fit_high:
        return "both estimates are significantly more than 5 % too high"
    if hill_high or fit_high:
        high, fine = ("Hill's", "the power-law fit's") if hill_high else ("the power-law fit's", "Hill's")
        return f"{high} estimate is significantly more than 5 % too high, {fine} not significantly"
    return "neither estimate is significantly more than 5 % too high at this sample size"


def ks_text(n_rejected, n_laws, level):
    """The samplers' Kolmogorov-Smirnov tests in one sentence.

    >>> ks_text(0, 4, 0.05)
    'No sampler is rejected: none of the 4 tests rejects its law at family-wise level 0.05.'
    >>> ks_text(1, 4, 0.05)
    '1 of the 4 samplers is rejected by its test at family-wise level 0.05.'
    >>> ks_text(2, 4, 0.05)
    '2 of the 4 samplers are rejected by their tests at family-wise level 0.05.'
    >>> ks_text(4, 4, 0.05)
    'All 4 samplers are rejected by their tests at family-wise level 0.05.'
    """
    if n_rejected == 0:
        return f"No sampler is rejected: none of the {n_laws} tests rejects its law at family-wise level {level:g}."
    if n_rejected == n_laws:
        return f"All {n_laws} samplers are rejected by their tests at family-wise level {level:g}."
    verb = "is rejected by its test" if n_rejected == 1 else "are rejected by their tests"
    return f"{n_rejected} of the {n_laws} samplers {verb} at family-wise level {level:g}."


def claim_verdict(samplers_ok, hill_upto, fit_upto, top_alpha):
    """The status word and the one-sentence finding of the chapter.

    >>> claim_verdict(True, 1.9, 1.5, 1.9)
    ('reproduces', 'The samplers draw the laws they name, and the tail index is measured within 5 % at every α of the grid.')
    >>> claim_verdict(True, 1.5, 1.75, 1.9)
    ('partly', 'The samplers draw the laws they name; the tail index is measured within 5 % up to α = 1.75, not near α = 1.9.')
    >>> claim_verdict(True, None, None, 1.9)
    ('partly', 'The samplers draw the laws they name, but neither estimator measures the tail index within 5 % at any α of the grid.')
    >>> claim_verdict(False, 1.5, None, 1.9)
    ('partly', 'A sampler fails its test; the tail index is measured within 5 % up to α = 1.5.')
    >>> claim_verdict(False, None, None, 1.9)
    ('not detected', 'A sampler fails its test, and neither estimator measures the tail index within 5 % at any α of the grid.')
    """
    limits = [u for u in (hill_upto, fit_upto) if u is not None]
    best = max(limits) if limits else None
    if not samplers_ok:
        if best is None:
            return ("not detected", "A sampler fails its test, and neither estimator measures the tail index "
                                    "within 5 % at any α of the grid.")
        return "partly", f"A sampler fails its test; the tail index is measured within 5 % up to α = {best:g}."
    if best is None:
        return ("partly", "The samplers draw the laws they name, but neither estimator measures the tail index "
                          "within 5 % at any α of the grid.")
    if best >= top_alpha:
        return ("reproduces", "The samplers draw the laws they name, and the tail index is measured within 5 % "
                              "at every α of the grid.")
    return ("partly", f"The samplers draw the laws they name; the tail index is measured within 5 % up to "
                      f"α = {best:g}, not near α = {top_alpha:g}.")


def how_sure_text(n_laws, n_draws, level, min_adjusted_p, repeats, sample_size):
    """How sure the verdict is: the tests, their level, their evidence.

    >>> how_sure_text(4, "20 000", 0.05, 0.41, 20, "50 000")
    'Kolmogorov-Smirnov tests of 20 000 draws per sampler, 4 tests at family-wise level 0.05 (Holm), smallest adjusted p-value 0.41; each estimator judged by the 95 % t-interval of its mean over 20 samples of 50 000 draws per α.'
    >>> how_sure_text(4, "20 000", 0.05, 0.0, 20, "50 000").split(";")[0]
    'Kolmogorov-Smirnov tests of 20 000 draws per sampler, 4 tests at family-wise level 0.05 (Holm), smallest adjusted p-value below 0.001'
    """
    p = f"{min_adjusted_p:.2g}" if min_adjusted_p >= 0.001 else "below 0.001"
    return (f"Kolmogorov-Smirnov tests of {n_draws} draws per sampler, {n_laws} tests at family-wise level "
            f"{level:g} (Holm), smallest adjusted p-value {p}; each estimator judged by the 95 % t-interval of "
            f"its mean over {repeats} samples of {sample_size} draws per α.")
