"""Census stages that find attractors by iteration: the first batch of starts, and adaptive starts."""

from __future__ import annotations

import itertools

import numpy as np

from ...backend import to_numpy
from ..completeness import good_turing_unseen_mass
from ..iterate import STATUS, run_iteration
from ..points import PointTable, greedy_merge, polish_points
from .state import CensusState, StartCounts

__all__ = ["adaptive_starts", "iterate_first_batch", "record_attractors"]


def record_attractors(ensemble, it, table: PointTable, s, networks=None) -> np.ndarray:
    """Merge each network's converged limits, polish them, and enter them in the table.

    ``it`` is the iteration of (E', M) starts of ``ensemble``, whose networks are the table's
    ``networks`` (E',) (default: the same). Every start's limit joins the limits it merges with
    (:func:`~fpkit.engine.points.greedy_merge`, by step size); each group's best limit is polished
    and matched against the table (:meth:`~fpkit.engine.points.PointTable.insert`). Returns the table
    row each start reached, shape (E', M) (-1 where it did not converge), and adds the starts to the
    rows' basin counts.
    """
    limit, status, step = to_numpy(it.limit), to_numpy(it.status), to_numpy(it.step)
    e_idx, m_idx = np.nonzero(status == STATUS["converged"])
    out = np.full(status.shape, -1, dtype=np.int64)
    if e_idx.size == 0:
        return out
    reps, rep_of = greedy_merge(limit[e_idx, m_idx], step[e_idx, m_idx], e_idx, s.merge_tol)
    position = np.empty(e_idx.size, dtype=np.int64)
    position[reps] = np.arange(reps.size)
    pts, res = polish_points(ensemble, limit[e_idx[reps], m_idx[reps]], e_idx[reps], s.polish_tol)
    owner = e_idx[reps] if networks is None else networks[e_idx[reps]]
    rows = table.insert(pts, owner, res, s.merge_tol, "iteration")
    out[e_idx, m_idx] = rows[position[rep_of]]
    table.basin += np.bincount(out[out >= 0], minlength=table.size)
    return out


def iterate_first_batch(state: CensusState) -> None:
    """Stage 1: iterate the first batch of starts; their attractors open the table."""
    it = run_iteration(state.ensemble, state.starts, state.settings)
    state.iteration = it
    state.attractor = record_attractors(state.ensemble, it, state.table, state.settings)
    state.counts = StartCounts(to_numpy(it.status), to_numpy(it.iterations))


def adaptive_starts(state: CensusState) -> None:
    """Stage 2 (``max_starts``): batches of ``n_starts`` fresh uniform starts for the networks whose
    unseen basin mass (Good-Turing) exceeds ``unseen_target``, until ``max_starts`` per network (the
    starts of a network come from its own stream, :class:`~fpkit.engine.census.state.RandomStreams`)."""
    ensemble, s, table, counts = state.ensemble, state.settings, state.table, state.counts
    low, high = ensemble.domain
    for rnd in itertools.count():
        unseen = good_turing_unseen_mass(table.basin, table.network, counts.starts)
        todo = np.flatnonzero((unseen > s.unseen_target) & (counts.starts + s.n_starts <= s.max_starts))
        if todo.size == 0:
            return
        sub = ensemble.subset(ensemble.xp.asarray(todo))
        u = state.streams.uniform("adaptive starts", rnd, todo, (s.n_starts, ensemble.width))
        it = run_iteration(sub, ensemble.xp.asarray(low + (high - low) * u), s)
        record_attractors(sub, it, table, s, networks=todo)
        counts.add(todo, to_numpy(it.status), to_numpy(it.iterations))
