"""Sphinx additions for the book (loaded from _config.yml as a local extension).

* **Notebook downloads.** A chapter written in MyST Markdown is executed by myst-nb into
  ``_build/jupyter_execute``; sphinx-book-theme offers that executed ``.ipynb`` (with its outputs)
  in the download menu only when launch buttons are configured, which need a network the book
  does not have. Here every such notebook is copied to ``_sources`` and offered as ``.ipynb``
  (a page built from an ``.ipynb``, as in the quick book, offers its source, which is one).
* **``fpkit.*`` names resolve to the API page.** ``{py:func}`fpkit.sample_weights``` names a function
  by where a reader imports it; the API page documents it where it is defined
  (``fpkit.sampling.sample_weights``). A Python reference that the build finds no target for is
  resolved as Python would read it, as written or from the module and class of the docstring it
  is in, through the object's ``__module__`` and ``__qualname__`` (a constant: the documented name
  that is the same object); one that still finds none stays a nitpicky warning (an error under
  ``-W``).
* **The default regimes in words.** ``{{ cauchy_regime }}`` and ``{{ gaussian_regime }}`` (MyST
  substitutions, for the introduction) describe :data:`fpkit.regimes.CAUCHY_REGIME` and
  :data:`fpkit.regimes.GAUSSIAN_REGIME` from their fields, so the text cannot drift from the code.
* Jupyter Book can fire ``env-before-read-docs`` twice in one build, and extensions that add an
  inline script on that event (sphinx-togglebutton) then put it on every page twice; a second
  ``const`` declaration in such a script would be a JavaScript SyntaxError, which the browser
  test (tests/test_browser.py) catches. Here each page's script list is de-duplicated.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

_LAW_NAMES = {"gaussian": "Gaussian", "cauchy": "Cauchy", "student_t": "Student-t", "alpha_stable": "α-stable"}


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for js in scripts:
        # the second copy of an inline script has filename '' where the first has None
        filename = getattr(js, "filename", js) or ""
        key = (str(filename), tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique  # in place: handlers after this one may still append to the same list


def _offer_executed_notebook(app, pagename, templatename, context, doctree):
    """Put the executed notebook of a MyST chapter into the download menu (as ``.ipynb``)."""
    if doctree is None or context.get("ipynb_source") or str(context.get("page_source_suffix")) != ".md":
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.exists():
        return  # not a notebook page
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def _lookup(dotted: str):
    """The object a dotted name denotes (a module, then attributes), or None."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for part in parts[split:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def _public_fpkit_target(target: str, documented=()) -> str | None:
    """Where the API page documents what ``target`` names: ``fpkit.sample_weights`` ->
    ``fpkit.sampling.sample_weights`` (through ``__module__`` and ``__qualname__``); a constant
    (no qualified name) -> the documented name among ``documented`` that is the same object."""
    if not target.startswith("fpkit."):
        return None
    obj = _lookup(target)
    if obj is None:
        return None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    candidates = [f"{module}.{qualname}"] if module and qualname and not isinstance(obj, type(importlib)) else []
    if not documented or candidates[:1] and candidates[0] in documented:
        resolved = candidates[0] if candidates else None
    else:  # documented under another name (a package re-exporting it): the same object
        last = target.rsplit(".", 1)[-1]
        same = sorted(name for name in documented if name.rsplit(".", 1)[-1] == last and _lookup(name) is obj)
        resolved = same[0] if same else (candidates[0] if candidates else None)
    return resolved if resolved != target else None


def _resolve_public_name(app, env, node, contnode):
    """A Python reference the build found no target for, resolved the way Python reads it: as
    written (``fpkit.sample_weights``), or from the module and class of the docstring it is in
    (``DRAW_BLOCK`` in ``fpkit.train``, ``load`` in a subclass of ``DiskCache``), to where the
    API page documents that object."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    module, cls = node.get("py:module"), node.get("py:class")
    scopes = [f"{module}.{cls}." if module and cls else "", f"{module}." if module else "", ""]
    documented = env.domains["py"].objects
    for scope in scopes:
        resolved = _public_fpkit_target(scope + target, documented)
        if resolved is not None and resolved in documented:
            node = node.deepcopy()
            node["reftarget"] = resolved
            return env.domains["py"].resolve_xref(env, node["refdoc"], app.builder, node["reftype"], resolved,
                                                  node, contnode)
    return None


def regime_text(config) -> str:
    """A :class:`fpkit.NetworkConfig` in words: activation, weight and bias laws with scales, N, L."""
    from fpkit.sampling import weight_law

    law = weight_law(config.law, df=config.df, alpha=config.alpha)
    name = _LAW_NAMES.get(config.law, config.law)
    a = law.stability_index
    if config.convention == "absolute":
        factor = f"{config.scale:g}"
    elif config.convention == "sqrt_fan_in" or a == 2:
        factor = f"{config.scale:g}/√N"
    elif a == 1:
        factor = f"{config.scale:g}/N"
    else:
        factor = f"{config.scale:g}·N^(-1/{a:g})"
    text = f"{config.activation}, {name} weights of scale {factor}"
    if config.bias_law is not None:
        bias = name if config.bias_law == "same" else _LAW_NAMES.get(config.bias_law, config.bias_law)
        text += f" and {bias} biases of scale {config.bias_scale:g}"
    return text + f", N = {config.N}, L = {config.L}"


def _regime_substitutions(app, config):
    from fpkit.regimes import CAUCHY_REGIME, GAUSSIAN_REGIME

    substitutions = dict(getattr(config, "myst_substitutions", None) or {})
    substitutions.setdefault("cauchy_regime", regime_text(CAUCHY_REGIME))
    substitutions.setdefault("gaussian_regime", regime_text(GAUSSIAN_REGIME))
    config.myst_substitutions = substitutions


def setup(app):
    # early: a handler that returns a template name stops the event (emit_firstresult)
    app.connect("html-page-context", _dedupe_scripts, priority=1)
    # before sphinx-book-theme builds its download menu (priority 501)
    app.connect("html-page-context", _offer_executed_notebook, priority=400)
    app.connect("missing-reference", _resolve_public_name)
    app.connect("config-inited", _regime_substitutions, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
