import numpy as np
import pandas as pd
import pytest

from fpkit.engine import find_fixed_points
from fpkit.network import Ensemble, NetworkConfig
from fpkit.regimes import (CAUCHY_REGIME, GAUSSIAN_REGIME, attractor_flags, explore_regimes,
                           summarize_regimes)
from fpkit.stats import wilson_interval
from fpkit.sweep import config_grid, config_seed, run_sweep, sample_and_solve


def test_config_grid_is_the_product():
    cfgs = config_grid({"N": 4, "law": "cauchy"}, L=[1, 2, 3], scale=[1.0, 2.0])
    assert len(cfgs) == 6
    assert {(c.L, c.scale) for c in cfgs} == {(a, b) for a in (1, 2, 3) for b in (1.0, 2.0)}
    assert all(c.N == 4 and c.law == "cauchy" for c in cfgs)


def test_config_seed_lives_beside_network_config():
    """Moved to fpkit.network (the Kac-Rice tables use it without importing the sweep, and so the engine);
    fpkit.sweep.config_seed is the same function (the book imports it from there)."""
    import fpkit.network
    import fpkit.sweep

    assert fpkit.sweep.config_seed is fpkit.network.config_seed
    cfg = NetworkConfig(N=3, L=2)
    assert config_seed(5, cfg).entropy == [5, 12363568451132463173]  # as before the move (the same streams)


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


def test_summarize_regimes_on_a_table_with_known_answers():
    # two settings; per network Q and how its 8 starts ended
    table = pd.DataFrame({
        "setting": ["a"] * 4 + ["b"] * 3,
        "Q": [0, 1, 2, 3, 1, 1, 1],
        "converged_starts": [0, 8, 6, 8, 8, 4, 8],
        "cycle_starts": [6, 0, 2, 0, 0, 2, 0],
        "not_converged_starts": [2, 0, 0, 0, 0, 2, 0],
        "bias_law": [None] * 7,
    })
    flags = attractor_flags(table)
    assert flags["multi"].tolist() == [0, 0, 1, 1, 0, 0, 0] and flags["none"].tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert flags["unsettled"].tolist() == [1.0, 0, 0.25, 0, 0, 0.5, 0] and (flags["bias_law"] == "none").all()
    s = summarize_regimes(table, by=["setting"]).set_index("setting")
    assert s.loc["a", "mean_Q"] == 1.5 and s.loc["b", "mean_Q"] == 1.0
    assert s.loc["a", "sem_Q"] == pytest.approx(np.std([0, 1, 2, 3], ddof=1) / 2)
    assert s.loc["b", "sem_Q"] == 0.0
    assert (s["p_multi"].tolist(), s["p_none"].tolist()) == ([0.5, 0.0], [0.25, 0.0])
    assert s["cycle_fraction"].tolist() == pytest.approx([1.25 / 4, 0.5 / 3])
    assert s["networks"].tolist() == [4, 3]
    with pytest.raises(ValueError, match="cycle_starts"):
        attractor_flags(table.drop(columns="cycle_starts"))


def test_regime_exploration_is_the_sweep_of_its_grid():
    axes = {"activation": ["tanh"], "scale": [4.0], "L": [1, 2]}
    table = explore_regimes(n_networks=4, n_starts=8, seed=0, N=3, axes=axes, max_iter=500, progress=False)
    direct = run_sweep(config_grid({"N": 3, "law": "cauchy"}, **axes), n_networks=4, n_starts=8, seed=0,
                       max_iter=500, progress=False)
    cols = ["L", "network", "Q", "cycle_starts", "not_converged_starts", "basin_entropy"]
    pd.testing.assert_frame_equal(table[cols], direct[cols])


def test_default_regimes_sample_the_documented_laws():
    """The regimes' documented weights and biases, checked on samples (Kolmogorov-Smirnov, 1e-3)."""
    from scipy import stats

    for regime, law, w_scale, b_scale in ((CAUCHY_REGIME, stats.cauchy, 4.0 / 10, 1.0),
                                          (GAUSSIAN_REGIME, stats.norm, 1.0 / np.sqrt(10), 0.5)):
        assert (regime.N, regime.L, regime.activation) == (10, 8, "tanh")
        ens = Ensemble.sample(regime, 20, seed=0)
        w, b = np.asarray(ens.weights).ravel(), np.asarray(ens.biases).ravel()
        assert stats.kstest(w, law(scale=w_scale).cdf).pvalue > 1e-3, regime
        assert stats.kstest(b, law(scale=b_scale).cdf).pvalue > 1e-3, regime
        assert stats.kstest(w, law(scale=1.5 * w_scale).cdf).pvalue < 1e-3  # the test can tell scales apart


