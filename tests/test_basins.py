"""Basins of attraction (fpkit.engine.basins): fractions, maps, the attractors around a point."""

import numpy as np
import pytest

from conftest import LAST_BIT, cauchy_ensemble, one_unit
from fpkit.engine import attractors_near, basin_fractions, basin_map, find_fixed_points


@pytest.mark.parametrize("noise_seed", LAST_BIT)
def test_basin_fractions_with_confidence_intervals(noise_seed):
    ens = one_unit(8.0, -4.0, noise_seed=noise_seed)  # two attractors, symmetric about 1/2 (up to the last bit)
    res = find_fixed_points(ens, n_starts=400, seed=0)
    frac = basin_fractions(res)
    assert frac["fraction"].sum() == pytest.approx(1.0)
    attr = frac[frac["attractor"] >= 0]
    assert len(attr) == 2
    assert ((attr["ci_low"] < 0.5) & (attr["ci_high"] > 0.5)).all()


@pytest.mark.parametrize("noise_seed", LAST_BIT)
def test_attractors_near_detects_a_basin_boundary(noise_seed):
    """x -> sigma(8x - 4): the repelling 1/2 separates the two basins; the attractors do not (also with
    the weights changed in their last bit, where the repeller is 1/2 up to rounding)."""
    ens = one_unit(8.0, -4.0, noise_seed=noise_seed)
    res = find_fixed_points(ens, n_starts=64, seed=0, newton=True)
    counts = attractors_near(ens, res.x, res.fp_network, radius=1e-3, n_probe=16, seed=0)
    assert counts[~res.stable].tolist() == [2]
    assert counts[res.stable].tolist() == [1, 1]


def test_basin_map_where_nothing_converges():
    """Defect 2: basin_map raised IndexError when no start of the network converged."""
    ens = cauchy_ensemble()
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
        basin_map(cauchy_ensemble(), args.pop("network"), args.pop("origin"), args.pop("u"), args.pop("v_dir"),
                  max_iter=5, **args)
