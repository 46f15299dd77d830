"""The layer equations of the weight-scale homotopy and their bordered linear solve.

Unknowns ``v_l = asinh(z_l)`` (the pre-activations of the L layers) and ``lambda = log t``; equations
``G_l(v, lambda) = asinh(e^lambda W_l phi(sinh v_{l-1}) + b_l) - v_l`` (cyclic: layer 0 reads
v_{L-1}). :func:`layer_system` evaluates G and its Jacobian blocks; :func:`bordered_solve` solves
the bordered cyclic system of a Newton or tangent step by block Householder QR (see the package doc);
:func:`refine` and :func:`newton_distance` are Newton's method on the layer equations at fixed t.
"""

from __future__ import annotations

import numpy as np

from ..linalg import singular_pivots, solve_fast, solve_or_nan

__all__ = ["LayerArcs", "V_CLIP", "bordered_solve", "layer_system", "newton_distance", "refine", "tangent",
           "to_preactivations", "unit_rows"]

V_CLIP = 700.0  # |v| beyond this is clipped before sinh (a corrector may overshoot)
REFINE_TOL = 1e-10  # a crossing (or a known point) is a root where |G| is within this of its rounding floor


def to_preactivations(vl, m):
    """Pre-activations z = sinh(v) of the unknowns v (clipped: no overflow)."""
    return m.sinh(m.clip(vl, -V_CLIP, V_CLIP))


def _inv_hypot1(a, m):
    """1 / sqrt(1 + a^2) without overflow for huge |a|."""
    big = m.abs(a) > 1e150
    safe = m.where(big, 1.0, a)
    return m.where(big, 1.0 / m.maximum(m.abs(a), 1e-300), 1.0 / m.sqrt(1.0 + safe * safe))


def layer_system(W, b, phi, vl, log_t, m, *, with_floor: bool = False):
    """Residual and Jacobian blocks of ``G_l(v, lam) = asinh(e^lam W_l phi(sinh v_{l-1}) + b_l) - v_l``.

    W (P, L, N, N), b (P, L, N), vl (P, L, N), log_t (P,). Returns G (P, L, N); A (P, L, N, N),
    the block dG_l / dv_{l-1} (block 0 is dG_0 / dv_{L-1}); g (P, L, N) = dG / dlam; with
    ``with_floor`` also the rounding floor of G (P, L, N): the sum ``t W_l h + b_l`` cancels
    terms of size ``t |W_l| |h| + |b_l|`` (1e6 and more for heavy-tailed weights), so ``|G|`` cannot
    fall below a few ulps of that, scaled by d asinh / da.
    """
    t = m.exp(m.minimum(log_t, 50.0))
    v_prev = m.clip(m.roll(vl, 1, axis=1), -V_CLIP, V_CLIP)
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


def _solve_one_layer(A, g, c, ct, r, rb, m, want_sign: bool):
    """:func:`bordered_solve` for L = 1: one dense (N + 1)-square system."""
    P, _, N, _ = A.shape
    M = m.empty((P, N + 1, N + 1))
    M[:, :N, :N] = A[:, 0] - m.eye(N)
    M[:, :N, N] = g[:, 0]
    M[:, N, :N] = c[:, 0]
    M[:, N, N] = ct
    sol = solve_or_nan(M, m.concatenate([r[:, 0], rb[:, None, :]], axis=1), m)
    with np.errstate(all="ignore"):
        singular = singular_pivots(_pivots(M, m), m.abs(M).max(axis=(1, 2)), N + 1, m)
    sol = m.where(singular[:, None, None], m.nan, sol)
    if want_sign:
        with np.errstate(all="ignore"):
            sign = m.linalg.slogdet(M)[0].real
        return sol[:, None, :N], sol[:, N], m.where(m.isfinite(sign), sign, 0.0)
    return sol[:, None, :N], sol[:, N]


def _pivots(a, m):
    """The diagonal (P, n) of the triangular factor of a Householder QR of a (P, n, n)."""
    h, _ = m.linalg.qr(a, mode="raw")  # R is the upper triangle of h^T: the same diagonal
    return m.diagonal(h, axis1=-2, axis2=-1)


def _scale(A, g, c, ct, m):
    """The largest entry (P,) in modulus of the bordered matrix (its identity blocks included)."""
    return m.maximum(m.maximum(m.abs(A).max(axis=(1, 2, 3)), m.abs(g).max(axis=(1, 2))),
                     m.maximum(m.maximum(m.abs(c).max(axis=(1, 2)), m.abs(ct)), 1.0))


def _first_block(A, g, c, ct, r, rb, m, width: int):
    """The working block S (P, 2N + 1, width) before the first elimination: layer 0's rows and the
    border row (its entries on the layers not reached yet kept as one rank-one factor)."""
    P, L, N, _ = A.shape
    n2, n3 = 2 * N, 3 * N
    rhs0 = n3 + 2
    S = m.zeros((P, n2 + 1, width))
    S[:, :N, :N] = -m.eye(N)
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
    return S


