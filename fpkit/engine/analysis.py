"""What the chapters compute from censuses, per network and without loops over networks: the union of two
censuses' lists of fixed points, and the local expansion ``|J_F(x)|_2`` at fixed points or sampled
points."""

from __future__ import annotations

import numpy as np

from .. import _validate as v
from ..backend import single_threaded_blas, to_numpy
from ..network import Ensemble, check_ensemble
from .points import PointTable, pack_by_network
from .result import FixedPoints

__all__ = ["jacobian_norms", "union_counts"]


def union_counts(first: FixedPoints, second: FixedPoints, tol: float | None = None) -> np.ndarray:
    """Per network, the distinct fixed points in the union of two censuses' lists, counted low.

    A point of one list within ``tol`` (max norm) of a point of the other counts once, and the union
    is at least as long as either list (steep points can be distinct yet closer than ``tol``):
    ``max(len(a) + #(b far from every a), len(b) + #(a far from every b))`` per network.

    Parameters
    ----------
    first, second : FixedPoints
        Censuses of the same networks (e.g. two runs with different seeds or settings).
    tol : float, optional
        Default: ``first.settings.merge_tol``.

    Returns
    -------
    int array (E,)
    """
    for name, res in (("first", first), ("second", second)):
        if not isinstance(res, FixedPoints):
            raise TypeError(f"{name} must be a FixedPoints; got {type(res).__name__}")
    if (first.n_networks, first.width) != (second.n_networks, second.width):
        raise ValueError(f"first and second must be censuses of the same networks; got (E, N) = "
                         f"{(first.n_networks, first.width)} and {(second.n_networks, second.width)}")
    tol = first.settings.merge_tol if tol is None else v.check_real(tol, "tol", low=0.0)
    E, N = first.n_networks, first.width
    tables = []
    for res in (first, second):
        table = PointTable(E, N)
        table.add(res.x, res.fp_network, res.fp_residual, "census")
        tables.append(table)
    far_second = tables[0].match(second.x, second.fp_network, tol) < 0
    far_first = tables[1].match(first.x, first.fp_network, tol) < 0
    n_first = np.bincount(first.fp_network, minlength=E)
    n_second = np.bincount(second.fp_network, minlength=E)
    return np.maximum(n_first + np.bincount(second.fp_network[far_second], minlength=E),
                      n_second + np.bincount(first.fp_network[far_first], minlength=E))


def jacobian_norms(ensemble: Ensemble, points, networks=None) -> np.ndarray:
    """The spectral norm ``|J_F(x)|_2`` (largest singular value) at points, at any depth.

    Parameters
    ----------
    ensemble : Ensemble
    points : array (E, M, N), or (P, N) with ``networks``
        Points per network (e.g. :func:`~fpkit.engine.uniform_starts`), or a flat list of points such
        as a census's fixed points ``result.x``.
    networks : int array (P,), optional
        The network of every flat point (e.g. ``result.fp_network``).

    Returns
    -------
    array (E, M) or (P,)
        ``inf`` where the norm exceeds the float64 range (deep expanding networks).
    """
    check_ensemble(ensemble)
    E, _, N = ensemble.shape
    if networks is None:
        return _norms(ensemble, ensemble.check_points(points, "points"))
    x = v.check_array(points, "points")
    nets = v.check_array(networks, "networks")
    if x.ndim != 2 or x.shape[1] != N or nets.shape != (x.shape[0],):
        raise ValueError(f"points must be (P, N = {N}) and networks (P,); got {x.shape} and {nets.shape}")
    if nets.size and (np.any(nets != np.round(nets)) or nets.min() < 0 or nets.max() >= E):
        raise ValueError(f"networks must hold indices of networks in [0, {E - 1}]")
    nets = nets.astype(np.int64)
    if nets.size == 0:
        return np.zeros(0)
    packed, slot = pack_by_network(x, nets, E, N)
    return _norms(ensemble, ensemble.check_points(ensemble.xp.asarray(packed), "points"))[nets, slot]


def _norms(ensemble: Ensemble, x) -> np.ndarray:
    """Spectral norms (E, M) at checked points x (E, M, N); J rescaled by powers of 2 where it overflows."""
    with single_threaded_blas:  # the BLAS thread policy of fpkit's threads (see fpkit.backend)
        return _norms_of(ensemble, x)


def _norms_of(ensemble: Ensemble, x) -> np.ndarray:
    jac = to_numpy(ensemble.jacobian(x))
    if np.all(np.isfinite(jac)):
        return np.linalg.norm(jac, ord=2, axis=(-2, -1))
    _, unit, exponent = ensemble.forward_with_scaled_jacobian(x)
    with np.errstate(over="ignore"):
        return np.ldexp(np.linalg.norm(to_numpy(unit), ord=2, axis=(-2, -1)), to_numpy(exponent))
