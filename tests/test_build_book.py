"""tools/build_book.py: chapters executed side by side land where the book build finds them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402

NOTEBOOK = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A tiny chapter

```{{code-cell}} ipython3
value = {value} * 2
print(value)
```
"""


def test_recorded_times_name_only_chapters_of_the_toc():
    recorded = json.loads(build_book.CHAPTER_SECONDS.read_text())
    chapters = {str(p.relative_to(ROOT)) for p in build_book.toc_notebooks()}
    assert set(recorded) <= chapters, f"stale entries: {set(recorded) - chapters}"
    assert all(isinstance(s, (int, float)) and s >= 0 for s in recorded.values())


def test_schedule_is_longest_first_with_unrecorded_chapters_first(tmp_path, monkeypatch):
    times = tmp_path / "seconds.json"
    times.write_text(json.dumps({"book/a.md": 5.0, "book/b.md": 50.0}))
    monkeypatch.setattr(build_book, "CHAPTER_SECONDS", times)
    paths = [ROOT / "book" / name for name in ("a.md", "b.md", "new.md")]
    assert [p.name for p in build_book._schedule(paths)] == ["new.md", "b.md", "a.md"]


@pytest.mark.timeout(300)
def test_side_by_side_execution_is_matched_by_the_book_build(tmp_path, monkeypatch):
    """Two chapters executed two at a time are in the cache under the hash myst-nb looks up."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    pages = []
    for value in (3, 4):
        page = tmp_path / f"chapter{value}.md"
        page.write_text(NOTEBOOK.format(value=value))
        pages.append(page)
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    monkeypatch.setattr(build_book, "ROOT", tmp_path)
    monkeypatch.setattr(build_book, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(build_book, "CHAPTER_SECONDS", tmp_path / "none.json")
    monkeypatch.setattr(build_book, "toc_notebooks", lambda: pages)
    assert build_book.execute_chapters(jobs=2) == 0
    cache = get_cache(tmp_path / "cache")
    for value, page in zip((3, 4), pages):
        # read the way the build reads it (the book's MyST extensions on)
        config = MdParserConfig(enable_extensions={"amsmath", "dollarmath", "colon_fence", "deflist"})
        nb = read_myst_markdown_notebook(page.read_text(), config=config, add_source_map=True, path=str(page))
        record = cache.match_cache_notebook(nb)  # KeyError if the build would execute it again
        _, merged = cache.merge_match_into_notebook(nb)
        outputs = [o for cell in merged.cells if cell.cell_type == "code" for o in cell.outputs]
        assert outputs and outputs[0]["text"].strip() == str(2 * value)
        assert record.data["execution_seconds"] > 0
    # nothing left to execute: a rerun starts no kernel
    assert build_book.execute_chapters(jobs=2) == 0


def test_a_failing_chapter_fails_with_its_traceback(tmp_path, monkeypatch, capsys):
    page = tmp_path / "broken.md"
    page.write_text(NOTEBOOK.format(value="undefined_name"))
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    monkeypatch.setattr(build_book, "ROOT", tmp_path)
    monkeypatch.setattr(build_book, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(build_book, "toc_notebooks", lambda: [page])
    assert build_book.execute_chapters(jobs=1) == 1
    assert "NameError" in capsys.readouterr().err


def test_only_the_timing_appendix_runs_alone():
    alone = [p.name for p in build_book.toc_notebooks() if build_book.exclusive(p)]
    assert alone == ["appendix_cost.md"]
