import numpy as np
import pandas as pd
import pytest

from fpkit.stats import bootstrap_curve, hump_test, wilson_interval


def _table(means, n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.concat([pd.DataFrame({"L": L, "Q": rng.poisson(m, n)}) for L, m in means.items()],
                     ignore_index=True)


def test_bootstrap_interval_covers_the_true_mean_at_the_stated_rate_and_is_not_too_wide():
    """Nominal 95 %: the coverage over 400 independent samples is tested two-sided against 0.95
    (binomial test; a correct interval fails with probability 1e-3), and the mean width against
    the normal-theory width 2 * 1.96 * sqrt(lambda / n) of a Poisson mean (too wide an interval
    would pass any coverage bound)."""
    from scipy.stats import binomtest

    reps, n, lam = 400, 100, 2.0
    hits, widths = 0, []
    for rep in range(reps):
        t = _table({1: lam}, n=n, seed=rep)
        c = bootstrap_curve(t, "L", "Q", n_resamples=500, seed=rep).iloc[0]
        assert c["low"] <= c["mean"] <= c["high"] and c["n"] == n
        hits += c["low"] <= lam <= c["high"]
        widths.append(c["high"] - c["low"])
    assert binomtest(hits, reps, 0.95).pvalue > 1e-3, f"coverage {hits / reps:.3f} is not 0.95"
    assert np.mean(widths) == pytest.approx(2 * 1.96 * np.sqrt(lam / n), rel=0.05)


def test_bootstrap_is_seeded_and_handles_constant_groups():
    t = _table({1: 1.0, 2: 3.0})
    a = bootstrap_curve(t, "L", "Q", seed=4)
    pd.testing.assert_frame_equal(a, bootstrap_curve(t, "L", "Q", seed=4))
    const = pd.DataFrame({"L": [1, 1, 2], "Q": [1, 1, 5]})
    c = bootstrap_curve(const, "L", "Q")
    assert (c["low"] == c["mean"]).all() and (c["high"] == c["mean"]).all()


def test_hump_detected_and_not_invented():
    hump = hump_test(_table({1: 1.0, 2: 2.0, 4: 3.0, 8: 1.5, 16: 1.0}), "L", "Q", n_resamples=1000)
    assert hump["hump"] and hump["peak_x"] == 4 and hump["low"] > 0
    flat = hump_test(_table({1: 1.0, 2: 1.0, 4: 1.0, 8: 1.0, 16: 1.0}, seed=1), "L", "Q", n_resamples=1000)
    assert not flat["hump"]
    rising = hump_test(_table({1: 1.0, 2: 1.5, 4: 2.0, 8: 2.5, 16: 3.0}, seed=2), "L", "Q", n_resamples=1000)
    assert not rising["hump"]


def test_bad_arguments():
    t = _table({1: 1.0, 2: 1.0})
    with pytest.raises(ValueError, match="column 'R'"):
        bootstrap_curve(t, "L", "R")
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_curve(t, "L", "Q", confidence=1.5)
    with pytest.raises(ValueError, match="at least 3"):
        hump_test(t, "L", "Q")
    with pytest.raises(TypeError, match="DataFrame"):
        hump_test([1, 2], "L", "Q")


def test_wilson_interval_closed_form_and_coverage():
    from scipy import stats

    # the closed form (Wilson 1927): (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    k, n = 7, 40
    z, p = stats.norm.ppf(0.975), 7 / 40
    centre, half = p + z**2 / (2 * n), z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = wilson_interval(k, n)
    assert (low, high) == pytest.approx(((centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n)), rel=1e-12)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    # arrays broadcast; exact coverage of the 95 % interval at p = 0.3, n = 50 is near nominal
    ks = np.arange(51)
    lows, highs = wilson_interval(ks, 50)
    assert lows.shape == (51,) and np.all(lows <= ks / 50) and np.all(ks / 50 <= highs)
    covered = (lows <= 0.3) & (0.3 <= highs)
    assert stats.binom.pmf(ks, 50, 0.3)[covered].sum() == pytest.approx(0.95, abs=0.02)


@pytest.mark.parametrize("args, exc, match", [
    ((11, 10), ValueError, "successes must be in"),
    ((1, 0), ValueError, "trials must be >= 1"),
    ((1.5, 10), TypeError, "successes must be integers"),
    ((1, 10, 1.0), ValueError, "confidence"),
])
def test_wilson_interval_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        wilson_interval(*args)
