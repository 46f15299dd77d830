"""Newton's method on F(x) - x and on the multiple-shooting layer system (fpkit.engine.newton)."""

import numpy as np
import pytest

from conftest import LAST_BIT, cauchy_ensemble, last_bit, roots_1d
from fpkit import Ensemble
from fpkit.engine import newton_search, shooting_search, uniform_starts


@pytest.mark.parametrize("seed, noise_seed", [(s, None) for s in range(6)] + [(0, 1), (3, 2)])
def test_shooting_finds_every_root_of_width_one_chains(seed, noise_seed):
    """Width 1, depth 3, tanh: the multiple-shooting search alone, from random layer states,
    reaches every root of an exhaustive sign-change search whose slope |F'| is below 1e3, and
    nothing else (also with the weights changed in their last bit). (Steeper roots can have Newton
    basins too small for 200 random starts: seed 4 has one with slope 6e4 that it misses; the census
    then reports an index sum other than 1.)"""
    rng = np.random.default_rng(seed)
    L = 3
    ws, bs = rng.standard_cauchy(L) * 3, rng.standard_cauchy(L) * 0.5
    ens = last_bit(Ensemble(ws.reshape(1, L, 1, 1), bs.reshape(1, L, 1), "tanh"), noise_seed)
    ws, bs = ens.weights[0, :, 0, 0], ens.biases[0, :, 0]
    exact = roots_1d(ens, phi=np.tanh)[:, 0]
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
    ens = cauchy_ensemble()
    with pytest.raises(exc, match=match):
        newton_search(ens, uniform_starts(ens, 2, seed=0), **kwargs)
