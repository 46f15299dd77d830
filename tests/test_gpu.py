"""Every stage of the engine on a device against NumPy: iteration, polish, Newton, multiple shooting,
continuation and the census end to end, at the default cadence and at sync_every = 8.

Each test runs twice: on CuPy (marked ``gpu``: it runs where CuPy has a CUDA device and is skipped
elsewhere, see conftest.py) and on the strict counting namespace of :mod:`fpkit.syncs`, which stands in
for CuPy on the CPU (it refuses NumPy arrays where CuPy would, and gives 0-d arrays where CuPy does),
so that the checks themselves are exercised in every run. The tolerances are a device's: a GPU rounds
differently (cuBLAS, its own tanh), so the comparisons are of what the engine decides (statuses,
periods, which fixed points exist) and of limits to within a stated distance, on networks whose
outcomes do not change under last-bit perturbations of their weights (checked here on NumPy).
"""

import numpy as np
import pytest

from fpkit import STATUS, Ensemble, NetworkConfig, find_fixed_points, iterate_map, to_numpy
from fpkit.engine import continuation_search, newton_search, polish, shooting_search, uniform_starts
from fpkit.syncs import counting_ensemble

from conftest import last_bit


def _on_cupy(ens):
    import cupy

    return Ensemble(cupy.asarray(ens.weights), cupy.asarray(ens.biases), activation=ens.activation,
                    config=ens.config), cupy


def _on_counting(ens):
    return counting_ensemble(ens)


DEVICES = [pytest.param(_on_cupy, marks=pytest.mark.gpu, id="cupy"), pytest.param(_on_counting, id="counting")]
CADENCES = [1, 8]


def _ensemble(N, L, E, seed, law="cauchy", scale=2.0):
    return Ensemble.sample(NetworkConfig(N=N, L=L, law=law, scale=scale, activation="tanh"), E, seed=seed,
                           backend="numpy")


def _same_under_last_bit_noise(ens, fn):
    """fn(ensemble) of NumPy is the same on the ensemble and on two last-bit perturbations of it: the
    outcome does not hang on rounding, so a device's rounding cannot change it either."""
    want = fn(ens)
    for noise in (1, 2):
        got = fn(last_bit(ens, noise))
        same = all(np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b for a, b in zip(want, got))
        assert same, "outcome hangs on rounding: pick another seed"
    return want


def _distinct(x, ok, decimals=6):
    """The distinct points x[e, k] (E, K, N) where ok, per network: a set of (e, rounded point)."""
    e_idx, k_idx = np.nonzero(ok)
    return {(int(e), tuple(np.round(x[e, k], decimals) + 0.0)) for e, k in zip(e_idx, k_idx)}


@pytest.mark.parametrize("every", CADENCES)
@pytest.mark.parametrize("device", DEVICES)
def test_iteration_on_a_device_decides_as_numpy(device, every):
    ens = _ensemble(N=10, L=4, E=12, seed=5, scale=1.0)
    x0 = uniform_starts(ens, 48, seed=6)
    want = _same_under_last_bit_noise(ens, lambda e: (lambda r: (r.status, r.period))(iterate_map(e, x0, max_iter=1500)))
    dev, xp = device(ens)
    for precision in ("float64", "mixed"):
        a = iterate_map(ens, x0, max_iter=1500, precision=precision)
        b = iterate_map(dev, xp.asarray(x0), max_iter=1500, precision=precision, sync_every=every)
        assert type(b.limit) is not np.ndarray  # the results stay on the device
        np.testing.assert_array_equal(to_numpy(b.status), want[0])
        np.testing.assert_array_equal(to_numpy(b.period), want[1])
        conv = a.status == STATUS["converged"]
        assert conv.mean() > 0.5
        assert np.abs(to_numpy(b.limit) - a.limit)[conv].max() < 2e-10
        assert np.abs(to_numpy(b.iterations) - a.iterations)[conv].max() <= 2


@pytest.mark.parametrize("every", CADENCES)
@pytest.mark.parametrize("device", DEVICES)
def test_polish_on_a_device_reaches_the_same_points(device, every):
    """Limits of converged starts, moved by 1e-5, polished back to residuals <= 1e-12 at the same points."""
    ens = _ensemble(N=8, L=3, E=6, seed=2)
    it = iterate_map(ens, uniform_starts(ens, 24, seed=1))
    conv = it.status == STATUS["converged"]
    assert conv.mean() > 0.5
    rough = np.clip(it.limit + 1e-5, -0.999, 0.999)
    want_x, want_res = polish(ens, rough)
    assert np.all(want_res[conv] <= 1e-12)
    dev, xp = device(ens)
    x, res = (to_numpy(a) for a in polish(dev, xp.asarray(rough), sync_every=every))
    assert np.all(res[conv] <= 1e-12)
    assert np.abs(x - want_x)[conv].max() < 1e-10


