"""Every chapter's verdicts survive a rerun: with two other seeds, and with every weight moved by one
unit in its last place (``FPKIT_WEIGHT_ULPS=1``, the size of the difference another BLAS kernel's
rounding makes).

A chapter's verdicts are the values it glues as ``claim_status`` (the word of the introduction's claim
table) and under names starting with ``verdict_`` (one per part of a claim). They must come out the
same in every rerun: a reader who reruns a chapter with another seed, or on a machine whose BLAS
rounds differently, reaches the same conclusions. Numbers may move (the seeds draw other networks);
verdict words may not.

Each chapter runs at its quick size (papermill parameters from its front matter, as in
tests/test_chapters.py); the reference is the run of tests/test_chapters.py in ``_build/quick`` when
this session made it (same xdist group, so it ran first), else a run made here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from build_book import QUICK_NOTEBOOKS as QUICK_DIR  # noqa: E402
from build_book import toc_notebooks  # noqa: E402

CHAPTERS = [c for c in toc_notebooks() if c.stem[:2].isdigit()]
#: The seeds of the reruns (each chapter's own SEED is the reference).
OTHER_SEEDS = (104, 7)
_SESSION_START = time.time()


def glued_verdicts(notebook: Path) -> dict[str, str]:
    """``claim_status`` (its status word) and every ``verdict_*`` value glued in an executed notebook, as
    plain text."""
    nb = json.loads(notebook.read_text())
    out = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook", {})
            name = scrapbook.get("name")
            if name and (name == "claim_status" or name.startswith("verdict_")):
                # papermill/scrapbook store a glued value under its mime prefix
                # ("application/papermill.record/text/plain"), plain display outputs under "text/plain"
                data = output.get("data", {})
                key = scrapbook.get("mime_prefix", "") + "text/plain"
                if key not in data:
                    raise KeyError(f"{notebook.name}: glued value {name!r} has no {key!r} output")
                text = data[key]
                text = ("".join(text) if isinstance(text, list) else text).strip().strip("'\"")
                # a chapter not yet in the chapter pattern glues "word: sentence with numbers" as its
                # claim_status: the verdict is the status word (the numbers may move with the seed)
                out[name] = text.split(":")[0].strip() if name == "claim_status" else text
    return out


def _run(chapter: Path, out: Path, extra: dict, env: dict | None = None) -> dict[str, str]:
    import jupytext
    import papermill

    nb = jupytext.read(chapter)
    quick = dict(nb.metadata.get("fpkit", {}).get("quick") or {})
    source = out.with_suffix(".source.ipynb")
    jupytext.write(nb, source)
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        papermill.execute_notebook(str(source), str(out), parameters={**quick, **extra}, kernel_name="python3",
                                   cwd=str(chapter.parent), progress_bar=False, request_save_on_cell_execute=False)
    finally:
        source.unlink(missing_ok=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return glued_verdicts(out)


def test_glued_verdicts_reads_scrapbook_outputs(tmp_path):
    nb = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "display_data", "metadata": {"scrapbook": {"name": "claim_status", "mime_prefix": ""}},
         "data": {"text/plain": "partly"}},
        {"output_type": "display_data", "metadata": {"scrapbook": {"name": "verdict_hump", "mime_prefix": ""}},
         "data": {"text/plain": ["a hump ", "at N = 16"]}},
        {"output_type": "display_data",
         "metadata": {"scrapbook": {"name": "verdict_code", "mime_prefix": "application/papermill.record/"}},
         "data": {"application/papermill.record/text/plain": "kept",
                  "application/papermill.record/text/markdown": "kept"}},
        {"output_type": "display_data", "metadata": {"scrapbook": {"name": "d_number", "mime_prefix": ""}},
         "data": {"text/plain": "0.25"}}]}]}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    assert glued_verdicts(path) == {"claim_status": "partly", "verdict_hump": "a hump at N = 16", "verdict_code": "kept"}


@pytest.mark.chapter
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_verdicts_survive_other_seeds_and_last_bit_weights(chapter: Path, tmp_path):
    pytest.importorskip("papermill")
    reference = QUICK_DIR / f"{chapter.stem}.ipynb"
    if reference.exists() and reference.stat().st_mtime >= _SESSION_START:
        expected = glued_verdicts(reference)
    else:
        expected = _run(chapter, tmp_path / "reference.ipynb", {})
    assert expected.get("claim_status"), f"{chapter.name} glues no claim_status (or an empty one)"
    assert all(expected.values()), f"{chapter.name}: empty verdicts read back: {expected}"
    runs = {"FPKIT_WEIGHT_ULPS=1": _run(chapter, tmp_path / "ulps.ipynb", {}, {"FPKIT_WEIGHT_ULPS": "1"})}
    for seed in OTHER_SEEDS:
        runs[f"SEED={seed}"] = _run(chapter, tmp_path / f"seed{seed}.ipynb", {"SEED": seed})
    differ = {run: {k: (expected.get(k), got.get(k)) for k in set(expected) | set(got) if expected.get(k) != got.get(k)}
              for run, got in runs.items()}
    differ = {run: d for run, d in differ.items() if d}
    assert not differ, f"{chapter.name}: verdicts changed (reference, rerun): {differ}"
