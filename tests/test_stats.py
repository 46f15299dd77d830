import math

import numpy as np
import pandas as pd
import pytest

from fpkit.stats import (
    bootstrap_curve,
    bootstrap_max_hump_batch,
    holm_adjust,
    hump_test,
    hump_test_batch,
    simulate_depth_data,
    wilson_interval,
)
from fpkit.stats.hump import _greater_pvalue, _sample_moments


def _table(means, n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.concat([pd.DataFrame({"L": L, "Q": rng.poisson(m, n)}) for L, m in means.items()],
                     ignore_index=True)


# ---------------------------------------------------------------------------------------------
# bootstrap_curve
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Holm
# ---------------------------------------------------------------------------------------------

def test_holm_matches_a_hand_computed_example():
    # sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> running max 0.06)
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # sorted: 0.01 (x3 = 0.03), 0.6 (x2 = 1.2 -> capped at 1), 0.7 (x1, running max 1)
    np.testing.assert_allclose(holm_adjust([0.6, 0.7, 0.01]), [1.0, 1.0, 0.03])
    # ties: 0.2 (x3 = 0.6), 0.2 (x2 = 0.4 -> running max 0.6), 0.5 (x1 -> 0.6); a single test is unchanged
    np.testing.assert_allclose(holm_adjust([0.2, 0.2, 0.5]), [0.6, 0.6, 0.6])
    np.testing.assert_allclose(holm_adjust([0.03]), [0.03])


def test_holm_rejects_at_least_what_bonferroni_rejects_and_at_most_what_raw_p_does():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, size=(200, 7)) ** 2
    for row in p:
        adj = holm_adjust(row)
        assert np.all(adj >= row - 1e-15) and np.all(adj <= np.minimum(1, 7 * row) + 1e-15)
        # monotone in the raw p-values
        order = np.argsort(row)
        assert np.all(np.diff(adj[order]) >= -1e-15)


def test_holm_bad_input():
    with pytest.raises(ValueError, match="p_values"):
        holm_adjust([0.1, np.nan])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm_adjust([0.1, 1.5])
    with pytest.raises(ValueError, match="one-dimensional"):
        holm_adjust([[0.1, 0.2]])
    with pytest.raises(ValueError, match="empty"):
        holm_adjust([])


# ---------------------------------------------------------------------------------------------
# The hump test: simulated null and alternative curves
# ---------------------------------------------------------------------------------------------

def _simulate(family, levels, n, reps, seed):
    """Data sets of shape (reps, K, n) whose per-depth mean rises with ``levels`` (in [0, 1]).

    Poisson counts (mean 0.5 + level), 0/1 data (p = 0.1 + 0.2 level), rare 0/1 data
    (p = 0.03 + 0.03 level) and the skewed mixture of values 0, 1, 2, 4 shaped like the attractor
    counts Q (a multistable fraction 0.1 + 0.2 level); equal levels give equal distributions.
    """
    lv = np.asarray(levels, dtype=float)
    family, means = {"poisson": ("poisson", 0.5 + lv), "binary": ("binary", 0.1 + 0.2 * lv),
                     "rare binary": ("binary", 0.03 + 0.03 * lv),
                     "mixture": ("mixture", 0.7 + 1.9 * (0.1 + 0.2 * lv))}[family]
    return simulate_depth_data(family, means, n=n, reps=reps, seed=np.random.default_rng(seed))


K = 6
NULL_SHAPES = {
    "flat": np.full(K, 0.5),
    "increasing": np.linspace(0.0, 1.0, K),
    "decreasing": np.linspace(1.0, 0.0, K),
    # least favourable: every interior depth ties with the first end and lies far above the last
    "plateau then fall": np.r_[np.ones(K - 1), 0.0],
    "rise then plateau": np.r_[0.0, np.ones(K - 1)],
}
FAMILIES = ["poisson", "mixture", "binary", "rare binary"]
REPS = 2000


def _upper(alpha, reps):
    """The largest empirical rate consistent with a true rate <= alpha: alpha + 3 standard errors."""
    return alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)


