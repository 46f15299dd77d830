"""Expectations over a Gaussian or a Cauchy variable: the one quadrature primitive of fpkit's theory.

Every formula of the theory that averages over a pre-activation calls one of two functions:

* :func:`gaussian_expectation` ``E[f(m + sqrt(v) Z)]``, Z standard normal: the length map, chi_1, the
  mean-field normalisation of an activation, Hermite coefficients, the kernel map;
* :func:`cauchy_expectation` ``E[f(gamma C)]``, C standard Cauchy: the heavy-tailed scale map and the
  inputs of the cavity equation.

Both integrate over the whole real line with :func:`scipy.integrate.tanhsinh` (double-exponential
quadrature, adaptive, with an error estimate; Takahasi & Mori 1974, Bailey, Jeyabalan & Li 2005),
vectorised over the parameters (one call gives ``E[f(m + sqrt(v) Z)]`` for arrays of m and v), and split
at 0 (the density's centre) and at the points where f is not smooth (``kinks``), so every piece is
smooth and its mass lies towards one of its ends. The Gaussian integrand is set to 0 beyond
``|z| = 40``, where the standard normal density is below 1e-348 (0 in float64): so f is never
evaluated further out, and ``exp(2 x)`` stays finite. f is evaluated only at finite points.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

from .. import _validate as v

__all__ = ["cauchy_expectation", "gaussian_expectation"]

#: Beyond |z| = 40 the standard normal density is below 1e-348: the Gaussian integrand is 0 there.
Z_MAX = 40.0
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_MIN_LEVEL = 4  # tanhsinh evaluates levels 0..4 in one call of f (256 points per piece) before it tests


def _parameter(value, name: str, low: float | None = None) -> np.ndarray:
    """A real, finite scalar or array parameter (>= low), as float64."""
    arr = v.check_array(value, name)
    if low is not None and arr.size and np.any(arr < low):
        raise ValueError(f"{name} must be >= {low}; got a minimum of {arr.min():g}")
    return arr


def _kinks(kinks) -> np.ndarray:
    return np.unique(v.check_array(kinks, "kinks", ndim=(0, 1)).ravel())


def _integrate(weighted, breaks: np.ndarray, args: tuple, tol: float, *, settle: bool):
    """Sum of ``tanhsinh(weighted, a, b)`` over the pieces between -inf, ``breaks[..., k]`` (sorted) and inf.

    ``settle``: a piece that does not converge is an error (for the Cauchy law, whose integrals over the
    whole line diverge for f growing like |x|); otherwise its value is kept with tanhsinh's error estimate
    (the Gaussian integrand is cut at |z| = 40, so only precision can be lacking, e.g. for high Hermite
    coefficients, whose integrands cancel over many orders of magnitude).
    """
    shape = breaks.shape[:-1]
    edges = np.concatenate([np.full(shape + (1,), -np.inf), breaks, np.full(shape + (1,), np.inf)], axis=-1)
    total = np.zeros(shape)
    error = np.zeros(shape)
    for k in range(edges.shape[-1] - 1):
        res = integrate.tanhsinh(weighted, edges[..., k], edges[..., k + 1], args=args, atol=tol, rtol=tol,
                                 minlevel=_MIN_LEVEL)
        if np.any(res.status == -3):
            raise ValueError("f times the density is not finite somewhere (f returns values too large to "
                             "integrate in float64)")
        unsettled = (res.status != 0) & ~(res.error <= 1e-6 * np.maximum(1.0, np.abs(res.integral)))
        if settle and np.any(unsettled):
            raise ValueError(f"the expectation did not converge (error estimate {np.max(res.error):.3g} after the "
                             "last refinement): f is not integrable against this law, or varies too fast")
        total = total + res.integral
        # tanhsinh's error estimate is a heuristic that can fall below the true error at the last digits;
        # where it converged the tolerance it met, max(atol, rtol |integral|), is the error reported
        met = np.maximum(tol, tol * np.abs(res.integral))
        estimate = np.where(np.isfinite(res.error), res.error, np.abs(res.integral))
        error = error + np.where(res.status == 0, np.maximum(estimate, met), estimate)
    if not (np.all(np.isfinite(total)) and np.all(np.isfinite(error))):
        raise ValueError(f"the expectation is not finite ({total}): f grows too fast for this law")
    return total, error


def _evaluate(f, x: np.ndarray, where: np.ndarray, density: np.ndarray) -> np.ndarray:
    """``f(x) * density`` where ``where``, 0 elsewhere (f is not evaluated there)."""
    out = np.zeros(x.shape)
    if np.any(where):
        with np.errstate(over="ignore", invalid="ignore"):  # an infinite product is reported by tanhsinh
            out[where] = np.asarray(f(x[where]), dtype=float) * density[where]
    return out


def _result(value: np.ndarray, error: np.ndarray, scalar: bool):
    return (float(value[0]), float(error[0])) if scalar else (value, error)


def gaussian_expectation(f, mean=0.0, variance=1.0, *, kinks=(), tol: float = 1e-11):
    """``E[f(mean + sqrt(variance) Z)]`` for Z standard normal, with an error estimate.

    Parameters
    ----------
    f : callable
        Acts elementwise on float64 arrays and returns finite real numbers (a TypeError or ValueError
        naming ``f`` otherwise).
    mean, variance : float or array
        Finite reals, ``variance >= 0``; arrays broadcast against each other (shape S). At
        ``variance = 0`` the expectation is ``f(mean)``.
    kinks : sequence of float
        Points (in f's argument) where f is not smooth, e.g. ``(0,)`` for ReLU: the integral is split
        there.
    tol : float > 0
        Absolute and relative tolerance of :func:`scipy.integrate.tanhsinh`.

    Returns
    -------
    value, error : float, or arrays of shape S
        The expectation and a bound on its absolute error: for each piece the tolerance met,
        ``tol * max(1, |piece|)``, or tanhsinh's estimate where that is larger (or where it did not converge).

    Raises
    ------
    ValueError
        If f returns NaN or inf at a point where the density is not 0, or the integral is not finite.
        Where tanhsinh does not reach ``tol`` its value is returned with its (larger) error estimate.
    """
    f = v.checked_real_function(f, "f")
    mean = _parameter(mean, "mean")
    variance = _parameter(variance, "variance", low=0.0)
    kink = _kinks(kinks)
    tol = v.check_real(tol, "tol", low=0.0, high=1.0, low_open=True)
    scalar = mean.ndim == 0 and variance.ndim == 0
    m, var = (np.array(a, dtype=float, ndmin=1) for a in np.broadcast_arrays(mean, variance))
    sd = np.sqrt(var)
    point = sd == 0
    sd[point] = 1.0  # integrated as if sd = 1, then replaced by f(mean)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        z_kinks = np.clip((kink - m[..., None]) / sd[..., None], -Z_MAX, Z_MAX)
    breaks = np.sort(np.concatenate([z_kinks, np.zeros(m.shape + (1,))], axis=-1), axis=-1)

    def weighted(z, m, s):
        z, m, s = np.broadcast_arrays(z, m, s)
        inside = np.abs(z) <= Z_MAX
        zi = np.where(inside, z, 0.0)
        return _evaluate(f, m + s * zi, inside, np.exp(-0.5 * zi * zi) * _INV_SQRT_2PI)

    value, error = _integrate(weighted, breaks, (m, sd), tol, settle=False)
    if np.any(point):
        value[point] = np.broadcast_to(np.asarray(f(m[point]), dtype=float), m[point].shape)
        error[point] = 0.0
    return _result(value, error, scalar)


def cauchy_expectation(f, scale=1.0, *, kinks=(), tol: float = 1e-11):
    """``E[f(scale * C)]`` for C standard Cauchy (density ``1 / (pi (1 + c^2))``), with an error estimate.

    Parameters
    ----------
    f : callable
        Acts elementwise on float64 arrays and returns finite real numbers; it must be bounded, or
        grow slower than ``|x|``, for the expectation to exist.
    scale : float or array
        Cauchy scale(s) gamma, finite and >= 0 (shape S); at 0 the expectation is ``f(0)``.
    kinks : sequence of float
        Points where f is not smooth (the integral is split there).
    tol : float > 0
        Absolute and relative tolerance of :func:`scipy.integrate.tanhsinh`.

    Returns
    -------
    value, error : float, or arrays of shape S

    Raises
    ------
    ValueError
        If f returns NaN or inf, or the integral does not converge (f unbounded, e.g. ``E[C]``).
    """
    f = v.checked_real_function(f, "f")
    scale = _parameter(scale, "scale", low=0.0)
    kink = _kinks(kinks)
    tol = v.check_real(tol, "tol", low=0.0, high=1.0, low_open=True)
    scalar = scale.ndim == 0
    gam = np.array(scale, dtype=float, ndmin=1)
    point = gam == 0
    gam[point] = 1.0
    with np.errstate(over="ignore", divide="ignore"):
        c_kinks = np.clip(kink / gam[..., None], -1e300, 1e300)
    breaks = np.sort(np.concatenate([c_kinks, np.zeros(gam.shape + (1,))], axis=-1), axis=-1)

    def weighted(c, g):
        c, g = np.broadcast_arrays(c, g)
        inside = np.abs(c) <= 1e300  # the density is below 1e-600 further out: 0 in float64
        ci = np.where(inside, c, 0.0)
        return _evaluate(f, g * ci, inside, 1.0 / (math.pi * (1.0 + ci * ci)))

    value, error = _integrate(weighted, breaks, (gam,), tol, settle=True)
    if np.any(point):
        value[point] = float(np.asarray(f(np.zeros(1)), dtype=float).ravel()[0])
        error[point] = 0.0
    return _result(value, error, scalar)
