"""The census (find_fixed_points): its stages from iteration to multiple shooting, end to end against exact
answers, its invariants, determinism and bad input. The continuation stage: tests/test_census_pairing.py."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import LAST_BIT, REFERENCE_PHI, brute_force_roots_2d, last_bit, one_unit, reference_forward, roots_1d
from fpkit import CAUCHY_REGIME, Ensemble, NetworkConfig
from fpkit.engine import STATUS, fixed_point_index, find_fixed_points, iterate_map, uniform_starts


@pytest.mark.parametrize("noise_seed", LAST_BIT)
@pytest.mark.parametrize(
    "w,b,activation,n_roots",
    [(8.0, -4.0, "logistic", 3), (2.0, 0.0, "logistic", 1), (10.0, -6.0, "logistic", 3),
     (12.0, -1.0, "logistic", 1), (3.0, 0.0, "tanh", 3), (0.5, 0.2, "tanh", 1), (-6.0, 3.0, "logistic", 1)],
)
def test_one_unit_matches_exact_roots(w, b, activation, n_roots, noise_seed):
    """Every root of phi(w x + b) = x, by sign changes and brentq with an independent phi; the same with w
    and b changed in their last bit (the exact ties w x + b = 0 at x = 1/2 or 0 are then rounding-size)."""
    ens = one_unit(w, b, activation, noise_seed)
    w, b = float(ens.weights[0, 0, 0, 0]), float(ens.biases[0, 0, 0])
    exact = roots_1d(ens, phi=REFERENCE_PHI[activation])[:, 0]
    assert exact.size == n_roots
    res = find_fixed_points(ens, n_starts=64, seed=0, newton=True, newton_starts=64)
    found = np.sort(res.x[:, 0])
    np.testing.assert_allclose(found, exact, atol=1e-10)
    # stability of each root: |phi'(w x + b) w| < 1
    slope = np.abs(w * ens.activation.derivative(w * res.x[:, 0] + b))
    np.testing.assert_array_equal(res.stable, slope < 1)
    # iteration reaches exactly the stable ones
    assert set(np.flatnonzero(res.found_by == "iteration")) == set(np.flatnonzero(res.stable))


@pytest.mark.parametrize("noise_seed", LAST_BIT)
def test_two_cycle_is_detected_not_dropped(noise_seed):
    """x -> sigma(-8 x + 4): the fixed point 1/2 has slope -2, so orbits settle on a 2-cycle (also with the
    weights changed in the last bit: the fixed point is then 1/2 up to rounding, not exactly)."""
    ens = one_unit(-8.0, 4.0, noise_seed=noise_seed)
    res = find_fixed_points(ens, n_starts=50, seed=1, newton=True)
    starts = res.starts_frame()
    off_fp = np.abs(res.x0[:, 0] - 0.5) > 1e-3
    assert (starts["status"][off_fp] == "cycle").all()
    assert (starts["period"][off_fp] == 2).all()
    per = res.per_network()
    assert per.loc[0, "Q"] == 0
    assert per.loc[0, "cycle_starts"] == off_fp.sum()
    assert per.loc[0, "unstable_fixed_points"] == 1  # Newton finds the repelling x = 1/2
    assert res.x[0, 0] == pytest.approx(0.5, abs=1e-12)
    # the two cycle points: a = sigma(-8 b + 4), b = sigma(-8 a + 4)
    a = res.limit[off_fp][0, 0]
    b = 1 / (1 + np.exp(8 * a - 4))
    assert a == pytest.approx(1 / (1 + np.exp(8 * b - 4)), abs=1e-8)


def test_non_converged_orbits_are_counted():
    ens = one_unit(-8.0, 4.0)
    res = find_fixed_points(ens, n_starts=20, seed=1, max_period=1, max_iter=50)
    assert (res.per_network().loc[0, "not_converged_starts"]) >= 19


@pytest.mark.parametrize("seed, noise_seed", [(0, None), (1, None), (2, None), (3, None), (0, 1), (1, 2), (2, 3)])
def test_two_dimensional_counts_match_brute_force(seed, noise_seed):
    """Every root a brute-force grid search certifies is in the census, and the census's index sum is 1;
    also on weights changed in the last bit."""
    cfg = NetworkConfig(N=2, L=2, law="cauchy", scale=4.0, activation="tanh", bias_law=None)
    ens = last_bit(Ensemble.sample(cfg, 3, seed=seed), noise_seed)
    res = find_fixed_points(ens, n_starts=400, seed=seed, newton=True, newton_starts=400, newton_rounds=3)
    per = res.per_network()
    for e in range(3):
        brute = brute_force_roots_2d(ens, e)
        ours = res.x[res.fp_network == e]
        # every root the grid search finds is found, and ours are complete by the index theorem
        # (the grid search itself can miss a root whose cell the sign test does not flag)
        for r in brute:
            assert np.abs(ours - r).max(axis=1).min() < 1e-8, (e, r, ours)
        assert per.loc[e, "index_sum"] == 1, (e, ours, brute)
        assert len(ours) >= len(brute)
        assert np.all((res.fp_residual < 1e-12) | (res.fp_error < 1e-12))


@pytest.mark.parametrize("law,activation", [("gaussian", "logistic"), ("cauchy", "tanh"), ("cauchy", "logistic")])
def test_reported_fixed_points_are_fixed_points_of_an_independent_F(law, activation):
    cfg = NetworkConfig(N=8, L=3, law=law, scale=3.0, activation=activation)
    ens = Ensemble.sample(cfg, 6, seed=11)
    res = find_fixed_points(ens, n_starts=64, seed=1, newton=True, newton_starts=32)
    assert res.x.shape[0] >= 1
    for k in range(res.x.shape[0]):
        e = res.fp_network[k]
        fx = reference_forward(ens.weights[e:e + 1], ens.biases[e:e + 1], REFERENCE_PHI[activation],
                               res.x[k].reshape(1, 1, -1))[0, 0]
        assert np.abs(fx - res.x[k]).max() <= 1e-11
    assert np.all(res.fp_residual <= 1e-12)


def test_gaussian_small_scale_has_exactly_one_stable_fixed_point():
    ens = Ensemble.sample(NetworkConfig(N=10, L=5, scale=1.0), 8, seed=0)
    per = find_fixed_points(ens, n_starts=64, seed=0, newton=True).per_network()
    assert (per["Q"] == 1).all() and (per["fixed_points"] == 1).all()


def test_same_seed_same_result():
    ens = Ensemble.sample(NetworkConfig(N=6, L=2, law="cauchy", scale=4.0, activation="tanh"), 4, seed=3)
    a = find_fixed_points(ens, n_starts=32, seed=9, newton=True)
    b = find_fixed_points(ens, n_starts=32, seed=9, newton=True)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.attractor, b.attractor)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda e: find_fixed_points(e, np.zeros((2, 3, 4))), ValueError, "starts must have shape"),
        (lambda e: find_fixed_points(e, np.full((1, 3, 2), np.nan)), ValueError, "starts must be finite"),
        (lambda e: find_fixed_points(e, tol=-1.0), ValueError, "tol must be in"),
        (lambda e: find_fixed_points(e, max_iter=0), ValueError, "max_iter must be an integer >= 1"),
        (lambda e: find_fixed_points(e, merge_tol=0.0), ValueError, "merge_tol must be in"),
        (lambda e: find_fixed_points(e, n_starts=2.5), TypeError, "n_starts must be an integer"),
        (lambda e: find_fixed_points("net"), TypeError, "ensemble must be an Ensemble"),
        (lambda e: uniform_starts(e, 3, seed=0, low=1, high=0), ValueError, "high must be > low"),
    ],
)
def test_find_fixed_points_bad_input(call, exc, match):
    ens = Ensemble.sample(NetworkConfig(N=2, L=1), 1, seed=0)
    with pytest.raises(exc, match=match):
        call(ens)


nets = st.builds(
    lambda seed, law, act, L, scale: Ensemble.sample(
        NetworkConfig(N=3, L=L, law=law, scale=scale, activation=act), 2, seed=seed
    ),
    st.integers(0, 10_000),
    st.sampled_from(["gaussian", "cauchy"]),
    st.sampled_from(["logistic", "tanh"]),
    st.integers(1, 3),
    st.sampled_from([1.0, 4.0, 8.0]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ens=nets, seed=st.integers(0, 1000))
def test_census_invariants(ens, seed):
    res = find_fixed_points(ens, n_starts=24, seed=seed)
    conv = res.status == STATUS["converged"]
    # labels consistent with limits: every converged start's limit is its attractor
    assert np.all(res.attractor[conv] >= 0) and np.all(res.attractor[~conv] == -1)
    gap = np.abs(res.limit[conv] - res.x[res.attractor[conv]]).max(axis=1) if conv.any() else np.zeros(0)
    assert np.all(gap <= res.settings.merge_tol + 1e-8)
    assert np.array_equal(res.fp_network[res.attractor[conv]], res.start_network[conv])
    # stable iff spectral radius < 1, and unstable directions counted
    assert np.array_equal(res.stable, res.spectral_radius < 1)
    assert np.array_equal(res.n_unstable == 0, res.spectral_radius <= 1)
    # permutation of starts does not change the set of attractors
    starts = res.x0.reshape(ens.n_networks, res.n_starts, -1)
    perm = np.random.default_rng(seed).permutation(res.n_starts)
    res2 = find_fixed_points(ens, starts[:, perm], seed=seed)
    assert sorted(res.per_network()["Q"]) == sorted(res2.per_network()["Q"])
    for e in range(ens.n_networks):
        a = res.x[res.fp_network == e]
        b = res2.x[res2.fp_network == e]
        assert len(a) == len(b)
        for p in a:
            assert np.abs(b - p).max(axis=1).min() < 1e-8


def test_integer_starts_are_cast_not_truncated():
    """Defect 1: integer starts kept their dtype, so every limit was truncated (Q = 0)."""
    ens = one_unit(8.0, -4.0)  # attractors near 0.02 and 0.98, none at an integer
    starts = np.array([[[0], [1]]])
    res_int = find_fixed_points(ens, starts.astype(np.int64))
    res_float = find_fixed_points(ens, starts.astype(float))
    assert res_int.per_network()["Q"].tolist() == [2]
    np.testing.assert_array_equal(res_int.x, res_float.x)
    assert np.all((res_int.x > 0.01) & (res_int.x < 0.99))
    it = iterate_map(ens, np.array([[[1]]], dtype=np.int32))
    assert it.limit.dtype == np.float64 and 0.9 < float(it.limit[0, 0, 0]) < 0.99
    for bad in (np.zeros((1, 2, 1), dtype=complex), np.array([[["a"], ["b"]]])):
        with pytest.raises(TypeError, match="starts must be"):
            find_fixed_points(ens, bad)


@pytest.mark.parametrize("noise_seed", LAST_BIT)
def test_deep_network_whose_jacobian_overflows(noise_seed):
    """Defect 6: at L = 500 the Jacobian overflows and find_fixed_points raised LinAlgError.

    tanh without biases has the fixed point 0, where J = W_500 ... W_1 has norm ~ 10^470 for
    weights of scale 10: beyond float64. The census must still classify it (unstable, with an
    infinite spectral radius rather than a NaN), without warnings; also with the weights changed
    in their last bit (0 stays the exact fixed point, the product's rounding changes).
    """
    cfg = NetworkConfig(N=4, L=500, law="gaussian", scale=10.0, activation="tanh", bias_law=None)
    ens = last_bit(Ensemble.sample(cfg, 2, seed=0), noise_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as in a chapter (RuntimeWarning is an error there)
        res = find_fixed_points(ens, np.zeros((2, 3, 4)), max_iter=20)
        newton = find_fixed_points(ens, n_starts=4, max_iter=20, newton=True)
    assert res.x.shape == (2, 4) and np.all(res.x == 0)
    assert not res.stable.any() and np.all(np.isinf(res.spectral_radius)) and (res.n_unstable >= 1).all()
    assert not np.isnan(res.eigenvalues).any()
    assert res.per_network()["Q"].tolist() == [0, 0]
    assert not np.isnan(newton.per_network()["mean_iterations"].fillna(0)).any()


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


def test_census_is_deterministic():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=4, L=3), 10, seed=3)
    a = find_fixed_points(ens, n_starts=16, seed=7, newton=True, census=True, max_starts=48)
    b = find_fixed_points(ens, n_starts=16, seed=7, newton=True, census=True, max_starts=48)
    np.testing.assert_array_equal(a.x, b.x)
    import pandas as pd

    pd.testing.assert_frame_equal(a.per_network(), b.per_network())


def test_the_stages_follow_the_settings():
    """census_stages lists what the settings ask for, in the pipeline's order."""
    from fpkit.engine import EngineSettings
    from fpkit.engine.census import census_stages

    names = lambda **kw: [f.__name__ for f in census_stages(EngineSettings(**kw))]  # noqa: E731
    assert names() == ["iterate_first_batch", "classify_points"]
    assert names(max_starts=512, newton=True, census=True) == [
        "iterate_first_batch", "adaptive_starts", "newton_roots", "classify_points", "shooting_rounds",
        "continuation_arcs", "report_incomplete"]
    assert "continuation_arcs" not in names(census=True, census_continuation=False)


def test_a_stage_added_to_the_pipeline_sees_the_table_and_feeds_the_result(monkeypatch):
    """A stage is a function of the census state: one inserted after the Newton stage reads the table and
    enters a point through its public API; the result reports it (with its stage's name) like any other."""
    from fpkit.engine import census

    ens = one_unit(8.0, -4.0)  # attractors near 0.02 and 0.98, the repeller 1/2
    seen = []

    def midpoint_stage(state):
        seen.append(state.table.size)
        x = np.array([[0.5]])
        state.table.insert(x, np.array([0]), np.abs(state.ensemble.forward(x[None])[0] - x).max(axis=1),
                           state.settings.merge_tol, "midpoint")

    plain = census.census_stages
    monkeypatch.setattr(census, "census_stages", lambda s: plain(s)[:1] + [midpoint_stage] + plain(s)[1:])
    res = find_fixed_points(ens, n_starts=64, seed=0)
    assert seen == [2]
    assert list(res.found_by) == ["iteration", "iteration", "midpoint"]
    assert res.per_network().loc[0, "fixed_points"] == 3 and res.index_sum()[0] == 1
    assert not res.stable[2] and res.basin_count[2] == 0


def test_the_census_runs_its_linear_algebra_in_one_blas_thread(monkeypatch):
    """Every stage runs under fpkit.backend.single_threaded_blas (the forward kernel's policy): with BLAS
    set to two threads outside, the stages see one, and the setting is restored afterwards; the result
    is the same bits as with one thread outside."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fpkit.engine import census

    def blas_threads():
        return {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}

    seen = []
    plain = census.census_stages
    monkeypatch.setattr(census, "census_stages",
                        lambda s: [lambda state, f=f: (seen.append(blas_threads()), f(state))[1] for f in plain(s)])
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=4, L=3), 6, seed=1)
    options = dict(n_starts=16, seed=2, newton=True, census=True, census_rounds=1)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("this BLAS cannot be set to two threads")
        two = find_fixed_points(ens, **options)
        assert blas_threads() == {2}
    assert seen and all(s == {1} for s in seen)
    one = find_fixed_points(ens, **options)
    np.testing.assert_array_equal(two.x, one.x)
    np.testing.assert_array_equal(two.eigenvalues, one.eigenvalues)


def test_a_network_census_does_not_depend_on_the_other_networks():
    """Every random draw after the first batch comes from the network's own stream (RandomStreams): with one
    network replaced by another draw, every other network's census finds the same points (up to the last
    bits a differently packed batch can change). Measured on the previous single-stream census: 10 of 232
    other networks' lists changed (issue 25)."""
    cfg = CAUCHY_REGIME.replace(N=10, L=4)
    ens = Ensemble.sample(cfg, 30, seed=4)
    W, b = np.array(ens.weights), np.array(ens.biases)
    other = Ensemble.sample(cfg, 1, seed=11)
    W[0], b[0] = other.weights[0], other.biases[0]
    options = dict(n_starts=64, max_iter=2000, max_starts=256, census=True, census_starts=32, seed=7)
    first = find_fixed_points(ens, **options)
    second = find_fixed_points(Ensemble(W, b, ens.activation), **options)
    for e in range(1, 30):
        a, c = (np.sort(r.x[r.fp_network == e], axis=0) for r in (first, second))
        assert a.shape == c.shape and np.abs(a - c).max(initial=0.0) < 1e-9, e
    np.testing.assert_array_equal(first.per_network().n_starts_used[1:], second.per_network().n_starts_used[1:])
