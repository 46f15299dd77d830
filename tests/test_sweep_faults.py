"""Fault injection: a sweep killed while it writes, and damaged cache files, change nothing.

A run of ``fpkit sweep`` in a subprocess is killed with SIGKILL while it is writing a cache file,
and while it is writing ``results.csv`` (the write is slowed down by a hook in the subprocess);
cache files are then truncated, bit-flipped, copied under another configuration's key, and
replaced by a validly checksummed payload from another library version. Every time, a rerun
gives exactly the table of an uninterrupted run, and no damaged file is read as data.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import fpkit
from fpkit.sweep import SweepCache

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

SPEC = """
base: {N: 3, law: cauchy, scale: 4.0, activation: tanh}
axes: {L: [1, 2, 3]}
n_networks: 3
n_starts: 8
seed: 11
engine: {max_iter: 300}
"""

# Run the CLI; with FAULT set, the n-th write of that kind writes half its bytes, flushes them,
# touches MARKER and sleeps until it is killed.
RUNNER = textwrap.dedent("""
    import os, sys, time
    import fpkit._io as io_mod

    fault, marker = os.environ.get("FAULT"), os.environ.get("MARKER")
    nth = int(os.environ.get("NTH", "1"))
    real, seen = io_mod._write_all, [0]

    def slow(fh, data):
        kind = "cache" if data.startswith(b"FPKSWP") else "csv" if data.startswith(b"network") else "probe"
        if kind == fault:
            seen[0] += 1
            if seen[0] == nth:
                fh.write(data[: len(data) // 2])
                fh.flush()
                open(marker, "w").close()
                time.sleep(600)
        real(fh, data)

    io_mod._write_all = slow
    from fpkit.cli import main
    main(sys.argv[1:])
""")


def _env(**extra):
    env = dict(os.environ)
    root = str(Path(fpkit.__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OPENBLAS_NUM_THREADS="1", FPKIT_BACKEND="numpy", **extra)
    return env


def _cli(spec, out, **fault):
    return subprocess.Popen([sys.executable, "-c", RUNNER, "sweep", str(spec), "--out", str(out), "--no-progress"],
                            env=_env(**fault), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_when_marked(proc, marker: Path, timeout: float = 120.0):
    t0 = time.monotonic()
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before the fault: {proc.communicate()}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError("the fault hook was never reached")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _run_clean(spec, out):
    proc = _cli(spec, out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr.decode()
    return pd.read_csv(out / "results.csv"), stderr.decode()


def _same(a: pd.DataFrame, b: pd.DataFrame):
    cols = [c for c in a.columns if c != "seconds"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: its table and its cache files."""
    root = tmp_path_factory.mktemp("reference")
    spec = root / "s.yaml"
    spec.write_text(SPEC)
    table, _ = _run_clean(spec, root / "out")
    return spec, table, sorted((root / "out" / "cache").glob("*.fpsweep"))


def test_killed_while_writing_a_cache_file(reference, tmp_path):
    spec, table, _ = reference
    out, marker = tmp_path / "out", tmp_path / "marker"
    _kill_when_marked(_cli(spec, out, FAULT="cache", NTH="2", MARKER=str(marker)), marker)
    cache = out / "cache"
    finished = sorted(cache.glob("*.fpsweep"))
    assert len(finished) == 1  # the first configuration; the second died half written...
    partial = list(cache.glob(".tmp-*"))
    assert len(partial) == 1 and 0 < partial[0].stat().st_size  # ...in a temporary file only
    assert not (out / "results.csv").exists()
    again, stderr = _run_clean(spec, out)
    _same(again, table)
    assert "Warning" not in stderr  # nothing damaged was ever visible under a cache file's name
    assert not list(cache.glob(".tmp-*"))  # the killed write's temporary file is removed by the next run


def test_killed_while_writing_results_csv(reference, tmp_path):
    spec, table, _ = reference
    out, marker = tmp_path / "out", tmp_path / "marker"
    out.mkdir()
    old = "network,Q\n0,7\n"
    (out / "results.csv").write_text(old)  # a previous run's results
    _kill_when_marked(_cli(spec, out, FAULT="csv", MARKER=str(marker)), marker)
    assert (out / "results.csv").read_text() == old  # the old file whole, not a truncated new one
    assert len(list((out / "cache").glob("*.fpsweep"))) == 3
    assert len(list(out.glob(".tmp-*.part"))) == 1
    again, _ = _run_clean(spec, out)
    _same(again, table)
    assert not list(out.glob(".tmp-*"))


def _rewrite_body(path: Path, edit) -> None:
    """Change a cache file's JSON body and give it a valid checksum (a file that *looks* right)."""
    blob = path.read_bytes()
    head = len(SweepCache.MAGIC) + 65
    body = json.loads(blob[head:])
    edit(body)
    payload = json.dumps(body).encode()
    path.write_bytes(SweepCache.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)


def test_corrupted_cache_files_are_recomputed(reference, tmp_path):
    spec, table, files = reference
    out = tmp_path / "out"
    cache = out / "cache"
    cache.mkdir(parents=True)
    for f in files:
        (cache / f.name).write_bytes(f.read_bytes())
    a, b, c = sorted(cache.glob("*.fpsweep"))
    good_a = a.read_bytes()
    a.write_bytes(good_a[: len(good_a) * 2 // 3])  # truncated
    blob = b.read_bytes()
    b.write_bytes(blob[:200] + bytes([blob[200] ^ 0x01]) + blob[201:])  # one flipped bit
    c.write_bytes(good_a)  # a valid file of another configuration under c's name
    again, stderr = _run_clean(spec, out)
    _same(again, table)
    for what in ("damaged", "holds another configuration"):
        assert what in stderr
    for f in files:  # every file was rewritten with the right content
        assert SweepCache(cache).load(f.stem) is not None


def test_payload_from_another_version_is_recomputed(reference, tmp_path):
    spec, table, files = reference
    out = tmp_path / "out"
    cache = out / "cache"
    cache.mkdir(parents=True)
    for f in files:
        (cache / f.name).write_bytes(f.read_bytes())
    target = cache / files[1].name

    def older(body):  # what an older numpy would have written, with different numbers
        body["versions"]["numpy"] = "1.26.4"
        for col in body["columns"]:
            if col["name"] == "Q":
                col["values"] = [99] * len(col["values"])

    _rewrite_body(target, older)
    with pytest.warns(UserWarning, match="other library versions"):
        assert SweepCache(cache).load(target.stem) is None
    again, stderr = _run_clean(spec, out)
    assert "other library versions" in stderr
    _same(again, table)
    assert (again["Q"] != 99).all()


# --------------------------------------------------------------------------- issue 25: a bad disk, nonsense files

import errno  # noqa: E402
import warnings  # noqa: E402
from collections import namedtuple  # noqa: E402

import fpkit._io as io_mod  # noqa: E402
import fpkit.sweep as sweep_mod  # noqa: E402
from fpkit import cli  # noqa: E402


def _enospc(fh, data):
    raise OSError(errno.ENOSPC, "No space left on device")


def _main(spec, out, capsys):
    """``fpkit sweep`` in this process; (exit code, stderr)."""
    try:
        cli.main(["sweep", str(spec), "--out", str(out), "--no-progress"])
    except SystemExit as exc:
        return exc.code, capsys.readouterr().err
    return 0, capsys.readouterr().err


@pytest.fixture
def no_work(monkeypatch):
    calls = []
    monkeypatch.setattr(sweep_mod, "_run_chunk", lambda *a: calls.append(a))
    return calls


def test_a_full_disk_fails_before_any_work(reference, tmp_path, capsys, monkeypatch, no_work):
    """The old probe created an empty file (possible on a full disk), then the sweep computed everything."""
    spec, _, _ = reference
    monkeypatch.setattr(io_mod, "_write_all", _enospc)
    code, err = _main(spec, tmp_path / "out", capsys)
    assert code == 2 and no_work == []
    assert f"output directory '{tmp_path / 'out'}' is not writable (No space left on device)" in err


def test_too_little_free_space_fails_before_any_work(reference, tmp_path, capsys, monkeypatch, no_work):
    spec, _, _ = reference
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(io_mod.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 100, 100))
    code, err = _main(spec, tmp_path / "out", capsys)
    assert code == 2 and no_work == []
    assert f"output directory '{tmp_path / 'out'}' has 0.0 MiB free; this run writes about" in err


def test_a_disk_that_fills_during_the_run_keeps_every_row(reference, tmp_path, capsys, monkeypatch):
    """Cache files cannot be written after the checks: each is reported by name, results.csv still written."""
    spec, table, _ = reference
    real = io_mod._write_all
    monkeypatch.setattr(io_mod, "_write_all", lambda fh, data: _enospc(fh, data) if data.startswith(b"FPKSWP")
                        else real(fh, data))
    out = tmp_path / "out"
    with pytest.warns(UserWarning) as record:
        code, _ = _main(spec, out, capsys)
    assert code == 0
    _same(pd.read_csv(out / "results.csv"), table)
    messages = [str(w.message) for w in record]
    assert len(messages) == 3 and all(f"could not write the sweep cache file {out / 'cache'}" in m
                                      and ".fpsweep ([Errno 28] No space left on device" in m for m in messages)
    assert not list((out / "cache").iterdir())


def test_results_csv_that_cannot_be_written_is_named_and_the_cache_kept(reference, tmp_path, capsys, monkeypatch):
    spec, table, _ = reference
    real = io_mod._write_all
    monkeypatch.setattr(io_mod, "_write_all", lambda fh, data: _enospc(fh, data) if data.startswith(b"network")
                        else real(fh, data))
    out = tmp_path / "out"
    code, err = _main(spec, out, capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"No space left on device (writing '{out / 'results.csv'}')" in err
    assert f"kept in '{out / 'cache'}'" in err and "run the same command again" in err
    assert len(list((out / "cache").glob("*.fpsweep"))) == 3 and not (out / "results.csv").exists()
    monkeypatch.setattr(io_mod, "_write_all", real)
    monkeypatch.setattr(sweep_mod, "_run_chunk", lambda *a: pytest.fail("recomputed a cached configuration"))
    code, _ = _main(spec, out, capsys)
    assert code == 0
    _same(pd.read_csv(out / "results.csv"), table)


def _columns(body):
    return {c["name"]: c for c in body["columns"]}


def _two_of_three_rows(body):
    body["n_rows"] = 2
    for col in body["columns"]:
        col["values"] = col["values"][:2]


def _contradicting_L(body):
    _columns(body)["L"]["values"] = [v + 1 for v in _columns(body)["L"]["values"]]


def _all_nan_counts(body):
    q = _columns(body)["Q"]
    q["dtype"], q["values"] = "float64", [float("nan")] * len(q["values"])


def _missing_column(body):
    body["columns"] = [c for c in body["columns"] if c["name"] != "fixed_points"]


def _renumbered_networks(body):
    _columns(body)["network"]["values"] = [0, 0, 1]


@pytest.mark.parametrize("forge, why", [
    (_two_of_three_rows, "2 rows where the key asks for 3"),
    (_contradicting_L, "column 'L' holds"),
    (_all_nan_counts, "column 'Q' is not a column of counts"),
    (_missing_column, "columns ['fixed_points'] are missing"),
    (_renumbered_networks, "column 'network' is not 0, 1, ..., 2"),
])
def test_a_valid_file_that_makes_no_sense_for_its_key_is_recomputed(reference, tmp_path, capsys, forge, why):
    """Checksummed, under the right key, written by these versions, and still wrong: never used."""
    spec, table, files = reference
    out = tmp_path / "out"
    cache = out / "cache"
    cache.mkdir(parents=True)
    for f in files:
        (cache / f.name).write_bytes(f.read_bytes())
    target = cache / files[0].name
    _rewrite_body(target, forge)
    with pytest.warns(UserWarning, match=f"sweep cache file {target} does not fit its key") as record:
        code, _ = _main(spec, out, capsys)
    assert code == 0 and any(why in str(w.message) for w in record), [str(w.message) for w in record]
    _same(pd.read_csv(out / "results.csv"), table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewritten: read back without complaint, the reference's rows
        _same(SweepCache(cache).load(target.stem), SweepCache(cache).load(files[0].stem))
