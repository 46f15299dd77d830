"""Regressions of the defects the fuzz of tests/test_fuzz.py found in the theory layer and the chapters' helpers
(when fpkit.theory, fpkit.cache and the helpers joined its list of modules): each case failed before its fix.
The Kac-Rice pieces' cases are in tests/test_kacrice.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fpkit import meanfield, spectra
from fpkit.network import NetworkConfig
from fpkit.theory import free, lengthmap, spectral_route


@pytest.fixture(autouse=True)
def _no_runtime_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def test_a_callable_activation_may_return_a_list():
    """length_map(lambda x: list) raised "unsupported operand type(s) for ** or pow(): 'list' and 'int'"."""
    q = np.array([0.5, 2.0])
    as_list = lengthmap.length_map(lambda x: np.tanh(x).tolist(), q, 1.5, 0.1)
    np.testing.assert_allclose(as_list, lengthmap.length_map("tanh", q, 1.5, 0.1), rtol=1e-9)
    with pytest.raises(TypeError, match="activation must return real numbers"):
        lengthmap.length_map(lambda x: "a", q, 1.5, 0.1)


@pytest.mark.parametrize("call, match", [
    (lambda: lengthmap.length_map("tanh", -1.0, 1.0, 0.0), "q must be >= 0"),
    (lambda: lengthmap.length_map("tanh", "abc", 1.0, 0.0), "q must be a numeric array"),
    (lambda: lengthmap.chi_1("erf", np.array([1.0, np.nan]), 2.0), "q must be finite"),
    (lambda: lengthmap.cauchy_scale_map("tanh", -0.5, 2.0, 0.0), "gamma must be >= 0"),
    (lambda: lengthmap.length_map_fixed_point("exp", 2.0, 0.2), "diverges .* for this activation"),
    (lambda: lengthmap.length_map("exp", 1e300, 1e150, 0.0), r"activation: phi\(x\)\^2 is beyond float64"),
    (lambda: lengthmap.length_map("relu", 1e300, 1e150, 0.0), "the length map exceeds the float64 range"),
    (lambda: free.FreeJacobianLaw.linear(2).radial_quantile("abc"), "t must be a numeric array"),
    (lambda: free.haagerup_larsen_log_radius([1.0], [(1.0, 1.0)], [0.0, 0.5]), r"t must be in \(0, 1\)"),
    (lambda: free.haagerup_larsen_log_radius([1.0, 2.0], [(1.0, 1.0)], [0.5]), "layers must be a list"),
    (lambda: free.haagerup_larsen_log_radius([1.0], ["ab"], [0.5]), r"layers\[0\] must be a \(values, probs\) pair"),
    (lambda: free.haagerup_larsen_log_radius([-1.0], [(1.0, 1.0)], [0.5]), "sigma_w2 must be positive"),
    (lambda: spectra.random_input_spectrum(NetworkConfig(N=2, L=1), 2, 0, seed=0), "n_points must be an integer"),
    (lambda: spectra.random_input_spectrum(NetworkConfig(N=2, L=1), 2, 2.5, seed=0), "n_points must be an integer"),
])
def test_bad_arguments_are_named(call, match):
    """Before: the errors named quadrature's arguments (variance, scale), NumPy's conversion, or none."""
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_the_log_potential_of_a_layer_product_refuses_depths_beyond_float64():
    """L = 10**400 raised OverflowError (int too large to convert to float)."""
    layer = spectral_route.layer_spectrum(NetworkConfig(N=3, L=2, law="gaussian", activation="tanh"), n_points=20)
    assert layer.log_potential(10**15) == pytest.approx(10**15 * layer.log_potential(1), rel=1e-9)
    with pytest.raises(ValueError, match="L must be an integer 1 <= L <= 1000000000000000"):
        layer.log_potential(10**400)


def test_the_haagerup_larsen_radius_keeps_its_values_and_nans():
    """The argument checks added keep the numbers: NaN below the atom at 0 (documented), log r increasing."""
    atoms = (np.array([0.0, 1.0]), np.array([0.5, 0.5]))
    out = free.haagerup_larsen_log_radius([2.0], [atoms], np.array([0.2, 0.6, 0.9]))
    assert np.isnan(out[0]) and np.all(np.diff(out[1:]) > 0)
    law = free.FreeJacobianLaw.linear(2, 1.5)
    np.testing.assert_array_equal(law.radial_quantile([0.3, 0.8]),
                                  np.exp(free.haagerup_larsen_log_radius(law.sigma_w2, [(1.0, 1.0)] * 2, [0.3, 0.8])))


def test_the_kernel_ode_at_time_zero_only():
    """t = [0] raised IndexError inside solve_ivp; now rho(0) = rho0 (and kappa is still checked)."""
    kappa = lambda r: 0.5 + 0.5 * r  # noqa: E731
    np.testing.assert_array_equal(meanfield.kernel_ode(kappa, 0.25, [0.0]), [0.25])
    np.testing.assert_array_equal(meanfield.kernel_ode(kappa, 0.25, [0.0, 0.0]), [0.25, 0.25])
    assert meanfield.kernel_ode(kappa, 0.25, [0.0, 1.0])[0] == 0.25
    with pytest.raises(TypeError, match="kappa must return one real number"):
        meanfield.kernel_ode(lambda r: "x", 0.25, [0.0])


def test_the_kernel_ode_refuses_a_last_time_beyond_its_bound():
    """t = [0, 1e300] ran RK45 for ever (its steps are O(1) near a fixed point); now a ValueError naming t."""
    kappa = lambda r: 0.5 + 0.5 * r  # noqa: E731
    with pytest.raises(ValueError, match="t must be at most 1e\\+06"):
        meanfield.kernel_ode(kappa, 0.25, [0.0, 1e300])
    assert meanfield.kernel_ode(kappa, 0.25, [0.0, 1.0]).shape == (2,)


def test_syncs_per_step_names_stages_that_are_not_a_sequence():
    """stages=None was a bare TypeError ('NoneType' object is not iterable); found by the random fuzz, seed 33."""
    from fpkit import bench
    from fpkit.network import Ensemble, NetworkConfig

    ens = Ensemble.sample(NetworkConfig(N=2, L=1), 2, seed=0)
    with pytest.raises(ValueError, match="stages must be a sequence of names"):
        bench.syncs_per_step(ens, np.zeros((2, 1, 2)), stages=None)
