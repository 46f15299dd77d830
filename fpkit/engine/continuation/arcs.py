"""Following arcs of the homotopy: pseudo-arclength predictor-corrector steps with step control,
the main branch's start, and the meeting of two arcs on one curve.

Step control (Allgower & Georg 1990, sec. 6.1): every step measures the first Newton correction
(distance to the curve), the contraction of the corrector, and the angle between the tangents at
both ends; a step whose measures exceed twice their nominal values, or whose corrector does not
converge, is refused and retried shorter, so that the corrector does not land on a neighbouring
curve (path jumping). The corrector stops when the residual and the last correction are below
the path tolerance, or, from its third iteration on, when its corrections contract by a factor
theta <= 0.1 and the contraction-mapping bound ``theta / (1 - theta) |dy|`` on the distance left to
the curve is below it (Deuflhard 2004, ch. 2): one solve fewer per step in the common case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...backend import to_numpy
from ...network import Ensemble
from .system import LayerArcs, bordered_solve, refine, unit_rows

__all__ = ["CONTINUATION_STATUS", "MET", "contraction_log_t", "follow", "main_branch_start"]

#: Outcome of a followed arc: ``crossed`` (it reached t = 1 at a fixed point, in ``x``);
#: ``main_branch`` (an arc from a known point came down to t_0, where only the main branch
#: lives: that point is the main branch's first crossing; for arc 0, the main branch itself,
#: it means the arc jumped to another curve); ``step_cap`` (``max_steps`` attempts
#: ran out); ``stalled`` (the step length fell below its minimum: a near-singular point of the
#: curve); ``refine_failed`` (a crossing of t = 1 whose Newton refinement did not converge);
#: ``no_start`` (padding, a known point that is not a regular root of the layer equations, or a
#: main branch not asked for); ``left`` (the arc climbed beyond t = 2 without crossing t = 1).
CONTINUATION_STATUS = {"crossed": 0, "main_branch": 1, "step_cap": 2, "stalled": 3, "refine_failed": 4,
                       "no_start": 5, "left": 6}
#: :func:`follow`'s status of an arc that met another (:func:`~fpkit.engine.continuation_search` turns it
#: into where the other arc started).
MET = -1

# nominal values of the step control (Allgower & Georg 1990, sec. 6.1), in the unknowns (v, log t)
_KAPPA = 0.3  # contraction |dy_2| / |dy_1| of the corrector
_DELTA = 0.05  # first corrector step |dy_1|
_ALPHA = 0.2  # angle (radians) between the tangents at the ends of a step
_CORRECTOR_STEPS = 6
_GROWTH = 2.0  # largest factor by which an accepted step lengthens the next
_PATH_TOL = 1e-9  # a corrected point is on the curve when |G|_inf and |dy|_inf are below this (+ rounding floor)
_LOG_T_MAX = float(np.log(2.0))  # arcs that climb past t = 2 are abandoned
_FLIP_STEP = 1e-8  # a step that flips the curve's orientation is refused unless shorter than this
_THETA = 0.1  # a corrector whose corrections contract by this much may stop on its error estimate
_MEET_TOL = 1e-6  # two arcs have met when the corrector from one lands this close (max norm) to the other


def contraction_log_t(ensemble: Ensemble, m):
    """log t_0 per network (E,): at t <= t_0 = (1/2) prod_l (sup|phi'| ||W_l||_2)^(-1/L) the map
    F_t has Lipschitz constant <= 1/2 (at most e^-1: the main branch starts no later)."""
    E, L, N = ensemble.shape
    norms = to_numpy(m.linalg.svd(ensemble.weights, compute_uv=False)[..., 0])  # (E, L)
    with np.errstate(divide="ignore"):
        logs = np.log(norms * ensemble.activation.sup_derivative)
    log_t0 = np.log(0.5) - logs.sum(axis=1) / L
    return np.minimum(np.where(np.isfinite(log_t0), log_t0, -1.0), -1.0)


def main_branch_start(arcs: LayerArcs, log_t0):
    """The unique solution v (P, L, N) at t_0 (P,): iterate the contraction F_{t_0} (Lipschitz
    <= 1/2, so 80 rounds reach rounding), then Newton. Returns (v, ``|G|``, ok) as :func:`refine`."""
    m = arcs.m
    P, L, N = arcs.P, arcs.L, arcs.N
    t0 = m.exp(m.asarray(log_t0))
    z = m.empty((P, L, N))
    h = arcs.phi.value(arcs.b[:, L - 1], m)
    for _ in range(80):
        for layer in range(L):
            z[:, layer] = t0[:, None] * m.matmul(arcs.W[:, layer], h[..., None])[..., 0] + arcs.b[:, layer]
            h = arcs.phi.value(z[:, layer], m)
    return refine(arcs, m.arcsinh(z), m.asarray(log_t0))


@dataclass
class _Step:
    """One predictor-corrector attempt of the live arcs."""

    y: Any  # the corrected points (P', D)
    tau: Any  # the unit tangents there (P', D)
    sign: Any  # sign of det [G_y; tau^T] there (P',)
    first: Any  # size of the first correction (P',)
    second: Any  # size of the second correction (P',)
    converged: Any  # (P',) bool


def _predict_correct(sub: LayerArcs, yi, ti, hi, live) -> _Step:
    """Predict along the tangents ti by hi, correct back onto the curves (Newton on the hyperplanes
    normal to ti through the predicted points). The corrector stops when every ``live`` arc (P',)
    bool has converged (one sync per corrector iteration from the second on, none after the last)."""
    m = sub.m
    Pi, L, N = yi.shape[0], sub.L, sub.N
    y_pred = yi + hi[:, None] * ti
    yc = y_pred
    first = m.zeros(Pi)
    second = m.zeros(Pi)
    c_u, c_t = ti[:, :-1].reshape(Pi, L, N), ti[:, -1]
    rhs = m.zeros((Pi, L, N, 2))
    rhs_b = m.zeros((Pi, 2))
    rhs_b[:, 1] = 1.0
    last_step = m.full(Pi, m.inf)  # the previous correction's size (max norm)
    for k in range(_CORRECTOR_STEPS):
        # one elimination gives the Newton correction and the tangent at the current point
        G, A, g, floor = sub.system(yc, with_floor=True)
        rhs[..., 0] = -G
        rhs_b[:, 0] = -((yc - y_pred) * ti).sum(axis=1)
        du, dt, sign = bordered_solve(A, g, c_u, c_t, rhs, rhs_b, m, want_sign=True)
        dy = m.concatenate([du[..., 0].reshape(Pi, L * N), dt[:, :1]], axis=1)
        new_tau = unit_rows(m.concatenate([du[..., 1].reshape(Pi, L * N), dt[:, 1:]], axis=1), m)
        with np.errstate(all="ignore"):
            size = m.sqrt((dy * dy).sum(axis=1))
        if k == 0:
            first = size
        elif k == 1:
            second = size
        tol = _PATH_TOL + floor.max(axis=(1, 2))
        step = m.abs(dy).max(axis=1)
        converged = (m.abs(G).max(axis=(1, 2)) <= tol) & (step <= tol)
        if k >= 2:
            # a posteriori: corrections that contract by theta <= _THETA leave the corrected
            # point within theta / (1 - theta) |dy| of the curve (Deuflhard 2004, ch. 2)
            with np.errstate(all="ignore"):  # 0 / 0 and theta = 1 give NaN or inf: not converged
                theta = step / last_step
                converged |= (theta <= _THETA) & (theta / (1.0 - theta) * step <= tol)
        last_step = step
        yc = yc + m.where(m.isfinite(dy), dy, 0.0)
        if 1 <= k < _CORRECTOR_STEPS - 1 and bool((converged | ~live).all()):
            break
    converged &= m.isfinite(yc).all(axis=1)
    return _Step(yc, new_tau, sign, first, second, converged)


def _accept(step: _Step, ti, hi, oi, h_max: float, m):
    """Step control: which attempts are accepted, and the next step lengths."""
    with np.errstate(all="ignore"):
        cos = m.clip((step.tau * ti).sum(axis=1), -1.0, 1.0)
        angle = m.arccos(cos)
        kappa = step.second / m.maximum(step.first, 1e-300)
        factor = m.maximum(m.maximum(m.sqrt(kappa / _KAPPA), m.sqrt(step.first / _DELTA)), angle / _ALPHA)
    factor = m.where(m.isfinite(factor), factor, 4.0)
    # a corrector that did not converge counts as a step twice too long at least
    factor = m.where(step.converged, factor, m.maximum(factor, 2.0))
    same_side = (step.sign == oi) | (hi < _FLIP_STEP)
    ok = step.converged & (factor <= 2.0) & m.isfinite(step.tau).all(axis=1) & same_side
    h_new = m.where(ok, m.minimum(hi / m.maximum(factor, 1.0 / _GROWTH), h_max), hi / m.maximum(factor, 2.0))
    return ok, h_new


class _ArcRun:
    """The state of P arcs being followed, on the device: points, tangents, orientations and step
    lengths, and their outcomes (status, attempts, refused attempts, crossing brackets, alive); the
    host holds the arcs each one met, and a copy of ``alive`` as of the last :meth:`sync`."""

    def __init__(self, y, tau, orient, log_t0, h0: float, m):
        P, D = y.shape
        self.m, self.y, self.tau, self.orient = m, y, tau, orient
        self.h = m.full(P, h0)
        self.status = m.full(P, CONTINUATION_STATUS["step_cap"], dtype=m.int64)
        self.steps = m.zeros(P, dtype=m.int64)
        self.rejected = m.zeros(P, dtype=m.int64)
        self.before = m.full((P, D), m.nan)
        self.after = m.full((P, D), m.nan)
        self.alive = m.ones(P, dtype=bool)
        self.met = np.full(P, -1, dtype=np.int64)
        self.bottom = m.asarray(np.asarray(log_t0, dtype=float) + 1e-9)  # the main branch starts at log_t0 itself

    def advance(self, idm, step: _Step, ok, h_new, h_min: float) -> None:
        """Record the attempt of the arcs ``idm`` (an index on the device; those no longer alive
        change nothing), on the device."""
        m = self.m
        live = self.alive[idm]
        yi, ti, oi = self.y[idm], self.tau[idm], self.orient[idm]
        ok = ok & live
        t_old, t_new = yi[:, -1], step.y[:, -1]
        self.steps[idm] += live
        self.rejected[idm] += live & ~ok
        cross = ok & (((t_old < 0.0) & (t_new >= 0.0)) | ((t_old > 0.0) & (t_new <= 0.0)))
        low = ok & ~cross & (t_new <= self.bottom[idm])
        left = ok & ~cross & (t_new > _LOG_T_MAX)
        self.before[idm] = m.where(cross[:, None], yi, self.before[idm])
        self.after[idm] = m.where(cross[:, None], step.y, self.after[idm])
        self.y[idm] = m.where(ok[:, None], step.y, yi)
        self.tau[idm] = m.where(ok[:, None], step.tau, ti)
        self.orient[idm] = m.where(ok, step.sign, oi)
        self.h[idm] = m.where(live, h_new, self.h[idm])
        stalled = live & (h_new < h_min)
        status = self.status[idm]
        for mask, code in ((cross, "crossed"), (low, "main_branch"), (left, "left"),
                           (stalled & ~cross & ~low & ~left, "stalled")):
            status = m.where(mask, CONTINUATION_STATUS[code], status)
        self.status[idm] = status
        self.alive[idm] = live & ~(cross | low | left | stalled)

    def sync(self, pairs):
        """One copy to the host: which arcs are alive, and which of the arc pairs (Q, 2) (arc indices,
        same network) qualify for the meeting test (``_meetings``)."""
        from ...backend import to_numpy

        m = self.m
        if pairs.shape[0] == 0:
            return to_numpy(self.alive), np.zeros(0, dtype=bool)
        both = to_numpy(m.concatenate([self.alive, _heading_together(self, m.asarray(pairs))]))
        P = self.alive.shape[0]
        return both[:P], both[P:]

    def stop_meetings(self, arcs: LayerArcs, pairs, alive) -> None:
        """Stop the pairs of arcs (Q, 2) that qualified and have met; ``alive`` (the host's copy) too."""
        a, b = _meetings(arcs, self.y, self.tau, pairs[:, 0], pairs[:, 1])
        if a.size:
            ab = self.m.asarray(np.concatenate([a, b]))
            self.status[ab] = MET
            self.alive[ab] = False
            self.met[a], self.met[b] = b, a
            alive[a], alive[b] = False, False


def follow(arcs: LayerArcs, y, tau, orient, log_t0, *, max_steps: int, h0: float, h_max: float, h_min: float,
           group=None, sync_every: int = 1):
    """Predictor-corrector continuation of P arcs from y (P, D) = (v, log t) in direction tau.

    ``orient`` (P,) is the sign of det [G_y; tau^T] at the start: it is constant along a regular
    curve, so a step that lands where it differs has jumped to another curve (or crossed a
    bifurcation point) and is refused (accepted only once the step is below ``_FLIP_STEP``).

    Every arc stops at its first crossing of t = 1 (not counting its start), when it comes down
    to log t <= log_t0 (P,) (after having been above it), after ``max_steps`` attempts, or when
    its step falls below ``h_min``; with ``group`` (P,) (the arcs' networks), also when it
    *meets* another arc of its network that follows the same curve the other way (see
    ``_meetings``): both then stop with status ``MET``. Returns the bracket of the crossing
    (y before, y after; NaN where none) on the device, and as host arrays the status codes, the
    step counts, the refused steps and, per arc, the arc it met (-1 where none).

    Arcs stop on the device; the host reads which are alive (and drops the others from the batch)
    every ``sync_every`` attempts, and after every attempt while two live arcs of one network could
    meet (the meeting test needs the host). An arc that stopped changes nothing afterwards, so the
    outcomes do not depend on ``sync_every``.
    """
    from ...backend import to_numpy

    m = arcs.m
    run = _ArcRun(y, tau, orient, log_t0, h0, m)
    idx = np.arange(y.shape[0])
    idm, sub = m.asarray(idx), arcs
    pairs = _same_group_pairs(group, idx)
    for attempt in range(1, max_steps + 1):
        if idx.size == 0:
            break
        ti, hi = run.tau[idm], run.h[idm]
        step = _predict_correct(sub, run.y[idm], ti, hi, run.alive[idm])
        ok, h_new = _accept(step, ti, hi, run.orient[idm], h_max, m)
        run.advance(idm, step, ok, h_new, h_min)
        if attempt % sync_every and not pairs.shape[0]:
            continue
        alive, meet = run.sync(pairs)
        if meet.any():
            run.stop_meetings(arcs, pairs[meet], alive)
        live = np.flatnonzero(alive)
        if not np.array_equal(live, idx):
            idx, idm = live, m.asarray(live)
            sub = arcs.take(idm)
            pairs = _same_group_pairs(group, idx)
    return (run.before, run.after) + tuple(to_numpy(a) for a in (run.status, run.steps, run.rejected)) + (run.met,)


def _same_group_pairs(group, idx):
    """The pairs (Q, 2) of arcs ``idx`` (arc indices) in the same group, each pair once: groups in
    ascending order, and in each group the pairs (i, j), i before j in ``idx``, in row-major order."""
    if group is None or idx.size < 2:
        return np.zeros((0, 2), dtype=np.int64)
    g = np.asarray(group)[idx]
    order = np.argsort(g, kind="stable")
    n = order.size
    run_end = np.empty(n, dtype=np.int64)  # where the run of equal groups of each sorted position ends
    cuts = np.flatnonzero(np.diff(g[order])) + 1
    bounds = np.concatenate([[0], cuts, [n]])
    run_end[:] = np.repeat(bounds[1:], np.diff(bounds))
    partners = run_end - np.arange(n) - 1  # later members of the same group
    first = np.repeat(np.arange(n), partners)
    offset = np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners)
    second = first + 1 + offset
    return np.stack([idx[order[first]], idx[order[second]]], axis=1)


def _heading_together(run: _ArcRun, pairs):
    """Which arc pairs (Q, 2) (arc indices on the device, same network) qualify for the meeting test
    (see ``_meetings``), on the device: both alive, their log t and their points within the sum
    of their step lengths, each headed towards the other, opposite orientations."""
    m = run.m
    a, b = pairs[:, 0], pairs[:, 1]
    ya, yb, ta, tb = run.y[a], run.y[b], run.tau[a], run.tau[b]
    reach = run.h[a] + run.h[b]
    gap = yb - ya
    with np.errstate(all="ignore"):
        dist = m.sqrt((gap * gap).sum(axis=1))
        toward = ((ta * gap).sum(axis=1) > 0) & ((tb * gap).sum(axis=1) < 0) & (run.orient[a] == -run.orient[b])
        near = (m.abs(ya[:, -1] - yb[:, -1]) <= reach) & (dist <= reach)
    return run.alive[a] & run.alive[b] & near & toward


def _meetings(arcs: LayerArcs, y, tau, a, b):
    """Of the arc pairs (a, b) (host arc indices, same network) that qualify (:func:`_heading_together`),
    those that have met; returns their (a, b), each arc in one pair at most.

    Two arcs on one curve, headed towards each other, pass each other between two steps; at
    the last step before they pass, their distance is at most the sum of their step lengths.
    A pair qualifies there when their log t differ by at most that sum, their
    points do too, each is headed towards the other, and their orientations are opposite (a
    curve followed the other way has the opposite sign of det [G_y; tau^T]). It has *met* when
    the corrector, from a along its tangent onto the hyperplane through b normal to that
    tangent, lands on b (within ``_MEET_TOL``): the curve through a passes through b. Arcs
    that pass without being recognised simply go on to their ends, as without this test.
    """
    m = arcs.m
    ya, yb, ta = y[m.asarray(a)], y[m.asarray(b)], tau[m.asarray(a)]
    sub = arcs.take(m.asarray(a))
    P, L, N = ya.shape[0], arcs.L, arcs.N
    y_pred = ya + ((yb - ya) * ta).sum(axis=1)[:, None] * ta  # the hyperplane through b normal to ta
    yc = y_pred
    rhs_b = m.zeros((P, 1))
    for _ in range(_CORRECTOR_STEPS):
        G, A, g = sub.system(yc)
        rhs_b[:, 0] = -((yc - y_pred) * ta).sum(axis=1)
        du, dt = bordered_solve(A, g, ta[:, :-1].reshape(P, L, N), ta[:, -1], -G[..., None], rhs_b, m)
        dy = m.concatenate([du[..., 0].reshape(P, L * N), dt], axis=1)
        yc = yc + m.where(m.isfinite(dy), dy, 0.0)
    with np.errstate(all="ignore"):
        landed = to_numpy(m.abs(yc - yb).max(axis=1) <= _MEET_TOL)
    a, b = a[landed], b[landed]
    # an arc in several qualifying pairs (three arcs close together): keep the first pair only
    used, keep = set(), []
    for i, (p, q) in enumerate(zip(a.tolist(), b.tolist())):
        if p not in used and q not in used:
            used.update((p, q))
            keep.append(i)
    return a[keep], b[keep]
