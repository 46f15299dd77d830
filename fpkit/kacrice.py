"""Mean numbers of fixed points by the Kac-Rice formula: the names the chapters use, and cached tables.

The theory lives in :mod:`fpkit.theory`: the exact Monte-Carlo estimator in :mod:`fpkit.theory.kac_rice`
(:func:`kac_rice_estimate` for ``E[Q_all]``, ``E[Q]`` and the index sum; :func:`mean_stable_fixed_points`
for ``E[Q]`` with a standard error of a chosen size), its sampling pieces in
:mod:`fpkit.theory.kac_rice_sampling`, and the spectral route (:func:`layer_spectrum`,
:func:`spectral_route`, :func:`complexity`) in :mod:`fpkit.theory.spectral_route`. This module re-exports
them and adds :func:`kac_rice_table`, estimates for many configurations with an on-disk cache.

References
----------
Kac (1943), Rice (1945); Adler & Taylor, *Random Fields and Geometry* (2007), Thm 11.2.1.
Fyodorov & Khoruzhenko, PNAS 113, 6827 (2016); Ipsen & Forrester, J. Phys. A 51, 474003 (2018).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np
from tqdm import tqdm

from . import _validate as v
from .cache import TableCache, check_table
from .network import NetworkConfig, check_configs, config_seed
from .theory.kac_rice import (
    KacRiceEstimate,
    StableFixedPointsEstimate,
    kac_rice_estimate,
    mean_stable_fixed_points,
)
from .theory.kac_rice_sampling import KAC_RICE_LAWS, PROPOSALS, check_kac_rice_config
from .theory.lengthmap import meanfield_fixed_variance
from .theory.spectral_route import (
    LayerSpectrum,
    SpectralRouteEstimate,
    complexity,
    ginibre_product_log_potential,
    layer_spectrum,
    spectral_route,
)

__all__ = [
    "KAC_RICE_LAWS",
    "PROPOSALS",
    "KacRiceCache",
    "KacRiceEstimate",
    "LayerSpectrum",
    "SpectralRouteEstimate",
    "StableFixedPointsEstimate",
    "complexity",
    "ginibre_product_log_potential",
    "kac_rice_code_hash",
    "kac_rice_estimate",
    "kac_rice_table",
    "layer_spectrum",
    "mean_stable_fixed_points",
    "meanfield_fixed_variance",
    "spectral_route",
]

#: The options of :func:`kac_rice_table` that go on to :func:`kac_rice_estimate`.
_TABLE_OPTIONS = ("proposal", "conditioning", "batch_size")
#: Bytes one configuration's file takes, at most about (a row of about 25 columns; for the free-space check).
_FILE_BYTES = 4096


class KacRiceCache(TableCache):
    """One file ``<key>.fpkacrice`` per configuration of :func:`kac_rice_table`; see :mod:`fpkit.cache`.

    The key describes the configuration (its fields) and the settings (``n_samples``, ``seed`` and the
    options of :func:`kac_rice_estimate`), with the fpkit version and :func:`kac_rice_code_hash`. Besides
    the checks of every cache (damage, key, library versions), a row is used only if it makes sense for
    its key (:meth:`validate`): one row, every configuration field a column holding the key's value,
    ``n_samples`` the key's, and finite ``q_all``, ``q_stable`` and ``index_sum``.
    """

    KIND = "Kac-Rice"
    SUFFIX = ".fpkacrice"
    MAGIC = b"FPKKRT1\n"
    FORMAT = "fpkit Kac-Rice cache"
    CODE_ENTRY = "fpkit.kacrice"

    def store(self, key: str, desc: str, table):
        """Write ``table`` atomically (see :meth:`fpkit.cache.DiskCache.store`); a table with a column name
        twice is a ValueError naming it (a file holds one column per name)."""
        import pandas as pd

        if isinstance(table, pd.DataFrame) and table.columns.duplicated().any():
            raise ValueError(f"table has the columns {sorted(map(str, set(table.columns[table.columns.duplicated()])))} "
                             "more than once; a cache file holds one column per name")
        return super().store(key, desc, table)

    def validate(self, table, description: dict[str, Any]):
        config, settings = description["config"], description["settings"]
        check_table(table, rows=1, columns=[*config, "q_all", "q_stable", "index_sum", "n_samples"],
                    constants={**config, "n_samples": settings["n_samples"]})
        if not np.isfinite(table[["q_all", "q_stable", "index_sum"]].to_numpy(dtype=float)).all():
            raise ValueError("q_all, q_stable or index_sum is not finite")
        return table


def kac_rice_code_hash() -> str:
    """The code hash (16 hex digits) of Kac-Rice tables: :func:`fpkit._provenance.code_hash` of ``fpkit.kacrice``.

    It covers every fpkit module an estimate can run (the theory package, the network, the
    activations, the sampling, ...), found from the imports in the source; part of every key of
    :class:`KacRiceCache`.
    """
    return KacRiceCache.code_hash()


def _check_configs(configs) -> list[NetworkConfig]:
    configs = check_configs(configs)
    for c in configs:
        check_kac_rice_config(c)
    return configs


def _check_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(_TABLE_OPTIONS))
    if unknown:
        raise TypeError(f"options {unknown} are not options of kac_rice_estimate here; allowed: {_TABLE_OPTIONS}")
    if "proposal" in options:
        v.check_choice(options["proposal"], "proposal", PROPOSALS)
    if "conditioning" in options:
        v.check_choice(options["conditioning"], "conditioning", ("exact", "mixture"))
    if "batch_size" in options:
        options["batch_size"] = v.check_int(options["batch_size"], "batch_size", minimum=1)
    return options


def kac_rice_table(
    configs,
    n_samples: int,
    *,
    seed: int,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    **options: Any,
):
    """:func:`kac_rice_estimate` for several configurations: one row per configuration.

    Each configuration's seed is :func:`fpkit.network.config_seed` ``(seed, config)``, so adding or
    reordering configurations changes no other row.

    Parameters
    ----------
    configs : NetworkConfig or sequence of NetworkConfig
        Weight and bias laws among :data:`~fpkit.theory.kac_rice_sampling.KAC_RICE_LAWS`.
    n_samples : int >= 2
        Monte-Carlo samples per configuration.
    seed : int >= 0
        The root seed.
    cache_dir : path, optional
        A :class:`KacRiceCache` directory: every finished configuration is stored at once (atomically,
        checksummed, keyed by the configuration, ``n_samples``, ``seed``, the options and
        :func:`kac_rice_code_hash`), so an interrupted run resumes where it stopped. The directory is
        checked for writing and for room before any work; a configuration is computed under its lock
        (two runs on one directory never compute one entry twice); a file that is damaged or does not
        fit its key is reported and recomputed; a write that fails later warns and keeps the row.
    progress : bool
        A tqdm bar over configurations.
    **options
        ``proposal``, ``conditioning``, ``batch_size`` of :func:`kac_rice_estimate` (checked before any work).

    Returns
    -------
    pandas.DataFrame
        :meth:`KacRiceEstimate.summary` per configuration, in the order of ``configs``.
    """
    import pandas as pd

    configs = _check_configs(configs)
    n_samples = v.check_int(n_samples, "n_samples", minimum=2)
    seed = v.check_int(seed, "seed", minimum=0)
    progress = v.check_bool(progress, "progress")
    options = _check_options(dict(options))
    cache = KacRiceCache(cache_dir) if cache_dir is not None else None  # checks the disk, cleans temp files
    code = KacRiceCache.code_hash() if cache else None  # once per run: edits during a run do not mix keys
    if cache:
        cache.check_space(len(configs) * _FILE_BYTES)
    settings = {"n_samples": n_samples, "seed": seed, **options}
    rows = []
    for config in tqdm(configs, desc="Kac-Rice configurations", disable=not progress):
        def compute(config=config):
            est = kac_rice_estimate(config, n_samples, seed=np.random.default_rng(config_seed(seed, config)),
                                    **options)
            return pd.DataFrame([est.summary()])

        if cache is None:
            rows.append(compute())
            continue
        key, desc = cache.make_key({"config": config.as_dict(), "settings": settings}, code)
        rows.append(cache.fetch(key, desc, compute))  # locked; a failed write warns, the row is kept
    return pd.concat(rows, ignore_index=True)
