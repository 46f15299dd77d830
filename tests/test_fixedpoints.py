import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize

from fpkit.engine import (
    iterate_map,
    STATUS,
    basin_fractions,
    find_fixed_points,
    grid_starts,
    merge_points,
    plane_starts,
    uniform_starts,
)
from fpkit.network import Ensemble, NetworkConfig

from test_network import REFERENCE_PHI, reference_forward


def one_unit(w, b, activation="logistic"):
    return Ensemble(np.array([[[[w]]]], dtype=float), np.array([[[b]]], dtype=float), activation)


def exact_roots_1d(w, b, phi, low, high):
    """All roots of phi(w x + b) - x on [low, high] by sign changes on a fine grid + bisection."""
    g = lambda x: phi(w * x + b) - x
    xs = np.linspace(low, high, 200_001)
    gs = g(xs)
    roots = [xs[i] for i in np.flatnonzero(gs == 0)]
    for i in np.flatnonzero(np.sign(gs[:-1]) * np.sign(gs[1:]) < 0):
        roots.append(optimize.brentq(g, xs[i], xs[i + 1], xtol=1e-15))
    return np.sort(np.array(roots))


@pytest.mark.parametrize(
    "w,b,activation,n_roots",
    [(8.0, -4.0, "logistic", 3), (2.0, 0.0, "logistic", 1), (10.0, -6.0, "logistic", 3),
     (12.0, -1.0, "logistic", 1), (3.0, 0.0, "tanh", 3), (0.5, 0.2, "tanh", 1), (-6.0, 3.0, "logistic", 1)],
)
def test_one_unit_matches_exact_roots(w, b, activation, n_roots):
    ens = one_unit(w, b, activation)
    phi = REFERENCE_PHI[activation]
    exact = exact_roots_1d(w, b, phi, *ens.domain)
    assert exact.size == n_roots
    res = find_fixed_points(ens, n_starts=64, seed=0, newton=True, newton_starts=64)
    found = np.sort(res.x[:, 0])
    np.testing.assert_allclose(found, exact, atol=1e-10)
    # stability of each root: |phi'(w x + b) w| < 1
    slope = np.abs(w * ens.activation.derivative(w * res.x[:, 0] + b))
    np.testing.assert_array_equal(res.stable, slope < 1)
    # iteration reaches exactly the stable ones
    assert set(np.flatnonzero(res.found_by == "iteration")) == set(np.flatnonzero(res.stable))


def test_two_cycle_is_detected_not_dropped():
    """x -> sigma(-8 x + 4): the fixed point 1/2 has slope -2, so orbits settle on a 2-cycle."""
    ens = one_unit(-8.0, 4.0)
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


def brute_force_roots_2d(ens, e, resolution=400):
    """Roots of G = F - x in the box for network e: sign-change cells of a fine grid, refined."""
    low, high = ens.domain
    pad = 0.01 * (high - low)  # roots can sit at the edge of the box (saturated units)
    ticks = np.linspace(low - pad, high + pad, resolution + 1)
    X, Y = np.meshgrid(ticks, ticks, indexing="ij")
    pts = np.stack([X, Y], -1).reshape(1, -1, 2)
    sub = ens.subset(slice(e, e + 1))
    G = (sub.forward(pts) - pts).reshape(resolution + 1, resolution + 1, 2)
    s0, s1 = np.sign(G[..., 0]), np.sign(G[..., 1])

    def changes(s):
        c = np.stack([s[:-1, :-1], s[1:, :-1], s[:-1, 1:], s[1:, 1:]])
        return (c.max(0) >= 0) & (c.min(0) <= 0)

    cells = np.argwhere(changes(s0) & changes(s1))
    roots = []
    for i, j in cells:
        x0 = np.array([(ticks[i] + ticks[i + 1]) / 2, (ticks[j] + ticks[j + 1]) / 2])
        # the root finder may probe non-finite points; F refuses them, the residual is then NaN
        g = lambda x: sub.forward(x.reshape(1, 1, 2))[0, 0] - x if np.all(np.isfinite(x)) else np.full(2, np.nan)
        sol = optimize.root(g, x0, tol=1e-14)
        if sol.success and np.abs(sub.forward(sol.x.reshape(1, 1, 2))[0, 0] - sol.x).max() < 1e-10:
            if all(np.abs(sol.x - r).max() > 1e-6 for r in roots):
                roots.append(sol.x)
    return np.array(roots)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_two_dimensional_counts_match_brute_force(seed):
    cfg = NetworkConfig(N=2, L=2, law="cauchy", scale=4.0, activation="tanh", bias_law=None)
    ens = Ensemble.sample(cfg, 3, seed=seed)
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
        assert np.all(res.fp_residual[res.fp_network == e] < 1e-12)


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


