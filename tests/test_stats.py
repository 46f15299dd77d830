import math

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
