"""Census stage: the stable fixed points iteration missed, by Newton with doubling starts, until the
ensemble's attractor statistics stop moving.

Every stable fixed point is an attractor, but iteration from uniform starts reaches only those whose
basins the starts hit. In Cauchy networks some basins are a small fraction of the box: at N = 10,
L = 1, 256 uniform starts per network leave the mean number of stable fixed points about 10 % below
the exact Kac-Rice mean (:func:`fpkit.kacrice.kac_rice_estimate`), and the shortfall depends on the
depth. Damped Newton (:func:`~fpkit.engine.newton_search`) from uniform starts reaches them: its
basins are Newton's. Without deflation: every start runs on its own (on Cauchy networks at N = 10 and
16, L = 1 to 4, deflating the known points found the same attractors at twice the cost).

Rounds (``converge_attractors``). Round 0 gives every network ``attractor_starts`` fresh uniform
starts; every later round gives a network as many starts as all its rounds before (its starts double),
but only to the networks whose last round found a new fixed point (sequential stopping: a network
whose doubled search found nothing is done). After every round the stage compares the ensemble's
statistics of the stable fixed points (mean Q and the fraction P(Q >= 2) of networks with two or more)
with those before it: once both moved by less than ``convergence_fraction`` of their standard errors,
more starts no longer change what the ensemble says, and the stage stops (``converged``); it also
stops after ``attractor_rounds`` rounds (then the result says so). The starts of a network come from
its own random stream (:class:`~fpkit.engine.census.state.RandomStreams`), so they do not depend on
which other networks are still searching.
"""

from __future__ import annotations

import numpy as np

from ...backend import to_numpy
from ..newton import newton_search
from ..points import greedy_merge
from .state import CensusState

__all__ = ["attractor_rounds", "attractor_statistics", "stable_counts"]


def attractor_statistics(q) -> dict:
    """Mean Q with its standard error, and the fraction of networks with Q >= 2 with its binomial
    standard error, from per-network counts ``q`` (E,)."""
    q = np.asarray(q, dtype=float)
    n = max(q.size, 1)
    p = float((q >= 2).mean()) if q.size else 0.0
    return {"mean_Q": float(q.mean()) if q.size else 0.0,
            "se_Q": (float(q.std(ddof=1)) if q.size > 1 else 0.0) / np.sqrt(n),
            "P_multi": p, "se_P_multi": float(np.sqrt(p * (1.0 - p) / n))}


def stable_counts(table, n_networks: int) -> np.ndarray:
    """Per network, the classified rows of the table with spectral radius below 1."""
    radius = np.abs(table.eigenvalues).max(axis=1, initial=0.0)
    stable = table.classified & (radius < 1.0)
    return np.bincount(table.network[stable], minlength=n_networks)


def _ratio(before: dict, after: dict, key: str, se_key: str) -> float:
    """How far a round moved ``key``, in standard errors after the round (0 where it did not move)."""
    change = abs(after[key] - before[key])
    if change == 0.0:
        return 0.0
    return change / after[se_key] if after[se_key] > 0 else np.inf


def attractor_rounds(state: CensusState) -> None:
    """Stage (``converge_attractors``): rounds of Newton with doubling starts and sequential
    stopping until the ensemble's mean Q and P(Q >= 2) move by less than ``convergence_fraction`` of
    their standard errors (see the module doc); every round is recorded in ``state.convergence``."""
    s, ensemble, table = state.settings, state.ensemble, state.table
    E = ensemble.n_networks
    table.classify(ensemble)
    before = attractor_statistics(stable_counts(table, E))
    starts = np.zeros(E, dtype=np.int64)
    state.convergence = [{"round": "iteration", "networks": 0, "newton_starts": 0.0, **before,
                          "moved_Q": np.nan, "moved_P_multi": np.nan}]
    active = np.arange(E)
    state.converged = False
    for rnd in range(s.attractor_rounds):
        k = s.attractor_starts if rnd == 0 else int(s.attractor_starts * 2 ** (rnd - 1))
        found = _newton_round(state, active, k, rnd)
        starts[active] += k
        table.classify(ensemble)
        after = attractor_statistics(stable_counts(table, E))
        moved_q, moved_p = _ratio(before, after, "mean_Q", "se_Q"), _ratio(before, after, "P_multi", "se_P_multi")
        state.convergence.append({"round": rnd, "networks": int(active.size), "newton_starts": float(starts.mean()),
                                  **after, "moved_Q": moved_q, "moved_P_multi": moved_p})
        before = after
        active = active[found]
        if max(moved_q, moved_p) < s.convergence_fraction or active.size == 0:
            state.converged = True
            return


def _newton_round(state: CensusState, nets, k: int, rnd: int) -> np.ndarray:
    """One round of Newton, ``k`` fresh uniform starts for each network of ``nets``; the roots
    join the table (``found_by = "newton"``). Returns, per network of ``nets``, whether it found a new
    fixed point."""
    s, ensemble, table = state.settings, state.ensemble, state.table
    E, L, N = ensemble.shape
    found = np.zeros(nets.size, dtype=bool)
    group = max(1, s.shooting_memory // (8 * 8 * k * max(N, 1) * N * max(L, 1)))
    low, high = ensemble.domain
    for a in range(0, nets.size, group):
        mine = nets[a:a + group]
        sub = ensemble.subset(ensemble.xp.asarray(mine))
        x0 = low + (high - low) * state.streams.uniform("attractor starts", rnd, mine, (k, N))
        x_n, r_n = newton_search(sub, sub.xp.asarray(x0), tol=s.root_tol,
                                 max_halvings=s.attractor_max_halvings, patience=s.attractor_patience,
                                 sync_every=s.sync_every)
        x_n, r_n = to_numpy(x_n), to_numpy(r_n)
        e_idx, m_idx = np.nonzero(r_n <= s.root_tol)
        if e_idx.size == 0:
            continue
        reps, _ = greedy_merge(x_n[e_idx, m_idx], r_n[e_idx, m_idx], e_idx, s.merge_tol)
        before = table.size
        table.insert(x_n[e_idx[reps], m_idx[reps]], mine[e_idx[reps]], r_n[e_idx[reps], m_idx[reps]], s.merge_tol,
                     "newton")
        new_nets = table.network[before:]
        found[a:a + group] = np.isin(mine, new_nets)
    return found
