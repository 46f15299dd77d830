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
the index check of chapter 5 (one row per network).
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

__all__ = ["fixed_point_census", "layer_tail_indices", "matched_iid_ensemble", "shuffle_within_layers"]


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
