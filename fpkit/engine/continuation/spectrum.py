"""The spectrum of a fixed point from its layers: the index and the eigenvalues of J_F = D_L W_L ... D_1 W_1
from the block-cyclic matrix of the layer Jacobians, for points so steep that the product drowns them.

The block-cyclic matrix C (blocks A_l = D_l W_l at (l, l - 1)) is similar to the layer Jacobian, its
determinant gives ``det(I - C) = det(I - J_F)`` (:func:`cyclic_index`), and the L-th powers of its
eigenvalues are those of J_F (:func:`cyclic_eigenvalues`); its blocks have moderate norms where the
product can exceed 1e16. :func:`layer_jacobian_eigenvalues` uses it where the product fails.
"""

from __future__ import annotations

import numpy as np

from ...backend import single_threaded_blas, to_numpy
from ...network import Ensemble, check_ensemble
from ..completeness import fixed_point_index
from .system import layer_system

__all__ = ["cyclic_eigenvalues", "cyclic_index", "cyclic_matrix", "layer_jacobian_eigenvalues"]


def cyclic_matrix(A, m):
    """The dense (P, LN, LN) block-cyclic matrix with blocks A_l at (l, l - 1)."""
    P, L, N, _ = A.shape
    C = m.zeros((P, L * N, L * N))
    for layer in range(L):
        prev = (layer - 1) % L
        C[:, layer * N:(layer + 1) * N, prev * N:(prev + 1) * N] += A[:, layer]
    return C


def cyclic_index(A, m):
    """sign det(I - C) of the block-cyclic matrix C of blocks A (P, L, N, N), shape (P,) int.

    C is similar to the layer Jacobian (blocks D_l W_l), and det(I - C) = det(I - J_F): the index
    of the fixed point, computed from the layers (blocks of moderate norm) instead of their
    product, whose norm can exceed 1e16 and drown the eigenvalues near 1 in rounding."""
    P, L, N, _ = A.shape
    eye = m.eye(L * N)
    with np.errstate(all="ignore"):
        sign, logdet = m.linalg.slogdet(eye - cyclic_matrix(A, m))
    sign = to_numpy(sign).real
    return np.where(np.isfinite(to_numpy(logdet)) & (sign != 0), np.sign(sign), 0).astype(int)


def cyclic_eigenvalues(A, m):
    """Eigenvalues (P, N) of J = A_{L-1} ... A_0 from those of the block-cyclic matrix C.

    Each eigenvalue lam of J has its L L-th roots among C's eigenvalues mu, and exactly one of
    them has argument in (-pi/L, pi/L]; lam is its L-th power. Roots of modulus above 1 (``|lam| > 1``,
    the eigenvalues that decide stability and the index) are resolved to rounding in C, whose
    blocks have moderate norms, while the product J can have ``|J| > 1e16`` and drown them. Roots
    below 1 in modulus give ``|lam| < 1`` only: the tiny eigenvalues of saturated directions come
    out of C as perturbed roots of 0 of modulus ~ 1e-16^(1/L), so their L-th powers are bounds,
    not values. NaN rows where a root lies within 1e-7 of the unit circle or the roots of
    modulus above 1 do not come in groups of L.
    """
    P, L, N, _ = A.shape
    C = to_numpy(cyclic_matrix(A, m))
    out = np.full((P, N), np.nan, dtype=complex)
    rows = np.flatnonzero(np.isfinite(C).all(axis=(1, 2)))
    if rows.size == 0:
        return out
    mu = np.linalg.eigvals(C[rows])  # (R, LN), every matrix at once
    r = np.abs(mu)
    theta = np.angle(mu)
    inside = np.abs(theta) < np.pi / L - 1e-8
    edge = (np.abs(np.abs(theta) - np.pi / L) <= 1e-8) & (theta > 0)  # roots of negative lam
    picked = inside | edge
    # real lam: the principal root is real (positive lam) or on the edge (negative lam); its L-th
    # power would carry L times the root's rounding into the imaginary part
    with np.errstate(over="ignore", invalid="ignore"):
        lam = np.where(np.abs(theta) <= 1e-8, r ** L, np.where(np.abs(np.abs(theta) - np.pi / L) <= 1e-8, -r ** L,
                                                                 mu ** L))
    big, small = picked & (r > 1.0), picked & (r < 1.0)
    n_big = (r > 1.0).sum(axis=1)
    ok = ~(np.abs(r - 1.0) < 1e-7).any(axis=1) & (n_big % L == 0) & (big.sum(axis=1) == n_big // L)
    # per row: the picked roots above 1 in their order, then those below 1 by decreasing modulus
    # (stable), cut to N; the rest of the row is 0
    group = np.where(big, 0, np.where(small, 1, 2))
    order = np.lexsort((np.broadcast_to(np.arange(mu.shape[1]), mu.shape), np.where(small, -np.abs(lam), 0.0),
                        group), axis=-1)[:, :N]
    values = np.take_along_axis(lam, order, axis=1)
    filled = np.arange(N) < (big.sum(axis=1) + np.minimum(small.sum(axis=1), N - big.sum(axis=1)))[:, None]
    out[rows[ok]] = np.where(filled, values, 0.0)[ok]
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
    with single_threaded_blas:  # the BLAS thread policy of fpkit's threads (see fpkit.backend)
        out[e_idx, k_idx] = _layer_eigenvalues(ensemble, z, e_idx, k_idx)
    return out


def _layer_eigenvalues(ensemble: Ensemble, z, e_idx, k_idx) -> np.ndarray:
    """Eigenvalues (len(e_idx), N) of J_F from the finite layer states z[e_idx, k_idx] (see
    :func:`layer_jacobian_eigenvalues`)."""
    m = ensemble.array_module
    _, L, N = ensemble.shape
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
    _, A, _ = layer_system(W, b, phi, m.arcsinh(zs), m.zeros(e_idx.size), m)
    index = cyclic_index(A, m)
    bad = np.flatnonzero(~ok | (fixed_point_index(ev) != index) | (index == 0))
    if bad.size:
        alt = cyclic_eigenvalues(A[m.asarray(bad)], m)
        good = np.isfinite(alt).all(axis=1) & (fixed_point_index(alt) == index[bad]) & (index[bad] != 0)
        ev[bad] = np.where(good[:, None], alt, np.nan)
    return ev
