"""Sphinx additions for the book (loaded from _config.yml as a local extension).

* **Notebook downloads.** A chapter written in MyST Markdown is executed by myst-nb into
  ``_build/jupyter_execute``; sphinx-book-theme offers that executed ``.ipynb`` (with its outputs)
  in the download menu only when launch buttons are configured, which need a network the book
  does not have. Here every such notebook is copied to ``_sources`` and offered as ``.ipynb``
  (a page built from an ``.ipynb``, as in the quick book, offers its source, which is one).
* **``fpkit.*`` names resolve to the API page.** ``{py:func}`fpkit.sample_weights``` names a function
  by where a reader imports it; the API page documents it where it is defined
  (``fpkit.sampling.sample_weights``). A Python reference to ``fpkit.X`` that the build finds no
  target for is resolved through the object's ``__module__`` and ``__qualname__``; one that
  still finds none stays a nitpicky warning (an error under ``-W``).
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


def _public_fpkit_target(target: str) -> str | None:
    """``fpkit.sample_weights`` -> ``fpkit.sampling.sample_weights`` (where it is documented)."""
    parts = target.split(".")
    if parts[0] != "fpkit" or len(parts) < 2:
        return None
    try:
        obj = importlib.import_module("fpkit")
        for part in parts[1:]:
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname:
        return None
    resolved = f"{module}.{qualname}"
    return resolved if resolved != target else None


def _resolve_public_name(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    resolved = _public_fpkit_target(node.get("reftarget", ""))
    if resolved is None:
        return None
    node = node.deepcopy()
    node["reftarget"] = resolved
    return env.domains["py"].resolve_xref(env, node["refdoc"], app.builder, node["reftype"], resolved, node,
                                          contnode)


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
