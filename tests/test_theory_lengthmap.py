"""Tests of fpkit.theory.lengthmap: a configuration's scales, the length map, q*, chi_1 and the Cauchy scale map
against closed forms (erf) and against simulated wide networks, and their argument checks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import optimize

from fpkit.network import Ensemble, NetworkConfig
from fpkit.regimes import CAUCHY_REGIME, GAUSSIAN_REGIME
from fpkit.theory import lengthmap as lm


def erf_length_map(q, sigma_w, sigma_b):
    """Closed form: E[erf(sqrt(q) Z)^2] = (2 / pi) arcsin(2q / (1 + 2q)) (Williams 1997)."""
    return sigma_w**2 * 2.0 / math.pi * math.asin(2.0 * q / (1.0 + 2.0 * q)) + sigma_b**2


@pytest.mark.parametrize("q", [0.0, 1e-3, 0.7, 5.0, 300.0])
def test_length_map_and_chi1_of_erf_in_closed_form(q):
    # the quadrature's tolerance is 1e-11 (absolute, and relative), times sigma_w^2 here
    assert lm.length_map("erf", q, 1.7, 0.3) == pytest.approx(erf_length_map(q, 1.7, 0.3), rel=1e-12, abs=3e-11)
    # erf'(x)^2 = (4 / pi) exp(-2 x^2), so E[erf'(sqrt(q) Z)^2] = (4 / pi) / sqrt(1 + 4 q)
    assert lm.chi_1("erf", q, 1.7) == pytest.approx(1.7**2 * 4.0 / math.pi / math.sqrt(1.0 + 4.0 * q), rel=1e-11)


def test_vectorised_length_map_equals_the_scalar_one():
    q = np.array([0.0, 0.2, 3.0, 50.0])
    np.testing.assert_allclose(lm.length_map("tanh", q, 2.0, 0.5),
                               [lm.length_map("tanh", float(x), 2.0, 0.5) for x in q], rtol=1e-13)


@pytest.mark.parametrize("sigma_w, sigma_b", [(0.8, 0.1), (1.5, 0.5), (4.0, 0.0)])
def test_fixed_point_of_erf_is_the_root_of_the_closed_form(sigma_w, sigma_b):
    q_star = lm.length_map_fixed_point("erf", sigma_w, sigma_b)
    root = optimize.brentq(lambda q: erf_length_map(q, sigma_w, sigma_b) - q, 1e-12, 100.0, xtol=1e-15)
    assert q_star == pytest.approx(root, rel=1e-10, abs=1e-14)
    assert abs(lm.length_map("erf", q_star, sigma_w, sigma_b) - q_star) <= 1e-11 * max(1.0, q_star)


def test_meanfield_fixed_variance_is_the_fixed_point_at_the_config_scales():
    for cfg in (GAUSSIAN_REGIME, GAUSSIAN_REGIME.replace(scale=3.0, convention="absolute", N=4)):
        sigma_w, sigma_b = lm.gaussian_weight_scales(cfg)
        assert lm.meanfield_fixed_variance(cfg) == lm.length_map_fixed_point(cfg.activation, sigma_w, sigma_b,
                                                                             tol=1e-13, max_iter=10000)
    assert lm.gaussian_weight_scales(GAUSSIAN_REGIME.replace(scale=3.0, convention="absolute", N=4)) == (6.0, 0.5)
    assert lm.gaussian_weight_scales(GAUSSIAN_REGIME.replace(bias_law=None)) == (1.0, 0.0)
    assert lm.cauchy_weight_scales(CAUCHY_REGIME) == (4.0, 1.0)


def test_preactivation_variances_match_a_simulated_wide_network():
    cfg = GAUSSIAN_REGIME.replace(N=1500, L=4, scale=2.0)
    ens = Ensemble.sample(cfg, 2, seed=3)
    x = np.random.default_rng(4).uniform(-1.0, 1.0, (2, 4, cfg.N))
    theory = lm.preactivation_variances("tanh", cfg.L, 2.0, 0.5, 1.0 / 3.0)
    W, b = np.asarray(ens.weights), np.asarray(ens.biases)
    for layer in range(cfg.L):
        h = np.einsum("eij,emj->emi", W[:, layer], x) + b[:, layer, None]
        assert np.mean(h * h) == pytest.approx(theory[layer], rel=0.06)  # 2 x 4 x 1500 draws: about 2 % noise
        x = np.tanh(h)


def test_cauchy_scale_map_matches_sampled_pre_activations():
    # a sum of Cauchy variables is Cauchy: the median of |h| is the scale s E|phi(gamma C)| + beta
    # (20000 values: the sample median of |h| has a relative standard deviation of about 1.1 %)
    rng = np.random.default_rng(0)
    gamma, s, beta, N = 2.5, 4.0, 1.0, 1000
    x = np.tanh(gamma * rng.standard_cauchy((400, N)))
    h = (s / N) * np.einsum("mij,mj->mi", rng.standard_cauchy((400, 50, N)), x) + beta * rng.standard_cauchy((400, 50))
    assert np.median(np.abs(h)) == pytest.approx(lm.cauchy_scale_map("tanh", gamma, s, beta), rel=0.04)
    gam = lm.cauchy_scale_sequence(CAUCHY_REGIME)
    assert gam[1] == pytest.approx(lm.cauchy_scale_map("tanh", gam[0], 4.0, 1.0), rel=1e-15)
    star = lm.cauchy_fixed_scale(CAUCHY_REGIME)
    assert abs(lm.cauchy_scale_map("tanh", star, 4.0, 1.0) - star) <= 1e-11 * star


def test_self_consistent_points_are_seeded_and_have_the_fixed_point_law():
    cfg = GAUSSIAN_REGIME.replace(N=500, scale=3.0)
    x = lm.self_consistent_points(cfg, 2, 3, seed=1)
    assert x.shape == (2, 3, 500)
    np.testing.assert_array_equal(x, lm.self_consistent_points(cfg, 2, 3, seed=1))
    assert np.var(np.arctanh(x)) == pytest.approx(lm.meanfield_fixed_variance(cfg), rel=0.05)
    c = lm.self_consistent_points(CAUCHY_REGIME.replace(N=2000), 1, 2, seed=2)  # median |C| = 1
    assert np.median(np.abs(c)) == pytest.approx(np.tanh(lm.cauchy_fixed_scale(CAUCHY_REGIME)), rel=0.01)


def test_q_map_of_exp_diverges_with_a_clear_error_and_no_warning():
    """Issue 25: q_map_fixed_point("exp", 10, 0) warned (overflow in a square) before its error."""
    from fpkit import meanfield as mf

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="the length map diverges"):
            mf.q_map_fixed_point("exp", 10, 0)
        with pytest.raises(ValueError, match="the length map diverges"):
            lm.length_map_fixed_point("exp", 10.0, 0.0)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: lm.gaussian_weight_scales(CAUCHY_REGIME), ValueError, "law='gaussian'"),
    (lambda: lm.gaussian_weight_scales(GAUSSIAN_REGIME.replace(bias_law="cauchy")), ValueError, "Gaussian biases"),
    (lambda: lm.gaussian_weight_scales("cfg"), TypeError, "config must be a NetworkConfig"),
    (lambda: lm.cauchy_weight_scales(GAUSSIAN_REGIME), ValueError, "law='cauchy'"),
    (lambda: lm.cauchy_weight_scales(CAUCHY_REGIME.replace(convention="absolute")), ValueError, "fan_in"),
    (lambda: lm.length_map("tanh", -1.0, 1.0, 0.0), ValueError, "q must be >= 0"),
    (lambda: lm.length_map("tanh", 1.0, 1e200, 0.0), ValueError, "sigma_w must be in"),
    (lambda: lm.length_map("tanh", 1.0, 1.0, -0.1), ValueError, "sigma_b must be in"),
    (lambda: lm.length_map(3, 1.0, 1.0, 0.0), TypeError, "activation must be an activation name or a callable"),
    (lambda: lm.preactivation_variances("relu", 3, 1.0, 0.0, 0.3), ValueError, "sigmoid-type"),
    (lambda: lm.preactivation_variances("tanh", 0, 1.0, 0.0, 0.3), ValueError, "L must be"),
    (lambda: lm.preactivation_variances("tanh", 3, 1.0, 0.0, 1e308), ValueError, "overflow"),
    (lambda: lm.length_map_fixed_point("tanh", 1.0, 0.0, q0=0.0), ValueError, "q0"),
    (lambda: lm.length_map_fixed_point("tanh", 1.0, 0.0, max_iter=0), ValueError, "max_iter"),
    (lambda: lm.cauchy_scale_map("tanh", -1.0, 1.0, 0.0), ValueError, "gamma must be >= 0"),
    (lambda: lm.cauchy_scale_sequence(CAUCHY_REGIME, input_mean_abs=1e305), ValueError, "input_mean_abs"),
    (lambda: lm.self_consistent_points(NetworkConfig(N=2, L=1, law="student_t", df=3.0), 1, 1, seed=0),
     ValueError, "law='gaussian'"),
    (lambda: lm.self_consistent_points(GAUSSIAN_REGIME, 0, 1, seed=0), ValueError, "n_networks"),
    (lambda: lm.self_consistent_points(GAUSSIAN_REGIME, 1, 1, seed=-1), ValueError, "seed"),
])
def test_bad_arguments_are_named(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
