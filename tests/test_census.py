"""The census: settings, adaptive starts, multiple shooting, the index check, completeness estimates."""

import numpy as np
import pytest
from scipy import optimize

from fpkit import CAUCHY_REGIME, Ensemble, EngineSettings, find_fixed_points
from fpkit.engine import chao1_unseen, fixed_point_index, shooting_search


def _exact_roots_chain(ws, bs, phi, grid=400_001):
    """All roots of x = F(x) for a width-1 network (layers w_l x + b_l), by sign changes + brentq."""
    def F(x):
        for w, b in zip(ws, bs):
            x = phi(w * x + b)
        return x
    xs = np.linspace(-1 + 1e-12, 1 - 1e-12, grid)
    g = F(xs) - xs
    roots = [optimize.brentq(lambda t: F(t) - t, xs[i], xs[i + 1], xtol=1e-15)
             for i in np.flatnonzero(np.sign(g[:-1]) * np.sign(g[1:]) < 0)]
    return np.array(roots)


@pytest.mark.parametrize("seed", range(6))
def test_shooting_finds_every_root_of_width_one_chains(seed):
    """Width 1, depth 3, tanh: the multiple-shooting search alone, from random layer states,
    reaches every root of an exhaustive sign-change search whose slope |F'| is below 1e3, and
    nothing else. (Steeper roots can have Newton basins too small for 200 random starts: seed 4
    has one with slope 6e4 that it misses; the census then reports an index sum other than 1.)"""
    rng = np.random.default_rng(seed)
    L = 3
    ws, bs = rng.standard_cauchy(L) * 3, rng.standard_cauchy(L) * 0.5
    ens = Ensemble(ws.reshape(1, L, 1, 1), bs.reshape(1, L, 1), "tanh")
    exact = _exact_roots_chain(ws, bs, np.tanh)
    x, r = shooting_search(ens, rng.uniform(-1, 1, (1, 200, L, 1)), patience=None)
    found = np.unique(np.round(x[0, r[0] <= 1e-12, 0], 9))

    def slope(x0):  # dF/dx along the orbit of x0
        d = 1.0
        for w, b in zip(ws, bs):
            z = w * x0 + b
            d *= w * (1 - np.tanh(z) ** 2)
            x0 = np.tanh(z)
        return abs(d)

    for root in exact:
        if slope(root) < 1e3:
            assert np.abs(found - root).min() < 1e-7, (root, slope(root), found)
    for f in found:  # roots closer to +-1 than the grid resolves are checked directly
        near_edge = abs(f) > 1 - 1e-9 and abs(ens.forward(np.full((1, 1, 1), f))[0, 0, 0] - f) <= 1e-12
        assert near_edge or (exact.size and np.abs(exact - f).min() < 1e-7), (f, exact)


def test_census_completes_small_cauchy_networks_and_reports_it():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=3, L=4), 40, seed=2)
    res = find_fixed_points(ens, n_starts=32, seed=1, census=True, census_rounds=6)
    per = res.per_network()
    # the index check is what per_network says it is
    idx = fixed_point_index(res.eigenvalues)
    np.testing.assert_array_equal(per["index_sum"], np.bincount(res.fp_network, weights=idx, minlength=40))
    assert per["index_complete"].mean() >= 0.9
    # every point is a fixed point (residual, or for steep points the Newton correction)
    assert np.all((res.fp_residual <= 1e-12) | (res.fp_error <= 1e-12))
    # and more are found than by iteration alone
    plain = find_fixed_points(ens, n_starts=32, seed=1).per_network()
    assert per["fixed_points"].sum() > plain["fixed_points"].sum()
    assert (per["fixed_points"] >= plain["fixed_points"]).all()
    assert np.all(per["fixed_points"][per["index_complete"]] % 2 == 1)  # Q_all = 1 + 2 #(index -1)


