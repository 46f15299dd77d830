"""Every chapter listed in _toc.yml runs end-to-end at its quick size.

Chapters are MyST-markdown notebooks. Each declares its quick parameters in its front
matter under ``fpkit: quick:``; the test converts the chapter with jupytext, injects
those parameters with papermill and executes it. The executed notebooks are written to
``_build/quick/`` where ``make test`` then re-runs them under ``pytest --nbval``, which
checks that the same seed reproduces every printed output.

A new chapter is tested by adding it to _toc.yml; nothing here needs editing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
QUICK_DIR = ROOT / "_build" / "quick"


def _toc_files(node) -> list[str]:
    files = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                files.append(node[key])
        for value in node.values():
            if isinstance(value, (list, dict)):
                files.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            files.extend(_toc_files(item))
    return files


def toc_notebooks() -> list[Path]:
    """The toc entries that are executable notebooks (jupytext front matter with a kernel)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    notebooks = []
    for entry in _toc_files(toc):
        path = ROOT / (entry if entry.endswith(".md") else f"{entry}.md")
        assert path.exists(), f"_toc.yml lists {entry}, but {path} does not exist"
        text = path.read_text()
        if text.startswith("---") and "kernelspec:" in text.split("\n---", 1)[0]:
            notebooks.append(path)
    return notebooks


CHAPTERS = toc_notebooks()


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
