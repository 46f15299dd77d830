"""Host syncs: the counting backend (fpkit.syncs), the cadence of the engine's loops (sync_every),
and the number of syncs per step they make, pinned."""

import math
import warnings

import numpy as np
import pytest

from fpkit import Ensemble, EngineSettings, NetworkConfig, find_fixed_points, iterate_map, to_numpy
from fpkit.engine import ActiveBlock, continuation_search, newton_search, polish, shooting_search, uniform_starts
from fpkit.syncs import SYNC_KINDS, CountingNamespace, SyncCounter, counting_ensemble


def _ensemble(N=6, L=3, E=5, seed=1, law="cauchy", scale=2.0):
    return Ensemble.sample(NetworkConfig(N=N, L=L, law=law, scale=scale, activation="tanh"), E, seed=seed)


# --------------------------------------------------------------------------- the counting namespace


def test_counting_namespace_counts_every_kind_of_sync_and_nothing_else():
    ns = CountingNamespace()
    a = ns.asarray(np.arange(6.0))
    assert dict(ns.counter.counts) == {"upload": 1}
    c = ns.counter
    c.reset()
    # work that stays on the device: no sync
    b = ns.exp(a) + 1.0
    mask = a > 2
    s = a.sum()
    first = a[1]
    picked = a[ns.asarray(np.array([0, 2]))]
    chosen = ns.where(mask, a, 0.0)
    top = b.max(axis=0)
    assert c.syncs == 0 and c.counts["upload"] == 1
    for x in (b, mask, s, first, picked, chosen, top):
        assert isinstance(x, ns.ndarray)  # reductions and scalar indexing give 0-d arrays, as on CuPy
    assert s.ndim == 0 and first.ndim == 0
    # conversions
    assert bool(mask.any()) and int(a.max()) == 5 and float(first) == 1.0 and s.item() == 15.0
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and ns.array_equal(a, a)
    assert c.counts["conversion"] == 6
    # copies to the host
    assert isinstance(to_numpy(a), np.ndarray) and not isinstance(to_numpy(a), ns.ndarray)
    ns.asnumpy(a)
    assert c.counts["copy"] == 3
    # data-dependent shapes
    ns.nonzero(mask)
    mask.nonzero()
    ns.flatnonzero(mask)
    ns.argwhere(mask)
    ns.unique(a)
    ns.where(mask)
    a[mask]
    a[mask] = 0.0
    assert c.counts["shape"] == 8
    assert c.syncs == 6 + 3 + 8
    assert set(c.counts) <= set(SYNC_KINDS) | {"upload"}
    assert c.syncs_in("test_counting_namespace_counts_every_kind_of_sync_and_nothing_else") == c.syncs


def test_strict_namespace_refuses_host_arrays_as_cupy_does():
    ns = CountingNamespace()
    a = ns.ones(4)
    for bad in (lambda: a + np.ones(4), lambda: ns.concatenate([a, np.ones(2)]),
                lambda: ns.where(np.ones(4, dtype=bool), a, 0.0), lambda: ns.exp(np.ones(4))):
        with pytest.raises(TypeError, match="plain NumPy array"):
            bad()
    a * np.float64(2.0) + 3  # scalars are fine
    lax = CountingNamespace(strict=False)
    (lax.ones(4) + np.ones(4)).sum()
    assert lax.counter.counts["host operand"] == 1 and lax.counter.syncs == 0
    with pytest.raises(TypeError, match="strict"):
        CountingNamespace(strict="yes")
    with pytest.raises(TypeError, match="counter"):
        CountingNamespace(counter={})
    with pytest.raises(ValueError, match="kind"):
        SyncCounter().record("other")


