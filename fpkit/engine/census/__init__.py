"""The fixed-point census of an ensemble: :func:`~fpkit.engine.find_fixed_points`, a pipeline of stages.

Every stage is a function ``stage(state)`` of one :class:`~fpkit.engine.census.state.CensusState`
(the ensemble, the settings, the random stream, the table of points found so far and the
per-network tallies); :func:`census_stages` lists the stages the settings ask for, in order:

1. **iterate** the first batch of starts ``x <- F(x)`` (:func:`~fpkit.engine.iterate_map`):
   converged starts, cycles, non-converged starts; the converged limits of every network are
   merged (points closer than ``merge_tol`` are one), polished by Newton to ``polish_tol`` and
   entered in the table (:mod:`~fpkit.engine.census.attractors`);
2. **adaptive starts** (``max_starts``): while the Good-Turing estimate of the basin mass not yet
   seen is above ``unseen_target``, networks get another batch of fresh starts, up to
   ``max_starts`` per network;
3. **Newton search** (``newton``): deflated Newton from fresh starts finds unstable fixed points
   (:mod:`~fpkit.engine.census.roots`);
4. **classify**: eigenvalues of J_F at every point, stability, index;
5. **attractors** (``converge_attractors``): the stable fixed points iteration missed, by Newton
   with doubling starts until the ensemble's attractor statistics stop moving
   (:mod:`~fpkit.engine.census.stable`);
6. **multiple shooting** (``census``): where the indices of the points found do not sum to 1 (the
   degree of x - F(x) on the box, see :func:`~fpkit.engine.fixed_point_index`), rounds of the
   multiple-shooting Newton search (:func:`~fpkit.engine.shooting_search`) from random layer
   states look for the missing points, until the sum is 1 or ``census_rounds`` have run;
7. **continuation** (``census`` and ``census_continuation``): homotopy continuation in the weight
   scale (:mod:`~fpkit.engine.continuation`) pairs every known point with its partner of opposite
   index and follows the main branch up from the contraction range (``census_pairing``: for every
   network, not only the incomplete ones) (:mod:`~fpkit.engine.census.pairing`);
8. **report** (``census``): a warning (``census_warn_fraction``) where the census stays incomplete.

A new stage is a function of the state added to :func:`census_stages`; it enters what it finds with
:meth:`~fpkit.engine.points.PointTable.insert`, which decides what is new.

Random draws: the first batch of starts comes from ``seed``; the Newton starts, drawn for every network
at once, from the same generator; the draws that only some networks make (adaptive starts, multiple
shooting) from per-network streams (:class:`~fpkit.engine.census.state.RandomStreams`), so that a
network's census does not depend on how the other networks' censuses went.

After Golub & Sussillo's FixedPointFinder (batched starts, per-start stopping, merge keeping the
smallest residual), with cycle detection, completeness estimates and the index check added.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...backend import make_rng, single_threaded_blas, to_numpy
from ...network import Ensemble, check_ensemble
from ..points import PointTable, newton_errors
from ..result import FixedPoints
from ..settings import EngineSettings, resolve_settings
from ..starts import seeded_starts
from .attractors import adaptive_starts, iterate_first_batch
from .pairing import continuation_arcs, report_incomplete
from .roots import classify_points, newton_roots, shooting_rounds
from .stable import attractor_rounds
from .state import CensusState, Stage

__all__ = ["CensusState", "census_stages", "find_fixed_points"]


def census_stages(settings: EngineSettings) -> list[Stage]:
    """The stages :func:`find_fixed_points` runs with these settings, in order (see the module doc)."""
    stages: list[Stage] = [iterate_first_batch]
    if settings.max_starts is not None:
        stages.append(adaptive_starts)
    if settings.newton:
        stages.append(newton_roots)
    stages.append(classify_points)
    if settings.converge_attractors:
        stages.append(attractor_rounds)
    if settings.census:
        stages.append(shooting_rounds)
        if settings.census_continuation:
            stages.append(continuation_arcs)
        stages.append(report_incomplete)
    return stages


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
    state = CensusState(ensemble, s, rng, ensemble.check_points(starts, "starts"), PointTable(E, N))
    with single_threaded_blas:  # the BLAS thread policy of fpkit's threads, for every stage (see fpkit.backend)
        for stage in census_stages(s):
            stage(state)
        return _result(state)


def _result(state: CensusState) -> FixedPoints:
    """The FixedPoints of a finished census."""
    ensemble, s, table, it, counts = state.ensemble, state.settings, state.table, state.iteration, state.counts
    E, M, N = state.starts.shape
    eig = table.eigenvalues
    radius = np.abs(eig).max(axis=1) if eig.size else np.zeros(0)
    n_unstable = (np.abs(eig) > 1.0).sum(axis=1) if eig.size else np.zeros(0, dtype=np.int64)
    residual = np.full(E * M, np.nan)
    flat_att = state.attractor.reshape(-1)
    has = flat_att >= 0
    residual[has] = table.residual[flat_att[has]]
    residual[~has] = to_numpy(it.step).reshape(-1)[~has]
    error = newton_errors(ensemble, table.x, table.network)
    return FixedPoints(
        n_networks=E,
        n_starts=M,
        width=N,
        start_network=np.repeat(np.arange(E), M),
        x0=to_numpy(state.starts).reshape(E * M, N),
        limit=to_numpy(it.limit).reshape(E * M, N),
        residual=residual,
        iterations=to_numpy(it.iterations).reshape(-1),
        status=to_numpy(it.status).reshape(-1),
        period=to_numpy(it.period).reshape(-1),
        attractor=flat_att,
        fp_network=table.network,
        x=table.x,
        fp_residual=table.residual,
        fp_error=np.where(np.isnan(table.error), error, table.error),
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
        census_rounds=state.census_rounds,
        shooting_hits=table.hits,
        pairs_closed=state.pairs_closed,
        settings=s,
        convergence=None if state.convergence is None else pd.DataFrame(state.convergence),
        converged=state.converged,
    )
