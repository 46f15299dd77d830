"""One Cauchy layer J = D W in the limit N -> infinity: the cavity equation on the Poisson weighted tree.

With Cauchy weights ``W = (s / N) C`` the variance is infinite and free probability fails. The local limit of
such a matrix is the bipartite Poisson weighted infinite tree (Cizeau & Bouchaud 1994; Bordenave, Caputo &
Chafai 2011): a unit has O(1) weights ``|w| >= t`` with intensity ``(2 s / pi) t^-2``, and on a tree the
resolvent of the Hermitisation ``H = [[0, J], [J^T, 0]]`` obeys ``G_v = -1 / (zeta + sum_c J_vc^2 G_c)``
over the children c of v. A row unit i has ``J_ic = d_i w_ic`` with ``d_i = phi'(h_i)``,
``h_i = sum_c w_ic x_c + b_i``: its derivative depends on its own large weights, a correlation free
probability ignores and which matters here (a large weight saturates the unit). Both solvers below run
the same population dynamics (``_Tree`` draws the rows and columns of a sweep):
:func:`cavity_jjt_density` at complex spectral parameters (the density of J J^T), and
:func:`cavity_s_transform` at negative real ones (the S-transform, for the Haagerup-Larsen eigenvalue law).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validate as v
from ..activations import get_activation
from ..backend import make_rng
from ..network import NetworkConfig
from .lengthmap import cauchy_fixed_scale, cauchy_weight_scales, uniform_input_moments
from .quadrature import cauchy_expectation

__all__ = ["cavity_jjt_density", "cavity_s_transform"]


def _positive_points(values, name: str) -> np.ndarray:
    arr = v.check_array(values, name, finite=False)
    if arr.size == 0 or np.any(~np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be a non-empty array of finite numbers > 0")
    return arr


class _Tree:
    """The population dynamics of one Cauchy layer: checked options, the generator, and one sweep's draws.

    A sweep draws new rows (their children are columns: ``h = sum w x + noise + bias``) and new columns
    (their children are rows, whose h includes the edge to the column). Weights below ``cutoff`` are
    summed in the mean: their number is large, each is small.
    """

    def __init__(self, s, beta, phi, n_points, *, population, sweeps, burn_in, cutoff, seed, what):
        self.s, self.beta, self.phi = s, beta, phi
        self.P = v.check_int(population, "population", minimum=10)
        self.sweeps = v.check_int(sweeps, "sweeps", minimum=2)
        self.burn_in = v.check_int(burn_in, "burn_in", minimum=0)
        if self.burn_in >= self.sweeps:
            raise ValueError(f"burn_in must be < sweeps ({self.sweeps}); got {self.burn_in}")
        self.cutoff = v.check_real(cutoff, "cutoff", low=0.0, high=1e3, low_open=True)
        self.rng = make_rng(seed, np)
        v.check_memory(16 * 8 * n_points * self.P, f"population * {what}.size = {self.P} * {n_points} numbers")
        self.lam = 2.0 * s / (np.pi * self.cutoff)  # mean number of weights above the cutoff
        if self.lam * self.P > 1e8:
            raise ValueError(f"cutoff = {self.cutoff:g} is too small: about {self.lam * self.P:.3g} explicit "
                             f"weights per sweep (population {self.P}); use cutoff >= "
                             f"{2.0 * s * self.P / (math.pi * 1e8):.3g}")
        self.small = 2.0 * s * self.cutoff / np.pi  # sum of w^2 over the weights below the cutoff (per unit)

    def weights(self):
        """The explicit weights of P units: owner index, each owner's first and end index, and the weights."""
        rng = self.rng
        counts = rng.poisson(self.lam, self.P)
        ends = np.cumsum(counts)
        owner = np.repeat(np.arange(self.P), counts)
        w = self.cutoff / rng.uniform(size=owner.size) * rng.choice([-1.0, 1.0], size=owner.size)
        return owner, ends - counts, ends, w

    def bias(self, n):
        return self.beta * self.rng.standard_cauchy(n) if self.beta > 0 else np.zeros(n)

    def rows(self, xcol, ex2):
        """New rows with children among the columns ``xcol``: (owner, starts, ends, w, pick, h)."""
        owner, starts, ends, w = self.weights()
        pick = self.rng.integers(0, self.P, owner.size)
        h = (np.bincount(owner, w * xcol[pick], self.P) + math.sqrt(self.small * ex2) * self.rng.standard_normal(self.P)
             + self.bias(self.P))
        return owner, starts, ends, w, pick, h

    def columns(self, hrow, draw_inputs):
        """New columns with children among the rows: (owner, starts, ends, w, pick, new inputs, d^2 of the
        children, whose pre-activation includes the edge to the column)."""
        owner, starts, ends, w = self.weights()
        pick = self.rng.integers(0, self.P, owner.size)
        xnew = draw_inputs(self.P)
        d2 = self.phi.derivative(w * xnew[owner] + hrow[pick], np) ** 2
        return owner, starts, ends, w, pick, xnew, d2


