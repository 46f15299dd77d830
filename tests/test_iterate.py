"""The engine's machinery: the active block, the in-place forward kernel, threads, check intervals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpkit import CAUCHY_REGIME, GAUSSIAN_REGIME, Ensemble
from fpkit.engine import STATUS, ActiveBlock, iterate_map, uniform_starts

from conftest import REFERENCE_PHI, reference_forward


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


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 7), st.integers(0, 10_000), st.integers(1, 3))
def test_compaction_gathers_whole_items_into_place(E, M, seed, axis):
    """per_item (one gather through flat indices, with or without ``out``) equals the plain
    definition: entry [.., r, c, ..] of the result is entry [.., rows[r], order[r, c], ..]."""
    rng = np.random.default_rng(seed)
    block = ActiveBlock(np, E, M, shrink=1.0)
    block.retire(rng.random((E, M)) < 0.5)
    plan = block.compact()
    if not plan:
        return
    shape = (3,) * (axis - 1) + (E, M) + (2,) * (3 - axis)
    a = rng.standard_normal(shape)
    want = np.empty(shape[:axis - 1] + plan.order.shape + shape[axis + 1:])
    for r, row in enumerate(plan.rows):
        for c, col in enumerate(plan.order[r]):
            want[(slice(None),) * (axis - 1) + (r, c)] = a[(slice(None),) * (axis - 1) + (row, col)]
    np.testing.assert_array_equal(plan.per_item(a, axis=axis), want)
    out = np.full_like(want, np.nan)
    assert plan.per_item(a, axis=axis, out=out) is out
    np.testing.assert_array_equal(out, want)
    with pytest.raises(ValueError, match="out must be a C-contiguous array"):
        plan.per_item(a, axis=axis, out=np.empty(want.shape[::-1]).T)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "algebraic", "erf"])
def test_forward_kernel_matches_a_plain_reference_in_any_number_of_threads(activation, monkeypatch):
    # 2 E M N^2 L = 5.9e6 operations: above the 4e6 below which the kernel stays in one thread
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=7, L=5, activation=activation), 6, seed=1)
    x = np.random.default_rng(2).uniform(-1, 1, (6, 2000, 7))
    from scipy import special

    phi = {"logistic": special.expit, "erf": special.erf}.get(activation) or REFERENCE_PHI[activation]
    ref = reference_forward(ens.weights, ens.biases, phi, x)
    outs = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("FPKIT_NUM_THREADS", threads)
        out, diff, sq = np.empty_like(x), np.empty_like(x), np.empty(x.shape[:2])
        ens.forward_into(x, out, np.empty_like(x), step=(diff, sq))
        np.testing.assert_array_equal(diff, out - x)  # the step, written beside F(x)
        np.testing.assert_allclose(sq, (diff**2).sum(axis=-1), rtol=1e-13)
        outs.append((out, diff, sq))
        plain = np.empty_like(x)
        ens.forward_into(x, plain, np.empty_like(x))
        np.testing.assert_array_equal(plain, out)
    np.testing.assert_allclose(outs[0][0], ref, rtol=1e-12, atol=1e-13)  # |F| <= 1; Cauchy weights amplify rounding
    for other in outs[1:]:  # each network in one thread: bitwise equal
        for got, want in zip(other, outs[0]):
            np.testing.assert_array_equal(got, want)


def test_the_ring_keeps_every_state_that_is_read_later():
    """Brute force over small schedules: after step k the ring must hold every x_j (j <= k) that a
    later step reads (x_{t-1} at step t, x_{K-p} at a cycle check K), and no more than its
    max(2, P + 1) slots. Checks are every ``every`` steps and at each step where starts run out
    of steps; ``iterate_map`` passes the next one."""
    from fpkit.engine.iterate import _history_needed

    for max_iter in range(1, 30):
        for ends in ({max_iter}, {max(1, max_iter // 3), max(1, max_iter // 2), max_iter}):
            for P in range(1, 6):
                for every in range(1, 7):
                    checks = [K for K in range(2, max_iter + 1) if P > 1 and (K % every == 0 or K in ends)]
                    for k in range(1, max_iter):
                        read = {k}  # step k + 1 reads x_k
                        read |= {K - p for K in checks if K > k for p in range(2, min(P, K) + 1) if K - p <= k}
                        K = min((k // every + 1) * every, min(e for e in ends if e > k))  # as iterate_map does
                        kept = set(_history_needed(k, K, P))
                        assert read <= kept, (max_iter, ends, P, every, k, read - kept)
                        assert max(kept) == k and len(kept) <= max(2, P + 1)


def test_states_the_ring_drops_are_never_read(monkeypatch):
    """Cycle detection on networks with many cycles: compaction that copies every state of the
    ring, against compaction that copies only the states it must and sets the others to NaN
    (a read of a dropped state would change the results)."""
    import fpkit.engine.iterate as it

    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=4, L=3), 60, seed=5)
    x0 = uniform_starts(ens, 50, seed=6)
    opts = dict(max_period=4, cycle_check_every=5, max_iter=400)
    needed, compact = it._history_needed, it._compact_ring
    monkeypatch.setattr(it, "_history_needed", lambda k, *a: range(max(k - 4, 0), k + 1))  # all 5 slots
    want = iterate_map(ens, x0, **opts)
    calls = []

    def poisoned(ring, plan, steps, slots, m):
        out = compact(ring, plan, steps, slots, m)
        for j in set(range(slots)) - {s % slots for s in steps}:
            out[j] = np.nan
        calls.append(len(steps))
        return out

    monkeypatch.setattr(it, "_history_needed", needed)
    monkeypatch.setattr(it, "_compact_ring", poisoned)
    got = iterate_map(ens, x0, **opts)
    assert (want.status == STATUS["cycle"]).sum() > 100 and len(calls) > 3 and min(calls) < 5
    for field in ("limit", "iterations", "status", "period", "step"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))


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


# ---------------------------------------------------------------------------- precision="mixed"
@pytest.mark.parametrize("activation", ["tanh", "logistic", "algebraic", "erf"])
def test_float32_forward_kernel_agrees_with_float64(activation, monkeypatch):
    """Float32 points go through float32 copies of the weights: F(x) and the step within float32
    rounding of the float64 kernel's, in float32, the same in one thread or two."""
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=7, L=5, activation=activation), 6, seed=1)
    x = np.random.default_rng(2).uniform(-1, 1, (6, 2000, 7))
    want = np.empty_like(x)
    ens.forward_into(x, want, np.empty_like(x))
    x32 = x.astype(np.float32)
    outs = []
    for threads in ("1", "2"):
        monkeypatch.setenv("FPKIT_NUM_THREADS", threads)
        out, diff, sq = np.empty_like(x32), np.empty_like(x32), np.empty(x.shape[:2], dtype=np.float32)
        ens.forward_into(x32, out, np.empty_like(x32), step=(diff, sq))
        assert out.dtype == diff.dtype == np.float32
        np.testing.assert_array_equal(diff, out - x32)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert np.abs(outs[0] - want).max() < 1e-5  # L = 5 layers of float32 rounding (~6e-8 each, times |W|)
    np.testing.assert_array_equal(ens.forward(x), want)  # float64 points are untouched by the copies


