"""Merging points that are one fixed point, and packing per-network lists of points.

Fixed points live in flat tables (one row per point, with its network ``nets``); the Newton
stages need them packed per network as (E, K, N) arrays. ``group_padded`` packs,
:func:`~fpkit.engine.merge_points` groups close points of one network, ``dedupe`` and ``new_roots``
apply it per network.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as v

__all__ = ["dedupe", "group_padded", "merge_points", "new_roots"]


def merge_points(points: np.ndarray, residuals: np.ndarray, tol: float):
    """Group points closer than ``tol`` (max norm); the representative has the smallest residual.

    Greedy: the point with the smallest residual becomes a representative and takes every
    unassigned point within ``tol`` of it; repeat. Two distinct fixed points closer than
    ``tol`` are therefore merged into one.

    Parameters
    ----------
    points : (K, N) array
        Finite, N >= 1.
    residuals : (K,) array
    tol : float > 0

    Returns
    -------
    reps : (Q,) int array
        Indices into ``points`` of the representatives, in order of increasing residual.
    labels : (K,) int array
        For each point, the position in ``reps`` of its representative.
    """
    tol = v.check_real(tol, "merge_tol", low=0.0, low_open=True)
    points = v.check_array(points, "points")
    residuals = v.check_array(residuals, "residuals", finite=False)
    if np.isnan(residuals).any():
        raise ValueError("residuals must not be NaN")
    if points.ndim != 2 or points.shape[1] < 1 or residuals.shape != points.shape[:1]:
        raise ValueError(f"points must be (K, N) with N >= 1 and residuals (K,); got {points.shape} and "
                         f"{residuals.shape}")
    K = points.shape[0]
    labels = np.full(K, -1, dtype=np.int64)
    reps: list[int] = []
    for i in np.argsort(residuals, kind="stable"):
        if labels[i] >= 0:
            continue
        free = labels < 0
        close = free & (np.max(np.abs(points - points[i]), axis=1) <= tol)
        labels[close] = len(reps)
        reps.append(int(i))
    return np.asarray(reps, dtype=np.int64), labels


def group_padded(points: np.ndarray, nets: np.ndarray, E: int, N: int, fill: float | None = None):
    """Pack flat (P, N) points into (E, K, N).

    Padding is each network's first point (networks without points get 0.5), or ``fill``
    (e.g. NaN) where given. Returns the packed array and each point's slot along axis 1.
    """
    nets = np.asarray(nets, dtype=np.int64)
    counts = np.bincount(nets, minlength=E)
    K = max(int(counts.max()) if counts.size else 0, 1)
    packed = np.full((E, K, N), 0.5 if fill is None else fill)
    # slot of each point within its network: its rank among the points of that network
    order = np.argsort(nets, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.empty(nets.size, dtype=np.int64)
    pos[order] = np.arange(nets.size) - np.repeat(starts, counts)
    packed[nets, pos] = points
    if fill is None:
        has = counts > 0
        first = packed[:, :1, :]
        pad = np.arange(K)[None, :] >= counts[:, None]
        packed = np.where((pad & has[:, None])[..., None], first, packed)
    return packed, pos


def new_roots(known_pts, known_net, pts, nets, res, tol):
    """Roots among ``pts`` that are new: merged among themselves and farther than ``tol``
    from every known root of the same network. Returns (points, nets, residuals)."""
    out_pts, out_net, out_res = [], [], []
    for e in np.unique(nets):
        rows = np.flatnonzero(nets == e)
        reps, _ = merge_points(pts[rows], res[rows], tol)
        old = known_pts[known_net == e]
        for r in rows[reps]:
            if old.shape[0] == 0 or np.max(np.abs(old - pts[r]), axis=1).min() > tol:
                out_pts.append(pts[r])
                out_net.append(e)
                out_res.append(res[r])
    N = pts.shape[1]
    return (np.asarray(out_pts, dtype=np.float64).reshape(-1, N), np.asarray(out_net, dtype=np.int64),
            np.asarray(out_res, dtype=np.float64))


def dedupe(pts, residuals, nets, tol):
    """Merge points per network; returns the representatives' (points, nets, residuals) and
    the map from every input row to its representative's row (representatives keep their
    input order, so earlier ids stay stable)."""
    order_pts, order_net, order_res = [], [], []
    mapping = np.full(pts.shape[0], -1, dtype=np.int64)
    count = 0
    for e in np.unique(nets):
        rows = np.flatnonzero(nets == e)
        reps, labels = merge_points(pts[rows], residuals[rows], tol)
        reps_sorted = np.sort(reps)
        new_id = {int(r): count + i for i, r in enumerate(reps_sorted)}
        mapping[rows] = [new_id[int(reps[lab])] for lab in labels]
        order_pts.append(pts[rows[reps_sorted]])
        order_net.append(np.full(reps_sorted.size, e))
        order_res.append(residuals[rows[reps_sorted]])
        count += reps_sorted.size
    if not order_pts:
        return pts[:0], nets[:0].astype(np.int64), residuals[:0], mapping
    return (np.concatenate(order_pts), np.concatenate(order_net).astype(np.int64),
            np.concatenate(order_res), mapping)