def cavity_jjt_density(
    config: NetworkConfig,
    x,
    *,
    eta: float = 0.05,
    population: int = 4000,
    sweeps: int = 40,
    burn_in: int = 15,
    cutoff: float = 0.02,
    seed: Any,
):
    """Density of J J^T for ONE Cauchy layer J = D W (N -> infinity), by population dynamics.

    Rows carry ``(S, h)`` = (sum over children of w^2 G, sum of w x + bias), columns carry ``(T, x)``; the
    recursion is that of the module docstring, at ``zeta = sqrt(x (1 + i eta))``.

    Parameters
    ----------
    config : NetworkConfig
        ``law="cauchy"``, ``convention="fan_in"``; only layer 1 is modelled (inputs uniform on
        the activation's range).
    x : array of float > 0
        Where the density is evaluated.
    eta : float
        Imaginary part of the spectral parameter relative to x: the density at x is smoothed
        over a relative width eta (the spectrum spans many decades, so a relative width).
    population, sweeps, burn_in : int
        Population size, number of sweeps, sweeps discarded before averaging.
    cutoff : float
        Smallest weight kept explicitly.
    seed : int or Generator

    Returns
    -------
    ndarray, shape like ``x``
    """
    s, beta = cauchy_weight_scales(config)
    phi = get_activation(config.activation, sigmoid_type=True)
    x = _positive_points(x, "x")
    eta = v.check_real(eta, "eta", low=0.0, low_open=True)
    tree = _Tree(s, beta, phi, x.size, population=population, sweeps=sweeps, burn_in=burn_in, cutoff=cutoff,
                 seed=seed, what="x")
    P, rng, small = tree.P, tree.rng, tree.small
    flat = x.ravel()
    zeta = np.sqrt(flat * (1.0 + 1j * eta))  # (K,), Im > 0
    K = flat.size
    lo, hi = phi.low, phi.high
    ex2 = uniform_input_moments(phi)[1]

    def csum(owner, vals):  # per-owner sum of a complex vector
        return np.bincount(owner, vals.real, P) + 1j * np.bincount(owner, vals.imag, P)

    S = np.zeros((K, P), dtype=complex)  # rows: sum over children of w^2 G_child
    T = np.zeros((K, P), dtype=complex)  # columns: sum over children of (d w)^2 G_child
    xcol = rng.uniform(lo, hi, P)
    rng.standard_cauchy(P)  # initial rows' pre-activations, never read (the first sweep draws the rows anew):
    tree.bias(P)  # drawn only to keep the random stream, and so the results, of earlier versions
    acc = np.zeros(K, dtype=complex)
    n_acc = 0
    for sweep in range(tree.sweeps):
        owner_r, _, _, w_r, pick_r, hrow = tree.rows(xcol, ex2)
        d2_root = phi.derivative(hrow, np) ** 2  # a row without parent (the root)
        owner_c, _, _, w_c, pick_c, xnew, d2_child = tree.columns(hrow, lambda n: rng.uniform(lo, hi, n))
        for k in range(K):
            Gc = -1.0 / (zeta[k] + T[k])
            S[k] = csum(owner_r, w_r**2 * Gc[pick_r]) + small * Gc.mean()
            G_root = -1.0 / (zeta[k] + d2_root * S[k])
            if sweep >= tree.burn_in:
                acc[k] += G_root.mean()
            Gr = -1.0 / (zeta[k] + d2_child * S[k][pick_c])
            T[k] = csum(owner_c, d2_child * w_c**2 * Gr) + small * (d2_root * G_root).mean()
        xcol = xnew
        if sweep >= tree.burn_in:
            n_acc += 1
    g_row = acc / n_acc  # diagonal resolvent of H at a row unit
    g = g_row / zeta  # E (JJ^T - zeta^2)^-1_ii
    return (g.imag / np.pi).reshape(x.shape)


