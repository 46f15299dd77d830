"""Mean-field kernel map of a deep network (after Joudaki & Hofmann, arXiv 2410.20107).

For an activation phi normalised so that E[phi(X)^2] = 1 (X ~ N(0, 1)), the correlation
rho_l between the pre-activations of two inputs evolves, in the infinite-width limit of an
MLP with weights N(0, 1/d), by the **kernel map**

    rho_{l+1} = kappa(rho_l),   kappa(rho) = E[phi(X) phi(Y)] = sum_k c_k^2 rho^k,

where (X, Y) are standard normal with correlation rho and c_k = E[phi(X) He_k(X)] / sqrt(k!)
are the normalised Hermite coefficients (He_k the probabilists' Hermite polynomials). Since
sum_k c_k^2 = E[phi^2] = 1, kappa(1) = 1 and kappa is increasing and convex on [0, 1].

Everything here is computed two ways where it can be: from the Hermite series (truncated,
with a bound on the tail) and directly by quadrature, so truncation error is visible.

Cases (Theorem 1 of the paper, as classified by :func:`classify`; case 0, a linear phi with
kappa(rho) = rho, is excluded by the theorem and reported separately):

1. ``kappa(0) = 0`` (c_0 = 0, a zero-mean activation): rho* = 0 attracts every rho in (-1, 1);
2. ``kappa'(1) < 1``: rho* = 1 (all inputs collapse), geometric rate kappa'(1);
3. ``kappa'(1) = 1``: rho* = 1, sub-geometric rate ~ 2 / (kappa''(1) l);
4. ``kappa'(1) > 1``: a unique rho* in (0, 1), geometric rate kappa'(rho*).

The bounds of :func:`convergence_bound` are derived here from convexity (see its docstring);
they are checked against the exact iteration in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from . import _validate as v
from .activations import ACTIVATIONS
from .backend import make_rng
from .theory.lengthmap import activation_functions, chi_1, length_map_fixed_point
from .theory.quadrature import gaussian_expectation

__all__ = [
    "variance_map_slope",
    "KernelMapInfo",
    "classify",
    "convergence_bound",
    "critical_sigma_w",
    "gaussian_expectation",
    "hermite_coefficients",
    "kernel_map",
    "kernel_map_derivative",
    "kernel_map_direct",
    "kernel_ode",
    "kernel_fixed_point",
    "kernel_sequence",
    "layer_norm_kernel_map",
    "q_map_fixed_point",
    "residual_kernel_map",
    "simulate_correlations",
    "truncation_bound",
]

#: Largest number of Hermite coefficients: sqrt(k!) overflows float64 for k > 170.
_MAX_HERMITE = 171
#: Largest time :func:`kernel_ode` integrates to.
MAX_ODE_TIME = 1e6


def _resolve(phi):
    """(value, derivative, kinks, registry name or None) of an activation name or a callable phi."""
    return activation_functions(phi, argument="phi")


def hermite_coefficients(phi, n: int = 30, *, normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Normalised Hermite coefficients c_0..c_{n-1} of phi, with quadrature error estimates.

    ``c_k = E[phi(X) He_k(X)] / sqrt(k!)``; with ``normalize`` phi is first divided by
    sqrt(E[phi(X)^2]) so that sum_k c_k^2 = 1.

    Returns
    -------
    c : (n,) array
    err : (n,) array, absolute error estimates of the quadrature
    """
    n = v.check_int(n, "n", minimum=1)
    if n > _MAX_HERMITE:
        raise ValueError(f"n must be an integer in [1, {_MAX_HERMITE}] (sqrt(k!) overflows float64 beyond); got {n}")
    normalize = v.check_bool(normalize, "normalize")
    f, _, kinks, _ = _resolve(phi)
    norm = 1.0
    if normalize:
        second, _ = gaussian_expectation(lambda x: f(x) ** 2, kinks=kinks)
        if not second > 0:
            raise ValueError("phi must not vanish almost everywhere (E[phi^2] = 0)")
        norm = math.sqrt(second)
    c = np.zeros(n)
    err = np.zeros(n)
    for k in range(n):
        # eval_hermitenorm uses the three-term recurrence: stable where the monomial form is not
        val, e = gaussian_expectation(lambda x, k=k: f(x) * special.eval_hermitenorm(k, x), kinks=kinks)
        scale = norm * math.sqrt(math.factorial(k))
        c[k], err[k] = val / scale, e / scale
    return c, err


