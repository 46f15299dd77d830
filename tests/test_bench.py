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


class _CountingNumPy:
    """NumPy, except that matmul counts the floating-point operations of what it multiplies."""

    def __init__(self):
        self.flops = 0

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, a, b, out=None):
        out = np.matmul(a, b, out=out)
        self.flops += 2 * out.size * a.shape[-1]  # one multiply and one add per inner term
        return out


def test_flops_per_step_counts_the_products_the_roofline_runs(setup):
    ens, x0 = setup
    counting = _CountingNumPy()
    ens._m = counting  # this ensemble's array module only (the fixture builds a new one per test)
    steps = 3
    last = matmul_roofline(ens, x0, steps)
    E, M, N = x0.shape
    assert counting.flops == steps * flops_per_step(E, M, N, ens.depth)
    # and what it computes is the last layer's product, x W_L^T
    np.testing.assert_allclose(last, np.matmul(x0, np.swapaxes(ens.weights[:, -1], -1, -2)))


class _Clock:
    """A perf_counter that advances by scripted durations, one per timed call."""

    def __init__(self, durations):
        self.durations = list(durations)
        self.now = 0.0
        self.started = False

    def perf_counter(self):
        if self.started:
            self.now += self.durations.pop(0)
        self.started = not self.started
        return self.now


def test_compare_keeps_the_best_of_interleaved_runs(monkeypatch):
    import fpkit.bench as bench

    order = []
    # a: 5 then 2 seconds, b: 3 then 4 seconds, called a, b, a, b
    monkeypatch.setattr(bench, "time", _Clock([5.0, 3.0, 2.0, 4.0]))
    secs, out = compare({"a": lambda: order.append("a") or 1, "b": lambda: order.append("b") or 2}, repeats=2)
    assert order == ["a", "b", "a", "b"]
    assert secs == {"a": 2.0, "b": 3.0} and out == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="repeats"):
        compare({"a": lambda: 1}, repeats=0)


class _CallClock:
    """A perf_counter that only moves when a timed function runs (each call takes ``cost``)."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def test_compare_times_each_call_after_its_warmup(monkeypatch):
    import fpkit.bench as bench

    clock = _CallClock()
    monkeypatch.setattr(bench, "time", clock)
    calls = []

    def make(name, cost):
        def fn():
            calls.append(name)
            clock.now += cost
            return name
        return fn

    # warm-up 0.25 s: a (0.1 s a call) is called 3 times untimed, b (0.3 s) once, before each timed call
    secs, out = compare({"a": make("a", 0.1), "b": make("b", 0.3)}, repeats=2, warmup=0.25)
    assert calls == (["a"] * 4 + ["b"] * 2) * 2
    assert secs == pytest.approx({"a": 0.1, "b": 0.3}) and out == {"a": "a", "b": "b"}
    calls.clear()
    compare({"a": make("a", 0.1)}, repeats=3)  # no warm-up by default
    assert calls == ["a"] * 3
    for bad in (-0.1, float("nan"), 61.0):
        with pytest.raises(ValueError, match="warmup"):
            compare({"a": lambda: 1}, warmup=bad)
    with pytest.raises(TypeError, match="warmup"):
        compare({"a": lambda: 1}, warmup="1")
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=3, L=1), 1, seed=0)
    with pytest.raises(ValueError, match="warmup"):
        bench.activation_share(ens, uniform_starts(ens, 2, seed=0), 1, warmup=-1.0)


def test_cost_law_table_follows_its_grid_and_the_best_times(monkeypatch):
    import fpkit.bench as bench

    widths, depths, sizes = (4, 8), (1, 2), (32, 64)
    n_points = len(widths) + len(depths) + len(sizes)
    # every point is timed twice, engine and roofline interleaved; the second runs are faster
    # (engine 0.5 s, roofline 0.4 s for 2 steps)
    monkeypatch.setattr(bench, "time", _Clock([1.0, 0.8, 0.5, 0.4] * n_points))
    law = cost_law(widths=widths, depths=depths, sizes=sizes, base_N=4, base_L=2, base_size=32,
                   steps=2, repeats=2)
    assert law["axis"].tolist() == ["N", "N", "L", "L", "EM", "EM"]
    assert law["N"].tolist() == [4, 8, 4, 4, 4, 4] and law["L"].tolist() == [2, 2, 1, 2, 2, 2]
    assert law["EM"].tolist() == [32, 32, 32, 32, 32, 64]
    np.testing.assert_allclose(law["seconds_per_step"], 0.25)
    np.testing.assert_allclose(law["roofline_seconds_per_step"], 0.2)
    np.testing.assert_allclose(law["efficiency"], 0.8)
    np.testing.assert_allclose(law["seconds_per_unit"], 0.25 / law["EM"])
    expected = [flops_per_step(16, em // 16, n, depth) / 0.25 / 1e9
                for n, depth, em in zip(law["N"], law["L"], law["EM"])]
    np.testing.assert_allclose(law["gflops"], expected)


def test_syncs_per_step_counts_one_loop_read_per_cadence():
    """The iteration reads the device's mask once per step at sync_every 1 and once per 8 steps at 8
    (counted on the counting backend); bad cadences get clear errors."""
    from fpkit.bench import cadence_timing, syncs_per_step

    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=4, L=2), 3, seed=5)
    x0 = np.random.default_rng(6).uniform(-1.0, 1.0, (3, 5, 4))
    table = syncs_per_step(ens, x0, sync_every=(1, 8), stages=("iteration",))
    one, eight = table.iloc[0], table.iloc[1]
    assert one.steps == eight.steps > 8
    assert one.loop_syncs <= one.steps + 1
    assert eight.loop_syncs <= -(-eight.steps // 8) + 1 < one.loop_syncs
    timing = cadence_timing(ens, x0, sync_every=(1, 8), repeats=1, max_iter=500)
    assert list(timing.sync_every) == [1, 8] and (timing.seconds > 0).all()
    with pytest.raises(ValueError, match="sync_every"):
        syncs_per_step(ens, x0, sync_every=())
    with pytest.raises(TypeError, match="sync_every"):
        syncs_per_step(ens, x0, sync_every="8")
    with pytest.raises(ValueError, match="sync_every"):
        syncs_per_step(ens, x0, sync_every=(0,))