@pytest.mark.parametrize("n", [60, 150])
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape", list(NULL_SHAPES))
def test_hump_size_under_null_curves(shape, family, n):
    alpha = 0.05
    seed = [list(NULL_SHAPES).index(shape), FAMILIES.index(family), n]
    x = _simulate(family, NULL_SHAPES[shape], n, REPS, seed=seed)
    rate = hump_test_batch(x, alpha=alpha)["hump"].mean()
    assert rate <= _upper(alpha, REPS), f"{shape}, {family}, n = {n}: size {rate:.4f} > {alpha}"


@pytest.mark.parametrize("family", ["poisson", "mixture", "binary"])
def test_hump_size_with_twelve_depths_at_the_default_level(family):
    # the chapter's layout: 12 depths, Holm over 10 interior depths, alpha = 0.025
    alpha, k = 0.025, 12
    x = _simulate(family, np.r_[np.ones(k - 1), 0.0], 60, REPS, seed=[k, FAMILIES.index(family)])
    rate = hump_test_batch(x, alpha=alpha)["hump"].mean()
    assert rate <= _upper(alpha, REPS)


def test_hump_size_when_an_end_is_more_skewed_than_the_plateau():
    # The case Welch's t gets wrong: the first depth is right-skewed (Q in {0, 1, 2, 4}), the
    # interior depths have the same mean 1 but are concentrated near 1, the last depth is lower.
    rng = np.random.default_rng(11)
    for n in (60, 150):
        first = rng.choice([0.0, 1.0, 2.0, 4.0], p=[0.3, 0.5, 0.15, 0.05], size=(REPS, 1, n))
        middle = rng.choice([0.0, 1.0, 2.0], p=[0.05, 0.9, 0.05], size=(REPS, K - 2, n))
        last = (rng.random((REPS, 1, n)) < 0.6).astype(float)
        rate = hump_test_batch(np.concatenate([first, middle, last], axis=1), alpha=0.05)["hump"].mean()
        assert rate <= _upper(0.05, REPS), f"n = {n}: size {rate:.4f}"


def test_skewness_correction_repairs_welch_in_its_bad_direction():
    # One comparison "concentrated group > right-skewed group" with equal means 1 at n = 150, at the
    # level of one interior comparison of a 6-depth test (0.05 / 4). Welch alone rejects about
    # 1.5 times too often; the Hall-corrected p-value used by hump_test does not.
    rng = np.random.default_rng(3)
    reps, n, level = 40_000, 150, 0.0125
    near_one = _sample_moments(rng.choice([0.0, 1.0, 2.0], p=[0.05, 0.9, 0.05], size=(reps, n)))
    skewed = _sample_moments(rng.choice([0.0, 1.0, 2.0, 4.0], p=[0.3, 0.5, 0.15, 0.05], size=(reps, n)))
    from scipy import stats

    se = np.sqrt(near_one.var / n + skewed.var / n)
    df = se**4 / ((near_one.var / n) ** 2 / (n - 1) + (skewed.var / n) ** 2 / (n - 1))
    p_welch = stats.t.sf((near_one.mean - skewed.mean) / se, df)
    p_ours = _greater_pvalue(near_one, skewed)
    assert np.all(p_ours >= p_welch - 1e-12)
    assert (p_welch <= level).mean() > 1.3 * level
    assert (p_ours <= level).mean() <= _upper(level, reps)


POWER_CASES = [
    # family, curve of levels, n per depth, alpha, asserted power (true power: >= 0.05 above)
    ("poisson", [0.1, 0.4, 0.7, 0.7, 0.4, 0.1], 60, 0.05, 0.85),
    ("binary", [0.0, 0.5, 1.0, 1.0, 0.5, 0.0], 60, 0.05, 0.70),
    ("mixture", [0.0, 0.5, 1.0, 1.0, 0.5, 0.0], 150, 0.05, 0.90),
    ("mixture", [0.0, 0.5, 1.0, 1.0, 0.5, 0.0], 150, 0.025, 0.85),
]


