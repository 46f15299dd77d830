"""Build the book, warnings as errors.

``make book`` (no arguments) executes every chapter at full size into ``_build/html``.

The executed-notebook cache of Jupyter Book keys on the cells' source only. A change in
fpkit must re-execute the chapters too, so this script stores a hash of fpkit's source next
to the cache and, when the hash changes, clears the cache and rebuilds every page (``--all``:
Sphinx alone would re-read only pages whose source changed). At the end it prints the build
time and each chapter's execution time from the cache.

``--quick`` (``make test`` calls it) executes nothing: it builds the HTML book from the
quick-size notebooks that the chapter tests already executed into ``_build/quick``
(tests/test_chapters.py). A staging source tree ``_build/quick-book`` holds those executed
notebooks in place of the chapters' MyST sources, the book's other pages and assets, and a copy
of ``_config.yml`` with execution switched off; the HTML lands in
``_build/quick-book/_build/html``, where the browser test (tests/test_browser.py) reads it. A
chapter in ``_toc.yml`` without its executed notebook is an error, not a gap in the book.

Both builds serve MathJax from the book itself (``_static/mathjax``, copied from the pinned
PyPI package sphinx-mathjax-offline by the extension of that name in ``_config.yml``), so the
book reads offline.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
CACHE = BUILD / ".jupyter_cache"
STAMP = BUILD / ".fpkit-source-hash"
#: Where the chapter tests write the executed quick-size notebooks.
QUICK_NOTEBOOKS = BUILD / "quick"
#: Staging source tree of the quick book; its HTML is QUICK_BOOK / "_build" / "html".
QUICK_BOOK = BUILD / "quick-book"
QUICK_HTML = QUICK_BOOK / "_build" / "html"
#: Files and folders of the book besides the pages listed in _toc.yml.
BOOK_ASSETS = ("_toc.yml", "_static", "book/references.bib", "book/images")


def toc_entries(root: Path = ROOT) -> list[str]:
    """Every page of ``_toc.yml`` (root first), as paths relative to ``root`` without suffix."""
    def walk(node) -> list[str]:
        files = []
        if isinstance(node, dict):
            files += [node[key] for key in ("root", "file") if key in node]
            for value in node.values():
                if isinstance(value, (list, dict)):
                    files += walk(value)
        elif isinstance(node, list):
            for item in node:
                files += walk(item)
        return files

    return walk(yaml.safe_load((root / "_toc.yml").read_text()))


def is_notebook(path: Path) -> bool:
    """A MyST page that is an executable notebook (jupytext front matter with a kernel)."""
    text = path.read_text()
    return text.startswith("---") and "kernelspec:" in text.split("\n---", 1)[0]


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The pages of ``_toc.yml`` that are executable notebooks, in toc order."""
    notebooks = []
    for entry in toc_entries(root):
        path = root / (entry if entry.endswith(".md") else f"{entry}.md")
        if not path.exists():
            raise FileNotFoundError(f"_toc.yml lists {entry}, but {path} does not exist")
        if is_notebook(path):
            notebooks.append(path)
    return notebooks


def _jupyter_book() -> str:
    return str(Path(sys.executable).parent / "jupyter-book")


def build_full() -> int:
    sys.path.insert(0, str(ROOT))
    import fpkit

    current = fpkit.source_hash()
    previous = STAMP.read_text().strip() if STAMP.exists() else None
    rebuild_all = previous != current
    if CACHE.exists() and rebuild_all:
        print(f"fpkit source changed ({previous} -> {current}): clearing the execution cache")
        shutil.rmtree(CACHE)
    start = time.perf_counter()
    cmd = [_jupyter_book(), "build", str(ROOT), "-W", "-n", "--keep-going"]
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
    _report_census()
    print(f"book build {'succeeded' if result.returncode == 0 else 'FAILED'} in {elapsed:.1f} s")
    return result.returncode


def stage_quick_book(notebooks: Path = QUICK_NOTEBOOKS, stage: Path = QUICK_BOOK) -> Path:
    """Lay out the quick book's source tree in ``stage``; returns ``stage``.

    Every notebook page of ``_toc.yml`` is replaced by its executed notebook
    ``notebooks/<stem>.ipynb``; the other pages and the assets are copied; ``_config.yml`` is
    copied with execution off and the local Sphinx extensions pointed at this repository.
    """
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    missing, sources = [], []
    for entry in toc_entries():
        source = ROOT / f"{entry}.md"
        if not source.exists():
            raise FileNotFoundError(f"_toc.yml lists {entry}, but {source} does not exist")
        target = stage / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_notebook(source):
            executed = notebooks / f"{source.stem}.ipynb"
            if not executed.exists():
                missing.append(str(executed.relative_to(ROOT)))
                continue
            shutil.copy2(executed, target.with_suffix(".ipynb"))
            # The MyST source stays beside it, excluded from the build, only as the target of
            # the chapters' links ([chapter 3](03_cauchy_attractors.md)): MyST resolves a link to
            # a file that exists to that file's document, which is the executed notebook's.
            shutil.copy2(source, target.with_suffix(".md"))
            sources.append(f"{entry}.md")
        else:
            shutil.copy2(source, target.with_suffix(".md"))
    if missing:
        raise FileNotFoundError(
            f"executed notebooks missing (run the chapter tests first: make test-unit): {missing}")
    for asset in BOOK_ASSETS:
        src = ROOT / asset
        if src.is_dir():
            shutil.copytree(src, stage / asset)
        elif src.exists():
            (stage / asset).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, stage / asset)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    config["exclude_patterns"] = [*config.get("exclude_patterns", []), *sources]
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in local.items():
        local[name] = str((ROOT / path).resolve())
    (stage / "_config.yml").write_text(
        "# Generated by tools/build_book.py --quick from ../../_config.yml: execution off.\n"
        + yaml.safe_dump(config, sort_keys=False))
    return stage


def build_quick() -> int:
    start = time.perf_counter()
    stage = stage_quick_book()
    cmd = [_jupyter_book(), "build", str(stage), "-W", "-n", "--keep-going", "--all"]
    result = subprocess.run(cmd, cwd=stage)
    elapsed = time.perf_counter() - start
    print(f"quick book build {'succeeded' if result.returncode == 0 else 'FAILED'} in {elapsed:.1f} s"
          f" -> {QUICK_HTML.relative_to(ROOT)}")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="build _build/quick-book/_build/html from the notebooks in _build/quick "
                             "(executed by the chapter tests); executes nothing")
    args = parser.parse_args(argv)
    return build_quick() if args.quick else build_full()


def _report_census() -> None:
    """Print the census pass rates chapter 4 wrote (index sum = 1, per configuration)."""
    path = BUILD / "census-pass-rates.csv"
    if not path.exists():
        return
    import pandas as pd

    table = pd.read_csv(path)
    print("census pass rate (fixed-point indices sum to 1), chapter 4, per configuration:")
    print(table.pivot(index="L", columns="curve", values="index_complete").round(3).to_string())


if __name__ == "__main__":
    raise SystemExit(main())