def _eliminate(A, g, c, ct, r, rb, m, want_sign: bool):
    """Eliminate layers 0..L-2 by Householder QR; returns the saved rows (P, L-1, N, width), the
    remaining arrow block S and the reflector scalars (or None)."""
    P, L, N, _ = A.shape
    k = r.shape[-1]
    n2, n3, width = 2 * N, 3 * N, 3 * N + 2 + k
    rhs0 = n3 + 2
    eye = m.eye(N)
    # the rows of layers 1..L-1 (index 0 unused); in the last one du_l is du_{L-1}, an arrow column
    rows = m.zeros((P, L, N, width))
    rows[..., :N] = A
    rows[..., N:n2] = -eye
    rows[..., n3] = g
    rows[..., rhs0:] = r
    rows[:, L - 1, :, N:n2] = 0.0
    rows[:, L - 1, :, n2:n3] = -eye
    S = _first_block(A, g, c, ct, r, rb, m, width)
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
    return saved, S, taus


def bordered_solve(A, g, c, ct, r, rb, m, *, want_sign: bool = False):
    """Solve the bordered cyclic system for (du, dt), batched over P.

    Equations: ``-du_l + A_l du_{l-1} + g_l dt = r_l`` (l = 0..L-1, du_{-1} = du_{L-1}) and
    ``sum_l c_l . du_l + ct dt = rb``; shapes A (P, L, N, N), g, c (P, L, N), ct (P,), and k
    right-hand sides r (P, L, N, k), rb (P, k). Returns du (P, L, N, k) and dt (P, k); NaN
    where the system is singular; with ``want_sign`` also the sign of the matrix's determinant
    (P,) up to a factor that depends on L and N only (the orientation of a continuation curve).

    Block elimination by Householder QR (see the package doc). Columns are ordered
    ``[du_l | du_{l+1} | du_{L-1}, dt | w | rhs]``: the rows of layer l + 1 are stacked under the
    N + 1 rows left from the previous step (the border row travels with them, its entries on the
    layers not reached yet kept as one rank-one factor ``w``), the column block of du_l is
    triangularised, and its N rows are kept for the back substitution.
    """
    P, L, N, _ = A.shape
    k = r.shape[-1]
    if L == 1:
        return _solve_one_layer(A, g, c, ct, r, rb, m, want_sign)
    n2, n3 = 2 * N, 3 * N
    rhs0 = n3 + 2
    saved, S, taus = _eliminate(A, g, c, ct, r, rb, m, want_sign)
    sign = m.ones(P)
    if want_sign:
        # det Q = (-1)^(number of Householder reflectors), det R_l = product of its diagonal
        sign = sign * (1.0 - 2.0 * ((taus != 0).sum(axis=(1, 2)) % 2))
        sign = sign * m.sign(m.diagonal(saved[..., :N], axis1=-2, axis2=-1)).prod(axis=(1, 2))
    with np.errstate(all="ignore"):
        arrow = solve_fast(S[:, :N + 1, n2:n3 + 1], S[:, :N + 1, rhs0:], m)  # (du_{L-1}, dt) x k
        du = m.empty((P, L, N, k))
        du[:, L - 1] = arrow[:, :N]
        sigma = m.zeros((P, 1, k))  # sum_{l + 2 <= j <= L - 2} c_j . du_j
        known = saved[..., rhs0:] - m.matmul(saved[..., n2:n3 + 1], arrow[:, None])  # every layer at once
        for layer in range(L - 2, -1, -1):
            blk = saved[:, layer]
            rhs = known[:, layer] - blk[..., n3 + 1, None] * sigma - m.matmul(blk[..., N:n2], du[:, layer + 1])
            if layer + 1 <= L - 2:
                sigma = sigma + (c[:, layer + 1, :, None] * du[:, layer + 1]).sum(axis=1, keepdims=True)
            du[:, layer] = solve_fast(blk[..., :N], rhs, m)
        bad = ~(m.isfinite(arrow).all(axis=1) & m.isfinite(du).all(axis=(1, 2)))  # (P, k)
        pivots = m.concatenate([m.diagonal(saved[..., :N], axis1=-2, axis2=-1).reshape(P, -1),
                                _pivots(S[:, :N + 1, n2:n3 + 1], m)], axis=1)
        bad |= singular_pivots(pivots, _scale(A, g, c, ct, m), L * N + 1, m)[:, None]
        if want_sign:
            sign = sign * m.linalg.slogdet(S[:, :N + 1, n2:n3 + 1])[0].real
    du = m.where(bad[:, None, None, :], m.nan, du)
    if want_sign:
        return du, m.where(bad, m.nan, arrow[:, N]), m.where(m.isfinite(sign), sign, 0.0)
    return du, m.where(bad, m.nan, arrow[:, N])


