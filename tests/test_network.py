import numpy as np
import pytest

from fpkit.activations import ACTIVATIONS, SIGMOID_ACTIVATIONS
from fpkit.activations import get_activation
from fpkit.network import Ensemble, NetworkConfig, lipschitz_bound

from conftest import REFERENCE_PHI, reference_forward


@pytest.mark.parametrize("activation", ["logistic", "tanh", "algebraic"])
def test_forward_matches_reference_loop(activation):
    cfg = NetworkConfig(N=5, L=3, law="gaussian", scale=2.0, activation=activation)
    ens = Ensemble.sample(cfg, 4, seed=0)
    x = np.random.default_rng(1).uniform(-1, 1, (4, 7, 5))
    expected = reference_forward(ens.weights, ens.biases, REFERENCE_PHI[activation], x)
    np.testing.assert_allclose(ens.forward(x), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", SIGMOID_ACTIVATIONS)
def test_jacobian_matches_finite_differences(activation):
    cfg = NetworkConfig(N=4, L=3, law="cauchy", scale=1.0, activation=activation)
    ens = Ensemble.sample(cfg, 3, seed=2)
    x = np.random.default_rng(3).uniform(-0.5, 0.5, (3, 2, 4))
    jac = ens.jacobian(x)
    h = 1e-6
    for j in range(4):
        dx = np.zeros(4)
        dx[j] = h
        fd = (ens.forward(x + dx) - ens.forward(x - dx)) / (2 * h)
        np.testing.assert_allclose(jac[..., :, j], fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("activation", SIGMOID_ACTIVATIONS)
def test_activations_are_stable_at_huge_inputs(activation):
    phi = get_activation(activation)
    z = np.array([-1e308, -1e200, -800.0, 0.0, 800.0, 1e200, 1e308])
    y, d = phi(z), phi.derivative(z)  # RuntimeWarnings are errors in this suite
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(d))
    assert np.all((y >= phi.low) & (y <= phi.high))
    assert y[0] == pytest.approx(phi.low) and y[-1] == pytest.approx(phi.high)
    assert np.all(d >= 0)


def test_heavy_tailed_weights_give_no_nan_or_warning():
    cfg = NetworkConfig(N=50, L=6, law="cauchy", scale=1000.0, convention="absolute", activation="logistic")
    ens = Ensemble.sample(cfg, 3, seed=5)
    x = np.random.default_rng(0).random((3, 10, 50))
    fx, jac = ens.forward_with_jacobian(x)
    assert np.all(np.isfinite(fx)) and np.all(np.isfinite(jac))


def test_same_seed_same_networks():
    cfg = NetworkConfig(N=3, L=2, law="cauchy")
    a, b = Ensemble.sample(cfg, 2, seed=4), Ensemble.sample(cfg, 2, seed=4)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.biases, b.biases)


def test_bias_options():
    assert np.all(Ensemble.sample(NetworkConfig(N=3, L=2, bias_law=None), 2, seed=0).biases == 0)
    ens = Ensemble.sample(NetworkConfig(N=3, L=2, law="cauchy", bias_law="gaussian", bias_scale=0.1), 2, seed=0)
    assert 0 < np.abs(ens.biases).max() < 1.0


