"""Iterate x <- F(x) from every start at once, classifying each orbit.

A start whose step ``|F(x) - x|_inf`` falls below ``tol`` has *converged* (tested at every
step, so its iteration count and limit are exact); one whose orbit returns within ``tol`` of an
earlier point p steps back (2 <= p <= ``max_period``) while still moving by more than
``cycle_min_step`` per step is on a *cycle* of period p (tested every ``cycle_check_every``
steps, so its recorded step count is the step at which the cycle was seen); one still moving
after ``max_iter`` steps is *not converged*.

The hot loop allocates nothing of the block's size: F is evaluated into a ring of the last
``max(2, max_period + 1)`` states (which is also the history the cycle test needs), the
convergence test first screens with the squared 2-norm (computed beside F(x), in the thread
that computed it; the max norm is computed exactly only for the few starts that pass the
screen), and finished starts leave the packed active block of
:class:`~fpkit.engine.active.ActiveBlock`. When the block is packed, only the states a later
step still reads are copied (x_k, and the history the next cycle check compares with).

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
from ..backend import to_numpy
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
    v.check_memory(8 * (max(2, s.max_period + 1) + 8) * E * M * N,
                   f"max_period + 1 = {s.max_period + 1} copies of the starts (E*M*N = {E}*{M}*{N} floats)")
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


def _iterate(ensemble: Ensemble, res: IterationResult, tol: float, s: EngineSettings, *, taken=None) -> None:
    """Iterate from ``res.limit`` (in its dtype) at most ``res.iterations`` steps, writing each start's
    outcome into ``res``.

    ``taken`` (E, M) int, each below ``max_iter``: the steps each start has taken already (an
    earlier stage), counted in its ``iterations``; a start then has ``max_iter - taken`` steps left.
    """
    m = ensemble.array_module
    x0 = res.limit
    E, M, N = x0.shape
    tol2 = N * tol * tol  # |d|_inf < tol implies |d|_2^2 < N tol^2: the screen
    P = s.max_period
    check_every = max(s.cycle_check_every, 1)
    cap = int(res.iterations.max())  # every start's iterations is the cap when it comes in
    limit, iterations, status, period, step = res.limit, res.iterations, res.status, res.period, res.step

    block = ActiveBlock(m, E, M)
    sub = ensemble
    slots = max(2, P + 1)
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

    def write(rows, cols, nets, items, k, code, per, d):
        limit[nets, items] = ring[k % slots][rows, cols]
        iterations[nets, items] = k if taken is None else taken[nets, items] + k
        status[nets, items] = code
        period[nets, items] = per
        step[nets, items] = d

    k = 0
    for k in range(1, last + 1):
        xa, new = ring[(k - 1) % slots], ring[k % slots]
        sub.forward_into(xa, new, scratch, step=(diff, sq))
        near = block.valid & (sq < tol2)
        done_conv = None
        if bool(near.any()):
            r, c = m.nonzero(near)
            d_near = m.abs(diff[r, c]).max(axis=-1)
            ok = d_near < tol
            done_conv = m.zeros(near.shape, dtype=bool)
            done_conv[r[ok], c[ok]] = True
            if bool(ok.any()):
                rows, cols, nets, items = block.retire(done_conv)  # the positions (r, c)[ok], in the same order
                write(rows, cols, nets, items, k, STATUS["converged"], 1, d_near[ok])
        if P > 1 and k >= 2 and (k % check_every == 0 or k == next_end):
            _retire_cycles(block, ring, diff, k, slots, P, tol, s.cycle_min_step, write, m)
        if k == next_end:  # starts that have no step left end here, not converged
            spent = block.valid if ends is None else block.valid & (ends == k)
            if bool(spent.any()):
                rows, cols, nets, items = block.retire(spent)  # diff = x_k - x_(k-1): their last step
                write(rows, cols, nets, items, k, STATUS["not_converged"], 0, m.abs(diff[rows, cols]).max(axis=-1))
            if k == last:
                break
            next_end = next(upcoming)
        plan = block.compact()
        if plan is False:
            break
        if plan is not None:
            K = min((k // check_every + 1) * check_every, next_end)  # the next cycle check
            ring = _compact_ring(ring, plan, _history_needed(k, K, P), slots, m)
            scratch = m.empty_like(ring[0])
            diff = m.empty_like(ring[0])
            sq = m.empty(ring.shape[1:3], dtype=ring.dtype)
            sub = ensemble.subset(block.net, lazy=True)
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


def _retire_cycles(block, ring, diff, k, slots, P, tol, min_step, write, m):
    """Retire the starts whose x_k returns within tol of x_{k-p} (smallest p) while moving."""
    d1 = m.abs(diff).max(axis=-1)
    moving = block.valid & (d1 > min_step)
    if not bool(moving.any()):
        return
    new = ring[k % slots]
    n_dim = new.shape[-1]
    found = m.zeros(moving.shape, dtype=m.int64)  # the period, 0 = none yet
    for p in range(2, min(P, k) + 1):
        back = ring[(k - p) % slots]
        cand = moving & (found == 0)
        if not bool(cand.any()):
            break
        gap = new - back
        sq = m.einsum("emn,emn->em", gap, gap)
        cand &= sq < n_dim * tol * tol
        if bool(cand.any()):
            r, c = m.nonzero(cand)
            hit = m.abs(gap[r, c]).max(axis=-1) < tol
            found[r[hit], c[hit]] = p
    done = found > 0
    if bool(done.any()):
        per = found.copy()
        rows, cols, nets, items = block.retire(done)
        write(rows, cols, nets, items, k, STATUS["cycle"], per[rows, cols], d1[rows, cols])