def test_default_regimes_show_what_they_were_chosen_for():
    """GAUSSIAN_REGIME: one attracting fixed point in every network, every start converging
    (chapter 2); CAUCHY_REGIME: networks with several attractors (99.9 % Wilson interval above 0)."""
    gauss = summarize_regimes(run_sweep([GAUSSIAN_REGIME], n_networks=100, n_starts=32, seed=0,
                                        max_iter=2000, progress=False))
    assert gauss.loc[0, "mean_Q"] == 1.0 and gauss.loc[0, "cycle_fraction"] == 0.0
    cauchy = run_sweep([CAUCHY_REGIME], n_networks=100, n_starts=32, seed=0, max_iter=2000, progress=False)
    low, _ = wilson_interval(int((cauchy["Q"] >= 2).sum()), len(cauchy), confidence=0.999)
    assert low > 0


def test_sample_and_solve_is_the_seeded_recipe():
    cfg = CAUCHY_REGIME.replace(N=3, L=2)
    ens, res = sample_and_solve(cfg, 5, n_starts=16, seed=4, newton=True, newton_starts=8)
    # the recipe spelled out: the configuration's seed sequence, one child for the networks, one
    # for the starts and the Newton search
    net_seed, start_seed = (np.random.default_rng(s) for s in config_seed(4, cfg).spawn(2))
    ref_ens = Ensemble.sample(cfg, 5, seed=net_seed)
    ref = find_fixed_points(ref_ens, n_starts=16, seed=start_seed, newton=True, newton_starts=8)
    np.testing.assert_array_equal(ens.weights, ref_ens.weights)
    np.testing.assert_array_equal(res.x, ref.x)
    pd.testing.assert_frame_equal(res.per_network(), ref.per_network())
    # the same seed gives the same numbers; another configuration other networks
    _, again = sample_and_solve(cfg, 5, n_starts=16, seed=4, newton=True, newton_starts=8)
    np.testing.assert_array_equal(again.x, res.x)
    other, _ = sample_and_solve(cfg.replace(L=3), 5, n_starts=16, seed=4)
    assert not np.array_equal(other.weights[:, :2], ens.weights)
    grid_ens, grid = sample_and_solve(cfg.replace(N=2), 2, n_starts=16, seed=0, seeding="grid")
    assert grid.n_starts == 16
    with pytest.raises(ValueError, match="seeding"):
        sample_and_solve(cfg, 2, n_starts=4, seed=0, seeding="sobol")
    with pytest.raises(ValueError, match="n_networks"):
        sample_and_solve(cfg, 0, n_starts=4, seed=0)


# --------------------------------------------------------------------------- chunks, cache, Dask

import tracemalloc  # noqa: E402

import fpkit.sweep as sweep_mod  # noqa: E402
from fpkit.engine import EngineSettings  # noqa: E402
from fpkit.sweep import SweepCache, chunk_size  # noqa: E402

SMALL = config_grid({"N": 3, "law": "cauchy", "activation": "tanh", "scale": 4.0}, L=[1, 2, 3, 4])
COLS = ["L", "network", "Q", "cycle_starts", "not_converged_starts", "basin_entropy", "mean_iterations"]


def _sweep(**kw):
    return run_sweep(SMALL, n_networks=5, n_starts=8, seed=7, progress=False, chunk=2, **kw)


def test_chunks_cover_all_networks_and_are_reproducible():
    df = _sweep()
    assert df.groupby("L")["network"].apply(sorted).tolist() == [list(range(5))] * 4
    pd.testing.assert_frame_equal(df[COLS], _sweep()[COLS])


