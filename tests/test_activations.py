"""Tests of fpkit.activations that concern its values at the ends of the float64 range and its mean-field facts."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from fpkit.activations import ACTIVATIONS, get_activation

HUGE = np.array([-np.finfo(float).max, -1.7e308, -1e300, -1.0, 0.0, 1.0, 1e300, 1.7e308, np.finfo(float).max])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_values_and_derivatives_stay_finite_without_warnings_up_to_the_float64_maximum(name):
    act = get_activation(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, slope = act.value(HUGE), act.derivative(HUGE)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(slope))


def test_selu_saturates_at_the_float64_maximum():
    """Issue 25: get_activation("selu").value overflowed with a RuntimeWarning at 1.7e308."""
    selu = get_activation("selu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = selu.value(np.array([1.7e308, 1.75e308, 1.0, -1e308]))
    assert v[0] == 1.0507009873554805 * 1.7e308  # still exact below the clip
    assert v[1] == np.finfo(float).max
    assert v[2] == 1.0507009873554805 and v[3] == pytest.approx(-1.0507009873554805 * 1.6732632423543772)


@pytest.mark.parametrize("name, second_moment", [("relu", 0.5), ("identity", 1.0), ("exp", math.e**2),
                                                 ("erf", 2.0 / math.pi * math.asin(2.0 / 3.0))])
def test_meanfield_normalization_in_closed_form(name, second_moment):
    assert get_activation(name).meanfield_normalization() == pytest.approx(math.sqrt(second_moment), rel=1e-12)
