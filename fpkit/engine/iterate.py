"""Iterate x <- F(x) from every start at once, classifying each orbit.

A start whose step ``|F(x) - x|_inf`` falls below ``tol`` has *converged* (tested at every
step, so its iteration count and limit are exact); one whose orbit returns within ``tol`` of an
earlier point p steps back (2 <= p <= ``max_period``) while still moving by more than
``cycle_min_step`` per step is on a *cycle* of period p (tested every ``cycle_check_every``
steps, so its recorded step count is the step at which the cycle was seen); one still moving
after ``max_iter`` steps is *not converged*.

The hot loop allocates little of the block's size: F is evaluated into a ring of the last
``max(2, max_period + 1, sync_every)`` states (the history the cycle test needs, and the states
of the steps since the host last looked), the convergence test is the squared 2-norm (computed
beside F(x), in the thread that computed it) and the max norm, and finished starts leave the
packed active block of :class:`~fpkit.engine.active.ActiveBlock`. Every decision is taken on the
device: a start that finishes is marked there with its step, status, period and last step size, and
its state stays in the ring; every ``sync_every`` steps (:class:`~fpkit.engine.EngineSettings`) the
host reads the block's mask once (on a GPU, the loop's only wait for the device), writes the
finished starts out and packs the block. When the block is packed, only the states a later step
still reads are copied (x_k, and the history the next cycle check compares with).

With ``precision="mixed"`` (:class:`~fpkit.engine.EngineSettings`) the same loop first runs in
float32 with ``max(float32_tol, tol)`` for both tests, at most ``float32_steps`` steps (and at
most ``max_iter - 1``), and hands every start on to the float64 loop, which goes on from where
its float32 orbit stopped with the steps it has left of ``max_iter`` (at least one): every
outcome is decided in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validate as v
from ..backend import single_threaded_blas, to_numpy
from ..network import Ensemble, check_ensemble
from .active import ActiveBlock
from .settings import EngineSettings, resolve_settings

__all__ = ["STATUS", "IterationResult", "iterate_map", "run_iteration"]

#: Status codes of a start's orbit.
STATUS = {"converged": 0, "cycle": 1, "not_converged": 2}


@dataclass
class IterationResult:
    """Per-start outcome of :func:`~fpkit.engine.iterate_map`; arrays of shape (E, M[, N]) on the backend.

    ``status`` holds ``STATUS`` codes; ``period`` is 1 for converged starts, p for cycles,
    0 otherwise; ``step`` is the last ``|F(x) - x|_inf``; ``iterations`` the step at which the
    start finished (``max_iter`` if it did not).
    """

    limit: Any
    iterations: Any
    status: Any
    period: Any
    step: Any


def iterate_map(ensemble: Ensemble, starts, settings: EngineSettings | None = None, **options: Any) -> IterationResult:
    """Iterate ``x <- F(x)`` from every start, classifying each orbit (see the module doc).

    Parameters
    ----------
    ensemble : Ensemble
    starts : array (E, M, N)
    settings : EngineSettings, optional
        Uses ``tol``, ``max_iter``, ``max_period``, ``cycle_min_step``, ``cycle_check_every``,
        ``precision``, ``float32_tol``, ``float32_steps``.
    **options
        Overrides of those settings (e.g. ``max_iter=100``).

    Returns
    -------
    IterationResult
    """
    check_ensemble(ensemble)
    s = resolve_settings(settings, options)
    return run_iteration(ensemble, ensemble.check_points(starts, "starts"), s)


def run_iteration(ensemble: Ensemble, x0, s: EngineSettings) -> IterationResult:
    """:func:`iterate_map` on checked starts x0 (E, M, N) (float64 on the ensemble's backend) with resolved
    settings (what the census calls)."""
    m = ensemble.array_module
    E, M, N = x0.shape
    slots = max(2, s.max_period + 1, s.sync_every)
    v.check_memory(8 * (slots + 8) * E * M * N,
                   f"max(max_period + 1, sync_every) = {slots} copies of the starts (E*M*N = {E}*{M}*{N} floats)")
    with single_threaded_blas:  # the BLAS thread policy of fpkit's threads, set once (see fpkit.backend)
        return _run_iteration(ensemble, x0, s)


def _run_iteration(ensemble: Ensemble, x0, s: EngineSettings) -> IterationResult:
    m = ensemble.array_module
    result = _unfinished(m.array(x0, copy=True), s.max_iter, m)
    if s.precision == "mixed" and s.max_iter > 1 and _float32_safe(ensemble, x0, m):
        # float32 until near the limit (or a cycle, or float32_steps), then float64 from there;
        # every start keeps at least one float64 step, which decides its outcome
        first = _unfinished(x0.astype(m.float32), min(s.float32_steps, s.max_iter - 1), m)
        _iterate(ensemble, first, max(s.float32_tol, s.tol), s)
        result.limit[...] = first.limit
        _iterate(ensemble, result, s.tol, s, taken=first.iterations)
    else:
        _iterate(ensemble, result, s.tol, s)
    return result


#: The engine iterates in float32 (``precision="mixed"``) only where no pre-activation can exceed this.
FLOAT32_PREACTIVATION_LIMIT = 1e30


def _float32_safe(ensemble: Ensemble, x0, m) -> bool:
    """Whether every state and pre-activation of the iteration fits float32 far from overflow: the
    starts, and the pre-activations of inputs up to the starts' size (step 1) or the activation's
    range, |x| <= 1 (every later step)."""
    x_max = float(m.max(m.abs(x0)))
    return x_max <= FLOAT32_PREACTIVATION_LIMIT and \
        ensemble.preactivation_bound(max(x_max, 1.0)) <= FLOAT32_PREACTIVATION_LIMIT


def _unfinished(x0, max_iter: int, m) -> IterationResult:
    """Results saying that every start is still at ``x0``, not converged after ``max_iter`` steps."""
    E, M = x0.shape[:2]
    return IterationResult(limit=x0, iterations=m.full((E, M), max_iter, dtype=m.int64),
                           status=m.full((E, M), STATUS["not_converged"], dtype=m.int64),
                           period=m.zeros((E, M), dtype=m.int64), step=m.full((E, M), m.inf, dtype=m.float64))


class _Finished:
    """How the items of the block finished, kept on the device in block coordinates until the host
    next reads the block's mask: the step, status code, period and last step size of each (the
    state at that step stays in the ring, which holds the steps since the last sync). The code and
    period start as a convergence's, which most items end with."""

    def __init__(self, m, shape):
        self.m = m
        self.k = m.zeros(shape, dtype=m.int64)
        self.code = m.full(shape, STATUS["converged"], dtype=m.int64)
        self.period = m.ones(shape, dtype=m.int64)
        self.d = m.zeros(shape, dtype=m.float64)

    def mark(self, block: ActiveBlock, done, k: int, d, code: int | None = None, period=None) -> None:
        """The items where ``done`` (unfinished items only) finished at step k with last step size
        d, converged unless ``code`` and ``period`` say otherwise (device only); they leave the
        block."""
        m = self.m
        m.copyto(self.k, k, where=done)
        m.copyto(self.d, d, where=done)
        if code is not None:
            m.copyto(self.code, code, where=done)
            m.copyto(self.period, period, where=done)
        block.finish(done)

    def write(self, res: IterationResult, ring, slots: int, gone, taken) -> None:
        """Write the items ``gone`` (host rows, cols, nets, items of :meth:`ActiveBlock.sync`) out to
        the full batch ``res``."""
        rows, cols, nets, items = gone
        if rows.size == 0:
            return
        m = self.m
        r, c, e, i = (m.asarray(a) for a in (rows, cols, nets, items))
        k = self.k[r, c]
        res.limit[e, i] = ring[k % slots, r, c]
        res.iterations[e, i] = k if taken is None else taken[e, i] + k
        res.status[e, i] = self.code[r, c]
        res.period[e, i] = self.period[r, c]
        res.step[e, i] = self.d[r, c]