def test_a_steep_root_the_search_misses_is_reported_as_missing():
    """x = tanh(1e8 (x - 0.3)): roots near -1, 0.3 (slope 1e8, unstable) and 1. If the census
    misses the steep one its index sum is 2, and per_network says the list is incomplete."""
    w = 1e8
    ens = Ensemble(np.array([[[[w]]]]), np.array([[[-0.3 * w]]]), "tanh")
    res = find_fixed_points(ens, n_starts=32, seed=0, newton=True, census=True, census_rounds=2)
    per = res.per_network()
    steep_found = np.any(np.abs(res.x[:, 0] - 0.3) < 1e-6)
    assert per.loc[0, "index_complete"] == steep_found
    assert per.loc[0, "fixed_points"] == (3 if steep_found else 2)


def test_adaptive_starts_respect_the_cap_and_the_good_turing_target():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=6, L=4), 30, seed=5)
    res = find_fixed_points(ens, n_starts=16, max_starts=96, unseen_target=0.01, seed=2)
    per = res.per_network()
    used = per["n_starts_used"].to_numpy()
    assert np.all(used % 16 == 0) and used.min() >= 16 and used.max() <= 96
    # a network stops early only once its Good-Turing unseen mass is at most the target
    assert np.all((per["unseen_mass"] <= 0.01) | (used + 16 > 96))
    # every start is accounted for, and basin counts add up to the converged starts
    np.testing.assert_array_equal(per["converged_starts"] + per["cycle_starts"] + per["not_converged_starts"], used)
    np.testing.assert_array_equal(np.bincount(res.fp_network, weights=res.basin_count, minlength=30),
                                  per["converged_starts"])
    # more starts never lose an attractor found by the first batch
    first = find_fixed_points(ens, n_starts=16, seed=2).per_network()
    assert (per["Q"] >= first["Q"]).all()


def test_chao1_unseen_values():
    assert chao1_unseen([1, 1, 1, 2]) == pytest.approx(3 * 2 / (2 * 2))
    assert chao1_unseen([3, 2, 5]) == 0.0
    assert chao1_unseen([]) == 0.0
    assert chao1_unseen([1, 1, 0, 0]) == pytest.approx(1.0)  # f1 = 2, f2 = 0


def test_census_is_deterministic():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=4, L=3), 10, seed=3)
    a = find_fixed_points(ens, n_starts=16, seed=7, newton=True, census=True, max_starts=48)
    b = find_fixed_points(ens, n_starts=16, seed=7, newton=True, census=True, max_starts=48)
    np.testing.assert_array_equal(a.x, b.x)
    import pandas as pd

    pd.testing.assert_frame_equal(a.per_network(), b.per_network())


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(newton="no"), TypeError, "newton must be True or False"),
    (dict(census="false"), TypeError, "census must be True or False"),
    (dict(n_starts=0), ValueError, "n_starts must be an integer >= 1"),
    (dict(max_starts=8, n_starts=16), ValueError, "max_starts must be >= n_starts"),
    (dict(unseen_target=0.0), ValueError, "unseen_target must be in"),
    (dict(merge_tol=1e-13), ValueError, "merge_tol must be > polish_tol"),
    (dict(seeding="sobol"), ValueError, "seeding must be one of"),
    (dict(census_min_rounds=9, census_rounds=8), ValueError, "census_min_rounds must be <="),
    (dict(tol=float("nan")), ValueError, "tol must be finite"),
])
def test_engine_settings_refuse_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        EngineSettings(**kwargs)


def test_engine_settings_from_mapping_and_grid_refusal():
    s = EngineSettings.from_mapping({"newton": True, "max_iter": 10})
    assert s.newton and s.max_iter == 10 and hash(s) == hash(EngineSettings(newton=True, max_iter=10))
    with pytest.raises(ValueError, match="unknown option"):
        EngineSettings.from_mapping({"newtn": True})
    with pytest.raises(TypeError, match="unknown engine option"):
        EngineSettings().replace(max_iters=3)
    # a grid at N = 19 would need 2**19 starts: refused, naming the sizes
    with pytest.raises(ValueError, match="2 \\* n_starts"):
        EngineSettings(seeding="grid", n_starts=256).grid_per_axis(19)
    assert EngineSettings(seeding="grid", n_starts=256).starts_per_network(2) == 256
