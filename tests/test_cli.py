import io
from pathlib import Path

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


# --------------------------------------------------------------------------- issue 14: no tracebacks

import fpkit.sweep as sweep_mod  # noqa: E402


def _fails(argv, capsys, code=2):
    """Run the CLI, expect exit ``code`` and exactly one line on stderr; return that line."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def spec_file(tmp_path):
    def write(text):
        path = tmp_path / "s.yaml"
        path.write_text(text)
        return str(path)
    return write


@pytest.mark.parametrize("text, message", [
    ("axes: {L: [1, 2]\nn_networks: 1\nn_starts: 4\n", r"YAML error at line \d+, column \d+"),
    ("axes: {L: [1]}\nn_networks: 1\nn_starts: 4\nn_starts: 8\n", "duplicated key 'n_starts'"),
    ("axes: {L: [1], L: [2]}\nn_networks: 1\nn_starts: 4\nbase: {N: 3}\n", "duplicated key 'L'"),
    ("axes: {L: []}\nn_networks: 1\nn_starts: 4\nbase: {N: 3}\n", "'L' has no values"),
    ("axes: {}\nn_networks: 1\nn_starts: 4\nbase: {N: 3}\n", "'axes' must name at least one field"),
    ("axes: {L: [1]}\nn_networks: 1\nn_starts: 4\nbase: {N: 3, L: 2}\n", "both 'base' and 'axes'"),
    ("axes: {L: [1]}\nn_networks: 0\nn_starts: 4\nbase: {N: 3}\n", "n_networks must be an integer >= 1"),
    ("axes: {L: [1]}\nn_networks: 1\nn_starts: 4\nseed: -3\nbase: {N: 3}\n", "seed must be an integer >= 0"),
    ("axes: {L: [1]}\nn_networks: 1\nn_starts: 4\nbase: {N: 3}\nengine: {newton: 'no'}\n", "newton must be True"),
    ("axes: {L: [1]}\nn_networks: 1\nn_starts: 4\nbase: {N: 19}\nseeding: grid\n", "seeding='grid'"),
    ("\tbad", "YAML error"),
])
def test_every_bad_sweep_file_is_one_line_and_exit_2(spec_file, tmp_path, capsys, text, message):
    import re

    line = _fails(["sweep", spec_file(text), "--out", str(tmp_path / "o"), "--no-progress"], capsys)
    assert re.search(message, line), line
    assert line.startswith("fpkit sweep: error: ")


def test_yaml_1_1_float_quirk_is_read_as_a_number(spec_file):
    spec = cli.load_sweep_spec(spec_file("base: {N: 3, scale: 1e3, bias_scale: 2.5E-1}\naxes: {L: [1]}\n"
                                         "n_networks: 1\nn_starts: 4\nengine: {tol: 1e-8}\n"))
    assert spec["configs"][0].scale == 1000.0 and spec["configs"][0].bias_scale == 0.25
    assert spec["settings"].tol == 1e-8


def test_missing_sweep_file_is_one_line(tmp_path, capsys):
    line = _fails(["sweep", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")], capsys)
    assert "No such file" in line


def test_unavailable_backend_is_one_line(spec_file, tmp_path, capsys, monkeypatch):
    from fpkit.backend import _cupy_or_reason

    if _cupy_or_reason()[0] is not None:
        pytest.skip("CuPy works here")
    monkeypatch.setenv("FPKIT_BACKEND", "cupy")
    line = _fails(["sweep", spec_file(SPEC), "--out", str(tmp_path / "o"), "--no-progress"], capsys)
    assert "backend 'cupy' was requested but cannot run" in line
    assert not (tmp_path / "o").exists()  # nothing was started
    line = _fails(["info"], capsys)
    assert line.startswith("fpkit info: error: backend unavailable")


def test_info_failure_goes_to_stderr_versions_to_stdout(monkeypatch):
    monkeypatch.setenv("FPKIT_BACKEND", "nonsense")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exc:
        cli.info(out, err)
    assert exc.value.code == 2
    assert out.getvalue().startswith("fpkit ") and "nonsense" not in out.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1 and "FPKIT_BACKEND must be one of" in err.getvalue()


@pytest.mark.parametrize("exc, code, message", [
    (MemoryError("Unable to allocate 9.1 TiB"), 2, "out of memory .*Unable to allocate.* cached"),
    (KeyboardInterrupt(), 130, "interrupted; .* again to resume"),
    (RuntimeError("boom\nsecond line"), 2, "internal error RuntimeError: boom second line"),
])
def test_memory_error_ctrl_c_and_internal_errors_are_one_line(spec_file, tmp_path, capsys, monkeypatch,
                                                              exc, code, message):
    import re

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(sweep_mod, "run_sweep", fail)
    monkeypatch.delenv("FPKIT_DEBUG", raising=False)
    line = _fails(["sweep", spec_file(SPEC), "--out", str(tmp_path / "o"), "--no-progress"], capsys, code)
    assert re.search(message, line), line


def test_debug_shows_the_traceback(spec_file, tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_mod, "run_sweep", lambda *a, **k: 1 / 0)
    monkeypatch.setenv("FPKIT_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["sweep", spec_file(SPEC), "--out", str(tmp_path / "o"), "--no-progress"])


def test_unwritable_output_is_found_before_any_work(spec_file, tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(sweep_mod, "_run_chunk", lambda *a: calls.append(a))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _fails(["sweep", spec_file(SPEC), "--out", str(blocker / "out"), "--no-progress"], capsys)
    assert "output directory" in line and "not writable" in line
    out = tmp_path / "out"
    out.mkdir()
    (out / "cache").write_text("a file where the cache directory should be")
    line = _fails(["sweep", spec_file(SPEC), "--out", str(out), "--no-progress"], capsys)
    assert "cache_dir" in line and "not writable" in line
    assert calls == []


def test_results_csv_is_written_atomically(spec_file, tmp_path, monkeypatch):
    import fpkit._io as io_mod

    out = tmp_path / "o"
    out.mkdir()
    (out / "results.csv").write_text("old\n")

    def crash(fh, data):
        fh.write(data[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io_mod, "_write_all", lambda fh, data: crash(fh, data) if data[:7] == b"network"
                        else fh.write(data))
    with pytest.raises(SystemExit):
        cli.main(["sweep", spec_file(SPEC), "--out", str(out), "--no-progress"])
    assert (out / "results.csv").read_text() == "old\n"  # untouched, not truncated
    assert not list(out.glob(".tmp-*"))  # and no temporary file left


def test_top_level_help_is_plain_text(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text
    assert "fpkit info" in text and "fpkit sweep" in text


# --------------------------------------------------------------------------- issue 25: --out "" and deep YAML


@pytest.mark.parametrize("out", ["", "   "])
def test_an_empty_out_is_refused_not_the_working_directory(spec_file, tmp_path, capsys, monkeypatch, out):
    spec = spec_file(SPEC)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    line = _fails(["sweep", spec, "--out", out, "--no-progress"], capsys)
    assert "output directory must name a directory; got an empty path" in line
    assert not list(work.iterdir())  # nothing written where the command ran


@pytest.mark.parametrize("depth", [6, 300, 5000])
def test_deeply_nested_yaml_is_a_clear_error(spec_file, tmp_path, capsys, depth):
    text = "axes: {L: [1]}\nn_networks: 1\nn_starts: 4\nbase: {N: 3, law: " + "[" * depth + "]" * depth + "}\n"
    line = _fails(["sweep", spec_file(text), "--out", str(tmp_path / "o"), "--no-progress"], capsys)
    assert "nested" in line and "a sweep file nests at most 4" in line and "RecursionError" not in line


def test_the_deepest_valid_sweep_file_passes_the_depth_check(spec_file):
    spec = cli.load_sweep_spec(spec_file(SPEC))
    assert [c.L for c in spec["configs"]] == [1, 2]


@pytest.mark.parametrize("spec", sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_example_sweep_file_loads(spec):
    """The sweep files in examples/ (the README's example, chapter 4's full grid for a cluster) stay valid."""
    from fpkit.cli import load_sweep_spec

    loaded = load_sweep_spec(spec)
    assert loaded["configs"] and loaded["n_networks"] >= 1
