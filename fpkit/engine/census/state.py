"""What the stages of a census share: :class:`CensusState`, and the tallies of the starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ...network import Ensemble
from ..iterate import STATUS, IterationResult
from ..points import PointTable
from ..settings import EngineSettings

__all__ = ["CensusState", "Stage", "StartCounts"]


class StartCounts:
    """Per network (E,), over every batch of starts: starts, converged, cycles, not converged, and the
    iterations of the converged ones."""

    def __init__(self, status, iterations):
        conv = status == STATUS["converged"]
        self.starts = np.full(status.shape[0], status.shape[1], dtype=np.int64)
        self.converged = conv.sum(1)
        self.cycle = (status == STATUS["cycle"]).sum(1)
        self.not_converged = (status == STATUS["not_converged"]).sum(1)
        self.iterations = np.where(conv, iterations, 0).sum(1)

    def add(self, rows, status, iterations) -> None:
        """Count a batch (len(rows), M') of starts of the networks ``rows``."""
        conv = status == STATUS["converged"]
        self.starts[rows] += status.shape[1]
        self.converged[rows] += conv.sum(1)
        self.cycle[rows] += (status == STATUS["cycle"]).sum(1)
        self.not_converged[rows] += (status == STATUS["not_converged"]).sum(1)
        self.iterations[rows] += np.where(conv, iterations, 0).sum(1)


@dataclass
class CensusState:
    """Everything a stage of the census reads and writes.

    A stage is a function ``stage(state) -> None``; :func:`~fpkit.engine.census.census_stages` lists
    them in order. The first (iteration) sets ``iteration``, ``attractor`` and ``counts``; every stage
    adds the points it finds to ``table`` (a :class:`~fpkit.engine.points.PointTable`, on the host),
    and the census stages fill the per-network arrays.

    Attributes
    ----------
    ensemble, settings, rng
        The networks, the resolved settings, the NumPy Generator of every random draw after the starts.
    starts : array (E, M, N)
        The first batch of starts (on the ensemble's backend).
    table : PointTable
    iteration : IterationResult
        The first batch's orbits (on the backend).
    attractor : int array (E, M)
        The table row each start of the first batch converged to (-1: none).
    counts : StartCounts
    census_rounds : int array (E,)
        Multiple-shooting rounds per network.
    pairs_closed : float array (E,)
        1.0 / 0.0 where the continuation stage looked at the network and its list is / is not closed
        under the pairing; NaN elsewhere.
    incomplete : dict or None
        Network -> why its index sum is not 1, set by the continuation stage (None: it did not run).
    steepest : float
        The largest resolved spectral radius in networks called steep.
    """

    ensemble: Ensemble
    settings: EngineSettings
    rng: np.random.Generator
    starts: Any
    table: PointTable
    iteration: IterationResult | None = None
    attractor: np.ndarray | None = None
    counts: StartCounts | None = None
    census_rounds: np.ndarray = field(default=None)
    pairs_closed: np.ndarray = field(default=None)
    incomplete: dict | None = None
    steepest: float = 0.0

    def __post_init__(self) -> None:
        E = self.ensemble.n_networks
        if self.census_rounds is None:
            self.census_rounds = np.zeros(E, dtype=np.int64)
        if self.pairs_closed is None:
            self.pairs_closed = np.full(E, np.nan)


#: The signature every stage of the census has.
Stage = Callable[[CensusState], None]
