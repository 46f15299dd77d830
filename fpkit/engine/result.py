"""The census of fixed points the engine returns: :class:`~fpkit.engine.FixedPoints`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .completeness import chao1_unseen_per_network, fixed_point_index, good_turing_unseen_mass, index_sums
from .iterate import STATUS
from .settings import EngineSettings

__all__ = ["FixedPoints", "fixed_point_index"]

_STATUS_NAMES = np.array(list(STATUS))


@dataclass
class FixedPoints:
    """Result of :func:`~fpkit.engine.find_fixed_points` (NumPy arrays on the host).

    Per start of the first batch (batch axis 0 of length E*M; start ``s`` is start ``s % M`` of
    network ``s // M``): ``start_network``, ``x0``, ``limit``, ``residual``, ``iterations``,
    ``status`` (codes of ``STATUS``), ``period``, ``attractor`` (row of the
    fixed-point table the start converged to, -1 for cycles and non-converged starts).

    Per network (length E), over *all* starts including the census's adaptive ones:
    ``starts_used``, ``converged_count``, ``cycle_count``, ``not_converged_count``,
    ``iterations_sum`` (of converged starts), ``census_rounds`` (rounds of the multiple-shooting
    search the network needed; 0 when its index sum was 1 at once or the census was off),
    ``pairs_closed`` (1.0 where the continuation stage followed the arc of every fixed point
    found and each one ended on another found point or, exactly once, on the main branch: the
    list is closed under the pairing of :mod:`~fpkit.engine.continuation`; 0.0 where it did not
    close; NaN where the stage did not look at the network).

    Per distinct fixed point (batch axis 0 of length P): ``fp_network``, ``x``, ``fp_residual``
    (``|F(x) - x|_inf``), ``fp_error`` (the Newton estimate of the distance to the exact fixed
    point; what certifies steep points, whose residual rounding keeps large; for points the
    continuation stage certified in the layer variables, the estimate computed there),
    ``eigenvalues`` (P, N) complex, ``spectral_radius``, ``n_unstable`` (eigenvalues of modulus
    > 1), ``stable`` (spectral radius < 1), ``index`` (sign det(I - J)), ``basin_count`` (starts,
    of all batches, that converged to it), ``found_by`` ("iteration", "newton", "shooting" or
    "continuation"), ``shooting_hits`` (uniform multiple-shooting starts of the census that reached it).

    ``settings``: the :class:`~fpkit.engine.EngineSettings` of the run (typed: read ``settings.merge_tol``).

    Of the whole ensemble: ``convergence``, where the attractor stage ran
    (:mod:`~fpkit.engine.census.stable`), one row per round (the first: after iteration): ``networks``
    (searched in the round), ``newton_starts`` (Newton starts per network so far, mean over the
    ensemble), ``mean_Q`` / ``se_Q`` and ``P_multi`` / ``se_P_multi`` (the stable fixed points found
    so far per network: their mean, and the fraction of networks with two or more), ``moved_Q`` and
    ``moved_P_multi`` (how far the round moved them, in standard errors); ``converged``: whether the
    last round moved both by less than ``settings.convergence_fraction`` (False: it stopped at the
    cap of ``settings.attractor_rounds``; None where the stage did not run).
    """

    n_networks: int
    n_starts: int
    width: int
    start_network: np.ndarray
    x0: np.ndarray
    limit: np.ndarray
    residual: np.ndarray
    iterations: np.ndarray
    status: np.ndarray
    period: np.ndarray
    attractor: np.ndarray
    fp_network: np.ndarray
    x: np.ndarray
    fp_residual: np.ndarray
    eigenvalues: np.ndarray
    spectral_radius: np.ndarray
    n_unstable: np.ndarray
    stable: np.ndarray
    basin_count: np.ndarray
    found_by: np.ndarray
    starts_used: np.ndarray = None
    converged_count: np.ndarray = None
    cycle_count: np.ndarray = None
    not_converged_count: np.ndarray = None
    iterations_sum: np.ndarray = None
    census_rounds: np.ndarray = None
    fp_error: np.ndarray = None
    shooting_hits: np.ndarray = None
    pairs_closed: np.ndarray = None
    settings: EngineSettings = field(default_factory=EngineSettings)
    convergence: pd.DataFrame | None = None
    converged: bool | None = None

    def __post_init__(self) -> None:
        E, M = self.n_networks, self.n_starts
        st = self.status.reshape(E, M)
        conv = st == STATUS["converged"]
        if self.starts_used is None:
            self.starts_used = np.full(E, M, dtype=np.int64)
        if self.converged_count is None:
            self.converged_count = conv.sum(1)
        if self.cycle_count is None:
            self.cycle_count = (st == STATUS["cycle"]).sum(1)
        if self.not_converged_count is None:
            self.not_converged_count = (st == STATUS["not_converged"]).sum(1)
        if self.iterations_sum is None:
            self.iterations_sum = np.where(conv, self.iterations.reshape(E, M), 0).sum(1)
        if self.census_rounds is None:
            self.census_rounds = np.zeros(E, dtype=np.int64)
        if self.fp_error is None:
            self.fp_error = np.full(self.fp_network.size, np.nan)
        if self.shooting_hits is None:
            self.shooting_hits = np.zeros(self.fp_network.size, dtype=np.int64)
        if self.pairs_closed is None:
            self.pairs_closed = np.full(E, np.nan)

    # -------------------------------------------------------------- derived per point
    @property
    def index(self) -> np.ndarray:
        """sign det(I - J) of every fixed point, shape (P,)."""
        return fixed_point_index(self.eigenvalues) if self.eigenvalues.size else np.zeros(0, dtype=int)

    # -------------------------------------------------------------- census
    def index_sum(self) -> np.ndarray:
        """Per network, the sum of the indices of the fixed points found; 1 for a complete list."""
        return index_sums(self.index, self.fp_network, self.n_networks)

    def unseen_mass(self) -> np.ndarray:
        """Per network, the Good-Turing estimate of the basin mass that no start has reached.

        The share of all starts whose attractor was reached by exactly one start (Good 1953):
        an estimate of the probability that a new uniform start lands in the basin of an
        attractor not seen yet (cycles and non-converged starts are observed outcomes, not
        unseen ones).
        """
        return good_turing_unseen_mass(self.basin_count, self.fp_network, self.starts_used, counted=self.stable)

    def unseen_fixed_points(self) -> np.ndarray:
        """Per network, the Chao1 estimate of the fixed points the census's uniform
        multiple-shooting starts have not reached (0 where the census did not run); a lower-bound
        estimator, see :func:`~fpkit.engine.chao1_unseen`."""
        return chao1_unseen_per_network(self.shooting_hits, self.fp_network, self.n_networks)

    # -------------------------------------------------------------- summaries
    def per_network(self) -> pd.DataFrame:
        """One row per network.

        Columns: ``Q`` (attractors: the stable fixed points found, by any stage; a stable fixed
        point is an attractor whether or not an iteration start reached it), ``Q_iteration`` (those
        an iteration start converged to), ``stable_fixed_points`` (the same as ``Q``),
        ``unstable_fixed_points``, ``fixed_points`` (all found), ``index_sum`` (1 when the list
        of fixed points is complete), ``index_complete``, ``completed_by`` (where the sum is 1,
        the stage that found the network's last fixed point: "iteration", "newton", "shooting"
        or "continuation"; "" where the sum is not 1), ``unseen_mass`` (Good-Turing estimate
        of the basin mass of attractors no start reached), ``unseen_fixed_points`` (Chao1
        estimate of the fixed points the census's random shooting starts did not reach),
        ``n_starts_used``, ``cycle_starts``, ``not_converged_starts``, ``converged_starts``
        (over all starts), ``cycle_periods`` (of the first batch), ``mean_iterations`` (of
        converged starts), ``basin_entropy``.
        """
        E = self.n_networks
        reached = self.stable & (self.basin_count > 0)
        q = np.bincount(self.fp_network[reached], minlength=E)
        n_all = np.bincount(self.fp_network, minlength=E)
        n_stable_all = np.bincount(self.fp_network[self.stable], minlength=E)
        st = self.status.reshape(E, self.n_starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_it = np.where(self.converged_count > 0,
                               self.iterations_sum / np.maximum(self.converged_count, 1), np.nan)
        per = self.period.reshape(E, self.n_starts)
        periods = [sorted(set(per[e][st[e] == STATUS["cycle"]].tolist())) for e in range(E)]
        isum = self.index_sum()
        # table rows are in the order the stages found them: each network's last row is its last find
        last = np.full(E, -1, dtype=np.int64)
        np.maximum.at(last, self.fp_network, np.arange(self.fp_network.size))
        found_by = np.append(np.asarray(self.found_by, dtype=object), "")  # row -1: no point at all
        completed_by = np.where((isum == 1) & (last >= 0), found_by[last], "")
        return pd.DataFrame(
            {
                "network": np.arange(E),
                "Q": n_stable_all,
                "Q_iteration": q,
                "stable_fixed_points": n_stable_all,
                "unstable_fixed_points": n_all - n_stable_all,
                "fixed_points": n_all,
                "index_sum": isum,
                "index_complete": isum == 1,
                "completed_by": completed_by.astype(str),
                "pairs_closed": self.pairs_closed,  # 1.0 closed, 0.0 not, NaN not looked at
                "unseen_mass": self.unseen_mass(),
                "unseen_fixed_points": self.unseen_fixed_points(),
                "n_starts_used": self.starts_used,
                "census_rounds": self.census_rounds,
                "cycle_starts": self.cycle_count,
                "not_converged_starts": self.not_converged_count,
                "converged_starts": self.converged_count,
                "cycle_periods": [",".join(map(str, p)) for p in periods],
                "mean_iterations": mean_it,
                "basin_entropy": self._basin_entropy(),
            }
        )

    def _basin_entropy(self) -> np.ndarray:
        out = np.zeros(self.n_networks)
        for e in range(self.n_networks):
            counts = self.basin_count[(self.fp_network == e) & (self.basin_count > 0)]
            if counts.sum() > 0:
                p = counts / counts.sum()
                out[e] = float(-(p * np.log(p)).sum())
        return out

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per distinct fixed point."""
        return pd.DataFrame(
            {
                "network": self.fp_network,
                "residual": self.fp_residual,
                "error": self.fp_error,
                "spectral_radius": self.spectral_radius,
                "n_unstable": self.n_unstable,
                "stable": self.stable,
                "index": self.index,
                "basin_count": self.basin_count,
                "basin_fraction": self.basin_count / np.maximum(self.starts_used[self.fp_network], 1),
                "found_by": self.found_by,
            }
        )

    def starts_frame(self) -> pd.DataFrame:
        """Tidy table, one row per start of the first batch."""
        return pd.DataFrame(
            {
                "network": self.start_network,
                "start": np.arange(self.start_network.size) % self.n_starts,
                "status": _STATUS_NAMES[self.status],
                "period": self.period,
                "iterations": self.iterations,
                "residual": self.residual,
                "attractor": self.attractor,
            }
        )

    def labels(self) -> np.ndarray:
        """Per start of the first batch, the attractor index *within its network* (0, 1, ... by
        basin size), -2 for cycles and -1 for non-converged starts; shape (E, M)."""
        E, M = self.n_networks, self.n_starts
        out = np.full(E * M, -1, dtype=np.int64)
        out[self.status == STATUS["cycle"]] = -2
        local = np.zeros(self.fp_network.size, dtype=np.int64)
        for e in range(E):
            rows = np.flatnonzero(self.fp_network == e)
            order = rows[np.argsort(-self.basin_count[rows], kind="stable")]
            local[order] = np.arange(order.size)
        sel = self.attractor >= 0
        out[sel] = local[self.attractor[sel]]
        return out.reshape(E, M)
