"""Suite-wide settings.

* The suite runs on NumPy: ``FPKIT_BACKEND=numpy`` is set before any test module imports fpkit,
  so installing CuPy (or running on a GPU machine) cannot change what the CPU suite computes.
  A test marked ``@pytest.mark.gpu`` runs with ``FPKIT_BACKEND=cupy`` instead, and is skipped
  where CuPy has no CUDA device.
* At the end of a run that included the browser test, one line says how many pages and typeset
  formulas it checked and how many requests went to other hosts.
"""

from __future__ import annotations

import os
import sys

import pytest

os.environ["FPKIT_BACKEND"] = "numpy"


@pytest.fixture(autouse=True)
def _backend_for_this_test(request, monkeypatch):
    if request.node.get_closest_marker("gpu") is None:
        monkeypatch.setenv("FPKIT_BACKEND", "numpy")
        return
    from fpkit import backend

    cupy, why = backend._cupy_or_reason()
    if cupy is None:
        pytest.skip(f"needs CuPy with a CUDA device: {why}")
    monkeypatch.setenv("FPKIT_BACKEND", "cupy")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    module = sys.modules.get("test_browser") or sys.modules.get("tests.test_browser")
    results = getattr(module, "RESULTS", None)
    if not results:
        return
    formulas = sum({r["shown"]: r["formulas"] for r in results.values()}.values())  # index.html redirects
    requests = sum(r["requests"] for r in results.values())
    off_host = sum(r["off_host"] for r in results.values())
    terminalreporter.write_sep("-", "browser test of the book")
    terminalreporter.write_line(
        f"{module.HTML}: {len(results)} pages, {formulas} formulas typeset by MathJax, "
        f"{requests} requests, {off_host} to other hosts")