@pytest.mark.parametrize("family,levels,n,alpha,power", POWER_CASES)
def test_hump_power_on_a_true_hump(family, levels, n, alpha, power):
    x = _simulate(family, levels, n, REPS, seed=[n, 7])
    res = hump_test_batch(x, alpha=alpha)
    assert res["hump"].mean() >= power
    # the peak depths are the ones declared above both ends most often
    declared = (res["p_holm"] <= alpha).mean(axis=0)
    assert declared.argmax() in (1, 2)


def test_power_grows_with_the_number_of_networks():
    levels = [0.0, 0.3, 0.6, 0.6, 0.3, 0.0]
    rates = [hump_test_batch(_simulate("binary", levels, n, 1000, seed=n), alpha=0.05)["hump"].mean()
             for n in (30, 100, 300)]
    assert rates[0] < rates[1] < rates[2] and rates[2] > 0.9


@pytest.mark.parametrize("shape", ["flat", "plateau then fall"])
def test_the_old_bootstrap_max_inflation_is_not_reproduced(shape):
    # The former test (bootstrap interval of the max interior excess, nominal 2.5 %) declares a hump
    # on these null curves far too often; the new test at the same nominal level does not.
    alpha, reps = 0.025, 1000
    x = _simulate("poisson", NULL_SHAPES[shape], 60, reps, seed=[5, len(shape)])
    old = bootstrap_max_hump_batch(x, confidence=1 - 2 * alpha, n_resamples=200, seed=1)["hump"].mean()
    new = hump_test_batch(x, alpha=alpha)["hump"].mean()
    assert old > _upper(alpha, reps)           # the scenario exposes the old failure ...
    assert new <= _upper(alpha, reps)          # ... which the new test does not repeat
    if shape == "plateau then fall":
        assert old > 0.10


def test_interval_covers_the_excess_at_its_stated_rate():
    alpha, reps = 0.025, REPS
    for levels in ([0.0, 0.5, 1.0, 1.0, 0.5, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]):
        x = _simulate("poisson", levels, 60, reps, seed=[9, int(levels[0])])
        mu = 0.5 + np.asarray(levels)
        theta = mu[1:-1].max() - max(mu[0], mu[-1])
        res = hump_test_batch(x, alpha=alpha)
        assert np.all(res["low"] <= res["high"])
        coverage = ((res["low"] <= theta) & (theta <= res["high"])).mean()
        assert coverage >= 1 - _upper(2 * alpha, reps)  # >= 1 - 2 alpha - 3 standard errors
        np.testing.assert_array_equal(res["low"] > 0, res["hump"])


# ---------------------------------------------------------------------------------------------
# The hump test on a table
# ---------------------------------------------------------------------------------------------

def test_hump_test_on_a_table_matches_the_batch_and_names_the_depths():
    depths = [1, 2, 4, 8, 16, 32]
    levels = [0.1, 0.4, 0.8, 0.6, 0.3, 0.1]
    x = _simulate("mixture", levels, 150, 1, seed=2)[0]
    table = pd.DataFrame({"L": np.repeat(depths, 150), "Q": x.ravel()}).sample(frac=1.0, random_state=1)
    h = hump_test(table, "L", "Q")
    b = hump_test_batch(x)
    assert h["p_value"] == pytest.approx(float(b["p_value"])) and h["hump"] == bool(b["hump"])
    assert h["low"] == pytest.approx(float(b["low"])) and h["high"] == pytest.approx(float(b["high"]))
    means = x.mean(axis=1)
    assert h["peak_x"] == depths[1 + int(np.argmax(means[1:-1]))]
    assert h["first"] == pytest.approx(means[0]) and h["last"] == pytest.approx(means[-1])
    assert h["excess"] == pytest.approx(means[1:-1].max() - max(means[0], means[-1]))
    d = h["depths"]
    assert list(d["x"]) == depths and d["p_holm"].iloc[[0, -1]].isna().all()
    np.testing.assert_allclose(d["p_holm"].iloc[1:-1], b["p_holm"])
    assert h["hump_x"] == [L for L, p in zip(d["x"], d["p_holm"]) if p <= h["alpha"]]
    assert h["alpha"] == 0.025


