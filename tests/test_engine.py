"""The engine's machinery: the active block, the in-place forward kernel, threads, check intervals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpkit import CAUCHY_REGIME, GAUSSIAN_REGIME, Ensemble
from fpkit.engine import STATUS, ActiveBlock, iterate_map, uniform_starts

from test_network import reference_forward, REFERENCE_PHI


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 9), st.lists(st.integers(0, 10_000), min_size=1, max_size=8),
       st.floats(0.3, 0.95))
def test_active_block_keeps_every_unfinished_item_once(E, M, seeds, shrink):
    """Retire random items step by step; after every compaction the block holds exactly the
    unfinished (network, item) pairs, each once, in their original order within a row."""
    rng = np.random.default_rng(seeds[0])
    block = ActiveBlock(np, E, M, shrink=shrink)
    alive = np.ones((E, M), dtype=bool)
    payload = np.arange(E * M).reshape(E, M)  # an array that travels with the items
    for _ in range(len(seeds) * 3):
        done = block.valid & (rng.random(block.shape) < 0.3)
        rows, cols, nets, items = block.retire(done)
        assert np.all(alive[nets, items])
        alive[nets, items] = False
        plan = block.compact()
        if plan is False:
            assert not alive.any()
            return
        if plan is not None:
            payload = plan.per_item(payload)
        r, c, n, i = block.remaining()
        assert sorted(zip(n.tolist(), i.tolist())) == sorted(zip(*np.nonzero(alive)))
        np.testing.assert_array_equal(payload[r, c], n * M + i)  # arrays stay aligned with items
        for row in range(block.shape[0]):
            items_in_row = block.item[row][block.valid[row]]
            assert np.all(np.diff(items_in_row) > 0)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "algebraic", "erf"])
def test_forward_kernel_matches_a_plain_reference_in_any_number_of_threads(activation, monkeypatch):
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=7, L=5, activation=activation), 6, seed=1)
    x = np.random.default_rng(2).uniform(-1, 1, (6, 40, 7))
    from scipy import special

    phi = {"logistic": special.expit, "erf": special.erf}.get(activation) or REFERENCE_PHI[activation]
    ref = reference_forward(ens.weights, ens.biases, phi, x)
    outs = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("FPKIT_NUM_THREADS", threads)
        out = np.empty_like(x)
        ens.forward_into(x, out, np.empty_like(x))
        outs.append(out)
    np.testing.assert_allclose(outs[0], ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(outs[0], outs[1])  # each network in one thread: bitwise equal
    np.testing.assert_array_equal(outs[0], outs[2])


def test_iteration_does_not_depend_on_threads_or_the_cycle_check_interval(monkeypatch):
    """Converged starts: identical limits and step counts whether cycles are looked for every step
    or every 16, and in one thread or two; cycle starts: the same periods."""
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=6, L=3), 20, seed=4)
    x0 = uniform_starts(ens, 64, seed=5)
    monkeypatch.setenv("FPKIT_NUM_THREADS", "1")
    a = iterate_map(ens, x0, cycle_check_every=1, max_iter=500)
    monkeypatch.setenv("FPKIT_NUM_THREADS", "2")
    b = iterate_map(ens, x0, cycle_check_every=16, max_iter=500)
    conv = a.status == STATUS["converged"]
    assert conv.any() and (a.status == STATUS["cycle"]).any()
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.iterations[conv], b.iterations[conv])
    np.testing.assert_array_equal(a.limit[conv], b.limit[conv])
    cyc = a.status == STATUS["cycle"]
    np.testing.assert_array_equal(a.period[cyc], b.period[cyc])
    # a cycle is seen later, but soon: the orbit approaches the cycle geometrically, so its return
    # distance can still exceed tol at the first check after every-step checking saw it (the
    # phases of a cycle contract at different rates); within two check intervals here
    assert np.all((b.iterations[cyc] >= a.iterations[cyc]) & (b.iterations[cyc] <= a.iterations[cyc] + 32))
    assert np.all(b.iterations[cyc] % 16 == 0)


def test_iteration_limits_are_fixed_points_to_the_tolerance():
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=12, L=4), 8, seed=6)
    it = iterate_map(ens, uniform_starts(ens, 50, seed=7), tol=1e-11)
    assert np.all(it.status == STATUS["converged"])
    step = np.abs(ens.forward(it.limit) - it.limit).max(axis=-1)
    # the recorded step is |x_k - x_{k-1}| < tol; one more step moves the limit by less still
    assert np.all(it.step < 1e-11) and np.all(step <= it.step + 1e-15)