def test_float32_activations_keep_their_dtype_without_warnings():
    from fpkit.activations import SIGMOID_ACTIVATIONS, get_activation

    z = np.concatenate([np.float32([-3e38, -1e30, -1e5, 0.0, 1e5, 1e30, 3e38]),
                        np.linspace(-6, 6, 101, dtype=np.float32)])
    for name in SIGMOID_ACTIVATIONS:
        phi = get_activation(name)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            got = phi.value(z.copy(), np)
            inplace = z.copy()
            phi.value(inplace, np, out=inplace)
        assert got.dtype == inplace.dtype == np.float32
        np.testing.assert_array_equal(got, inplace)
        np.testing.assert_allclose(got, phi.value(z.astype(np.float64)), atol=2e-7, err_msg=name)
        with pytest.raises(ValueError, match="out must be a float32 array"):
            phi.value(z, np, out=np.empty(z.shape))


def test_preactivation_bound_holds():
    for law, scale in ((GAUSSIAN_REGIME, 1.0), (CAUCHY_REGIME, 3.0)):
        for L in (1, 4):
            ens = Ensemble.sample(law.replace(N=5, L=L, scale=scale), 10, seed=L)
            x = np.random.default_rng(0).uniform(-2, 2, (10, 500, 5))
            bound = ens.preactivation_bound(2.0)
            for layer in range(L):
                z = x @ np.swapaxes(ens.weights[:, layer], -1, -2) + ens.biases[:, layer, None, :]
                assert np.abs(z).max() <= bound
                x = ens.activation.value(z)
    with pytest.raises(ValueError, match="x_max"):
        ens.preactivation_bound(-1.0)


