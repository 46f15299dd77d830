"""Spectra of the input-output Jacobian J_F = D_L W_L ... D_1 W_1, sampled.

:func:`jacobian_spectrum` gives the (complex) eigenvalues of J_F and the eigenvalues of J_F J_F^T (squared
singular values) at given points, batched over an :class:`~fpkit.network.Ensemble` (:func:`matrix_spectrum`
for any stack of matrices, ``linear_network_jacobians`` for products of Gaussian matrices);
:func:`spectrum_statistics` reduces them per network to the quantities that bear on fixed points (mass
outside the unit circle, real eigenvalues above 1, spectral radius) and ``empirical_log_potential`` to
``(1/N) log|det(z - J)|``; :func:`preactivations` gives the layers' pre-activations h_l, whose law the theory
predicts; :func:`fixed_point_index_sums` checks the degree argument on a network's fixed points.

The theory these are compared with lives in :mod:`fpkit.theory` (free probability in
:mod:`fpkit.theory.free`, one Cauchy layer in :mod:`fpkit.theory.cavity`, the length and scale maps in
:mod:`fpkit.theory.lengthmap`); its names the chapters use are re-exported here (``sp.FreeJacobianLaw``, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import _validate as v
from .backend import to_numpy
from .engine.result import FixedPoints, fixed_point_index  # noqa: F401  (the index re-exported: chapter 5's bridge)
from .network import Ensemble, NetworkConfig
from .sampling import sample_weights
from .theory.cavity import cavity_jjt_density, cavity_s_transform
from .theory.free import FreeJacobianLaw, fuss_catalan_moment, gaussian_d2_atoms, marchenko_pastur_density
from .theory.lengthmap import cauchy_fixed_scale, cauchy_scale_sequence, preactivation_variances

__all__ = [
    "FreeJacobianLaw",
    "JacobianSpectrum",
    "cauchy_fixed_scale",
    "cauchy_scale_sequence",
    "cavity_jjt_density",
    "cavity_s_transform",
    "empirical_log_potential",
    "fixed_point_index",
    "fixed_point_index_sums",
    "fuss_catalan_moment",
    "gaussian_d2_atoms",
    "jacobian_spectrum",
    "linear_network_jacobians",
    "marchenko_pastur_density",
    "mass_outside",
    "matrix_spectrum",
    "preactivation_variances",
    "preactivations",
    "random_input_spectrum",
    "real_eigenvalue_mask",
    "smoothed_esd",
    "spectrum_statistics",
]

_SQRT_MAX = math.sqrt(np.finfo(np.float64).max)


# ---------------------------------------------------------------------------
# Empirical spectra
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JacobianSpectrum:
    """Spectra of J_F at a batch of points.

    ``eigenvalues`` (complex, shape (E, M, N)) holds the eigenvalues of J_F(x[e, m]); ``sv2``
    (shape (E, M, N)) those of J_F J_F^T (squared singular values), descending.
    """

    eigenvalues: np.ndarray
    sv2: np.ndarray

    @property
    def spectral_radius(self) -> np.ndarray:
        """The largest ``|lambda|`` per point, shape (E, M)."""
        return np.abs(self.eigenvalues).max(axis=-1)

    def pooled(self) -> tuple[np.ndarray, np.ndarray]:
        """All eigenvalues and all squared singular values, flattened."""
        return self.eigenvalues.ravel(), self.sv2.ravel()


def matrix_spectrum(matrices) -> JacobianSpectrum:
    """Eigenvalues of real square matrices ``A`` and of ``A A^T``, shape (..., N, N) -> (..., N).

    LAPACK on the host (:func:`numpy.linalg.eigvals`, :func:`numpy.linalg.svd`); the squared
    singular values are sorted in descending order. The entries must be real and finite, with
    ``N max|A_ij|`` below ``sqrt(float64 max)`` (about 1.3e154) so that ``A A^T`` is finite.
    """
    a = v.check_array(matrices, "matrices", finite=False, complex_ok=True)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"matrices must have shape (..., N, N); got {a.shape}")
    if np.iscomplexobj(a):
        raise ValueError("matrices must be real (Jacobians of real networks)")
    if not np.all(np.isfinite(a)):
        raise ValueError("matrices must be finite (found NaN or inf)")
    if np.abs(a).max(initial=0.0) >= _SQRT_MAX / max(a.shape[-1], 1):
        raise ValueError(f"matrices must have N max|A_ij| < {_SQRT_MAX:.3g} (A A^T overflows float64); got "
                         f"max|A_ij| = {np.abs(a).max():.3g} with N = {a.shape[-1]}")
    sv = np.linalg.svd(a, compute_uv=False)
    return JacobianSpectrum(eigenvalues=np.linalg.eigvals(a), sv2=sv**2)


def jacobian_spectrum(ensemble: Ensemble, x) -> JacobianSpectrum:
    """Eigenvalues of J_F(x) and of J_F(x) J_F(x)^T for every network and point.

    Parameters
    ----------
    ensemble : Ensemble
    x : array, shape (E, M, N)
        Points (random inputs, or fixed points from the engine).

    Returns
    -------
    JacobianSpectrum
        ``eigenvalues`` and ``sv2`` of shape (E, M, N).
    """
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be an Ensemble; got {type(ensemble).__name__}")
    jac = to_numpy(ensemble.jacobian(x))
    if not np.all(np.isfinite(jac)) or np.abs(jac).max(initial=0.0) >= _SQRT_MAX / max(jac.shape[-1], 1):
        raise ValueError(
            f"J_F(x) J_F(x)^T overflows float64 at some points of x (L = {ensemble.depth}); use "
            "Ensemble.forward_with_scaled_jacobian (J_F as a finite matrix times a power of 2) and "
            "Ensemble.jacobian_eigenvalues there"
        )
    return matrix_spectrum(jac)


def preactivations(ensemble: Ensemble, x):
    """The pre-activations ``h_l = W_l x_{l-1} + b_l`` of every layer, for points ``x``.

    Computed on the ensemble's backend with its own activation (``x_l = phi(h_l)``), the same
    layer map as :meth:`~fpkit.network.Ensemble.forward`.

    Parameters
    ----------
    ensemble : Ensemble
        E networks of depth L and width N.
    x : array, shape (E, M, N)
        M >= 1 inputs per network, real and finite (see :meth:`~fpkit.network.Ensemble.check_points`).

    Returns
    -------
    array, shape (E, L, M, N)
        ``h[:, l]`` is the pre-activation of layer ``l + 1``; the last layer's output is
        ``phi(h[:, -1])``, which equals ``ensemble.forward(x)``.
    """
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be an Ensemble; got {type(ensemble).__name__}")
    xp = ensemble.xp
    L = ensemble.depth
    x = ensemble.check_points(x, "x")
    out = []
    for layer in range(L):
        h = xp.matmul(x, xp.swapaxes(ensemble.weights[:, layer], -1, -2)) + ensemble.biases[:, layer, None, :]
        out.append(h)
        x = ensemble.activation(h, xp)
    return xp.stack(out, axis=1)


def real_eigenvalue_mask(eigenvalues) -> np.ndarray:
    """Which eigenvalues of real matrices are real: ``imag == 0``, exactly, no tolerance.

    For a real matrix LAPACK (``dgeev``, behind :func:`numpy.linalg.eigvals` and
    :func:`jacobian_spectrum`) reduces to the real Schur form: a real eigenvalue is a 1 x 1
    block and gets an imaginary part of exactly 0; the 2 x 2 blocks give conjugate pairs with
    non-zero imaginary parts. So the test is exact for eigenvalues computed that way, and it is
    consistent with the sign of ``det(I - J)`` (see :func:`fixed_point_index`): the parity of
    the number of real eigenvalues above 1 is that sign (checked in the tests). A tolerance such
    as ``|imag| < 1e-12`` would instead depend on the scale of J.
    """
    ev = np.asarray(eigenvalues)
    if not np.iscomplexobj(ev):
        return np.ones(ev.shape, dtype=bool)
    return ev.imag == 0


def spectrum_statistics(spectrum: JacobianSpectrum) -> pd.DataFrame:
    """Per network, the statistics of J's eigenvalues that bear on fixed points.

    Parameters
    ----------
    spectrum : JacobianSpectrum
        Eigenvalues of shape (E, M, N), finite: M >= 1 points (e.g. random inputs) per network.

    Returns
    -------
    pandas.DataFrame
        One row per network (E rows): ``network``; ``mass_outside_unit_circle``, the fraction of
        its eigenvalues with modulus above 1 (the ESD's mass outside the unit circle, the
        unstable directions); ``p_real_eigenvalue_above_1``, the fraction of its points at which
        J has a real eigenvalue above 1 (:func:`real_eigenvalue_mask`; an index -1 fixed point
        needs one); ``mean_spectral_radius``, the largest modulus averaged over its points.
    """
    if not isinstance(spectrum, JacobianSpectrum):
        raise TypeError(f"spectrum must be a JacobianSpectrum; got {type(spectrum).__name__}")
    ev = v.check_array(spectrum.eigenvalues, "spectrum.eigenvalues", complex_ok=True)
    if ev.ndim != 3 or ev.shape[1] < 1 or ev.shape[2] < 1:
        raise ValueError(f"spectrum.eigenvalues must have shape (E, M, N) with M, N >= 1; got {ev.shape}")
    modulus = np.abs(ev)
    real_above = np.any(real_eigenvalue_mask(ev) & (ev.real > 1.0), axis=-1)
    return pd.DataFrame({"network": np.arange(ev.shape[0]),
                         "mass_outside_unit_circle": (modulus > 1.0).mean(axis=(1, 2)),
                         "p_real_eigenvalue_above_1": real_above.mean(axis=1),
                         "mean_spectral_radius": (modulus.max(axis=-1) / ev.shape[1]).sum(axis=1)})


def fixed_point_index_sums(result) -> pd.DataFrame:
    """Per network: the sum of the indices of the fixed points found, and what it says.

    By the degree argument of :func:`fixed_point_index` the indices of *all* fixed points of a
    network sum to 1, so ``index_sum != 1`` means the search missed some (``index_sum > 1``: one
    of index -1, a saddle, is missing).

    Parameters
    ----------
    result : FixedPoints
        From :func:`~fpkit.engine.find_fixed_points` (best with ``newton=True``: iteration
        alone finds only attractors).

    Returns
    -------
    pandas.DataFrame
        One row per network (all E of them, also those with no fixed point found):
        ``network``, ``index_sum``, ``index_complete`` (``index_sum == 1``), ``fixed_points``,
        ``index_minus`` (fixed points of index -1), ``stable_fixed_points``.
    """
    if not isinstance(result, FixedPoints):
        raise TypeError(f"result must be a FixedPoints; got {type(result).__name__}")
    idx = result.index
    E = result.n_networks
    net = np.asarray(result.fp_network)
    sums = result.index_sum()
    return pd.DataFrame({"network": np.arange(E), "index_sum": sums, "index_complete": sums == 1,
                         "fixed_points": np.bincount(net, minlength=E),
                         "index_minus": np.bincount(net[idx == -1], minlength=E),
                         "stable_fixed_points": np.bincount(net[np.asarray(result.stable)], minlength=E)})


def mass_outside(eigenvalues, radius: float = 1.0) -> float:
    """Fraction of the eigenvalues with modulus above ``radius`` (the ESD's mass outside the circle)."""
    radius = v.check_real(radius, "radius", low=0.0)
    ev = v.check_array(eigenvalues, "eigenvalues", finite=False, complex_ok=True).ravel()
    if ev.size == 0:
        raise ValueError("eigenvalues must not be empty")
    if np.isnan(ev).any():
        raise ValueError("eigenvalues must not contain NaN")
    return float(np.mean(np.abs(ev) > radius))


def smoothed_esd(values, x, eta: float = 0.05) -> np.ndarray:
    """The empirical ESD of ``values`` seen at ``z = x (1 + i eta)``: ``Im mean 1/(v - z) / pi``.

    This is what :func:`cavity_jjt_density` returns for the theory, so the two compare at the
    same spectral parameter (the ESD convolved with the same Lorentzian), without binning.
    """
    vals = v.check_array(values, "values").ravel()
    x = v.check_array(x, "x", finite=False)
    if vals.size == 0:
        raise ValueError("values must not be empty")
    if x.size == 0 or np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError("x must be a non-empty array of finite numbers > 0")
    eta = v.check_real(eta, "eta", low=1e-12, high=1e6)
    z = x.ravel() * (1.0 + 1j * eta)
    with np.errstate(all="ignore"):
        out = np.array([np.mean(1.0 / (vals - zi)).imag / np.pi for zi in z])
    if not np.all(np.isfinite(out)):
        raise ValueError("values and x must keep 1 / (values - x (1 + i eta)) within float64 (their "
                         "magnitudes are too far apart)")
    return out.reshape(x.shape)


def linear_network_jacobians(L: int, N: int, n_networks: int = 1, *, sigma_w: float = 1.0, seed: Any) -> np.ndarray:
    """Jacobians ``J = W_L ... W_1`` of linear networks: products of L square Gaussian matrices.

    The weights are :func:`~fpkit.sampling.sample_weights` ``("gaussian", (n_networks, L, N, N),
    scale=sigma_w, seed=seed)`` (on the default backend, then on the host), variance ``sigma_w^2 / N``; the product of L of them is the Jacobian of
    a linear network, and ``sigma_w = tau^(1/L)`` gives ``tau X`` for X a product of L Ginibre matrices of
    variance 1/N. Their spectra follow ``FreeJacobianLaw.linear``.

    Returns
    -------
    ndarray, shape (n_networks, N, N)
    """
    L = v.check_int(L, "L", minimum=1)
    N = v.check_int(N, "N", minimum=1)
    n_networks = v.check_int(n_networks, "n_networks", minimum=1)
    sigma_w = v.check_real(sigma_w, "sigma_w", low=0.0, low_open=True)
    v.check_memory(8 * (L + 2) * n_networks * N * N, f"n_networks * L * N^2 = {n_networks * L * N * N} weights")
    W = to_numpy(sample_weights("gaussian", (n_networks, L, N, N), scale=sigma_w, seed=seed))
    J = W[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(1, L):
            J = W[:, layer] @ J
    if not np.all(np.isfinite(J)):
        raise ValueError(f"the product of L = {L} matrices overflows float64 at sigma_w = {sigma_w:g}; use a smaller "
                         "sigma_w or fewer layers")
    return J


def empirical_log_potential(spectrum: JacobianSpectrum, z: float = 1.0) -> np.ndarray:
    """Per network, ``(1/N) log|det(z - J)| = mean_i log|z - lambda_i|``, averaged over its points.

    At z = 1 it is the exponent of ``|det(I - J)|``, the determinant in the Kac-Rice formula: the sampled
    counterpart of :meth:`fpkit.theory.free.FreeJacobianLaw.log_potential` and
    :meth:`fpkit.theory.spectral_route.LayerSpectrum.log_potential`.

    Parameters
    ----------
    spectrum : JacobianSpectrum
        Eigenvalues of shape (E, M, N), finite.
    z : float
        A real number.

    Returns
    -------
    ndarray, shape (E,)
        ``-inf`` for a network whose J has the eigenvalue z at one of its points.
    """
    if not isinstance(spectrum, JacobianSpectrum):
        raise TypeError(f"spectrum must be a JacobianSpectrum; got {type(spectrum).__name__}")
    ev = v.check_array(spectrum.eigenvalues, "spectrum.eigenvalues", complex_ok=True)
    if ev.ndim != 3 or ev.shape[1] < 1 or ev.shape[2] < 1:
        raise ValueError(f"spectrum.eigenvalues must have shape (E, M, N) with M, N >= 1; got {ev.shape}")
    z = v.check_real(z, "z")
    with np.errstate(divide="ignore"):
        return np.log(np.abs(z - ev)).mean(axis=(1, 2))


def random_input_spectrum(config: NetworkConfig, n_networks: int, n_points: int, *, seed: Any) -> JacobianSpectrum:
    """Spectra of J_F for ``n_networks`` random networks of ``config`` at ``n_points`` random inputs each.

    The networks are ``Ensemble.sample(config, n_networks, seed=seed)`` and the inputs
    ``uniform_starts(ensemble, n_points, seed=seed)`` (uniform in the activation's box; both generators
    made afresh from the same seed, as chapter 5 draws them, so its numbers are reproduced).

    Returns
    -------
    JacobianSpectrum
        ``eigenvalues`` and ``sv2`` of shape (n_networks, n_points, N).
    """
    from .engine.starts import uniform_starts

    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    n_networks = v.check_int(n_networks, "n_networks", minimum=1)
    n_points = v.check_int(n_points, "n_points", minimum=1)
    v.check_memory(48 * n_networks * n_points * config.N * (config.N + config.L),
                   f"n_networks * n_points = {n_networks * n_points} Jacobians of size {config.N}")
    ensemble = Ensemble.sample(config, n_networks, seed=seed)
    return jacobian_spectrum(ensemble, uniform_starts(ensemble, n_points, seed=seed))