def test_chunk_size_respects_the_memory_budget():
    cfg = NetworkConfig(N=64, L=8)
    per_net = 8 * (8 * 64 * 64 + 16 * 256 * 64)
    s256 = EngineSettings(n_starts=256)
    assert chunk_size(cfg, s256, max_bytes=100 * per_net) == 100
    assert chunk_size(cfg, s256, max_bytes=1) == 1
    assert chunk_size(cfg, s256.replace(newton=True, newton_starts=128)) < chunk_size(cfg, s256)
    with pytest.raises(ValueError, match="max_bytes"):
        chunk_size(cfg, s256, max_bytes=0)


def test_peak_memory_is_bounded_by_chunking():
    cfg = [NetworkConfig(N=32, L=4, law="gaussian", activation="tanh")]
    budget = 4 * 2**20
    size = chunk_size(cfg[0], EngineSettings(n_starts=64), max_bytes=budget)
    n_networks = 8 * size  # the whole sweep would need ~8x the budget at once
    tracemalloc.start()
    try:
        df = run_sweep(cfg, n_networks=n_networks, n_starts=64, seed=0, progress=False, chunk=size,
                       max_iter=50)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(df) == n_networks
    assert peak < 3 * budget, f"peak {peak / 2**20:.1f} MiB for a {budget / 2**20:.0f} MiB chunk budget"


