"""The cache base (fpkit.cache) and its file layer (fpkit._io): atomic writes, checks before work,
locks, cleanup of killed writes, codecs and sense checks."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fpkit
import fpkit._io as io_mod
from fpkit._io import (check_free_space, check_writable, remove_stale_temp_files, try_lock, wait_lock,
                       write_atomic)
from fpkit.cache import ArrayCache, ArrayRecord, TableCache, check_arrays, check_fields, check_table, describe


def _enospc(fh, data):
    raise OSError(errno.ENOSPC, "No space left on device")


def _mode_from_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


# --------------------------------------------------------------------------- _io


def test_a_failed_write_names_the_file_and_leaves_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "results.csv"
    target.write_text("old\n")
    monkeypatch.setattr(io_mod, "_write_all", _enospc)
    with pytest.raises(OSError, match=r"No space left on device \(writing '.*results\.csv'\)") as exc:
        write_atomic(target, "new\n")
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(target)
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_the_writability_probe_fails_on_a_full_disk(tmp_path, monkeypatch):
    """An empty file can be created on a full disk: the probe writes and syncs real bytes."""
    monkeypatch.setattr(io_mod, "_write_all", _enospc)
    with pytest.raises(OSError, match="cache_dir .* is not writable \\(No space left on device\\)") as exc:
        check_writable(tmp_path / "c", "cache_dir")
    assert exc.value.errno == errno.ENOSPC
    assert not list((tmp_path / "c").iterdir())  # no probe left behind


def test_the_writability_probe_fails_on_an_unwritable_directory(tmp_path, monkeypatch):
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
        with pytest.raises(PermissionError, match="output directory .*ro' is not writable"):
            check_writable(ro, "output directory")
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("path", ["", "  "])
def test_an_empty_path_is_not_the_working_directory(path):
    with pytest.raises(ValueError, match="cache_dir must name a directory; got an empty path"):
        check_writable(path, "cache_dir")


def test_free_space_is_checked_against_the_size(tmp_path):
    check_free_space(tmp_path, 1, "cache_dir")
    too_much = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize + 2**30
    with pytest.raises(OSError, match="cache_dir .* MiB free; this run writes about") as exc:
        check_free_space(tmp_path, too_much, "cache_dir")
    assert exc.value.errno == errno.ENOSPC


def test_written_files_get_the_permissions_of_the_umask(tmp_path):
    write_atomic(tmp_path / "a", b"x")
    assert (tmp_path / "a").stat().st_mode & 0o777 == _mode_from_umask()


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import fpkit._io as io_mod

    def stall(fh, data):
        fh.write(data[:3])
        fh.flush()
        open(sys.argv[2], "w").close()
        time.sleep(600)

    io_mod._write_all = stall
    io_mod.write_atomic(sys.argv[1], b"abcdef")
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_killed_write_leaves_a_temp_file_that_the_next_run_removes(tmp_path):
    target, marker = tmp_path / "entry", tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=str(Path(fpkit.__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target), str(marker)], env=env)
    t0 = time.monotonic()
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() - t0 < 60
        time.sleep(0.05)
    (stale,) = tmp_path.glob(".tmp-*.part")
    assert remove_stale_temp_files(tmp_path) == []  # the writer is alive and holds its file's lock
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert stale.exists() and not target.exists()
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marker"]


def test_a_write_in_progress_is_not_removed(tmp_path):
    fd, tmp = io_mod._locked_temp(tmp_path, ".tmp-")  # as write_atomic holds it while it writes
    try:
        (tmp_path / ".tmp-dead.part").write_bytes(b"half")  # a killed write: nobody holds it
        assert remove_stale_temp_files(tmp_path) == [tmp_path / ".tmp-dead.part"]
        assert Path(tmp).exists()
    finally:
        os.close(fd)
    assert remove_stale_temp_files(tmp_path) == [Path(tmp)]  # its writer is gone now


def test_a_lock_is_exclusive_and_its_file_goes_with_it(tmp_path):
    path = tmp_path / "k.lock"
    lock = try_lock(path)
    assert lock is not None and lock.held and path.exists()
    assert try_lock(path) is None  # another open file description: refused, even in this process
    lock.release()
    assert not lock.held and not path.exists()
    with wait_lock(path) as again:
        assert again.held
    assert not path.exists()


# --------------------------------------------------------------------------- the cache base


class _Table(TableCache):
    KIND = "test table"
    SUFFIX = ".tt"

    def validate(self, table, description):
        check_table(table, rows=description["rows"], columns=["x"], constants={"tag": description["tag"]},
                    counts=["x"])
        return table


def _table(n=3, tag="a"):
    return pd.DataFrame({"x": np.arange(n, dtype=np.int64), "y": np.linspace(0.1, 1 / 3, n), "tag": [tag] * n,
                         "none": [None] * n, "flag": [True, False, True][:n]})


def test_a_table_reads_back_bit_for_bit_and_is_checked_for_sense(tmp_path):
    cache = _Table(tmp_path)
    key, desc = cache.make_key({"rows": 3, "tag": "a"}, code="c0")
    table = _table()
    path = cache.store(key, desc, table)
    assert path.name == f"{key}.tt" and path.stat().st_mode & 0o777 == _mode_from_umask()
    pd.testing.assert_frame_equal(cache.load(key, desc), table)
    assert cache.load(key) is not None  # the stored description is checked against the key itself
    cache.store(key, desc, _table(2))  # a valid file that holds 2 of 3 rows
    with pytest.warns(UserWarning, match=r"test table cache file .*\.tt does not fit its key .*2 rows where the key"):
        assert cache.load(key, desc) is None
    cache.store(key, desc, _table(tag="b"))  # a column that contradicts the key
    with pytest.warns(UserWarning, match="column 'tag' holds"):
        assert cache.load(key, desc) is None
    cache.store(key, desc, _table().assign(x=np.nan))  # all-NaN counts
    with pytest.warns(UserWarning, match="column 'x' is not a column of counts"):
        assert cache.load(key, desc) is None
    cache.store(key, desc, _table().drop(columns="x"))
    with pytest.warns(UserWarning, match=r"columns \['x'\] are missing"):
        assert cache.load(key, desc) is None


def test_a_stored_description_must_hash_to_the_key(tmp_path):
    cache = _Table(tmp_path)
    key, desc = cache.make_key({"rows": 3, "tag": "a"}, code="c0")
    other_key, other_desc = cache.make_key({"rows": 3, "tag": "b"}, code="c0")
    cache.store(key, other_desc, _table(tag="b"))  # the file claims key but describes another entry
    with pytest.warns(UserWarning, match="holds another configuration"):
        assert cache.load(key) is None
    assert other_key != key and describe(__import__("json").loads(desc)) == (key, desc)


def test_fetch_computes_once_and_keeps_a_value_it_cannot_write(tmp_path, monkeypatch):
    cache = _Table(tmp_path)
    key, desc = cache.make_key({"rows": 3, "tag": "a"}, code="c0")
    calls = []
    value = cache.fetch(key, desc, lambda: calls.append(1) or _table())
    again = cache.fetch(key, desc, lambda: calls.append(1) or _table())
    assert calls == [1] and value.equals(again) and not cache.lock_path(key).exists()
    key2, desc2 = cache.make_key({"rows": 2, "tag": "a"}, code="c0")
    monkeypatch.setattr(io_mod, "_write_all", _enospc)  # the disk fills up after the cache was opened
    with pytest.warns(UserWarning, match=rf"could not write the test table cache file {cache.path(key2)} "
                                         r"\(\[Errno 28\] No space left on device"):
        kept = cache.fetch(key2, desc2, lambda: _table(2))
    assert len(kept) == 2 and not cache.path(key2).exists()


def test_other_library_versions_are_recomputed(tmp_path, monkeypatch):
    cache = _Table(tmp_path)
    key, desc = cache.make_key({"rows": 3, "tag": "a"}, code="c0")
    cache.store(key, desc, _table())
    monkeypatch.setattr(_Table, "LIBRARIES", ("numpy", "scipy", "pandas", "pytest"))
    with pytest.warns(UserWarning, match="other library versions"):
        assert cache.load(key, desc) is None


def test_opening_a_cache_removes_killed_writes_and_checks_the_disk(tmp_path, monkeypatch):
    (tmp_path / ".tmp-abc.part").write_bytes(b"half a file")
    cache = _Table(tmp_path)
    assert cache.removed_temp_files == [tmp_path / ".tmp-abc.part"] and not list(tmp_path.iterdir())
    monkeypatch.setattr(io_mod, "_write_all", _enospc)
    with pytest.raises(OSError, match="cache_dir .* is not writable"):
        _Table(tmp_path)
    with pytest.raises(ValueError, match="key must be 32 lowercase hex digits"):
        cache.path("../../etc/passwd")


class _Arrays(ArrayCache):
    KIND = "test array"

    def validate(self, record, description):
        check_arrays(record.arrays, {"w": (description["n"], -1)})
        check_fields(record.fields, {"status": str, "step": int})
        return record


def test_arrays_read_back_exactly_and_are_checked_for_shape_and_fields(tmp_path):
    cache = _Arrays(tmp_path)
    key, desc = cache.make_key({"n": 2}, code="c0")
    record = ArrayRecord({"w": np.array([[1.0, np.nan], [np.inf, -0.0]]), "i": np.arange(3)},
                         {"status": "ok", "step": 4})
    path = cache.store(key, desc, record)
    assert path.stat().st_mode & 0o777 == _mode_from_umask()  # not mkstemp's 0600
    got = cache.load(key, desc)
    assert got.fields == record.fields and sorted(got.arrays) == ["i", "w"]
    assert got.arrays["w"].tobytes() == record.arrays["w"].tobytes()
    with np.load(path, allow_pickle=False) as z:  # plain arrays, no pickle
        assert all(z[name].dtype != object for name in z.files)
    for bad, message in [(ArrayRecord({"w": np.zeros((3, 2))}, record.fields), r"shape \(3, 2\) where the key"),
                         (ArrayRecord({"w": np.zeros((2, 2))}, {"step": 4}), "field 'status' is missing"),
                         (ArrayRecord({"w": np.zeros((2, 2))}, {"status": "ok", "step": True}), "field 'step'")]:
        cache.store(key, desc, bad)
        with pytest.warns(UserWarning, match=message):
            assert cache.load(key, desc) is None
    with pytest.raises(TypeError, match="Python objects"):
        cache.store(key, desc, ArrayRecord({"w": np.array([object()])}))


def test_damaged_array_files_are_reported(tmp_path):
    cache = _Arrays(tmp_path)
    key, desc = cache.make_key({"n": 2}, code="c0")
    path = cache.store(key, desc, ArrayRecord({"w": np.ones((2, 5))}, {"status": "ok", "step": 1}))
    blob = path.read_bytes()
    for damaged in (blob[: len(blob) // 2], blob[:100] + bytes([blob[100] ^ 1]) + blob[101:], b""):
        path.write_bytes(damaged)
        with pytest.warns(UserWarning, match="is damaged"):
            assert cache.load(key, desc) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path.unlink()
        assert cache.load(key, desc) is None  # absent: no warning


def test_check_helpers_name_what_is_wrong():
    check_table(_table(), rows=3, columns=["x", "y"], constants={"tag": "a", "none": None, "absent": 1},
                counts=["x"])
    with pytest.raises(ValueError, match="column 'none' holds"):
        check_table(_table().assign(none=1), constants={"none": None})
    with pytest.raises(ValueError, match="a table was expected"):
        check_table([1, 2])
    with pytest.raises(ValueError, match="column 'y' is not a column of counts"):
        check_table(_table(), counts=["y"])
    with pytest.raises(ValueError, match="array 'v' is missing"):
        check_arrays({}, {"v": (1,)})
    with pytest.raises(ValueError, match="field 'x' is 'a', not of type int or float"):
        check_fields({"x": "a"}, {"x": (int, float)})
