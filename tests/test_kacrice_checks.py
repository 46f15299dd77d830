"""The book's Kac-Rice checks (fpkit.kacrice_checks): their doctests and the hump tests' family level."""

import doctest

import pandas as pd

import fpkit.kacrice_checks as checks


def test_doctests():
    result = doctest.testmod(checks)
    assert result.attempted > 0 and result.failed == 0


def test_hump_z_curves_skips_missing_curves_and_splits_the_level():
    t = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3, "L": [1, 2, 3] * 2, "m": [1.0, 1.5, 1.0] + [None] * 3,
                      "m_se": [0.1] * 6})
    out = checks.hump_z_curves(t, {"mean": "m"}, by=["g"], alpha=0.05)
    assert out["g"].tolist() == ["a"]
    both = checks.hump_z_curves(t.fillna(1.0), {"mean": "m"}, by=["g"], alpha=0.05)
    assert both.loc[0, "critical"] > out.loc[0, "critical"]  # two curves: Bonferroni over both
