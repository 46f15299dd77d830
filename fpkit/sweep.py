"""Sweeps: a grid of network configurations run through the fixed-point engine.

:func:`config_grid` expands a dict of lists into :class:`~fpkit.network.NetworkConfig` objects;
:func:`run_sweep` runs each through :func:`~fpkit.engine.find_fixed_points` and returns a
tidy :class:`pandas.DataFrame`, one row per network and configuration.

Reproducibility
    Each configuration's random stream is derived from ``(seed, config)`` alone, so adding or
    reordering configurations does not change the numbers of the others. A configuration's
    networks are processed in chunks (to bound memory); chunk ``i`` draws its networks and
    starts from child ``i`` of the configuration's seed sequence, so the table depends on the
    chunk size, which is therefore part of the cache key and fixed by the configuration
    (:func:`chunk_size`) unless given.

Disk cache and resume
    With ``cache_dir``, every finished configuration is written to its own file, atomically
    (temporary file, then :func:`os.replace`), keyed by the configuration, the run's settings,
    the fpkit version and the code hash of every module the sweep can run (:func:`engine_hash`).
    A rerun reads what is done and computes only the rest, so an interrupted sweep (Ctrl-C, a
    killed process) loses only the configurations in flight. The files are JSON tables behind a
    checksum (:class:`SweepCache`, on :class:`fpkit.cache.TableCache`), which cannot run code
    when read. A file that is unreadable, truncated, corrupted, not a cache file, stored under
    another configuration's key, written by other library versions, or not sensible for its key
    (rows, columns, counts) is reported with a warning and recomputed; it is never read as data
    and never stops the run. Before any work the directory is checked for writing (with real
    bytes: a full disk fails) and for room for the tables, and the temporary files of killed
    writes are removed. A cache file that cannot be written later (the disk filled up) is
    reported and its table kept: the sweep returns every row.

Two runs on one cache directory share the work: a configuration is computed under a lock
    (``<key>.lock``, an ``flock`` that dies with its process) and the cache is read again just
    before computing it, so neither run recomputes what the other has done or is doing.

Dask
    With ``scheduler`` (an address, or a :class:`distributed.Client`), the chunks are run as
    one task each on a Dask cluster; the client assembles configurations and writes the
    cache, so workers need no shared disk. The table is the same as the local run's.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm  # text bar: tqdm.auto warns in notebooks without ipywidgets

from . import _validate as v
from .cache import TableCache, check_table
from .engine import EngineSettings, FixedPoints, find_fixed_points, seeded_starts
from .backend import get_namespace
from .network import Ensemble, NetworkConfig, check_configs, config_seed

__all__ = [
    "SweepCache",
    "engine_hash",
    "chunk_size",
    "config_grid",
    "config_seed",
    "run_config",
    "run_sweep",
    "sample_and_solve",
]

#: Default memory budget of one chunk (bytes); see :func:`chunk_size`.
DEFAULT_CHUNK_BYTES = 512 * 2**20


def config_grid(base: Mapping[str, Any] | None = None, **axes: Iterable[Any]) -> list[NetworkConfig]:
    """All combinations of ``axes`` (field name -> list of values) on top of ``base`` fields.

    Examples
    --------
    >>> cfgs = config_grid({"N": 10, "law": "cauchy"}, L=[1, 2], scale=[1.0, 4.0])
    >>> len(cfgs)
    4
    """
    if base is not None and not isinstance(base, Mapping):
        raise TypeError(f"base must be a mapping of NetworkConfig fields; got {type(base).__name__}")
    base = dict(base or {})
    names = list(axes)
    columns = []
    for name in names:
        values = axes[name]
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise TypeError(f"axis {name!r} must be a list of values; got {type(values).__name__}")
        values = list(values)
        if not values:
            raise ValueError(f"axis {name!r} has no values (an empty list gives no configurations)")
        columns.append(values)
    out = []
    for values in itertools.product(*columns):
        try:
            out.append(NetworkConfig(**{**base, **dict(zip(names, values))}))
        except TypeError as exc:
            if "NetworkConfig.__init__()" not in str(exc):
                raise
            raise TypeError(f"base and axes must give fields of NetworkConfig (N and L at least): "
                            f"{str(exc).replace('NetworkConfig.__init__() ', '')}") from None
    return out


def chunk_size(config: NetworkConfig, settings: EngineSettings | None = None, *,
               max_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Networks per engine call so that one call stays within about ``max_bytes``.

    Per network the engine holds its weights (L N^2 floats), about 16 arrays of its starts
    (M N floats: starts, limits, the ring of recent iterates, buffers; M the starts the seeding
    gives; the census's adaptive batches have the same size) and, for the Newton stages, about 6 Jacobian-sized arrays (M' N^2 floats).
    """
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    settings = _settings(settings, {})
    max_bytes = v.check_int(max_bytes, "max_bytes", minimum=1)
    N, L = config.N, config.L
    M = settings.starts_per_network(N)
    newton = (settings.newton_starts or M) if settings.newton else 0
    shooting = (settings.census_starts or M) * L if settings.census else 0  # (K, L, N, N) products
    per_net = 8 * (L * N * N + 16 * M * N + 6 * max(newton, shooting) * N * N)
    return max(1, max_bytes // per_net)


def sample_and_solve(
    config: NetworkConfig,
    n_networks: int,
    *,
    seed: int | np.random.SeedSequence,
    settings: EngineSettings | None = None,
    backend: str | None = None,
    **options: Any,
) -> tuple[Ensemble, FixedPoints]:
    """Sample ``n_networks`` networks of ``config`` and find their fixed points: the sweep's recipe.

    One engine call of a sweep: ``seed`` (an int) gives the configuration's seed sequence
    :func:`config_seed` ``(seed, config)``, whose two children seed the networks and the starts
    (and the Newton stages), so the result depends only on ``seed`` and the configuration, not
    on what a chapter computed before. A :class:`numpy.random.SeedSequence` is used as it is:
    :func:`run_sweep` passes the child of the configuration's sequence that belongs to each chunk
    of networks, so its tables hold other networks than ``sample_and_solve(config, ...,
    seed=seed)``. Spawning changes a SeedSequence: pass a fresh one per call.

    Parameters
    ----------
    config : NetworkConfig
    n_networks : int
        E, the networks sampled.
    seed : int or numpy.random.SeedSequence
    settings : EngineSettings, optional
        The engine's settings (starts per network, seeding, Newton, census, ...).
    backend : str, optional
        ``"numpy"`` or ``"cupy"`` (default: the active backend).
    **options
        Single settings overriding ``settings`` (``n_starts=64``, ``newton=True``, ...).

    Returns
    -------
    ensemble : Ensemble
        The E networks, shapes (E, L, N, N) and (E, L, N).
    result : FixedPoints
        Their fixed points (per start: E*M rows; per fixed point: P rows).

    Examples
    --------
    >>> from fpkit.regimes import GAUSSIAN_REGIME
    >>> ens, res = sample_and_solve(GAUSSIAN_REGIME.replace(N=3, L=2), 4, n_starts=8, seed=0)
    >>> res.per_network()["Q"].tolist()
    [1, 1, 1, 1]
    """
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    settings = _settings(settings, options)
    n_networks = _check_sizes(n_networks, None)
    if isinstance(seed, np.random.SeedSequence):
        seq = seed
    else:
        seq = config_seed(seed, config)
    net_seed, start_seed = (np.random.default_rng(s) for s in seq.spawn(2))
    ens = Ensemble.sample(config, n_networks, seed=net_seed, backend=backend)
    starts = seeded_starts(ens, settings, seed=start_seed)
    return ens, find_fixed_points(ens, starts, settings=settings, seed=start_seed)


def _run_chunk(config: NetworkConfig, seq: np.random.SeedSequence, n_networks: int,
               settings: EngineSettings, backend: str | None) -> pd.DataFrame:
    """One engine call on ``n_networks`` networks of ``config`` (a Dask task)."""
    start = time.perf_counter()
    _, res = sample_and_solve(config, n_networks, seed=seq, settings=settings, backend=backend)
    table = res.per_network()
    table["seconds"] = (time.perf_counter() - start) / n_networks
    table["n_starts"] = res.n_starts
    if res.convergence is not None:  # the attractor stage: its rounds and verdict, for this engine call
        table["attractor_rounds"] = len(res.convergence) - 1
        table["attractor_converged"] = bool(res.converged)
    return table


def _chunks(config, n_networks, seed, chunk, settings):
    ss = config_seed(seed, config)
    size = chunk or chunk_size(config, settings)
    sizes = [min(size, n_networks - i) for i in range(0, n_networks, size)]
    return list(zip(ss.spawn(len(sizes)), sizes)), size


def _assemble(config: NetworkConfig, parts: list[pd.DataFrame], sizes: list[int], seeding: str) -> pd.DataFrame:
    offsets = np.cumsum([0, *sizes[:-1]])
    frames = [p.assign(network=p["network"] + off) for p, off in zip(parts, offsets)]
    table = pd.concat(frames, ignore_index=True)
    for key, value in config.as_dict().items():
        table[key] = value
    table["seeding"] = seeding
    return table


def run_config(
    config: NetworkConfig,
    *,
    n_networks: int,
    seed: int,
    settings: EngineSettings | None = None,
    backend: str | None = None,
    chunk: int | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Sample ``n_networks`` networks of ``config`` and summarise each (one row per network).

    ``settings`` (or single options such as ``n_starts=64``, ``seeding="grid"``,
    ``newton=True``) are the engine's :class:`~fpkit.engine.EngineSettings`. ``chunk`` is the
    number of networks per engine call (default: :func:`chunk_size`).
    """
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    settings = _settings(settings, options)
    n_networks = _check_sizes(n_networks, chunk)
    seed = v.check_int(seed, "seed", minimum=0)
    settings.starts_per_network(config.N)  # a grid that cannot honour n_starts fails here
    jobs, _ = _chunks(config, n_networks, seed, chunk, settings)
    parts = [_run_chunk(config, seq, size, settings, backend) for seq, size in jobs]
    return _assemble(config, parts, [size for _, size in jobs], settings.seeding)


def _settings(settings, options) -> EngineSettings:
    if settings is not None and not isinstance(settings, EngineSettings):
        raise TypeError(f"settings must be an EngineSettings; got {type(settings).__name__}")
    return (settings or EngineSettings()).replace(**options)


def _check_sizes(n_networks, chunk, n_configs: int = 1):
    n_networks = v.check_int(n_networks, "n_networks", minimum=1)
    if chunk is not None:
        v.check_int(chunk, "chunk", minimum=1)
    # one table row (about 30 columns) per network and configuration, at least
    v.check_memory(8 * 64 * n_networks * n_configs, f"n_networks = {n_networks} rows for each of {n_configs} "
                                                      "configurations")
    return n_networks


# --------------------------------------------------------------------------- cache

#: The module whose import closure determines a sweep's numbers (its code hash is part of every key).
CODE_ENTRY = "fpkit.sweep"
#: Columns every table of :func:`run_sweep` has besides the configuration's fields (checked on load).
TABLE_COLUMNS = ("network", "seeding", "seconds", "n_starts", "Q", "Q_iteration", "stable_fixed_points",
                 "unstable_fixed_points", "fixed_points", "index_sum", "unseen_mass", "cycle_starts", "not_converged_starts",
                 "converged_starts", "basin_entropy", "mean_iterations")
#: The columns of ``TABLE_COLUMNS`` that count (whole numbers >= 0 in every row).
COUNT_COLUMNS = ("n_starts", "Q", "Q_iteration", "stable_fixed_points", "unstable_fixed_points", "fixed_points",
                 "cycle_starts", "not_converged_starts", "converged_starts")
#: Bytes one table row takes in a cache file or in ``results.csv``, and one file besides its rows, at most
#: about (for the free-space check: a row takes about 340 bytes in a cache file, 140 in ``results.csv``).
ROW_BYTES = 1024
FILE_BYTES = 8192


def engine_hash() -> str:
    """The code hash (16 hex digits) of the sweep: :func:`fpkit._provenance.code_hash` of ``fpkit.sweep``.

    It covers every fpkit module the sweep can run (the engine, the network, the activations,
    ...), found from the imports in the source; a change elsewhere in fpkit (a chapter helper,
    the Kac-Rice module) does not invalidate cached sweeps.
    """
    return SweepCache.code_hash()


class SweepCache(TableCache):
    """One file ``<key>.fpsweep`` per finished configuration in ``directory``; see :mod:`fpkit.cache`.

    The file layout is :class:`fpkit.cache.TableCache`'s with the magic ``FPKSWP2\\n``. Besides
    the checks of every cache (damage, key, library versions), a table is used only if it makes
    sense for its key (:meth:`validate`): every configuration field is a column holding the key's
    value, and a :func:`run_sweep` table has ``n_networks`` rows numbered 0, 1, ..., the columns
    ``TABLE_COLUMNS``, its ``seeding`` and whole non-negative counts (``COUNT_COLUMNS``).
    """

    KIND = "sweep"
    SUFFIX = ".fpsweep"
    MAGIC = b"FPKSWP2\n"
    FORMAT = "fpkit sweep cache"
    FORMAT_VERSION = 2
    CODE_ENTRY = CODE_ENTRY

    @classmethod
    def key(cls, config: NetworkConfig, settings: Mapping[str, Any], code: str | None = None) -> tuple[str, str]:
        """(hex key, JSON description) of a configuration under the run's ``settings``.

        ``code`` identifies the code that computes the table (default :func:`engine_hash`).
        """
        if not isinstance(config, NetworkConfig):
            raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
        if not isinstance(settings, Mapping):
            raise TypeError(f"settings must be a mapping; got {type(settings).__name__}")
        return cls.make_key({"config": config.as_dict(), "settings": dict(settings)}, code)

    def store(self, key: str, desc: str, table: pd.DataFrame):
        """Write ``table`` atomically (see :meth:`fpkit.cache.DiskCache.store`); a table with a column name
        twice is a ValueError naming it (a file holds one column per name)."""
        if isinstance(table, pd.DataFrame) and table.columns.duplicated().any():
            raise ValueError(f"table has the columns {sorted(map(str, set(table.columns[table.columns.duplicated()])))} "
                             "more than once; a cache file holds one column per name")
        return super().store(key, desc, table)

    def validate(self, table: pd.DataFrame, description: dict[str, Any]) -> pd.DataFrame:
        config, settings = description["config"], description["settings"]
        check_table(table, columns=list(config), constants=config)
        if "n_networks" in settings:  # a table of run_sweep
            n = settings["n_networks"]
            check_table(table, rows=n, columns=TABLE_COLUMNS, counts=COUNT_COLUMNS,
                        constants={"seeding": settings["engine"]["seeding"]})
            if not np.array_equal(table["network"].to_numpy(), np.arange(n)):
                raise ValueError(f"column 'network' is not 0, 1, ..., {n - 1}")
        return table


# --------------------------------------------------------------------------- sweep


def run_sweep(
    configs: Iterable[NetworkConfig],
    *,
    n_networks: int,
    seed: int = 0,
    settings: EngineSettings | None = None,
    progress: bool = True,
    backend: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    chunk: int | None = None,
    scheduler: Any = None,
    **options: Any,
) -> pd.DataFrame:
    """Run every configuration; a tidy table with one row per network and configuration.

    Parameters
    ----------
    configs : iterable of NetworkConfig
    n_networks : int
        Networks per configuration.
    seed : int
        Root seed; each configuration's stream is ``config_seed(seed, config)``.
    settings : EngineSettings, optional
        The engine's settings (starts per network, seeding, tolerances, Newton, census), validated
        here, before any work, and part of the cache key.
    progress : bool
        A tqdm bar over configurations.
    backend : str, optional
        ``"numpy"`` or ``"cupy"`` (default: the active backend).
    cache_dir : path, optional
        Directory of the per-configuration disk cache (see the module doc).
    chunk : int, optional
        Networks per engine call (default :func:`chunk_size`, about 512 MiB per call).
    scheduler : str or distributed.Client, optional
        Run the chunks on this Dask cluster instead of in-process.
    **options
        Single settings overriding ``settings`` (``n_starts=64``, ``max_iter=2000``, ``newton=True``).

    Returns
    -------
    pandas.DataFrame
        The configuration's fields, ``seeding``, ``network``, ``Q`` (attractors: the stable fixed
        points found), ``Q_iteration`` (those an iteration start reached), ``fixed_points``,
        ``index_sum``, ``unseen_mass``, ``cycle_starts``, ``not_converged_starts``,
        ``basin_entropy``, ``mean_iterations``, ``seconds`` (per network) and more (see
        :meth:`fpkit.engine.FixedPoints.per_network`); with ``converge_attractors``, also
        ``attractor_rounds`` and ``attractor_converged`` (of the engine call the network was in:
        ``FixedPoints.convergence``); in the order of ``configs``.
    """
    configs = check_configs(configs)
    settings = _settings(settings, options)
    n_networks = _check_sizes(n_networks, chunk, len(configs))
    seed = v.check_int(seed, "seed", minimum=0)
    progress = v.check_bool(progress, "progress")
    if backend is not None:
        get_namespace(backend)  # an unknown or unavailable backend fails before any work
    for config in configs:
        settings.starts_per_network(config.N)  # a grid that cannot honour n_starts fails up front
    cache = SweepCache(cache_dir) if cache_dir is not None else None

    plans = []  # (config, jobs, cache key, description)
    code = engine_hash() if cache else None  # once per run: edits during a run do not mix keys
    for config in configs:
        jobs, size = _chunks(config, n_networks, seed, chunk, settings)
        run = dict(n_networks=n_networks, seed=seed, chunk=size, backend=backend, engine=settings.as_dict())
        key, desc = SweepCache.key(config, run, code) if cache else (None, None)
        plans.append((config, jobs, key, desc))

    tables: dict[int, pd.DataFrame] = {}
    todo = []
    for i, (config, jobs, key, desc) in enumerate(plans):
        cached = cache.load(key, desc) if cache else None
        if cached is not None:
            tables[i] = cached
        else:
            todo.append(i)
    if cache and todo:  # room for the tables (a disk that is full already fails here, not after the work)
        cache.check_space(len(todo) * (n_networks * ROW_BYTES + FILE_BYTES))

    bar = tqdm(total=len(configs), initial=len(tables), desc="configurations", disable=not progress)

    def finish(i, parts):
        config, jobs, key, desc = plans[i]
        tables[i] = _assemble(config, parts, [size for _, size in jobs], settings.seeding)
        if cache:  # a failed write (a full disk) warns: the table is kept, only its resumability is lost
            cache.store_or_warn(key, desc, tables[i])
        bar.update(1)

    def compute(i):
        config, jobs, _, _ = plans[i]
        finish(i, [_run_chunk(config, seq, size, settings, backend) for seq, size in jobs])

    try:
        if scheduler is not None:
            _run_dask(scheduler, plans, todo, settings, backend, finish)
        elif cache is None:
            for i in todo:
                compute(i)
        else:
            _run_shared(cache, plans, todo, tables, compute, bar)
    finally:
        bar.close()
    frames = [tables[i] for i in range(len(configs))]
    return pd.concat(frames, ignore_index=True)


def _run_shared(cache: SweepCache, plans, todo, tables, compute, bar) -> None:
    """Compute the configurations ``todo`` with the cache shared by other runs (see the module doc).

    Each configuration is computed under its lock, after reading the cache once more; one whose
    lock another run holds is put back and taken up again later (waiting for that run only when
    nothing else is left), by which time the other run has usually stored it.
    """
    queue = list(todo)
    while queue:
        busy = []
        for i in queue:
            key, desc = plans[i][2], plans[i][3]
            lock = cache.try_lock(key)
            if lock is None:
                busy.append(i)
                continue
            with lock:
                cached = cache.load(key, desc, warn=False)  # stored by another run meanwhile?
                if cached is not None:
                    tables[i] = cached
                    bar.update(1)
                else:
                    compute(i)
        if busy and len(busy) == len(queue):
            with cache.wait_lock(plans[busy[0]][2]):
                pass  # the other run has finished (or died); the next pass reads or computes it
        queue = busy


def _run_dask(scheduler, plans, todo, settings, backend, finish):
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - dask is in the dev extra
        raise ImportError("scheduler= needs dask.distributed: pip install 'fpkit[dist]'") from exc
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures, owner = [], {}
        for i in todo:
            config, jobs, _, _ = plans[i]
            for j, (seq, size) in enumerate(jobs):
                fut = client.submit(_run_chunk, config, seq, size, settings, backend, pure=False)
                futures.append(fut)
                owner[fut.key] = (i, j)
        pending = {i: [None] * len(plans[i][1]) for i in todo}
        for fut in as_completed(futures):
            i, j = owner[fut.key]
            pending[i][j] = fut.result()
            if all(p is not None for p in pending[i]):
                finish(i, pending.pop(i))
    finally:
        if client is not scheduler:
            client.close()