def kernel_map(rho, c: np.ndarray):
    """Series kappa(rho) = sum_k c_k^2 rho^k from coefficients ``c`` (e.g. of hermite_coefficients)."""
    rho = _check_rho(rho)
    return np.polynomial.polynomial.polyval(rho, _check_c(c) ** 2)


def kernel_map_derivative(rho, c: np.ndarray):
    """Series kappa'(rho) = sum_k k c_k^2 rho^(k-1)."""
    rho = _check_rho(rho)
    coeffs = _check_c(c) ** 2
    return np.polynomial.polynomial.polyval(rho, np.polynomial.polynomial.polyder(coeffs))


def truncation_bound(rho, c: np.ndarray):
    """Bound on ``|kappa(rho) - series(rho)|``, namely ``(1 - sum c_k^2) |rho|^n`` for normalised coefficients."""
    rho = _check_rho(rho)
    c = _check_c(c)
    tail = max(0.0, 1.0 - float(np.sum(c**2)))
    return tail * np.abs(rho) ** len(c)


def _check_c(c) -> np.ndarray:
    """Hermite coefficients: a non-empty 1-D array of finite reals whose squares sum to at most 1."""
    c = v.check_array(c, "c", ndim=1, min_size=1)
    if np.any(np.abs(c) > 1.0 + 1e-8):
        raise ValueError("c must be normalised Hermite coefficients (each |c_k| <= 1, as from hermite_coefficients)")
    total = float(np.sum(c**2))
    if total > 1.0 + 1e-8:
        raise ValueError(f"c must be normalised Hermite coefficients (sum of c_k^2 <= 1, as from "
                         f"hermite_coefficients); got sum {total:.6g}")
    return c


def kernel_map_direct(rho, phi, *, normalize: bool = True, tol: float = 1e-12):
    """kappa(rho) = E[phi(X) phi(Y)] computed directly, without the Hermite series.

    Nested quadrature ``E_X[ phi(X) E_Z[ phi(rho X + sqrt(1 - rho^2) Z) ] ]`` with
    :func:`~fpkit.theory.quadrature.gaussian_expectation` at both levels: the inner expectation at all the
    outer points at once (to ``tol / 1000``), split where its argument crosses a kink of phi, so ReLU-type
    activations are integrated as accurately as smooth ones. The error estimate is the outer one plus a
    bound on what the inner errors contribute (see the code), relative like the value when normalised.

    Returns
    -------
    value, error : ndarrays, shape (R,) for R correlations ``rho`` (flattened)
    """
    f, _, kinks, _ = _resolve(phi)
    rho = np.atleast_1d(_check_rho(rho)).ravel()
    normalize = v.check_bool(normalize, "normalize")
    tol = v.check_real(tol, "tol", low=0.0, low_open=True)
    second, _ = gaussian_expectation(lambda x: f(x) ** 2, kinks=kinks)
    norm = second if normalize else 1.0
    inner_tol = max(tol * 1e-3, 1e-14)
    values, errors = np.empty(rho.size), np.empty(rho.size)
    for i, r in enumerate(rho):
        inner_relative_error = [0.0]

        def outer(x, r=r):
            val, err = gaussian_expectation(f, r * x, max(0.0, 1.0 - r * r), kinks=kinks, tol=inner_tol)
            rel = np.max(err / np.maximum(1.0, np.abs(val)), initial=0.0)
            inner_relative_error[0] = max(inner_relative_error[0], float(rel))
            return f(x) * val

        val, err = gaussian_expectation(outer, kinks=kinks, tol=tol)
        values[i] = val / norm
        # inner errors: |E[phi(X) delta(X)]| <= max(|delta| / max(1, |inner|)) E[|phi| max(1, |inner|)],
        # and E|phi| <= sqrt(E phi^2), E[|phi| |inner|] <= E[phi^2] (Cauchy-Schwarz and Jensen)
        errors[i] = (err + inner_relative_error[0] * (math.sqrt(second) + second)) / norm
    return values, errors


