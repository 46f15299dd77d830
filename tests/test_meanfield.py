import math

import numpy as np
import pytest

import fpkit
from fpkit import meanfield as mf


def test_hermite_coefficients_of_polynomials_are_exact():
    # x^2 = He_0 + He_2: raw c_0 = 1, c_2 = E[x^2 He_2] / sqrt(2) = sqrt(2)
    c, err = mf.hermite_coefficients(lambda x: x**2, 6, normalize=False)
    np.testing.assert_allclose(c, [1.0, 0.0, math.sqrt(2), 0.0, 0.0, 0.0], atol=1e-10)
    # x^3 = 3 He_1 + He_3, E[x^6] = 15
    c, _ = mf.hermite_coefficients(lambda x: x**3, 6)
    np.testing.assert_allclose(c, np.array([0, 3, 0, math.sqrt(6), 0, 0]) / math.sqrt(15), atol=1e-10)
    assert np.sum(c**2) == pytest.approx(1.0, abs=1e-10)


def test_relu_matches_arc_cosine_kernel():
    rho = np.linspace(-1, 1, 9)
    exact = (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / np.pi  # normalised arc-cosine
    direct, err = mf.kernel_map_direct(rho, "relu")
    np.testing.assert_allclose(direct, exact, atol=1e-9)
    c, _ = mf.hermite_coefficients("relu", 60)
    series = mf.kernel_map(rho, c)
    assert np.all(np.abs(series - exact) <= mf.truncation_bound(rho, c) + 1e-9)
    # closed-form coefficients: c0 = 1/sqrt(pi), c1 = 1/sqrt(2), c2 = 1/sqrt(2 pi)  (normalised by sqrt(1/2))
    np.testing.assert_allclose(c[:3], [1 / math.sqrt(math.pi), 1 / math.sqrt(2), 1 / math.sqrt(2 * math.pi)],
                               atol=1e-10)


def test_erf_matches_arcsine_kernel():
    rho = np.linspace(-1, 1, 9)
    exact = np.arcsin(2 * rho / 3) / np.arcsin(2 / 3)
    direct, _ = mf.kernel_map_direct(rho, "erf")
    np.testing.assert_allclose(direct, exact, atol=1e-12)
    c, _ = mf.hermite_coefficients("erf", 40)
    np.testing.assert_allclose(mf.kernel_map(rho, c), exact, atol=mf.truncation_bound(1.0, c) + 1e-10)


@pytest.mark.parametrize("name", ["tanh", "logistic", "gelu", "selu", "softplus", "silu", "exp"])
def test_series_and_direct_agree_and_kappa_one_is_one(name):
    rho = np.linspace(-1, 1, 11)
    c, cerr = mf.hermite_coefficients(name, 40)
    direct, derr = mf.kernel_map_direct(rho, name)
    # |series - kappa| <= tail bound + the quadrature errors of both sides: an error d_k in c_k
    # moves c_k^2 by at most (2|c_k| + d_k) d_k, in the series (weight |rho|^k) and in the tail
    # bound's missing mass 1 - sum c_k^2 (weight |rho|^n); plus float64 rounding of sums of O(1).
    moved = (2 * np.abs(c) + cerr) * cerr
    coefficient_error = (np.polynomial.polynomial.polyval(np.abs(rho), moved)
                         + moved.sum() * np.abs(rho) ** len(c))
    bound = mf.truncation_bound(rho, c) + derr + coefficient_error + 16 * np.finfo(float).eps
    assert np.all(np.abs(mf.kernel_map(rho, c) - direct) <= bound)
    assert direct[-1] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    "name,case",
    [("identity", 0), ("tanh", 1), ("erf", 1), ("sin", 1), ("logistic", 2), ("softplus", 2),
     ("relu", 3), ("leaky_relu", 3), ("exp", 3), ("gelu", 4), ("elu", 4), ("silu", 4)],
)
def test_classification_of_known_cases(name, case):
    info = mf.classify(name)
    assert info.case == case
    if case == 4:
        c, _ = mf.hermite_coefficients(name, 40)
        assert 0 < info.rho_star < 1
        assert float(mf.kernel_map(info.rho_star, c)) == pytest.approx(info.rho_star, abs=1e-10)
        assert info.kappa_prime_star < 1


