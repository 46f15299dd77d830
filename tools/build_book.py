"""Build the book, warnings as errors.

``make book`` (no arguments) executes every chapter at full size into ``_build/html``.

The chapters are executed first, several at once (``--jobs``, default: one per core, each with
one BLAS thread), longest first by the times recorded in ``tools/chapter-seconds.json``
(``--record-times`` rewrites it), a chapter whose front matter says ``fpkit: exclusive: true``
(one that measures speed) alone after the others, each into the execution cache of Jupyter Book (jupyter-cache,
with its own reader and execution worker, the ones the build itself would use); the Sphinx
build that follows finds every chapter executed. A chapter that fails stops the build with its
traceback; chapters that finished stay cached, so a rerun resumes.

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

``--quick --pages 01_sampling appendix_reproducibility`` builds a partial quick book, to look at a
few pages while working on them: only those notebooks need to be executed (``pytest
tests/test_chapters.py -k "01_sampling or reproducibility"``). Every other notebook page of
``_toc.yml`` is replaced by a placeholder that has the page's title, its labels and a
"(not built)" value for each name it glues, so that links and cross-page glue into it resolve and
the build keeps ``-W``; the placeholders are listed in ``_static/fpkit-partial-build.json``, and
the browser test skips them. The full quick build (no ``--pages``) is unchanged.

Both builds serve MathJax from the book itself (``_static/mathjax``, copied from the pinned
PyPI package sphinx-mathjax-offline by the extension of that name in ``_config.yml``), so the
book reads offline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
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
#: Execution seconds of each chapter at full size, last recorded (only to schedule: longest first).
CHAPTER_SECONDS = ROOT / "tools" / "chapter-seconds.json"
#: Threads of the numerical libraries in each chapter's kernel when chapters run side by side.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Files and folders of the book besides the pages listed in _toc.yml.
BOOK_ASSETS = ("_toc.yml", "_static", "book/references.bib", "book/images")
#: In a partial quick build (``--pages``): the placeholder pages, relative to the HTML root.
PARTIAL_BUILD_LIST = "_static/fpkit-partial-build.json"


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


def front_matter(path: Path) -> str:
    """The YAML front matter of a MyST page ("" if it has none)."""
    text = path.read_text()
    return text.split("\n---", 1)[0][3:] if text.startswith("---") else ""


def is_notebook(path: Path) -> bool:
    """A MyST page that is an executable notebook (jupytext front matter with a kernel)."""
    return "kernelspec:" in front_matter(path)


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


def exclusive(path: Path) -> bool:
    """Whether a chapter asks to run alone (front matter ``fpkit: exclusive: true``): one that
    measures speed, which a chapter running beside it would distort."""
    meta = yaml.safe_load(front_matter(path)) or {}
    return bool((meta.get("fpkit") or {}).get("exclusive", False))


def _schedule(paths: list[Path]) -> list[Path]:
    """``paths`` longest first by the recorded seconds (chapters without a record first)."""
    recorded = json.loads(CHAPTER_SECONDS.read_text()) if CHAPTER_SECONDS.exists() else {}
    key = {p: recorded.get(str(p.relative_to(ROOT)), float("inf")) for p in paths}
    return sorted(paths, key=lambda p: -key[p])


def execute_chapters(jobs: int) -> int:
    """Execute every chapter not yet in the execution cache, ``jobs`` at a time; 0 if all succeeded.

    The notebooks are read and executed by jupyter-cache's MyST reader plugin (``myst_nb_md``,
    the reader myst-nb registers) and execution worker, so the build that follows matches them
    in the cache exactly as if it had executed them itself.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData
    from tqdm import tqdm

    config = yaml.safe_load((ROOT / "_config.yml").read_text()).get("execute", {})
    cache = get_cache(CACHE)
    todo = []
    for path in toc_notebooks():
        record = cache.add_nb_to_project(str(path), read_data={"name": "myst_nb_md", "type": "plugin"})
        if cache.get_cached_project_nb(record.pk) is None:
            todo.append((path, record))
    if not todo:
        return 0
    order = _schedule([path for path, _ in todo])
    runs_alone = {p: exclusive(p) for p in order}
    alone = [p for p in order if runs_alone[p]]
    shared = [p for p in order if not runs_alone[p]]
    records = dict(todo)
    jobs = max(1, min(jobs, len(shared)))
    if jobs > 1:
        for name in THREAD_VARIABLES:  # the kernels inherit these: one BLAS thread per chapter
            os.environ.setdefault(name, "1")
    print(f"executing {len(order)} chapter(s), {jobs} at a time (longest first: "
          f"{', '.join(p.stem for p in shared)})" + (f", then alone: {', '.join(p.stem for p in alone)}"
                                                      if alone else ""), flush=True)
    failed = []
    bar = tqdm(total=len(order), desc="chapters", unit="chapter")
    for batch, width in ((shared, jobs), (alone, 1)):
        data = [ProcessData(records[p].pk, records[p].uri, cache, config.get("timeout", 3600),
                            bool(config.get("allow_errors", False))) for p in batch]
        if not data:
            continue
        with multiprocessing.get_context("spawn").Pool(width, maxtasksperchild=1) as pool:
            for code, uri in pool.imap_unordered(ExecutionWorkerLocalMProc(), data, chunksize=1):
                cached = cache.get_cached_project_nb(uri) if code == 0 else None
                seconds = cached.data.get("execution_seconds") if cached is not None else None
                bar.write(f"  {Path(uri).relative_to(ROOT)}: "
                          + (f"{seconds:.1f} s" if seconds is not None else "FAILED"))
                bar.update(1)
                if code != 0:
                    failed.append(uri)
    bar.close()
    for uri in failed:
        record = cache.get_project_record(uri)
        print(f"\n{Path(uri).relative_to(ROOT)} failed:\n{record.traceback or '(no traceback recorded)'}",
              file=sys.stderr)
    return 1 if failed else 0


