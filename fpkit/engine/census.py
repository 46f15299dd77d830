"""The fixed-point census of an ensemble: :func:`~fpkit.engine.find_fixed_points`, a short pipeline of stages.

1. **starts**: ``n_starts`` uniform (or grid) starts per network;
2. **iterate** ``x <- F(x)`` (:func:`~fpkit.engine.iterate_map`): converged starts, cycles,
   non-converged starts;
3. **attractors**: the converged limits of every network are merged (points closer than
   ``merge_tol`` are one), polished by Newton to ``polish_tol`` and merged again;
4. **adaptive starts** (``max_starts``): while the Good-Turing estimate of the basin mass not yet
   seen is above ``unseen_target``, networks get another batch of fresh starts, up to
   ``max_starts`` per network;
5. **Newton search** (``newton``): deflated Newton from fresh starts finds unstable fixed points;
6. **census** (``census``): where the indices of the points found do not sum to 1 (the degree
   of x - F(x) on the box, see :func:`~fpkit.engine.fixed_point_index`), rounds of the
   multiple-shooting Newton search (:func:`~fpkit.engine.shooting_search`) from random layer
   states look for the missing points, until the sum is 1 or ``census_rounds`` have run; then
   (``census_continuation``) homotopy continuation in the weight scale
   (:mod:`~fpkit.engine.continuation`) pairs every known point with its partner of opposite index
   and follows the main branch up from the contraction range (``census_pairing``: for every
   network, not only the incomplete ones); the census warns (``census_warn_fraction``) where it
   stays incomplete;
7. **classify**: eigenvalues of J_F at every point, stability, index.

After Golub & Sussillo's FixedPointFinder (batched starts, per-start stopping, merge keeping the
smallest residual), with cycle detection, completeness estimates and the index check added.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import _validate as v
from ..backend import make_rng, to_numpy
from ..network import Ensemble, check_ensemble
from .continuation import _census_stage as _continuation_stage
from .iterate import STATUS, iterate_map
from .merge import dedupe, group_padded, merge_points, new_roots
from .newton import newton_search, polish, shooting_search
from .result import FixedPoints, fixed_point_index
from .settings import EngineSettings, resolve_settings
from .starts import seeded_starts, uniform_starts

__all__ = ["chao1_unseen", "find_fixed_points"]


class _Table:
    """The growing flat table of distinct fixed points (host arrays) and its bookkeeping."""

    def __init__(self, E: int, N: int):
        self.E, self.N = E, N
        self.x = np.zeros((0, N))
        self.net = np.zeros(0, dtype=np.int64)
        self.res = np.zeros(0)
        self.found_by = np.zeros(0, dtype=object)
        self.basin = np.zeros(0, dtype=np.int64)
        self.hits = np.zeros(0, dtype=np.int64)  # hits by uniform multiple-shooting starts
        self.err = np.zeros(0)  # Newton distance estimate where a stage computed it (NaN: compute in x)

    def add(self, x, net, res, how, basin=None, err=None) -> None:
        self.x = np.concatenate([self.x, x])
        self.net = np.concatenate([self.net, net.astype(np.int64)])
        self.res = np.concatenate([self.res, res])
        self.found_by = np.concatenate([self.found_by, np.full(net.size, how, dtype=object)])
        self.basin = np.concatenate([self.basin, np.zeros(net.size, dtype=np.int64) if basin is None else basin])
        self.hits = np.concatenate([self.hits, np.zeros(net.size, dtype=np.int64)])
        self.err = np.concatenate([self.err, np.full(net.size, np.nan) if err is None else err])

    def assign(self, pts, nets, res, tol, how) -> np.ndarray:
        """The table row of each point (within ``tol``, max norm, in its network); points that
        match no row are merged among themselves and added as new rows."""
        rows = np.full(nets.size, -1, dtype=np.int64)
        for i in range(nets.size):
            mine = np.flatnonzero(self.net == nets[i])
            if mine.size:
                d = np.max(np.abs(self.x[mine] - pts[i]), axis=1)
                if d.min() <= tol:
                    rows[i] = mine[int(d.argmin())]
        fresh = np.flatnonzero(rows < 0)
        if fresh.size:
            new_pts, new_nets, new_res, mapping = dedupe(pts[fresh], res[fresh], nets[fresh], tol)
            rows[fresh] = self.x.shape[0] + mapping
            self.add(new_pts, new_nets, new_res, how)
        return rows

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
    """Polish flat (P, N) points of networks ``nets``; returns (points, residual |F(x) - x|_inf)."""
    if pts.shape[0] == 0:
        return pts, np.zeros(0)
    E, _, N = ensemble.shape
    packed, pos = group_padded(pts, nets, E, N)
    x, res = polish(ensemble, ensemble.xp.asarray(packed), tol=tol)
    x, res = to_numpy(x), to_numpy(res)
    return x[nets, pos], res[nets, pos]


def _newton_error(ensemble, pts, nets):
    """``|(I - J)^-1 (F(x) - x)|_inf`` per point: the Newton estimate of its distance to the
    exact fixed point. For steep fixed points (|J| ~ 1e6 and more) rounding alone keeps
    ``|F(x) - x|`` far above ``polish_tol`` while the point is exact to rounding."""
    E, _, N = ensemble.shape
    if pts.shape[0] == 0:
        return np.zeros(0)
    packed, pos = group_padded(pts, nets, E, N)
    fx, jac = ensemble.forward_with_jacobian(ensemble.xp.asarray(packed))
    fx, jac = to_numpy(fx)[nets, pos], to_numpy(jac)[nets, pos]
    with np.errstate(all="ignore"):
        try:
            step = np.linalg.solve(np.eye(N) - jac, (fx - pts)[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.full(pts.shape, np.inf)
    err = np.abs(step).max(axis=1)
    return np.where(np.isfinite(err), err, np.inf)


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
        Every option of the engine (see :class:`~fpkit.engine.EngineSettings`); default ``EngineSettings()``.
    seed : int or Generator
        Seeds the default starts, the adaptive starts and the Newton stages.
    **options
        Overrides of single settings, e.g. ``newton=True`` or ``max_iter=3000``.

    Returns
    -------
    FixedPoints
    """
    check_ensemble(ensemble)
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
    census_rounds = np.zeros(E, dtype=np.int64)
    pairs_closed = np.full(E, np.nan)
    if s.census:
        eig = _census(ensemble, table, eig, census_rounds, s, rng, pairs_closed)

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
        fp_error=np.where(np.isnan(table.err), _newton_error(ensemble, table.x, table.net), table.err),
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
        census_rounds=census_rounds,
        shooting_hits=table.hits,
        pairs_closed=pairs_closed,
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


