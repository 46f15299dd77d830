"""Census stages that find fixed points by Newton's method: the deflated Newton search in x, the
classification of the table, and rounds of the multiple-shooting search in the layer states (with,
where asked, the trust-region descent on the layer equations, :mod:`fpkit.engine.descent`)."""

from __future__ import annotations

import numpy as np

from ...backend import to_numpy
from ..completeness import chao1_unseen_per_network, fixed_point_index, index_sums
from ..descent import layer_descent_search, uniform_layer_states
from ..newton import newton_search, shooting_search
from ..points import PointTable, greedy_merge, newton_errors, polish_points
from ..starts import uniform_starts
from .state import CensusState

__all__ = ["DESCENT_ROUNDS", "classify_points", "layer_orbits", "newton_roots", "shooting_rounds", "shooting_starts"]

#: The descent's starts of round r are the random stream "shooting states" of round DESCENT_ROUNDS + r (a
#: stream of their own: the shooting starts of round r are unchanged).
DESCENT_ROUNDS = 2**20


def newton_roots(state: CensusState) -> None:
    """Stage (``newton``): ``newton_rounds`` rounds of deflated Newton from ``newton_starts`` fresh
    uniform starts per network, each deflating every point of the table; stops early when a round
    finds nothing new."""
    s, ensemble, table = state.settings, state.ensemble, state.table
    n_new = s.newton_starts if s.newton_starts is not None else state.starts.shape[1]
    for _round in range(s.newton_rounds):
        starts = uniform_starts(ensemble, n_new, seed=state.rng)
        x_n, r_n = newton_search(ensemble, starts, known=ensemble.xp.asarray(table.packed()), tol=s.root_tol)
        x_n, r_n = to_numpy(x_n), to_numpy(r_n)
        e_idx, m_idx = np.nonzero(r_n <= s.root_tol)
        reps, _ = greedy_merge(x_n[e_idx, m_idx], r_n[e_idx, m_idx], e_idx, s.merge_tol)
        before = table.size
        table.insert(x_n[e_idx[reps], m_idx[reps]], e_idx[reps], r_n[e_idx[reps], m_idx[reps]], s.merge_tol,
                     "newton")
        if table.size == before:
            break


def classify_points(state: CensusState) -> None:
    """Stage: eigenvalues of J_F at every point of the table."""
    state.table.classify(state.ensemble)