def test_exp_kernel_is_exp_rho_minus_one():
    """exp: c_k^2 = e^-1 / k!, so kappa(rho) = exp(rho - 1) and kappa'(1) = 1 exactly (case 3)."""
    c, _ = mf.hermite_coefficients("exp", 25)
    np.testing.assert_allclose(c**2, np.exp(-1) / np.array([math.factorial(k) for k in range(25)], dtype=float), atol=1e-12)


@pytest.mark.parametrize("name,rho0", [("tanh", 0.9), ("logistic", 0.1), ("relu", 0.2), ("gelu", 0.1), ("gelu", 0.99)])
def test_convergence_bounds_dominate_the_iteration(name, rho0):
    info = mf.classify(name)
    c, _ = mf.hermite_coefficients(name, 60)
    kappa = lambda r: float(mf.kernel_map_direct(r, name)[0][0])
    seq = mf.kernel_sequence(rho0, 30, kappa)
    bound = mf.convergence_bound(rho0, 30, c, info)
    assert np.all(np.abs(seq - info.rho_star) <= bound + 1e-9)
    assert abs(seq[-1] - info.rho_star) < abs(seq[0] - info.rho_star)


def test_chi1_equals_kappa_prime_one_for_normalised_phi():
    info = mf.classify("gelu")
    scaled = lambda x: fpkit.get_activation("gelu").numpy(x) / info.normalization
    q, chi = mf.q_map_fixed_point(scaled, 1.0, 0.0)
    assert q == pytest.approx(1.0, abs=1e-8)
    assert chi == pytest.approx(info.kappa_prime1, rel=1e-5)


def test_finite_width_agrees_with_theory_and_improves_with_width():
    depth, rho0 = 6, 0.3
    kappa = lambda r: float(mf.kernel_map_direct(r, "gelu")[0][0])
    theory = mf.kernel_sequence(rho0, depth, kappa)
    errs = []
    for width in (100, 1600):
        sims = [mf.simulate_correlations("gelu", width=width, depth=depth, rho0=rho0, n_inputs=6, seed=s)
                for s in range(4)]
        mean = np.mean([s.mean(axis=1) for s in sims], axis=0)
        errs.append(np.abs(mean - theory)[1:].max())
    assert errs[1] < 0.02
    assert errs[1] < errs[0]


def test_residual_and_layer_norm_variants_in_simulation():
    """Residual: rho' = (1 - r^2) kappa(rho) + r^2 rho; LayerNorm removes c_0: (kappa - c0^2)/(1 - c0^2)."""
    c, _ = mf.hermite_coefficients("relu", 60)
    kap = lambda r: float(mf.kernel_map_direct(r, "relu")[0][0])
    rho0, r = 0.2, 0.8
    sim = mf.simulate_correlations("relu", width=2000, depth=1, rho0=rho0, n_inputs=6, seed=1, residual=r)
    assert sim[1].mean() == pytest.approx(mf.residual_kernel_map(kap, r)(rho0), abs=0.02)
    sim = mf.simulate_correlations("relu", width=2000, depth=1, rho0=rho0, n_inputs=6, seed=1, norm="layer")
    assert sim[1].mean() == pytest.approx(mf.layer_norm_kernel_map(kap)(rho0), abs=0.03)
    # LayerNorm removes c_0: kappa(0) is c_0^2, and the normalised map runs from 0 to 1
    assert kap(0.0) == pytest.approx(c[0] ** 2, abs=1e-9)
    ln = mf.layer_norm_kernel_map(kap)
    assert ln(0.0) == 0.0 and ln(1.0) == pytest.approx(1.0, abs=1e-12)


def test_residual_map_keeps_the_fixed_point_and_slows_the_rate():
    info = mf.classify("gelu")
    c, _ = mf.hermite_coefficients("gelu", 50)
    kap = lambda x: float(mf.kernel_map(x, c))  # noqa: E731
    for r in (0.0, 0.5, 0.9):
        res = mf.residual_kernel_map(kap, r)
        assert res(info.rho_star) == pytest.approx(info.rho_star, abs=1e-9)
        h = 1e-6  # its slope at rho* is (1 - r^2) kappa'(rho*) + r^2
        slope = (res(info.rho_star + h) - res(info.rho_star - h)) / (2 * h)
        assert slope == pytest.approx((1 - r**2) * info.kappa_prime_star + r**2, abs=1e-6)
    with pytest.raises(ValueError, match="residual"):
        mf.residual_kernel_map(kap, 1.0)
    with pytest.raises(TypeError, match="callable"):
        mf.layer_norm_kernel_map(0.5)
    with pytest.raises(ValueError, match="kappa\\(0\\)"):
        mf.layer_norm_kernel_map(lambda x: 1.0)


