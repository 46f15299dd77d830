"""Defect 3 of issue 14: a damaged training cache entry is detected, reported and recomputed.

A truncated or bit-flipped cache file made ``train()`` raise ``zipfile.BadZipFile`` for good (the
chapter failed until the file was deleted by hand). Only the public API is used here
(``train(config, cache_dir=...)``), so the test holds whatever the cache's file format is: every
file the first run leaves in the cache directory is damaged, and the next run must warn, retrain,
return exactly the result of a fresh run, and repair the cache.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from fpkit.train import TrainConfig, train  # noqa: E402

TINY = TrainConfig(L=1, steps=6, checkpoints=2, batch_size=16, seed=3)


def _truncate(blob: bytes) -> bytes:
    return blob[: len(blob) // 2]


def _flip_middle(blob: bytes) -> bytes:
    i = len(blob) // 2
    return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:]


def _flip_end(blob: bytes) -> bytes:  # the zip directory / a trailing checksum
    i = len(blob) - 10
    return blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1:]


def _empty(blob: bytes) -> bytes:
    return b""


def _garbage(blob: bytes) -> bytes:
    return b"not a cache file at all\n" * 8


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.biases, b.biases)
    np.testing.assert_array_equal(np.asarray(a.steps), np.asarray(b.steps))
    np.testing.assert_allclose(a.history["train_loss"].to_numpy(), b.history["train_loss"].to_numpy(), rtol=0)


@pytest.fixture(scope="module")
def fresh():
    return train(TINY, progress=False)


@pytest.mark.parametrize("damage", [_truncate, _flip_middle, _flip_end, _empty, _garbage])
def test_damaged_training_cache_is_reported_and_recomputed(fresh, tmp_path, damage):
    cached = train(TINY, progress=False, cache_dir=tmp_path)
    _same(cached, fresh)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert files, "the first run wrote no cache file"
    for p in files:
        p.write_bytes(damage(p.read_bytes()))
    with pytest.warns(Warning):  # reported ...
        redone = train(TINY, progress=False, cache_dir=tmp_path)  # ... never raises ...
    _same(redone, fresh)  # ... and recomputed, not read
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the repaired entry is read back without complaint
        again = train(TINY, progress=False, cache_dir=tmp_path)
    _same(again, fresh)


# --------------------------------------------------------------------------- issue 25: a bad disk, nonsense files

import errno  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from collections import namedtuple  # noqa: E402
from pathlib import Path  # noqa: E402

import fpkit  # noqa: E402
import fpkit._io as io_mod  # noqa: E402
import fpkit.train.runs as runs_mod  # noqa: E402
from fpkit.cache import ArrayCache  # noqa: E402
from fpkit.train import RunCache, train_many  # noqa: E402


def _enospc(fh, data):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def no_training(monkeypatch):
    calls = []
    monkeypatch.setattr(runs_mod, "_train_job", lambda configs, progress=False: calls.append(configs))
    return calls


def test_a_full_cache_dir_fails_before_training(tmp_path, monkeypatch, no_training):
    """train() used to train first and then fail naming a temporary file."""
    monkeypatch.setattr(io_mod, "_write_all", _enospc)
    with pytest.raises(OSError, match=f"cache_dir '{tmp_path}' is not writable \\(No space left on device\\)"):
        train(TINY, progress=False, cache_dir=tmp_path)
    assert no_training == []


def test_an_unwritable_cache_dir_fails_before_training(tmp_path, monkeypatch, no_training):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match="cache_dir .* is not writable"):
        train(TINY, progress=False, cache_dir=blocker / "cache")
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o500)
    else:  # root writes anywhere: the system refuses the file instead
        real = io_mod.tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):
            if Path(dir) == ro:
                raise PermissionError(errno.EACCES, "Permission denied")
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(io_mod.tempfile, "mkstemp", refuse)
    try:
        with pytest.raises(PermissionError, match=f"cache_dir '{ro}' is not writable"):
            train(TINY, progress=False, cache_dir=ro)
    finally:
        ro.chmod(0o700)
    assert no_training == []


def test_too_little_free_space_fails_before_training(tmp_path, monkeypatch, no_training):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(io_mod.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 100, 100))
    with pytest.raises(OSError, match="cache_dir .* MiB free; this run writes about"):
        train_many([TINY, TINY.replace(seed=4)], progress=False, cache_dir=tmp_path)
    assert no_training == []


def test_a_run_whose_file_cannot_be_written_is_kept(fresh, tmp_path, monkeypatch):
    real = io_mod._write_all
    monkeypatch.setattr(io_mod, "_write_all", lambda fh, data: _enospc(fh, data) if data[:2] == b"PK"
                        else real(fh, data))  # the disk fills up after the checks
    with pytest.warns(UserWarning, match=rf"could not write the training run cache file {tmp_path}/train-[0-9a-f]{{32}}"
                                         r"\.npz \(\[Errno 28\] No space left on device"):
        kept = train(TINY, progress=False, cache_dir=tmp_path)
    _same(kept, fresh)
    assert not list(tmp_path.iterdir())


def test_cache_files_get_the_permissions_of_the_umask(tmp_path):
    """They were always 0600 (tempfile.mkstemp's mode)."""
    train(TINY, progress=False, cache_dir=tmp_path)
    mask = os.umask(0o022)
    os.umask(mask)
    (path,) = tmp_path.glob("train-*.npz")
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_killed_write_is_cleaned_up_by_the_next_run(tmp_path):
    (tmp_path / ".tmp-abc123.part").write_bytes(b"PK half a zip")  # no process holds it: a killed write
    train(TINY, progress=False, cache_dir=tmp_path)
    assert not list(tmp_path.glob(".tmp-*"))


def _forge(path: Path, edit) -> None:
    """Change a training cache file and give it a valid checksum (a file that *looks* right)."""
    cache = RunCache(path.parent)
    header, record = ArrayCache.decode(cache, path.read_bytes())
    edit(record)
    path.write_bytes(ArrayCache.encode(cache, header, record))


def _wrong_shape(record):
    record.arrays["weights"] = record.arrays["weights"][:, :, :-1]


def _missing_status(record):
    del record.fields["status"]


def _other_steps(record):
    record.arrays["steps"] = record.arrays["steps"] + 1


def _short_history(record):
    record.arrays["h_test_loss"] = record.arrays["h_test_loss"][:-1]


def _unknown_status(record):
    record.fields["status"] = "converged"


@pytest.mark.parametrize("forge, why", [
    (_wrong_shape, "array 'weights' has shape (2, 1, 63, 64) where the key asks for (2, 1, 64, 64)"),
    (_missing_status, "field 'status' is missing"),  # it raised KeyError
    (_other_steps, "checkpoint steps"),
    (_short_history, "the loss history"),
    (_unknown_status, "unknown status 'converged'"),
])
def test_a_valid_file_that_does_not_fit_its_run_is_retrained(fresh, tmp_path, forge, why):
    train(TINY, progress=False, cache_dir=tmp_path)
    (path,) = tmp_path.glob("train-*.npz")
    _forge(path, forge)
    with pytest.warns(UserWarning, match=f"training run cache file {path} does not fit its key") as record:
        redone = train(TINY, progress=False, cache_dir=tmp_path)
    assert any(why in str(w.message) for w in record), [str(w.message) for w in record]
    _same(redone, fresh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same(train(TINY, progress=False, cache_dir=tmp_path), fresh)


_SLOW_TRAINER = textwrap.dedent("""
    import os, sys, time
    import fpkit.train.runs as runs_mod
    from fpkit.train import TrainConfig, train_many

    real = runs_mod._train_job

    def slow(configs, progress=False):
        with open(os.environ["LOG"], "a") as fh:
            fh.write("".join(f"{c.seed}\\n" for c in configs))
        open(os.environ["MARKER"], "w").close()
        time.sleep(3)
        return real(configs, progress)

    runs_mod._train_job = slow
    train_many([TrainConfig(L=1, steps=6, checkpoints=2, batch_size=16, seed=3)], progress=False,
               cache_dir=sys.argv[1])
""")


def test_two_processes_never_train_the_same_run(fresh, tmp_path, monkeypatch):
    env = dict(os.environ, LOG=str(tmp_path / "other.log"), MARKER=str(tmp_path / "marker"),
               OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = str(Path(fpkit.__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    cache = tmp_path / "cache"
    other = subprocess.Popen([sys.executable, "-c", _SLOW_TRAINER, str(cache)], env=env)
    t0 = time.monotonic()
    while not (tmp_path / "marker").exists():  # the other process trains seed 3 under its lock
        assert other.poll() is None and time.monotonic() - t0 < 120
        time.sleep(0.05)
    mine = []
    real = runs_mod._train_job
    monkeypatch.setattr(runs_mod, "_train_job", lambda configs, progress=False: mine.extend(c.seed for c in configs)
                        or real(configs, progress))
    both = train_many([TINY, TINY.replace(seed=4)], progress=False, cache_dir=cache)
    assert other.wait(timeout=120) == 0
    assert mine == [4] and (tmp_path / "other.log").read_text().split() == ["3"]
    _same(both[0], fresh)  # read from the other process's file
