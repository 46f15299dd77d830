"""tools/build_book.py: chapters executed side by side land where the book build finds them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

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
        extensions = yaml.safe_load((ROOT / "_config.yml").read_text())["parse"]["myst_enable_extensions"]
        config = MdParserConfig(enable_extensions=set(extensions))
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


def test_a_partial_quick_book_stands_in_placeholders_for_the_other_notebooks(tmp_path):
    """--quick --pages: the named page from its executed notebook (papermill's cell folded), every
    other notebook page a placeholder with its title, labels and glue names, listed for the browser test."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    notebooks = tmp_path / "quick"
    notebooks.mkdir()
    injected = new_code_cell("N_DRAWS = 10", metadata={"tags": ["injected-parameters"]})
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1"), injected]), notebooks / "01_sampling.ipynb")
    stage = build_book.stage_quick_book(notebooks, tmp_path / "stage", pages=["01_sampling"])
    page = nbformat.read(stage / "book" / "01_sampling.ipynb", as_version=4)
    assert "hide-cell" in page.cells[1].metadata["tags"]
    placeholders = json.loads((stage / build_book.PARTIAL_BUILD_LIST).read_text())["placeholders"]
    assert "book/01_sampling.html" not in placeholders and "book/04_q_of_l.html" in placeholders
    placeholder = nbformat.read(stage / "book" / "04_q_of_l.ipynb", as_version=4)
    assert placeholder.cells[0].source.startswith("# Does the number of fixed points rise and fall with depth?")
    glued_names = {o.metadata["scrapbook"]["name"] for o in placeholder.cells[-1].outputs}
    assert "claim_status" in glued_names  # the introduction pastes it from every chapter
    assert (stage / "book" / "intro.md").exists() and (stage / "book" / "glossary.md").exists()
    with pytest.raises(ValueError, match="not a notebook page"):
        build_book.stage_quick_book(notebooks, tmp_path / "stage2", pages=["intro"])


def test_sphinx_extension_names_the_regimes_and_resolves_public_names():
    sys.path.insert(0, str(ROOT / "tools" / "sphinx_ext"))
    import fpkit_sphinx

    from fpkit.network import NetworkConfig
    from fpkit.regimes import CAUCHY_REGIME, GAUSSIAN_REGIME

    assert fpkit_sphinx.regime_text(CAUCHY_REGIME) == (
        "tanh, Cauchy weights of scale 4/N and Cauchy biases of scale 1, N = 10, L = 8")
    assert fpkit_sphinx.regime_text(GAUSSIAN_REGIME) == (
        "tanh, Gaussian weights of scale 1/√N and Gaussian biases of scale 0.5, N = 10, L = 8")
    stable = NetworkConfig(N=4, L=2, law="alpha_stable", alpha=1.5, scale=2.0, bias_law=None)
    assert fpkit_sphinx.regime_text(stable) == "logistic, α-stable weights of scale 2·N^(-1/1.5), N = 4, L = 2"
    assert fpkit_sphinx._public_fpkit_target("fpkit.sample_weights") == "fpkit.sampling.sample_weights"
    assert fpkit_sphinx._public_fpkit_target("fpkit.Ensemble.forward") == "fpkit.network.Ensemble.forward"
    assert fpkit_sphinx._public_fpkit_target("fpkit.sampling.sample_weights") is None  # already where documented
    assert fpkit_sphinx._public_fpkit_target("fpkit.no_such_name") is None
    assert fpkit_sphinx._public_fpkit_target("numpy.mean") is None