def _check_rho(rho) -> np.ndarray:
    rho = v.check_array(rho, "rho", finite=False)
    if not np.all(np.isfinite(rho)) or np.any(np.abs(rho) > 1.0 + 1e-12):
        raise ValueError("rho must be a correlation in [-1, 1]")
    return rho


@dataclass(frozen=True)
class KernelMapInfo:
    """Facts about an activation's kernel map (see :func:`classify`)."""

    name: str
    normalization: float  #: sqrt(E[phi(X)^2]) of the raw activation
    kappa0: float  #: kappa(0) = c_0^2
    kappa_prime0: float  #: kappa'(0) = c_1^2
    kappa_prime1: float  #: kappa'(1) = E[phi'(X)^2] / E[phi(X)^2]
    case: int  #: the case 1..4 of the module docstring, or 0 for a linear activation
    rho_star: float  #: the globally attracting fixed point
    kappa_prime_star: float  #: kappa'(rho*)
    rate: str  #: description of the convergence rate


def classify(phi, *, tol: float = 1e-8, n: int = 40) -> KernelMapInfo:
    """Classify an activation into the four cases of Theorem 1, robustly.

    The case boundaries are decided on quantities computed *without* the Hermite series:
    kappa(0) = (E phi)^2 / E phi^2 and kappa'(1) = E[phi'^2] / E[phi^2] (Gaussian integration
    by parts), each by quadrature with an error estimate; "= 0" and "= 1" mean
    "within ``tol`` plus the quadrature error". Exact facts override the numerics where known:
    odd activations have kappa(0) = 0; positively homogeneous ones and exp have kappa'(1) = 1.
    """
    f, derivative, kinks, name = _resolve(phi)
    tol = v.check_real(tol, "tol", low=0.0, high=1e-3, low_open=True)
    n = v.check_int(n, "n", minimum=2)
    if n > _MAX_HERMITE:
        raise ValueError(f"n must be an integer in [2, {_MAX_HERMITE}]; got {n}")
    label = name or getattr(phi, "__name__", "phi")
    m2, e2 = gaussian_expectation(lambda x: f(x) ** 2, kinks=kinks)
    m1, e1 = gaussian_expectation(f, kinks=kinks)
    d2, ed = gaussian_expectation(lambda x: derivative(x) ** 2, kinks=kinks)
    kappa0 = 0.0 if name is not None and ACTIVATIONS[name].odd else m1 * m1 / m2
    kp1 = 1.0 if name is not None and ACTIVATIONS[name].kappa_prime1_is_one else d2 / m2
    c, cerr = hermite_coefficients(f if name is None else name, n)
    kp0 = float(c[1] ** 2) if len(c) > 1 else 0.0
    err0 = 2 * abs(m1) * e1 / m2 + tol
    err1 = (ed + e2) / m2 + tol
    if abs(kp0 - 1.0) <= tol + 2 * float(cerr[1]) and kappa0 <= err0:
        case, rho_star = 0, math.nan
        rate = "none: phi is linear, kappa(rho) = rho and every rho is a fixed point"
    elif kappa0 <= err0:
        case, rho_star = 1, 0.0
        rate = f"geometric, |rho_l| <= |rho_0| (kappa(|rho_0|)/|rho_0|)^l; kappa'(0) = {kp0:.3g}"
    elif abs(kp1 - 1.0) <= err1:
        case, rho_star = 3, 1.0
        rate = "sub-geometric, 1 - rho_l ~ 2 / (kappa''(1) l)"
    elif kp1 < 1.0:
        case, rho_star = 2, 1.0
        rate = f"geometric, 1 - rho_l <= (1 - rho_0) kappa'(1)^l, kappa'(1) = {kp1:.3g}"
    else:
        case = 4
        rho_star = kernel_fixed_point(c)
        rate = "geometric at rate kappa'(rho*)"
    if case == 0:
        kstar = 1.0
    elif case in (2, 3):
        kstar = kp1
    else:
        kstar = float(kernel_map_derivative(rho_star, c))
    return KernelMapInfo(label, math.sqrt(m2), kappa0, kp0, kp1, case, rho_star, kstar, rate)