#: memory budget (bytes) of one multiple-shooting call; networks are searched in groups within it
_SHOOTING_BYTES = 256 * 2**20


def chao1_unseen(hits: np.ndarray) -> float:
    """Bias-corrected Chao1 estimate of the number of species no draw has hit (Chao 1984, 1987):
    ``f1 (f1 - 1) / (2 (f2 + 1))`` from the numbers f1, f2 of species hit exactly once and twice.

    Applied to the fixed points that independent random starts of a root finder reached, it
    estimates how many roots those starts have not reached yet; it is a lower-bound estimator
    (roots whose basin of the root finder is tiny can hide from it).
    """
    hits = np.asarray(hits)
    f1, f2 = int(np.sum(hits == 1)), int(np.sum(hits == 2))
    return f1 * (f1 - 1) / (2.0 * (f2 + 1))


def _census(ensemble, table: _Table, eig, rounds_used, s: EngineSettings, rng, pairs_closed=None):
    """Stage 6: rounds of multiple-shooting Newton (see the module doc).

    Every network gets ``census_min_rounds`` rounds; a network stays in the search while the
    indices of its fixed points do not sum to 1 or while the Chao1 estimate of the roots its
    uniform shooting starts have not reached is at least ``census_unseen_target``, for at most
    ``census_rounds`` rounds (``rounds_used`` records how many it had). A round gives each network
    ``census_starts`` starts: half uniform random layer states (their hits per root feed the
    Chao1 estimate), half known orbits with a fifth of their coordinates redrawn. The roots found
    join the table (``found_by = "shooting"``). Returns the eigenvalues of the whole table.
    """
    E, L, N = ensemble.shape
    K = s.census_starts or s.n_starts
    uniform = K - K // 2
    group = max(1, _SHOOTING_BYTES // (8 * 6 * K * L * N * N))
    for rnd in range(s.census_rounds):
        isum = np.bincount(table.net, weights=fixed_point_index(eig), minlength=E).round()
        unseen = np.array([chao1_unseen(table.hits[table.net == e]) for e in range(E)])
        todo = np.flatnonzero((rnd < s.census_min_rounds) | (isum != 1) | (unseen >= s.census_unseen_target))
        if todo.size == 0:
            break
        rounds_used[todo] += 1
        for start in range(0, todo.size, group):
            nets = todo[start:start + group]
            sub = ensemble.subset(ensemble.xp.asarray(nets))
            states = _shooting_starts(sub, table, nets, K, rng)  # the uniform ones come last
            x_s, r_s = shooting_search(sub, states, tol=s.polish_tol, patience=10, max_halvings=6)
            x_s, r_s = to_numpy(x_s), to_numpy(r_s)
            e_idx, k_idx = np.nonzero(r_s <= s.polish_tol)
            if e_idx.size == 0:
                continue
            # polish in x; a steep root keeps a residual above polish_tol from rounding alone, so
            # it is accepted when its Newton correction (distance to the exact root) is below it
            pts, res = _polish_flat(sub, x_s[e_idx, k_idx], e_idx, s.polish_tol)
            good = (res <= s.polish_tol) | (_newton_error(sub, pts, e_idx) <= s.polish_tol)
            n_before = table.x.shape[0]
            rows = table.assign(pts[good], nets[e_idx[good]], res[good], s.merge_tol, "shooting")
            from_uniform = k_idx[good] >= K - uniform
            table.hits += np.bincount(rows[from_uniform], minlength=table.x.shape[0])
            if table.x.shape[0] > n_before:
                new = slice(n_before, None)
                eig = np.concatenate([eig, _eigenvalues_flat(ensemble, table.x[new], table.net[new])])
    # ---- continuation stage (fpkit.engine.continuation) and the incomplete-census warning
    isum = np.bincount(table.net, weights=fixed_point_index(eig), minlength=E).round()
    reasons, steepest = {int(e): "continuation off" for e in np.flatnonzero(isum != 1)}, 0.0
    if s.census_continuation and (reasons or s.census_pairing):
        eig, reasons, steepest = _continuation_stage(ensemble, table, eig, s, pairs_closed)
    if len(reasons) > s.census_warn_fraction * E:
        _warn_incomplete(reasons, steepest, E)
    return eig


def _warn_incomplete(reasons: dict, steepest: float, E: int) -> None:
    """UserWarning: how many networks have an incomplete census (index sum != 1), and why."""
    kinds, counts = np.unique(list(reasons.values()), return_counts=True)
    why = {
        "steep": f"a fixed point steeper than float64 resolves (largest resolved spectral radius {steepest:.3g})",
        "arc stopped": "a continuation arc ran out of steps (continuation_steps) or stalled",
        "path jump": "a continuation arc jumped between curves",
        "unpaired": "continuation closed every arc yet the sum is not 1 (undetected path jump or merged points)",
        "continuation off": "census_continuation is off",
    }
    detail = "; ".join(f"{c} {why[k]}" for k, c in zip(kinds, counts))
    warnings.warn(f"fixed-point census incomplete (index sum != 1) for {len(reasons)} of {E} networks: "
                  f"{detail}; see per_network().index_complete", UserWarning, stacklevel=4)


def _trajectories(ensemble, points):
    """Layer states (E, K, L, N) of the orbits x -> h_1 -> ... -> h_{L-1} of points (E, K, N)."""
    m = ensemble.array_module
    E, L, N = ensemble.shape
    out = m.empty(points.shape[:2] + (L, N))
    h = points
    for layer in range(L):
        out[:, :, layer] = h
        z = m.matmul(h, ensemble.weights_t[:, layer]) + ensemble.biases[:, layer, None, :]
        h = ensemble.activation.value(z, m)
    return out


def _shooting_starts(sub, table: _Table, nets, K: int, rng):
    """K layer states per network: first ``K // 2`` orbits of the network's known fixed points with
    a random fifth of their coordinates redrawn (missing fixed points tend to share most of their
    saturation pattern with known ones), then uniform random states in the box (all K uniform
    when no fixed point is known)."""
    E, L, N = sub.shape
    low, high = sub.domain
    states = low + (high - low) * rng.random((E, K, L, N))
    for i, e in enumerate(nets):
        mine = table.x[table.net == e]
        if mine.shape[0] == 0:
            continue
        half = K // 2
        pick = mine[rng.integers(0, mine.shape[0], half)]
        one = sub.subset(np.array([i]))
        orbit = to_numpy(_trajectories(one, one.xp.asarray(pick[None])))[0]
        redraw = rng.random(orbit.shape) < 0.2
        states[i, :half] = np.where(redraw, states[i, :half], orbit)
    return sub.xp.asarray(states)
