"""Sweeps: a grid of network configurations run through the fixed-point engine.

:func:`config_grid` expands a dict of lists into :class:`~fpkit.network.NetworkConfig` objects;
:func:`run_sweep` runs each through :func:`~fpkit.fixedpoints.find_fixed_points` and returns a
tidy :class:`pandas.DataFrame`, one row per network and configuration. Each configuration's
random stream is derived from ``(seed, config)`` alone, so adding or reordering
configurations does not change the numbers of the others.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import _validate as v
from .fixedpoints import find_fixed_points
from .network import Ensemble, NetworkConfig

__all__ = ["config_grid", "config_seed", "run_config", "run_sweep"]


def config_grid(base: Mapping[str, Any] | None = None, **axes: Iterable[Any]) -> list[NetworkConfig]:
    """All combinations of ``axes`` (field name -> list of values) on top of ``base`` fields.

    Examples
    --------
    >>> cfgs = config_grid({"N": 10, "law": "cauchy"}, L=[1, 2], scale=[1.0, 4.0])
    >>> len(cfgs)
    4
    """
    base = dict(base or {})
    names = list(axes)
    out = []
    for values in itertools.product(*(list(axes[n]) for n in names)):
        out.append(NetworkConfig(**{**base, **dict(zip(names, values))}))
    return out


def config_seed(seed: int, config: NetworkConfig) -> np.random.SeedSequence:
    """Seed sequence of one configuration: depends only on ``seed`` and the config's fields."""
    seed = v.check_int(seed, "seed", minimum=0)
    digest = hashlib.sha256(repr(sorted(config.as_dict().items())).encode()).digest()
    return np.random.SeedSequence([seed, int.from_bytes(digest[:8], "little")])


def run_config(
    config: NetworkConfig,
    *,
    n_networks: int,
    n_starts: int,
    seed: int,
    seeding: str = "uniform",
    backend: str | None = None,
    **engine: Any,
) -> pd.DataFrame:
    """Sample ``n_networks`` networks of ``config`` and summarise each (one row per network).

    ``seeding`` is ``"uniform"`` (random starts in the activation's range) or ``"grid"``
    (a regular grid with ``round(n_starts ** (1/N))`` points per axis). Other keyword
    arguments go to :func:`~fpkit.fixedpoints.find_fixed_points`.
    """
    v.check_choice(seeding, "seeding", ("uniform", "grid"))
    ss = config_seed(seed, config)
    net_seed, start_seed = (np.random.default_rng(s) for s in ss.spawn(2))
    start = time.perf_counter()
    ens = Ensemble.sample(config, n_networks, seed=net_seed, backend=backend)
    starts = None
    if seeding == "grid":
        from .fixedpoints import grid_starts

        per_axis = max(2, round(n_starts ** (1.0 / config.N)))
        starts = grid_starts(ens, per_axis)
    res = find_fixed_points(ens, starts, n_starts=n_starts, seed=start_seed, **engine)
    table = res.per_network()
    seconds = time.perf_counter() - start
    for key, value in config.as_dict().items():
        table[key] = value
    table["seeding"] = seeding
    table["n_starts"] = res.n_starts
    table["seconds"] = seconds / n_networks
    return table


def run_sweep(
    configs: Iterable[NetworkConfig],
    *,
    n_networks: int,
    n_starts: int,
    seed: int = 0,
    seeding: str = "uniform",
    progress: bool = True,
    backend: str | None = None,
    **engine: Any,
) -> pd.DataFrame:
    """Run every configuration; a tidy table with one row per network and configuration.

    Columns: the configuration's fields, ``network``, ``Q`` (stable fixed points reached by
    iteration), ``unstable_fixed_points`` (with ``newton=True``), ``cycle_starts``,
    ``not_converged_starts``, ``basin_entropy``, ``mean_iterations``, ``seconds`` and more
    (see :meth:`fpkit.fixedpoints.FixedPoints.per_network`).
    """
    configs = list(configs)
    frames = []
    for config in tqdm(configs, desc="configurations", disable=not progress):
        frames.append(run_config(config, n_networks=n_networks, n_starts=n_starts, seed=seed,
                                 seeding=seeding, backend=backend, **engine))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
