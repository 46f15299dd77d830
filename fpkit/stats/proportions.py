"""Binomial proportions: the Wilson interval and Fisher's exact comparison of two proportions."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from .. import _validate as v

__all__ = ["MAX_TRIALS", "proportion_test", "wilson_interval"]


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval of a binomial proportion ``successes / trials``.

    The interval of :func:`scipy.stats.binomtest`'s ``proportion_ci(method="wilson")`` (Wilson
    1927): unlike the normal approximation it stays inside [0, 1] and keeps close to its nominal
    coverage for proportions near 0 or 1, where the book's counts usually are (e.g. "exactly one
    fixed point in 100 of 100 networks").

    Parameters
    ----------
    successes, trials : int or array of int, broadcast together
        ``0 <= successes <= trials`` and ``trials >= 1``.
    confidence : float in (0, 1)

    Returns
    -------
    low, high : float, or arrays of the broadcast shape

    Examples
    --------
    >>> low, high = wilson_interval(100, 100)
    >>> round(low, 3), high
    (0.963, 1.0)
    """
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    k, n = np.broadcast_arrays(np.asarray(successes), np.asarray(trials))
    for name, a in (("successes", k), ("trials", n)):
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{name} must be integers; got dtype {a.dtype}")
    if np.any(n < 1):
        raise ValueError(f"trials must be >= 1; got {n.min()}")
    if np.any((k < 0) | (k > n)):
        raise ValueError("successes must be in [0, trials]")
    low, high = np.empty(k.shape), np.empty(k.shape)
    for i in np.ndindex(k.shape):
        ci = stats.binomtest(int(k[i]), int(n[i])).proportion_ci(confidence, method="wilson")
        low[i], high[i] = ci.low, ci.high
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


#: The most trials :func:`proportion_test` takes per group: Fisher's test (scipy) multiplies the counts
#: of the 2 x 2 table as int64, which overflows beyond about 3e9 per cell.
MAX_TRIALS = 10**9


def proportion_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int, *,
                    alternative: str = "two-sided") -> float:
    """p-value of Fisher's exact test that two binomial proportions are equal.

    ``alternative="greater"`` tests ``p_a > p_b``; ``"less"`` ``p_a < p_b``. Conditional on the
    margins the test is exact, so its false-positive rate is at most the nominal level (checked
    by simulation in the test suite); it is conservative for small counts.

    Parameters
    ----------
    successes_a, trials_a, successes_b, trials_b : int
        ``0 <= successes <= trials``, ``1 <= trials <= MAX_TRIALS`` (10^9).
    alternative : {"two-sided", "greater", "less"}
    """
    na = v.check_int(trials_a, "trials_a", minimum=1, maximum=MAX_TRIALS)
    nb = v.check_int(trials_b, "trials_b", minimum=1, maximum=MAX_TRIALS)
    ka = v.check_int(successes_a, "successes_a", minimum=0, maximum=na)
    kb = v.check_int(successes_b, "successes_b", minimum=0, maximum=nb)
    v.check_choice(alternative, "alternative", ("two-sided", "greater", "less"))
    return float(stats.fisher_exact([[ka, na - ka], [kb, nb - kb]], alternative=alternative).pvalue)
