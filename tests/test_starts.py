"""Where the engine starts (fpkit.engine.starts): uniform, grid and plane starts."""

import numpy as np
import pytest

from fpkit.engine import grid_starts, plane_starts, uniform_starts
from fpkit.network import Ensemble, NetworkConfig


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