def kernel_fixed_point(c: np.ndarray) -> float:
    """The fixed point of kappa in [0, 1) when kappa(0) > 0 and kappa'(1) > 1 (else 0 or 1)."""
    c = _check_c(c)
    k0 = float(c[0] ** 2)
    kp1 = float(kernel_map_derivative(1.0, c))
    if k0 <= 0:
        return 0.0
    if kp1 <= 1.0:
        return 1.0
    g = lambda r: float(kernel_map(r, c)) - r
    # g(0) = kappa(0) > 0 and g < 0 just below 1 (since kappa'(1) > 1): one root in between.
    hi = 1.0 - 1e-9
    while g(hi) >= 0 and hi > 0.5:
        hi = 1.0 - (1.0 - hi) * 10
    if g(hi) >= 0:
        raise ValueError("c gives no fixed point of kappa in (0, 1): kappa(rho) >= rho on [0, 1) "
                         "(truncated coefficients whose squares sum to less than 1?)")
    return optimize.brentq(g, 0.0, hi, xtol=1e-14)


def kernel_sequence(rho0: float, depth: int, kappa: Callable[[float], float]) -> np.ndarray:
    """rho_0, rho_1 = kappa(rho_0), ..., rho_depth for any kernel map ``kappa``."""
    depth = v.check_int(depth, "depth", minimum=0)
    rho0 = v.check_real(rho0, "rho0", low=-1.0, high=1.0)
    v.check_callable(kappa, "kappa")
    v.check_memory(8 * (depth + 1), f"depth = {depth} layers")
    out = np.empty(depth + 1)
    out[0] = rho0
    for l in range(depth):
        value = _real_value_named(kappa(out[l]), "kappa")
        if not math.isfinite(value):
            raise ValueError(f"kappa returned {value} at layer {l} (rho = {out[l]}); it must be finite")
        out[l + 1] = value
    return out


def residual_kernel_map(kappa: Callable[[float], float], residual: float) -> Callable[[float], float]:
    """The kernel map of a residual block ``h_{l+1} = sqrt(1 - r^2) W phi(h_l) + r h_l``.

    Its branch and skip are independent at infinite width and each carries unit variance, so
    ``kappa_res(rho) = (1 - r^2) kappa(rho) + r^2 rho``: the fixed points of ``kappa`` stay, and
    the rate ``kappa_res'(rho*) = (1 - r^2) kappa'(rho*) + r^2`` moves towards 1. As r -> 1, with
    depth counted in units of ``1 - r^2``, the iteration becomes the kernel ODE
    ``d rho / dt = kappa(rho) - rho``. :func:`simulate_correlations` (``residual=r``) simulates it.

    Parameters
    ----------
    kappa : callable
        The kernel map, float -> finite float (e.g. ``lambda r: float(kernel_map(r, c))``).
    residual : float in [0, 1)
        The skip weight r.

    Returns
    -------
    callable
        rho -> kappa_res(rho), for :func:`kernel_sequence`; it raises a TypeError/ValueError
        naming ``kappa`` where kappa returns no real number or a non-finite one.
    """
    if not callable(kappa):
        raise TypeError(f"kappa must be a callable kernel map; got {type(kappa).__name__}")
    r = v.check_real(residual, "residual", low=0.0, high=1.0, high_open=True)
    return lambda rho: (1.0 - r * r) * _kappa_value(kappa, rho) + r * r * rho


def layer_norm_kernel_map(kappa: Callable[[float], float]) -> Callable[[float], float]:
    """The kernel map with LayerNorm after phi: ``(kappa(rho) - kappa(0)) / (1 - kappa(0))``.

    Centring the post-activations across units removes their mean, the c_0 term of the
    Hermite series (``kappa(0) = c_0^2``), and rescaling restores ``kappa(1) = 1``: so
    ``kappa_LN(0) = 0`` and every activation falls into case 1. (RMSNorm only rescales, which
    the normalisation of phi already does, and leaves kappa unchanged.)
    :func:`simulate_correlations` (``norm="layer"``) simulates it.

    Parameters
    ----------
    kappa : callable
        The kernel map of a normalised activation, float -> finite float, with ``kappa(0) < 1``.

    Returns
    -------
    callable
        rho -> kappa_LN(rho), for :func:`kernel_sequence`; it raises a TypeError/ValueError
        naming ``kappa`` where kappa returns no real number or a non-finite one.
    """
    if not callable(kappa):
        raise TypeError(f"kappa must be a callable kernel map; got {type(kappa).__name__}")
    k0 = _kappa_value(kappa, 0.0)
    if not k0 < 1.0 - 1e-12:
        raise ValueError(f"kappa(0) must be below 1 (a non-constant activation); got {k0}")
    return lambda rho: (_kappa_value(kappa, rho) - k0) / (1.0 - k0)


