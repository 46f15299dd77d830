"""Documented default regimes, and the reproducible sweep that chose them.

The abstracts of Berlyand, Krupchytskyi & Slavin (arXiv 2501.04182) fix neither the
activation, nor the weight scaling, nor the biases. :func:`explore_regimes` runs the engine
over activation x convention x scale x bias law x depth (one call, seeded) and
:func:`summarize_regimes` reduces it to the numbers that decide a regime:

* ``mean_Q`` - mean number of stable fixed points reached by iteration;
* ``p_multi`` - fraction of networks with Q >= 2 (several attractors);
* ``p_none`` - fraction of networks with Q = 0 (no attracting fixed point at all);
* ``cycle_fraction`` - fraction of starts that end on a cycle or do not settle.

The per-network indicators behind them (``multi``, ``none``, ``unsettled``) come from
:func:`attractor_flags`, which the chapters use for their own curves too.

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
from .stats.tables import check_column, check_orderable, check_unique_column

__all__ = ["CAUCHY_REGIME", "EXPLORATION_AXES", "GAUSSIAN_REGIME", "TAIL_MATCHINGS", "attractor_flags",
           "explore_regimes", "summarize_regimes", "tail_configs"]

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


def attractor_flags(table: pd.DataFrame) -> pd.DataFrame:
    """Per-network indicators next to Q: a copy of ``table`` with three more columns.

    * ``multi`` - 1.0 where Q >= 2 (several attractors), else 0.0;
    * ``none`` - 1.0 where Q = 0 (no attracting fixed point: every start ends on a cycle or does
      not settle), else 0.0;
    * ``unsettled`` - the network's fraction of starts that end on a cycle or do not settle.

    Floats, so that their means (:func:`summarize_regimes`, :func:`fpkit.stats.bootstrap_curve`)
    are the fractions of networks. A ``bias_law`` column of None (no biases) reads ``"none"``.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per network with the columns ``Q``, ``converged_starts``, ``cycle_starts`` and
        ``not_converged_starts`` of :meth:`fpkit.engine.FixedPoints.per_network` (a
        :func:`fpkit.sweep.run_sweep` table has them): whole numbers >= 0, each column once, at
        least one start per network; else a TypeError or ValueError naming ``table`` and the column.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    missing = [c for c in ("Q", "converged_starts", "cycle_starts", "not_converged_starts")
               if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the columns {missing} (a per-network table of the engine has them)")
    for column in ("Q", "converged_starts", "cycle_starts", "not_converged_starts"):
        check_column(table, column, "table", low=0, integer=True)
    starts = table["converged_starts"] + table["cycle_starts"] + table["not_converged_starts"]
    if np.any(starts.to_numpy() < 1):
        raise ValueError("table must have at least one start per network (converged_starts + cycle_starts + "
                         "not_converged_starts >= 1 in every row)")
    out = table.assign(
        multi=(table["Q"] >= 2).astype(float),
        none=(table["Q"] == 0).astype(float),
        unsettled=(table["cycle_starts"] + table["not_converged_starts"]) / starts,
    )
    if "bias_law" in out.columns:
        bias = out["bias_law"]
        if not (pd.api.types.is_object_dtype(bias) or pd.api.types.is_string_dtype(bias)):
            bias = bias.astype(object)  # all missing (float NaN): filling it with text needs object cells
        out["bias_law"] = bias.fillna("none")
    return out


def summarize_regimes(table: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Per configuration: mean_Q, sem_Q, p_multi, p_none, cycle_fraction and the number of networks.

    ``by`` defaults to the exploration's axes (activation, convention, scale, bias_law, L); the
    fractions are means of the indicators of :func:`attractor_flags` (whose checks of the table
    apply). ``sem_Q`` (the standard error of mean_Q) is NaN for a configuration with a single
    network: no spread can be estimated from one value. A missing value in a ``by`` column (a
    ``df`` or ``alpha`` that a law does not have) makes a group of its own, with a NaN key.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (from explore_regimes); got {type(table).__name__}")
    by = ["activation", "convention", "scale", "bias_law", "L"] if by is None else by
    if isinstance(by, str) or not isinstance(by, (list, tuple)) or not all(isinstance(b, str) for b in by) or not by:
        raise TypeError(f"by must be a non-empty list of column names; got {by!r:.60}")
    missing = [c for c in dict.fromkeys(by) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the columns {missing} (by)")
    if len(table) == 0:
        raise ValueError("table must have at least one row")
    t = attractor_flags(table)
    for column in dict.fromkeys(by):
        check_unique_column(t, column, "by: table")
        check_orderable(t[column], f"table column {column!r} (by)")
    out = t.groupby(by, dropna=False).agg(
        mean_Q=("Q", "mean"),
        sem_Q=("Q", lambda q: q.std(ddof=1) / np.sqrt(len(q)) if len(q) > 1 else np.nan),
        p_multi=("multi", "mean"),
        p_none=("none", "mean"),
        cycle_fraction=("unsettled", "mean"),
        networks=("Q", "size"),
    )
    return out.reset_index()


#: How :func:`tail_configs` holds the scale fixed while the tail varies.
TAIL_MATCHINGS = {
    "gclt": "same scale parameter s under the generalised-CLT convention: symmetric alpha-stable weights "
            "of scale s / N^(1/alpha) (so a pre-activation sum_j W_ij x_j has the same stable scale for every "
            "alpha), biases alpha-stable of scale bias_scale",
    "median": "same typical size: the median |W_ij| and the median |b_i| of the base configuration, "
              "for every alpha",
}


def tail_configs(base: NetworkConfig, alphas, matching: str) -> list[NetworkConfig]:
    """Symmetric alpha-stable versions of ``base`` with the tail index alpha varied at matched scale.

    Parameters
    ----------
    base : NetworkConfig
        The reference network law (e.g. :data:`CAUCHY_REGIME`: Cauchy = alpha-stable with alpha = 1).
    alphas : iterable of float in (0, 2]
        Stability (tail) indices; alpha = 2 is Gaussian (variance 2 c^2 for scale c), alpha = 1
        Cauchy, smaller alpha heavier tails.
    matching : {"gclt", "median"}
        See :data:`TAIL_MATCHINGS`. ``"gclt"`` keeps ``base``'s scale ``s`` with the ``fan_in``
        convention (weights of scale ``s / N^(1/alpha)``; ``base`` must use ``fan_in``);
        ``"median"`` gives every alpha the weights' and the biases' median absolute value of
        ``base`` (``absolute`` convention).

    Returns
    -------
    list of NetworkConfig
        One per alpha, with ``law="alpha_stable"`` and ``bias_law="same"`` (no biases if ``base``
        has none).
    """
    from . import _validate as v
    from .sampling import MIN_TAIL_INDEX, scale_factor, weight_law

    if not isinstance(base, NetworkConfig):
        raise TypeError(f"base must be a NetworkConfig; got {type(base).__name__}")
    v.check_choice(matching, "matching", tuple(TAIL_MATCHINGS))
    alphas = v.check_array(alphas, "alphas", ndim=1, min_size=1)
    if np.any(alphas < MIN_TAIL_INDEX) or np.any(alphas > 2.0):
        raise ValueError(f"alphas must be tail indices in [{MIN_TAIL_INDEX}, 2]; got {alphas.tolist()}")
    alphas = [float(a) for a in alphas]
    blaw = base.biases_law()
    out = []
    for a in alphas:
        law = weight_law("alpha_stable", alpha=a)
        if matching == "gclt":
            if base.convention != "fan_in":
                raise ValueError(f"matching 'gclt' needs a base with convention 'fan_in'; got {base.convention!r}")
            scale, convention, bias_scale = base.scale, "fan_in", base.bias_scale
        else:
            w_median = scale_factor(base.weights_law(), base.N, base.convention, base.scale) * base.weights_law().median_abs
            scale, convention = w_median / law.median_abs, "absolute"
            bias_scale = base.bias_scale * blaw.median_abs / law.median_abs if blaw is not None else 0.0
        out.append(base.replace(law="alpha_stable", alpha=a, df=None, scale=scale, convention=convention,
                                bias_law="same" if blaw is not None else None, bias_scale=bias_scale))
    return out