def test_critical_sigma_w_of_erf_matches_the_closed_form():
    """For phi = erf: E erf(sqrt(q) X)^2 = (2/pi) arcsin(2q / (1 + 2q)) and
    E erf'(sqrt(q) X)^2 = (4/pi) / sqrt(1 + 4q); at the transition chi_1 = 1 gives
    sigma_w^2 = (pi/4) sqrt(1 + 4q) and q - sigma_b^2 = sqrt(1 + 4q) arcsin(2q / (1 + 2q)) / 2."""
    from scipy.optimize import brentq

    for sigma_b in (0.3, 0.5, 1.0):
        q = brentq(lambda q: q - sigma_b**2 - 0.5 * np.sqrt(1 + 4 * q) * np.arcsin(2 * q / (1 + 2 * q)),
                   1e-9, 100.0, xtol=1e-14)
        exact = np.sqrt(np.pi / 4 * np.sqrt(1 + 4 * q))
        assert mf.critical_sigma_w("erf", sigma_b, bracket=(0.5, 4.0), xtol=1e-9) == pytest.approx(exact, abs=1e-6)
    s_c = mf.critical_sigma_w("tanh", 0.5, bracket=(1.0, 3.0))
    assert mf.q_map_fixed_point("tanh", 0.99 * s_c, 0.5)[1] < 1 < mf.q_map_fixed_point("tanh", 1.01 * s_c, 0.5)[1]
    with pytest.raises(ValueError, match="bracket must enclose"):
        mf.critical_sigma_w("tanh", 0.5, bracket=(2.0, 3.0))
    with pytest.raises(TypeError, match="bracket"):
        mf.critical_sigma_w("tanh", 0.5, bracket=2.0)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: mf.hermite_coefficients("swish2"), ValueError, "phi must be one of"),
        (lambda: mf.hermite_coefficients(3), TypeError, "phi must be"),
        (lambda: mf.hermite_coefficients("tanh", 0), ValueError, "n must be an integer >= 1"),
        (lambda: mf.kernel_map(1.5, [1.0]), ValueError, "rho must be a correlation"),
        (lambda: mf.kernel_sequence(0.5, -1, lambda r: r), ValueError, "depth"),
        (lambda: mf.simulate_correlations("tanh", width=1, depth=2, rho0=0.1, seed=0), ValueError, "width"),
        (lambda: mf.simulate_correlations("tanh", width=10, depth=2, rho0=0.1, seed=0, norm="batch"),
         ValueError, "norm must be one of"),
        (lambda: mf.hermite_coefficients(lambda x: 0 * x), ValueError, "must not vanish"),
    ],
)
def test_meanfield_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_variance_map_slope_closed_forms_and_finite_difference():
    import math

    assert abs(mf.variance_map_slope("relu") - 1.0) < 1e-8  # homogeneous: E relu(sqrt(q)X)^2 = q/2
    assert abs(mf.variance_map_slope("exp") - 2.0) < 1e-7  # E e^{2 sqrt(q) X} / E e^{2X} = e^{2q - 2}
    f = np.tanh
    norm = mf.gaussian_expectation(lambda x: f(x) ** 2)[0]
    g = lambda q: mf.gaussian_expectation(lambda x: f(math.sqrt(q) * x) ** 2)[0] / norm  # noqa: E731
    fd = (g(1 + 1e-4) - g(1 - 1e-4)) / 2e-4
    assert abs(mf.variance_map_slope("tanh") - fd) < 1e-6
    assert mf.variance_map_slope("gelu") > 1.0 > mf.variance_map_slope("tanh")