def execution_seconds() -> dict[str, float | None]:
    """Each chapter of the execution cache's project (path relative to the repository) and its
    execution seconds (None where it has no cached execution)."""
    from jupyter_cache import get_cache

    if not CACHE.exists():
        return {}
    cache = get_cache(CACHE)
    out = {}
    for record in cache.list_project_records():
        cached = cache.get_cached_project_nb(record.uri)
        name = str(Path(record.uri).relative_to(ROOT)) if Path(record.uri).is_absolute() else record.uri
        out[name] = cached.data.get("execution_seconds") if cached is not None else None
    return out


def record_times() -> None:
    """Write each chapter's execution seconds from the cache to ``tools/chapter-seconds.json``."""
    times = {name: round(s, 1) for name, s in execution_seconds().items() if s is not None}
    CHAPTER_SECONDS.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")


def build_full(jobs: int = 1, record: bool = False) -> int:
    sys.path.insert(0, str(ROOT))
    import fpkit

    current = fpkit.source_hash()
    previous = STAMP.read_text().strip() if STAMP.exists() else None
    rebuild_all = previous != current
    if CACHE.exists() and rebuild_all:
        print(f"fpkit source changed ({previous} -> {current}): clearing the execution cache")
        shutil.rmtree(CACHE)
    start = time.perf_counter()
    if execute_chapters(jobs):
        print(f"book build FAILED (a chapter did not execute) after {time.perf_counter() - start:.1f} s")
        return 1
    executed = time.perf_counter() - start
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
    if record and result.returncode == 0:
        record_times()
    print(f"chapters executed in {executed:.1f} s ({jobs} at a time), HTML built in {elapsed - executed:.1f} s")
    print(f"book build {'succeeded' if result.returncode == 0 else 'FAILED'} in {elapsed:.1f} s")
    return result.returncode


def stage_quick_book(notebooks: Path = QUICK_NOTEBOOKS, stage: Path = QUICK_BOOK,
                     pages: list[str] | None = None) -> Path:
    """Lay out the quick book's source tree in ``stage``; returns ``stage``.

    Every notebook page of ``_toc.yml`` is replaced by its executed notebook
    ``notebooks/<stem>.ipynb`` (its papermill-injected parameter cell folded); the other pages
    and the assets are copied; ``_config.yml`` is copied with execution off and the local Sphinx
    extensions pointed at this repository. With ``pages`` (stems or toc entries of notebook pages),
    only those are taken from ``notebooks``, the other notebook pages are placeholders (module doc).
    """
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    wanted = _wanted_pages(pages)
    missing, sources, placeholders = [], [], []
    for entry in toc_entries():
        source = ROOT / f"{entry}.md"
        if not source.exists():
            raise FileNotFoundError(f"_toc.yml lists {entry}, but {source} does not exist")
        target = stage / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_notebook(source) and wanted is not None and entry not in wanted:
            _write_placeholder(source, target.with_suffix(".ipynb"))
            shutil.copy2(source, target.with_suffix(".md"))
            sources.append(f"{entry}.md")
            placeholders.append(f"{entry}.html")
        elif is_notebook(source):
            executed = notebooks / f"{source.stem}.ipynb"
            if not executed.exists():
                missing.append(str(executed.relative_to(ROOT)))
                continue
            _fold_injected_parameters(executed, target.with_suffix(".ipynb"))
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
    if wanted is not None:
        (stage / "_static").mkdir(exist_ok=True)
        (stage / PARTIAL_BUILD_LIST).write_text(json.dumps({"placeholders": placeholders}, indent=1) + "\n")
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