def test_counting_ensemble_runs_the_engine_with_numpys_numbers_bit_for_bit():
    ens = _ensemble()
    x0 = uniform_starts(ens, 24, seed=2)
    dev, ns = counting_ensemble(ens)
    a = iterate_map(ens, x0, max_iter=400)
    b = iterate_map(dev, ns.asarray(x0), max_iter=400)
    for name in ("limit", "iterations", "status", "period", "step"):
        assert np.array_equal(getattr(a, name), to_numpy(getattr(b, name)))
    for fn in (lambda e, x: polish(e, x), lambda e, x: newton_search(e, x[:, :8])):
        for want, got in zip(fn(ens, np.clip(a.limit + 1e-4, -0.99, 0.99)),
                             fn(dev, ns.asarray(np.clip(a.limit + 1e-4, -0.99, 0.99)))):
            assert np.array_equal(want, to_numpy(got))
    c1, c2 = continuation_search(ens, a.limit[:, :3]), continuation_search(dev, ns.asarray(a.limit[:, :3]))
    for name in ("x", "status", "steps", "rejected", "error"):
        assert np.array_equal(getattr(c1, name), getattr(c2, name), equal_nan=True)


def test_the_census_on_the_counting_namespace_is_numpys_and_mixes_no_host_arrays():
    """Every stage of a census (iteration, adaptive starts, Newton, shooting, continuation) runs on a
    strict counting namespace (a NumPy array where a device array belongs would be a TypeError, as on
    CuPy) and reproduces the NumPy census bit for bit; with sync_every = 8 the iteration makes fewer
    syncs."""
    ens = _ensemble(E=4)
    kw = dict(seed=0, n_starts=32, max_starts=96, newton=True, census=True, max_iter=600, continuation_steps=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # incomplete networks: not what is tested here
        want = find_fixed_points(ens, **kw)
        dev, ns = counting_ensemble(ens)
        got = find_fixed_points(dev, **kw)
        at_one = ns.counter.syncs_in("sync", "active.py")
        ns.counter.reset()
        find_fixed_points(dev, sync_every=8, **kw)
    for name in ("x", "fp_network", "attractor", "status", "iterations", "limit", "eigenvalues", "basin_count",
                 "pairs_closed", "found_by"):
        assert np.array_equal(getattr(want, name), getattr(got, name), equal_nan=name != "found_by"), name
    assert ns.counter.syncs_in("sync", "active.py") < at_one / 2


# --------------------------------------------------------------------------- the active block on a cadence


@pytest.mark.parametrize("seed", range(6))
def test_active_block_on_a_cadence_reports_each_finished_item_once(seed):
    rng = np.random.default_rng(seed)
    E, M = int(rng.integers(1, 6)), int(rng.integers(1, 9))
    block = ActiveBlock(np, E, M, shrink=float(rng.uniform(0.3, 0.95)))
    alive = np.ones((E, M), dtype=bool)
    payload = np.arange(E * M).reshape(E, M)  # travels with the items
    pending = []
    for step in range(40):
        done = block.valid & (rng.random(block.shape) < 0.15)
        r, c = np.nonzero(done)
        pending += list(zip(block.networks[r].tolist(), block.item[r, c].tolist()))
        block.finish(done)
        if step % 3:
            continue
        rows, cols, nets, items = block.sync()
        assert sorted(zip(nets.tolist(), items.tolist())) == sorted(pending)  # each once, exactly those
        np.testing.assert_array_equal(payload[rows, cols], nets * M + items)
        alive[nets, items] = False
        pending = []
        plan = block.pack()
        if plan is False:
            assert not alive.any()
            return
        if plan is not None:
            payload = plan.per_item(payload)
        r, c, n, i = block.unfinished()
        assert sorted(zip(n.tolist(), i.tolist())) == sorted(zip(*np.nonzero(alive)))
        np.testing.assert_array_equal(payload[r, c], n * M + i)
        assert block.left == alive.sum()


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (1025, ValueError), (1.5, TypeError),
                                        ("8", TypeError), (True, TypeError)])
def test_sync_every_is_a_checked_setting(bad, error):
    with pytest.raises(error, match="sync_every"):
        EngineSettings(sync_every=bad)
    ens = _ensemble(E=1)
    with pytest.raises(error, match="sync_every"):
        polish(ens, np.zeros((1, 1, 6)), sync_every=bad)
    with pytest.raises(error, match="sync_every"):
        newton_search(ens, np.zeros((1, 1, 6)), sync_every=bad)
    with pytest.raises(error, match="sync_every"):
        continuation_search(ens, sync_every=bad)


