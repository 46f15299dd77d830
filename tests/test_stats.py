import numpy as np
import pandas as pd
import pytest

from fpkit.stats import bootstrap_curve, hump_test


def _table(means, n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.concat([pd.DataFrame({"L": L, "Q": rng.poisson(m, n)}) for L, m in means.items()],
                     ignore_index=True)


def test_bootstrap_interval_covers_the_true_mean_at_about_the_stated_rate():
    hits = 0
    for rep in range(60):
        t = _table({1: 2.0}, n=100, seed=rep)
        c = bootstrap_curve(t, "L", "Q", n_resamples=500, seed=rep).iloc[0]
        assert c["low"] <= c["mean"] <= c["high"] and c["n"] == 100
        hits += c["low"] <= 2.0 <= c["high"]
    assert 0.85 <= hits / 60 <= 1.0  # nominal 95 %


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
    from fpkit.stats import holm

    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5]), [0.5])
    rng = np.random.default_rng(13)
    reps = 4000
    fwer = np.mean([(holm(rng.random(3)) <= 0.05).any() for _ in range(reps)])
    assert fwer <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)
    with pytest.raises(ValueError, match="p_values"):
        holm([1.5])
