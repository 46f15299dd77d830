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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _validate as v
from ..network import Ensemble
from .active import ActiveBlock
from .settings import EngineSettings, resolve_settings

__all__ = ["STATUS", "IterationResult", "iterate_map"]

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
        Uses ``tol``, ``max_iter``, ``max_period``, ``cycle_min_step``, ``cycle_check_every``.
    **options
        Overrides of those settings (e.g. ``max_iter=100``).

    Returns
    -------
    IterationResult
    """
    v.check_ensemble(ensemble)
    s = resolve_settings(settings, options)
    x0 = ensemble.check_points(starts, "starts")
    m = ensemble.array_module
    E, M, N = x0.shape
    v.check_memory(8 * (max(2, s.max_period + 1) + 8) * E * M * N,
                   f"max_period + 1 = {s.max_period + 1} copies of the starts (E*M*N = {E}*{M}*{N} floats)")
    tol2 = N * s.tol * s.tol  # |d|_inf < tol implies |d|_2^2 < N tol^2: the screen
    P = s.max_period
    check_every = max(s.cycle_check_every, 1)

    limit = m.array(x0, copy=True)
    iterations = m.full((E, M), s.max_iter, dtype=m.int64)
    status = m.full((E, M), STATUS["not_converged"], dtype=m.int64)
    period = m.zeros((E, M), dtype=m.int64)
    step = m.full((E, M), m.inf, dtype=m.float64)

    block = ActiveBlock(m, E, M)
    sub = ensemble
    slots = max(2, P + 1)
    ring = m.empty((slots, E, M, N))  # ring[k % slots] = x_k
    ring[0] = x0
    scratch = m.empty((E, M, N))
    diff = m.empty((E, M, N))
    sq = m.empty((E, M))

    def write(rows, cols, nets, items, k, code, per, d):
        limit[nets, items] = ring[k % slots][rows, cols]
        iterations[nets, items] = k
        status[nets, items] = code
        period[nets, items] = per
        step[nets, items] = d

    k = 0
    for k in range(1, s.max_iter + 1):
        xa, new = ring[(k - 1) % slots], ring[k % slots]
        sub.forward_into(xa, new, scratch, step=(diff, sq))
        near = block.valid & (sq < tol2)
        done_conv = None
        if bool(near.any()):
            r, c = m.nonzero(near)
            d_near = m.abs(diff[r, c]).max(axis=-1)
            ok = d_near < s.tol
            done_conv = m.zeros(near.shape, dtype=bool)
            done_conv[r[ok], c[ok]] = True
            if bool(ok.any()):
                rows, cols, nets, items = block.retire(done_conv)  # the positions (r, c)[ok], in the same order
                write(rows, cols, nets, items, k, STATUS["converged"], 1, d_near[ok])
        if P > 1 and k >= 2 and (k % check_every == 0 or k == s.max_iter):
            _retire_cycles(block, ring, diff, k, slots, P, s, write, m)
        if k == s.max_iter:
            break
        plan = block.compact()
        if plan is False:
            break
        if plan is not None:
            ring = _compact_ring(ring, plan, _history_needed(k, s.max_iter, P, check_every), slots, m)
            scratch = m.empty_like(ring[0])
            diff = m.empty_like(ring[0])
            sq = m.empty(ring.shape[1:3])
            sub = ensemble.subset(block.net)
    if k and bool(block.valid.any()):
        rows, cols, nets, items = block.remaining()
        limit[nets, items] = ring[k % slots][rows, cols]
        d = ring[k % slots][rows, cols] - ring[(k - 1) % slots][rows, cols]
        step[nets, items] = m.abs(d).max(axis=-1)
    return IterationResult(limit, iterations, status, period, step)


def _history_needed(k: int, max_iter: int, P: int, check_every: int) -> range:
    """The steps j <= k whose states x_j are read after step k.

    Step k + 1 reads x_k. The next cycle check (at K, the next multiple of ``check_every`` or
    ``max_iter``) reads x_{K-p} for 2 <= p <= P, and the end of the loop at ``max_iter`` reads
    x_{max_iter - 1}; no other step reads the history.
    """
    K = min((k // check_every + 1) * check_every, max_iter) if P > 1 else max_iter
    return range(max(min(k, K - max(P, 1)), 0), k + 1)


def _compact_ring(ring, plan, steps, slots, m):
    """The ring packed by ``plan``, copying only the states of ``steps`` (the others are never read)."""
    out = m.empty((slots,) + tuple(plan.order.shape) + ring.shape[3:], dtype=ring.dtype)
    for j in steps:
        plan.per_item(ring[j % slots], axis=1, out=out[j % slots])
    return out


def _retire_cycles(block, ring, diff, k, slots, P, s, write, m):
    """Retire the starts whose x_k returns within tol of x_{k-p} (smallest p) while moving."""
    d1 = m.abs(diff).max(axis=-1)
    moving = block.valid & (d1 > s.cycle_min_step)
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
        cand &= sq < n_dim * s.tol * s.tol
        if bool(cand.any()):
            r, c = m.nonzero(cand)
            hit = m.abs(gap[r, c]).max(axis=-1) < s.tol
            found[r[hit], c[hit]] = p
    done = found > 0
    if bool(done.any()):
        per = found.copy()
        rows, cols, nets, items = block.retire(done)
        write(rows, cols, nets, items, k, STATUS["cycle"], per[rows, cols], d1[rows, cols])
