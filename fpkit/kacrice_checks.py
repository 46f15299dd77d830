"""Checks of the Kac-Rice counts against sampled matrices and against counted fixed points, as tables.

The pieces of the book's chapter *From the spectrum to the count* that are reusable: the spectral
route's log-potential against sampled Ginibre products (:func:`ginibre_check`) and against sampled
network Jacobians (:func:`log_det_check`); the exact Kac-Rice means, the census's counts and the
spectral route side by side for a grid of networks (:func:`kac_rice_comparison`); and the hump
z-tests of many curves of estimates with standard errors (:func:`hump_z_curves`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import _validate as v
from .engine import EngineSettings
from .kacrice import LayerSpectrum, ginibre_product_log_potential, kac_rice_table, spectral_route
from .network import Ensemble, NetworkConfig, config_seed
from .spectra import FreeJacobianLaw
from .stats import hump_z_test
from .sweep import run_sweep

__all__ = ["count_mean_se", "ginibre_check", "hump_z_curves", "kac_rice_comparison", "log_det_check"]


def ginibre_check(depths: Sequence[int], taus: Sequence[float], n: int, samples: int, *, seed: int) -> pd.DataFrame:
    """``(1/N) log|det(I - tau X)|`` for X a product of L Ginibre matrices (variance 1/N): the closed form
    (:func:`~fpkit.kacrice.ginibre_product_log_potential`), the free-probability solver and the mean of
    ``samples`` sampled products of size ``n``. One row per (L, tau): columns ``L``, ``tau``,
    ``closed form``, ``solver``, ``sampled``.

    >>> t = ginibre_check([1], [0.5, 2.0], 40, 1, seed=0)
    >>> t[["L", "tau", "closed form"]].round(3).to_dict("records")
    [{'L': 1, 'tau': 0.5, 'closed form': 0.0}, {'L': 1, 'tau': 2.0, 'closed form': 0.318}]
    """
    n = v.check_int(n, "n", minimum=2)
    samples = v.check_int(samples, "samples", minimum=1)
    rng = np.random.default_rng(v.check_int(seed, "seed", minimum=0))
    rows = []
    for L in depths:
        for tau in taus:
            logs = []
            for _ in range(samples):
                X = np.eye(n)
                for _ in range(L):
                    X = rng.standard_normal((n, n)) / math.sqrt(n) @ X
                logs.append(np.linalg.slogdet(np.eye(n) - tau * X)[1] / n)
            rows.append({"L": int(L), "tau": float(tau), "closed form": ginibre_product_log_potential(L, tau),
                         "solver": FreeJacobianLaw.linear(L, tau ** (1 / L)).log_potential(1.0),
                         "sampled": float(np.mean(logs))})
    return pd.DataFrame(rows)


def log_det_check(regimes: Mapping[str, NetworkConfig], layers: Mapping[str, LayerSpectrum], depths: Sequence[int],
                  n: int, networks: int, *, seed: int) -> pd.DataFrame:
    """The typical-point exponent ``L Lambda_1`` of each regime's layer law against sampled networks of width
    ``n``: ``(1/N) log|det(I - J)|`` and the fraction of eigenvalues of J outside the unit circle, at inputs
    from the self-consistent law (phi of N(0, q*) or of Cauchy(gamma*)), averaged over ``networks``
    networks. One row per (regime, L): ``regime``, ``L``, ``theory``, ``sampled``, ``outside theory``,
    ``outside sampled``.
    """
    n = v.check_int(n, "n", minimum=2)
    networks = v.check_int(networks, "networks", minimum=1)
    rows = []
    for name, cfg in regimes.items():
        spec = layers[name]
        for L in depths:
            ens = Ensemble.sample(cfg.replace(N=n, L=L), networks, seed=seed + L)
            g = np.random.default_rng(seed + L)
            z = (spec.scale * g.standard_cauchy((networks, 1, n)) if cfg.law == "cauchy"
                 else math.sqrt(spec.scale) * g.standard_normal((networks, 1, n)))
            J = ens.jacobian(ens.activation(z, np))[:, 0]
            rows.append({"regime": name, "L": int(L), "theory": spec.log_potential(L),
                         "sampled": float(np.mean([np.linalg.slogdet(np.eye(n) - j)[1] / n for j in J])),
                         "outside theory": spec.mass_outside,
                         "outside sampled": float(np.mean([np.mean(np.abs(np.linalg.eigvals(j)) > 1.0) for j in J]))})
    return pd.DataFrame(rows)


def count_mean_se(x, reference: float | None = None, odd: bool = False) -> tuple[float, float]:
    """Mean of a count and its standard error, never below that of an integer-valued variable (odd-valued
    for all fixed points) with mean ``reference``: a sample of identical counts has no spread, but the mean
    it estimates can still differ from the sample's.

    >>> count_mean_se([1, 1, 1, 1])
    (1.0, 0.0)
    >>> m, se = count_mean_se([1, 1, 1, 1], reference=1.5)
    >>> m, round(se, 3)
    (1.0, 0.25)
    >>> m, se = count_mean_se([1, 1, 1, 1], reference=2.0, odd=True)
    >>> m, round(se, 3)
    (1.0, 0.5)
    """
    x = np.asarray(x, dtype=float)
    var = float(x.var(ddof=1))
    if reference is not None:
        m = (reference - 1.0) / 2.0 if odd else reference
        frac = m - math.floor(m)
        var = max(var, (4.0 if odd else 1.0) * frac * (1.0 - frac))
    return float(x.mean()), math.sqrt(var / x.size)


def kac_rice_comparison(regimes: Mapping[str, NetworkConfig], widths: Sequence[int], depths: Sequence[int], *,
                        layers: Mapping[str, LayerSpectrum], kr_samples: int, census: EngineSettings,
                        n_networks: int, spectral_samples: int, seed: int,
                        cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Exact Kac-Rice means, counted means and the spectral route for every regime, width and depth.

    Per setting: the census's mean number of all fixed points (``count_all``), of stable ones
    (``count_stable``) and of attractors reached by iteration (``count_Q``), each with a standard error
    (:func:`count_mean_se`), and the share of networks whose indices sum to 1 (``index_pass``); the exact
    Kac-Rice means (``kr_all``, ``kr_stable``, ``kr_index`` with ``_se`` columns, the variance flag
    ``kr_flag``; :func:`~fpkit.kacrice.kac_rice_table`); the typical-point spectral count
    ``exp(N L Lambda_1)`` (``typical_all``) and, for Gaussian weights, the finite-N spectral route
    (``spec_all``, ``spec_stable`` with ``_se``; :func:`~fpkit.kacrice.spectral_route`); and
    ``z_all``, ``z_stable``, the differences between Kac-Rice and census in combined standard errors.
    """
    configs = [(name, cfg.replace(N=N, L=L)) for name, cfg in regimes.items() for N in widths for L in depths]
    kr_tab = kac_rice_table([c for _, c in configs], kr_samples, seed=seed, cache_dir=cache_dir, progress=False)
    rows = []
    for (name, cfg), est in zip(configs, kr_tab.itertuples()):
        counted = run_sweep([cfg], n_networks=n_networks, settings=census, seed=seed, cache_dir=cache_dir,
                            progress=False)
        row = {"regime": name, "N": cfg.N, "L": cfg.L}
        row["count_all"], row["count_all_se"] = count_mean_se(counted["fixed_points"], est.q_all, odd=True)
        row["count_stable"], row["count_stable_se"] = count_mean_se(counted["stable_fixed_points"], est.q_stable)
        row["count_Q"], row["count_Q_se"] = count_mean_se(counted["Q"], counted["Q"].mean())
        row["index_pass"] = float(counted["index_complete"].mean())
        row.update(kr_all=est.q_all, kr_all_se=est.q_all_se, kr_stable=est.q_stable, kr_stable_se=est.q_stable_se,
                   kr_index=est.index_sum, kr_index_se=est.index_sum_se, kr_tail=est.tail_index, kr_ess=est.ess,
                   kr_flag=bool(est.infinite_variance_suspected))
        row["typical_all"] = math.exp(cfg.N * layers[name].log_potential(cfg.L))
        if cfg.law == "gaussian":
            srt = spectral_route(cfg, spectral_samples, seed=np.random.default_rng(config_seed(seed, cfg)))
            row.update(spec_all=srt.q_all, spec_all_se=srt.q_all_se, spec_stable=srt.q_stable,
                       spec_stable_se=srt.q_stable_se)
        rows.append(row)
    res = pd.DataFrame(rows)
    res["z_all"] = (res["kr_all"] - res["count_all"]) / np.hypot(res["kr_all_se"], res["count_all_se"])
    res["z_stable"] = (res["kr_stable"] - res["count_stable"]) / np.hypot(res["kr_stable_se"], res["count_stable_se"])
    return res