MIXED_CASES = {
    "gaussian N=32": (GAUSSIAN_REGIME.replace(N=32, L=8), 8, 128, {}),
    "cauchy N=10, cycles": (CAUCHY_REGIME.replace(N=10, L=6), 40, 64, {}),
    "cauchy N=4, period <= 3": (CAUCHY_REGIME.replace(N=4, L=3), 60, 50, {"max_period": 3, "cycle_check_every": 5}),
    "cauchy N=6, no cycle detection": (CAUCHY_REGIME.replace(N=6, L=12), 30, 40, {"max_period": 1, "max_iter": 300}),
}


@pytest.mark.parametrize("case", list(MIXED_CASES))
def test_mixed_precision_decides_every_orbit_in_float64(case):
    """Outside chaotic regimes the float32 stage changes no outcome: the same status and period for
    every start, converged limits within 2 tol of float64's that satisfy |F(x) - x| < tol in
    float64, step counts within 2 (the float64 stage refines from float32 accuracy); a cycle is
    seen within two check intervals of where float64 sees it (its float64 stage first refines
    onto the cycle, then checks every check_every of its own steps)."""
    cfg, E, M, opts = MIXED_CASES[case]
    ens = Ensemble.sample(cfg, E, seed=5)
    x0 = uniform_starts(ens, M, seed=6)
    a = iterate_map(ens, x0, **opts)
    b = iterate_map(ens, x0, precision="mixed", **opts)
    np.testing.assert_array_equal(b.status, a.status)
    np.testing.assert_array_equal(b.period, a.period)
    conv, cyc = a.status == STATUS["converged"], a.status == STATUS["cycle"]
    tol = 1e-10
    assert conv.sum() > 0.5 * E * M
    assert np.abs(b.limit - a.limit)[conv].max() < 2 * tol
    assert np.abs(ens.forward(b.limit) - b.limit).max(axis=-1)[conv].max() < tol
    assert np.all(b.step[conv] < tol) and np.abs(b.iterations - a.iterations)[conv].max() <= 2
    assert b.limit.dtype == np.float64 and b.step.dtype == np.float64
    every = opts.get("cycle_check_every", 16)
    assert np.all(np.abs(b.iterations - a.iterations)[cyc] <= 2 * every)


def test_mixed_precision_counts_every_step_towards_max_iter():
    """A start gets max_iter steps in all, float32 and float64 together: with max_iter below the
    float32 stage's cap, slow starts end not converged at exactly max_iter, with their last step;
    starts that converge do so in float64 (step < tol) within max_iter."""
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=8, L=4, scale=1.5), 30, seed=3)
    x0 = uniform_starts(ens, 40, seed=4)
    for max_iter, cap in ((25, 64), (25, 10), (40, 25), (300, 64)):
        r = iterate_map(ens, x0, precision="mixed", max_iter=max_iter, float32_steps=cap)
        conv, rest = r.status == STATUS["converged"], r.status == STATUS["not_converged"]
        assert np.all(r.iterations <= max_iter) and np.all(r.iterations[rest] == max_iter)
        assert np.all(r.step[conv] < 1e-10) and np.all(r.step[rest] >= 1e-10) and np.all(np.isfinite(r.step))
        ref = iterate_map(ens, x0, max_iter=max_iter)
        # where float64 converges well before max_iter, so does the mixed run
        assert np.all(r.status[(ref.status == 0) & (ref.iterations < max_iter - 2)] == STATUS["converged"])


def test_mixed_precision_falls_back_to_float64_for_huge_weights():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=5, L=3, scale=1e30), 10, seed=2)
    assert ens.preactivation_bound() > 1e30
    x0 = uniform_starts(ens, 20, seed=3)
    a, b = iterate_map(ens, x0), iterate_map(ens, x0, precision="mixed")
    for field in ("limit", "iterations", "status", "period", "step"):
        np.testing.assert_array_equal(getattr(b, field), getattr(a, field))


def test_mixed_precision_is_reproducible_and_validated():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=6, L=4), 10, seed=8)
    x0 = uniform_starts(ens, 30, seed=9)
    a, b = (iterate_map(ens, x0, precision="mixed", float32_tol=1e-5) for _ in range(2))
    for field in ("limit", "iterations", "status", "period", "step"):
        np.testing.assert_array_equal(getattr(b, field), getattr(a, field))
    from fpkit.engine import EngineSettings

    with pytest.raises(ValueError, match="precision"):
        EngineSettings(precision="float16")
    with pytest.raises(ValueError, match="float32_tol"):
        EngineSettings(float32_tol=1e-7)
    with pytest.raises(ValueError, match="float32_steps"):
        EngineSettings(float32_steps=0)


