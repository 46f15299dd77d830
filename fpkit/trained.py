"""Null controls for trained networks, and the fixed-point census used to compare them.

A trained network can differ from a random one in two ways: the *marginal law* of its weights
(e.g. a heavy tail) and the *arrangement* of the weights (what was learnt). Two controls
separate them (chapter 7):

:func:`shuffle_within_layers`
    The same weights, permuted uniformly at random within each layer (and the biases within
    each layer): every layer keeps its multiset of weights (so its tail index, scale and norm
    of the entries) and loses its learnt structure.
:func:`matched_iid_ensemble`
    Fresh i.i.d. weights per layer, Student-t with ``df`` equal to the layer's Hill tail index
    and a scale that matches the layer's median ``|W_ij|``: the same tail index and scale, no
    other property of the trained layer.

:func:`fixed_point_census` runs the fixed-point engine's census (deflated Newton and multiple shooting), with
the index check of chapter 5 (one row per network); :func:`census_with_controls` runs it on a trained
ensemble and on both of its controls.

The *heaviest layer* of a network is its layer with the smallest Hill tail index of ``|W_ij|``:
:func:`heaviest_layers` finds it in an ensemble (with how far its largest weight lies above its median),
:func:`heaviest_layer_summary` in the per-layer table of :func:`fpkit.train.layer_statistics`.

From training runs (:class:`fpkit.train.TrainResult`) to the inputs of these: :func:`training_tails` (the
per-layer tail statistics of many runs with each run's configuration and status, one table),
:func:`last_checkpoints` (the networks at the runs' last checkpoints, with the runs' own activation, as one
ensemble); and the yardstick a trained layer is read against: :func:`random_matrix_tails` (the same tail
statistics of random matrices of known laws, whose finite-size spread says which values are unusual).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import _validate as v
from .backend import make_rng, to_numpy
from .network import Ensemble, check_ensemble
from .sampling import hill_estimator

__all__ = ["CONTROL_VARIANTS", "census_with_controls", "fixed_point_census", "heaviest_layer_summary",
           "heaviest_layers", "last_checkpoints", "layer_tail_indices", "matched_iid_ensemble", "random_matrix_tails",
           "shuffle_within_layers", "training_tails"]


def shuffle_within_layers(ens: Ensemble, *, seed: Any) -> Ensemble:
    """The ensemble with every layer's weights (and biases) permuted at random within the layer.

    Network ``e``, layer ``l``: the N^2 entries of ``W_l`` are put in a uniformly random order
    (one permutation per network and layer), and so are the N entries of ``b_l`` (another
    permutation). Each layer keeps exactly its multiset of weights and of biases.

    Parameters
    ----------
    ens : Ensemble
        E networks of depth L and width N (NumPy backend).
    seed : int or Generator

    Returns
    -------
    Ensemble
        Weights (E, L, N, N) and biases (E, L, N), same activation.
    """
    ens = check_ensemble(ens, "ens")
    rng = make_rng(seed, "numpy")
    W = to_numpy(ens.weights)
    b = to_numpy(ens.biases)
    E, L, N, _ = W.shape
    flat_w = W.reshape(E, L, N * N)
    perm_w = np.argsort(rng.random((E, L, N * N)), axis=-1)
    perm_b = np.argsort(rng.random((E, L, N)), axis=-1)
    Ws = np.take_along_axis(flat_w, perm_w, axis=-1).reshape(E, L, N, N)
    bs = np.take_along_axis(b, perm_b, axis=-1)
    return Ensemble(Ws, bs, ens.activation)


def layer_tail_indices(ens: Ensemble, *, tail_fraction: float = 0.1) -> np.ndarray:
    """Hill tail index of ``|W_ij|`` per network and layer (top ``tail_fraction`` of the entries), (E, L)."""
    ens = check_ensemble(ens, "ens")
    tail_fraction = v.check_real(tail_fraction, "tail_fraction", low=0.0, high=0.5, low_open=True)
    W = to_numpy(ens.weights)
    E, L, N, _ = W.shape
    k = max(2, int(tail_fraction * N * N))
    if k >= N * N:
        raise ValueError(f"ens: a layer of width N = {N} has {N * N} weights, too few for a Hill estimate "
                         f"from its top {k} (tail_fraction = {tail_fraction:g}); it needs N >= 2 and at least "
                         "k + 1 non-zero weights")
    out = np.empty((E, L))
    for e in range(E):
        for layer in range(L):
            try:
                out[e, layer] = hill_estimator(W[e, layer].ravel(), k=k).alpha
            except ValueError as exc:  # hill_estimator names its own argument x: say which layer it is
                reason = str(exc).removeprefix("x ").split(": the Hill estimate is undefined")[0]
                raise ValueError(f"ens: the weights of network {e}, layer {layer} {reason} (the Hill tail "
                                 f"index of |W_ij| from the top {k} of them is undefined)") from None
    return out


def matched_iid_ensemble(ens: Ensemble, *, seed: Any, tail_fraction: float = 0.1) -> Ensemble:
    """Random networks whose layers match the trained layers' tail index and scale, nothing else.

    For network ``e`` and layer ``l`` with Hill tail index ``a`` (:func:`layer_tail_indices`) and
    median ``|W_ij|`` = ``m``, the new weights are i.i.d. ``s T`` with ``T`` Student-t with
    ``df = a`` degrees of freedom (tail index ``a``) and ``s = m / q`` where ``q`` is the median of
    ``|T|`` (``t.ppf(0.75, df)``): the same tail index and the same median ``|W_ij|``. The median
    is used because it exists for every tail index (the variance does not for ``a <= 2``). The
    biases are the trained ones permuted within each layer, as in :func:`shuffle_within_layers`.

    Parameters
    ----------
    ens : Ensemble
        E networks of depth L and width N (NumPy backend).
    seed : int or Generator
    tail_fraction : float
        Fraction of the entries in the Hill estimate, (0, 0.5].

    Returns
    -------
    Ensemble
    """
    ens = check_ensemble(ens, "ens")
    rng = make_rng(seed, "numpy")
    alpha = layer_tail_indices(ens, tail_fraction=tail_fraction)
    W = to_numpy(ens.weights)
    E, L, N, _ = W.shape
    med = np.median(np.abs(W.reshape(E, L, N * N)), axis=-1)
    if np.any(med <= 0):
        raise ValueError("every layer needs a positive median |W_ij| to match its scale")
    out = np.empty_like(W)
    for e in range(E):
        for layer in range(L):
            df = float(alpha[e, layer])
            t = rng.standard_t(df, size=(N, N))
            out[e, layer] = t * (med[e, layer] / stats.t.ppf(0.75, df))
    perm_b = np.argsort(rng.random((E, L, N)), axis=-1)
    biases = np.take_along_axis(to_numpy(ens.biases), perm_b, axis=-1)
    return Ensemble(out, biases, ens.activation)


def fixed_point_census(ens: Ensemble, *, n_starts: int, newton_starts: int, seed: Any,
                       max_iter: int = 3000, census_rounds: int = 3) -> tuple[pd.DataFrame, Any]:
    """Attractors and all fixed points of every network with the engine's census (one row per network).

    :func:`fpkit.engine.find_fixed_points` with the deflated Newton search (``newton_starts`` per
    round) and the census (``census_rounds`` rounds of multiple shooting from ``newton_starts``
    layer states): the per-network table has ``Q``, ``fixed_points``, ``index_sum``,
    ``index_complete`` (a complete list of fixed points has index sum 1), ``unseen_mass``
    (Good-Turing), ``unseen_fixed_points`` (Chao1), ``n_starts_used``, ... (see
    :meth:`fpkit.engine.FixedPoints.per_network`). The settings trained networks need: few census
    rounds, because their fixed points are many (a trained network can have more attractors than
    starts).

    Returns
    -------
    (pandas.DataFrame, FixedPoints)
    """
    from .engine import find_fixed_points

    ens = check_ensemble(ens, "ens")
    res = find_fixed_points(ens, n_starts=n_starts, seed=seed, max_iter=max_iter, newton=True,
                            newton_starts=newton_starts, census=True, census_starts=newton_starts,
                            census_rounds=census_rounds)
    return res.per_network(), res


def heaviest_layers(ens: Ensemble, *, tail_fraction: float = 0.1) -> pd.DataFrame:
    """The heaviest-tailed layer of every network: the layer with the smallest Hill tail index.

    Parameters
    ----------
    ens : Ensemble
        E networks of depth L and width N (NumPy backend).
    tail_fraction : float
        Fraction of a layer's entries in its Hill estimate, (0, 0.5] (:func:`layer_tail_indices`).

    Returns
    -------
    pandas.DataFrame
        One row per network: ``network`` (0..E-1), ``layer`` (0..L-1, the index into
        ``ens.weights[network]``; the first of equal indices), ``hill_alpha`` (its tail index),
        ``median_abs`` (its median ``|W_ij|``) and ``max_over_median`` (its largest ``|W_ij|`` over that
        median; a random 64 x 64 Gaussian matrix has about 5, a Cauchy one several hundred; inf for a
        layer whose median is 0).
    """
    alpha = layer_tail_indices(ens, tail_fraction=tail_fraction)
    W = np.abs(to_numpy(ens.weights))
    E = W.shape[0]
    layer = np.argmin(alpha, axis=1)
    chosen = W[np.arange(E), layer].reshape(E, -1)
    median = np.median(chosen, axis=1)
    top = chosen.max(axis=1)
    with np.errstate(divide="ignore"):
        ratio = np.where(median > 0, top / np.where(median > 0, median, 1.0), np.inf)
    return pd.DataFrame({"network": np.arange(E), "layer": layer, "hill_alpha": alpha[np.arange(E), layer],
                         "median_abs": median, "max_over_median": ratio})


#: The columns of :func:`fpkit.train.layer_statistics` that :func:`heaviest_layer_summary` reduces, and
#: the names of their minima over the layers.
_TAIL_MINIMA = {"hill_alpha": "hill_min", "hill_offdiag": "hill_min_offdiag", "csn_alpha": "csn_min",
                "esd_alpha": "esd_min"}


def heaviest_layer_summary(table: pd.DataFrame, by: str | list[str] = ("run", "step")) -> pd.DataFrame:
    """Per network and checkpoint, the smallest tail index over its layers (the heaviest layer).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per layer, as :func:`fpkit.train.layer_statistics` gives (with a ``run`` column added
        when several runs are stacked): ``hill_alpha``, ``layer`` and the ``by`` columns; ``hill_offdiag``,
        ``csn_alpha`` and ``esd_alpha`` are reduced too where present. Other columns that are constant
        within a group (the run's configuration and status) are kept.
    by : str or list of str, default ("run", "step")
        The columns that name one network at one checkpoint.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``heaviest_layer`` (the layer with the smallest
        ``hill_alpha``), ``hill_min`` and, where their columns are present, ``hill_min_offdiag``,
        ``csn_min`` and ``esd_min`` (NaN where every layer's value is NaN: the power-law fit of
        :func:`~fpkit.train.layer_statistics` is made at chosen checkpoints only), then the constant columns.
    """
    from .stats.tables import check_column, check_table, check_unique_column

    by_list = [by] if isinstance(by, str) else list(by) if isinstance(by, (list, tuple)) else None
    if not by_list:
        raise TypeError(f"by must be a column name or a non-empty list of column names; got {by!r:.60}")
    check_table(table, by_list, "hill_alpha")
    check_column(table, "layer", "table", low=0, integer=True)
    present = {c: name for c, name in _TAIL_MINIMA.items() if c in table.columns}
    for column in present:  # NaN where a checkpoint was not fitted; else a non-negative index
        check_unique_column(table, column, "table")
        check_column(table.dropna(subset=[column]), column, "table", low=0.0)
    groups = table.groupby(by_list, sort=True)
    out = groups.agg(**{name: (c, "min") for c, name in present.items()})
    out.insert(0, "heaviest_layer", table.loc[groups["hill_alpha"].idxmin(), "layer"].to_numpy())
    unique = ~table.columns.duplicated(keep=False)
    constant = [c for c in table.columns[unique] if c not in (*by_list, *present, "layer") and _constant(groups, c)]
    first = table.drop_duplicates(subset=by_list, keep="first").set_index(by_list)[constant]
    return out.join(first).reset_index()


def _constant(groups: Any, column: Any) -> bool:
    """Whether ``column`` takes one value in every group (cells that cannot be compared count as not)."""
    try:
        return bool((groups[column].nunique(dropna=False) <= 1).all())
    except (TypeError, ValueError):
        return False


#: The networks of :func:`census_with_controls`, in its order.
CONTROL_VARIANTS = ("trained", "shuffled", "i.i.d.")


def census_with_controls(ens: Ensemble, *, n_starts: int, newton_starts: int, seed: int, max_iter: int = 3000,
                         census_rounds: int = 3) -> pd.DataFrame:
    """:func:`fixed_point_census` of a trained ensemble and of its two controls, as one long table.

    The controls are :func:`shuffle_within_layers` (seed ``seed``) and :func:`matched_iid_ensemble`
    (seed ``seed + 1``); each census uses seed ``seed + 2``.

    Parameters
    ----------
    ens : Ensemble
        E trained networks (NumPy backend).
    n_starts, newton_starts, max_iter, census_rounds
        As in :func:`fixed_point_census`.
    seed : int
        >= 0.

    Returns
    -------
    pandas.DataFrame
        The per-network tables of the three censuses stacked, with ``variant`` (:data:`CONTROL_VARIANTS`)
        and ``network`` (0..E-1, the same network and its controls share it): 3 E rows.
    """
    ens = check_ensemble(ens, "ens")
    seed = v.check_int(seed, "seed", minimum=0)
    variants = (ens, shuffle_within_layers(ens, seed=seed), matched_iid_ensemble(ens, seed=seed + 1))
    tables = []
    for name, variant in zip(CONTROL_VARIANTS, variants):
        per, _ = fixed_point_census(variant, n_starts=n_starts, newton_starts=newton_starts, seed=seed + 2,
                                    max_iter=max_iter, census_rounds=census_rounds)
        tables.append(per.assign(variant=name, network=np.arange(ens.n_networks)))
    return pd.concat(tables, ignore_index=True)


def _check_results(results: Any) -> list:
    """``results`` as a non-empty list of :class:`fpkit.train.TrainResult`."""
    from .train import TrainResult

    if isinstance(results, (str, bytes)) or not hasattr(results, "__iter__"):
        raise TypeError(f"results must be a sequence of fpkit.train.TrainResult; got {type(results).__name__}")
    results = list(results)
    if not results:
        raise ValueError("results is empty: give at least one training run")
    bad = [i for i, r in enumerate(results) if not isinstance(r, TrainResult)]
    if bad:
        raise TypeError(f"results must hold fpkit.train.TrainResult only; item {bad[0]} is "
                        f"{type(results[bad[0]]).__name__}")
    return results


def training_tails(results: Any, *, tail_fraction: float = 0.1) -> pd.DataFrame:
    """The tail statistics of every layer of many training runs, with each run's configuration, as one table.

    :func:`fpkit.train.layer_statistics` of every run (one row per checkpoint and layer; the
    Clauset-Shalizi-Newman fit at the last checkpoint only) joined with the run's row of
    :func:`fpkit.train.run_table` (its configuration, ``lr_per_batch``, ``status`` and losses). The
    result is what :func:`heaviest_layer_summary` reduces to one row per run and checkpoint.

    Parameters
    ----------
    results : sequence of fpkit.train.TrainResult
        At least one run.
    tail_fraction : float
        Fraction of a layer's entries in its Hill estimate, (0, 0.5].

    Returns
    -------
    pandas.DataFrame
        ``run`` (the position in ``results``), the columns of ``layer_statistics`` and those of
        ``run_table``; checkpoints after a divergence are left out.
    """
    from .train import layer_statistics, run_table

    results = _check_results(results)
    tail_fraction = v.check_real(tail_fraction, "tail_fraction", low=0.0, high=0.5, low_open=True)
    runs = run_table(results).reset_index(names="run")
    layers = [layer_statistics(r, tail_fraction=tail_fraction).assign(run=i) for i, r in enumerate(results)]
    return pd.concat(layers, ignore_index=True).merge(runs, on="run")


def last_checkpoints(results: Any) -> Ensemble:
    """The networks at the last checkpoint of each run, as one ensemble with the runs' activation.

    Parameters
    ----------
    results : sequence of fpkit.train.TrainResult
        Runs of one depth, width and activation, none diverged before its last checkpoint.

    Returns
    -------
    Ensemble
        Network ``e`` is run ``e``'s last checkpoint: weights (E, L, N, N), biases (E, L, N).
    """
    results = _check_results(results)
    shapes = {(r.weights.shape[1:], r.config.activation) for r in results}
    if len(shapes) > 1:
        raise ValueError(f"results must share depth, width and activation to form one ensemble; got "
                         f"{sorted((s[0][0], s[0][1], s[1]) for s in shapes)} as (L, N, activation)")
    lost = [i for i, r in enumerate(results) if not r.finite_checkpoints[-1]]
    if lost:
        raise ValueError(f"results: run {lost[0]} (status {results[lost[0]].status!r}) has no finite last "
                         "checkpoint; leave out the runs that diverged")
    W = np.stack([r.weights[-1] for r in results])
    b = np.stack([r.biases[-1] for r in results])
    return Ensemble(W, b, results[0].config.activation)


def random_matrix_tails(laws: Any, n_matrices: int, width: int, *, seed: Any,
                        tail_fraction: float = 0.1) -> pd.DataFrame:
    """The tail statistics of :func:`fpkit.train.layer_statistics` on random square matrices of known laws.

    At the size of a layer every tail estimator is biased and spread out; random matrices of known
    tail index give its distribution, against which a trained layer's value is read (chapter 7: a
    Hill index of 1.8 is typical of a 64 x 64 Student-t matrix with 2 degrees of freedom, whose tail
    index is 2). Every statistic is scale-free, so the scale of the draws does not matter.

    Parameters
    ----------
    laws : mapping of str to WeightLaw or law name
        Label -> law (:func:`fpkit.weight_law`), e.g. ``{"Cauchy": weight_law("cauchy")}``.
    n_matrices : int
        Matrices per law, >= 1.
    width : int
        N, >= 4: the matrices are N x N.
    seed : int or Generator
        One generator draws the laws in their order.
    tail_fraction : float
        Fraction of the entries in the Hill estimate, (0, 0.5].

    Returns
    -------
    pandas.DataFrame
        One row per matrix: ``law`` (the label), ``hill_alpha`` (Hill index of ``|W_ij|`` from the top
        ``tail_fraction``), ``csn_alpha`` (Clauset-Shalizi-Newman fit), ``esd_alpha`` (exponent of the
        spectrum of ``W^T W``; NaN where too few eigenvalues are non-zero to fit) and ``max_over_median``
        (largest ``|W_ij|`` over the median), as :func:`fpkit.train.layer_statistics` and
        :func:`heaviest_layers` compute them.
    """
    from collections.abc import Mapping

    from .sampling import esd_power_law, fit_power_law, sample_weights, weight_law

    if not isinstance(laws, Mapping) or not laws:
        raise TypeError(f"laws must be a non-empty mapping of label -> law; got {laws!r:.60}")
    if not all(isinstance(k, str) for k in laws):
        raise TypeError(f"laws must be keyed by labels (str); got {list(laws)!r:.60}")
    specs = {}
    for label, law in laws.items():
        try:
            specs[label] = weight_law(law)
        except (TypeError, ValueError) as exc:  # say which entry of laws
            raise type(exc)(f"laws[{label!r}]: {exc}") from None
    n_matrices = v.check_int(n_matrices, "n_matrices", minimum=1, maximum=10**5)
    width = v.check_int(width, "width", minimum=4, maximum=1024)
    tail_fraction = v.check_real(tail_fraction, "tail_fraction", low=0.0, high=0.5, low_open=True)
    v.check_memory(8 * n_matrices * width**2, f"n_matrices * width**2 = {n_matrices} * {width}**2 weights")
    rng = make_rng(seed, "numpy")
    k = max(2, int(tail_fraction * width * width))
    min_tail = min(10, max(3, width // 2))  # as layer_statistics fits a layer's spectrum
    tables = []
    for label, law in specs.items():
        W = to_numpy(sample_weights(law, (n_matrices, width, width), seed=rng, backend="numpy"))
        flat = np.abs(W.reshape(n_matrices, -1))
        median = np.median(flat, axis=1)
        rows = []
        for m in range(n_matrices):
            try:
                esd = esd_power_law(W[m], min_tail=min_tail).alpha
            except ValueError:  # numerically rank-deficient: too few non-zero eigenvalues to fit
                esd = np.nan
            rows.append({"hill_alpha": hill_estimator(flat[m], k=k).alpha,
                         "csn_alpha": fit_power_law(flat[m]).alpha, "esd_alpha": esd})
        tables.append(pd.DataFrame(rows).assign(law=label, max_over_median=flat.max(axis=1) / median))
    return pd.concat(tables, ignore_index=True)[["law", "hill_alpha", "csn_alpha", "esd_alpha", "max_over_median"]]
