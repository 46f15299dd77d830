"""Homotopy continuation in the weight scale: fixed points that no Newton start reaches.

Scale every weight of a network by t and keep the biases: ``F_t(x) = phi(t W_L ... phi(t W_1 x +
b_1) ... + b_L)``. At t = 0 the map is constant; at t = 1 it is the network. In the
pre-activations of the layers, ``z_l = t W_l phi(z_{l-1}) + b_l`` (l = 1..L, cyclic: layer 1 reads
z_L, and x = phi(z_L)), the solutions (z, t) form curves; where the Jacobian in z is regular they
are smooth, and for bounded t they stay in the bounded set ``|z_l| <= t |W_l| 1 + |b_l|``. Below
``t_0 = (1/2) prod_l (sup|phi'| ||W_l||_2)^(-1/L)`` the map F_t is a contraction, with exactly one
fixed point. Hence (the degree argument behind :func:`~fpkit.engine.fixed_point_index`):

* the **main branch**, the curve through the unique solution at t_0, cannot end and cannot come
  back below t_0: it reaches t = 1, at a fixed point;
* from any fixed point, the curve followed in the direction of *decreasing* t stays in
  (t_0, 1) until it either reaches t_0 (the point was the main branch's first crossing of t = 1)
  or comes back to t = 1 at **another fixed point, of opposite index** (along a curve the sign
  of the bordered Jacobian is constant, and at t = 1 it is ``sign det(G_z) * sign(dt/ds)``).

So one arc per known fixed point, plus the main branch, closes a list under this pairing, and a
closed list has index sum exactly 1. Two known partners (or the main branch and its point) put
two arcs on one curve, headed towards each other; where they meet, the curve is closed and both
stop (``meet``), so a long curve costs half its steps.
:func:`fpkit.engine.continuation_search` follows these arcs for a batch
of networks at once, by pseudo-arclength predictor-corrector continuation (Allgower & Georg 1990,
ch. 2 and 6; Keller 1977) in the unknowns

* ``v_l = asinh(z_l)``, with the layer equations written ``v_l = asinh(t W_l phi(sinh v_{l-1}) +
  b_l)``: a unit's linear range (``|z|`` of order 1) keeps its size while its saturated range
  (``|z|`` up to the row sums of ``|W|``, 1e6 and more for heavy-tailed weights) shrinks to a
  logarithm;
* ``lambda = log t``: a weight w acts at t of order ``1/|w|``, so with heavy-tailed weights the
  curves' turns are spread over decades of t. In t they crowd near t = 0, within ``1/|w|`` of
  each other and of the main branch, and a corrector jumps between them.

Step control (Allgower & Georg, sec. 6.1): every step measures the first Newton correction
(distance to the curve), the contraction of the corrector, and the angle between the tangents at
both ends; a step whose measures exceed twice their nominal values, or whose corrector does not
converge, is refused and retried shorter, so that the corrector does not land on a neighbouring
curve (path jumping). The corrector stops when the residual and the last correction are below
the path tolerance, or, from its third iteration on, when its corrections contract by a factor
theta <= 0.1 and the contraction-mapping bound ``theta / (1 - theta) |dy|`` on the distance left to
the curve is below it (Deuflhard 2004, ch. 2): one solve fewer per step in the common case.

Linear algebra: every Newton and tangent step solves the bordered system of the cyclic,
block-bidiagonal layer equations. ``_bordered_solve`` eliminates the layers one after the
other with Householder QR of (2N + 1)-row blocks: an exact, backward-stable QR factorisation of the
whole (LN + 1)-square matrix that costs O(L N^3) instead of O((LN)^3) and, unlike closing the cycle
through the layer products (single shooting), never forms products of L Jacobians.

References
----------
E. L. Allgower and K. Georg, *Numerical Continuation Methods: An Introduction*, Springer 1990.
P. Deuflhard, *Newton Methods for Nonlinear Problems: Affine Invariance and Adaptive Algorithms*,
Springer 2004.
H. B. Keller, Numerical solution of bifurcation and nonlinear eigenvalue problems, in
*Applications of Bifurcation Theory*, Academic Press 1977.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..backend import to_numpy
from ..network import Ensemble, check_ensemble

__all__ = ["CONTINUATION_STATUS", "ContinuationResult", "continuation_search", "layer_jacobian_eigenvalues"]

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

# nominal values of the step control (Allgower & Georg 1990, sec. 6.1), in the unknowns (v, log t)
_KAPPA = 0.3  # contraction |dy_2| / |dy_1| of the corrector
_DELTA = 0.05  # first corrector step |dy_1|
_ALPHA = 0.2  # angle (radians) between the tangents at the ends of a step
_CORRECTOR_STEPS = 6
_GROWTH = 2.0  # largest factor by which an accepted step lengthens the next
_PATH_TOL = 1e-9  # a corrected point is on the curve when |G|_inf and |dy|_inf are below this (+ rounding floor)
_LOG_T_MAX = float(np.log(2.0))  # arcs that climb past t = 2 are abandoned
_REFINE_TOL = 1e-10  # a crossing (or a known point) is a root where |G| is within this of its rounding floor
_V_CLIP = 700.0  # |v| beyond this is clipped before sinh (a corrector may overshoot)
_SAME_V = 1e-6  # two roots are one when their asinh(z) agree to this (max norm)
_FLIP_STEP = 1e-8  # a step that flips the curve's orientation is refused unless shorter than this
_THETA = 0.1  # a corrector whose corrections contract by this much may stop on its error estimate
_MEET_TOL = 1e-6  # two arcs have met when the corrector from one lands this close (max norm) to the other
_MET = -1  # _follow's status of an arc that met another (continuation_search turns it into its end)
_TRACE = None  # debugging: a list receives (arcs, y, corrected y, accepted, h, factor) per step


@dataclass
class ContinuationResult:
    """What :func:`continuation_search` found, per network and arc (E, K) with K = R + 1.

    Arc 0 of each network is the main branch; arc k >= 1 starts at ``known[:, k-1]``.

    Attributes
    ----------
    x : array (E, K, N)
        The fixed point where the arc crossed t = 1 (NaN where it did not).
    z : array (E, K, L, N)
        Its pre-activations z_1..z_L at t = 1 (NaN where none).
    residual : array (E, K)
        Largest layer residual ``|asinh(W_l phi(z_{l-1}) + b_l) - asinh(z_l)|_inf`` there (inf where none).
    error : array (E, K)
        The Newton estimate of the distance of ``x`` to the exact fixed point, computed in the
        layer variables (inf where none): it certifies steep points, whose ``|F(x) - x|``
        rounding keeps large.
    status : array (E, K) int
        Codes of ``CONTINUATION_STATUS``.
    steps : array (E, K) int
        Predictor-corrector attempts (accepted and refused).
    rejected : array (E, K) int
        Refused attempts among them.
    log_t0 : array (E,)
        log t_0 per network: below t_0 the network's F_t is a contraction.
    known_z : array (E, R, L, N)
        The known points' pre-activations, refined as roots of the layer equations at t = 1
        (NaN where a known point is padding or no regular root).
    """

    x: np.ndarray
    z: np.ndarray
    residual: np.ndarray
    error: np.ndarray
    status: np.ndarray
    steps: np.ndarray
    rejected: np.ndarray
    log_t0: np.ndarray
    known_z: np.ndarray

    def status_names(self) -> np.ndarray:
        """The status codes as names, shape (E, K)."""
        return np.array(list(CONTINUATION_STATUS))[self.status]


# --------------------------------------------------------------------------- the layer system


def _to_z(vl, m):
    """Pre-activations z = sinh(v) of the unknowns v (clipped: no overflow)."""
    return m.sinh(m.clip(vl, -_V_CLIP, _V_CLIP))


def _inv_hypot1(a, m):
    """1 / sqrt(1 + a^2) without overflow for huge |a|."""
    big = m.abs(a) > 1e150
    safe = m.where(big, 1.0, a)
    return m.where(big, 1.0 / m.maximum(m.abs(a), 1e-300), 1.0 / m.sqrt(1.0 + safe * safe))


def _system(W, b, phi, vl, log_t, m, *, with_floor: bool = False):
    """Residual and Jacobian blocks of ``G_l(v, lam) = asinh(e^lam W_l phi(sinh v_{l-1}) + b_l) - v_l``.

    W (P, L, N, N), b (P, L, N), vl (P, L, N), log_t (P,). Returns G (P, L, N); A (P, L, N, N),
    the block dG_l / dv_{l-1} (block 0 is dG_0 / dv_{L-1}); g (P, L, N) = dG / dlam; with
    ``with_floor`` also the rounding floor of G (P, L, N): the sum ``t W_l h + b_l`` cancels
    terms of size ``t |W_l| |h| + |b_l|`` (1e6 and more for heavy-tailed weights), so |G| cannot
    fall below a few ulps of that, scaled by d asinh / da.
    """
    t = m.exp(m.minimum(log_t, 50.0))
    v_prev = m.clip(m.roll(vl, 1, axis=1), -_V_CLIP, _V_CLIP)
    z_prev = m.sinh(v_prev)
    h = phi.value(z_prev, m)
    # phi'(z) cosh(v) = dphi/dv: bounded for sigmoid-type phi (phi' decays faster than cosh grows)
    with np.errstate(all="ignore"):
        d = phi.derivative(z_prev, m) * m.cosh(v_prev)
    d = m.where(m.isfinite(d), d, 0.0)
    tWh = t[:, None, None] * m.matmul(W, h[..., None])[..., 0]
    a = tWh + b
    scale = _inv_hypot1(a, m)  # d asinh(a) / da
    G = m.arcsinh(a) - vl
    A = (t[:, None, None, None] * scale[..., None]) * W * d[:, :, None, :]
    if with_floor:
        size = t[:, None, None] * m.matmul(m.abs(W), m.abs(h)[..., None])[..., 0] + m.abs(b)
        return G, A, tWh * scale, 16 * np.finfo(np.float64).eps * size * scale
    return G, A, tWh * scale


def _bordered_solve(A, g, c, ct, r, rb, m, *, want_sign: bool = False):
    """Solve the bordered cyclic system for (du, dt), batched over P.

    Equations: ``-du_l + A_l du_{l-1} + g_l dt = r_l`` (l = 0..L-1, du_{-1} = du_{L-1}) and
    ``sum_l c_l . du_l + ct dt = rb``; shapes A (P, L, N, N), g, c (P, L, N), ct (P,), and k
    right-hand sides r (P, L, N, k), rb (P, k). Returns du (P, L, N, k) and dt (P, k); NaN
    where the system is singular; with ``want_sign`` also the sign of the matrix's determinant
    (P,) up to a factor that depends on L and N only (the orientation of a continuation curve).

    Block elimination by Householder QR (see the module doc). Columns are ordered
    ``[du_l | du_{l+1} | du_{L-1}, dt | w | rhs]``: the rows of layer l + 1 are stacked under the
    N + 1 rows left from the previous step (the border row travels with them, its entries on the
    layers not reached yet kept as one rank-one factor ``w``), the column block of du_l is
    triangularised, and its N rows are kept for the back substitution.
    """
    P, L, N, _ = A.shape
    k = r.shape[-1]
    eye = m.eye(N)
    if L == 1:
        M = m.empty((P, N + 1, N + 1))
        M[:, :N, :N] = A[:, 0] - eye
        M[:, :N, N] = g[:, 0]
        M[:, N, :N] = c[:, 0]
        M[:, N, N] = ct
        sol = _solve_or_nan(M, m.concatenate([r[:, 0], rb[:, None, :]], axis=1), m)
        if want_sign:
            with np.errstate(all="ignore"):
                sign = m.linalg.slogdet(M)[0].real
            return sol[:, None, :N], sol[:, N], m.where(m.isfinite(sign), sign, 0.0)
        return sol[:, None, :N], sol[:, N]
    n2, n3, width = 2 * N, 3 * N, 3 * N + 2 + k
    rhs0 = n3 + 2  # first right-hand-side column
    # the rows of layers 1..L-1 (index 0 unused); in the last one du_l is du_{L-1}, an arrow column
    rows = m.zeros((P, L, N, width))
    rows[..., :N] = A
    rows[..., N:n2] = -eye
    rows[..., n3] = g
    rows[..., rhs0:] = r
    rows[:, L - 1, :, N:n2] = 0.0
    rows[:, L - 1, :, n2:n3] = -eye
    S = m.zeros((P, n2 + 1, width))
    S[:, :N, :N] = -eye
    S[:, :N, n2:n3] = A[:, 0]
    S[:, :N, n3] = g[:, 0]
    S[:, :N, rhs0:] = r[:, 0]
    S[:, N, :N] = c[:, 0]
    if L > 2:
        S[:, N, N:n2] = c[:, 1]
    S[:, N, n2:n3] = c[:, L - 1]
    S[:, N, n3] = ct
    S[:, N, n3 + 1] = 1.0
    S[:, N, rhs0:] = rb
    saved = m.empty((P, L - 1, N, width))
    taus = m.empty((P, L - 1, min(n2 + 1, width))) if want_sign else None
    # Householder QR in LAPACK's raw form: R is the upper triangle of h^T, the reflectors lie
    # below it; only the two blocks that reach below the diagonal are masked (like numpy.triu):
    # rows N..2N x columns N..2N-1, and (its first N rows) the saved rows' first N columns
    upper = m.asarray(np.triu(np.ones((N + 1, N), dtype=bool)))
    for layer in range(L - 1):
        S[:, N + 1:] = rows[:, layer + 1]
        h, tau = m.linalg.qr(S, mode="raw")
        R = m.swapaxes(h, -1, -2)
        if want_sign:
            taus[:, layer] = tau
        saved[:, layer] = R[:, :N]
        S[:, :N + 1, :N] = m.where(upper, R[:, N:, N:n2], 0.0)
        if layer + 2 <= L - 2:
            S[:, :N + 1, N:n2] = R[:, N:, n3 + 1, None] * c[:, layer + 2, None, :]
        else:
            S[:, :N + 1, N:n2] = 0.0
        S[:, :N + 1, n2:] = R[:, N:, n2:]
    saved[..., :N] = m.where(upper[:N], saved[..., :N], 0.0)
    sign = m.ones(P)
    if want_sign:
        # det Q = (-1)^(number of Householder reflectors), det R_l = product of its diagonal
        sign = sign * (1.0 - 2.0 * ((taus != 0).sum(axis=(1, 2)) % 2))
        sign = sign * m.sign(m.diagonal(saved[..., :N], axis1=-2, axis2=-1)).prod(axis=(1, 2))
    with np.errstate(all="ignore"):
        arrow = _solve_fast(S[:, :N + 1, n2:n3 + 1], S[:, :N + 1, rhs0:], m)  # (du_{L-1}, dt) x k
        du = m.empty((P, L, N, k))
        du[:, L - 1] = arrow[:, :N]
        sigma = m.zeros((P, 1, k))  # sum_{l + 2 <= j <= L - 2} c_j . du_j
        known = saved[..., rhs0:] - m.matmul(saved[..., n2:n3 + 1], arrow[:, None])  # every layer at once
        for layer in range(L - 2, -1, -1):
            blk = saved[:, layer]
            rhs = known[:, layer] - blk[..., n3 + 1, None] * sigma - m.matmul(blk[..., N:n2], du[:, layer + 1])
            if layer + 1 <= L - 2:
                sigma = sigma + (c[:, layer + 1, :, None] * du[:, layer + 1]).sum(axis=1, keepdims=True)
            du[:, layer] = _solve_fast(blk[..., :N], rhs, m)
        bad = ~(m.isfinite(arrow).all(axis=1) & m.isfinite(du).all(axis=(1, 2)))  # (P, k)
        if want_sign:
            sign = sign * m.linalg.slogdet(S[:, :N + 1, n2:n3 + 1])[0].real
    du = m.where(bad[:, None, None, :], m.nan, du)
    if want_sign:
        return du, m.where(bad, m.nan, arrow[:, N]), m.where(m.isfinite(sign), sign, 0.0)
    return du, m.where(bad, m.nan, arrow[:, N])


def _solve_fast(a, b, m):
    """Batched solve of a (P, n, n) x = b (P, n, k); where NumPy finds a singular matrix, the
    careful :func:`_solve_or_nan`."""
    try:
        return m.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return _solve_or_nan(a, b, m)


def _solve_or_nan(a, b, m):
    """Batched solve of a (P, n, n) x = b (P, n, k); singular or non-finite systems give NaN
    (never an exception or a warning)."""
    from .newton import _solve

    finite = m.isfinite(a).all(axis=(1, 2)) & m.isfinite(b).all(axis=(1, 2))
    a = m.where(finite[:, None, None], a, m.eye(a.shape[-1]))
    b = m.where(finite[:, None, None], b, 0.0)
    out = m.empty(b.shape)
    with np.errstate(all="ignore"):
        for j in range(b.shape[-1]):
            out[..., j] = _solve(a, b[..., j], m)
        # _solve gives a zero step where the system is singular: detect those by the residual
        res = m.abs(m.matmul(a, out) - b).max(axis=(1, 2))
        scale = m.abs(a).max(axis=(1, 2)) * m.abs(out).max(axis=(1, 2)) + m.abs(b).max(axis=(1, 2))
    ok = finite & m.isfinite(res) & (res <= 1e-6 * m.maximum(scale, 1e-300))
    return m.where(ok[:, None, None], out, m.nan)


def _unit(y, m):
    """Rows of y (P, D) scaled to unit length; NaN rows where that is impossible."""
    with np.errstate(all="ignore"):
        norm = m.sqrt((y * y).sum(axis=1))
        out = y / norm[:, None]
    return m.where((m.isfinite(out).all(axis=1) & (norm > 0))[:, None], out, m.nan)


def _tangent(A, g, tau, m):
    """Unit tangent of the curve at a point, the solution of [G_y; tau^T] y' = e_last normalised
    (its orientation agrees with ``tau``'s), and the sign of that matrix's determinant. tau (P, D)."""
    P, L, N, _ = A.shape
    du, dt, sign = _bordered_solve(A, g, tau[:, :-1].reshape(P, L, N), tau[:, -1], m.zeros((P, L, N, 1)),
                                   m.ones((P, 1)), m, want_sign=True)
    return _unit(m.concatenate([du[..., 0].reshape(P, L * N), dt], axis=1), m), sign


# --------------------------------------------------------------------------- one batch of arcs


class _Arcs:
    """The per-arc data of a batch of P arcs: their network's W and b."""

    def __init__(self, W, b, phi, m):
        self.W, self.b, self.phi, self.m = W, b, phi, m
        self.P, self.L, self.N = b.shape

    def take(self, idx):
        out = _Arcs.__new__(_Arcs)
        out.W, out.b, out.phi, out.m = self.W[idx], self.b[idx], self.phi, self.m
        out.P, out.L, out.N = int(idx.shape[0]), self.L, self.N
        return out

    def system(self, y, **options):
        P, L, N = y.shape[0], self.L, self.N
        return _system(self.W, self.b, self.phi, y[:, :-1].reshape(P, L, N), y[:, -1], self.m, **options)


def _refine(arcs: _Arcs, vl, log_t, max_iter: int = 30):
    """Newton on G(v, log_t) = 0 at fixed log t (P,) from v (P, L, N), keeping the best iterate.

    Returns (v, max |G|, ok): ``ok`` where every |G| is within ``_REFINE_TOL`` of its rounding
    floor (see :func:`_system`), i.e. v is a root of the layer equations to rounding."""
    m = arcs.m
    P, L, N = vl.shape
    zero_c = m.zeros((P, L, N))
    best_v, best, best_raw = vl, m.full(P, m.inf), m.full(P, m.inf)
    for _ in range(max_iter + 1):
        G, A, g, floor = _system(arcs.W, arcs.b, arcs.phi, vl, log_t, m, with_floor=True)
        raw = m.abs(G).max(axis=(1, 2))
        excess = m.maximum(m.abs(G) - floor, 0.0).max(axis=(1, 2))
        excess = m.where(m.isfinite(raw), excess, m.inf)
        better = (excess < best) | ((excess == best) & (raw < best_raw))
        best_v = m.where(better[:, None, None], vl, best_v)
        best = m.where(better, excess, best)
        best_raw = m.where(better, raw, best_raw)
        if not bool(better.any()) or bool((best_raw <= 1e-15).all()):
            break
        dv = _bordered_solve(A, g, zero_c, m.ones(P), -G[..., None], m.zeros((P, 1)), m)[0][..., 0]
        vl = vl + m.where(m.isfinite(dv), dv, 0.0)
    return best_v, best_raw, best <= _REFINE_TOL


def _newton_distance(arcs: _Arcs, vl):
    """The Newton estimate of the distance, in x = phi(z_L), from the roots v (P, L, N) of the
    layer equations at t = 1 to the exact fixed points: ``|dphi/dv (v_L) dv_L|_inf`` with
    ``dv = -G_v^-1 G``. The analogue, in the layer variables, of the census's x-space
    ``|(I - J)^-1 (F(x) - x)|_inf``, but free of the rounding that a steep F adds to F(x) - x."""
    m = arcs.m
    P, L, N = vl.shape
    G, A, g = _system(arcs.W, arcs.b, arcs.phi, vl, m.zeros(P), m)
    dv = _bordered_solve(A, g, m.zeros((P, L, N)), m.ones(P), -G[..., None], m.zeros((P, 1)), m)[0][..., 0]
    v_last = m.clip(vl[:, L - 1], -_V_CLIP, _V_CLIP)
    with np.errstate(all="ignore"):
        dx = arcs.phi.derivative(m.sinh(v_last), m) * m.cosh(v_last) * dv[:, L - 1]
        out = m.abs(dx).max(axis=1)
    return m.where(m.isfinite(out), out, m.inf)


def _contraction_log_t(ensemble: Ensemble, m):
    """log t_0 per network (E,): at t <= t_0 = (1/2) prod_l (sup|phi'| ||W_l||_2)^(-1/L) the map
    F_t has Lipschitz constant <= 1/2 (at most e^-1: the main branch starts no later)."""
    E, L, N = ensemble.shape
    norms = to_numpy(m.linalg.svd(ensemble.weights, compute_uv=False)[..., 0])  # (E, L)
    with np.errstate(divide="ignore"):
        logs = np.log(norms * ensemble.activation.sup_derivative)
    log_t0 = np.log(0.5) - logs.sum(axis=1) / L
    return np.minimum(np.where(np.isfinite(log_t0), log_t0, -1.0), -1.0)


def _main_branch_start(arcs: _Arcs, log_t0):
    """The unique solution v (P, L, N) at t_0 (P,): iterate the contraction F_{t_0} (Lipschitz
    <= 1/2, so 80 rounds reach rounding), then Newton."""
    m = arcs.m
    P, L, N = arcs.P, arcs.L, arcs.N
    t0 = m.exp(m.asarray(log_t0))
    z = m.empty((P, L, N))
    h = arcs.phi.value(arcs.b[:, L - 1], m)
    for _ in range(80):
        for layer in range(L):
            z[:, layer] = t0[:, None] * m.matmul(arcs.W[:, layer], h[..., None])[..., 0] + arcs.b[:, layer]
            h = arcs.phi.value(z[:, layer], m)
    return _refine(arcs, m.arcsinh(z), m.asarray(log_t0))  # (v, |G|, ok)


def _cyclic_matrix(A, m):
    """The dense (P, LN, LN) block-cyclic matrix with blocks A_l at (l, l - 1)."""
    P, L, N, _ = A.shape
    C = m.zeros((P, L * N, L * N))
    for layer in range(L):
        prev = (layer - 1) % L
        C[:, layer * N:(layer + 1) * N, prev * N:(prev + 1) * N] += A[:, layer]
    return C


def _cyclic_index(A, m):
    """sign det(I - C) of the block-cyclic matrix C of blocks A (P, L, N, N), shape (P,) int.

    C is similar to the layer Jacobian (blocks D_l W_l), and det(I - C) = det(I - J_F): the index
    of the fixed point, computed from the layers (blocks of moderate norm) instead of their
    product, whose norm can exceed 1e16 and drown the eigenvalues near 1 in rounding."""
    P, L, N, _ = A.shape
    eye = m.eye(L * N)
    with np.errstate(all="ignore"):
        sign, logdet = m.linalg.slogdet(eye - _cyclic_matrix(A, m))
    sign = to_numpy(sign).real
    return np.where(np.isfinite(to_numpy(logdet)) & (sign != 0), np.sign(sign), 0).astype(int)


def _cyclic_eigenvalues(A, m):
    """Eigenvalues (P, N) of J = A_{L-1} ... A_0 from those of the block-cyclic matrix C.

    Each eigenvalue lam of J has its L L-th roots among C's eigenvalues mu, and exactly one of
    them has argument in (-pi/L, pi/L]; lam is its L-th power. Roots of modulus above 1 (|lam| > 1,
    the eigenvalues that decide stability and the index) are resolved to rounding in C, whose
    blocks have moderate norms, while the product J can have |J| > 1e16 and drown them. Roots
    below 1 in modulus give |lam| < 1 only: the tiny eigenvalues of saturated directions come
    out of C as perturbed roots of 0 of modulus ~ 1e-16^(1/L), so their L-th powers are bounds,
    not values. NaN rows where a root lies within 1e-7 of the unit circle or the roots of
    modulus above 1 do not come in groups of L.
    """
    P, L, N, _ = A.shape
    C = to_numpy(_cyclic_matrix(A, m))
    out = np.full((P, N), np.nan, dtype=complex)
    for i in range(P):
        if not np.isfinite(C[i]).all():
            continue
        mu = np.linalg.eigvals(C[i])
        r = np.abs(mu)
        if (np.abs(r - 1.0) < 1e-7).any():
            continue
        lam = []
        for part in (r > 1.0, r < 1.0):
            theta = np.angle(mu[part])
            inside = np.abs(theta) < np.pi / L - 1e-8
            edge = (np.abs(np.abs(theta) - np.pi / L) <= 1e-8) & (theta > 0)  # roots of negative lam
            pick, th = mu[part][inside | edge], theta[inside | edge]
            # real lam: the principal root is real (positive lam) or on the edge (negative lam);
            # its L-th power would carry L times the root's rounding into the imaginary part
            lam.append(np.where(np.abs(th) <= 1e-8, np.abs(pick) ** L,
                                np.where(np.abs(np.abs(th) - np.pi / L) <= 1e-8, -np.abs(pick) ** L, pick ** L)))
        n_big = int((r > 1.0).sum())
        if n_big % L or lam[0].size != n_big // L:
            continue
        small = lam[1][np.argsort(-np.abs(lam[1]), kind="stable")][:N - lam[0].size]
        out[i, :lam[0].size] = lam[0]
        out[i, lam[0].size:lam[0].size + small.size] = small
        out[i, lam[0].size + small.size:] = 0.0
    return out


def layer_jacobian_eigenvalues(ensemble: Ensemble, z):
    """Eigenvalues of J_F = D_L W_L ... D_1 W_1 with ``D_l = diag(phi'(z_l))`` taken from given
    pre-activations, for fixed points so steep that J evaluated at the rounded x is off (rounding
    in x is amplified along the layers, while the layer states of a root are accurate).

    The eigenvalues of the product are checked against the index ``sign det(I - J)`` computed
    from the layers themselves (a block-cyclic determinant, free of the product's rounding): where
    the parity of their real eigenvalues above 1 disagrees, the eigenvalues come instead from the
    L-th roots of the block-cyclic matrix's spectrum, and where those disagree too, the row is
    NaN (the point's eigenvalues are beyond float64: with ``|J| > 1e16`` the product's rounding
    is larger than 1).

    Parameters
    ----------
    ensemble : Ensemble
    z : array (E, K, L, N)
        Pre-activations of the layers (e.g. ``ContinuationResult.z``), real; rows with NaN or inf
        are padding.

    Returns
    -------
    array (E, K, N) complex
        NaN rows for padding and for points whose eigenvalues cannot be resolved.
    """
    from .result import fixed_point_index

    check_ensemble(ensemble)
    m = ensemble.array_module
    E, L, N = ensemble.shape
    z = ensemble.xp.asarray(z)
    if z.ndim != 4 or z.shape[0] != E or tuple(z.shape[2:]) != (L, N):
        raise ValueError(f"z must have shape (E, K, L, N) = ({E}, K, {L}, {N}); got {tuple(z.shape)}")
    if np.dtype(str(z.dtype)).kind not in "fiu":
        raise TypeError(f"z must be a real array; got dtype {z.dtype}")
    z = z.astype(m.float64)
    K = z.shape[1]
    out = np.full((E, K, N), np.nan, dtype=complex)
    finite = to_numpy(m.isfinite(z).all(axis=(2, 3)))
    if not finite.any():
        return out
    e_idx, k_idx = np.nonzero(finite)
    em = m.asarray(e_idx)
    zs = z[em, m.asarray(k_idx)]
    W, b, phi = ensemble.weights[em], ensemble.biases[em], ensemble.activation
    with np.errstate(all="ignore"):
        jac = None
        for layer in range(L):
            a = phi.derivative(zs[:, layer], m)[:, :, None] * W[:, layer]
            jac = a if jac is None else m.matmul(a, jac)
    jac = to_numpy(jac)
    ev = np.full((e_idx.size, N), np.nan, dtype=complex)
    ok = np.isfinite(jac).all(axis=(1, 2))
    if ok.any():
        ev[ok] = np.linalg.eigvals(jac[ok])
    _, A, _ = _system(W, b, phi, m.arcsinh(zs), m.zeros(e_idx.size), m)
    index = _cyclic_index(A, m)
    bad = np.flatnonzero(~ok | (fixed_point_index(ev) != index) | (index == 0))
    if bad.size:
        alt = _cyclic_eigenvalues(A[m.asarray(bad)], m)
        good = np.isfinite(alt).all(axis=1) & (fixed_point_index(alt) == index[bad]) & (index[bad] != 0)
        ev[bad] = np.where(good[:, None], alt, np.nan)
    out[e_idx, k_idx] = ev
    return out


def _follow(arcs: _Arcs, y, tau, orient, log_t0, *, max_steps: int, h0: float, h_max: float, h_min: float,
            group=None):
    """Predictor-corrector continuation of P arcs from y (P, D) = (v, log t) in direction tau.

    ``orient`` (P,) is the sign of det [G_y; tau^T] at the start: it is constant along a regular
    curve, so a step that lands where it differs has jumped to another curve (or crossed a
    bifurcation point) and is refused (accepted only once the step is below ``_FLIP_STEP``).

    Every arc stops at its first crossing of t = 1 (not counting its start), when it comes down
    to log t <= log_t0 (P,) (after having been above it), after ``max_steps`` attempts, or when
    its step falls below ``h_min``; with ``group`` (P,) (the arcs' networks), also when it
    *meets* another arc of its network that follows the same curve the other way (see
    :func:`_meetings`): both then stop with status ``_MET``. Returns the bracket of the crossing
    (y before, y after; NaN where none), the status codes, the step counts, the refused steps
    and, per arc, the arc it met (-1 where none).
    """
    m = arcs.m
    P, D = y.shape
    L, N = arcs.L, arcs.N
    status = np.full(P, CONTINUATION_STATUS["step_cap"], dtype=np.int64)
    steps = np.zeros(P, dtype=np.int64)
    rejected = np.zeros(P, dtype=np.int64)
    before = m.full((P, D), m.nan)
    after = m.full((P, D), m.nan)
    h = m.full(P, h0)
    alive = np.ones(P, dtype=bool)
    bottom = np.asarray(log_t0, dtype=float) + 1e-9  # the main branch starts at log_t0 itself
    met = np.full(P, -1, dtype=np.int64)
    idx = np.arange(P)
    idm = m.asarray(idx)
    sub = arcs
    pairs = _same_group_pairs(group, idx)
    for _ in range(max_steps):
        live = np.flatnonzero(alive)
        if live.size == 0:
            break
        if live.size != idx.size or not np.array_equal(live, idx):
            idx = live
            idm = m.asarray(idx)
            sub = arcs.take(idm)
            pairs = _same_group_pairs(group, idx)
        yi, ti, hi, oi = y[idm], tau[idm], h[idm], orient[idm]
        Pi = idx.size
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
            du, dt, sign = _bordered_solve(A, g, c_u, c_t, rhs, rhs_b, m, want_sign=True)
            dy = m.concatenate([du[..., 0].reshape(Pi, L * N), dt[:, :1]], axis=1)
            new_tau = _unit(m.concatenate([du[..., 1].reshape(Pi, L * N), dt[:, 1:]], axis=1), m)
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
            if k >= 1 and bool(converged.all()):
                break
        converged &= m.isfinite(yc).all(axis=1)
        with np.errstate(all="ignore"):
            cos = m.clip((new_tau * ti).sum(axis=1), -1.0, 1.0)
            angle = m.arccos(cos)
            kappa = second / m.maximum(first, 1e-300)
            factor = m.maximum(m.maximum(m.sqrt(kappa / _KAPPA), m.sqrt(first / _DELTA)), angle / _ALPHA)
        factor = m.where(m.isfinite(factor), factor, 4.0)
        # a corrector that did not converge counts as a step twice too long at least
        factor = m.where(converged, factor, m.maximum(factor, 2.0))
        same_side = (sign == oi) | (hi < _FLIP_STEP)
        ok = converged & (factor <= 2.0) & m.isfinite(new_tau).all(axis=1) & same_side
        h_new = m.where(ok, m.minimum(hi / m.maximum(factor, 1.0 / _GROWTH), h_max), hi / m.maximum(factor, 2.0))
        ok_h, t_old, t_new = to_numpy(ok), to_numpy(yi[:, -1]), to_numpy(yc[:, -1])
        steps[idx] += 1
        rejected[idx] += ~ok_h
        cross = ok_h & (((t_old < 0.0) & (t_new >= 0.0)) | ((t_old > 0.0) & (t_new <= 0.0)))
        low = ok_h & ~cross & (t_new <= bottom[idx])
        left = ok_h & ~cross & (t_new > _LOG_T_MAX)
        if cross.any():
            rows = m.asarray(np.flatnonzero(cross))
            before[m.asarray(idx[cross])] = yi[rows]
            after[m.asarray(idx[cross])] = yc[rows]
            status[idx[cross]] = CONTINUATION_STATUS["crossed"]
        status[idx[low]] = CONTINUATION_STATUS["main_branch"]
        status[idx[left]] = CONTINUATION_STATUS["left"]
        okm = m.asarray(ok_h)
        if _TRACE is not None:
            _TRACE.append((idx.copy(), to_numpy(yi), to_numpy(yc), ok_h.copy(), to_numpy(hi), to_numpy(factor)))
        y[idm] = m.where(okm[:, None], yc, yi)
        tau[idm] = m.where(okm[:, None], new_tau, ti)
        orient[idm] = m.where(okm, sign, oi)
        h[idm] = h_new
        stalled = to_numpy(h_new) < h_min
        status[idx[stalled & ~cross & ~low & ~left]] = CONTINUATION_STATUS["stalled"]
        alive[idx[cross | low | left | stalled]] = False
        if pairs.shape[0]:
            a, b = pairs[alive[idx[pairs[:, 0]]] & alive[idx[pairs[:, 1]]]].T
            if a.size:
                a, b = _meetings(arcs, y, tau, orient, h, idx[a], idx[b])
                status[a], status[b] = _MET, _MET
                met[a], met[b] = b, a
                alive[a], alive[b] = False, False
    return before, after, status, steps, rejected, met


def _same_group_pairs(group, idx):
    """The pairs (i, j), i < j, of positions in ``idx`` whose arcs are in the same group (K, 2)."""
    if group is None or idx.size < 2:
        return np.zeros((0, 2), dtype=np.int64)
    g = np.asarray(group)[idx]
    order = np.argsort(g, kind="stable")
    cuts = np.flatnonzero(np.diff(g[order])) + 1
    out = []
    for members in np.split(order, cuts):
        if members.size > 1:
            i, j = np.triu_indices(members.size, k=1)
            out.append(np.stack([members[i], members[j]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def _meetings(arcs: _Arcs, y, tau, orient, h, a, b):
    """Of the arcs pairs (a, b) (arc indices, same network), those that follow one curve towards
    each other and have met; returns their (a, b), each arc in one pair at most.

    Two arcs on one curve, headed towards each other, pass each other between two steps; at
    the last step before they pass, their distance is at most the sum of their step lengths.
    A pair qualifies there when (cheap tests first) their log t differ by at most that sum, their
    points do too, each is headed towards the other, and their orientations are opposite (a
    curve followed the other way has the opposite sign of det [G_y; tau^T]). It has *met* when
    the corrector, from a along its tangent onto the hyperplane through b normal to that
    tangent, lands on b (within ``_MEET_TOL``): the curve through a passes through b. Arcs
    that pass without being recognised simply go on to their ends, as without this test.
    """
    m = arcs.m
    am, bm = m.asarray(a), m.asarray(b)
    reach = to_numpy(h[am] + h[bm])
    gap_t = np.abs(to_numpy(y[am, -1] - y[bm, -1]))
    keep = np.flatnonzero(gap_t <= reach)
    if keep.size == 0:
        return a[:0], b[:0]
    a, b, reach = a[keep], b[keep], reach[keep]
    am, bm = m.asarray(a), m.asarray(b)
    ya, yb, ta, tb = y[am], y[bm], tau[am], tau[bm]
    gap = yb - ya
    with np.errstate(all="ignore"):
        dist = to_numpy(m.sqrt((gap * gap).sum(axis=1)))
        toward = to_numpy(((ta * gap).sum(axis=1) > 0) & ((tb * gap).sum(axis=1) < 0) & (orient[am] == -orient[bm]))
    keep = np.flatnonzero((dist <= reach) & toward)
    if keep.size == 0:
        return a[:0], b[:0]
    a, b = a[keep], b[keep]
    km = m.asarray(keep)
    ya, yb, ta = ya[km], yb[km], ta[km]
    sub = arcs.take(m.asarray(a))
    P, L, N = ya.shape[0], arcs.L, arcs.N
    y_pred = ya + ((yb - ya) * ta).sum(axis=1)[:, None] * ta  # the hyperplane through b normal to ta
    yc = y_pred
    rhs_b = m.zeros((P, 1))
    for _ in range(_CORRECTOR_STEPS):
        G, A, g = sub.system(yc)
        rhs_b[:, 0] = -((yc - y_pred) * ta).sum(axis=1)
        du, dt = _bordered_solve(A, g, ta[:, :-1].reshape(P, L, N), ta[:, -1], -G[..., None], rhs_b, m)
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


def continuation_search(
    ensemble: Ensemble,
    known=None,
    *,
    max_steps: int = 4000,
    initial_step: float = 0.02,
    max_step: float = 0.5,
    min_step: float = 1e-13,
    main_branch: bool = True,
    known_z=None,
    meet: bool = True,
) -> ContinuationResult:
    """Follow the weight-scale homotopy to fixed points: the main branch from t_0, and from
    every known fixed point the arc of decreasing t to its partner (see the module doc).

    Parameters
    ----------
    ensemble : Ensemble
    known : array (E, R, N), optional
        Known fixed points per network, real; rows with NaN (or inf) are padding. Finite rows must
        not overflow the first layer (see :meth:`~fpkit.network.Ensemble.check_points`).
    max_steps : int
        Predictor-corrector attempts per arc at most (>= 1).
    initial_step, max_step, min_step : float
        Pseudo-arclength step lengths in the unknowns ``(asinh z_l, log t)``: the first step,
        the largest, and the smallest before an arc is given up (``stalled``);
        ``0 < min_step <= initial_step <= max_step``.
    main_branch : bool
        Follow the main branch (arc 0); False leaves arc 0 out (status ``no_start``).
    known_z : array (E, R, L, N), optional
        The known points' pre-activations where known (NaN elsewhere): a steep point's rounded
        x does not determine its layer states, so its arc starts from these instead of the
        orbit of x.
    meet : bool
        Stop two arcs of a network that follow one curve towards each other where they meet
        (each then ends where the other started): the same ends as following both to the end,
        at about half the steps. False follows every arc to its end.

    Returns
    -------
    ContinuationResult
        Arrays of shape (E, K, ...) with K = R + 1 (arc 0: the main branch).
    """
    check_ensemble(ensemble)
    max_steps = v.check_int(max_steps, "max_steps", minimum=1)
    max_step = v.check_real(max_step, "max_step", low=0.0, low_open=True)
    initial_step = v.check_real(initial_step, "initial_step", low=0.0, low_open=True)
    min_step = v.check_real(min_step, "min_step", low=0.0, low_open=True)
    if not min_step <= initial_step <= max_step:
        raise ValueError(f"the steps must satisfy 0 < min_step <= initial_step <= max_step; got min_step={min_step}, "
                         f"initial_step={initial_step}, max_step={max_step}")
    if not isinstance(main_branch, (bool, np.bool_)):
        raise TypeError(f"main_branch must be True or False; got {main_branch!r}")
    if not isinstance(meet, (bool, np.bool_)):
        raise TypeError(f"meet must be True or False; got {meet!r}")
    m = ensemble.array_module
    E, L, N = ensemble.shape
    if known is None:
        known = m.full((E, 0, N), m.nan)
    else:
        known = ensemble.xp.asarray(known)
        if known.ndim != 3 or known.shape[0] != E or known.shape[2] != N:
            raise ValueError(f"known must have shape (E, R, N) = ({E}, R, {N}); got {tuple(known.shape)}")
        if np.dtype(str(known.dtype)).kind not in "fiu":
            raise TypeError(f"known must be a real array; got dtype {known.dtype}")
        known = known.astype(m.float64)
        if known.shape[1]:  # finite rows must not overflow the first layer (non-finite rows are padding)
            ensemble.check_points(m.where(m.isfinite(known).all(axis=2)[..., None], known, 0.0), "known")
    R = known.shape[1]
    if known_z is not None:
        known_z = ensemble.xp.asarray(known_z)
        if known_z.ndim != 4 or tuple(known_z.shape) != (E, R, L, N):
            raise ValueError(f"known_z must have shape (E, R, L, N) = ({E}, {R}, {L}, {N}); got {tuple(known_z.shape)}")
        if np.dtype(str(known_z.dtype)).kind not in "fiu":
            raise TypeError(f"known_z must be a real array; got dtype {known_z.dtype}")
    K = R + 1
    phi = ensemble.activation
    log_t0 = _contraction_log_t(ensemble, m)
    net = np.repeat(np.arange(E), K)
    slot = np.tile(np.arange(K), E)
    arcs = _Arcs(ensemble.weights[m.asarray(net)], ensemble.biases[m.asarray(net)], phi, m)
    P, D = net.size, L * N + 1
    y = m.zeros((P, D))
    tau = m.zeros((P, D))
    usable = np.zeros(P, dtype=bool)
    orient = m.zeros(P)  # sign of det [G_y; tau^T]: constant along a curve
    e_last = m.zeros((P, D))
    e_last[:, -1] = 1.0
    start_v = m.full((P, L, N), m.nan)
    start_res = m.full(P, m.inf)
    # main branch: the unique solution at t_0, heading up
    main = np.flatnonzero(slot == 0) if main_branch else np.zeros(0, dtype=np.int64)
    if main.size:
        mm = m.asarray(main)
        mar = arcs.take(mm)
        v0, res, fine = _main_branch_start(mar, log_t0[net[main]])
        ym = m.concatenate([v0.reshape(-1, L * N), m.asarray(log_t0[net[main]])[:, None]], axis=1)
        _, A, g = mar.system(ym)
        tm, sign = _tangent(A, g, e_last[mm], m)
        flip = tm[:, -1] < 0
        tm = m.where(flip[:, None], -tm, tm)
        y[mm], tau[mm] = ym, m.where(m.isfinite(tm), tm, 0.0)
        orient[mm] = m.where(flip, -sign, sign)
        usable[main] = to_numpy(fine & m.isfinite(tm).all(axis=1) & (sign != 0))
    # arcs from known points: their orbit's pre-activations, refined at t = 1, heading down
    kn = np.flatnonzero(slot > 0)
    if kn.size:
        km = m.asarray(kn)
        pts = known[m.asarray(net[kn]), m.asarray(slot[kn] - 1)]
        finite = m.isfinite(pts).all(axis=1)
        pts = m.where(finite[:, None], pts, 0.0)
        kar = arcs.take(km)
        z = m.empty((kn.size, L, N))
        hcur = pts
        for layer in range(L):
            z[:, layer] = m.matmul(kar.W[:, layer], hcur[..., None])[..., 0] + kar.b[:, layer]
            hcur = phi.value(z[:, layer], m)
        if known_z is not None:
            given = known_z[m.asarray(net[kn]), m.asarray(slot[kn] - 1)].astype(m.float64)
            z = m.where(m.isfinite(given).all(axis=(1, 2))[:, None, None], given, z)
        vk, res, fine = _refine(kar, m.arcsinh(z), m.zeros(kn.size))
        start_v[km], start_res[km] = vk, res  # an arc that meets this one ends here
        yk = m.concatenate([vk.reshape(-1, L * N), m.zeros((kn.size, 1))], axis=1)
        _, A, g = kar.system(yk)
        tk, sign = _tangent(A, g, e_last[km], m)
        flip = tk[:, -1] > 0
        tk = m.where(flip[:, None], -tk, tk)
        y[km], tau[km] = yk, m.where(m.isfinite(tk), tk, 0.0)
        orient[km] = m.where(flip, -sign, sign)
        usable[kn] = to_numpy(finite & fine & m.isfinite(tk).all(axis=1) & (sign != 0))
        root = finite & fine
        known_z = to_numpy(m.where(root[:, None, None], _to_z(vk, m), m.nan)).reshape(E, R, L, N)
    else:
        known_z = np.full((E, R, L, N), np.nan)
    status = np.full(P, CONTINUATION_STATUS["no_start"], dtype=np.int64)
    steps = np.zeros(P, dtype=np.int64)
    rejected = np.zeros(P, dtype=np.int64)
    x_out = m.full((P, N), m.nan)
    z_out = m.full((P, L, N), m.nan)
    res_out = m.full(P, m.inf)
    err_out = m.full(P, m.inf)
    go = np.flatnonzero(usable)

    def end_at(rows, sub, v, res):
        """Arcs ``rows`` end at the roots v (len(rows), L, N) of the layer equations of ``sub``."""
        dst, z = m.asarray(rows), _to_z(v, m)
        z_out[dst] = z
        x_out[dst] = phi.value(z[:, L - 1], m)
        res_out[dst] = res
        err_out[dst] = _newton_distance(sub, v)

    if go.size:
        gm = m.asarray(go)
        before, after, st, stp, rej, met = _follow(arcs.take(gm), y[gm], tau[gm], orient[gm], log_t0[net[go]],
                                                   max_steps=max_steps, h0=initial_step, h_max=max_step,
                                                   h_min=min_step, group=net[go] if meet else None)
        status[go], steps[go], rejected[go] = st, stp, rej
        # two arcs that met follow one curve: each ends where the other started (a known
        # point, refined at t = 1, or, for the main branch, t_0)
        mine = np.flatnonzero(st == _MET)
        if mine.size:
            rows, other = go[mine], go[met[mine]]
            down = slot[other] == 0
            status[rows[down]] = CONTINUATION_STATUS["main_branch"]
            rows, other = rows[~down], other[~down]
            if rows.size:
                status[rows] = CONTINUATION_STATUS["crossed"]
                src = m.asarray(other)
                end_at(rows, arcs.take(src), start_v[src], start_res[src])
        crossed = np.flatnonzero(st == CONTINUATION_STATUS["crossed"])
        if crossed.size:
            cm = m.asarray(crossed)
            ya, yb = before[cm], after[cm]
            frac = ya[:, -1] / (ya[:, -1] - yb[:, -1])
            v0 = (ya[:, :-1] + frac[:, None] * (yb[:, :-1] - ya[:, :-1])).reshape(-1, L, N)
            car = arcs.take(m.asarray(go[crossed]))
            vc, res, fine = _refine(car, v0, m.zeros(crossed.size))
            fine = to_numpy(fine)
            rows = go[crossed]
            status[rows[~fine]] = CONTINUATION_STATUS["refine_failed"]
            keep = m.asarray(np.flatnonzero(fine))
            if keep.shape[0]:
                end_at(rows[fine], car.take(keep), vc[keep], res[keep])
    return ContinuationResult(
        x=to_numpy(x_out).reshape(E, K, N),
        z=to_numpy(z_out).reshape(E, K, L, N),
        residual=to_numpy(res_out).reshape(E, K),
        error=to_numpy(err_out).reshape(E, K),
        status=status.reshape(E, K),
        steps=steps.reshape(E, K),
        rejected=rejected.reshape(E, K),
        log_t0=log_t0,
        known_z=known_z,
    )


# --------------------------------------------------------------------------- the census stage

#: memory budget (bytes) of one continuation call; networks are followed in groups within it
_CONTINUATION_BYTES = 256 * 2**20


def _census_stage(ensemble: Ensemble, table, eig, s, closed=None):
    """Census stage (after the shooting rounds): continuation for the networks whose index sum
    is not 1 (every network with ``s.census_pairing``). Used by
    :func:`~fpkit.engine.find_fixed_points`; ``table`` is its table of points.

    Round 1 follows, for every such network, the main branch and the arc from each known fixed
    point; later rounds (up to ``s.continuation_rounds``, networks still incomplete) the arcs
    from points found since. A crossing of t = 1 joins the table (``found_by =
    "continuation"``) when it is certified like every other point: its polished x has
    ``|F(x) - x|_inf <= polish_tol`` or the Newton correction ``|(I - J)^-1 (F(x) - x)|_inf <=
    polish_tol``; or, for a steep point whose x-space residual is all rounding, the Newton
    correction computed in the layer variables is below ``polish_tol``. It is a new point unless
    a point of the table has the same layer states (or, where those are unknown, lies within
    ``merge_tol`` in x): steep fixed points of heavy-tailed networks can be distinct and closer
    than ``merge_tol`` in x.

    The eigenvalues of every crossing, and those of the known points of these networks where
    the index from their layer states (:func:`layer_jacobian_eigenvalues`) disagrees with the one
    from J at x, come from the layer states.

    Returns the eigenvalues of the whole table, and per network still incomplete a short
    reason: ``"steep"`` (a point whose x could not be certified or whose eigenvalues could not be
    resolved in float64), ``"arc stopped"`` (an arc ran out of steps or stalled), ``"path jump"``
    (the main branch came back to t_0, or two arcs reached it) or ``"unpaired"`` (every arc
    closed, yet the sum is not 1: an undetected jump, or distinct points closer than
    ``merge_tol`` in x); and the largest resolved spectral radius in the networks
    called steep (0 if none). ``closed`` (E,), if given, receives 1.0 for the networks whose list
    is closed under the pairing (every point's arc ends on a point of the list, or, for exactly
    the main branch's point, at t_0), 0.0 for the others the stage looked at.
    """
    from .census import _newton_error, _polish_flat
    from .merge import group_padded
    from .result import fixed_point_index

    E, L, N = ensemble.shape
    eig = np.asarray(eig, dtype=complex)  # eigvals gives a real array when every eigenvalue is real
    traced = np.zeros(table.x.shape[0], dtype=bool)
    steep = np.zeros(E, dtype=bool)
    stopped = np.zeros(E, dtype=bool)
    jumped = np.zeros(E, dtype=bool)
    looked = np.zeros(E, dtype=bool)
    partner: dict[int, int] = {}  # table row -> row its arc ended on; -2: t_0; -1: no known point
    zrow: dict[int, np.ndarray] = {}  # table row -> its layer states (L, N), where refined
    main_end = np.full(E, -1, dtype=np.int64)
    bad_status = [CONTINUATION_STATUS[k] for k in ("step_cap", "stalled", "refine_failed", "left")]
    for rnd in range(s.continuation_rounds):
        isum = np.bincount(table.net, weights=fixed_point_index(eig), minlength=E).round()
        todo = np.arange(E) if (s.census_pairing and rnd == 0) else np.flatnonzero(isum != 1)
        fresh = np.isin(table.net, todo) & ~traced
        if rnd > 0:
            todo = np.intersect1d(todo, table.net[fresh])
        if todo.size == 0:
            break
        looked[todo] |= rnd == 0
        counts = np.bincount(table.net[fresh], minlength=E)[todo]
        per_arc = 8 * L * N * (4 * N + 3 * N + 12)  # W, A, the saved QR rows, the work arrays
        budget = max(1, _CONTINUATION_BYTES // per_arc)
        start = 0
        while start < todo.size:
            # networks in this group: as many as fit the budget of arcs (at least one)
            stop = start + 1
            while stop < todo.size and (counts[start:stop + 1].max() + 1) * (stop + 1 - start) <= budget:
                stop += 1
            nets = todo[start:stop]
            start = stop
            sub = ensemble.subset(ensemble.xp.asarray(nets))
            # the table grows as earlier groups add crossings (rows of their own networks, never fresh)
            fresh_now = np.concatenate([fresh, np.zeros(table.net.size - fresh.size, dtype=bool)])
            rows = np.flatnonzero(np.isin(table.net, nets) & fresh_now)
            local = np.searchsorted(nets, table.net[rows])
            known, slot = group_padded(table.x[rows], local, nets.size, N, fill=np.nan)
            kz = np.full(known.shape[:2] + (L, N), np.nan)
            for r, e_loc, k in zip(rows, local, slot):
                if int(r) in zrow:
                    kz[e_loc, k] = zrow[int(r)]
            cr = continuation_search(sub, sub.xp.asarray(known), max_steps=s.continuation_steps,
                                     main_branch=rnd == 0, known_z=sub.xp.asarray(kz))
            stopped[nets] |= np.isin(cr.status, bad_status).any(axis=1)
            # only one curve reaches t_0: a second arc there, or the main branch back there, jumped
            jumped[nets] |= ((cr.status[:, 0] == CONTINUATION_STATUS["main_branch"])
                             | ((cr.status[:, 1:] == CONTINUATION_STATUS["main_branch"]).sum(axis=1) > 1))
            # the known points' index from their layer states: for steep points the eigenvalues
            # of J at the rounded x, which the other stages use, can have the wrong parity
            kz = cr.known_z[local, slot]
            root = np.isfinite(kz).all(axis=(1, 2))
            for r in rows[root]:
                zrow.setdefault(int(r), kz[rows == r][0])
            ev_known = layer_jacobian_eigenvalues(sub, cr.known_z)[local, slot]
            resolved = np.isfinite(ev_known).all(axis=1)
            fix = resolved & (fixed_point_index(ev_known) != fixed_point_index(eig[rows]))
            eig[rows[fix]] = ev_known[fix]
            steep[nets[np.unique(local[root & ~resolved])]] = True
            arc_status = cr.status[local, slot + 1]
            for r, st in zip(rows, arc_status):
                partner[int(r)] = -2 if st == CONTINUATION_STATUS["main_branch"] else -1
            e_idx, k_idx = np.nonzero(cr.status == CONTINUATION_STATUS["crossed"])
            if e_idx.size == 0:
                continue
            x_cross = cr.x[e_idx, k_idx]
            pts, res = _polish_flat(sub, x_cross, e_idx, s.polish_tol)
            # x-space Newton may walk off a steep point (its residual is all rounding) to another
            # root: the polished point counts only where it stayed on the crossing
            in_x = (((res <= s.polish_tol) | (_newton_error(sub, pts, e_idx) <= s.polish_tol))
                    & (np.abs(pts - x_cross).max(axis=1) <= s.merge_tol))
            # steep points: certified in the layer variables and kept unpolished (x-space Newton
            # cannot improve them); every crossing's eigenvalues come from its layer states
            in_z = ~in_x & (cr.error[e_idx, k_idx] <= s.polish_tol)
            err = np.where(in_z, cr.error[e_idx, k_idx], np.nan)
            pts = np.where(in_z[:, None], x_cross, pts)
            ev = layer_jacobian_eigenvalues(sub, cr.z)[e_idx, k_idx]
            good = (in_x | in_z) & np.isfinite(ev).all(axis=1)
            steep[nets[np.unique(e_idx[~good])]] = True
            # each certified crossing is a table row: an existing one (the same layer states, or
            # within merge_tol in x where the row's layer states are unknown) or a new one; steep
            # points closer than merge_tol in x are told apart by their layer states
            for i in np.flatnonzero(good):
                e = int(nets[e_idx[i]])
                zi = cr.z[e_idx[i], k_idx[i]]
                mine = np.flatnonzero(table.net == e)
                near = mine[np.abs(table.x[mine] - pts[i]).max(axis=1) <= s.merge_tol] if mine.size else mine
                end = -1
                for r in near:
                    zr = zrow.get(int(r))
                    if zr is None or np.abs(np.arcsinh(zr) - np.arcsinh(zi)).max() <= _SAME_V:
                        end = int(r)
                        break
                if end < 0:
                    end = table.x.shape[0]
                    table.add(pts[i:i + 1], np.array([e]), res[i:i + 1], "continuation", err=err[i:i + 1])
                    eig = np.concatenate([eig, ev[i:i + 1]])
                    zrow[end] = zi
                if k_idx[i] == 0:
                    main_end[e] = end
                else:
                    partner[int(rows[(local == e_idx[i]) & (slot == k_idx[i] - 1)][0])] = end
        traced = np.concatenate([traced | fresh, np.zeros(table.x.shape[0] - traced.size, dtype=bool)])
    if closed is not None:
        for e in np.flatnonzero(looked):
            closed[e] = float(_pairs_closed(np.flatnonzero(table.net == e), partner, int(main_end[e])))
    isum = np.bincount(table.net, weights=fixed_point_index(eig), minlength=E).round()
    reasons = {}
    steepest = 0.0
    for e in np.flatnonzero(isum != 1):
        reasons[int(e)] = ("steep" if steep[e] else "arc stopped" if stopped[e] else "path jump" if jumped[e]
                           else "unpaired")
        if steep[e]:
            radius = np.abs(eig[table.net == e])
            steepest = max(steepest, float(radius[np.isfinite(radius)].max(initial=0.0)))
    return eig, reasons, steepest


def _pairs_closed(rows, partner: dict, main_end: int) -> bool:
    """Whether a network's points (table ``rows``) are closed under the pairing: the main branch
    and every followed arc ended on a point of the list (or at t_0), each point was followed or
    is the end of a followed arc, partners agree both ways, and only the main branch's point
    leads down to t_0."""
    if main_end < 0:
        return False
    ends = {p: partner[p] for p in rows.tolist() if p in partner}
    if any(q == -1 for q in ends.values()):
        return False
    covered = set(ends) | {q for q in ends.values() if q >= 0} | {main_end}
    if not covered >= set(rows.tolist()):
        return False
    if any(q >= 0 and q in ends and ends[q] != p for p, q in ends.items()):
        return False
    to_zero = [p for p, q in ends.items() if q == -2]
    return to_zero == [main_end] if main_end in ends else to_zero == []