# --------------------------------------------------------------------------- results do not depend on the cadence


@pytest.mark.parametrize("every", [3, 8, 20])
def test_iteration_outcomes_do_not_depend_on_the_cadence(every):
    """Statuses, periods and step counts are decided at the step they happen: the same for every
    sync_every; limits agree to the rounding of a block packed at other steps."""
    for law, scale in (("cauchy", 2.0), ("gaussian", 3.0)):
        ens = _ensemble(N=8, E=6, law=law, scale=scale, seed=5)
        x0 = uniform_starts(ens, 40, seed=3)
        a = iterate_map(ens, x0, max_iter=700)
        b = iterate_map(ens, x0, max_iter=700, sync_every=every)
        assert len(np.unique(a.status)) >= 2  # converged starts and cycles (or unfinished) both occur
        for name in ("status", "period", "iterations"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_allclose(b.limit, a.limit, rtol=0, atol=1e-13)


@pytest.mark.parametrize("every", [2, 8])
def test_polish_and_continuation_are_the_same_at_every_cadence(every):
    ens = _ensemble(E=4, seed=7)
    x0 = uniform_starts(ens, 16, seed=1)
    lim = iterate_map(ens, x0).limit
    for want, got in zip(polish(ens, lim + 1e-6), polish(ens, lim + 1e-6, sync_every=every)):
        np.testing.assert_array_equal(want, got)
    a = continuation_search(ens, lim[:, :4])
    b = continuation_search(ens, lim[:, :4], sync_every=every)
    for name in ("x", "z", "status", "steps", "rejected", "residual", "error"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_newton_search_finds_roots_at_every_cadence():
    """Deflated Newton is chaotic (a start's end can change with the rounding of a differently packed
    block), so per-start outcomes are not compared; every reported root must be one, and on small
    networks both cadences find the same distinct roots."""
    ens = _ensemble(N=3, L=2, E=4, seed=2, scale=3.0)
    x0 = uniform_starts(ens, 48, seed=4)
    found = []
    for every in (1, 8):
        x, res = newton_search(ens, x0, sync_every=every)
        ok = res <= 1e-12
        gap = np.abs(ens.forward(x) - x).max(axis=-1)
        assert np.all(gap[ok] <= 1e-11)
        found.append({(e, tuple(np.round(p, 6))) for e, p in zip(np.nonzero(ok)[0], x[ok])})
    assert found[0] == found[1] and len(found[0]) >= 4


# --------------------------------------------------------------------------- syncs per step, pinned


def _on_counting(ens):
    dev, ns = counting_ensemble(ens)
    ns.counter.reset()
    return dev, ns, ns.counter


@pytest.mark.parametrize("every", [1, 3, 8])
def test_iteration_makes_one_sync_per_cadence(every):
    """At most one sync per ``sync_every`` steps (plus two per call: the starts' check and the step cap)."""
    ens = _ensemble(N=8, E=6, seed=5)
    dev, ns, c = _on_counting(ens)
    x0 = ns.asarray(uniform_starts(ens, 40, seed=3))
    c.reset()
    res = iterate_map(dev, x0, max_iter=300, sync_every=every)
    steps = int(to_numpy(res.iterations).max())
    assert steps > 20
    assert c.syncs_in("sync", "active.py") == math.ceil(steps / every)
    assert math.ceil(steps / every) <= c.syncs <= math.ceil(steps / every) + 3


def test_mixed_precision_makes_one_sync_per_cadence_in_each_stage():
    ens = _ensemble(N=8, E=6, seed=5)
    dev, ns, c = _on_counting(ens)
    x0 = ns.asarray(uniform_starts(ens, 40, seed=3))
    c.reset()
    iterate_map(dev, x0, max_iter=300, precision="mixed", float32_steps=40, sync_every=8)
    # the float32 stage ends by step 40 (5 syncs); the float64 stage runs at most 300 steps
    assert c.syncs_in("sync", "active.py") <= math.ceil(40 / 8) + math.ceil(300 / 8)
    assert c.syncs <= c.syncs_in("sync", "active.py") + 6


@pytest.mark.parametrize("every", [1, 4])
def test_polish_makes_one_sync_per_cadence(every):
    """The engine's own: one per ``sync_every`` steps; fpkit.network's Jacobian adds two per step (its
    check of the points and its overflow test)."""
    ens = _ensemble(E=4, seed=7)
    lim = iterate_map(ens, uniform_starts(ens, 16, seed=1)).limit
    dev, ns, c = _on_counting(ens)
    x = ns.asarray(np.clip(lim + 1e-3, -0.99, 0.99))
    c.reset()
    polish(dev, x, tol=1e-300, max_iter=12, sync_every=every)  # tol unreachable: stops when nothing improves
    jacobians = c.syncs_in("forward_with_jacobian", "network.py")
    assert c.syncs_in("_polish") <= math.ceil(12 / every)
    assert jacobians <= 12
    assert c.syncs <= c.syncs_in("_polish") + jacobians + c.syncs_in("check_points", "network.py") + 2


@pytest.mark.parametrize("every", [1, 4, 8])
@pytest.mark.parametrize("search", ["newton", "shooting"])
def test_newton_searches_make_a_sync_per_cadence_and_per_cadence_of_halvings(every, search):
    """Per step: the block is read once per ``sync_every`` steps, and the line search asks once per
    ``sync_every`` halvings (not after the last); newton_search's Jacobian (fpkit.network) adds two."""
    ens = _ensemble(E=4, seed=3)
    dev, ns, c = _on_counting(ens)
    E, L, N = ens.shape
    steps, halvings = 15, 6
    if search == "newton":
        x = ns.asarray(uniform_starts(ens, 12, seed=0))
        run = lambda: newton_search(dev, x, tol=1e-300, patience=None, max_iter=steps, max_halvings=halvings,
                                    sync_every=every)
    else:
        H = ns.asarray(np.random.default_rng(0).uniform(-0.99, 0.99, (E, 12, L, N)))
        run = lambda: shooting_search(dev, H, tol=1e-300, patience=None, max_iter=steps, max_halvings=halvings,
                                      sync_every=every)
    c.reset()
    run()
    block = c.syncs_in("sync", "active.py")
    line_search = c.syncs_in("step", "newton.py")
    assert block == math.ceil(steps / every) + 1  # + the last read, after the loop
    assert line_search <= steps * (halvings // every)
    others = c.syncs - block - line_search - c.syncs_in("forward_with_jacobian", "network.py") \
        - c.syncs_in("check_points", "network.py")
    assert others <= 4  # the checks of the arguments
    if search == "shooting":
        assert c.syncs_in("forward_with_jacobian", "network.py") == 0


@pytest.mark.parametrize("every", [1, 8])
def test_continuation_reads_the_arcs_once_per_cadence(every):
    """The main branch alone (one arc per network: no meeting test): the host reads the arcs once per
    ``sync_every`` attempts; the corrector asks at most 4 times per attempt (after its 2nd to 5th
    iterations); nothing else in the loop."""
    ens = _ensemble(E=4, seed=7)
    dev, ns, c = _on_counting(ens)
    res = continuation_search(dev, sync_every=every)
    attempts = int(res.steps.max())
    assert attempts > 10
    loop = c.syncs_in("sync", "arcs.py")
    assert loop <= math.ceil(attempts / every) + 1
    assert c.syncs_in("_predict_correct", "arcs.py") <= 4 * math.ceil(attempts / every) * every
    c.reset()
    continuation_search(dev, sync_every=every, max_steps=attempts)
    assert c.syncs_in("follow", "arcs.py") <= 4  # the outcomes come back once, after the loop


def test_continuation_with_meeting_arcs_reads_once_per_attempt():
    """Arcs of one network that could meet need the host after every attempt: one copy (alive and the
    meeting screen together), whatever sync_every."""
    ens = _ensemble(E=3, seed=11)
    lim = iterate_map(ens, uniform_starts(ens, 32, seed=2)).limit
    dev, ns, c = _on_counting(ens)
    res = continuation_search(dev, ns.asarray(lim[:, :3]), sync_every=8)
    assert c.syncs_in("sync", "arcs.py") <= int(res.steps.max())