def kernel_ode(kappa: Callable[[float], float], rho0: float, t) -> np.ndarray:
    """rho(t) for the kernel ODE ``d rho / dt = kappa(rho) - rho``, ``rho(0) = rho0``.

    The continuous-depth limit of :func:`residual_kernel_map` as r -> 1 with depth counted in units of
    ``1 - r^2`` (so ``t = l (1 - r^2)`` after l residual layers). Solved by :func:`scipy.integrate.solve_ivp`
    (RK45, ``rtol = 1e-10`` and its default ``atol = 1e-6``: about 1e-6 absolute) and evaluated at ``t``.

    Parameters
    ----------
    kappa : callable
        The kernel map, float -> finite float.
    rho0 : float in [-1, 1]
    t : array of float, shape (T,)
        Increasing times >= 0, starting at 0, at most ``MAX_ODE_TIME`` (1e6; the solver's steps are bounded by
        the relaxation time, O(1) for a kernel map, so its work grows in proportion to ``t[-1]``).

    Returns
    -------
    ndarray, shape (T,)
    """
    from scipy.integrate import solve_ivp

    v.check_callable(kappa, "kappa")
    rho0 = v.check_real(rho0, "rho0", low=-1.0, high=1.0)
    t = v.check_array(t, "t", ndim=1, min_size=1)
    if t[0] != 0.0 or np.any(np.diff(t) < 0):
        raise ValueError("t must be increasing times starting at 0")
    if t[-1] > MAX_ODE_TIME:
        raise ValueError(f"t must be at most {MAX_ODE_TIME:g} (the work grows with the last time); got {t[-1]:g}")
    if t[-1] == 0.0:  # no time passes
        _kappa_value(kappa, rho0)
        return np.full(t.shape, rho0)
    ode = solve_ivp(lambda _, y: [_kappa_value(kappa, y[0]) - y[0]], (0.0, float(t[-1])), [rho0], t_eval=t,
                    rtol=1e-10)
    if not ode.success:
        raise ValueError(f"the kernel ODE could not be solved up to t = {t[-1]:g}: {ode.message}")
    return ode.y[0]


def _real_value_named(y, name: str) -> float:
    arr = np.asarray(y)
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must return one real number; got {y!r:.60}")
    return float(arr.reshape(()))


def _kappa_value(kappa, rho: float) -> float:
    """kappa(rho) as a finite float, else an error naming kappa."""
    value = _real_value_named(kappa(rho), "kappa")
    if not math.isfinite(value):
        raise ValueError(f"kappa returned {value} at rho = {rho}; it must be finite")
    return value


def convergence_bound(rho0: float, depth: int, c: np.ndarray, info: KernelMapInfo) -> np.ndarray:
    """Upper bound on ``|rho_l - rho*|`` for l = 0..depth, for rho0 in [0, 1] (case 1: any ``|rho0| < 1``).

    Derived from the convexity of kappa on [0, 1] (all c_k^2 >= 0):

    * case 1: kappa(r)/r is increasing, so ``|rho_{l+1}| <= |rho_l| q`` with ``q = kappa(|rho0|)/|rho0|``;
    * case 2: 1 - kappa(rho) <= kappa'(1) (1 - rho) (tangent at 1 lies below kappa);
    * case 3: 1 - kappa(rho) <= e - a e^2 with e = 1 - rho, a = kappa''(rho0)/2, which gives
      1 - rho_l <= 1 / (1/e_0 + a l);
    * case 4: below rho*, kappa' <= kappa'(rho*) gives rate kappa'(rho*); above rho*, the secant
      slope s = (kappa(rho0) - rho*)/(rho0 - rho*) < 1 bounds the rate.
    """
    rho0 = v.check_real(rho0, "rho0", low=-1.0, high=1.0)
    depth = v.check_int(depth, "depth", minimum=0)
    if not isinstance(info, KernelMapInfo):
        raise TypeError(f"info must be a KernelMapInfo (from classify); got {type(info).__name__}")
    c = _check_c(c)
    v.check_memory(8 * (depth + 1), f"depth = {depth} layers")
    l = np.arange(depth + 1)
    star = info.rho_star
    e0 = abs(rho0 - star)
    if info.case == 1:
        r = abs(rho0)
        q = float(kernel_map(r, c)) / r if r > 0 else 0.0
        return e0 * q**l
    if rho0 < 0:
        raise ValueError("rho0 must be in [0, 1] for cases 2-4")
    if info.case == 2:
        return e0 * info.kappa_prime1**l
    if info.case == 3:
        coeffs = np.asarray(c) ** 2
        second = np.polynomial.polynomial.polyder(coeffs, 2)
        a = float(np.polynomial.polynomial.polyval(rho0, second)) / 2.0
        if e0 == 0:
            return np.zeros(depth + 1)
        return 1.0 / (1.0 / e0 + a * l)
    if rho0 <= star:
        return e0 * info.kappa_prime_star**l
    s = (float(kernel_map(rho0, c)) - star) / (rho0 - star)
    return e0 * s**l


