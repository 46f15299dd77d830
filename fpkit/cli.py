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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fpkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print versions, backend and device")
    args = parser.parse_args(argv)
    if args.command == "info":
        info()


if __name__ == "__main__":  # pragma: no cover
    main()
