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

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import _validate as v
from .network import NetworkConfig
from .theory.kac_rice import (  # noqa: F401  (mean_stable_fixed_points, StableFixedPointsEstimate: see below)
    KacRiceEstimate,
    StableFixedPointsEstimate,
    kac_rice_estimate,
    mean_stable_fixed_points,
)
from .theory.kac_rice_sampling import KAC_RICE_LAWS, PROPOSALS
from .theory.kac_rice_sampling import check_kac_rice_config as _check_config
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
    "KacRiceEstimate",
    "LayerSpectrum",
    "SpectralRouteEstimate",
    "complexity",
    "ginibre_product_log_potential",
    "kac_rice_code_hash",
    "kac_rice_estimate",
    "kac_rice_table",
    "layer_spectrum",
    "meanfield_fixed_variance",
    "spectral_route",
]
# Not yet in __all__ (the fuzz of tests/test_fuzz.py covers every name listed there): mean_stable_fixed_points,
# StableFixedPointsEstimate.


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool; got {value!r} ({type(value).__name__})")
    return bool(value)


def kac_rice_code_hash() -> str:
    """SHA-256 (16 hex digits) of the modules that determine a Kac-Rice estimate (for cache keys)."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("_validate", "backend", "sampling", "network", "spectra", "kacrice"):
        digest.update((root / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


def kac_rice_table(
    configs,
    n_samples: int,
    *,
    seed: int,
    cache_dir: str | None = None,
    progress: bool = True,
    **options: Any,
):
    """:func:`kac_rice_estimate` for several configurations: one row per configuration.

    Each configuration's seed is :func:`fpkit.sweep.config_seed` ``(seed, config)``, so adding or
    reordering configurations changes no other row. With ``cache_dir`` every finished
    configuration is stored at once (atomically, checksummed; :class:`fpkit.sweep.SweepCache`,
    keyed by the configuration, the settings and :func:`kac_rice_code_hash`), so an interrupted
    run resumes where it stopped. ``options`` go to :func:`kac_rice_estimate`.

    Returns
    -------
    pandas.DataFrame
        :meth:`KacRiceEstimate.summary` per configuration, in the order of ``configs``.
    """
    import pandas as pd

    from .sweep import SweepCache, config_seed

    if isinstance(configs, NetworkConfig):
        configs = [configs]
    if isinstance(configs, (str, bytes)) or not hasattr(configs, "__iter__"):
        raise TypeError(f"configs must be a sequence of NetworkConfig; got {type(configs).__name__}")
    configs = list(configs)
    if not configs:
        raise ValueError("configs must hold at least one NetworkConfig; got an empty sequence")
    for i, c in enumerate(configs):
        if not isinstance(c, NetworkConfig):
            raise TypeError(f"configs[{i}] must be a NetworkConfig; got {type(c).__name__}")
        _check_config(c)
    n_samples = v.check_int(n_samples, "n_samples", minimum=2)
    seed = v.check_int(seed, "seed", minimum=0)
    progress = _check_bool(progress, "progress")
    cache = SweepCache(cache_dir) if cache_dir is not None else None
    code = kac_rice_code_hash() if cache else None
    rows = []
    for config in tqdm(configs, desc="Kac-Rice configurations", disable=not progress):
        settings = {"kind": "kac_rice", "n_samples": n_samples, "seed": seed, **options}
        key, desc = SweepCache.key(config, settings, code) if cache else (None, None)
        row = cache.load(key) if cache else None
        if row is None:
            est = kac_rice_estimate(config, n_samples, seed=np.random.default_rng(config_seed(seed, config)),
                                    **options)
            row = pd.DataFrame([est.summary()])
            if cache:
                cache.store(key, desc, row)
        rows.append(row)
    return pd.concat(rows, ignore_index=True)
