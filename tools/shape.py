"""The library's shape, measured: import cycles, module and function sizes, private names used across
modules, and the size of the chapters' code.

``python tools/shape.py`` prints a report; ``tests/test_shape.py`` holds the limits.

* **import graph**: every ``import`` / ``from ... import`` of an ``fpkit`` module anywhere in a module
  (function-level imports included: hiding a cycle in a function does not remove it);
  ``from fpkit.pkg import name`` counts as an edge to ``fpkit.pkg.name`` where that is a module, else to
  ``fpkit.pkg``. Edges into a package's ``__init__`` from its own submodules are not followed through
  the package (``from . import x`` inside ``fpkit.engine`` reads ``fpkit.engine.x``).
* **code lines** of a function: non-blank lines of its body, its docstring excluded (comments count).
* **private names across modules**: ``from fpkit.mod import _name`` (or ``mod._name``) where ``_name``
  is defined in another module (dunder names excepted).
"""

from __future__ import annotations

import ast
import io
import json
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "fpkit"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(mod: str, is_pkg: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> fpkit modules it imports (anywhere in the file)."""
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        is_pkg = path.name == "__init__.py"
        out: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("fpkit"):
                        out.add(_longest(a.name, mods))
            elif isinstance(node, ast.ImportFrom):
                src = _resolve(mod, is_pkg, node.level, node.module)
                if not src.startswith("fpkit"):
                    continue
                for a in node.names:
                    full = f"{src}.{a.name}"
                    out.add(full if full in mods else _longest(src, mods))
        out.discard(mod)
        graph[mod] = out
    return graph


def _longest(name: str, mods) -> str:
    parts = name.split(".")
    while parts and ".".join(parts) not in mods:
        parts.pop()
    return ".".join(parts)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan). A package's
    ``__init__`` importing its own submodules is not a cycle unless a submodule imports the
    package back; edges from a submodule to its parent package are ignored when the name it reads
    is a submodule (already resolved above)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


def _package_edges_removed(graph):
    """A package's __init__ re-exports its submodules; a submodule that imports a sibling through
    the package (``from . import x``) is already resolved to the sibling. What is left: edges
    package -> submodule (re-export) and submodule -> package (reading a re-exported name). The
    latter makes a cycle through __init__ that is only a cycle of names if the package imports
    the submodule back, which it always does; count it as an edge to the module that defines the
    name instead, which needs name resolution: we simply drop package -> own-submodule edges."""
    g = {}
    for mod, deps in graph.items():
        g[mod] = {d for d in deps if not d.startswith(mod + ".")}
    return g


def code_lines(node: ast.AST, source_lines: list[str], comment_lines: set[int]) -> int:
    """Non-blank lines of a function from its first statement to its end, docstring excluded
    (comment lines count: the stricter measure)."""
    body = node.body
    start = body[0]
    doc: set[int] = set()
    if isinstance(start, ast.Expr) and isinstance(getattr(start, "value", None), ast.Constant) \
            and isinstance(start.value.value, str):
        doc = set(range(start.lineno, start.end_lineno + 1))
    return sum(1 for ln in range(start.lineno, node.end_lineno + 1)
               if ln not in doc and source_lines[ln - 1].strip())


def _comment_lines(text: str) -> set[int]:
    out = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            line = tok.line.strip()
            if line.startswith("#"):
                out.add(tok.start[0])
    return out


def functions(mods) -> list[tuple[str, str, int]]:
    out = []
    for mod, path in mods.items():
        text = path.read_text()
        src, comments = text.splitlines(), _comment_lines(text)
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((mod, node.name, code_lines(node, src, comments)))
    return out


def private_imports(mods) -> list[tuple[str, str, str]]:
    """(importing module, source module, name) for private names taken from another module."""
    out = []
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                src = _resolve(mod, is_pkg, node.level, node.module)
                if not src.startswith("fpkit"):
                    continue
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__") and f"{src}.{a.name}" not in mods:
                        out.append((mod, src, a.name))
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                # module._name where module is an imported fpkit module alias
                if isinstance(node.value, ast.Name) and node.value.id in _module_aliases(tree, mod, is_pkg, mods):
                    out.append((mod, _module_aliases(tree, mod, is_pkg, mods)[node.value.id], node.attr))
    return sorted(set(out))


_ALIAS_CACHE: dict = {}


def _module_aliases(tree, mod, is_pkg, mods) -> dict[str, str]:
    key = (mod, id(tree))
    if key in _ALIAS_CACHE:
        return _ALIAS_CACHE[key]
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = _resolve(mod, is_pkg, node.level, node.module)
            for a in node.names:
                full = f"{src}.{a.name}"
                if full in mods and full != mod:
                    out[a.asname or a.name] = full
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name in mods and a.asname:
                    out[a.asname] = a.name
    _ALIAS_CACHE[key] = out
    return out


def chapter_code_lines(book: Path = ROOT / "book") -> dict[str, int]:
    """Code lines (non-blank, not comment-only) in the code cells of each chapter."""
    out = {}
    for md in sorted(book.glob("*.md")):
        text = md.read_text()
        n, inside = 0, False
        for line in text.splitlines():
            if line.startswith("```{code-cell}"):
                inside = True
                continue
            if inside and line.startswith("```"):
                inside = False
                continue
            if inside:
                s = line.strip()
                if s and not s.startswith("#") and not re.match(r"^:tags:|^---$|^[a-z_]+:", s if s.startswith(":") else ""):
                    n += 1
        if n:
            out[md.name] = n
    return out


def report() -> dict:
    mods = modules()
    graph = _package_edges_removed(imports(mods))
    return {
        "cycles": cycles(graph),
        "modules_over_700": {m: n for m, p in mods.items()
                             if (n := len(p.read_text().splitlines())) > 700},
        "functions_over_80": [(m, f, n) for m, f, n in functions(mods) if n > 80],
        "private_imports": private_imports(mods),
        "chapter_code_lines": chapter_code_lines(),
        "library_lines": sum(len(p.read_text().splitlines()) for p in mods.values()),
    }


if __name__ == "__main__":
    r = report()
    r["chapter_code_total"] = sum(r["chapter_code_lines"].values())
    print(json.dumps(r, indent=1, default=str))
