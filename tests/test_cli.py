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


def test_main_requires_a_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2  # argparse's usage error, not a crash or a silent success
    err = capsys.readouterr().err
    assert err.startswith("usage: fpkit") and "the following arguments are required: command" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2 and "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_main_runs_info(monkeypatch, capsys):
    monkeypatch.setenv("FPKIT_BACKEND", "numpy")
    cli.main(["info"])
    assert "backend numpy" in capsys.readouterr().out


SPEC = """
base: {N: 3, law: cauchy, scale: 4.0, activation: tanh}
axes: {L: [1, 2]}
n_networks: 4
n_starts: 8
seed: 3
engine: {max_iter: 500}
"""


def test_sweep_command_writes_results_and_resumes(tmp_path, capsys):
    import pandas as pd

    from fpkit.network import NetworkConfig
    from fpkit.sweep import run_sweep

    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    cli.main(["sweep", str(spec), "--out", str(out), "--no-progress"])
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 8 and sorted(table["L"].unique()) == [1, 2]
    assert len(list((out / "cache").glob("*.fpsweep"))) == 2
    assert "2 configurations, 8 networks" in capsys.readouterr().out
    direct = run_sweep([NetworkConfig(N=3, L=L, law="cauchy", scale=4.0, activation="tanh") for L in (1, 2)],
                       n_networks=4, n_starts=8, seed=3, max_iter=500, progress=False)
    assert table["Q"].tolist() == direct["Q"].tolist()
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "cache").glob("*.fpsweep")}
    cli.main(["sweep", str(spec), "--out", str(out), "--no-progress"])  # all cached: nothing rewritten
    assert {p: p.stat().st_mtime_ns for p in (out / "cache").glob("*.fpsweep")} == mtimes


@pytest.mark.parametrize("text, message", [
    ("axes: {L: [1]}\nn_starts: 4\n", "missing key 'n_networks'"),
    ("axes: {L: [1]}\nn_networks: 1\nn_starts: 4\nbogus: 1\n", "unknown keys \\['bogus'\\]"),
    ("axes: {L: [1]}\nn_networks: 1\nn_starts: 4\nbase: {N: 3, width: 2}\n", "bad configuration field"),
    ("axes: {L: [0]}\nn_networks: 1\nn_starts: 4\nbase: {N: 3}\n", "L must be an integer >= 1"),
    ("- 1\n- 2\n", "must be a YAML mapping"),
])
def test_sweep_command_rejects_bad_files(tmp_path, capsys, text, message):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    with pytest.raises(SystemExit) as exc:
        cli.main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--no-progress"])
    assert exc.value.code == 2
    import re

    assert re.search(message, capsys.readouterr().err)
