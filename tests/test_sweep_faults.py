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
        kind = "cache" if data.startswith(b"FPKSWP") else "csv"
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


def test_killed_while_writing_results_csv(reference, tmp_path):
    spec, table, _ = reference
    out, marker = tmp_path / "out", tmp_path / "marker"
    out.mkdir()
    old = "network,Q\n0,7\n"
    (out / "results.csv").write_text(old)  # a previous run's results
    _kill_when_marked(_cli(spec, out, FAULT="csv", MARKER=str(marker)), marker)
    assert (out / "results.csv").read_text() == old  # the old file whole, not a truncated new one
    assert len(list((out / "cache").glob("*.fpsweep"))) == 3
    again, _ = _run_clean(spec, out)
    _same(again, table)


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