def shooting_rounds(state: CensusState) -> None:
    """Stage (``census``): rounds of multiple-shooting Newton (:func:`~fpkit.engine.shooting_search`).

    Every network gets ``census_min_rounds`` rounds; a network stays in the search while the
    indices of its fixed points do not sum to 1, while the Chao1 estimate of the roots its
    uniform shooting starts have not reached is at least ``census_unseen_target``, or (with
    ``census_until_quiet`` = q > 0) until q rounds in a row found no new fixed point, for at most
    ``census_rounds`` rounds (``state.census_rounds`` records how many it had). A round gives each
    network ``census_starts`` starts (:func:`shooting_starts`) and, with ``census_descent_starts``,
    that many starts of the trust-region descent on the layer equations
    (:func:`~fpkit.engine.descent.layer_descent_search`) from uniform random saturation patterns.
    The roots found join the table (``found_by = "shooting"`` or ``"descent"``) with their
    eigenvalues; the uniform shooting starts' hits per root feed the Chao1 estimate.
    """
    s, ensemble, table = state.settings, state.ensemble, state.table
    E, L, N = ensemble.shape
    K = s.census_starts or s.n_starts
    group = max(1, s.shooting_memory // (8 * 6 * max(K, s.census_descent_starts) * L * N * N))
    quiet = np.zeros(E, dtype=np.int64)  # rounds in a row without a new fixed point
    for rnd in range(s.census_rounds):
        isum = index_sums(fixed_point_index(table.eigenvalues), table.network, E)
        unseen = chao1_unseen_per_network(table.hits, table.network, E)
        todo = (rnd < s.census_min_rounds) | (isum != 1) | (unseen >= s.census_unseen_target)
        if s.census_until_quiet:
            todo |= quiet < s.census_until_quiet
        todo = np.flatnonzero(todo)
        if todo.size == 0:
            break
        state.census_rounds[todo] += 1
        before = table.size
        for start in range(0, todo.size, group):
            _shooting_group(state, todo[start:start + group], K, rnd)
            if s.census_descent_starts:
                _descent_group(state, todo[start:start + group], s.census_descent_starts, rnd)
        found = np.zeros(E, dtype=bool)
        found[table.network[before:]] = True
        quiet[todo] = np.where(found[todo], 0, quiet[todo] + 1)


def _shooting_group(state: CensusState, nets, K: int, rnd: int) -> None:
    """Round ``rnd`` of multiple shooting for the networks ``nets``; certified roots join the table."""
    s, ensemble, table = state.settings, state.ensemble, state.table
    sub = ensemble.subset(ensemble.xp.asarray(nets))
    states = shooting_starts(sub, table, nets, K, state.streams, rnd)  # the uniform ones come last
    x_s, r_s = shooting_search(sub, states, tol=s.root_tol, patience=s.shooting_patience,
                               max_halvings=s.shooting_max_halvings)
    x_s, r_s = to_numpy(x_s), to_numpy(r_s)
    e_idx, k_idx = np.nonzero(r_s <= s.root_tol)
    rows, good = _enter_roots(state, sub, nets, x_s[e_idx, k_idx], e_idx, "shooting")
    from_uniform = k_idx[good] >= K - (K - K // 2)
    table.hits += np.bincount(rows[from_uniform], minlength=table.size)


def _descent_group(state: CensusState, nets, K: int, rnd: int) -> None:
    """Round ``rnd`` of the trust-region descent for the networks ``nets``: K uniform random saturation
    patterns each (:func:`~fpkit.engine.descent.uniform_layer_states`); certified roots join the table."""
    s, ensemble = state.settings, state.ensemble
    _, L, N = ensemble.shape
    sub = ensemble.subset(ensemble.xp.asarray(nets))
    u = state.streams.uniform("shooting states", DESCENT_ROUNDS + rnd, nets, (K, L, N))
    _, x_d, found = layer_descent_search(sub, uniform_layer_states(sub, u), tol=s.root_tol)
    x_d, found = to_numpy(x_d), to_numpy(found)
    e_idx, k_idx = np.nonzero(found)
    _enter_roots(state, sub, nets, x_d[e_idx, k_idx], e_idx, "descent")


def _enter_roots(state: CensusState, sub, nets, x, e_idx, found_by: str):
    """Polish roots x (P, N) of the networks ``nets[e_idx]`` in x and enter the certified ones in the
    table: a steep root keeps a residual above ``polish_tol`` from rounding alone, so it is accepted
    when its Newton correction (distance to the exact root) is below it. Returns their rows."""
    s, table = state.settings, state.table
    if e_idx.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    pts, res = polish_points(sub, x, e_idx, s.polish_tol)
    good = (res <= s.polish_tol) | (newton_errors(sub, pts, e_idx) <= s.polish_tol)
    before = table.size
    rows = table.insert(pts[good], nets[e_idx[good]], res[good], s.merge_tol, found_by)
    if table.size > before:
        table.classify(state.ensemble)
    return rows, good


def layer_orbits(ensemble, points):
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


def shooting_starts(sub, table: PointTable, nets, K: int, streams, rnd: int):
    """K layer states (E', K, L, N) per network of ``sub`` (the table's networks ``nets``) for round ``rnd``:
    first ``K // 2`` orbits of the network's known fixed points (picked at random) with a random fifth of
    their coordinates redrawn (missing fixed points tend to share most of their saturation pattern with
    known ones), then uniform random states in the box (all K uniform when no fixed point is known). The
    draws of a network come from its own streams (:class:`~fpkit.engine.census.state.RandomStreams`)."""
    E, L, N = sub.shape
    low, high = sub.domain
    half = K // 2
    states = low + (high - low) * streams.uniform("shooting states", rnd, nets, (K, L, N))
    counts = np.bincount(table.network, minlength=table.n_networks)[nets]
    has = np.flatnonzero(counts > 0)
    if has.size == 0 or half == 0:
        return sub.xp.asarray(states)
    u = streams.uniform("shooting picks", rnd, nets[has], (half,))
    pick = np.minimum((u * counts[has, None]).astype(np.int64), counts[has, None] - 1)
    known = table.packed()[nets[has]]  # (H, R, N): each network's points in table order
    points = np.take_along_axis(known, pick[..., None], axis=1)
    with_points = sub.subset(sub.xp.asarray(has))
    orbit = to_numpy(layer_orbits(with_points, with_points.xp.asarray(points)))
    redraw = streams.uniform("shooting redraws", rnd, nets[has], (half, L, N)) < 0.2
    states[has, :half] = np.where(redraw, states[has, :half], orbit)
    return sub.xp.asarray(states)
