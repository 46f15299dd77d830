"""Files that are whole or absent: atomic writes, up-front checks, advisory locks, cleanup.

:func:`write_atomic` writes a temporary file ``.tmp-*.part`` in the target's directory, flushes
it to disk and renames it over the target (:func:`os.replace`), so a reader sees the old file or
the whole new one, never a truncated one, whatever kills the writer. The file gets the
permissions an ordinary ``open(path, "w")`` would give (``0o666`` minus the umask), not the
``0o600`` of :func:`tempfile.mkstemp`, so that a shared cache stays readable by the group. An
error names the file it was writing (the target, not the temporary file).

A writer holds an ``flock`` on its temporary file while it writes. The kernel drops the lock when
the writer dies, so :func:`remove_stale_temp_files` can tell the temporary file of a killed write
(unlocked: removed) from one being written by a live process (locked: kept).

:func:`check_writable` and :func:`check_free_space` run before the work whose results they will
hold: the probe writes real bytes through the same single write function as every other write
(:func:`_write_all`; the tests make it fail to simulate a full disk), so a full file system,
where an empty file can still be created, fails the probe.

:func:`try_lock` / :func:`wait_lock` take an exclusive advisory lock (``fcntl.flock``) on a lock
file; the kernel releases it when its process dies, so a killed run never leaves a stale lock.
Releasing a lock removes its file; a lock is held only on the file currently at its path.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, no stale-file detection
    fcntl = None

__all__ = ["FileLock", "check_free_space", "check_writable", "remove_stale_temp_files", "try_lock", "wait_lock",
           "write_atomic"]

#: Name pattern of the temporary files of :func:`write_atomic` (and of the writability probe).
TEMP_PATTERN = ".tmp-*.part"
#: Bytes the writability probe writes and syncs (a full file system refuses them).
PROBE_BYTES = 4096

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _write_all(fh, data: bytes) -> None:
    """Write ``data`` to ``fh``: every write of this module goes through here (fault-injection hook)."""
    fh.write(data)


def _naming(exc: OSError, path: Path, action: str = "writing") -> OSError:
    """``exc`` again, of the same type, with a message that names ``path``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    new = type(exc)(exc.errno, f"{reason} ({action} {str(path)!r})") if exc.errno else \
        type(exc)(f"{reason} ({action} {str(path)!r})")
    new.filename = str(path)
    return new


def _locked_temp(directory: Path, prefix: str) -> tuple[int, str]:
    """A new temporary file in ``directory``, open and ``flock``-ed (see the module doc).

    A cleanup of another process may remove the file between its creation and the lock; then
    the link count is 0 and a new file is made.
    """
    while True:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".part")
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink > 0:
            return fd, tmp
        os.close(fd)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically: a locked temporary file in its directory, fsync, rename.

    Raises OSError (of the type the system gave: PermissionError, ...) naming ``path``; the
    temporary file is removed and an existing file at ``path`` is left as it was.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    try:
        fd, tmp = _locked_temp(path.parent, ".tmp-")
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:  # closing the file releases its lock, after the rename
            _write_all(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from exc
        raise
    return path


def _check_directory_argument(directory, what: str) -> Path:
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path; got {type(directory).__name__}")
    if not str(os.fspath(directory)).strip():
        raise ValueError(f"{what} must name a directory; got an empty path (use '.' for the working directory)")
    return Path(directory)


def check_writable(directory: str | os.PathLike, what: str) -> Path:
    """Create ``directory`` if needed and check, by writing and syncing a file there, that it takes data.

    Raises OSError (PermissionError; NotADirectoryError where a file is in the way; ENOSPC on a
    full file system) with a message naming ``what`` and the directory, before any work is done;
    ValueError for an empty path (which would mean the working directory).
    """
    directory = _check_directory_argument(directory, what)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = _locked_temp(directory, ".tmp-probe-")
        try:
            with os.fdopen(fd, "wb") as fh:
                _write_all(fh, b"\0" * PROBE_BYTES)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            Path(probe).unlink(missing_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise type(exc)(exc.errno, f"{what} {str(directory)!r} is not writable ({reason})") from None
    return directory


def check_free_space(directory: str | os.PathLike, n_bytes: int, what: str) -> None:
    """Raise OSError (ENOSPC) naming ``what`` if ``directory`` has less than ``n_bytes`` free.

    ``n_bytes`` is the size of what a run will write there, where it is known before the run.
    """
    directory = _check_directory_argument(directory, what)
    free = shutil.disk_usage(directory).free
    if free < n_bytes:
        raise OSError(errno.ENOSPC, f"{what} {str(directory)!r} has {free / 2**20:.1f} MiB free; this run "
                                    f"writes about {n_bytes / 2**20:.1f} MiB there (free some space or choose "
                                    "another directory)")


def remove_stale_temp_files(directory: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of writes killed in ``directory`` (see the module doc); the removed paths.

    A temporary file that a live process holds locked is being written and is kept. Without
    ``fcntl`` (not POSIX) nothing can be told apart and nothing is removed.
    """
    removed = []
    if fcntl is None:  # pragma: no cover
        return removed
    for path in sorted(Path(directory).glob(TEMP_PATTERN)):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # renamed or removed meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino == os.fstat(fd).st_ino:  # still the file we locked
                path.unlink()
                removed.append(path)
        except OSError:  # locked by its writer, or gone
            pass
        finally:
            os.close(fd)
    return removed


class FileLock:
    """An exclusive ``flock`` held on an open lock file; release with :meth:`release` or ``with``.

    Releasing removes the lock file (while the lock is still held); :func:`try_lock` and
    :func:`wait_lock` take a lock only on the file that is at the path after they hold it, so two
    processes never both hold the lock of one path.
    """

    def __init__(self, fh, path: Path | None = None):
        self._fh = fh
        self.path = path

    @property
    def held(self) -> bool:
        return self._fh is not None

    def release(self) -> None:
        if self._fh is not None:
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _lock(path: str | os.PathLike, blocking: bool) -> FileLock | None:
    path = Path(path)
    if fcntl is None:  # pragma: no cover - every lock is granted (no coordination)
        return FileLock(None)
    while True:
        fh = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o666), "r+b")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.close()
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
        except FileNotFoundError:  # released (and removed) by its holder while we waited
            same = False
        if same:
            return FileLock(fh, path)
        fh.close()


def try_lock(path: str | os.PathLike) -> FileLock | None:
    """Take the lock on ``path`` if no other process holds it; None if one does."""
    return _lock(path, blocking=False)


def wait_lock(path: str | os.PathLike) -> FileLock:
    """Take the lock on ``path``, waiting for the process that holds it."""
    return _lock(path, blocking=True)
