"""A network's layer scales and the maps that carry a pre-activation's scale through the layers.

Finite variance (Poole et al. 2016; Schoenholz et al. 2017)
    For weights of variance ``sigma_w^2 / N`` and biases of variance ``sigma_b^2``, the pre-activations of
    a wide network are Gaussian, and their variance follows the **length map**::

        q_{l+1} = sigma_w^2 E[phi(sqrt(q_l) Z)^2] + sigma_b^2          (:func:`~fpkit.theory.lengthmap.length_map`),

    with fixed point q* (:func:`~fpkit.theory.lengthmap.length_map_fixed_point`) and slope at a point of the orbit
    ``chi_1 = sigma_w^2 E[phi'(sqrt(q) Z)^2]`` (:func:`chi_1`; chi_1 < 1 ordered, > 1 chaotic).
Cauchy weights (fan-in scaling s / N)
    A sum of independent Cauchy variables is Cauchy, so given the input every pre-activation is exactly
    Cauchy with scale ``s mean_j |x_j| + beta`` at every N, and the heavy-tailed analogue is the **scale
    map** ``gamma_{l+1} = s E|phi(gamma_l C)| + beta`` (:func:`cauchy_scale_map`).

A :class:`~fpkit.network.NetworkConfig` gives its scales once: :func:`~fpkit.theory.lengthmap.gaussian_weight_scales`
``(sigma_w, sigma_b)`` and :func:`cauchy_weight_scales` ``(s, beta)``, each checking that the
configuration has the law its theory needs. Every expectation is
:func:`fpkit.theory.quadrature.gaussian_expectation` or :func:`~fpkit.theory.quadrature.cauchy_expectation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .. import _validate as v
from ..activations import Activation, get_activation
from ..backend import make_rng
from ..network import NetworkConfig
from .quadrature import cauchy_expectation, gaussian_expectation

__all__ = [
    "ActivationFunctions",
    "activation_functions",
    "cauchy_fixed_scale",
    "cauchy_scale_map",
    "cauchy_scale_sequence",
    "cauchy_weight_scales",
    "chi_1",
    "gaussian_weight_scales",
    "length_map",
    "length_map_fixed_point",
    "meanfield_fixed_variance",
    "preactivation_variances",
    "self_consistent_points",
    "uniform_input_moments",
]

#: Largest weight or bias scale the maps accept: its square must be a finite float64.
MAX_SCALE = 1e150


# ---------------------------------------------------------------------------
# Activations and configurations
# ---------------------------------------------------------------------------


class ActivationFunctions(NamedTuple):
    """phi as the theory uses it: NumPy callables for the value and the derivative, and its kinks."""

    value: Callable
    derivative: Callable
    kinks: tuple[float, ...]
    name: str | None  #: the registry name, or None for a callable


def activation_functions(phi, *, argument: str = "phi") -> ActivationFunctions:
    """phi from a registry name, an :class:`~fpkit.activations.Activation`, or a callable.

    A callable must act elementwise on float64 arrays (a TypeError or ValueError naming ``argument``
    where it returns no finite real numbers); its derivative is the central difference with step 1e-6.
    An :class:`ActivationFunctions` is returned as it is (every function here accepts one).
    """
    if isinstance(phi, ActivationFunctions):
        return phi
    if isinstance(phi, (str, Activation)):
        act = get_activation(phi, argument=argument)
        return ActivationFunctions(act.numpy, lambda x: act.derivative(np.asarray(x, dtype=float), np),
                                   act.kinks, act.name)
    if not callable(phi):
        raise TypeError(f"{argument} must be an activation name or a callable; got {type(phi).__name__}")
    checked = v.checked_real_function(phi, argument)

    def f(x):  # as float64 (a callable may return a list or integers)
        return np.asarray(checked(x), dtype=float)

    h = 1e-6
    return ActivationFunctions(f, lambda x: (f(x + h) - f(x - h)) / (2 * h), (), None)


def _config(config: Any) -> NetworkConfig:
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"config must be a NetworkConfig; got {type(config).__name__}")
    return config


def gaussian_weight_scales(config: NetworkConfig) -> tuple[float, float]:
    """``(sigma_w, sigma_b)`` of a configuration with Gaussian weights and Gaussian or no biases.

    Weights have variance ``sigma_w^2 / N`` (``sigma_w = scale`` for the ``fan_in`` and ``sqrt_fan_in``
    conventions, ``scale * sqrt(N)`` for ``absolute``), biases ``N(0, sigma_b^2)`` (``sigma_b = 0`` without
    biases). A ValueError for any other law: the finite-variance theory does not apply.
    """
    config = _config(config)
    if config.law != "gaussian":
        raise ValueError(f"config must have law='gaussian' (finite-variance weights) here; got law={config.law!r}. "
                         "For Cauchy weights see fpkit.theory.cavity (the cavity equation)")
    blaw = config.biases_law()
    if blaw is not None and blaw.name != "gaussian":
        raise ValueError(f"config must have Gaussian biases or none here; got bias law {blaw.name!r}")
    sigma_w = config.scale * (math.sqrt(config.N) if config.convention == "absolute" else 1.0)
    return sigma_w, (0.0 if blaw is None else config.bias_scale)


def cauchy_weight_scales(config: NetworkConfig) -> tuple[float, float]:
    """``(s, beta)`` of a configuration with Cauchy weights ``(s / N) C`` and biases ``beta C`` (or none)."""
    config = _config(config)
    if config.law != "cauchy" or config.convention != "fan_in":
        raise ValueError(
            f"config must have law='cauchy' with convention='fan_in' here; got law={config.law!r}, "
            f"convention={config.convention!r}"
        )
    blaw = config.biases_law()
    if blaw is not None and blaw.name != "cauchy":
        raise ValueError(f"config must have Cauchy biases or none here; got bias law {blaw.name!r}")
    return config.scale, (0.0 if blaw is None else config.bias_scale)


def uniform_input_moments(activation) -> tuple[float, float]:
    """``(E|x|, E[x^2])`` for x uniform on the range of a sigmoid-type activation (the default inputs)."""
    phi = get_activation(activation, sigmoid_type=True)
    low, high = phi.low, phi.high
    mean_abs = (low + high) / 2.0 if low >= 0.0 else (low * low + high * high) / (2.0 * (high - low))
    return mean_abs, (low * low + low * high + high * high) / 3.0


def _nonnegative(value, name: str):
    """A finite real scalar or array >= 0 (a variance or a scale), else an error naming ``name``."""
    arr = v.check_array(value, name)
    if arr.size and np.min(arr) < 0:
        raise ValueError(f"{name} must be >= 0; got a minimum of {np.min(arr):g}")
    return value


def _finite_result(value, what: str):
    """``value`` if finite everywhere, else a ValueError saying that ``what`` leaves float64."""
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{what} exceeds the float64 range; use smaller scales or variances")
    return value


def _scales(sigma_w, sigma_b) -> tuple[float, float]:
    sigma_w = v.check_real(sigma_w, "sigma_w", low=0.0, high=MAX_SCALE)
    sigma_b = v.check_real(sigma_b, "sigma_b", low=0.0, high=MAX_SCALE)
    return sigma_w, sigma_b


# ---------------------------------------------------------------------------
# Finite variance: the length map
# ---------------------------------------------------------------------------


def _finite_square(f, what: str):
    """x -> f(x)^2, a ValueError naming the activation where it leaves float64 (never a warning)."""
    def square(x):
        with np.errstate(over="ignore"):
            y = f(x) ** 2
        if not np.all(np.isfinite(y)):
            raise ValueError(f"activation: {what} is beyond float64 at some x in {np.min(x):.3g}..{np.max(x):.3g} "
                             "(the activation grows too fast for this variance)")
        return y

    return square


def _second_moment(fns: ActivationFunctions, q):
    """E[phi(sqrt(q) Z)^2], vectorised over q; an overflowing square is an error, never a warning."""
    return gaussian_expectation(_finite_square(fns.value, "phi(x)^2"), 0.0, q, kinks=fns.kinks)[0]


def length_map(activation, q, sigma_w: float, sigma_b: float):
    """``sigma_w^2 E[phi(sqrt(q) Z)^2] + sigma_b^2``: the variance of the next layer's pre-activations.

    Parameters
    ----------
    activation : str, Activation, callable or ActivationFunctions
    q : float or array of float >= 0
        Variance(s) of this layer's pre-activations (shape S).
    sigma_w, sigma_b : float in [0, 1e150]

    Returns
    -------
    float or array of shape S
    """
    fns = activation_functions(activation, argument="activation")
    q = _nonnegative(q, "q")
    sigma_w, sigma_b = _scales(sigma_w, sigma_b)
    with np.errstate(over="ignore"):
        return _finite_result(sigma_w**2 * _second_moment(fns, q) + sigma_b**2, "the length map")


def chi_1(activation, q, sigma_w: float):
    """``chi_1 = sigma_w^2 E[phi'(sqrt(q) Z)^2]``, the mean squared singular value of one layer's Jacobian.

    At q = q* it is the slope of the correlation map at 1: chi_1 < 1 is the ordered phase, chi_1 > 1 the
    chaotic one (Poole et al. 2016). Vectorised over q (float or array >= 0).
    """
    fns = activation_functions(activation, argument="activation")
    q = _nonnegative(q, "q")
    sigma_w, _ = _scales(sigma_w, 0.0)

    square = _finite_square(fns.derivative, "phi'(x)^2")
    with np.errstate(over="ignore"):
        return _finite_result(sigma_w**2 * gaussian_expectation(square, 0.0, q, kinks=fns.kinks)[0], "chi_1")


def preactivation_variances(activation: str, L: int, sigma_w: float, sigma_b: float, input_second_moment: float):
    """Mean-field pre-activation variances q_1 .. q_L of a Gaussian network at a typical input.

    ``q_1 = sigma_w^2 m_x + sigma_b^2`` with ``m_x = |x|^2 / N``, and ``q_{l+1}`` the :func:`~fpkit.theory.lengthmap.length_map` of
    ``q_l`` (Poole et al. 2016). ``activation``: a sigmoid-type activation (a network's).

    Returns
    -------
    ndarray, shape (L,)
    """
    phi = get_activation(activation, sigmoid_type=True)
    L = v.check_int(L, "L", minimum=1)
    v.check_memory(8 * L, f"L = {L} layers")
    sigma_w, sigma_b = _scales(sigma_w, sigma_b)
    mx = v.check_real(input_second_moment, "input_second_moment", low=0.0)
    fns = activation_functions(phi)
    q = np.empty(L)
    with np.errstate(over="ignore"):
        q[0] = np.float64(sigma_w) ** 2 * mx + np.float64(sigma_b) ** 2
    if not q[0] < 1e300:
        raise ValueError(f"the pre-activation variances overflow float64 for sigma_w={sigma_w:g}, "
                         f"sigma_b={sigma_b:g}, input_second_moment={mx:g}; use smaller values")
    for layer in range(1, L):
        q[layer] = sigma_w**2 * _second_moment(fns, q[layer - 1]) + sigma_b**2
        if q[layer] == q[layer - 1]:  # a fixed point to the last bit: every further layer is the same
            q[layer:] = q[layer]
            break
    if not np.all(q < 1e300):
        raise ValueError(f"the pre-activation variances overflow float64 for sigma_w={sigma_w:g}, "
                         f"sigma_b={sigma_b:g}, input_second_moment={mx:g}; use smaller values")
    return q


def length_map_fixed_point(activation, sigma_w: float, sigma_b: float, *, q0: float = 1.0, tol: float = 1e-12,
                           max_iter: int = 500) -> float:
    """The fixed point q* of the :func:`~fpkit.theory.lengthmap.length_map`, by iteration from ``q0``.

    Stops when a step changes q by at most ``tol * max(1, q)``, or after ``max_iter`` steps (then the last
    iterate). A ValueError where the map diverges (q beyond 1e300: phi grows too fast for a fixed point at
    this weight scale).
    """
    fns = activation_functions(activation, argument="activation")
    sigma_w, sigma_b = _scales(sigma_w, sigma_b)
    q = v.check_real(q0, "q0", low=0.0, low_open=True)
    tol = v.check_real(tol, "tol", low=0.0, high=1.0, low_open=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1, maximum=10**7)
    for _ in range(max_iter):
        try:
            new = sigma_w**2 * _second_moment(fns, q) + sigma_b**2
        except ValueError:  # phi^2 times the density is not finite
            new = math.inf
        if not new < 1e300:
            raise ValueError(f"the length map diverges (q > 1e300) for this activation at sigma_w={sigma_w:g}, "
                             f"sigma_b={sigma_b:g}: phi grows too fast for a fixed point at this weight scale")
        if abs(new - q) <= tol * max(1.0, q):
            return float(new)
        q = new
    return float(q)


def meanfield_fixed_variance(config: NetworkConfig, *, tol: float = 1e-13, max_iter: int = 10000) -> float:
    """q* of a Gaussian configuration (:func:`~fpkit.theory.lengthmap.length_map_fixed_point` at its :func:`~fpkit.theory.lengthmap.gaussian_weight_scales`).

    Along the orbit of a fixed point of a wide Gaussian network every pre-activation has this variance
    (the L-cycle of the length map through the layers must be its fixed point).
    """
    sigma_w, sigma_b = gaussian_weight_scales(config)
    return length_map_fixed_point(config.activation, sigma_w, sigma_b, q0=1.0, tol=tol, max_iter=max_iter)


# ---------------------------------------------------------------------------
# Cauchy weights: the scale map
# ---------------------------------------------------------------------------


def cauchy_scale_map(activation, gamma, s: float, beta: float):
    """``s E|phi(gamma C)| + beta``: the Cauchy scale of the next layer's pre-activations (vectorised over gamma)."""
    phi = get_activation(activation, sigmoid_type=True)
    gamma = _nonnegative(gamma, "gamma")
    s, beta = v.check_real(s, "s", low=0.0), v.check_real(beta, "beta", low=0.0)
    return s * cauchy_expectation(lambda h: np.abs(phi.numpy(h)), gamma, kinks=phi.kinks)[0] + beta


def cauchy_scale_sequence(config: NetworkConfig, input_mean_abs: float | None = None) -> np.ndarray:
    """Cauchy scales gamma_1 .. gamma_L of the pre-activations of a Cauchy network.

    With W_ij = (s / N) C_ij and b_i = beta C_i, the pre-activation ``h_i = sum_j W_ij x_j + b_i``
    is, given x, exactly Cauchy with scale ``s mean_j |x_j| + beta`` (stability of the Cauchy
    law, at every N). Deeper layers use the law of large numbers for ``mean_j |x_j|``::

        gamma_1 = s m + beta,    gamma_{l+1} = s E|phi(gamma_l C)| + beta.

    Parameters
    ----------
    config : NetworkConfig
        ``law="cauchy"``, ``convention="fan_in"``, Cauchy biases or none.
    input_mean_abs : float, optional
        ``mean_j |x_j|`` of the input; default: inputs uniform on the activation's range.

    Returns
    -------
    ndarray, shape (L,)
    """
    s, beta = cauchy_weight_scales(config)
    if input_mean_abs is None:
        input_mean_abs = uniform_input_moments(config.activation)[0]
    m = v.check_real(input_mean_abs, "input_mean_abs", low=0.0)
    gam = np.empty(config.L)
    gam[0] = s * m + beta if m < 1e300 / max(s, 1.0) else math.inf
    if not gam[0] < 1e300:
        raise ValueError(f"input_mean_abs = {m:g} is too large: the first scale s * input_mean_abs + beta overflows")
    for layer in range(1, config.L):
        gam[layer] = cauchy_scale_map(config.activation, gam[layer - 1], s, beta)
    return gam


def cauchy_fixed_scale(config: NetworkConfig, *, tol: float = 1e-12, max_iter: int = 1000) -> float:
    """The fixed point gamma* of the Cauchy scale map ``gamma -> s E|phi(gamma C)| + beta``.

    At a fixed point x* = F(x*) of a wide Cauchy network the orbit's pre-activations are Cauchy
    with a common scale, which must be this fixed point (the cyclic version of
    :func:`cauchy_scale_sequence`; the map is increasing and bounded, so iteration converges).
    Stops when a step changes gamma by at most ``tol * max(1, gamma)`` (``tol`` >= 0), or after
    ``max_iter`` (>= 1) steps.
    """
    s, beta = cauchy_weight_scales(config)
    tol = v.check_real(tol, "tol", low=0.0)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    gam = s * uniform_input_moments(config.activation)[0] + beta
    for _ in range(max_iter):
        new = cauchy_scale_map(config.activation, gam, s, beta)
        if abs(new - gam) <= tol * max(1.0, gam):
            return float(new)
        gam = new
    return float(gam)


def self_consistent_points(config: NetworkConfig, n_networks: int, n_points: int, *, seed: Any) -> np.ndarray:
    """Points ``x = phi(h)`` with h drawn from the self-consistent law of a wide network's fixed points.

    h is ``N(0, q*)`` for Gaussian weights (:func:`meanfield_fixed_variance`) and Cauchy of scale gamma*
    for Cauchy weights (:func:`cauchy_fixed_scale`), i.i.d. over units: the law of every layer's inputs
    along the orbit of a fixed point, where the theory of :mod:`fpkit.theory.spectral_route` evaluates
    the Jacobian.

    Returns
    -------
    ndarray, shape (n_networks, n_points, N)
        Drawn from ``make_rng(seed)`` (standard normal or standard Cauchy draws, times the scale).
    """
    config = _config(config)
    n_networks = v.check_int(n_networks, "n_networks", minimum=1)
    n_points = v.check_int(n_points, "n_points", minimum=1)
    shape = (n_networks, n_points, config.N)
    v.check_memory(16 * math.prod(shape), f"n_networks * n_points * N = {math.prod(shape)} points")
    phi = get_activation(config.activation, sigmoid_type=True)
    if config.law == "cauchy":
        gam = cauchy_fixed_scale(config)
        rng = make_rng(seed, "numpy")
        return phi(gam * rng.standard_cauchy(shape), np)
    q = meanfield_fixed_variance(config)
    rng = make_rng(seed, "numpy")
    return phi(math.sqrt(q) * rng.standard_normal(shape), np)
