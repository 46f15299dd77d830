"""The fpkit command line: fpkit info, fpkit sweep.

Every error ends the command with exit code 2 and one line on stderr (``fpkit <command>: error:
...``); Ctrl-C ends it with exit code 130 and a line saying how to resume. ``FPKIT_DEBUG=1``
shows the traceback of an unexpected error instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
from importlib.metadata import PackageNotFoundError, version

from . import _validate as v

#: What ``fpkit --help`` says (plain text: argparse does not render reStructuredText).
DESCRIPTION = ("fpkit: fixed points of deep random and trained networks. "
               "'fpkit info' prints versions, backend and device; "
               "'fpkit sweep FILE --out DIR' runs a sweep file (YAML) with a resumable disk cache.")

#: Exit status of an error (bad input, missing backend, out of memory) and of Ctrl-C.
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def info(out=None, err=None) -> None:
    """Print versions, the active backend and its device.

    The versions go to ``out`` (stdout); if the backend cannot be used, one line saying why goes
    to ``err`` (stderr) and the command exits with status 2.
    """
    from . import __version__, source_hash
    from .backend import BackendUnavailableError, backend_name, device_description

    out = out or sys.stdout
    err = err or sys.stderr
    for name, stream in (("out", out), ("err", err)):
        if not callable(getattr(stream, "write", None)):
            raise TypeError(f"{name} must be a text stream (with a write method); got {type(stream).__name__}")
    lines = [
        f"fpkit {__version__} (source {source_hash()})",
        f"python {platform.python_version()} on {platform.platform()}",
    ]
    for dist in ("numpy", "scipy", "pandas", "array-api-compat", "cupy-cuda12x", "torch", "jupyter-book"):
        lines.append(f"{dist} {_version(dist)}")
    try:
        name = backend_name()
        device = device_description(name)
    except (BackendUnavailableError, ValueError) as exc:
        print("\n".join(lines), file=out)
        print(f"fpkit info: error: backend unavailable: {v.one_line(exc)}", file=err)
        raise SystemExit(EXIT_ERROR) from exc
    lines += [f"backend {name}", f"device {device}"]
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


def _spec_loader():
    """A safe YAML loader that refuses duplicated keys and reads ``1e3`` as a number.

    PyYAML follows YAML 1.1, where a float needs a dot (``1e3`` is a string); YAML 1.2, and every
    reader of a sweep file, means the number.
    """
    import yaml

    class SpecLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicated key {key!r} (first given on line {first + 1})", key_node.start_mark)
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    SpecLoader.yaml_implicit_resolvers = {k: list(r) for k, r in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    SpecLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return SpecLoader


#: The deepest nesting a sweep file needs: top-level mapping -> 'axes' -> a field's list -> a value.
MAX_SPEC_DEPTH = 4


def _nesting_depth(obj) -> int:
    """Levels of mappings and lists in ``obj`` (a scalar: 0), without recursion."""
    deepest, todo = 0, [(obj, 0)]
    while todo:
        item, depth = todo.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            todo += [(x, depth + 1) for x in (*item.keys(), *item.values())]
        elif isinstance(item, list):
            todo += [(x, depth + 1) for x in item]
    return deepest


def _read_yaml(path) -> object:
    import yaml

    with open(path, encoding="utf-8") as fh:
        try:
            spec = yaml.load(fh, Loader=_spec_loader())  # noqa: S506 - a SafeLoader subclass
        except RecursionError:
            raise ValueError(f"{path}: YAML nested too deeply to read (a sweep file nests at most "
                             f"{MAX_SPEC_DEPTH} levels)") from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            what = exc.problem or exc.context or "bad YAML"
            raise ValueError(f"{path}: YAML error{where}: {what}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a readable YAML file ({v.one_line(exc)})") from None
    depth = _nesting_depth(spec)
    if depth > MAX_SPEC_DEPTH:
        raise ValueError(f"{path}: values nested {depth} levels deep; a sweep file nests at most {MAX_SPEC_DEPTH} "
                         "(a mapping of keys, 'axes' a mapping of fields to lists of plain values)")
    return spec


def load_sweep_spec(path) -> dict:
    """Read and check a sweep file; a ValueError names any unknown, missing or bad key.

    Returns a dict with ``configs`` (list of NetworkConfig, at least one), ``n_networks``,
    ``seed``, ``chunk`` and ``settings`` (:class:`~fpkit.engine.EngineSettings`).
    """
    from .engine import EngineSettings
    from .sweep import config_grid

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path to a sweep file; got {type(path).__name__}")
    spec = _read_yaml(path)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a sweep file must be a YAML mapping with keys {sorted(SWEEP_KEYS)}")
    unknown = set(spec) - set(SWEEP_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(map(str, unknown))}; allowed: {sorted(SWEEP_KEYS)}")
    for key in ("axes", "n_networks", "n_starts"):
        if key not in spec:
            raise ValueError(f"{path}: missing key {key!r} ({SWEEP_KEYS[key]})")
    for key in ("base", "axes", "engine"):
        if key in spec and spec[key] is not None and not isinstance(spec[key], dict):
            raise ValueError(f"{path}: {key!r} must be a mapping; got {type(spec[key]).__name__}")
    base = spec.get("base") or {}
    axes_spec = spec["axes"] or {}
    if not axes_spec:
        raise ValueError(f"{path}: 'axes' must name at least one field with its values, e.g. axes: {{L: [1, 2]}}")
    axes = {}
    for name, values in axes_spec.items():
        values = list(values) if isinstance(values, list) else [values]
        if not values:
            raise ValueError(f"{path}: axes: {name!r} has no values (an empty list gives no configurations)")
        if name in base:
            raise ValueError(f"{path}: field {name!r} is given in both 'base' and 'axes'")
        axes[str(name)] = values
    try:
        configs = config_grid(base, **axes)
    except TypeError as exc:
        raise ValueError(f"{path}: bad configuration field: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    engine = dict(spec.get("engine") or {})
    for key in ("n_starts", "seeding"):
        if key in engine:
            raise ValueError(f"{path}: give {key!r} at the top level, not under 'engine'")
    try:
        settings = EngineSettings.from_mapping(
            {**engine, "n_starts": spec["n_starts"], "seeding": spec.get("seeding", "uniform")},
            source=f"{path}: engine")
        n_networks = v.check_int(spec["n_networks"], "n_networks", minimum=1)
        seed = v.check_int(spec.get("seed", 0), "seed", minimum=0)
        chunk = spec.get("chunk")
        if chunk is not None:
            chunk = v.check_int(chunk, "chunk", minimum=1)
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        raise ValueError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
    return dict(configs=configs, n_networks=n_networks, seed=seed, chunk=chunk, settings=settings)


def sweep(config_file, out_dir, scheduler=None, progress=True, out=None):
    """``fpkit sweep``: run a sweep file, cache per configuration in OUT/cache, write OUT/results.csv.

    Everything that can be checked is checked before the first configuration is computed: the
    file, the backend, that OUT and OUT/cache take data (a file is written and synced there, so a
    full disk fails) and that OUT has room for the tables. Temporary files of killed writes are
    removed. ``results.csv`` is written atomically (a killed run leaves the previous file or none,
    never a truncated one). A cache file that cannot be written later is reported and its rows
    kept; if ``results.csv`` cannot be written, the error names it and says that the cached
    configurations are kept, so a rerun writes it without computing them again.
    """
    from ._io import check_free_space, check_writable, remove_stale_temp_files, write_atomic
    from .backend import get_namespace
    from .sweep import FILE_BYTES, ROW_BYTES, SweepCache, run_sweep

    out = out or sys.stdout
    if not callable(getattr(out, "write", None)):
        raise TypeError(f"out must be a text stream (with a write method); got {type(out).__name__}")
    spec = load_sweep_spec(config_file)
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path; got {type(out_dir).__name__}")
    get_namespace()  # FPKIT_BACKEND=cupy without a GPU fails here, not inside the first configuration
    out_dir = check_writable(out_dir, "output directory")
    remove_stale_temp_files(out_dir)
    n_configs = len(spec["configs"])  # room for the cache files and results.csv
    check_free_space(out_dir, n_configs * (2 * spec["n_networks"] * ROW_BYTES + FILE_BYTES) + FILE_BYTES,
                     "output directory")
    cache = SweepCache(out_dir / "cache")
    table = run_sweep(spec["configs"], n_networks=spec["n_networks"], settings=spec["settings"],
                      seed=spec["seed"], chunk=spec["chunk"],
                      cache_dir=cache.directory, scheduler=scheduler, progress=progress)
    try:
        csv = write_atomic(out_dir / "results.csv", table.to_csv(index=False))
    except OSError as exc:  # the message names results.csv (write_atomic) and says what is kept
        message = (f"{exc.strerror or exc}; the configurations whose cache files were written are kept in "
                   f"{str(cache.directory)!r}: make room and run the same command again to write results.csv "
                   "without computing them again")
        raise (type(exc)(exc.errno, message) if exc.errno else type(exc)(message)) from None
    varying = [k for k in spec["configs"][0].as_dict() if table[k].astype(str).nunique() > 1]
    summary = table.groupby(varying or ["N"])["Q"].agg(["mean", "std", "max", "size"])
    print(f"{len(spec['configs'])} configurations, {len(table)} networks -> {csv}", file=out)
    print(summary.round(3).to_string(), file=out)
    return table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fpkit", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print versions, backend and device",
                   description="Print the versions of fpkit and its libraries, the backend and its device.")
    sp = sub.add_parser("sweep", help="run a sweep file (YAML) with a resumable disk cache",
                        description="Keys of the sweep file: " +
                        "; ".join(f"{k}: {d}" for k, d in SWEEP_KEYS.items()))
    sp.add_argument("config", help="sweep file (YAML)")
    sp.add_argument("--out", required=True, help="output directory (cache/ and results.csv)")
    sp.add_argument("--scheduler", default=None, help="Dask scheduler address (default: run in-process)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``fpkit`` command (see the module doc for exit codes)."""
    from .backend import BackendUnavailableError

    if argv is not None and (isinstance(argv, (str, bytes)) or not isinstance(argv, (list, tuple))
                             or not all(isinstance(a, str) for a in argv)):
        raise TypeError(f"argv must be a list of str (the command line's words) or None; got {argv!r:.60}")
    parser = _parser()
    args = parser.parse_args(argv)
    prog = f"fpkit {args.command}"
    try:
        if args.command == "info":
            info()
        elif args.command == "sweep":
            sweep(args.config, args.out, scheduler=args.scheduler, progress=not args.no_progress)
    except KeyboardInterrupt:
        if args.command == "sweep":
            parser.exit(EXIT_INTERRUPTED, f"{prog}: interrupted; finished configurations are kept in "
                                          f"{os.path.join(args.out, 'cache')}: run 'fpkit sweep {args.config} "
                                          f"--out {args.out}' again to resume\n")
        parser.exit(EXIT_INTERRUPTED, f"{prog}: interrupted\n")
    except MemoryError as exc:
        parser.exit(EXIT_ERROR, f"{prog}: error: out of memory ({v.one_line(exc) or 'MemoryError'}); "
                                "lower n_starts, n_networks or chunk (finished configurations are cached)\n")
    except (ValueError, TypeError, OSError, BackendUnavailableError) as exc:
        parser.exit(EXIT_ERROR, f"{prog}: error: {v.one_line(exc)}\n")
    except Exception as exc:  # noqa: BLE001 - one line instead of a traceback, unless debugging
        if os.environ.get("FPKIT_DEBUG"):
            raise
        parser.exit(EXIT_ERROR, f"{prog}: error: internal error {type(exc).__name__}: {v.one_line(exc)} "
                                "(set FPKIT_DEBUG=1 for the traceback)\n")


if __name__ == "__main__":  # pragma: no cover
    main()
