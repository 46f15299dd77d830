import io

import pytest

from fpkit import cli


def test_info_prints_versions_backend_and_device(monkeypatch):
    monkeypatch.setenv("FPKIT_BACKEND", "numpy")
    out = io.StringIO()
    cli.info(out)
    text = out.getvalue()
    assert text.startswith("fpkit ")
    assert "numpy " in text
    assert "backend numpy" in text
    assert "device CPU" in text


def test_info_with_bad_backend_exits_nonzero(monkeypatch):
    monkeypatch.setenv("FPKIT_BACKEND", "nonsense")
    with pytest.raises(SystemExit) as exc:
        cli.info(io.StringIO())
    assert exc.value.code == 2


def test_main_requires_a_command():
    with pytest.raises(SystemExit):
        cli.main([])