def test_hump_detected_and_not_invented():
    hump = hump_test(_table({1: 1.0, 2: 2.0, 4: 3.0, 8: 1.5, 16: 1.0}), "L", "Q")
    assert hump["hump"] and hump["peak_x"] == 4 and hump["low"] > 0 and 4 in hump["hump_x"]
    flat = hump_test(_table({1: 1.0, 2: 1.0, 4: 1.0, 8: 1.0, 16: 1.0}, seed=1), "L", "Q")
    assert not flat["hump"] and flat["low"] <= 0 and flat["hump_x"] == []
    rising = hump_test(_table({1: 1.0, 2: 1.5, 4: 2.0, 8: 2.5, 16: 3.0}, seed=2), "L", "Q")
    assert not rising["hump"] and rising["p_value"] > 0.5


def test_constant_groups_give_exact_answers():
    # no spread anywhere: an interior depth strictly above both ends is certain, a tie is not
    up = pd.DataFrame({"L": np.repeat([1, 2, 3], 5), "Q": np.repeat([0.0, 1.0, 0.0], 5)})
    tie = pd.DataFrame({"L": np.repeat([1, 2, 3], 5), "Q": np.repeat([1.0, 1.0, 0.0], 5)})
    assert hump_test(up, "L", "Q")["p_value"] == 0.0
    assert hump_test(tie, "L", "Q")["p_value"] == 1.0


def test_old_arguments_warn_and_are_ignored():
    t = _table({1: 1.0, 2: 2.0, 4: 1.0})
    with pytest.warns(FutureWarning, match="ignored"):
        old_style = hump_test(t, "L", "Q", n_resamples=100, seed=3)
    new_style = hump_test(t, "L", "Q")
    assert old_style["p_value"] == new_style["p_value"]


def test_bad_arguments():
    t = _table({1: 1.0, 2: 1.0})
    with pytest.raises(ValueError, match="column 'R'"):
        bootstrap_curve(t, "L", "R")
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_curve(t, "L", "Q", confidence=1.5)
    with pytest.raises(ValueError, match="at least 3 values"):
        hump_test(t, "L", "Q")
    with pytest.raises(TypeError, match="DataFrame"):
        hump_test([1, 2], "L", "Q")
    t3 = _table({1: 1.0, 2: 1.0, 3: 1.0}, n=10)
    with pytest.raises(ValueError, match="alpha"):
        hump_test(t3, "L", "Q", alpha=0.7)
    with pytest.raises(ValueError, match="at least 3 rows"):
        hump_test(t3.iloc[8:], "L", "Q")
    with pytest.raises(ValueError, match="finite"):
        hump_test(t3.assign(Q=t3["Q"].where(t3.index != 0)), "L", "Q")
    with pytest.raises(ValueError, match=r"\(\.\.\., K, n\)"):
        hump_test_batch(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="family"):
        simulate_depth_data("cauchy", [1.0], n=3, reps=1, seed=0)
    with pytest.raises(ValueError, match=r"\[0.7, 2.6\]"):
        simulate_depth_data("mixture", [0.5, 1.0], n=3, reps=1, seed=0)
    with pytest.raises(ValueError, match="64 distinct"):
        bootstrap_max_hump_batch(np.random.default_rng(0).normal(size=(3, 40)))


def test_simulated_data_have_the_stated_means_and_are_seeded():
    means = [0.8, 1.5, 2.4]
    x = simulate_depth_data("mixture", means, n=4000, reps=3, seed=1)
    assert x.shape == (3, 3, 4000) and set(np.unique(x)) <= {0.0, 1.0, 2.0, 4.0}
    np.testing.assert_allclose(x.mean(axis=(0, 2)), means, atol=0.05)
    np.testing.assert_array_equal(x, simulate_depth_data("mixture", means, n=4000, reps=3, seed=1))
    b = simulate_depth_data("binary", [0.1, 0.9], n=4000, reps=2, seed=2)
    assert set(np.unique(b)) <= {0.0, 1.0}
    np.testing.assert_allclose(b.mean(axis=(0, 2)), [0.1, 0.9], atol=0.02)


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


