"""Provenance: the fpkit version and the hash of the code behind a cached computation.

A cached result is valid only for the code that computed it. :func:`code_hash` hashes the source
of every fpkit module in the *import closure* of a computation's entry point: the entry module,
the fpkit modules it imports, the modules they import, and so on. The closure is read from the
source with :mod:`ast`, without importing anything, and counts every ``import`` of an fpkit module
anywhere in a file, function-level imports included (a function that imports
``fpkit.activations`` when it runs depends on it as much as a module that imports it at the top).

What the closure leaves out: the ``__init__`` of the packages above a module (Python runs it
before the module, but it only re-exports names) unless the code imports the package itself
(``from fpkit.engine import find_fixed_points`` reads the package ``fpkit.engine``, whose
``__init__`` imports every engine module: they all count). Libraries outside fpkit are not hashed;
the caches store and check their versions instead (:func:`library_versions`).

:func:`source_hash` hashes every module of the package (what the book's notebook cache needs:
any change to fpkit re-executes the chapters).
"""

from __future__ import annotations

import ast
import hashlib
import platform
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from os import PathLike
from pathlib import Path

__all__ = ["__version__", "code_hash", "import_closure", "import_graph", "library_versions", "source_hash"]

try:
    __version__ = version("fpkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

#: The directory of the fpkit package this module belongs to.
PACKAGE_ROOT = Path(__file__).resolve().parent


def _package_modules(root: Path) -> dict[str, Path]:
    """Module name -> source file of every module of the package at ``root`` (``fpkit.engine.census``)."""
    package = root.name
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _longest_module(name: str, modules: dict[str, Path]) -> str | None:
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) or None


def _statements(nodes):
    """Every statement in ``nodes`` and in their bodies (imports are statements: expressions are skipped)."""
    for node in nodes:
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            child = getattr(node, field, None)
            if isinstance(child, list):
                yield from _statements(child)


@lru_cache(maxsize=4096)
def _imported_names(source: bytes, module: str, is_package: bool) -> tuple[tuple[str, str], ...]:
    """What the source imports, anywhere, as (name, fallback) pairs of absolute dotted names.

    ``import a.b`` gives ``("a.b", "a.b")``; ``from a import b`` gives ``("a.b", "a")``: the
    submodule ``a.b`` where there is one, else the module ``a`` (``b`` is a name defined in it).
    Keyed by the source itself, so an edited file is parsed again and an unchanged one once per process.
    """
    own = module.split(".") if is_package else module.split(".")[:-1]
    out = []
    for node in _statements(ast.parse(source).body):
        if isinstance(node, ast.Import):
            out += [(a.name, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = own[: len(own) - (node.level - 1)] if node.level else []
            origin = ".".join(base + ([node.module] if node.module else []))
            out += [(f"{origin}.{a.name}", origin) for a in node.names]
    return tuple(out)


def _module_imports(module: str, path: Path, modules: dict[str, Path], package: str) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source."""
    out: set[str] = set()
    for name, fallback in _imported_names(path.read_bytes(), module, path.name == "__init__.py"):
        if fallback != package and not fallback.startswith(package + "."):
            continue
        target = name if name in modules else _longest_module(fallback, modules)
        if target is not None:
            out.add(target)
    out.discard(module)
    return out


def _check_root(root) -> Path:
    if root is None:
        return PACKAGE_ROOT
    if not isinstance(root, (str, PathLike)):
        raise TypeError(f"root must be a path to a package directory; got {type(root).__name__}")
    path = Path(root).resolve()
    if not (path / "__init__.py").is_file():
        raise ValueError(f"root must be a package directory holding __init__.py; got {str(root)!r}")
    return path


def import_graph(root: str | Path | None = None) -> dict[str, frozenset[str]]:
    """Module -> the package's modules it imports (anywhere in its source), for the package at ``root``.

    Parameters
    ----------
    root : path, optional
        The package directory (the one holding ``__init__.py``); default: this fpkit. A copy of
        the package elsewhere (the tests edit one) is read as the package of the same name.
    """
    root = _check_root(root)
    modules = _package_modules(root)
    return {m: frozenset(_module_imports(m, p, modules, root.name)) for m, p in modules.items()}


def import_closure(entries: str | Iterable[str], *, root: str | Path | None = None) -> tuple[str, ...]:
    """The fpkit modules a computation whose code starts in ``entries`` can run, sorted.

    Parameters
    ----------
    entries : str or iterable of str
        Module names (``"fpkit.sweep"``): the entry points.
    root : path, optional
        See :func:`import_graph`.

    Examples
    --------
    >>> "fpkit.activations" in import_closure("fpkit.sweep")
    True
    """
    root = _check_root(root)
    modules = _package_modules(root)
    entries = [entries] if isinstance(entries, str) else list(entries)
    if not entries:
        raise ValueError("entries must name at least one module")
    for name in entries:
        if name not in modules:
            raise ValueError(f"entries: {name!r} is not a module of the package {str(root)!r} "
                             f"(known: {', '.join(sorted(modules))})")
    seen: set[str] = set()
    todo = list(entries)
    while todo:  # only the closure's files are read
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_module_imports(name, modules[name], modules, root.name) - seen)
    return tuple(sorted(seen))


def _digest(modules: Iterable[str], root: Path) -> str:
    paths = _package_modules(root)
    digest = hashlib.sha256()
    for path in sorted(paths[m] for m in modules):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def code_hash(entries: str | Iterable[str], *, root: str | Path | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the source of :func:`import_closure` ``(entries)``.

    Part of every cache key: a change to any module the computation can run invalidates its
    cached results; a change elsewhere in fpkit does not.
    """
    root = _check_root(root)
    return _digest(import_closure(entries, root=root), root)


def source_hash(*, root: str | Path | None = None) -> str:
    """SHA-256 (first 16 hex digits) of every source file of fpkit.

    Chapters print it in their first cell so that the book's executed-notebook cache (which keys
    on cell sources and outputs) is invalidated when the library changes.
    """
    root = _check_root(root)
    return _digest(_package_modules(root), root)


@lru_cache(maxsize=None)
def _distribution_version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def library_versions(libraries: Iterable[str]) -> dict[str, str]:
    """``{"fpkit": ..., "python": ..., library: version}``: what computed a cached result.

    ``libraries`` are distribution names (``"numpy"``, ``"torch"``); one that is not installed
    reads ``"not installed"``.
    """
    out = {"fpkit": __version__, "python": platform.python_version()}
    for dist in libraries:
        out[dist] = _distribution_version(dist)
    return out
