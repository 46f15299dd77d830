"""Documented default regimes, and the reproducible sweep that chose them.

The abstracts of Berlyand, Krupchytskyi & Slavin (arXiv 2501.04182) fix neither the
activation, nor the weight scaling, nor the biases. :func:`explore_regimes` runs the engine
over activation x convention x scale x bias law x depth (one call, seeded) and
:func:`summarize_regimes` reduces it to the numbers that decide a regime:

* ``mean_Q`` - mean number of stable fixed points reached by iteration;
* ``p_multi`` - fraction of networks with Q >= 2 (several attractors);
* ``p_none`` - fraction of networks with Q = 0 (no attracting fixed point at all);
* ``cycle_fraction`` - fraction of starts that end on a cycle or do not settle.

The defaults below were chosen from that sweep (chapter 3 of the book re-runs it):
:data:`CAUCHY_REGIME` is the setting with the largest ``p_multi`` among those whose
``cycle_fraction`` stays below 10 % at depth 8, i.e. where the picture "several attractors
whose basins partition the inputs" has the best chance; :data:`GAUSSIAN_REGIME` is its
light-tailed counterpart at the critical weight scale 1 with weaker biases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .network import NetworkConfig

__all__ = ["CAUCHY_REGIME", "GAUSSIAN_REGIME", "explore_regimes", "summarize_regimes"]

#: The heavy-tailed default (tanh, Cauchy weights of scale 4/N, Cauchy biases of scale 1, N = 10, L = 8).
CAUCHY_REGIME = NetworkConfig(
    N=10, L=8, law="cauchy", scale=4.0, convention="fan_in", bias_law="same", bias_scale=1.0,
    activation="tanh",
)
#: The light-tailed default (tanh, Gaussian weights of scale 1/sqrt(N), Gaussian biases of scale 0.5).
GAUSSIAN_REGIME = NetworkConfig(
    N=10, L=8, law="gaussian", scale=1.0, convention="fan_in", bias_law="same", bias_scale=0.5,
    activation="tanh",
)

#: The grid of :func:`explore_regimes` (the abstracts leave every one of these open).
EXPLORATION_AXES = {
    "activation": ["logistic", "tanh"],
    "convention": ["fan_in", "sqrt_fan_in"],
    "scale": [1.0, 4.0, 16.0],
    "bias_law": [None, "same"],
    "L": [1, 2, 4, 8, 16, 32],
}


def explore_regimes(
    *,
    n_networks: int = 24,
    n_starts: int = 128,
    seed: int = 0,
    N: int = 10,
    law: str = "cauchy",
    axes: dict | None = None,
    max_iter: int = 1000,
    progress: bool = True,
) -> pd.DataFrame:
    """Run the regime exploration: one row per network and configuration (see the module doc)."""
    from collections.abc import Mapping

    from .sweep import config_grid, run_sweep  # the sweep machinery (tqdm, pandas) only when used

    if axes is not None and not isinstance(axes, Mapping):
        raise TypeError(f"axes must be a mapping of field -> list of values; got {type(axes).__name__}")
    configs = config_grid({"N": N, "law": law}, **(axes or EXPLORATION_AXES))
    return run_sweep(configs, n_networks=n_networks, n_starts=n_starts, seed=seed,
                     max_iter=max_iter, progress=progress)


def summarize_regimes(table: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Per configuration: mean_Q, p_multi, p_none, cycle_fraction and the number of networks."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (from explore_regimes); got {type(table).__name__}")
    by = ["activation", "convention", "scale", "bias_law", "L"] if by is None else by
    if isinstance(by, str) or not isinstance(by, (list, tuple)) or not all(isinstance(b, str) for b in by) or not by:
        raise TypeError(f"by must be a non-empty list of column names; got {by!r:.60}")
    need = ["Q", "cycle_starts", "not_converged_starts", "n_starts", "bias_law", *by]
    missing = [c for c in dict.fromkeys(need) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the columns {missing} (by, or those of a sweep table)")
    if len(table) == 0:
        raise ValueError("table must have at least one row")
    t = table.assign(
        bias_law=table["bias_law"].fillna("none"),
        multi=table["Q"] >= 2,
        none=table["Q"] == 0,
        unsettled=(table["cycle_starts"] + table["not_converged_starts"]) / table["n_starts"],
    )
    out = t.groupby(by, dropna=False).agg(
        mean_Q=("Q", "mean"),
        sem_Q=("Q", lambda q: q.std(ddof=1) / np.sqrt(len(q)) if len(q) > 1 else np.nan),
        p_multi=("multi", "mean"),
        p_none=("none", "mean"),
        cycle_fraction=("unsettled", "mean"),
        networks=("Q", "size"),
    )
    return out.reset_index()
