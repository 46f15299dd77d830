"""Tests of fpkit.theory.quadrature, the one quadrature primitive: closed forms, an independent
high-precision quadrature (mpmath, 30 digits), vectorisation, kinks, and clear errors."""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
from scipy import stats

from fpkit.activations import ACTIVATIONS, get_activation
from fpkit.theory.quadrature import cauchy_expectation, gaussian_expectation


def test_gaussian_moments_and_exponential_in_closed_form():
    for v in (0.01, 1.0, 9.0, 400.0):
        val, err = gaussian_expectation(lambda x: x * x, 0.0, v)
        assert val == pytest.approx(v, rel=1e-12) and err < 1e-9 * max(1.0, v)
        if v <= 9.0:  # further out exp(m + s z) overflows float64 at some |z| <= 40
            val, _ = gaussian_expectation(np.exp, 0.3, v)  # E[e^(m + s Z)] = e^(m + v/2)
            assert val == pytest.approx(math.exp(0.3 + v / 2), rel=1e-10)
    assert gaussian_expectation(lambda x: x**4)[0] == pytest.approx(3.0, rel=1e-12)


def test_relu_with_its_kink_is_exact_for_every_mean():
    m = np.linspace(-6.0, 6.0, 25)
    s = 0.7
    val, err = gaussian_expectation(lambda x: np.maximum(x, 0.0), m, s * s, kinks=(0.0,))
    exact = m * stats.norm.cdf(m / s) + s * stats.norm.pdf(m / s)
    np.testing.assert_allclose(val, exact, rtol=1e-11, atol=1e-13)
    assert val.shape == m.shape and np.all(np.abs(val - exact) <= err + 1e-15)


@pytest.mark.parametrize("name", ["tanh", "logistic", "erf", "algebraic", "gelu", "selu"])
@pytest.mark.parametrize("q", [1e-4, 1.0, 9.0, 1e4])
def test_second_moments_of_activations_match_mpmath(name, q):
    act = get_activation(name)
    mp_phi = {"tanh": mpmath.tanh, "logistic": lambda z: 1 / (1 + mpmath.exp(-z)), "erf": mpmath.erf,
              "algebraic": lambda z: z / mpmath.sqrt(1 + z * z), "gelu": lambda z: z * mpmath.ncdf(z),
              "selu": lambda z: 1.0507009873554805 * (z if z > 0 else 1.6732632423543772 * (mpmath.exp(z) - 1))}[name]
    mpmath.mp.dps = 30
    s = mpmath.sqrt(q)
    points = [-mpmath.inf, -10 / s, -1 / s, 0, 1 / s, 10 / s, mpmath.inf]
    reference = float(mpmath.quad(lambda z: mp_phi(s * z) ** 2 * mpmath.npdf(z), points))
    val, err = gaussian_expectation(lambda x: act.numpy(x) ** 2, 0.0, q, kinks=act.kinks)
    assert abs(val - reference) <= max(err, 1e-14 * reference)
    assert abs(val - reference) <= 1e-11 * max(1.0, reference)


def test_vectorised_equals_one_by_one_and_variance_zero_is_the_point_value():
    v = np.array([0.0, 0.5, 2.0, 30.0])
    f = lambda x: np.tanh(x - 0.2) ** 2  # noqa: E731
    vals, errs = gaussian_expectation(f, 0.1, v)
    one = [gaussian_expectation(f, 0.1, float(x))[0] for x in v]
    np.testing.assert_allclose(vals, one, rtol=1e-13, atol=1e-15)
    assert vals[0] == f(np.array(0.1)) and errs[0] == 0.0


def test_cauchy_expectations_match_closed_forms_and_mpmath():
    # E[1 / (1 + (g C)^2)] = 1 / (1 + g): the Cauchy laws of scale 1 and g convolve
    g = np.array([0.0, 0.01, 1.0, 3.4, 100.0])
    val, err = cauchy_expectation(lambda x: 1.0 / (1.0 + x * x), g)
    np.testing.assert_allclose(val, 1.0 / (1.0 + g), rtol=1e-12)
    assert np.all(err < 1e-9)
    mpmath.mp.dps = 30
    for gamma in (0.3, 3.4):
        reference = float(2 * mpmath.quad(lambda c: mpmath.tanh(gamma * c) / (mpmath.pi * (1 + c * c)),
                                          [0, 1 / gamma, 1, mpmath.inf]))
        assert cauchy_expectation(lambda x: np.abs(np.tanh(x)), gamma)[0] == pytest.approx(reference, abs=1e-12)


def test_exp_at_a_huge_variance_is_a_clear_error_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="f returned NaN or inf"):
            gaussian_expectation(lambda x: ACTIVATIONS["exp"].numpy(x) ** 2, 0.0, 1e4)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: gaussian_expectation("tanh"), TypeError, "f must be callable"),
    (lambda: gaussian_expectation(lambda x: np.where(x > 3, np.nan, x)), ValueError, "f returned NaN"),
    (lambda: gaussian_expectation(lambda x: "a"), TypeError, "f must return real numbers"),
    (lambda: gaussian_expectation(lambda x: np.ones(3)), ValueError, "f must act elementwise"),
    (lambda: gaussian_expectation(np.tanh, 0.0, -1.0), ValueError, "variance must be >= 0"),
    (lambda: gaussian_expectation(np.tanh, np.nan), ValueError, "mean must be finite"),
    (lambda: gaussian_expectation(np.tanh, tol=0.0), ValueError, "tol must be in"),
    (lambda: gaussian_expectation(np.tanh, kinks=[[0.0]]), ValueError, "kinks must have 0 or 1 axes"),
    (lambda: cauchy_expectation(np.tanh, -1.0), ValueError, "scale must be >= 0"),
    (lambda: cauchy_expectation(lambda x: x, 1.0), ValueError, "did not converge"),
])
def test_bad_input_is_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
