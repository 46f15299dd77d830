"""Atomic file writes and advisory locks (the sweep cache and the command line's results).

:func:`write_atomic` writes a temporary file in the target's directory, flushes it to disk and
renames it over the target (:func:`os.replace`), so a reader sees the old file or the whole new
one, never a truncated one, whatever kills the writer. The file gets the permissions an ordinary
``open(path, "w")`` would give (``0o666`` minus the umask), not the ``0o600`` of
:func:`tempfile.mkstemp`, so that a shared cache stays readable by the group.

:func:`try_lock` / :func:`wait_lock` take an exclusive advisory lock (``fcntl.flock``) on a lock
file; the kernel releases it when its process dies, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

__all__ = ["FileLock", "check_writable", "try_lock", "wait_lock", "write_atomic"]

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _write_all(fh, data: bytes) -> None:
    """Write ``data`` to ``fh`` (one place, so the fault-injection tests can slow it down)."""
    fh.write(data)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in its directory, fsync, rename."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            _write_all(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_writable(directory: str | os.PathLike, what: str) -> Path:
    """Create ``directory`` if needed and check, by writing a file there, that it is writable.

    Raises OSError (PermissionError, or NotADirectoryError where a file is in the way) with a
    message naming ``what``, before any work is done.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise type(exc)(exc.errno, f"{what} {str(directory)!r} is not writable ({reason})") from None
    return directory


class FileLock:
    """An exclusive ``flock`` held on an open lock file; release with :meth:`release` or ``with``."""

    def __init__(self, fh):
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            import fcntl

            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _open_lock(path: Path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    return os.fdopen(fd, "r+b")


def try_lock(path: str | os.PathLike) -> FileLock | None:
    """Take the lock on ``path`` if no other process holds it; None if one does.

    Where ``fcntl`` does not exist (not POSIX), every lock is granted (no coordination).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return FileLock(None)
    fh = _open_lock(Path(path))
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return FileLock(fh)


def wait_lock(path: str | os.PathLike) -> FileLock:
    """Take the lock on ``path``, waiting for the process that holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return FileLock(None)
    fh = _open_lock(Path(path))
    fcntl.flock(fh, fcntl.LOCK_EX)
    return FileLock(fh)
