import numpy as np
import pandas as pd
import pytest

from fpkit.network import NetworkConfig
from fpkit.regimes import CAUCHY_REGIME, GAUSSIAN_REGIME, explore_regimes, summarize_regimes
from fpkit.sweep import config_grid, config_seed, run_sweep


def test_config_grid_is_the_product():
    cfgs = config_grid({"N": 4, "law": "cauchy"}, L=[1, 2, 3], scale=[1.0, 2.0])
    assert len(cfgs) == 6
    assert {(c.L, c.scale) for c in cfgs} == {(a, b) for a in (1, 2, 3) for b in (1.0, 2.0)}
    assert all(c.N == 4 and c.law == "cauchy" for c in cfgs)


def test_config_seed_depends_on_config_only():
    a, b = NetworkConfig(N=3, L=1), NetworkConfig(N=3, L=2)
    s1 = config_seed(0, a).generate_state(2)
    assert np.array_equal(s1, config_seed(0, a).generate_state(2))
    assert not np.array_equal(s1, config_seed(0, b).generate_state(2))
    assert not np.array_equal(s1, config_seed(1, a).generate_state(2))


def test_sweep_rows_and_order_independence():
    cfgs = config_grid({"N": 3, "law": "cauchy", "activation": "tanh"}, L=[1, 2])
    df = run_sweep(cfgs, n_networks=3, n_starts=8, seed=5, progress=False)
    assert len(df) == 6 and set(df["L"]) == {1, 2}
    assert {"Q", "unstable_fixed_points", "cycle_starts", "not_converged_starts", "basin_entropy",
            "mean_iterations", "seconds"} <= set(df.columns)
    rev = run_sweep(cfgs[::-1], n_networks=3, n_starts=8, seed=5, progress=False)
    key = ["L", "network"]
    cols = ["Q", "cycle_starts", "not_converged_starts", "basin_entropy"]
    pd.testing.assert_frame_equal(df.sort_values(key)[cols].reset_index(drop=True),
                                  rev.sort_values(key)[cols].reset_index(drop=True))


def test_grid_seeding():
    cfgs = [NetworkConfig(N=2, L=1, law="cauchy", activation="tanh")]
    df = run_sweep(cfgs, n_networks=2, n_starts=16, seed=0, seeding="grid", progress=False)
    assert (df["n_starts"] == 16).all()
    with pytest.raises(ValueError, match="seeding"):
        run_sweep(cfgs, n_networks=2, n_starts=16, seed=0, seeding="sobol", progress=False)


def test_regime_exploration_summary():
    axes = {"activation": ["tanh"], "scale": [4.0], "L": [1, 2]}
    table = explore_regimes(n_networks=4, n_starts=8, seed=0, N=3, axes=axes, progress=False)
    summary = summarize_regimes(table, by=["activation", "scale", "L"])
    assert len(summary) == 2
    assert summary["networks"].tolist() == [4, 4]
    assert ((summary["p_multi"] >= 0) & (summary["p_multi"] <= 1)).all()
    assert np.allclose(summary["mean_Q"], table.groupby("L")["Q"].mean().to_numpy())


def test_default_regimes_are_documented_configs():
    assert CAUCHY_REGIME.law == "cauchy" and GAUSSIAN_REGIME.law == "gaussian"
    assert CAUCHY_REGIME.activation == GAUSSIAN_REGIME.activation
