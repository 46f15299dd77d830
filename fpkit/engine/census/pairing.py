"""Census stages that close the list of fixed points: homotopy continuation pairs every known point
with its partner of opposite index (:mod:`fpkit.engine.continuation`), and the report of the
networks that stay incomplete."""

from __future__ import annotations

import warnings

import numpy as np

from ..completeness import fixed_point_index, index_sums
from ..continuation import CONTINUATION_STATUS, continuation_search, layer_jacobian_eigenvalues
from ..points import newton_errors, pack_by_network, polish_points
from .state import CensusState

__all__ = ["SAME_LAYER_STATES", "continuation_arcs", "report_incomplete"]

#: Two crossings are one fixed point when their layer states agree to this (max norm of asinh z).
SAME_LAYER_STATES = 1e-6

_BAD_ARC = [CONTINUATION_STATUS[k] for k in ("step_cap", "stalled", "refine_failed", "left")]
_MAIN = CONTINUATION_STATUS["main_branch"]
_CROSSED = CONTINUATION_STATUS["crossed"]
_REASONS = ("steep", "arc stopped", "path jump", "unpaired")


class _ArcBook:
    """What the continuation stage learns per network (E,) and per table row (grown with the table).

    ``arc_end[r]``: where the arc from row r ended: a row, -2 (t_0), -1 (no known point), -3 (not
    followed); ``main_end[e]``: the row the main branch crossed t = 1 at (-1: none).
    """

    def __init__(self, E: int):
        self.steep, self.stopped, self.jumped, self.looked = (np.zeros(E, dtype=bool) for _ in range(4))
        self.main_end = np.full(E, -1, dtype=np.int64)
        self.traced = np.zeros(0, dtype=bool)
        self.arc_end = np.zeros(0, dtype=np.int64)

    def grow(self, P: int) -> None:
        extra = P - self.traced.size
        self.traced = np.concatenate([self.traced, np.zeros(extra, dtype=bool)])
        self.arc_end = np.concatenate([self.arc_end, np.full(extra, -3, dtype=np.int64)])


