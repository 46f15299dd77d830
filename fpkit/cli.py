"""The ``fpkit`` command line."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib.metadata import PackageNotFoundError, version


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def info(out=None) -> None:
    """Print versions, the active backend and its device."""
    from . import __version__, source_hash
    from .backend import BackendUnavailableError, backend_name, device_description

    out = out or sys.stdout
    lines = [
        f"fpkit {__version__} (source {source_hash()})",
        f"python {platform.python_version()} on {platform.platform()}",
    ]
    for dist in ("numpy", "scipy", "pandas", "array-api-compat", "cupy-cuda12x", "torch", "jupyter-book"):
        lines.append(f"{dist} {_version(dist)}")
    try:
        name = backend_name()
        lines.append(f"backend {name}")
        lines.append(f"device {device_description(name)}")
    except (BackendUnavailableError, ValueError) as exc:
        lines.append(f"backend unavailable: {exc}")
        print("\n".join(lines), file=out)
        raise SystemExit(2) from exc
    print("\n".join(lines), file=out)


#: Keys of a sweep file (YAML) and what they mean; see :func:`load_sweep_spec`.
SWEEP_KEYS = {
    "base": "fields of NetworkConfig shared by every configuration (mapping)",
    "axes": "field -> list of values; the sweep is their product (mapping, required)",
    "n_networks": "networks per configuration (int, required)",
    "n_starts": "starts per network (int, required)",
    "seed": "root seed (int, default 0)",
    "seeding": "'uniform' or 'grid' (default 'uniform')",
    "chunk": "networks per engine call (int, default: a ~512 MiB memory budget)",
    "engine": "options of fpkit.engine.EngineSettings, e.g. max_iter, newton (mapping)",
}


def load_sweep_spec(path) -> dict:
    """Read and check a sweep file; a ValueError names any unknown or missing key."""
    import yaml

    from .sweep import config_grid

    with open(path) as fh:
        spec = yaml.safe_load(fh)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a sweep file must be a YAML mapping with keys {sorted(SWEEP_KEYS)}")
    unknown = set(spec) - set(SWEEP_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(SWEEP_KEYS)}")
    for key in ("axes", "n_networks", "n_starts"):
        if key not in spec:
            raise ValueError(f"{path}: missing key {key!r} ({SWEEP_KEYS[key]})")
    for key in ("base", "axes", "engine"):
        if key in spec and not isinstance(spec[key], dict):
            raise ValueError(f"{path}: {key!r} must be a mapping; got {type(spec[key]).__name__}")
    axes = {k: (list(vals) if isinstance(vals, list) else [vals]) for k, vals in spec["axes"].items()}
    try:
        configs = config_grid(spec.get("base") or {}, **axes)
    except TypeError as exc:
        raise ValueError(f"{path}: bad configuration field: {exc}") from exc
    from .engine import EngineSettings

    engine = dict(spec.get("engine") or {})
    for key in ("n_starts", "seeding"):
        if key in engine:
            raise ValueError(f"{path}: give {key!r} at the top level, not under 'engine'")
    settings = EngineSettings.from_mapping(
        {**engine, "n_starts": spec["n_starts"], "seeding": spec.get("seeding", "uniform")},
        source=f"{path}: engine")
    return dict(configs=configs, n_networks=spec["n_networks"], seed=spec.get("seed", 0),
                chunk=spec.get("chunk"), settings=settings)


def sweep(config_file, out_dir, scheduler=None, progress=True, out=None):
    """``fpkit sweep``: run a sweep file, cache per configuration in OUT/cache, write OUT/results.csv."""
    from pathlib import Path

    from .sweep import run_sweep

    out = out or sys.stdout
    spec = load_sweep_spec(config_file)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = run_sweep(spec["configs"], n_networks=spec["n_networks"], settings=spec["settings"],
                      seed=spec["seed"], chunk=spec["chunk"],
                      cache_dir=out_dir / "cache", scheduler=scheduler, progress=progress)
    csv = out_dir / "results.csv"
    table.to_csv(csv, index=False)
    varying = [k for k in (spec["configs"][0].as_dict() if spec["configs"] else {})
               if table[k].astype(str).nunique() > 1]
    summary = table.groupby(varying or ["N"])["Q"].agg(["mean", "std", "max", "size"]) if len(table) else table
    print(f"{len(spec['configs'])} configurations, {len(table)} networks -> {csv}", file=out)
    print(summary.round(3).to_string(), file=out)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fpkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print versions, backend and device")
    sp = sub.add_parser("sweep", help="run a sweep file (YAML) with a resumable disk cache",
                        description="Keys of the sweep file: " +
                        "; ".join(f"{k}: {d}" for k, d in SWEEP_KEYS.items()))
    sp.add_argument("config", help="sweep file (YAML)")
    sp.add_argument("--out", required=True, help="output directory (cache/ and results.csv)")
    sp.add_argument("--scheduler", default=None, help="Dask scheduler address (default: run in-process)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.command == "info":
        info()
    elif args.command == "sweep":
        try:
            sweep(args.config, args.out, scheduler=args.scheduler, progress=not args.no_progress)
        except (ValueError, TypeError, OSError) as exc:
            parser.exit(2, f"fpkit sweep: error: {exc}\n")


if __name__ == "__main__":  # pragma: no cover
    main()