def q_map_fixed_point(phi, sigma_w: float, sigma_b: float, *, q0: float = 1.0, iters: int = 500):
    """Fixed point q* of the length map q -> sigma_w^2 E[phi(sqrt(q) X)^2] + sigma_b^2 and
    chi_1 = sigma_w^2 E[phi'(sqrt(q*) X)^2] (Poole et al. 2016; Schoenholz et al. 2017).

    chi_1 < 1: ordered phase; chi_1 > 1: chaotic. For a normalised phi with sigma_w = 1,
    sigma_b = 0 and q* = 1, chi_1 equals kappa'(1) of the kernel map.
    """
    fns = _resolve(phi)
    q = length_map_fixed_point(fns, sigma_w, sigma_b, q0=q0, tol=1e-12, max_iter=v.check_int(iters, "iters", minimum=1))
    return q, float(chi_1(fns, q, sigma_w))


def critical_sigma_w(phi, sigma_b: float, *, bracket: tuple[float, float] = (0.5, 4.0),
                     xtol: float = 1e-6) -> float:
    """The weight scale sigma_w of the order-to-chaos transition, where chi_1 = 1.

    chi_1 (from :func:`q_map_fixed_point`) grows with sigma_w at fixed sigma_b; below the root
    the network is ordered (nearby inputs converge: chi_1 < 1), above it chaotic (Poole et al.
    2016; Schoenholz et al. 2017). Found by Brent's method in ``bracket``.

    Parameters
    ----------
    phi : str or callable
        Activation (a name of :data:`fpkit.activations.ACTIVATIONS`, or a function).
    sigma_b : float in [0, 1e150]
        Bias standard deviation.
    bracket : (float, float)
        An interval ``0 < low < high <= 1e150`` of sigma_w whose ends lie on the two sides of the
        transition.
    xtol : float > 0
        Absolute tolerance on sigma_w.

    Returns
    -------
    float
        sigma_w with chi_1(sigma_w, sigma_b) = 1 (to ``xtol``).
    """
    sigma_b = v.check_real(sigma_b, "sigma_b", low=0.0, high=1e150)
    xtol = v.check_real(xtol, "xtol", low=0.0, low_open=True)
    if not (isinstance(bracket, (tuple, list)) and len(bracket) == 2):
        raise TypeError(f"bracket must be a pair (low, high); got {bracket!r:.80}")
    lo = v.check_real(bracket[0], "bracket[0]", low=0.0, high=1e150, low_open=True)
    hi = v.check_real(bracket[1], "bracket[1]", low=lo, high=1e150, low_open=True)
    g = lambda s: q_map_fixed_point(phi, s, sigma_b)[1] - 1.0  # noqa: E731
    g_lo, g_hi = g(lo), g(hi)
    if not g_lo < 0.0 < g_hi:
        raise ValueError(f"bracket must enclose the transition of this phi at sigma_b = {sigma_b:g}: "
                         f"chi_1 - 1 is {g_lo:.3g} at sigma_w = {lo} "
                         f"and {g_hi:.3g} at sigma_w = {hi}; it must be negative, then positive")
    return float(optimize.brentq(g, lo, hi, xtol=xtol))


