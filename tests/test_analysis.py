"""What the chapters compute from censuses (fpkit.engine.analysis): unions of two censuses' lists, and
Jacobian norms at fixed points and sampled points."""

import warnings

import numpy as np
import pytest

from fpkit import CAUCHY_REGIME, GAUSSIAN_REGIME, Ensemble, NetworkConfig, to_numpy
from fpkit.engine import find_fixed_points, jacobian_norms, uniform_starts, union_counts


def _union_count(res_a, res_b, network, tol):
    """Chapter 4's definition, network by network."""
    a, b = (r.x[r.fp_network == network] for r in (res_a, res_b))
    if len(a) == 0 or len(b) == 0:
        return len(a) + len(b)
    dist = np.abs(a[:, None, :] - b[None, :, :]).max(axis=-1)
    return max(len(a) + int((dist.min(axis=0) > tol).sum()), len(b) + int((dist.min(axis=1) > tol).sum()))


def test_union_counts_of_two_censuses_of_the_same_networks():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=4, L=4), 20, seed=3)
    first = find_fixed_points(ens, n_starts=8, seed=1)
    second = find_fixed_points(ens, n_starts=8, seed=2, newton=True, newton_starts=8)
    got = union_counts(first, second)
    want = [_union_count(first, second, e, first.settings.merge_tol) for e in range(20)]
    np.testing.assert_array_equal(got, want)
    n1, n2 = (np.bincount(r.fp_network, minlength=20) for r in (first, second))
    assert (got >= np.maximum(n1, n2)).all() and (got > n1).any()
    np.testing.assert_array_equal(union_counts(first, first), n1)  # a list with itself: itself
    with pytest.raises(ValueError, match="same networks"):
        union_counts(first, find_fixed_points(ens.subset(np.arange(3)), n_starts=4))
    with pytest.raises(TypeError, match="second must be a FixedPoints"):
        union_counts(first, second.per_network())


def test_jacobian_norms_at_fixed_points_and_at_sampled_points():
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=6, L=3), 5, seed=0)
    res = find_fixed_points(ens, n_starts=8, seed=1, newton=True)
    got = jacobian_norms(ens, res.x, res.fp_network)
    want = [np.linalg.norm(to_numpy(ens.subset(slice(e, e + 1)).jacobian(res.x[k][None, None]))[0, 0], ord=2)
            for k, e in enumerate(res.fp_network)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    pts = uniform_starts(ens, 4, seed=2)
    np.testing.assert_allclose(jacobian_norms(ens, pts),
                               np.linalg.norm(to_numpy(ens.jacobian(pts)), ord=2, axis=(-2, -1)), rtol=1e-12)
    assert jacobian_norms(ens, res.x[:0], res.fp_network[:0]).shape == (0,)
    with pytest.raises(ValueError, match="networks must hold indices"):
        jacobian_norms(ens, res.x, res.fp_network + 5)


def test_jacobian_norms_beyond_float64_are_inf_without_warnings():
    """tanh without biases, L = 500, scale 10: at x = 0 the norm is about 10^470 (inf); a shallow copy of the
    same weights stays finite and agrees with the direct norm."""
    cfg = NetworkConfig(N=4, L=500, law="gaussian", scale=10.0, activation="tanh", bias_law=None)
    ens = Ensemble.sample(cfg, 2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norms = jacobian_norms(ens, np.zeros((2, 4)), np.array([0, 1]))
    assert np.isinf(norms).all()