def test_cache_resumes_after_an_interrupt(tmp_path, monkeypatch):
    full = _sweep()
    calls = []
    real = sweep_mod._run_chunk

    def flaky(config, *args):
        calls.append(config.L)
        if config.L == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third configuration runs
        return real(config, *args)

    monkeypatch.setattr(sweep_mod, "_run_chunk", flaky)
    with pytest.raises(KeyboardInterrupt):
        _sweep(cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.fpsweep"))) == 2  # L = 1, 2 finished and were written
    assert not list(tmp_path.glob(".tmp-*"))  # no partial file left behind
    monkeypatch.setattr(sweep_mod, "_run_chunk", lambda config, *a: (calls.append(config.L), real(config, *a))[1])
    calls.clear()
    resumed = _sweep(cache_dir=tmp_path)
    assert set(calls) == {3, 4}  # only the unfinished configurations ran
    pd.testing.assert_frame_equal(resumed[COLS], full[COLS])
    calls.clear()
    again = _sweep(cache_dir=tmp_path)
    assert calls == [] and len(again) == len(full)


def test_damaged_cache_file_is_recomputed(tmp_path):
    first = _sweep(cache_dir=tmp_path)
    files = sorted(tmp_path.glob("*.fpsweep"))
    assert len(files) == 4
    blob = files[0].read_bytes()
    files[0].write_bytes(blob[: len(blob) // 2])  # truncated, as by a crash of a non-atomic writer
    files[1].write_bytes(blob[:40] + bytes([blob[40] ^ 0xFF]) + blob[41:])  # one flipped byte
    with pytest.warns(UserWarning, match="damaged"):
        second = _sweep(cache_dir=tmp_path)
    pd.testing.assert_frame_equal(second[COLS], first[COLS])
    assert SweepCache(tmp_path).load(files[0].stem) is not None  # rewritten



def test_a_table_with_a_column_twice_is_refused_by_name(tmp_path):
    """SweepCache.store raised AttributeError ("'DataFrame' object has no attribute 'dtype'") for a table
    with a duplicated column; now a ValueError naming it, and nothing is written."""
    table = run_sweep(SMALL[:1], n_networks=2, n_starts=4, seed=0, progress=False)
    cache = SweepCache(tmp_path)
    key, desc = SweepCache.key(SMALL[0], {})
    with pytest.raises(ValueError, match=r"table has the columns \['Q'\] more than once"):
        cache.store(key, desc, pd.concat([table, table[["Q"]]], axis=1))
    assert not list(tmp_path.glob("*.fpsweep"))
    cache.store(key, desc, table)
    pd.testing.assert_frame_equal(cache.load(key, desc), table)

def test_cache_key_depends_on_settings(tmp_path):
    a = SweepCache.key(SMALL[0], {"n_networks": 5})[0]
    assert a == SweepCache.key(SMALL[0], {"n_networks": 5})[0]
    assert a != SweepCache.key(SMALL[0], {"n_networks": 6})[0]
    assert a != SweepCache.key(SMALL[1], {"n_networks": 5})[0]


def test_bad_sweep_arguments():
    with pytest.raises(ValueError, match="n_networks"):
        run_sweep(SMALL, n_networks=0, n_starts=4, progress=False)
    with pytest.raises(TypeError, match="configs\\[0\\]"):
        run_sweep([{"N": 3}], n_networks=1, n_starts=4, progress=False)
    with pytest.raises(ValueError, match="chunk"):
        run_sweep(SMALL, n_networks=2, n_starts=4, chunk=0, progress=False)


@pytest.mark.xdist_group("dask")
def test_dask_local_cluster_gives_the_same_table(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = _sweep(scheduler=client, cache_dir=tmp_path)
            by_address = _sweep(scheduler=cluster.scheduler_address)
    local = _sweep()
    pd.testing.assert_frame_equal(remote[COLS], local[COLS])
    pd.testing.assert_frame_equal(by_address[COLS], local[COLS])
    assert len(list(tmp_path.glob("*.fpsweep"))) == 4


def test_cache_key_follows_the_engine_code():
    from fpkit.sweep import engine_hash

    h = engine_hash()
    assert len(h) == 16 and h == engine_hash()
    assert SweepCache.key(SMALL[0], {}, "a")[0] != SweepCache.key(SMALL[0], {}, "b")[0]
    assert SweepCache.key(SMALL[0], {})[0] == SweepCache.key(SMALL[0], {}, h)[0]


# --------------------------------------------------------------------------- cache safety (issue 14)

import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import fpkit  # noqa: E402


class _Payload:
    """A pickle that creates a file when it is loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_crafted_cache_file_cannot_run_code(tmp_path):
    """Defect 4: the cache was a pickle behind an unkeyed checksum; a crafted file ran code."""
    first = _sweep(cache_dir=tmp_path)
    marker = tmp_path / "pwned"
    target = sorted(tmp_path.glob("*.fpsweep"))[0]
    payload = pickle.dumps({"key": "x", "table": _Payload(marker)})
    target.write_bytes(b"FPKSWP1\n" + hashlib.sha256(payload).digest() + payload)  # the old format, valid
    with pytest.warns(UserWarning, match="not a sweep cache file"):
        again = _sweep(cache_dir=tmp_path)
    assert not marker.exists()
    pd.testing.assert_frame_equal(again.drop(columns="seconds"), first.drop(columns="seconds"))
    # the format itself: JSON behind a checksum, no pickle opcode anywhere
    blob = target.read_bytes()
    assert blob.startswith(SweepCache.MAGIC)
    body = json.loads(blob[len(SweepCache.MAGIC) + 65:])
    assert body["key"] == target.stem and body["versions"] == SweepCache.versions()
    assert body["description"]["config"] in [c.as_dict() for c in SMALL]
    assert b"pickle" not in blob and not blob[len(SweepCache.MAGIC) + 65:].startswith(b"\x80")


def test_cached_table_equals_the_computed_one_exactly(tmp_path):
    cfgs = config_grid({"N": 3, "law": "cauchy", "activation": "tanh"}, L=[1, 2], bias_law=[None, "same"])
    computed = run_sweep(cfgs, n_networks=3, n_starts=8, seed=2, progress=False, cache_dir=tmp_path)
    read = run_sweep(cfgs, n_networks=3, n_starts=8, seed=2, progress=False, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(read, computed)  # every column, dtype and bit (timings included)


def test_a_file_under_the_wrong_key_is_not_used(tmp_path):
    """Defect 4: a file copied under another configuration's name substituted its rows."""
    first = _sweep(cache_dir=tmp_path)
    files = sorted(tmp_path.glob("*.fpsweep"))
    tables = {f: SweepCache(tmp_path).load(f.stem) for f in files}
    by_l = {int(t["L"].iloc[0]): f for f, t in tables.items()}
    by_l[2].write_bytes(by_l[1].read_bytes())  # L = 1's valid file under L = 2's key
    with pytest.warns(UserWarning, match="holds another configuration"):
        again = _sweep(cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again[COLS], first[COLS])
    assert sorted(again["L"].unique()) == [1, 2, 3, 4]


def test_an_unreadable_cache_entry_is_recomputed_not_fatal(tmp_path):
    first = _sweep(cache_dir=tmp_path)
    target = sorted(tmp_path.glob("*.fpsweep"))[0]
    target.unlink()
    target.mkdir()  # unreadable as a file, and it cannot be replaced either
    with pytest.warns(UserWarning) as record:
        again = _sweep(cache_dir=tmp_path)
    messages = " ".join(str(w.message) for w in record)
    assert "unreadable" in messages and "could not write" in messages
    pd.testing.assert_frame_equal(again[COLS], first[COLS])


def test_cache_files_get_ordinary_permissions(tmp_path):
    _sweep(cache_dir=tmp_path)
    mask = os.umask(0o022)
    os.umask(mask)
    for f in tmp_path.glob("*.fpsweep"):
        assert f.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_an_unwritable_cache_dir_fails_before_any_work(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    calls = []
    monkeypatch.setattr(sweep_mod, "_run_chunk", lambda *a: calls.append(a))
    with pytest.raises(OSError, match="cache_dir .* is not writable"):
        _sweep(cache_dir=blocker / "cache")
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(OSError, match="not writable"):
            _sweep(cache_dir=ro)
    assert calls == []


_SLOW_RUNNER = textwrap.dedent("""
    import os, sys, time
    import fpkit.sweep as sweep_mod
    real = sweep_mod._run_chunk
    log, marker = os.environ["LOG"], os.environ["MARKER"]

    def slow(config, *args):
        with open(log, "a") as fh:
            fh.write(f"{config.L}\\n")
        if config.L == 1:
            open(marker, "w").close()
            time.sleep(3)
        return real(config, *args)

    sweep_mod._run_chunk = slow
    from fpkit.sweep import config_grid, run_sweep
    cfgs = config_grid({"N": 3, "law": "cauchy", "activation": "tanh", "scale": 4.0}, L=[1, 2, 3, 4])
    run_sweep(cfgs, n_networks=5, n_starts=8, seed=7, progress=False, chunk=2, cache_dir=sys.argv[1])
""")


def test_two_runs_on_one_cache_do_not_recompute_each_others_work(tmp_path, monkeypatch):
    env = dict(os.environ, LOG=str(tmp_path / "other.log"), MARKER=str(tmp_path / "marker"),
               OPENBLAS_NUM_THREADS="1", FPKIT_BACKEND="numpy")
    env["PYTHONPATH"] = str(Path(fpkit.__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    cache = tmp_path / "cache"
    other = subprocess.Popen([sys.executable, "-c", _SLOW_RUNNER, str(cache)], env=env)
    t0 = time.monotonic()
    while not (tmp_path / "marker").exists():  # the other run is computing L = 1, under its lock
        assert other.poll() is None and time.monotonic() - t0 < 120
        time.sleep(0.05)
    mine = []
    real = sweep_mod._run_chunk
    monkeypatch.setattr(sweep_mod, "_run_chunk", lambda config, *a: (mine.append(config.L), real(config, *a))[1])
    table = _sweep(cache_dir=cache)
    assert other.wait(timeout=120) == 0
    theirs = [int(x) for x in (tmp_path / "other.log").read_text().split()]
    assert 1 not in mine  # waited for the other run's L = 1 and read it from the cache
    assert set(mine).isdisjoint(theirs) and set(mine) | set(theirs) == {1, 2, 3, 4}
    pd.testing.assert_frame_equal(table[COLS], _sweep()[COLS])


def test_an_empty_sweep_is_an_error():
    with pytest.raises(ValueError, match="configs must hold at least one"):
        run_sweep([], n_networks=1, n_starts=4, progress=False)
    with pytest.raises(ValueError, match="'L' has no values"):
        config_grid({"N": 3}, L=[])


def test_the_columns_a_cache_file_must_hold_are_those_a_sweep_computes():
    """SweepCache checks loaded tables for TABLE_COLUMNS and COUNT_COLUMNS: they must be what run_sweep gives."""
    from fpkit.sweep import COUNT_COLUMNS, TABLE_COLUMNS

    table = run_sweep(SMALL[:1], n_networks=2, n_starts=4, seed=0, max_iter=100, progress=False)
    assert set(TABLE_COLUMNS) <= set(table.columns) and set(COUNT_COLUMNS) <= set(TABLE_COLUMNS)
    for name in COUNT_COLUMNS:
        assert pd.api.types.is_integer_dtype(table[name]) and (table[name] >= 0).all(), name