def unit_rows(y, m):
    """Rows of y (P, D) scaled to unit length; NaN rows where that is impossible."""
    with np.errstate(all="ignore"):
        norm = m.sqrt((y * y).sum(axis=1))
        out = y / norm[:, None]
    return m.where((m.isfinite(out).all(axis=1) & (norm > 0))[:, None], out, m.nan)


def tangent(A, g, tau, m):
    """Unit tangent of the curve at a point, the solution of [G_y; tau^T] y' = e_last normalised
    (its orientation agrees with ``tau``'s), and the sign of that matrix's determinant. tau (P, D)."""
    P, L, N, _ = A.shape
    du, dt, sign = bordered_solve(A, g, tau[:, :-1].reshape(P, L, N), tau[:, -1], m.zeros((P, L, N, 1)),
                                  m.ones((P, 1)), m, want_sign=True)
    return unit_rows(m.concatenate([du[..., 0].reshape(P, L * N), dt], axis=1), m), sign


class LayerArcs:
    """The per-arc data of a batch of P arcs: their network's W (P, L, N, N) and b (P, L, N)."""

    def __init__(self, W, b, phi, m):
        self.W, self.b, self.phi, self.m = W, b, phi, m
        self.P, self.L, self.N = b.shape

    def take(self, idx) -> LayerArcs:
        """The arcs ``idx`` (an index array on the backend)."""
        out = LayerArcs.__new__(LayerArcs)
        out.W, out.b, out.phi, out.m = self.W[idx], self.b[idx], self.phi, self.m
        out.P, out.L, out.N = int(idx.shape[0]), self.L, self.N
        return out

    def system(self, y, **options):
        """:func:`layer_system` at the points y (P, L N + 1) = (v, log t)."""
        P, L, N = y.shape[0], self.L, self.N
        return layer_system(self.W, self.b, self.phi, y[:, :-1].reshape(P, L, N), y[:, -1], self.m, **options)


def refine(arcs: LayerArcs, vl, log_t, max_iter: int = 30):
    """Newton on G(v, log_t) = 0 at fixed log t (P,) from v (P, L, N), keeping the best iterate.

    Returns (v, max ``|G|``, ok): ``ok`` where every ``|G|`` is within ``REFINE_TOL`` of its rounding
    floor (see :func:`layer_system`), i.e. v is a root of the layer equations to rounding."""
    m = arcs.m
    P, L, N = vl.shape
    zero_c = m.zeros((P, L, N))
    best_v, best, best_raw = vl, m.full(P, m.inf), m.full(P, m.inf)
    for _ in range(max_iter + 1):
        G, A, g, floor = layer_system(arcs.W, arcs.b, arcs.phi, vl, log_t, m, with_floor=True)
        raw = m.abs(G).max(axis=(1, 2))
        excess = m.maximum(m.abs(G) - floor, 0.0).max(axis=(1, 2))
        excess = m.where(m.isfinite(raw), excess, m.inf)
        better = (excess < best) | ((excess == best) & (raw < best_raw))
        best_v = m.where(better[:, None, None], vl, best_v)
        best = m.where(better, excess, best)
        best_raw = m.where(better, raw, best_raw)
        if bool(~better.any() | (best_raw <= 1e-15).all()):  # one sync per iteration
            break
        dv = bordered_solve(A, g, zero_c, m.ones(P), -G[..., None], m.zeros((P, 1)), m)[0][..., 0]
        vl = vl + m.where(m.isfinite(dv), dv, 0.0)
    return best_v, best_raw, best <= REFINE_TOL


def newton_distance(arcs: LayerArcs, vl):
    """The Newton estimate of the distance, in x = phi(z_L), from the roots v (P, L, N) of the
    layer equations at t = 1 to the exact fixed points: ``|dphi/dv (v_L) dv_L|_inf`` with
    ``dv = -G_v^-1 G``. The analogue, in the layer variables, of the census's x-space
    ``|(I - J)^-1 (F(x) - x)|_inf``, but free of the rounding that a steep F adds to F(x) - x."""
    m = arcs.m
    P, L, N = vl.shape
    G, A, g = layer_system(arcs.W, arcs.b, arcs.phi, vl, m.zeros(P), m)
    dv = bordered_solve(A, g, m.zeros((P, L, N)), m.ones(P), -G[..., None], m.zeros((P, 1)), m)[0][..., 0]
    v_last = m.clip(vl[:, L - 1], -V_CLIP, V_CLIP)
    with np.errstate(all="ignore"):
        dx = arcs.phi.derivative(m.sinh(v_last), m) * m.cosh(v_last) * dv[:, L - 1]
        out = m.abs(dx).max(axis=1)
    return m.where(m.isfinite(out), out, m.inf)
