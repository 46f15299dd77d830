"""Every chapter listed in _toc.yml runs end-to-end at its quick size.

Chapters are MyST-markdown notebooks. Each declares its quick parameters in its front
matter under ``fpkit: quick:``; the test converts the chapter with jupytext, injects
those parameters with papermill and executes it. The executed notebooks are written to
``_build/quick/``, from which ``make test`` then builds the quick HTML book (``tools/build_book.py
--quick``, checked in a browser by tests/test_browser.py) and which it re-runs under
``pytest --nbval``, which checks that the same seed reproduces every printed output.

The sentences a chapter generates from its numbers are built by pure functions in the module
``fpkit.prose.chapter_<stem>``, each with doctest examples for its branches (all equal, none, one, zero
error, ...);
``test_sentence_builders_read_right_in_every_branch`` runs those examples without executing the
chapter. Every chapter rewritten to the pattern of tools/CHAPTER_PATTERN.md has such a module.

A new chapter is tested by adding it to _toc.yml; nothing here needs editing.
"""

from __future__ import annotations

import doctest
import inspect
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from build_book import QUICK_NOTEBOOKS as QUICK_DIR  # noqa: E402  (the quick book is built from here)
from build_book import toc_notebooks  # noqa: E402
from test_browser import NOT_YET_CONVERTED  # noqa: E402  (the one allow-list of unconverted chapters)

CHAPTERS = toc_notebooks()
#: The tag of the cells that hold a chapter's sentence builders.


def test_toc_has_chapters():
    assert CHAPTERS, "no executable chapter found in _toc.yml"


@pytest.mark.chapter
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_at_quick_size(chapter: Path):
    jupytext = pytest.importorskip("jupytext")
    papermill = pytest.importorskip("papermill")

    nb = jupytext.read(chapter)
    quick = nb.metadata.get("fpkit", {}).get("quick")
    assert isinstance(quick, dict) and quick, (
        f"{chapter.name} must declare its quick parameters under `fpkit: quick:` in its front matter"
    )
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{chapter.name} must have exactly one cell tagged `parameters`"
    missing = [k for k in quick if f"{k} =" not in tagged[0].source]
    assert not missing, f"quick parameters {missing} are not set in the parameters cell of {chapter.name}"

    QUICK_DIR.mkdir(parents=True, exist_ok=True)
    source = QUICK_DIR / f"{chapter.stem}.source.ipynb"
    executed = QUICK_DIR / f"{chapter.stem}.ipynb"
    jupytext.write(nb, source)
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=quick,
            kernel_name="python3",
            cwd=str(chapter.parent),
            progress_bar=False,
            request_save_on_cell_execute=False,
        )
    finally:
        source.unlink(missing_ok=True)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_sentence_builders_read_right_in_every_branch(chapter: Path):
    """A converted chapter's generated sentences come from ``fpkit.prose.chapter_<stem>``: every public
    function there has doctest examples (one per branch), they pass, and the chapter imports the module."""
    import importlib

    name = f"fpkit.prose.chapter_{chapter.stem}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError:
        if chapter.stem in NOT_YET_CONVERTED or not chapter.stem[0].isdigit():
            pytest.skip(f"{chapter.name} has no sentence builders (not a converted chapter)")
        pytest.fail(f"{chapter.name}: a converted chapter builds its generated sentences in {name} "
                    "(pure functions with doctest examples for every branch)")
    assert name in chapter.read_text(), f"{chapter.name} does not import its sentence builders from {name}"
    builders = {n: getattr(module, n) for n in getattr(module, "__all__", [])}
    assert builders and all(inspect.isfunction(f) for f in builders.values()), f"{name}: __all__ lists no functions"
    finder, runner = doctest.DocTestFinder(recurse=False), doctest.DocTestRunner(verbose=False)
    without, failed = [], []
    for fname, function in builders.items():
        tests = [t for t in finder.find(function, fname, globs=dict(vars(module))) if t.examples]
        if not tests:
            without.append(fname)
        for test in tests:
            out = []
            if runner.run(test, out=out.append).failed:
                failed.append("".join(out))
    assert not without, f"{name}: sentence builders without doctest examples: {without}"
    assert not failed, f"{name}: sentence builders read wrong:\n" + "\n".join(failed)
