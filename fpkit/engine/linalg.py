"""The engine's batched linear solves, and the one test that calls a system singular.

Every Newton step of the engine solves small batched systems: ``(J - I) dx = x - F(x)`` in x
(:func:`~fpkit.engine.polish`, :func:`~fpkit.engine.newton_search`, the multiple-shooting search and
the census's error estimate), and the block-elimination pivots of the bordered layer system of the
continuation (:mod:`fpkit.engine.continuation`). Three ways to treat a singular item, one per use:

* :func:`solve_or_zero`: a zero step (a Newton iteration then stays where it is and its line search
  or patience decides);
* :func:`solve_or_nan`: NaN (the continuation refuses the step and retries shorter);
* :func:`newton_correction`: an infinite correction (the census's error estimate: "not certified").

**When a system is singular.** An exactly singular matrix is singular in exact arithmetic only;
after rounding its pivots are rounding noise, zero on one BLAS kernel and 1e-17 on another, and a
solver that tests for an exact zero answers NaN on the first and 1e16 on the second.
:func:`singular_pivots` therefore compares the pivots of a triangular factor with the matrix's
scale: a pivot at most ``n * eps * scale`` (n the order of the whole system, eps the float64
machine epsilon) is zero to working precision, the test LAPACK's rank decisions and
``numpy.linalg.matrix_rank`` use (Golub & Van Loan, *Matrix Computations*, 4th ed., sec. 5.4).
Since a triangular factor R of a QR factorisation has the singular values of the matrix, and
``sigma_min(R) <= min_i |R_ii|``, a small pivot proves the matrix numerically singular on any
kernel.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EPS", "newton_correction", "singular_pivots", "solve_fast", "solve_or_nan", "solve_or_zero"]

#: float64 machine epsilon (the unit of the singularity test).
EPS = float(np.finfo(np.float64).eps)


def singular_pivots(pivots, scale, order: int, m):
    """Items whose triangular factor has a pivot at most ``order * EPS * scale`` (or not finite).

    Parameters
    ----------
    pivots : array (P, n)
        The diagonal entries of the triangular factors, per item.
    scale : array (P,)
        The size of each item's whole matrix (e.g. its largest entry in modulus).
    order : int
        The order of the whole system the factors belong to.
    m : module
        numpy or cupy.

    Returns
    -------
    bool array (P,)
    """
    with np.errstate(invalid="ignore"):
        small = m.abs(pivots) <= (order * EPS) * scale[:, None]
    return small.any(axis=1) | ~m.isfinite(pivots).all(axis=1)


def solve_or_zero(a, b, m):
    """Solve ``a x = b``, batched (a (..., n, n), b (..., n)); singular or non-finite systems give a
    zero ``x`` instead of an exception (a Newton iteration then stays where it is)."""
    try:
        out = m.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = m.zeros_like(b)
        flat_a = a.reshape(-1, *a.shape[-2:])
        flat_b = b.reshape(-1, b.shape[-1])
        flat_o = out.reshape(-1, b.shape[-1])
        for i in range(flat_a.shape[0]):  # only after NumPy found a singular item: find which
            try:
                flat_o[i] = m.linalg.solve(flat_a[i], flat_b[i])
            except np.linalg.LinAlgError:
                pass
    # a nearly singular system can give an inf/NaN step (CuPy does not raise): no step there
    return m.where(m.isfinite(out).all(axis=-1, keepdims=True), out, 0.0)


def solve_or_nan(a, b, m):
    """Solve ``a x = b`` (a (P, n, n), b (P, n, k)); singular or non-finite systems give NaN rows
    (never an exception or a warning)."""
    finite = m.isfinite(a).all(axis=(1, 2)) & m.isfinite(b).all(axis=(1, 2))
    a = m.where(finite[:, None, None], a, m.eye(a.shape[-1]))
    b = m.where(finite[:, None, None], b, 0.0)
    out = m.empty(b.shape)
    with np.errstate(all="ignore"):
        for j in range(b.shape[-1]):
            out[..., j] = solve_or_zero(a, b[..., j], m)
        # solve_or_zero gives a zero step where the system is singular: detect those by the residual
        res = m.abs(m.matmul(a, out) - b).max(axis=(1, 2))
        scale = m.abs(a).max(axis=(1, 2)) * m.abs(out).max(axis=(1, 2)) + m.abs(b).max(axis=(1, 2))
    ok = finite & m.isfinite(res) & (res <= 1e-6 * m.maximum(scale, 1e-300))
    return m.where(ok[:, None, None], out, m.nan)


def solve_fast(a, b, m):
    """Solve ``a x = b`` (a (P, n, n), b (P, n, k)) in one batched call; where NumPy finds an exactly
    singular item, item by item through :func:`solve_or_nan`. Near-singular items are the caller's
    to detect (:func:`singular_pivots`)."""
    try:
        return m.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return solve_or_nan(a, b, m)


def newton_correction(jac, g):
    """The Newton correction ``(I - J)^-1 g`` per item (NumPy; jac (P, N, N), g (P, N)), the estimate
    of the distance from x to the exact fixed point where ``g = F(x) - x``.

    Where the batch holds an exactly singular ``I - J`` every correction is ``inf`` (no estimate).
    """
    N = jac.shape[-1]
    with np.errstate(all="ignore"):
        try:
            return np.linalg.solve(np.eye(N) - jac, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            return np.full(g.shape, np.inf)