def variance_map_slope(phi) -> float:
    """Slope at q = 1 of the variance map q -> E[phi_n(sqrt(q) X)^2] of the normalised activation.

    Normalisation (E phi_n(X)^2 = 1) makes q = 1 a fixed point of the variance map, which the
    kernel map takes for granted. Its slope ``E[phi_n(X) phi_n'(X) X]`` decides whether that
    fixed point is stable: below 1, finite-width fluctuations of the pre-activation variance
    die out with depth; above 1 (e.g. GELU, SiLU) they grow geometrically, and a finite network
    leaves the kernel map's regime after about ``log(sqrt(width)) / log(slope)`` layers.
    Homogeneous activations (ReLU, leaky ReLU, linear) have slope exactly 1.
    """
    f, d, kinks, _ = _resolve(phi)
    norm = gaussian_expectation(lambda x: f(x) ** 2, kinks=kinks)[0]
    return float(gaussian_expectation(lambda x: f(x) * d(x) * x, kinks=kinks)[0] / norm)


def simulate_correlations(
    phi,
    *,
    width: int,
    depth: int,
    rho0: float,
    n_inputs: int = 8,
    seed,
    residual: float = 0.0,
    norm: str = "none",
) -> np.ndarray:
    """Finite-width check: a random MLP of width d on n inputs with pairwise correlation rho0.

    Layer: h_{l+1} = sqrt(1 - r^2) W phi_n(h_l) + r h_l with W ~ N(0, 1/d), phi_n the
    normalised activation (E phi_n(X)^2 = 1), optionally followed by a normalisation of
    the post-activations across units (``norm="layer"``: centre and scale; ``"rms"``: scale).

    Returns
    -------
    corr : (depth + 1, n_inputs * (n_inputs - 1) / 2) array
        The off-diagonal correlations of the pre-activations at every layer.
    """
    width = v.check_int(width, "width", minimum=2)
    depth = v.check_int(depth, "depth", minimum=0)
    n_inputs = v.check_int(n_inputs, "n_inputs", minimum=2)
    v.check_memory(8 * (width * width + 4 * width * n_inputs + (depth + 1) * n_inputs**2),
                   f"width = {width}, n_inputs = {n_inputs}, depth = {depth}")
    rho0 = v.check_real(rho0, "rho0", low=-1.0 / (n_inputs - 1), high=1.0)
    residual = v.check_real(residual, "residual", low=0.0, high=1.0, high_open=True)
    v.check_choice(norm, "norm", ("none", "rms", "layer"))
    f, _, kinks, _ = _resolve(phi)
    scale = math.sqrt(gaussian_expectation(lambda x: f(x) ** 2, kinks=kinks)[0])
    rng = make_rng(seed, "numpy")
    # inputs with unit norm per coordinate and pairwise correlation rho0
    gram = np.full((n_inputs, n_inputs), rho0) + (1 - rho0) * np.eye(n_inputs)
    h = rng.standard_normal((width, n_inputs)) @ _gram_factor(gram).T
    iu = np.triu_indices(n_inputs, 1)
    out = np.empty((depth + 1, iu[0].size))

    def corr(a):  # mean-field rho: cosine of the pre-activation vectors (they have mean 0)
        return _cosine(a)[iu]

    out[0] = corr(h)
    for l in range(depth):
        post = f(h) / scale
        if norm == "layer":
            post = post - post.mean(axis=0, keepdims=True)
        if norm in ("layer", "rms"):
            post = post / np.sqrt(np.mean(post**2, axis=0, keepdims=True))
        W = rng.standard_normal((width, width)) / math.sqrt(width)
        h = math.sqrt(1 - residual**2) * (W @ post) + residual * h
        out[l + 1] = corr(h)
    return out


def _gram_factor(gram: np.ndarray) -> np.ndarray:
    """A factor A with A A^T = gram: Cholesky, or for a singular gram (rho0 = 1, or rho0 = -1/(n-1)
    where the inputs sum to 0) the symmetric square root from the eigendecomposition."""
    try:
        return np.linalg.cholesky(gram)
    except np.linalg.LinAlgError:
        w, vecs = np.linalg.eigh(gram)
        return vecs * np.sqrt(np.clip(w, 0.0, None))


def _cosine(a: np.ndarray) -> np.ndarray:
    g = a.T @ a
    d = np.sqrt(np.diag(g))
    return g / np.outer(d, d)