def _wanted_pages(pages: list[str] | None) -> set[str] | None:
    """The toc entries of the notebook pages named in ``pages`` (stems or entries); None for all."""
    if pages is None:
        return None
    notebooks = {str(p.relative_to(ROOT).with_suffix("")): p.stem for p in toc_notebooks()}
    wanted = set()
    for page in pages:
        page = page.removesuffix(".md").removesuffix(".ipynb")
        hits = [entry for entry, stem in notebooks.items() if page in (entry, stem)]
        if not hits:
            raise ValueError(f"--pages: {page!r} is not a notebook page of _toc.yml; those are: "
                             f"{sorted(notebooks.values())}")
        wanted.update(hits)
    return wanted


def _fold_injected_parameters(executed: Path, target: Path) -> None:
    """Copy an executed notebook, folding the cell papermill injected (tag ``hide-cell``): the
    quick size's parameters are build detail, not part of the chapter."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            cell.metadata["tags"] = [*tags, "hide-cell"]
            cell.metadata.setdefault("mystnb", {}).update(
                code_prompt_show="Show the parameters of this quick build",
                code_prompt_hide="Hide the parameters of this quick build")
    nbformat.write(nb, target)


def _write_placeholder(source: Path, target: Path) -> None:
    """A notebook standing in for ``source`` in a partial build: its title, its labels (each on a
    heading) and a "(not built)" glue value for every name it glues literally (``glue("name"``,
    ``glue_figure("name"``, and the ``claim_*`` names for ``glue_claim``)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    text = source.read_text()
    title = next((line for line in text.splitlines() if line.startswith("# ")), f"# {source.stem}")
    labels = sorted(set(re.findall(r"^\(([\w.:-]+)\)=\s*$", text, flags=re.M)))
    names = set(re.findall(r"""\bglue(?:_figure)?\(\s*["']([\w.-]+)["']""", text))
    if "glue_claim(" in text:
        names |= {"claim_status", "claim_finding", "claim_how_sure", "claim_regime"}
    cells = [new_markdown_cell(f"{title}\n\n*This page is not part of this partial build "
                               "(tools/build_book.py --quick --pages).*")]
    cells += [new_markdown_cell(f"({label})=\n## {label}") for label in labels]
    prefix = "application/papermill.record/"
    outputs = [new_output("display_data", data={f"{prefix}text/plain": "'(not built)'"},
                          metadata={"scrapbook": {"name": name, "mime_prefix": prefix}}) for name in sorted(names)]
    cells.append(new_code_cell("# placeholder glue values", outputs=outputs, metadata={"tags": ["remove-input"]}))
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"display_name": "Python 3", "language": "python",
                                                            "name": "python3"}})
    nbformat.write(nb, target)


def build_quick(pages: list[str] | None = None) -> int:
    start = time.perf_counter()
    stage = stage_quick_book(pages=pages)
    cmd = [_jupyter_book(), "build", str(stage), "-W", "-n", "--keep-going", "--all"]
    result = subprocess.run(cmd, cwd=stage)
    elapsed = time.perf_counter() - start
    print(f"quick book build {'succeeded' if result.returncode == 0 else 'FAILED'} in {elapsed:.1f} s"
          f" -> {QUICK_HTML.relative_to(ROOT)}")
    return result.returncode


def _report_execution_times() -> None:
    for name, seconds in execution_seconds().items():
        print(f"  executed {name}: " + (f"{seconds:.1f} s" if seconds is not None else "not cached"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="build _build/quick-book/_build/html from the notebooks in _build/quick "
                             "(executed by the chapter tests); executes nothing")
    parser.add_argument("--pages", nargs="+", metavar="PAGE",
                        help="with --quick: build only these notebook pages (stems, e.g. 01_sampling) from "
                             "_build/quick, the other notebook pages as placeholders")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="chapters executed at once (default: one per core)")
    parser.add_argument("--record-times", action="store_true",
                        help=f"write each chapter's execution seconds to {CHAPTER_SECONDS.relative_to(ROOT)} "
                             "(the schedule of later builds)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1; got {args.jobs}")
    if args.pages and not args.quick:
        parser.error("--pages builds a partial quick book: use it with --quick")
    return build_quick(args.pages) if args.quick else build_full(args.jobs, args.record_times)


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
