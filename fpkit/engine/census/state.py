"""What the stages of a census share: :class:`CensusState`, and the tallies of the starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ...network import Ensemble
from ..iterate import STATUS, IterationResult
from ..points import PointTable
from ..settings import EngineSettings

__all__ = ["CensusState", "RandomStreams", "Stage", "StartCounts"]


class RandomStreams:
    """The random draws of the census stages that draw for some networks only (adaptive starts, multiple
    shooting), in streams that make a network's draws depend on nothing but (stream, round, network).

    Drawn from one generator, a network's random starts would depend on which other networks drew before
    it, so a decision taken differently in one network (another BLAS kernel's rounding suffices) would
    change every later network's starts and counts. Here networks are taken in fixed blocks of
    ``BLOCK``; each (stream, round, block) has its own generator (a NumPy ``SeedSequence`` child of
    entropy drawn once from a child spawned from the census's generator, whose own stream is left where
    it was), which draws for the whole block.
    """

    BLOCK = 16
    _KEYS = {"adaptive starts": 1, "shooting states": 2, "shooting picks": 3, "shooting redraws": 4,
             "attractor starts": 5}

    def __init__(self, rng: np.random.Generator):
        try:  # a child of rng's seed sequence: rng's own stream (the Newton starts) stays where it is
            source = rng.spawn(1)[0]
        except (TypeError, ValueError, AttributeError):  # a generator without a seed sequence
            source = rng
        self._entropy = [int(a) for a in source.integers(0, 2**63, size=2)]

    def uniform(self, stream: str, rnd: int, networks, shape) -> np.ndarray:
        """Uniform draws in [0, 1), shape (len(networks),) + shape: row i is network ``networks[i]``'s draw
        of round ``rnd`` of ``stream``."""
        networks = np.asarray(networks, dtype=np.int64)
        shape = tuple(int(n) for n in shape)
        out = np.empty((networks.size,) + shape)
        blocks = networks // self.BLOCK
        for block in np.unique(blocks):  # a loop over blocks of networks (not over networks or points)
            key = (self._KEYS[stream], int(rnd), int(block))
            draws = np.random.default_rng(np.random.SeedSequence(self._entropy, spawn_key=key)).random(
                (self.BLOCK,) + shape)
            mine = blocks == block
            out[mine] = draws[networks[mine] % self.BLOCK]
        return out


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
        The networks, the resolved settings, the NumPy Generator of the draws for every network at once
        (the Newton starts) after the first batch.
    streams : RandomStreams
        The draws for some networks only (adaptive starts, multiple shooting).
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
    convergence : list of dict or None
        Per round of the attractor stage (:mod:`~fpkit.engine.census.stable`), the ensemble's attractor
        statistics and how far they moved (None: the stage did not run); ``converged`` whether the
        last round met the rule.
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
    streams: RandomStreams | None = None
    convergence: list | None = None
    converged: bool | None = None

    def __post_init__(self) -> None:
        E = self.ensemble.n_networks
        if self.streams is None:
            self.streams = RandomStreams(self.rng)
        if self.census_rounds is None:
            self.census_rounds = np.zeros(E, dtype=np.int64)
        if self.pairs_closed is None:
            self.pairs_closed = np.full(E, np.nan)


#: The signature every stage of the census has.
Stage = Callable[[CensusState], None]