def test_merge_points_tolerance():
    pts = np.array([[0.0, 0.0], [0.5e-6, 0.0], [2e-6, 0.0], [1.0, 1.0]])
    res = np.array([1e-9, 1e-13, 1e-12, 1e-10])
    reps, labels = merge_points(pts, res, tol=1e-6)
    # point 1 (smallest residual) represents 0 (within 1e-6); 2 is 1.5e-6 from 1: separate
    assert reps.tolist() == [1, 2, 3]
    assert labels.tolist() == [0, 0, 1, 2]
    reps, labels = merge_points(pts, res, tol=1e-5)
    assert reps.tolist() == [1, 3] and labels.tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="merge_tol"):
        merge_points(pts, res, tol=-1.0)


def test_same_seed_same_result():
    ens = Ensemble.sample(NetworkConfig(N=6, L=2, law="cauchy", scale=4.0, activation="tanh"), 4, seed=3)
    a = find_fixed_points(ens, n_starts=32, seed=9, newton=True)
    b = find_fixed_points(ens, n_starts=32, seed=9, newton=True)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.attractor, b.attractor)


def test_starts_grid_and_plane():
    ens = Ensemble.sample(NetworkConfig(N=2, L=1), 3, seed=0)
    g = grid_starts(ens, 4)
    assert g.shape == (3, 16, 2) and g.min() > 0 and g.max() < 1
    u = uniform_starts(ens, 5, seed=0, low=-2, high=2)
    assert u.shape == (3, 5, 2) and u.min() >= -2 and u.max() <= 2
    p = plane_starts(np.zeros((3, 2)), np.tile([1.0, 0], (3, 1)), np.tile([0, 1.0], (3, 1)), resolution=5)
    assert p.shape == (3, 25, 2)
    np.testing.assert_allclose(p[0, :5, 0], np.linspace(-1, 1, 5))  # a varies fastest
    with pytest.raises(ValueError, match="per_axis"):
        grid_starts(Ensemble.sample(NetworkConfig(N=30, L=1), 1, seed=0), 3)


def test_basin_fractions_with_confidence_intervals():
    ens = one_unit(8.0, -4.0)  # two attractors, symmetric about 1/2
    res = find_fixed_points(ens, n_starts=400, seed=0)
    frac = basin_fractions(res)
    assert frac["fraction"].sum() == pytest.approx(1.0)
    attr = frac[frac["attractor"] >= 0]
    assert len(attr) == 2
    assert ((attr["ci_low"] < 0.5) & (attr["ci_high"] > 0.5)).all()


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
def test_engine_bad_input(call, exc, match):
    ens = Ensemble.sample(NetworkConfig(N=2, L=1), 1, seed=0)
    with pytest.raises(exc, match=match):
        call(ens)


# ------------------------------------------------------------------ property tests

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
def test_engine_invariants(ens, seed):
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


def test_attractors_near_detects_a_basin_boundary():
    """x -> sigma(8x - 4): the repelling 1/2 separates the two basins; the attractors do not."""
    from fpkit.engine import attractors_near

    ens = one_unit(8.0, -4.0)
    res = find_fixed_points(ens, n_starts=64, seed=0, newton=True)
    counts = attractors_near(ens, res.x, res.fp_network, radius=1e-3, n_probe=16, seed=0)
    assert counts[~res.stable].tolist() == [2]
    assert counts[res.stable].tolist() == [1, 1]


# ------------------------------------------------------------------ issue 14 regressions

import warnings  # noqa: E402

from fpkit.engine import EngineSettings, basin_map, newton_search  # noqa: E402


def _cauchy_ens(E=3, N=3, L=2, seed=4):
    return Ensemble.sample(NetworkConfig(N=N, L=L, law="cauchy", scale=4.0, activation="tanh"), E, seed=seed)


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


