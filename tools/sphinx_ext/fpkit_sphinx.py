"""Small Sphinx fixes for the book (loaded from _config.yml as a local extension).

* Jupyter Book can fire ``env-before-read-docs`` twice in one build, and extensions that add an
  inline script on that event (sphinx-togglebutton) then put it on every page twice; a second
  ``const`` declaration in such a script would be a JavaScript SyntaxError, which the browser
  test (tests/test_browser.py) catches. Here each page's script list is de-duplicated.
"""

from __future__ import annotations


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


def setup(app):
    # early: a handler that returns a template name stops the event (emit_firstresult)
    app.connect("html-page-context", _dedupe_scripts, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