@pytest.mark.gpu
def test_iteration_on_cupy_agrees_with_numpy_in_both_precisions():
    cupy = pytest.importorskip("cupy")
    from fpkit.backend import to_numpy

    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=10, L=6), 20, seed=5, backend="numpy")
    x0 = uniform_starts(ens, 64, seed=6)
    on_gpu = Ensemble(cupy.asarray(ens.weights), cupy.asarray(ens.biases), activation=ens.activation)
    for precision in ("float64", "mixed"):
        a = iterate_map(ens, x0, precision=precision)
        b = iterate_map(on_gpu, cupy.asarray(x0), precision=precision)
        assert type(b.limit).__module__.startswith("cupy")
        np.testing.assert_array_equal(to_numpy(b.status), a.status)
        conv = a.status == STATUS["converged"]
        assert np.abs(to_numpy(b.limit) - a.limit)[conv].max() < 2e-10


def test_mixed_precision_with_a_coarse_tol_stops_the_float32_stage_at_tol():
    """Where tol is coarser than float32_tol the float32 stage stops at tol: one float64 step then
    confirms it (not float32 iteration far past what was asked)."""
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=12, L=4), 10, seed=3)
    x0 = uniform_starts(ens, 40, seed=4)
    a = iterate_map(ens, x0, tol=1e-3)
    b = iterate_map(ens, x0, tol=1e-3, precision="mixed")
    conv = a.status == STATUS["converged"]  # (with so coarse a tol a few oscillating orbits count as 2-cycles)
    assert conv.mean() > 0.9 and np.all(b.status[conv] == STATUS["converged"])
    assert set(np.unique(b.iterations[conv] - a.iterations[conv])) <= {0, 1, 2}
    assert np.all(b.step[conv] < 1e-3)


def test_forward_bits_do_not_depend_on_the_split_at_sizes_blas_would_thread(monkeypatch):
    """256 x 64 x 64 products are above OpenBLAS's threading threshold, and a threaded product
    differs from a single-threaded one in the last bit: the kernel keeps BLAS at one thread, so a
    network alone, in its ensemble, in one thread or two gives the same bits."""
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=64, L=3), 4, seed=1)
    x = np.random.default_rng(2).uniform(-1, 1, (4, 300, 64))
    outs = []
    for threads in ("1", "2"):
        monkeypatch.setenv("FPKIT_NUM_THREADS", threads)
        outs.append(ens.forward(x))
        outs.append(np.concatenate([ens.subset([e]).forward(x[e:e + 1]) for e in range(4)]))
    for other in outs[1:]:
        np.testing.assert_array_equal(other, outs[0])


def test_mixed_precision_leaves_every_start_a_float64_step():
    """With float32_steps >= max_iter the float32 stage stops at max_iter - 1, so no start ends
    not converged with a step below tol (its outcome is decided by a float64 step)."""
    ens = Ensemble.sample(GAUSSIAN_REGIME.replace(N=6, L=3, scale=1.5), 20, seed=3)
    x0 = uniform_starts(ens, 30, seed=4)
    for max_iter in (1, 2, 5):
        r = iterate_map(ens, x0, precision="mixed", max_iter=max_iter, tol=1e-3, float32_steps=64,
                        max_period=4, cycle_check_every=1)
        rest = r.status == STATUS["not_converged"]
        assert not np.any(r.step[rest] < 1e-3) and np.all(r.iterations[rest] == max_iter)


def test_mixed_precision_with_weights_beyond_float32_stays_in_float64():
    """Depth 1 with tiny starts: the first step's pre-activations are tiny, but later steps see
    |x| up to 1 and weights of 1e200: no float32 stage (no overflow, no NaN), float64's results."""
    import warnings

    W = np.random.default_rng(0).standard_cauchy((3, 1, 4, 4)) * 1e200
    ens = Ensemble(W, activation="tanh")
    x0 = np.zeros((3, 5, 4))
    x0[:, :, 0] = 1e-250
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = iterate_map(ens, x0, precision="mixed", max_iter=50)
    f = iterate_map(ens, x0, max_iter=50)
    for field in ("limit", "iterations", "status", "period", "step"):
        np.testing.assert_array_equal(getattr(r, field), getattr(f, field))