def test_simulate_correlations_at_the_ends_of_the_correlation_range():
    """Defect 6: rho0 = 1 (identical inputs) raised LinAlgError (Cholesky of a singular Gram matrix)."""
    corr = mf.simulate_correlations("tanh", width=64, depth=3, rho0=1.0, n_inputs=4, seed=0)
    np.testing.assert_allclose(corr, 1.0, atol=1e-12)  # identical inputs stay identical
    low = -1.0 / 3.0  # the smallest common correlation of 4 inputs: they sum to 0
    corr = mf.simulate_correlations("tanh", width=4000, depth=0, rho0=low, n_inputs=4, seed=0)
    assert np.all(np.isfinite(corr)) and np.abs(corr.mean() - low) < 0.05
    inside = mf.simulate_correlations("tanh", width=64, depth=2, rho0=0.5, n_inputs=4, seed=0)
    assert np.all(np.isfinite(inside))


@pytest.mark.parametrize("call, exc, match", [
    (lambda c, i: mf.kernel_map(0.5, "abc"), TypeError, "c must be a numeric array"),
    (lambda c, i: mf.kernel_map(0.5, [np.nan]), ValueError, "c must be finite"),
    (lambda c, i: mf.kernel_map(0.5, np.ones((2, 2)) / 4), ValueError, "c must have 1 axes"),
    (lambda c, i: mf.kernel_map(0.5, [0.9, 0.9]), ValueError, "c must be normalised"),
    (lambda c, i: mf.kernel_map(1.5, c), ValueError, "rho must be a correlation"),
    (lambda c, i: mf.kernel_map_derivative("x", c), TypeError, "rho must be a numeric array"),
    (lambda c, i: mf.convergence_bound(0.5, 3, c, None), TypeError, "info must be a KernelMapInfo"),
    (lambda c, i: mf.convergence_bound(0.5, -1, c, i), ValueError, "depth must be an integer >= 0"),
    (lambda c, i: mf.convergence_bound(0.5, 3, "x", i), TypeError, "c must be a numeric array"),
    (lambda c, i: mf.kernel_sequence(0.5, 3, "kappa"), TypeError, "kappa must be callable"),
    (lambda c, i: mf.kernel_sequence(0.5, 3, lambda r: float("nan")), ValueError, "kappa returned nan"),
    (lambda c, i: mf.hermite_coefficients("tanh", 500), ValueError, r"n must be an integer in \[1, 171\]"),
    (lambda c, i: mf.gaussian_expectation(lambda x: np.where(x > 30, np.inf, 1.0)), ValueError, "returned NaN or inf"),
    (lambda c, i: mf.hermite_coefficients(lambda x: "a", 3), TypeError, "phi must return real numbers"),
])
def test_meanfield_bad_arguments_are_named(call, exc, match):
    """Defect 6: kernel_map and convergence_bound did not validate their arguments."""
    c, _ = mf.hermite_coefficients("tanh", 6)
    info = mf.classify("tanh", n=6)
    with pytest.raises(exc, match=match):
        call(c, info)


def test_kernel_ode_solves_the_linear_case_exactly_and_is_the_limit_of_residual_layers():
    # kappa(rho) = a + b rho: rho(t) = rho* + (rho0 - rho*) exp(-(1 - b) t), rho* = a / (1 - b)
    t = np.linspace(0.0, 5.0, 11)
    a, b = 0.2, 0.5
    np.testing.assert_allclose(mf.kernel_ode(lambda r: a + b * r, 0.9, t),
                               0.4 + 0.5 * np.exp(-0.5 * t), rtol=0, atol=1e-6)  # solve_ivp's default atol
    c, _ = mf.hermite_coefficients("gelu", 30)
    kap = lambda r: float(mf.kernel_map(r, c))  # noqa: E731
    r = 0.995  # depth in units of 1 - r^2: 400 residual layers reach t = 4
    seq = mf.kernel_sequence(0.05, 400, mf.residual_kernel_map(kap, r))
    ode = mf.kernel_ode(kap, 0.05, np.arange(401) * (1 - r * r))
    assert np.max(np.abs(seq - ode)) < 3e-3  # the Euler steps of size 1 - r^2 = 0.01
    with pytest.raises(ValueError, match="t must be increasing"):
        mf.kernel_ode(kap, 0.05, [1.0, 2.0])
    with pytest.raises(ValueError, match="rho0"):
        mf.kernel_ode(kap, 1.5, [0.0, 1.0])