def test_contraction_bound_is_a_bound():
    """The Lipschitz bound dominates |F(x) - F(y)| / |x - y| on random pairs."""
    ens = Ensemble.sample(NetworkConfig(N=6, L=3, scale=1.0), 5, seed=1)
    rng = np.random.default_rng(2)
    x, y = rng.random((5, 50, 6)), rng.random((5, 50, 6))
    ratio = np.linalg.norm(ens.forward(x) - ens.forward(y), axis=-1) / np.linalg.norm(x - y, axis=-1)
    assert np.all(ratio.max(axis=1) <= lipschitz_bound(ens) * (1 + 1e-12))


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: NetworkConfig(N=3, L=0), ValueError, "L must be an integer >= 1"),
        (lambda: NetworkConfig(N=0, L=1), ValueError, "N must be an integer >= 1"),
        (lambda: NetworkConfig(N=3, L=1, activation="relu"), ValueError, "activation must be a sigmoid-type activation"),
        (lambda: NetworkConfig(N=3, L=1, bias_law="uniform"), ValueError, "bias_law must be one of"),
        (lambda: NetworkConfig(N=3, L=1, scale=-1.0), ValueError, "scale must be in"),
        (lambda: NetworkConfig(N=2.5, L=1), TypeError, "N must be an integer"),
        (lambda: Ensemble(np.zeros((2, 1, 3, 4))), ValueError, r"weights must have shape \(E, L, N, N\)"),
        (lambda: Ensemble(np.full((1, 1, 2, 2), np.nan)), ValueError, "weights must be finite"),
        (lambda: Ensemble(np.zeros((1, 1, 2, 2)), np.zeros((1, 2, 2))), ValueError, "biases must have shape"),
        (lambda: Ensemble(np.zeros((1, 0, 2, 2))), ValueError, "E, L, N >= 1"),
        (lambda: Ensemble(np.zeros((1, 1, 2, 2))).forward(np.zeros((1, 3, 3))), ValueError, r"x must have shape"),
        (lambda: Ensemble.sample({"N": 2}, 1, seed=0), TypeError, "config must be a NetworkConfig"),
    ],
)
def test_bad_input_is_named(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_registry_activation_is_finite_and_differentiable(name):
    from fpkit.activations import get_activation
    """Each registry entry: finite values and derivatives up to |z| = 1e300 (no warnings), the
    derivative matches central differences, and the declared range and sup |phi'| hold."""
    phi = get_activation(name)
    z = np.array([-1e300, -800.0, -3.0, -0.5, 0.5, 3.0, 800.0, 1e300])
    if name == "exp":
        z = z[z < 700]
    assert np.all(np.isfinite(phi.value(z))) and np.all(np.isfinite(phi.derivative(z)))
    grid = np.linspace(-6, 6, 2401)
    grid = grid[np.abs(grid - np.array(phi.kinks or [99.0])[:, None]).min(axis=0) > 1e-3]
    h = 1e-6
    fd = (phi.value(grid + h) - phi.value(grid - h)) / (2 * h)
    np.testing.assert_allclose(phi.derivative(grid), fd, rtol=1e-6, atol=1e-7)
    y = phi.value(grid)
    assert np.all(y >= phi.low - 1e-12) and np.all(y <= phi.high + 1e-12)
    assert np.abs(phi.derivative(grid)).max() <= phi.sup_derivative * (1 + 1e-9)
    if phi.odd:
        np.testing.assert_allclose(phi.value(-grid), -phi.value(grid), atol=1e-15)


def test_activation_names_are_unique_and_old_aliases_are_refused():
    from fpkit.activations import get_activation
    with pytest.raises(ValueError, match="called 'logistic'"):
        get_activation("sigmoid")
    import math
    import scipy.special as sp
    assert get_activation("erf").value(np.array([0.7]))[0] == pytest.approx(sp.erf(0.7))
    assert get_activation("erf").sup_derivative == pytest.approx(2 / math.sqrt(math.pi))


@pytest.mark.parametrize("name", SIGMOID_ACTIVATIONS)
def test_sigmoid_activations_invert(name):
    from fpkit.activations import get_activation

    phi = get_activation(name)
    z = np.linspace(-3, 3, 101)  # inside the range where phi(z) is not rounded to its bounds
    np.testing.assert_allclose(phi.inverse(phi.value(z)), z, rtol=1e-8, atol=1e-9)
    with pytest.raises(ValueError, match="no inverse"):
        get_activation("relu").inverse(np.array([0.5]))


# ------------------------------------------------------------------ issue 14 regressions

import math  # noqa: E402
import warnings  # noqa: E402

from fpkit.network import log_lipschitz_bound  # noqa: E402


def test_lipschitz_bound_beyond_float64_is_a_clear_error():
    """Defect 6: lipschitz_bound at L = 200 returned inf with only a warning."""
    ens = Ensemble.sample(NetworkConfig(N=3, L=200, law="cauchy", scale=10.0, activation="tanh"), 2, seed=0)
    with pytest.raises(ValueError, match="exceeds the float64 range .* use log_lipschitz_bound"):
        lipschitz_bound(ens)
    logs = log_lipschitz_bound(ens)
    assert np.all(np.isfinite(logs)) and logs.max() > math.log(np.finfo(float).max)


def test_overflowing_jacobian_is_inf_never_nan_and_scaled_form_is_exact():
    cfg = NetworkConfig(N=4, L=500, law="gaussian", scale=10.0, activation="tanh", bias_law=None)
    ens = Ensemble.sample(cfg, 2, seed=0)
    x = np.zeros((2, 1, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jac = ens.jacobian(x)
        _, unit, exponent = ens.forward_with_scaled_jacobian(x)
        eig = ens.jacobian_eigenvalues(x)
    assert not np.isnan(jac).any() and np.isinf(jac).any()
    assert np.all(np.abs(unit) < 1) and np.all(exponent > 1024)  # J ~ 2^exponent: beyond float64
    assert not np.isnan(eig).any() and np.all(np.isinf(np.abs(eig).max(axis=-1)))
    # where J is finite, the scaled form is J exactly (powers of 2) and the eigenvalues agree
    small = Ensemble.sample(cfg.replace(L=40, scale=3.0), 2, seed=0)
    x = np.random.default_rng(0).uniform(-0.01, 0.01, (2, 5, 4))
    _, unit, exponent = small.forward_with_scaled_jacobian(x)
    np.testing.assert_array_equal(np.ldexp(unit, exponent[..., None, None]), small.jacobian(x))
    np.testing.assert_array_equal(small.jacobian_eigenvalues(x), np.linalg.eigvals(small.jacobian(x)))


@pytest.mark.parametrize("make, exc, match", [
    (lambda e: lipschitz_bound("net"), TypeError, "ensemble must be an Ensemble"),
    (lambda e: e.subset(5), ValueError, r"index must be in \[0, 1\]"),
    (lambda e: e.subset("a"), TypeError, "index must be network indices"),
    (lambda e: e.forward(np.zeros((2, 1, 3)), networks=[0, 7]), ValueError, "networks must hold network indices"),
    (lambda e: e.forward(np.zeros((2, 1, 3)), networks=[0]), ValueError, "selected by networks="),
    (lambda e: e.forward(np.full((2, 1, 3), 1.5e308)), ValueError, "x is too large"),
    (lambda e: Ensemble(np.full((1, 1, 3, 3), 1e307)), ValueError, "weights are too large"),
    (lambda e: Ensemble(np.zeros((1, 1, 2, 2)), config={"N": 2}), TypeError, "config must be a NetworkConfig"),
    (lambda e: Ensemble.sample(NetworkConfig(N=3, L=1, law="cauchy", scale=1e306, convention="absolute"), 50,
                               seed=0), ValueError, r"scale=1e\+306 is too large"),
])
def test_network_bad_arguments_are_named(make, exc, match):
    ens = Ensemble.sample(NetworkConfig(N=3, L=2, activation="tanh"), 2, seed=0)
    with pytest.raises(exc, match=match):
        make(ens)


def test_lazy_subset_takes_its_networks_weights_even_when_the_index_changes_later():
    """A lazy subset's W, W^T and float32 copies are taken from the ensemble on first use; they
    are those of the networks selected when the subset was made."""
    ens = Ensemble.sample(NetworkConfig(N=3, L=2, law="cauchy"), 6, seed=0)
    idx = np.array([4, 1])
    sub = ens.subset(idx, lazy=True)
    idx[:] = 0
    assert sub.shape == (2, 2, 3)
    np.testing.assert_array_equal(sub.weights, ens.weights[[4, 1]])
    np.testing.assert_array_equal(sub.weights_t, np.swapaxes(ens.weights[[4, 1]], -1, -2))
    np.testing.assert_array_equal(sub.biases, ens.biases[[4, 1]])
    x = np.random.default_rng(1).uniform(-1, 1, (2, 5, 3))
    np.testing.assert_array_equal(sub.forward(x), ens.forward(x, networks=[4, 1]))
    x32, out = x.astype(np.float32), np.empty((2, 5, 3), dtype=np.float32)
    ens.subset(np.array([4, 1]), lazy=True).forward_into(x32, out, np.empty_like(out))
    full = np.empty((6, 5, 3), dtype=np.float32)
    ens.forward_into(np.concatenate([x32] * 3), full, np.empty_like(full))  # makes ens's float32 copies
    sub2 = ens.subset(np.array([4, 1]), lazy=True)  # now from the parent's float32 copies
    out2 = np.empty_like(out)
    sub2.forward_into(x32, out2, np.empty_like(out2))
    np.testing.assert_array_equal(out2, out)


def test_a_plain_subset_copies_and_does_not_keep_its_ensemble_alive():
    import gc
    import weakref

    ens = Ensemble.sample(NetworkConfig(N=3, L=2, law="cauchy"), 6, seed=0)
    ens.weights_t  # noqa: B018 - cached W^T, copied into the subset too
    sub = ens.subset([4, 1])
    ref = weakref.ref(ens)
    want = ens.weights[[4, 1]].copy()
    del ens
    gc.collect()
    assert ref() is None
    np.testing.assert_array_equal(sub.weights, want)
    np.testing.assert_array_equal(sub.weights_t, np.swapaxes(want, -1, -2))
    with pytest.raises(TypeError, match="lazy"):
        sub.subset([0], lazy="yes")


def test_preactivation_bound_is_finite_or_refused():
    """A bound that overflows is no bound: x_max beyond the finite range is refused by name."""
    ens = Ensemble.sample(NetworkConfig(N=4, L=2, law="cauchy", scale=3.0, activation="tanh", bias_law="same"), 5,
                          seed=3)
    with pytest.raises(ValueError, match=r"x_max must be <= .* overflows"):
        ens.preactivation_bound(1.7e308)
    assert np.isfinite(ens.preactivation_bound(1e300 / max(ens.preactivation_bound(1.0), 1.0)))


def test_a_network_alone_and_in_its_ensemble_reach_the_same_verdicts():
    """BLAS chooses its kernel by the shape, so a network's bits may depend on the rows its packed
    block gives it; what the engine decides may not: statuses, periods and Q are equal, limits agree
    to rounding."""
    from fpkit import CAUCHY_REGIME, find_fixed_points

    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=10, L=8), 12, seed=7)
    full = find_fixed_points(ens, n_starts=64, seed=1)
    starts = full.x0.reshape(12, 64, 10)
    per = full.per_network()
    for e in range(12):
        alone = find_fixed_points(ens.subset(np.array([e])), starts[e:e + 1], n_starts=64, seed=1)
        np.testing.assert_array_equal(full.status.reshape(12, 64)[e], alone.status)
        np.testing.assert_array_equal(full.period.reshape(12, 64)[e], alone.period)
        assert per["Q"][e] == alone.per_network()["Q"][0]
        np.testing.assert_allclose(alone.limit, full.limit.reshape(12, 64, 10)[e], rtol=0, atol=1e-12)


def test_weight_ulps_moves_every_weight_by_its_last_bit(monkeypatch):
    cfg = NetworkConfig(N=6, L=3, law="cauchy", scale=4.0, activation="tanh", bias_law="same")
    plain = Ensemble.sample(cfg, 4, seed=11).weights
    monkeypatch.setenv("FPKIT_WEIGHT_ULPS", "1")
    nudged = Ensemble.sample(cfg, 4, seed=11).weights
    moved = np.abs(nudged - plain) / np.spacing(np.abs(plain))
    assert np.all((moved >= 0.5) & (moved <= 1.0))  # one ulp (half an ulp across a power of two)
    up = nudged > plain
    assert 0.3 < up.mean() < 0.7  # up and down
    assert np.array_equal(Ensemble.sample(cfg, 4, seed=11).weights, nudged)  # deterministic
    for bad in ("x", "-1", "2000", "1.5"):
        monkeypatch.setenv("FPKIT_WEIGHT_ULPS", bad)
        with pytest.raises(ValueError, match="FPKIT_WEIGHT_ULPS"):
            Ensemble.sample(cfg, 1, seed=0)