def _iterate(ensemble: Ensemble, res: IterationResult, tol: float, s: EngineSettings, *, taken=None) -> None:
    """Iterate from ``res.limit`` (in its dtype) at most ``res.iterations`` steps, writing each start's
    outcome into ``res``.

    ``taken`` (E, M) int, each below ``max_iter``: the steps each start has taken already (an
    earlier stage), counted in its ``iterations``; a start then has ``max_iter - taken`` steps left.

    Every step decides on the device which starts finish (their outcome and step recorded there,
    their state left in the ring); every ``sync_every`` steps one copy of the block's mask tells the
    host which finished, their outcomes are written out and the block is packed.
    """
    m = ensemble.array_module
    x0 = res.limit
    E, M, N = x0.shape
    tol2 = N * tol * tol  # |d|_inf < tol implies |d|_2^2 < N tol^2: the screen
    P = s.max_period
    check_every = max(s.cycle_check_every, 1)
    every = s.sync_every
    cap = int(res.iterations.max())  # every start's iterations is the cap when it comes in

    block = ActiveBlock(m, E, M)
    sub = ensemble
    slots = max(2, P + 1, every)  # the last states: the cycle test's history and the steps since the last sync
    ring = m.empty((slots, E, M, N), dtype=x0.dtype)  # ring[k % slots] = x_k
    ring[0] = x0
    # the step at which each start of the block runs out of steps (None: every start at cap)
    ends = None if taken is None else cap - taken
    upcoming = iter([cap] if ends is None else sorted(int(e) for e in np.unique(to_numpy(ends))))
    next_end = next(upcoming)
    last = cap if ends is None else int(ends.max())
    scratch = m.empty_like(ring[0])
    diff = m.empty_like(ring[0])
    sq = m.empty(ring.shape[1:3], dtype=ring.dtype)
    fin = _Finished(m, (E, M))

    for k in range(1, last + 1):
        xa, new = ring[(k - 1) % slots], ring[k % slots]
        sub.forward_into(xa, new, scratch, step=(diff, sq))
        d_max = m.abs(diff, out=scratch).max(axis=-1)  # |F(x) - x|_inf (scratch is free after F)
        fin.mark(block, block.valid & (sq < tol2) & (d_max < tol), k, d_max)
        if P > 1 and k >= 2 and (k % check_every == 0 or k == next_end):
            _mark_cycles(block, fin, ring, d_max, k, slots, P, tol, s.cycle_min_step, m)
        if k == next_end:  # starts that have no step left end here, not converged (diff: their last step)
            fin.mark(block, block.valid if ends is None else block.valid & (ends == k), k, d_max,
                     STATUS["not_converged"], 0)
            if k < last:
                next_end = next(upcoming)
        if k % every and k < last:
            continue
        fin.write(res, ring, slots, block.sync(), taken)
        plan = block.pack()
        if plan is False or k == last:
            break
        if plan is not None:
            K = min((k // check_every + 1) * check_every, next_end)  # the next cycle check
            ring = _compact_ring(ring, plan, _history_needed(k, K, P), slots, m)
            scratch = m.empty_like(ring[0])
            diff = m.empty_like(ring[0])
            sq = m.empty(ring.shape[1:3], dtype=ring.dtype)
            fin = _Finished(m, block.shape)
            sub = ensemble.subset(block.networks, lazy=True)  # a host index: checked without a sync
            if ends is not None:
                ends = plan.per_item(ends)


def _history_needed(k: int, K: int, P: int) -> range:
    """The steps j <= k whose states x_j are read after step k, when the next cycle check is at K.

    Step k + 1 reads x_k; the check at K reads x_{K-p} for 2 <= p <= P (none when P = 1); no
    other step reads the history.
    """
    if P <= 1:
        return range(k, k + 1)
    return range(max(min(k, K - P), 0), k + 1)


def _compact_ring(ring, plan, steps, slots, m):
    """The ring packed by ``plan``, copying only the states of ``steps`` (the others are never read)."""
    out = m.empty((slots,) + tuple(plan.order.shape) + ring.shape[3:], dtype=ring.dtype)
    for j in steps:
        plan.per_item(ring[j % slots], axis=1, out=out[j % slots])
    return out


def _mark_cycles(block, fin, ring, d1, k, slots, P, tol, min_step, m):
    """Mark (on the device) the starts whose x_k returns within tol of x_{k-p} (smallest p) while
    moving by more than ``min_step`` per step (``d1``, the last step's max norm)."""
    moving = block.valid & (d1 > min_step)
    new = ring[k % slots]
    n_dim = new.shape[-1]
    found = m.zeros(moving.shape, dtype=m.int64)  # the period, 0 = none yet
    gap = m.empty_like(new)
    for p in range(2, min(P, k) + 1):
        m.subtract(new, ring[(k - p) % slots], out=gap)
        cand = moving & (found == 0) & (m.einsum("emn,emn->em", gap, gap) < n_dim * tol * tol)
        m.copyto(found, p, where=cand & (m.abs(gap, out=gap).max(axis=-1) < tol))
    fin.mark(block, found > 0, k, d1, STATUS["cycle"], found)
