"""The fixed-point census of an ensemble: :func:`find_fixed_points`, a short pipeline of stages.

1. **starts**: ``n_starts`` uniform (or grid) starts per network;
2. **iterate** ``x <- F(x)`` (:func:`~fpkit.engine.iterate_map`): converged starts, cycles,
   non-converged starts;
3. **attractors**: the converged limits of every network are merged (points closer than
   ``merge_tol`` are one), polished by Newton to ``polish_tol`` and merged again;
4. **adaptive starts** (``max_starts``): while the Good-Turing estimate of the basin mass not yet
   seen is above ``unseen_target``, networks get another batch of fresh starts, up to
   ``max_starts`` per network;
5. **Newton search** (``newton``): deflated Newton from fresh starts finds unstable fixed points;
6. **saddle search** (``saddle_search``): where the indices of the points found do not sum to 1
   (the degree of x - F(x) on the box, see :func:`~fpkit.engine.fixed_point_index`), Newton is
   started where the missing points must be (see :func:`search_saddles`);
7. **classify**: eigenvalues of J_F at every point, stability, index.

After Golub & Sussillo's FixedPointFinder (batched starts, per-start stopping, merge keeping the
smallest residual), with cycle detection, completeness estimates and the index check added.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validate as v
from ..backend import make_rng, to_numpy
from ..network import Ensemble
from .iterate import STATUS, iterate_map
from .merge import dedupe, group_padded, merge_points, new_roots
from .newton import newton_search, polish
from .result import FixedPoints, fixed_point_index
from .settings import EngineSettings, resolve_settings
from .starts import _check_ensemble, seeded_starts, uniform_starts

__all__ = ["find_fixed_points", "search_saddles"]


class _Table:
    """The growing flat table of distinct fixed points (host arrays) and its bookkeeping."""

    def __init__(self, E: int, N: int):
        self.E, self.N = E, N
        self.x = np.zeros((0, N))
        self.net = np.zeros(0, dtype=np.int64)
        self.res = np.zeros(0)
        self.found_by = np.zeros(0, dtype=object)
        self.basin = np.zeros(0, dtype=np.int64)

    def add(self, x, net, res, how, basin=None) -> None:
        self.x = np.concatenate([self.x, x])
        self.net = np.concatenate([self.net, net.astype(np.int64)])
        self.res = np.concatenate([self.res, res])
        self.found_by = np.concatenate([self.found_by, np.full(net.size, how, dtype=object)])
        self.basin = np.concatenate([self.basin, np.zeros(net.size, dtype=np.int64) if basin is None else basin])

    def packed(self, fill=np.nan):
        return group_padded(self.x, self.net, self.E, self.N, fill=fill)[0]


def _attractors(ensemble, it, table: _Table, s: EngineSettings, offset_mask=None):
    """Stage 3: merge each network's converged limits, polish, dedupe against the table.

    Returns the per-start row of the table each converged start reached (-1 otherwise), shape
    (E, M); new attractors are appended to ``table`` with their basin counts.
    """
    limit, status, step = to_numpy(it.limit), to_numpy(it.status), to_numpy(it.step)
    E, M, N = limit.shape
    cand_pts, cand_net, start_cand = [], [], np.full((E, M), -1, dtype=np.int64)
    offset = 0
    for e in range(E):
        conv = np.flatnonzero(status[e] == STATUS["converged"])
        if conv.size == 0:
            continue
        reps, labels = merge_points(limit[e, conv], step[e, conv], s.merge_tol)
        start_cand[e, conv] = offset + labels
        cand_pts.append(limit[e, conv[reps]])
        cand_net.append(np.full(reps.size, e))
        offset += reps.size
    if not cand_pts:
        return start_cand
    cand_pts, cand_net = np.concatenate(cand_pts), np.concatenate(cand_net)
    pol_pts, pol_res = _polish_flat(ensemble, cand_pts, cand_net, s.polish_tol)
    # candidates that polish onto a point already in the table join it; the others are new
    cand_row = np.full(cand_net.size, -1, dtype=np.int64)
    for i in range(cand_net.size):
        mine = np.flatnonzero(table.net == cand_net[i])
        if mine.size:
            d = np.max(np.abs(table.x[mine] - pol_pts[i]), axis=1)
            if d.min() <= s.merge_tol:
                cand_row[i] = mine[int(d.argmin())]
    fresh = np.flatnonzero(cand_row < 0)
    if fresh.size:
        pts, nets, res, mapping = dedupe(pol_pts[fresh], pol_res[fresh], cand_net[fresh], s.merge_tol)
        cand_row[fresh] = table.x.shape[0] + mapping
        table.add(pts, nets, res, "iteration")
    out = np.where(start_cand >= 0, cand_row[np.maximum(start_cand, 0)], -1)
    table.basin += np.bincount(out[out >= 0], minlength=table.x.shape[0])
    return out


def _polish_flat(ensemble, pts, nets, tol):
    if pts.shape[0] == 0:
        return pts, np.zeros(0)
    E, _, N = ensemble.shape
    packed, pos = group_padded(pts, nets, E, N)
    x, res = polish(ensemble, ensemble.xp.asarray(packed), tol=tol)
    x, res = to_numpy(x), to_numpy(res)
    return x[nets, pos], res[nets, pos]


def _add_roots(ensemble, table: _Table, starts, s: EngineSettings, how: str, **newton_options) -> int:
    """Deflated Newton from ``starts`` (E, K, N); new roots join the table. Returns how many."""
    known = ensemble.xp.asarray(table.packed())
    x_n, r_n = newton_search(ensemble, starts, known=known, tol=s.polish_tol, **newton_options)
    x_n, r_n = to_numpy(x_n), to_numpy(r_n)
    ok = r_n <= s.polish_tol
    if not ok.any():
        return 0
    e_idx, m_idx = np.nonzero(ok)
    pts, nets, res = new_roots(table.x, table.net, x_n[e_idx, m_idx], e_idx, r_n[e_idx, m_idx], s.merge_tol)
    if nets.size:
        table.add(pts, nets, res, how)
    return int(nets.size)


def _eigenvalues_flat(ensemble, pts, nets):
    E, _, N = ensemble.shape
    if pts.shape[0] == 0:
        return np.zeros((0, N), dtype=complex)
    packed, pos = group_padded(pts, nets, E, N)
    return ensemble.jacobian_eigenvalues(ensemble.xp.asarray(packed))[nets, pos]  # finite J at any depth


def _check_table(ensemble, table_x, table_net, stable, networks):
    """Arguments of :func:`search_saddles`: a flat table of P points (P, N), their networks (P,)
    and stability (P,), and the networks (indices, at least one) to search."""
    _check_ensemble(ensemble)
    E, _, N = ensemble.shape
    table_x = v.check_array(table_x, "table_x")
    if table_x.ndim != 2 or table_x.shape[1] != N:
        raise ValueError(f"table_x must have shape (P, N = {N}); got {table_x.shape}")
    P = table_x.shape[0]
    out = [table_x]
    for name, arr in (("table_net", table_net), ("networks", networks)):
        arr = v.check_array(arr, name).ravel() if name == "networks" else v.check_array(arr, name)
        if np.any(arr != np.round(arr)) or (arr.size and (arr.min() < 0 or arr.max() >= E)):
            raise ValueError(f"{name} must hold indices of networks in [0, {E - 1}]")
        out.append(arr.astype(np.int64))
    if out[1].shape != (P,):
        raise ValueError(f"table_net must have shape (P,) = ({P},); got {out[1].shape}")
    if out[2].size == 0:
        raise ValueError("networks must name at least one network")
    stable = np.asarray(stable)
    if stable.shape != (P,) or stable.dtype != bool:
        raise ValueError(f"stable must be a boolean array of shape (P,) = ({P},); got {stable.dtype} {stable.shape}")
    return out[0], out[1], stable, out[2]


def search_saddles(ensemble: Ensemble, table_x, table_net, stable, *, networks, seed: Any,
                   settings: EngineSettings, n_segment: int = 8, n_random: int | None = None):
    """Newton starts where the fixed points missing from an incomplete list must lie.

    For each network in ``networks``, starts are placed (a) at ``n_segment`` points along every
    segment joining two of its known stable fixed points (their basins meet on the segment, and
    the stable manifold of an index -1 saddle separates them), (b) near every known unstable
    point, displaced along random directions (saddles come in chains), and (c) uniformly at
    random. Returns an (E', K, N) array of starts for the networks, in order.
    """
    table_x, table_net, stable, networks = _check_table(ensemble, table_x, table_net, stable, networks)
    settings = resolve_settings(settings, {})
    n_segment = v.check_int(n_segment, "n_segment", minimum=1)
    rng = make_rng(seed, "numpy")
    low, high = ensemble.domain
    N = ensemble.width
    n_random = settings.n_starts if n_random is None else v.check_int(n_random, "n_random", minimum=1)
    v.check_memory(8 * 2 * networks.size * (n_random + n_segment * table_x.shape[0] ** 2 + 4 * table_x.shape[0])
                   * N, f"n_random = {n_random} (and n_segment = {n_segment}) starts for {networks.size} networks")
    per_net = []
    for e in networks:
        mine = table_net == e
        att = table_x[mine & stable]
        other = table_x[mine & ~stable]
        pts = [low + (high - low) * rng.random((n_random, N))]
        ts = (np.arange(n_segment) + 0.5) / n_segment
        for i in range(att.shape[0]):
            for j in range(i + 1, att.shape[0]):
                pts.append(att[i] + ts[:, None] * (att[j] - att[i]))
        for p in other:
            pts.append(p + 0.05 * (high - low) * rng.standard_normal((4, N)))
        pts = np.clip(np.concatenate(pts), low + 1e-9 * (high - low), high - 1e-9 * (high - low))
        per_net.append(pts)
    K = max(p.shape[0] for p in per_net)
    out = np.empty((len(per_net), K, N))
    for i, p in enumerate(per_net):
        out[i, : p.shape[0]] = p
        out[i, p.shape[0]:] = p[rng.integers(0, p.shape[0], K - p.shape[0])]
    return out


def find_fixed_points(
    ensemble: Ensemble,
    starts=None,
    *,
    settings: EngineSettings | None = None,
    seed: Any = 0,
    **options: Any,
) -> FixedPoints:
    """Find the attractors (and optionally all fixed points) of every network of an ensemble.

    Parameters
    ----------
    ensemble : Ensemble
    starts : array (E, M, N), optional
        Initial points of the first batch; default: ``settings.n_starts`` seeded starts.
    settings : EngineSettings, optional
        Every option of the engine (see :class:`EngineSettings`); default ``EngineSettings()``.
    seed : int or Generator
        Seeds the default starts, the adaptive starts and the Newton stages.
    **options
        Overrides of single settings, e.g. ``newton=True`` or ``max_iter=3000``.

    Returns
    -------
    FixedPoints
    """
    _check_ensemble(ensemble)
    s = resolve_settings(settings, options)
    rng = make_rng(seed, "numpy")
    E, _, N = ensemble.shape
    if starts is None:
        starts = seeded_starts(ensemble, s, seed=rng)
    starts = ensemble.check_points(starts, "starts")
    M = starts.shape[1]

    # stages 2-3: iterate the first batch, collect its attractors
    it = iterate_map(ensemble, starts, s)
    table = _Table(E, N)
    attractor = _attractors(ensemble, it, table, s)
    status0, iters0 = to_numpy(it.status), to_numpy(it.iterations)
    counts = _Counts(status0, iters0)

    # stage 4: adaptive starts while the unseen basin mass is too large
    if s.max_starts is not None:
        _adaptive_starts(ensemble, table, counts, s, rng)

    # stage 5: deflated Newton search for unstable fixed points
    if s.newton:
        n_new = s.newton_starts if s.newton_starts is not None else M
        for _round in range(s.newton_rounds):
            if _add_roots(ensemble, table, uniform_starts(ensemble, n_new, seed=rng), s, "newton") == 0:
                break

    # stage 7 (and 6): classify; where the index sum is not 1, search the missing points
    eig = _eigenvalues_flat(ensemble, table.x, table.net)
    if s.saddle_search:
        for _round in range(s.saddle_rounds):
            isum = np.bincount(table.net, weights=fixed_point_index(eig), minlength=E).round()
            todo = np.flatnonzero(isum != 1)
            if todo.size == 0:
                break
            stable = np.abs(eig).max(axis=1) < 1.0 if eig.size else np.zeros(0, dtype=bool)
            sub = ensemble.subset(ensemble.xp.asarray(todo))
            st = search_saddles(ensemble, table.x, table.net, stable, networks=todo, seed=rng, settings=s)
            sub_table = _Table(todo.size, N)
            remap = {int(e): i for i, e in enumerate(todo)}
            keep = np.isin(table.net, todo)
            sub_table.add(table.x[keep], np.array([remap[int(e)] for e in table.net[keep]], dtype=np.int64),
                          table.res[keep], "known")
            n_known = sub_table.x.shape[0]
            added = _add_roots(sub, sub_table, sub.xp.asarray(st), s, "saddle", patience=20, max_iter=100)
            if added == 0:
                break
            new = slice(n_known, None)
            table.add(sub_table.x[new], todo[sub_table.net[new]], sub_table.res[new], "saddle")
            eig = np.concatenate([eig, _eigenvalues_flat(ensemble, sub_table.x[new], todo[sub_table.net[new]])])

    radius = np.abs(eig).max(axis=1) if eig.size else np.zeros(0)
    n_unstable = (np.abs(eig) > 1.0).sum(axis=1) if eig.size else np.zeros(0, dtype=np.int64)
    residual = np.full(E * M, np.nan)
    flat_att = attractor.reshape(-1)
    has = flat_att >= 0
    residual[has] = table.res[flat_att[has]]
    residual[~has] = to_numpy(it.step).reshape(-1)[~has]
    return FixedPoints(
        n_networks=E,
        n_starts=M,
        width=N,
        start_network=np.repeat(np.arange(E), M),
        x0=to_numpy(starts).reshape(E * M, N),
        limit=to_numpy(it.limit).reshape(E * M, N),
        residual=residual,
        iterations=iters0.reshape(-1),
        status=status0.reshape(-1),
        period=to_numpy(it.period).reshape(-1),
        attractor=flat_att,
        fp_network=table.net,
        x=table.x,
        fp_residual=table.res,
        eigenvalues=eig,
        spectral_radius=radius,
        n_unstable=n_unstable.astype(np.int64),
        stable=radius < 1.0,
        basin_count=table.basin,
        found_by=table.found_by.astype(str),
        starts_used=counts.starts,
        converged_count=counts.converged,
        cycle_count=counts.cycle,
        not_converged_count=counts.not_converged,
        iterations_sum=counts.iterations,
        settings=s.as_dict(),
    )


class _Counts:
    """Per-network tallies over every batch of starts."""

    def __init__(self, status, iterations):
        conv = status == STATUS["converged"]
        self.starts = np.full(status.shape[0], status.shape[1], dtype=np.int64)
        self.converged = conv.sum(1)
        self.cycle = (status == STATUS["cycle"]).sum(1)
        self.not_converged = (status == STATUS["not_converged"]).sum(1)
        self.iterations = np.where(conv, iterations, 0).sum(1)

    def add(self, rows, status, iterations):
        conv = status == STATUS["converged"]
        self.starts[rows] += status.shape[1]
        self.converged[rows] += conv.sum(1)
        self.cycle[rows] += (status == STATUS["cycle"]).sum(1)
        self.not_converged[rows] += (status == STATUS["not_converged"]).sum(1)
        self.iterations[rows] += np.where(conv, iterations, 0).sum(1)


def _unseen(table: _Table, counts: _Counts, E: int) -> np.ndarray:
    once = table.basin == 1
    return np.bincount(table.net[once], minlength=E) / np.maximum(counts.starts, 1)


def _adaptive_starts(ensemble, table: _Table, counts: _Counts, s: EngineSettings, rng) -> None:
    """Stage 4: batches of ``n_starts`` fresh uniform starts for the networks whose unseen basin
    mass (Good-Turing) exceeds ``unseen_target``, until ``max_starts`` per network."""
    E = ensemble.n_networks
    while True:
        todo = np.flatnonzero((_unseen(table, counts, E) > s.unseen_target)
                              & (counts.starts + s.n_starts <= s.max_starts))
        if todo.size == 0:
            return
        sub = ensemble.subset(ensemble.xp.asarray(todo))
        it = iterate_map(sub, uniform_starts(sub, s.n_starts, seed=rng), s)
        # the sub-ensemble's networks are rows ``todo`` of the table
        sub_table = _Table(todo.size, ensemble.width)
        remap = {int(e): i for i, e in enumerate(todo)}
        keep = np.isin(table.net, todo)
        rows_kept = np.flatnonzero(keep)
        sub_table.add(table.x[keep], np.array([remap[int(e)] for e in table.net[keep]], dtype=np.int64),
                      table.res[keep], "known")
        n_known = rows_kept.size
        reached = _attractors(sub, it, sub_table, s)
        hits = np.bincount(reached[reached >= 0], minlength=sub_table.x.shape[0])
        table.basin[rows_kept] += hits[:n_known]
        new = slice(n_known, None)
        if sub_table.x.shape[0] > n_known:
            table.add(sub_table.x[new], todo[sub_table.net[new]], sub_table.res[new], "iteration",
                      basin=hits[new])
        counts.add(todo, to_numpy(it.status), to_numpy(it.iterations))
