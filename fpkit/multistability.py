"""Studies of several attractors: the tail-versus-scale sweep, censuses by width, the tests between them,
basin maps of several networks and the probes around unstable fixed points.

The book's chapter *Many attractors with Cauchy weights* is made of these calls; each loops over
configurations or networks so that the chapter does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .regimes import TAIL_MATCHINGS, attractor_flags, tail_configs
from .stats import holm_family, proportion_test, wilson_interval
from .sweep import config_grid, run_sweep, sample_and_solve

__all__ = ["TailStudy", "basin_panels", "boundary_probe", "census_by_width", "multistability_tests",
           "share_interval", "tail_study"]


@dataclass
class TailStudy:
    """The tables of :func:`tail_study`: per network, ``tails`` (every matching and tail index, with the
    flags of :func:`fpkit.regimes.attractor_flags`), ``gauss`` (Gaussian weights of growing scale) and
    ``counted`` (the census of all fixed points of further networks per matching and tail index)."""

    tails: pd.DataFrame
    gauss: pd.DataFrame
    counted: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per matching and tail index: networks, the shares with Q >= 2 and Q = 0, mean Q, the mean share
        of unsettled starts, and from the census the mean number of all fixed points."""
        table = self.tails.groupby(["matching", "alpha"]).agg(
            networks=("Q", "size"), p_multi=("multi", "mean"), mean_Q=("Q", "mean"), p_none=("none", "mean"),
            unsettled=("unsettled", "mean"))
        counted = self.counted.groupby(["matching", "alpha"]).agg(fixed_points=("fixed_points", "mean"))
        return table.join(counted).reset_index()


def tail_study(base, alphas, *, gauss_base, gauss_scales, n_networks: int, census_networks: int, seed: int,
               n_starts: int, max_iter: int, census: dict) -> TailStudy:
    """Vary the tail index of ``base`` at matched scale (every :data:`fpkit.regimes.TAIL_MATCHINGS`), and the
    scale of the Gaussian ``gauss_base``: ``n_networks`` networks per setting searched by iteration, plus a census
    (``census``: keyword arguments of :func:`fpkit.sweep.sample_and_solve`) of ``census_networks`` more per tail
    index."""
    tails, counted = [], []
    for matching in TAIL_MATCHINGS:
        configs = tail_configs(base, alphas, matching)
        table = run_sweep(configs, n_networks=n_networks, n_starts=n_starts, seed=seed, max_iter=max_iter,
                          progress=False)
        tails.append(attractor_flags(table).assign(matching=matching))
        for config in configs:
            _, res = sample_and_solve(config, census_networks, seed=seed, **census)
            counted.append(res.per_network().assign(matching=matching, alpha=config.alpha))
    gauss = run_sweep(config_grid(gauss_base.as_dict(), scale=gauss_scales), n_networks=n_networks,
                      n_starts=n_starts, seed=seed, max_iter=max_iter, progress=False)
    return TailStudy(pd.concat(tails, ignore_index=True), attractor_flags(gauss), pd.concat(counted, ignore_index=True))


def _count(table: pd.DataFrame, column: str = "multi") -> tuple[int, int]:
    return int(table[column].sum()), len(table)


def multistability_tests(study: TailStudy, *, alpha: float = 0.05) -> pd.DataFrame:
    """The four Fisher exact tests of the shares of networks with Q >= 2, Holm-corrected as one family at
    family-wise level ``alpha``:

    * ``emergence`` - the heavy-tailed base (matching ``gclt``, tail index 1) more often than the Gaussian
      networks of the smallest scale (one-sided);
    * ``median`` and ``gclt`` - tail index 1 more often than 2 at the same median weight, at the same
      generalised-CLT scale (one-sided);
    * ``large_gaussian`` - the heavy-tailed base against the Gaussian networks of the largest scale
      (two-sided), with the ratio of their shares (Gaussian over Cauchy) and its 95 % interval.

    One row per test: ``k1, n1, k2, n2`` (multistable networks and networks of each side), ``share1``,
    ``share2``, ``p``, ``p_holm``, ``significant``, and ``ratio``, ``ratio_low``, ``ratio_high``.
    """
    from scipy.stats.contingency import relative_risk

    tails, gauss = study.tails, study.gauss
    cauchy = tails[(tails["matching"] == "gclt") & (tails["alpha"] == 1.0)]
    small, large = (gauss[gauss["scale"] == s] for s in (gauss["scale"].min(), gauss["scale"].max()))
    pairs = {"emergence": (cauchy, small, "greater"), "large_gaussian": (cauchy, large, "two-sided")}
    for matching in ("median", "gclt"):
        t = tails[tails["matching"] == matching]
        pairs[matching] = (t[t["alpha"] == 1.0], t[t["alpha"] == 2.0], "greater")
    rows = []
    for name, (first, second, alternative) in pairs.items():
        (k1, n1), (k2, n2) = _count(first), _count(second)
        rr = relative_risk(k2, n2, k1, n1) if k1 else None
        low, high = rr.confidence_interval(0.95) if rr is not None else (np.nan, np.nan)
        rows.append({"test": name, "k1": k1, "n1": n1, "k2": k2, "n2": n2, "share1": k1 / n1, "share2": k2 / n2,
                     "p": proportion_test(k1, n1, k2, n2, alternative=alternative),
                     "ratio": rr.relative_risk if rr is not None else np.nan, "ratio_low": low, "ratio_high": high})
    return holm_family(pd.DataFrame(rows), alpha=alpha, reject_column="significant").set_index("test")


