"""The benchmark implementations compute the same thing as the engine (speed is not tested here)."""

import numpy as np
import pytest

from fpkit import CAUCHY_REGIME, GAUSSIAN_REGIME
from fpkit.backend import to_numpy
from fpkit.bench import (compare, cost_law, flops_per_step, matmul_roofline, python_loop_iterate,
                         steady_iteration, torch_iterate)
from fpkit.engine import iterate_map, uniform_starts
from fpkit.network import Ensemble


@pytest.fixture(params=["tanh", "logistic"])
def setup(request):
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=6, L=3, activation=request.param), 4, seed=0)
    return ens, uniform_starts(ens, 16, seed=1)


def test_python_loop_matches_engine(setup):
    ens, x0 = setup
    it = iterate_map(ens, x0, max_period=1)
    sub = np.array([0, 5, 17, 63])
    loop = python_loop_iterate(ens, x0, subset=sub)
    assert np.max(np.abs(to_numpy(it.limit).reshape(-1, 6)[sub] - loop)) < 1e-9


def test_torch_matches_engine_including_iteration_counts(setup):
    pytest.importorskip("torch")
    ens, x0 = setup
    it = iterate_map(ens, x0, max_period=1)
    limit, iters = torch_iterate(ens, x0)
    assert np.max(np.abs(to_numpy(it.limit) - limit)) < 1e-12
    assert np.array_equal(to_numpy(it.iterations), iters)


def test_torch_handles_starts_that_never_settle():
    pytest.importorskip("torch")
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=5, L=2), 6, seed=3)
    x0 = uniform_starts(ens, 12, seed=4)
    it = iterate_map(ens, x0, max_period=1, max_iter=60)
    limit, iters = torch_iterate(ens, x0, max_iter=60)
    assert np.array_equal(to_numpy(it.iterations), iters)
    assert np.max(np.abs(to_numpy(it.limit) - limit)) < 1e-12


def test_steady_iteration_runs_exactly_the_requested_steps(setup):
    ens, x0 = setup
    x = x0
    for _ in range(3):
        x = ens.forward(x)
    assert np.allclose(steady_iteration(ens, x0, 3), x, atol=0, rtol=0)
    assert matmul_roofline(ens, x0, 2).shape == x0.shape
    assert flops_per_step(2, 3, 4, 5) == 2 * 2 * 3 * 5 * 16


def test_cost_law_table_and_compare():
    law = cost_law(widths=(4, 8), depths=(1, 2), sizes=(32, 64), base_N=4, base_L=2, base_size=32,
                   steps=2, repeats=1)
    assert set(law["axis"]) == {"N", "L", "EM"} and len(law) == 6
    assert (law["seconds_per_step"] > 0).all()
    secs, out = compare({"a": lambda: 1, "b": lambda: 2}, repeats=2)
    assert out == {"a": 1, "b": 2} and set(secs) == {"a", "b"}
    with pytest.raises(ValueError, match="repeats"):
        compare({"a": lambda: 1}, repeats=0)