def test_proportion_test_holds_its_level_and_has_power():
    """Fisher's exact test: under equal proportions its rejection rate at 5 % stays at or below
    5 % (plus 3 Monte-Carlo standard errors), one- and two-sided; it detects 0.25 vs 0.05."""
    from fpkit.stats import proportion_test

    rng = np.random.default_rng(11)
    reps, n = 600, 80
    for p in (0.05, 0.2, 0.5):
        a, b = rng.binomial(n, p, reps), rng.binomial(n, p, reps)
        for alt in ("two-sided", "greater"):
            rate = np.mean([proportion_test(int(x), n, int(y), n, alternative=alt) <= 0.05 for x, y in zip(a, b)])
            assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps), (p, alt, rate)
    a, b = rng.binomial(n, 0.25, 200), rng.binomial(n, 0.05, 200)
    power = np.mean([proportion_test(int(x), n, int(y), n, alternative="greater") <= 0.05 for x, y in zip(a, b)])
    assert power > 0.9
    with pytest.raises(ValueError, match="successes_a must be an integer 0 <= successes_a <= 4"):
        proportion_test(5, 4, 1, 4)
    with pytest.raises(ValueError, match="alternative"):
        proportion_test(1, 4, 1, 4, alternative="bigger")


def test_proportion_curve_counts_and_wilson_bounds():
    from fpkit.stats import proportion_curve

    t = pd.DataFrame({"g": [1, 1, 1, 1, 2, 2], "hit": [1, 0, 1, 1, 0, 0]})
    c = proportion_curve(t, "g", "hit")
    assert c["g"].tolist() == [1, 2] and c["n"].tolist() == [4, 2]
    np.testing.assert_allclose(c["mean"], [0.75, 0.0])
    lo, hi = wilson_interval(3, 4)
    assert (c.loc[0, "low"], c.loc[0, "high"]) == pytest.approx((lo, hi))
    assert c.loc[1, "low"] == 0.0 and 0 < c.loc[1, "high"] < 1
    with pytest.raises(ValueError, match="0/1"):
        proportion_curve(t.assign(hit=[2, 0, 1, 1, 0, 0]), "g", "hit")


def test_hump_z_test_false_positive_rate_and_power():
    from fpkit.stats import hump_z_test

    rng = np.random.default_rng(3)
    x = np.arange(6)
    se = np.full(6, 0.1)
    # null at its least favourable point: a flat curve; the rejection rate must stay below alpha
    flat = [hump_z_test(x, 1.0 + se * rng.standard_normal(6), se, alpha=0.05)["hump"] for _ in range(4000)]
    assert np.mean(flat) <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 4000)
    # monotone curves never count as humps
    rising = [hump_z_test(x, 0.2 * x + se * rng.standard_normal(6), se)["hump"] for _ in range(500)]
    assert np.mean(rising) < 0.01
    # a clear hump is found
    true = np.array([1.0, 1.4, 1.8, 1.6, 1.3, 1.0])
    found = [hump_z_test(x, true + se * rng.standard_normal(6), se)["hump"] for _ in range(500)]
    assert np.mean(found) > 0.95
    with pytest.raises(ValueError, match="at least 3"):
        hump_z_test([0, 1], [1, 1], [0.1, 0.1])
    with pytest.raises(ValueError, match="se"):
        hump_z_test([0, 1, 2], [1, 1, 1], [0.1, 0.0, 0.1])


# --------------------------------------------------------------------------- paired sign test, Holm


def _null_pairs(rng, n):
    """Exchangeable pairs of counts with many ties (as Q of a network and of a control under the null)."""
    lam = rng.gamma(2.0, 2.0, size=n)
    return rng.poisson(lam), rng.poisson(lam)


def test_sign_test_false_positive_rate_is_at_most_the_level():
    from fpkit.stats import paired_sign_test

    rng = np.random.default_rng(11)
    reps, level = 3000, 0.05
    for n in (8, 25):
        rejections = sum(paired_sign_test(*_null_pairs(rng, n))["p_value"] <= level for _ in range(reps))
        # exact test: rate <= level (plus Monte Carlo error: 3 standard errors)
        assert rejections / reps <= level + 3 * np.sqrt(level * (1 - level) / reps)


