"""Provenance: every cache's code hash follows the import closure of its entry point (issue 26).

Each cache's hash is computed on an edited copy of the package: an edit to any module in the
closure changes it, an edit to a module outside leaves it. Before this layer the training hash
covered train.py and network.py only, so an edit to activations.py (used by every forward pass)
left cached training runs valid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fpkit
from fpkit._provenance import PACKAGE_ROOT, code_hash, import_closure, import_graph, source_hash
from fpkit.kacrice import KacRiceCache, kac_rice_code_hash
from fpkit.sweep import SweepCache, engine_hash
from fpkit.train import RunCache, training_hash

#: (the cache, its entry point).
CACHES = [("sweep", SweepCache.CODE_ENTRY), ("training run", RunCache.CODE_ENTRY),
          ("kac-rice", KacRiceCache.CODE_ENTRY)]


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("copy") / "fpkit"
    shutil.copytree(PACKAGE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _module_path(root: Path, module: str) -> Path:
    parts = module.split(".")[1:]
    path = root.joinpath(*parts)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def test_the_caches_use_the_closure_hash_of_their_entry_point():
    assert engine_hash() == SweepCache.code_hash() == code_hash("fpkit.sweep")
    assert training_hash() == RunCache.code_hash() == code_hash("fpkit.train.runs")
    assert kac_rice_code_hash() == KacRiceCache.code_hash() == code_hash("fpkit.kacrice")
    cfg = fpkit.GAUSSIAN_REGIME
    assert SweepCache.key(cfg, {}) == SweepCache.key(cfg, {}, engine_hash())
    assert SweepCache.key(cfg, {}, "a")[0] != SweepCache.key(cfg, {}, "b")[0]


def test_the_closures_hold_what_the_computations_run():
    sweep = import_closure(SweepCache.CODE_ENTRY)
    training = import_closure(RunCache.CODE_ENTRY)
    for module in ("fpkit.activations", "fpkit.network", "fpkit.sampling", "fpkit.engine.census",
                   "fpkit.engine.iterate", "fpkit._validate", "fpkit.backend"):
        assert module in sweep
    for module in ("fpkit.activations", "fpkit.train.fit", "fpkit.train.data", "fpkit.train.config"):
        assert module in training  # activations: the hole of the hand-written list (train, network)
    for outside in ("fpkit.plotting", "fpkit.kacrice", "fpkit.cli", "fpkit.restore"):
        assert outside not in sweep and outside not in training
    assert "fpkit.engine.census" not in training  # training runs no fixed-point engine
    kac_rice = import_closure(KacRiceCache.CODE_ENTRY)
    for module in ("fpkit.activations", "fpkit.network", "fpkit.sampling", "fpkit.theory.kac_rice",
                   "fpkit.theory.kac_rice_sampling", "fpkit.theory.lengthmap", "fpkit.theory.quadrature",
                   "fpkit.theory.free", "fpkit.theory.cavity", "fpkit.theory.spectral_route"):
        assert module in kac_rice  # activations and the theory: holes of the old hand-written module list
    for outside in ("fpkit.sweep", "fpkit.engine", "fpkit.engine.census", "fpkit.spectra", "fpkit.plotting"):
        assert outside not in kac_rice  # config_seed lives in fpkit.network: the sweep's engine is not pulled in


@pytest.mark.parametrize("kind, entry", CACHES)
def test_a_cache_hash_changes_with_every_module_of_its_closure_and_no_other(package_copy, kind, entry):
    before = code_hash(entry, root=package_copy)
    assert before == code_hash(entry)  # the copy hashes as the package
    closure = set(import_closure(entry, root=package_copy))
    assert len(closure) >= 8
    for module in sorted(import_graph(package_copy)):
        path = _module_path(package_copy, module)
        text = path.read_text()
        path.write_text(text + "\n# an edit\n")
        try:
            changed = code_hash(entry, root=package_copy) != before
        finally:
            path.write_text(text)
        assert changed == (module in closure), f"{kind} hash and an edit of {module}"
    assert code_hash(entry, root=package_copy) == before


def test_source_hash_covers_every_file(package_copy):
    before = source_hash(root=package_copy)
    assert before == source_hash() == fpkit.source_hash()
    for path in sorted(package_copy.rglob("*.py")):
        text = path.read_text()
        path.write_text(text + "\n# an edit\n")
        try:
            assert source_hash(root=package_copy) != before, path
        finally:
            path.write_text(text)


def _package(tmp_path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_function_level_and_relative_imports_count(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "from .a import run\n",
        "a.py": """
            from . import b as helper
            def run():
                from .sub import deep  # a function-level import
                return helper, deep
            """,
        "b.py": "from pkg.c import value\n",
        "c.py": "from .sub import x\nvalue = x\n",
        "sub/__init__.py": "from .other import x\n",
        "sub/deep.py": "import os\n",
        "sub/other.py": "x = 2\n",
        "unused.py": "import pkg.a\n",
    })
    # c reads a name of the package pkg.sub: its __init__ counts, and so pkg.sub.other; ``from .sub import deep``
    # reads the module pkg.sub.deep only; pkg itself is never imported by name
    assert import_closure("pkg.a", root=root) == ("pkg.a", "pkg.b", "pkg.c", "pkg.sub", "pkg.sub.deep",
                                                  "pkg.sub.other")
    assert import_closure("pkg.sub.deep", root=root) == ("pkg.sub.deep",)
    assert import_closure(["pkg.sub.deep", "pkg.sub.other"], root=root) == ("pkg.sub.deep", "pkg.sub.other")
    before = code_hash("pkg.a", root=root)
    (root / "unused.py").write_text("import pkg.a\n# edited\n")
    assert code_hash("pkg.a", root=root) == before
    (root / "sub" / "deep.py").write_text("import os  # edited\n")
    assert code_hash("pkg.a", root=root) != before


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="entries: 'fpkit.nowhere' is not a module"):
        import_closure("fpkit.nowhere")
    with pytest.raises(ValueError, match="entries must name at least one module"):
        code_hash([])
    with pytest.raises(ValueError, match="root must be a package directory"):
        code_hash("fpkit.sweep", root=tmp_path)
    with pytest.raises(TypeError, match="root must be a path"):
        source_hash(root=3)


def test_an_edited_copy_imported_from_disk_reports_new_cache_hashes(tmp_path):
    """The issue's reproduction: edit activations.py in a copy, import the copy, compare the hashes (training,
    sweep and Kac-Rice caches: the hand-written lists of training and Kac-Rice left activations.py out)."""
    root = tmp_path / "fpkit"
    shutil.copytree(PACKAGE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    with open(root / "activations.py", "a") as fh:
        fh.write("\n# a changed activation\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    script = ("import fpkit.train, fpkit.sweep, fpkit.kacrice; print(fpkit.__file__, fpkit.train.training_hash(), "
              "fpkit.sweep.engine_hash(), fpkit.kacrice.kac_rice_code_hash())")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout.split()
    assert out[0] == str(root / "__init__.py")
    assert out[1] != training_hash() and out[2] != engine_hash() and out[3] != kac_rice_code_hash()