@pytest.mark.parametrize("every", CADENCES)
@pytest.mark.parametrize("device", DEVICES)
def test_newton_search_on_a_device_finds_the_same_roots(device, every):
    """Deflated Newton ends chaotically start by start; on networks of width 3 the starts find every
    root, so the sets of distinct roots agree."""
    ens = _ensemble(N=3, L=2, E=6, seed=2, scale=3.0)
    x0 = uniform_starts(ens, 64, seed=4)

    def roots(e):
        x, res = newton_search(e, x0)
        return (sorted(_distinct(x, res <= 1e-12)),)

    want = set(_same_under_last_bit_noise(ens, roots)[0])
    dev, xp = device(ens)
    x, res = (to_numpy(a) for a in newton_search(dev, xp.asarray(x0), sync_every=every))
    ok = res <= 1e-12
    assert np.all(np.abs(ens.forward(x) - x).max(axis=-1)[ok] <= 1e-11)
    assert _distinct(x, ok) == want and len(want) >= 6


@pytest.mark.parametrize("every", CADENCES)
@pytest.mark.parametrize("device", DEVICES)
def test_shooting_search_on_a_device_finds_the_same_roots(device, every):
    ens = _ensemble(N=3, L=3, E=5, seed=8, scale=3.0)
    E, L, N = ens.shape
    H = np.random.default_rng(3).uniform(-0.99, 0.99, (E, 48, L, N))

    def roots(e):
        x, res = shooting_search(e, H)
        return (sorted(_distinct(x, res <= 1e-12)),)

    want = set(_same_under_last_bit_noise(ens, roots)[0])
    dev, xp = device(ens)
    x, res = (to_numpy(a) for a in shooting_search(dev, xp.asarray(H), sync_every=every))
    assert _distinct(x, res <= 1e-12) == want and len(want) >= 5


@pytest.mark.parametrize("every", CADENCES)
@pytest.mark.parametrize("device", DEVICES)
def test_continuation_on_a_device_follows_the_same_arcs(device, every):
    """The main branch and the arcs from known points end the same way (status) at the same fixed
    points (within 1e-8)."""
    ens = _ensemble(N=6, L=3, E=4, seed=7)
    known = iterate_map(ens, uniform_starts(ens, 16, seed=1)).limit[:, :4]

    def arcs(e):
        r = continuation_search(e, known)
        return (r.status,)

    want_status = _same_under_last_bit_noise(ens, arcs)[0]
    want = continuation_search(ens, known)
    dev, xp = device(ens)
    got = continuation_search(dev, xp.asarray(known), sync_every=every)
    np.testing.assert_array_equal(got.status, want_status)
    crossed = np.isfinite(want.x).all(axis=-1)
    assert crossed.any()
    np.testing.assert_array_equal(np.isfinite(got.x).all(axis=-1), crossed)
    assert np.abs(got.x - want.x)[crossed].max() < 1e-8


@pytest.mark.parametrize("every", CADENCES)
@pytest.mark.parametrize("device", DEVICES)
def test_census_on_a_device_finds_the_same_fixed_points(device, every):
    """The whole census (iteration from given starts, adaptive starts, Newton, shooting, continuation):
    per network the same fixed points (within 1e-8), the same stable ones, index sums 1."""
    ens = _ensemble(N=3, L=3, E=5, seed=1, scale=3.0)
    x0 = uniform_starts(ens, 32, seed=9)
    kw = dict(n_starts=32, max_starts=96, newton=True, census=True, census_pairing=True, seed=3)

    def census(e, starts=x0, **more):
        fp = find_fixed_points(e, starts, **kw, **more)
        return fp, sorted((int(n), tuple(np.round(p, 6) + 0.0), bool(st)) for n, p, st in zip(fp.fp_network, fp.x, fp.stable))

    want_fp, want = census(ens)
    for noise in (1, 2):
        assert census(last_bit(ens, noise))[1] == want, "outcome hangs on rounding: pick another seed"
    assert np.all(want_fp.per_network()["index_sum"] == 1)
    dev, xp = device(ens)
    got_fp, got = census(dev, xp.asarray(x0), sync_every=every)
    assert got == want  # the same fixed points, each equally stable or not
    np.testing.assert_array_equal(got_fp.status, want_fp.status)
    np.testing.assert_array_equal(got_fp.attractor >= 0, want_fp.attractor >= 0)
