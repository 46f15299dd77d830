"""Build the book (``make book``): executes every chapter at full size, warnings are errors.

The executed-notebook cache of Jupyter Book keys on the cells' source only. A change in
fpkit must re-execute the chapters too, so this script stores a hash of fpkit's source next
to the cache and, when the hash changes, clears the cache and rebuilds every page (``--all``:
Sphinx alone would re-read only pages whose source changed). At the end it prints the build
time and each chapter's execution time from the cache.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
CACHE = BUILD / ".jupyter_cache"
STAMP = BUILD / ".fpkit-source-hash"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    import fpkit

    current = fpkit.source_hash()
    previous = STAMP.read_text().strip() if STAMP.exists() else None
    rebuild_all = previous != current
    if CACHE.exists() and rebuild_all:
        print(f"fpkit source changed ({previous} -> {current}): clearing the execution cache")
        shutil.rmtree(CACHE)
    start = time.perf_counter()
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going"]
    if rebuild_all:
        # Sphinx re-reads only pages whose source changed; without --all a chapter whose
        # text is unchanged would keep the outputs of the old fpkit despite the cleared cache.
        cmd.append("--all")
    result = subprocess.run(cmd, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if result.returncode == 0:
        BUILD.mkdir(exist_ok=True)
        STAMP.write_text(current + "\n")
    _report_execution_times()
    print(f"book build {'succeeded' if result.returncode == 0 else 'FAILED'} in {elapsed:.1f} s")
    return result.returncode


def _report_execution_times() -> None:
    try:
        from jupyter_cache import get_cache
    except ImportError:  # pragma: no cover
        return
    if not CACHE.exists():
        return
    cache = get_cache(CACHE)
    for record in cache.list_project_records():
        cached = cache.get_cached_project_nb(record.uri)
        seconds = cached.data.get("execution_seconds") if cached is not None else None
        name = Path(record.uri).relative_to(ROOT) if Path(record.uri).is_absolute() else record.uri
        shown = f"{seconds:.1f} s" if seconds is not None else "not cached"
        print(f"  executed {name}: {shown}")


if __name__ == "__main__":
    raise SystemExit(main())