def test_basin_map_where_nothing_converges():
    """Defect 2: basin_map raised IndexError when no start of the network converged."""
    ens = _cauchy_ens()
    labels, res = basin_map(ens, 1, np.zeros(3), np.eye(3)[0], np.eye(3)[1], resolution=4, max_iter=1)
    assert labels.shape == (4, 4) and np.all(labels == -1)
    assert res.x.shape == (0, 3) and res.per_network()["Q"].tolist() == [0]


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"network": "a"}, TypeError, "network must be an integer"),
    ({"network": 3}, ValueError, r"network must be in \[0, 2\]"),
    ({"network": 1.0}, TypeError, "network must be an integer"),
    ({"origin": np.zeros(2)}, ValueError, "origin must be a finite vector of length N = 3"),
    ({"u": [np.nan, 0, 0]}, ValueError, "u must be a finite vector"),
    ({"v_dir": "abc"}, TypeError, "v_dir must be a numeric array"),
    ({"resolution": 1}, ValueError, "resolution must be an integer >= 2"),
    ({"extent": (0, 1, 0)}, ValueError, "extent must be"),
    ({"reference": np.zeros((2, 2))}, ValueError, r"reference must have shape \(K, N = 3\)"),
    ({"newton": "no"}, TypeError, "newton must be True or False"),
    ({"settings": {"n_starts": 4}}, TypeError, "settings must be an EngineSettings"),
])
def test_basin_map_names_its_bad_arguments(kwargs, exc, match):
    """Defect 6: basin_map did not validate its arguments; a bad network blamed 'weights'."""
    args = dict(network=0, origin=np.zeros(3), u=np.eye(3)[0], v_dir=np.eye(3)[1], resolution=3)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        basin_map(_cauchy_ens(), args.pop("network"), args.pop("origin"), args.pop("u"), args.pop("v_dir"),
                  max_iter=5, **args)


def test_grid_seeding_refuses_more_starts_than_asked():
    """Defect 5: seeding='grid' silently replaced n_starts by >= 2**N starts (N = 19: 524,288)."""
    ens = Ensemble.sample(NetworkConfig(N=19, L=1), 1, seed=0)
    with pytest.raises(ValueError, match=r"seeding='grid' at N = 19 gives 2\*\*19 = 524288 starts"):
        find_fixed_points(ens, seeding="grid", n_starts=64)
    with pytest.raises(ValueError, match="seeding='grid'"):
        EngineSettings(seeding="grid", n_starts=64).starts_per_network(19)
    assert EngineSettings(seeding="grid", n_starts=16).starts_per_network(2) == 16  # honoured where it can be


@pytest.mark.parametrize("value", ["no", "false", "False", 0, 1, None, "yes"])
def test_newton_must_be_a_real_boolean(value):
    """Defect 6: newton='no' or a quoted 'false' ran Newton (truthy strings)."""
    with pytest.raises(TypeError, match="newton must be True or False"):
        find_fixed_points(_cauchy_ens(), n_starts=4, newton=value)
    with pytest.raises(TypeError, match="census must be True or False"):
        EngineSettings(census=value)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"tol": 0.0}, ValueError, "tol must be in"),
    ({"max_iter": 2.5}, TypeError, "max_iter must be an integer"),
    ({"deflation_power": -1.0}, ValueError, "deflation_power must be in"),
    ({"deflation_shift": float("nan")}, ValueError, "deflation_shift must be finite"),
    ({"max_halvings": -1}, ValueError, "max_halvings must be an integer >= 0"),
    ({"patience": 0}, ValueError, "patience must be an integer >= 1"),
    ({"known": np.zeros((3, 2, 2))}, ValueError, r"known must have shape \(E, R, N\)"),
    ({"known": "abc"}, TypeError, "known must be a numeric array"),
    ({"known": np.zeros((3, 1, 3), dtype=complex)}, TypeError, "known must be real"),
])
def test_newton_search_validates_its_arguments(kwargs, exc, match):
    """Defect 6: newton_search did not validate its arguments."""
    ens = _cauchy_ens()
    with pytest.raises(exc, match=match):
        newton_search(ens, uniform_starts(ens, 2, seed=0), **kwargs)


def test_deep_network_whose_jacobian_overflows():
    """Defect 6: at L = 500 the Jacobian overflows and find_fixed_points raised LinAlgError.

    tanh without biases has the fixed point 0, where J = W_500 ... W_1 has norm ~ 10^470 for
    weights of scale 10: beyond float64. The census must still classify it (unstable, with an
    infinite spectral radius rather than a NaN), without warnings.
    """
    cfg = NetworkConfig(N=4, L=500, law="gaussian", scale=10.0, activation="tanh", bias_law=None)
    ens = Ensemble.sample(cfg, 2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as in a chapter (RuntimeWarning is an error there)
        res = find_fixed_points(ens, np.zeros((2, 3, 4)), max_iter=20)
        newton = find_fixed_points(ens, n_starts=4, max_iter=20, newton=True)
    assert res.x.shape == (2, 4) and np.all(res.x == 0)
    assert not res.stable.any() and np.all(np.isinf(res.spectral_radius)) and (res.n_unstable >= 1).all()
    assert not np.isnan(res.eigenvalues).any()
    assert res.per_network()["Q"].tolist() == [0, 0]
    assert not np.isnan(newton.per_network()["mean_iterations"].fillna(0)).any()