def share_interval(flags) -> tuple[int, int, float, float]:
    """Count, size and Wilson 95 % interval of a 0/1 series: ``(k, n, low, high)``.

    >>> share_interval(pd.Series([1, 0, 0, 1]))[:2]
    (2, 4)
    """
    k, n = int(np.sum(flags)), len(flags)
    low, high = wilson_interval(k, n)
    return k, n, float(low), float(high)


def census_by_width(regimes: dict, widths, *, n_networks: int, seed: int, census: dict):
    """A census (``census``: keyword arguments of :func:`fpkit.sweep.sample_and_solve`) of ``n_networks``
    networks per law (``regimes``: name -> NetworkConfig) and width.

    Returns ``results`` (``(law, N)`` -> ``(ensemble, fixed points)``), ``per_net`` (one row per network, with
    the flags of :func:`fpkit.regimes.attractor_flags`, ``law`` and ``N``) and ``fps`` (one row per fixed
    point, with ``law`` and ``N``).
    """
    results, rows, points = {}, [], []
    for law, base in regimes.items():
        for N in widths:
            ens, res = sample_and_solve(base.replace(N=N), n_networks, seed=seed, **census)
            results[law, N] = (ens, res)
            rows.append(res.per_network().assign(law=law, N=N))
            points.append(res.to_frame().assign(law=law, N=N))
    return results, attractor_flags(pd.concat(rows, ignore_index=True)), pd.concat(points, ignore_index=True)


def boundary_probe(results: dict, keys, *, n_probe: int, seed: int, max_iter: int, radius: float = 1e-3,
                   limit: int = 200) -> pd.DataFrame:
    """For the unstable fixed points (at most ``limit`` per key) of ``results[key]`` (``(ensemble, fixed
    points)``, keys ``(law, N)``), the number of distinct attractors that ``n_probe`` starts in a max-norm ball
    of ``radius`` around each reach: one row per point, columns ``N`` and ``nearby``."""
    from .engine import attractors_near

    rows = []
    for key in keys:
        ens, res = results[key]
        unstable = np.flatnonzero(~res.stable)[:limit]
        near = attractors_near(ens, res.x[unstable], res.fp_network[unstable], radius=radius, n_probe=n_probe,
                               seed=seed, max_iter=max_iter)
        rows.append(pd.DataFrame({"N": key[1], "nearby": np.asarray(near, dtype=int)}))
    return pd.concat(rows, ignore_index=True)


def basin_panels(axes, ensemble, result, networks, *, resolution: int, max_iter: int) -> pd.Series:
    """Basin maps of two-dimensional networks over the box [-1, 1]^2, one per axis, with their stable (dots)
    and unstable (crosses) fixed points; returns, per network, the share of pixels whose orbit reaches a
    stable fixed point."""
    from .engine import basin_map
    from .plotting import plot_basin_map

    settled = {}
    for ax, e in zip(np.atleast_1d(axes), networks):
        mine = result.fp_network == e
        stable, unstable = result.x[mine & result.stable], result.x[mine & ~result.stable]
        labels, _ = basin_map(ensemble, int(e), [-1.0, -1.0], [2.0, 0.0], [0.0, 2.0], extent=(0, 1, 0, 1),
                              resolution=resolution, reference=stable, max_iter=max_iter)
        plot_basin_map(ax, labels, (-1, 1, -1, 1), stable=stable, unstable=unstable)
        ax.set(title=f"network {e}: Q = {len(stable)}", xlabel="$x_1$", ylabel="$x_2$")
        settled[int(e)] = float(np.mean(labels >= 0))
    return pd.Series(settled, name="settled")