def test_sign_test_detects_a_shift_and_counts_ties():
    from fpkit.stats import paired_sign_test

    rng = np.random.default_rng(12)
    x, y = _null_pairs(rng, 30)
    res = paired_sign_test(x + 15, y)
    assert res["p_value"] < 1e-3 and res["n_pairs"] == 30
    assert res["n_greater"] + res["n_less"] + res["n_ties"] == 30
    assert paired_sign_test(y, x + 15, alternative="less")["p_value"] < 1e-3
    tied = paired_sign_test([1, 2, 3], [1, 2, 3])
    assert tied["p_value"] == 1.0 and tied["n_ties"] == 3
    # 10 wins out of 10: p = 2^-10 one-sided
    assert paired_sign_test(np.arange(10) + 1, np.zeros(10))["p_value"] == pytest.approx(2.0 ** -10)


@pytest.mark.parametrize("x, y, match", [([1, 2], [1], "same length"), ([], [], "at least one"),
                                         ([np.nan], [1], "finite")])
def test_sign_test_bad_input(x, y, match):
    from fpkit.stats import paired_sign_test

    with pytest.raises(ValueError, match=match):
        paired_sign_test(x, y)
    with pytest.raises(ValueError, match="alternative"):
        paired_sign_test([1], [0], alternative="bigger")


def test_holm_adjustment_and_family_wise_error_rate():
    from fpkit.stats import holm_adjust as holm

    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5]), [0.5])
    rng = np.random.default_rng(13)
    reps = 4000
    fwer = np.mean([(holm(rng.random(3)) <= 0.05).any() for _ in range(reps)])
    assert fwer <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)
    with pytest.raises(ValueError, match="p_values"):
        holm([1.5])


# ----------------------------------------------------------------------- regression tests (issue 25)


@pytest.mark.parametrize("scale", [1e-200, 2.0**-1070, 1e-30, 1e30, 1e89])
def test_hump_test_is_scale_free(scale):
    """Data scaled by 1e-200 used to give p = 0 (their squared deviations underflowed to "no spread")
    where the unscaled data give p = 1. The p-values are now those of the unscaled data (to rounding:
    a scale that is not a power of two changes the last bits of the data) and the bounds scale along."""
    t = _table({1: 1.0, 2: 1.0, 4: 0.5}, n=40, seed=3)
    plain = hump_test(t, "L", "Q")
    scaled = hump_test(t.assign(Q=t["Q"] * scale), "L", "Q")
    assert plain["p_value"] > 0.5 and not plain["hump"]
    assert scaled["p_value"] == pytest.approx(plain["p_value"], rel=1e-9)
    for key in ("low", "high", "excess", "peak", "first", "last"):
        assert scaled[key] == pytest.approx(plain[key] * scale, rel=1e-9, abs=0)
    x = simulate_depth_data("poisson", [1.0, 1.5, 1.0], n=20, reps=3, seed=0)
    b, bs = hump_test_batch(x), hump_test_batch(x * scale)
    np.testing.assert_allclose(bs["p_value"], b["p_value"], rtol=1e-9)
    np.testing.assert_allclose(bs["low"], b["low"] * scale, rtol=1e-9)
    # a power-of-two scale changes nothing at all
    np.testing.assert_array_equal(hump_test_batch(x * 2.0**-600)["p_holm"], b["p_holm"])


def test_hump_test_names_unorderable_x_and_duplicate_columns():
    """A mixed int/str x column crashed inside NumPy's sort, duplicate column names inside pandas."""
    t = _table({1: 1.0, 2: 1.0, 4: 0.5}, n=5)
    mixed = t.assign(L=t["L"].astype(object).where(t["L"] != 2, "two"))
    with pytest.raises(TypeError, match=r"table column 'L' \(x\) must hold values of one orderable kind"):
        hump_test(mixed, "L", "Q")
    with pytest.raises(ValueError, match="column: table has 2 columns named 'Q'"):
        hump_test(pd.concat([t, t[["Q"]]], axis=1), "L", "Q")
    with pytest.raises(ValueError, match="x: table has 2 columns named 'L'"):
        hump_test(pd.concat([t, t[["L"]]], axis=1), "L", "Q")
    with pytest.raises(TypeError, match="by"):
        bootstrap_curve(mixed, "L", "Q")