def hump_z_curves(table: pd.DataFrame, curves: Mapping[str, str], *, by: Sequence[str], x: str = "L",
                  alpha: float = 0.05) -> pd.DataFrame:
    """:func:`~fpkit.stats.hump_z_test` of many curves at family-wise level ``alpha`` (Bonferroni over the
    curves tested). ``curves`` maps a curve's name to a column of means whose standard errors are in the
    column ``<column>_se``; each group of ``by`` gives one curve per name (groups with a missing value are
    skipped). One row per curve: the ``by`` columns, ``curve``, ``first``, ``peak``, ``peak_x``, ``last``,
    ``z``, ``critical`` and ``hump``.

    >>> t = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3, "L": [1, 2, 3] * 2, "m": [1.0, 3.0, 1.0, 1.0, 1.1, 1.2],
    ...                   "m_se": [0.1] * 6})
    >>> hump_z_curves(t, {"mean": "m"}, by=["g"], alpha=0.05)[["g", "curve", "hump"]].to_dict("records")
    [{'g': 'a', 'curve': 'mean', 'hump': True}, {'g': 'b', 'curve': 'mean', 'hump': False}]
    """
    tested = [(keys, name, column, g) for name, column in curves.items()
              for keys, g in table.groupby(list(by), sort=False) if not g[column].isna().any()]
    level = alpha / max(len(tested), 1)
    rows = []
    for keys, name, column, g in tested:
        g = g.sort_values(x)
        se = np.maximum(g[f"{column}_se"].to_numpy(dtype=float), 1e-12)
        h = hump_z_test(g[x].to_numpy(dtype=float), g[column].to_numpy(dtype=float), se, alpha=level)
        keys = keys if isinstance(keys, tuple) else (keys,)
        rows.append({**dict(zip(by, keys)), "curve": name, **{k: h[k] for k in
                     ("first", "peak", "peak_x", "last", "z", "critical")}, "hump": bool(h["hump"])})
    return pd.DataFrame(rows)