def continuation_arcs(state: CensusState) -> None:
    """Stage (``census_continuation``): continuation for the networks whose index sum is not 1 (every
    network with ``census_pairing``).

    Round 1 follows, for every such network, the main branch and the arc from each known fixed
    point; later rounds (up to ``continuation_rounds``, networks still incomplete) the arcs from
    points found since. A crossing of t = 1 joins the table (``found_by = "continuation"``) when it
    is certified like every other point: its polished x has ``|F(x) - x|_inf <= polish_tol`` or the
    Newton correction ``|(I - J)^-1 (F(x) - x)|_inf <= polish_tol``; or, for a steep point whose
    x-space residual is all rounding, the Newton correction computed in the layer variables is below
    ``polish_tol``. It is a new point unless a point of the table matches it (within ``merge_tol``
    in x, and with the same layer states where those are known: steep fixed points of heavy-tailed
    networks can be distinct and closer than ``merge_tol`` in x).

    The eigenvalues of every crossing, and those of the known points of these networks where the
    index from their layer states (:func:`~fpkit.engine.layer_jacobian_eigenvalues`) disagrees with
    the one from J at x, come from the layer states.

    Sets ``state.pairs_closed`` (1.0 for the networks whose list is closed under the pairing: every
    point's arc ends on a point of the list, or, for exactly the main branch's point, at t_0; 0.0 for
    the others the stage looked at), and ``state.incomplete``: per network still incomplete a short
    reason: ``"steep"`` (a point whose x could not be certified or whose eigenvalues could not be
    resolved in float64), ``"arc stopped"`` (an arc ran out of steps or stalled), ``"path jump"``
    (the main branch came back to t_0, or two arcs reached it) or ``"unpaired"`` (every arc closed,
    yet the sum is not 1: an undetected jump, or distinct points closer than ``merge_tol`` in x); and
    ``state.steepest``, the largest resolved spectral radius in the networks called steep.
    """
    s, table = state.settings, state.table
    E = state.ensemble.n_networks
    if not (s.census_pairing or (index_sums(fixed_point_index(table.eigenvalues), table.network, E) != 1).any()):
        return
    book = _ArcBook(E)
    for rnd in range(s.continuation_rounds):
        book.grow(table.size)
        isum = index_sums(fixed_point_index(table.eigenvalues), table.network, E)
        todo = np.arange(E) if (s.census_pairing and rnd == 0) else np.flatnonzero(isum != 1)
        fresh = np.isin(table.network, todo) & ~book.traced
        if rnd > 0:
            todo = np.intersect1d(todo, table.network[fresh])
        if todo.size == 0:
            break
        book.looked[todo] |= rnd == 0
        counts = np.bincount(table.network[fresh], minlength=E)[todo]
        for nets in _groups(todo, counts, s.continuation_memory // _bytes_per_arc(state.ensemble)):
            # the table grows as earlier groups add crossings (rows of their own networks, never fresh)
            rows = np.flatnonzero(np.isin(table.network, nets) & np.append(fresh, np.zeros(table.size - fresh.size,
                                                                                        dtype=bool)))
            _follow_group(state, book, nets, rows, main_branch=rnd == 0)
        book.grow(table.size)
        book.traced |= np.append(fresh, np.zeros(table.size - fresh.size, dtype=bool))
    looked = np.flatnonzero(book.looked)
    state.pairs_closed[looked] = _pairs_closed(table, book)[looked]
    state.incomplete, state.steepest = _reasons(table, book, E)


def _bytes_per_arc(ensemble) -> int:
    """Work memory of one arc: W, A, the saved QR rows, the work arrays."""
    _, L, N = ensemble.shape
    return 8 * L * N * (4 * N + 3 * N + 12)


def _groups(todo, counts, budget: int):
    """Consecutive groups of networks ``todo`` whose arcs (``counts`` + 1 per network, as many per network
    as the group's largest) fit ``budget`` arcs; at least one network per group."""
    budget = max(1, budget)
    start = 0
    while start < todo.size:
        stop = start + 1
        while stop < todo.size and (counts[start:stop + 1].max() + 1) * (stop + 1 - start) <= budget:
            stop += 1
        yield todo[start:stop]
        start = stop


def _follow_group(state: CensusState, book: _ArcBook, nets, rows, *, main_branch: bool) -> None:
    """Follow the arcs of the table ``rows`` (and the main branch) of the networks ``nets``."""
    s, table, ensemble = state.settings, state.table, state.ensemble
    _, L, N = ensemble.shape
    sub = ensemble.subset(ensemble.xp.asarray(nets))
    local = np.searchsorted(nets, table.network[rows])
    known, slot = pack_by_network(table.x[rows], local, nets.size, N, fill=np.nan)
    known_z = np.full(known.shape[:2] + (L, N), np.nan)
    if table.layer_states is not None:
        known_z[local, slot] = table.layer_states[rows]
    cr = continuation_search(sub, sub.xp.asarray(known), max_steps=s.continuation_steps, main_branch=main_branch,
                             known_z=sub.xp.asarray(known_z), initial_step=s.continuation_initial_step,
                             max_step=s.continuation_max_step, min_step=s.continuation_min_step,
                             meet=s.continuation_meet)
    book.stopped[nets] |= np.isin(cr.status, _BAD_ARC).any(axis=1)
    # only one curve reaches t_0: a second arc there, or the main branch back there, jumped
    book.jumped[nets] |= (cr.status[:, 0] == _MAIN) | ((cr.status[:, 1:] == _MAIN).sum(axis=1) > 1)
    # the known points' index from their layer states: for steep points the eigenvalues of J at the
    # rounded x, which the other stages use, can have the wrong parity
    kz = cr.known_z[local, slot]
    root = np.isfinite(kz).all(axis=(1, 2))
    table.set_layer_states(rows[root], kz[root])
    ev_known = layer_jacobian_eigenvalues(sub, cr.known_z)[local, slot]
    resolved = np.isfinite(ev_known).all(axis=1)
    fix = resolved & (fixed_point_index(ev_known) != fixed_point_index(table.eigenvalues[rows]))
    table.eigenvalues[rows[fix]] = ev_known[fix]
    book.steep[nets[np.unique(local[root & ~resolved])]] = True
    book.arc_end[rows] = np.where(cr.status[local, slot + 1] == _MAIN, -2, -1)
    row_of_arc = np.full(cr.status.shape, -1, dtype=np.int64)
    row_of_arc[local, slot + 1] = rows
    _record_crossings(state, book, sub, nets, cr, row_of_arc)


def _record_crossings(state: CensusState, book: _ArcBook, sub, nets, cr, row_of_arc) -> None:
    """Certify the crossings of t = 1 in ``cr`` and enter them in the table; note where each arc ended."""
    s, table = state.settings, state.table
    e_idx, k_idx = np.nonzero(cr.status == _CROSSED)
    if e_idx.size == 0:
        return
    x_cross = cr.x[e_idx, k_idx]
    pts, res = polish_points(sub, x_cross, e_idx, s.polish_tol)
    # x-space Newton may walk off a steep point (its residual is all rounding) to another root: the
    # polished point counts only where it stayed on the crossing
    in_x = (((res <= s.polish_tol) | (newton_errors(sub, pts, e_idx) <= s.polish_tol))
            & (np.abs(pts - x_cross).max(axis=1) <= s.merge_tol))
    # steep points: certified in the layer variables and kept unpolished (x-space Newton cannot
    # improve them); every crossing's eigenvalues come from its layer states
    in_z = ~in_x & (cr.error[e_idx, k_idx] <= s.polish_tol)
    err = np.where(in_z, cr.error[e_idx, k_idx], np.nan)
    pts = np.where(in_z[:, None], x_cross, pts)
    ev = layer_jacobian_eigenvalues(sub, cr.z)[e_idx, k_idx]
    good = (in_x | in_z) & np.isfinite(ev).all(axis=1)
    book.steep[nets[np.unique(e_idx[~good])]] = True
    g = np.flatnonzero(good)
    ends = table.insert(pts[g], nets[e_idx[g]], res[g], s.merge_tol, "continuation", keys=np.arange(g.size),
                        error=err[g], eigenvalues=ev[g], layer_states=cr.z[e_idx[g], k_idx[g]],
                        state_tol=SAME_LAYER_STATES)
    book.grow(table.size)
    main = k_idx[g] == 0
    book.main_end[nets[e_idx[g][main]]] = ends[main]
    book.arc_end[row_of_arc[e_idx[g][~main], k_idx[g][~main]]] = ends[~main]


def _pairs_closed(table, book: _ArcBook) -> np.ndarray:
    """Per network (E,), whether its points are closed under the pairing: the main branch and every
    followed arc ended on a point of the list (or at t_0), each point was followed or is the end of
    a followed arc, partners agree both ways, and only the main branch's point leads down to t_0."""
    E = book.main_end.size
    net, end, followed = table.network, book.arc_end, book.arc_end != -3
    bad = np.bincount(net[followed & (end == -1)], minlength=E) > 0
    covered = followed.copy()
    covered[end[followed & (end >= 0)]] = True
    has_main = book.main_end >= 0
    covered[book.main_end[has_main]] = True
    bad |= np.bincount(net[~covered], minlength=E) > 0
    pairs = np.flatnonzero(followed & (end >= 0))
    back = pairs[followed[end[pairs]]]
    bad |= np.bincount(net[back[end[end[back]] != back]], minlength=E) > 0
    down = followed & (end == -2)
    n_down = np.bincount(net[down], minlength=E)
    main_followed = has_main & followed[np.maximum(book.main_end, 0)]
    main_down = main_followed & (end[np.maximum(book.main_end, 0)] == -2)
    ok_down = np.where(main_followed, (n_down == 1) & main_down, n_down == 0)
    return (has_main & ~bad & ok_down).astype(float)


def _reasons(table, book: _ArcBook, E: int):
    """Per network still incomplete, why; and the largest resolved spectral radius among the steep ones."""
    isum = index_sums(fixed_point_index(table.eigenvalues), table.network, E)
    bad = np.flatnonzero(isum != 1)
    kind = np.select([book.steep[bad], book.stopped[bad], book.jumped[bad]], list(_REASONS[:3]), _REASONS[3])
    radius = np.abs(table.eigenvalues).astype(float)
    radius = np.where(np.isfinite(radius), radius, 0.0).max(axis=1, initial=0.0)
    steepest = np.zeros(E)
    np.maximum.at(steepest, table.network, radius)
    steep_bad = bad[book.steep[bad]]
    return dict(zip(bad.tolist(), kind.tolist())), float(steepest[steep_bad].max(initial=0.0))


def report_incomplete(state: CensusState) -> None:
    """Stage (``census``): a UserWarning when more than ``census_warn_fraction`` of the networks have an
    incomplete census (index sum != 1): how many, and why."""
    E = state.ensemble.n_networks
    reasons = state.incomplete
    if reasons is None:
        isum = index_sums(fixed_point_index(state.table.eigenvalues), state.table.network, E)
        reasons = {int(e): "continuation off" for e in np.flatnonzero(isum != 1)}
    if len(reasons) <= state.settings.census_warn_fraction * E:
        return
    kinds, counts = np.unique(list(reasons.values()), return_counts=True)
    why = {
        "steep": f"a fixed point steeper than float64 resolves (largest resolved spectral radius {state.steepest:.3g})",
        "arc stopped": "a continuation arc ran out of steps (continuation_steps) or stalled",
        "path jump": "a continuation arc jumped between curves",
        "unpaired": "continuation closed every arc yet the sum is not 1 (undetected path jump or merged points)",
        "continuation off": "census_continuation is off",
    }
    detail = "; ".join(f"{c} {why[k]}" for k, c in zip(kinds, counts))
    warnings.warn(f"fixed-point census incomplete (index sum != 1) for {len(reasons)} of {E} networks: "
                  f"{detail}; see per_network().index_complete", UserWarning, stacklevel=3)