def cavity_s_transform(
    config: NetworkConfig,
    y,
    *,
    input_scale: float | None = None,
    population: int = 3000,
    sweeps: int = 30,
    burn_in: int = 10,
    cutoff: float = 0.02,
    seed: Any,
):
    """S-transform of J J^T for ONE Cauchy layer J = D W (N -> infinity), from the cavity equation.

    The same bipartite Poisson-weighted-tree recursion as :func:`cavity_jjt_density`, solved at the
    negative real spectral parameter ``zeta^2 = -y`` (``zeta = i sqrt(y)``), where every resolvent
    is purely imaginary, ``G = i g``, and the recursion is real and positive::

        g_v = 1 / (sqrt(y) + sum_{c child of v} J_vc^2 g_c).

    It gives ``g(y) = E[(J J^T + y)^-1]_ii`` and with it, for ``psi(u) = int u t / (1 - u t) dmu``,
    ``psi(-1/y) = -1 + y g(y)``; so ``w = -1 + y g`` and ``S(w) = g / (1 - y g)``. In the
    Haagerup-Larsen form that is ``t = y g`` and ``r(t)^2 = 1 / S = (1 - y g) / g``.

    Parameters
    ----------
    config : NetworkConfig
        ``law="cauchy"``, ``convention="fan_in"``, Cauchy biases or none.
    y : array of float > 0
    input_scale : float, optional
        The layer's inputs are ``phi(input_scale * C)``, C standard Cauchy (i.i.d.); default
        :func:`~fpkit.theory.lengthmap.cauchy_fixed_scale`, the inputs of every layer along a fixed
        point's orbit.
    population, sweeps, burn_in, cutoff, seed
        As in :func:`cavity_jjt_density`.

    Returns
    -------
    w, log_s : ndarrays, shape like ``y``
    """
    s, beta = cauchy_weight_scales(config)
    phi = get_activation(config.activation, sigmoid_type=True)
    y = _positive_points(y, "y")
    gam_in = cauchy_fixed_scale(config) if input_scale is None else v.check_real(
        input_scale, "input_scale", low=0.0, low_open=True)
    tree = _Tree(s, beta, phi, y.size, population=population, sweeps=sweeps, burn_in=burn_in, cutoff=cutoff,
                 seed=seed, what="y")
    P, rng, small = tree.P, tree.rng, tree.small
    eta = np.sqrt(y.ravel())[:, None]  # (K, 1)
    K = eta.shape[0]
    ex2 = cauchy_expectation(lambda h: phi.numpy(h) ** 2, gam_in, kinks=phi.kinks)[0]
    mean_abs = cauchy_expectation(lambda h: np.abs(phi.numpy(h)), gam_in, kinks=phi.kinks)[0]

    def inputs(n):
        return phi(gam_in * rng.standard_cauchy(n), np)

    def owner_sums(vals, starts, ends):  # (K, E) -> (K, P): per-owner sums of positive values
        c = np.concatenate([np.zeros((vals.shape[0], 1)), np.cumsum(vals, axis=1)], axis=1)
        return c[:, ends] - c[:, starts]

    S = np.zeros((K, P))
    T = np.zeros((K, P))
    xcol = inputs(P)
    acc = np.zeros(K)
    n_acc = 0
    for sweep in range(tree.sweeps):
        _, st_r, en_r, w_r, pick_r, hrow = tree.rows(xcol, ex2)
        if sweep == 0:
            hrow = s * mean_abs * rng.standard_cauchy(P) + tree.bias(P)
        d2_root = phi.derivative(hrow, np) ** 2
        _, st_c, en_c, w_c, pick_c, xnew, d2_child = tree.columns(hrow, inputs)
        gc = 1.0 / (eta + T)  # columns (children of rows)
        S = owner_sums(w_r**2 * gc[:, pick_r], st_r, en_r) + small * gc.mean(axis=1, keepdims=True)
        g_root = 1.0 / (eta + d2_root * S)
        if sweep >= tree.burn_in:
            acc += g_root.mean(axis=1)
            n_acc += 1
        gr = 1.0 / (eta + d2_child * S[:, pick_c])
        T = owner_sums(d2_child * w_c**2 * gr, st_c, en_c) + small * (d2_root * g_root).mean(axis=1, keepdims=True)
        xcol = xnew
    g = acc / n_acc / eta[:, 0]  # E (J J^T + y)^-1_ii
    yg = y.ravel() * g
    w = np.clip(yg, 1e-300, 1.0 - 1e-16) - 1.0
    log_s = np.log(g) - np.log(np.maximum(1.0 - yg, 1e-300))
    return w.reshape(y.shape), log_s.reshape(y.shape)
