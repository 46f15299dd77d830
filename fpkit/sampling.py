"""Weight laws, scaling conventions and tail diagnostics.

Laws (all symmetric about 0, i.i.d. entries)
--------------------------------------------
``"gaussian"``
    Standard normal, N(0, 1). Tail index infinite (light tail).
``"cauchy"``
    Standard Cauchy, density 1 / (pi (1 + x^2)). Tail index 1: ``P(|X| > x) ~ (2/pi) / x``.
``"student_t"`` (needs ``df >= 0.1``)
    Student's t with ``df`` degrees of freedom, scale 1. Tail index ``df``.
``"alpha_stable"`` (needs ``0.1 <= alpha <= 2``)
    Symmetric alpha-stable S(alpha, beta=0, gamma=1) in Nolan's S1 (= S0 for beta = 0)
    parameterisation, i.e. characteristic function ``exp(-|t|^alpha)``, drawn by the
    Chambers-Mallows-Stuck method. ``alpha = 1`` is the standard Cauchy law;
    ``alpha = 2`` is N(0, 2). Tail index ``alpha`` for ``alpha < 2``.

Tail indices below :data:`MIN_TAIL_INDEX` (0.1) are refused: such draws exceed the float64
range with a probability that is not negligible, so they cannot be represented.

Scaling conventions
-------------------
A weight is ``W = s * c(N) * Z`` with ``Z`` a standard draw of the law, ``s`` the
``scale`` argument and ``c(N)`` fixed by ``convention`` and the fan-in ``N``:

``"fan_in"`` (default)
    ``c(N) = N ** (-1 / a)`` with ``a`` the law's *stability index*: 2 for laws with
    finite variance (Gaussian, Student-t with df > 2), ``alpha`` for alpha-stable,
    1 for Cauchy, ``df`` for Student-t with df < 2 (the generalised central limit
    theorem). With this choice a pre-activation ``sum_j W_ij x_j`` with O(1) inputs
    stays O(1) as N grows, for every law. (df = 2 is the borderline case that needs
    a sqrt(log N) correction, which is not applied.)
``"sqrt_fan_in"``
    ``c(N) = N ** (-1/2)`` for every law: the Gaussian (He/LeCun-style) convention
    applied blindly. For heavy tails the pre-activations then grow like N^(1/a - 1/2).
``"absolute"``
    ``c(N) = 1``: the entries are ``s * Z`` whatever the width.

Tail diagnostics
----------------
:func:`hill_estimator` (Hill 1975) and :func:`fit_power_law` (Clauset, Shalizi & Newman
2009: continuous maximum likelihood with ``xmin`` chosen by the Kolmogorov-Smirnov
distance). Both act on ``|x|`` and report the *tail index* ``alpha`` of the survival
function, ``P(|X| > x) ~ x^(-alpha)``; the density exponent of Clauset et al. is ``alpha + 1``.
:func:`esd_power_law` fits the eigenvalues of ``W^T W`` the way WeightWatcher does and
reports, like WeightWatcher, the *density* exponent of that spectrum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _validate as v
from .backend import get_namespace, make_rng

__all__ = [
    "CONVENTIONS",
    "ESDPowerLaw",
    "LAWS",
    "MIN_TAIL_INDEX",
    "HillEstimate",
    "PowerLawFit",
    "WeightLaw",
    "esd_power_law",
    "fit_power_law",
    "hill_estimator",
    "sample_weights",
    "scale_factor",
    "weight_law",
]

#: Weight laws known to :func:`sample_weights`.
LAWS = ("gaussian", "cauchy", "student_t", "alpha_stable")
#: Scaling conventions known to :func:`sample_weights` and :func:`scale_factor`.
CONVENTIONS = ("fan_in", "sqrt_fan_in", "absolute")
#: Smallest tail index (``alpha`` of alpha-stable, ``df`` of Student-t) that can be sampled. Below
#: it the draws overflow float64: the Chambers-Mallows-Stuck formula raises numbers near 0 to the
#: power 1/alpha, and the Student-t gamma draws underflow. From 0.1 on, the alpha-stable draws stay
#: below 1e300 for every uniform and exponential the generator can give (uniforms >= 2^-53,
#: exponentials floored at 2^-53, which changes the law on an event of probability 1e-16), and
#: Student-t draws are exact except with probability below 1e-15 (gamma draws below the smallest
#: normal float are floored there).
MIN_TAIL_INDEX = 0.1
#: Floor of the exponential draws of the Chambers-Mallows-Stuck method (see MIN_TAIL_INDEX).
_EXP_FLOOR = 2.0**-53


@dataclass(frozen=True)
class WeightLaw:
    """An i.i.d. symmetric weight law in its standard form (scale 1).

    Parameters
    ----------
    name : {"gaussian", "cauchy", "student_t", "alpha_stable"}
    df : float, optional
        Degrees of freedom, required for and only for ``"student_t"`` (df >= 0.1).
    alpha : float, optional
        Stability index in [0.1, 2], required for and only for ``"alpha_stable"`` (see
        :data:`MIN_TAIL_INDEX`).
    """

    name: str
    df: float | None = None
    alpha: float | None = None

    def __post_init__(self) -> None:
        v.check_choice(self.name, "law", LAWS)
        if self.name == "student_t":
            if self.df is None:
                raise ValueError(f"law 'student_t' needs df, a real number in [{MIN_TAIL_INDEX}, inf)")
            object.__setattr__(self, "df", _check_index(self.df, "df", math.inf))
        elif self.df is not None:
            raise ValueError(f"df applies only to law 'student_t', not {self.name!r}")
        if self.name == "alpha_stable":
            if self.alpha is None:
                raise ValueError(f"law 'alpha_stable' needs alpha, a real number in [{MIN_TAIL_INDEX}, 2.0]")
            object.__setattr__(self, "alpha", _check_index(self.alpha, "alpha", 2.0))
        elif self.alpha is not None:
            raise ValueError(f"alpha applies only to law 'alpha_stable', not {self.name!r}")

    @property
    def tail_index(self) -> float:
        """Exponent of ``P(|X| > x) ~ x^(-a)``; ``inf`` for a light (Gaussian) tail."""
        if self.name == "gaussian":
            return math.inf
        if self.name == "cauchy":
            return 1.0
        if self.name == "student_t":
            return float(self.df)
        return math.inf if self.alpha == 2.0 else float(self.alpha)

    @property
    def stability_index(self) -> float:
        """Index ``a`` in (0, 2] of the stable law that sums of this law approach (GCLT)."""
        return min(self.tail_index, 2.0)

    @property
    def median_abs(self) -> float:
        """The median of ``|X|`` for the law in standard form (scale 1): the scale-free size of a
        typical weight, used to compare laws with different tails at a matched typical size."""
        if self.name == "gaussian":
            return 0.6744897501960817  # Phi^-1(3/4)
        if self.name == "cauchy":
            return 1.0
        from scipy import stats

        if self.name == "student_t":
            return float(stats.t.ppf(0.75, self.df))
        return float(stats.levy_stable.ppf(0.75, self.alpha, 0.0))

    @property
    def label(self) -> str:
        """Short human-readable name, e.g. ``"Student-t (df=3)"``."""
        if self.name == "student_t":
            return f"Student-t (df={self.df:g})"
        if self.name == "alpha_stable":
            return f"alpha-stable (alpha={self.alpha:g})"
        return self.name.capitalize()

    def scipy(self):
        """The law as a frozen :mod:`scipy.stats` distribution (standard form)."""
        from scipy import stats  # lazy: scipy.stats is slow to import

        if self.name == "gaussian":
            return stats.norm()
        if self.name == "cauchy":
            return stats.cauchy()
        if self.name == "student_t":
            return stats.t(self.df)
        return stats.levy_stable(self.alpha, 0.0)

    def survival(self, x: Any) -> np.ndarray:
        """Two-sided survival function ``P(|X| > x)`` of the standard law, for x >= 0.

        Exact (SciPy) for every law, except that for alpha-stable laws with alpha < 2 and
        x > 100, where SciPy's numerical integration returns 0, the tail asymptote
        ``P(|X| > x) ~ 2 Gamma(alpha) sin(pi alpha / 2) / pi * x^(-alpha)`` is used
        (Nolan 2020, Theorem 1.2); its relative error at x = 100 is below 1e-3 for alpha <= 1.9.
        """
        x = v.check_array(x, "x", finite=False)
        if np.isnan(x).any():
            raise ValueError("x must not contain NaN")
        x = np.abs(x)
        sf = 2.0 * self.scipy().sf(x)
        if self.name == "alpha_stable" and self.alpha < 2.0:
            a = self.alpha
            tail = 2.0 * math.gamma(a) * math.sin(math.pi * a / 2.0) / math.pi * np.maximum(x, 1.0) ** (-a)
            sf = np.where(x > 100.0, tail, sf)
        return sf

    def sample(self, shape: tuple[int, ...], rng: Any, xp: Any = np, dtype: Any = None):
        """Standard draws of shape ``shape`` from ``rng`` (a NumPy or CuPy generator)."""
        shape = v.check_shape(shape)
        if not all(hasattr(rng, f) for f in ("random", "standard_normal", "standard_exponential")):
            raise TypeError(f"rng must be a NumPy or CuPy Generator (see fpkit.make_rng); got {type(rng).__name__}")
        if getattr(xp, "__name__", "").split(".")[0] not in ("numpy", "cupy"):
            raise TypeError(f"xp must be the numpy or cupy module; got {xp!r:.60}")
        v.check_memory(16 * math.prod(shape), f"shape={shape} (float64 draws)")
        dtype = xp.float64 if dtype is None else dtype
        if self.name == "gaussian":
            return rng.standard_normal(shape, dtype=dtype)
        if self.name == "cauchy":
            # tan(pi (U - 1/2)) with U uniform on the open interval: never inf.
            u = _open_uniform(rng, shape, xp)
            return xp.tan(xp.pi * (u - 0.5)).astype(dtype, copy=False)
        if self.name == "student_t":
            z = rng.standard_normal(shape)
            g = rng.standard_gamma(self.df / 2.0, size=shape)  # chi2(df) / 2
            g = xp.maximum(g, xp.finfo(xp.float64).tiny)
            return (z / xp.sqrt(g / (self.df / 2.0))).astype(dtype, copy=False)
        return _chambers_mallows_stuck(self.alpha, shape, rng, xp).astype(dtype, copy=False)


_LOG_MAX = math.log(np.finfo(np.float64).max)
_LOG_TINY = math.log(np.finfo(np.float64).tiny)


def _check_index(value: Any, name: str, high: float) -> float:
    """A tail index (``df`` or ``alpha``) in [MIN_TAIL_INDEX, high], with the reason for the floor."""
    value = v.check_real(value, name, low=0.0, high=high, low_open=True)
    if value < MIN_TAIL_INDEX:
        raise ValueError(
            f"{name} must be in [{MIN_TAIL_INDEX}, {high}]; got {value:g}: below {MIN_TAIL_INDEX} the draws "
            "overflow float64 (inf or NaN), so this law cannot be sampled"
        )
    return value


def _open_uniform(rng: Any, shape: tuple[int, ...], xp: Any):
    """Uniform draws on the open interval (0, 1)."""
    u = rng.random(shape)
    return xp.where(u == 0.0, 0.5 * xp.finfo(xp.float64).eps, u)


def _chambers_mallows_stuck(alpha: float, shape: tuple[int, ...], rng: Any, xp: Any):
    """Symmetric alpha-stable S(alpha, 0, 1) draws (Chambers, Mallows & Stuck 1976).

    With V uniform on (-pi/2, pi/2) and W standard exponential,
    X = sin(alpha V) / cos(V)^(1/alpha) * (cos((1 - alpha) V) / W)^((1 - alpha) / alpha).
    """
    vv = xp.pi * (_open_uniform(rng, shape, xp) - 0.5)
    w = rng.standard_exponential(shape)
    w = xp.maximum(w, _EXP_FLOOR)
    if alpha == 1.0:
        return xp.tan(vv)
    cos_v = xp.cos(vv)
    return (
        xp.sin(alpha * vv)
        / cos_v ** (1.0 / alpha)
        * (xp.cos((1.0 - alpha) * vv) / w) ** ((1.0 - alpha) / alpha)
    )


def weight_law(law: str | WeightLaw, *, df: float | None = None, alpha: float | None = None) -> WeightLaw:
    """Build (or pass through) a :class:`WeightLaw` from a name and its parameter."""
    if isinstance(law, WeightLaw):
        if df is not None or alpha is not None:
            raise ValueError("df/alpha cannot be given together with a WeightLaw instance")
        return law
    return WeightLaw(law, df=df, alpha=alpha)


def scale_factor(
    law: str | WeightLaw,
    fan_in: int,
    convention: str = "fan_in",
    scale: float = 1.0,
    *,
    df: float | None = None,
    alpha: float | None = None,
) -> float:
    """The factor ``s * c(N)`` that multiplies standard draws (see the module docstring).

    Parameters
    ----------
    law : str or WeightLaw
    fan_in : int
        Number of inputs N of a unit (>= 1).
    convention : {"fan_in", "sqrt_fan_in", "absolute"}
    scale : float
        The scale ``s`` (> 0).

    Examples
    --------
    >>> scale_factor("cauchy", 100)  # 1 / N for Cauchy
    0.01
    >>> scale_factor("gaussian", 100, scale=2.0)  # 2 / sqrt(N)
    0.2
    """
    law = weight_law(law, df=df, alpha=alpha)
    fan_in = v.check_int(fan_in, "fan_in", minimum=1)
    v.check_choice(convention, "convention", CONVENTIONS)
    scale = v.check_real(scale, "scale", low=0.0, low_open=True)
    if convention == "absolute":
        return scale
    exponent = 0.5 if convention == "sqrt_fan_in" else 1.0 / law.stability_index
    log_factor = math.log(scale) - exponent * math.log(fan_in)
    if not _LOG_TINY <= log_factor <= _LOG_MAX:
        raise ValueError(f"scale * fan_in**(-{exponent:g}) = exp({log_factor:.4g}) is outside the float64 range "
                         f"for scale={scale:g}, fan_in={fan_in}; choose a scale or fan_in that keeps it in range")
    return scale * fan_in ** (-exponent)


def sample_weights(
    law: str | WeightLaw,
    shape: int | tuple[int, ...],
    *,
    seed: Any,
    scale: float = 1.0,
    convention: str = "fan_in",
    fan_in: int | None = None,
    df: float | None = None,
    alpha: float | None = None,
    backend: str | None = None,
):
    """Draw an array of i.i.d. weights from a law under a scaling convention.

    Parameters
    ----------
    law : {"gaussian", "cauchy", "student_t", "alpha_stable"} or WeightLaw
    shape : int or tuple of int
        Output shape, e.g. ``(E, L, N, N)`` for E networks of depth L and width N.
    seed : int or Generator
        Same seed, same numbers (on the same backend).
    scale : float
        Scale ``s`` > 0 (see the module docstring).
    convention : {"fan_in", "sqrt_fan_in", "absolute"}
    fan_in : int, optional
        The N of the convention; defaults to the last axis of ``shape``.
    df, alpha : float, optional
        Parameter of ``"student_t"`` / ``"alpha_stable"``.
    backend : {"auto", "numpy", "cupy"}, optional
        Defaults to ``FPKIT_BACKEND``.

    Returns
    -------
    array of float64, of the backend's array type.
    """
    law = weight_law(law, df=df, alpha=alpha)
    shape = v.check_shape(shape)
    if fan_in is None:
        if not shape or shape[-1] < 1:
            raise ValueError("fan_in must be given when shape has no positive last axis")
        fan_in = shape[-1]
    factor = scale_factor(law, fan_in, convention, scale)
    v.check_memory(8 * math.prod(shape), f"shape={shape} (float64 weights)")
    xp = get_namespace(backend)
    rng = make_rng(seed, xp)
    draws = law.sample(shape, rng, xp)
    with np.errstate(over="ignore"):
        out = factor * draws
    if not bool(xp.all(xp.isfinite(out))):
        raise ValueError(f"scale={scale:g} is too large for this law: the weights scale * c(N) * Z overflow "
                         f"float64 (scale * c(N) = {factor:.3g}, draws |Z| up to {float(xp.abs(draws).max()):.3g}); "
                         "use a smaller scale")
    return out


# ---------------------------------------------------------------------------
# Tail diagnostics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HillEstimate:
    """Result of :func:`hill_estimator`.

    Attributes
    ----------
    alpha : float
        Tail index estimate.
    stderr : float
        Asymptotic standard error ``alpha / sqrt(k)``.
    k : int
        Number of upper order statistics used.
    n : int
        Sample size (non-zero absolute values).
    """

    alpha: float
    stderr: float
    k: int
    n: int


@dataclass(frozen=True)
class PowerLawFit:
    """Result of :func:`fit_power_law`.

    Attributes
    ----------
    alpha : float
        Tail index of the survival function above ``xmin`` (density exponent is ``alpha + 1``).
    stderr : float
        Asymptotic standard error ``alpha / sqrt(n_tail)``.
    xmin : float
        Lower bound of the power-law region.
    ks_distance : float
        Kolmogorov-Smirnov distance between the tail data and the fitted law.
    n_tail : int
        Number of observations >= ``xmin``.
    n : int
        Sample size (non-zero absolute values).
    """

    alpha: float
    stderr: float
    xmin: float
    ks_distance: float
    n_tail: int
    n: int


def _abs_sorted_desc(x: Any, name: str = "x", min_size: int = 2) -> np.ndarray:
    arr = v.check_array(x, name, finite=False).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    arr = np.abs(arr)
    arr = arr[arr > 0]
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} non-zero values; got {arr.size}")
    return np.sort(arr)[::-1]


def hill_estimator(x: Any, k: int | None = None) -> HillEstimate:
    """Hill's estimator of the tail index of ``|x|``.

    ``alpha_hat = 1 / mean_{i<=k} log(X_(i) / X_(k+1))`` over the k largest values
    X_(1) >= ... >= X_(k) (Hill 1975).

    Parameters
    ----------
    x : array_like
        Samples; zeros are dropped.
    k : int, optional
        Number of upper order statistics, 2 <= k < n. Default ``ceil(sqrt(n))``.

    Notes
    -----
    The estimator assumes an exact Pareto tail above X_(k+1). For alpha-stable laws
    with alpha close to 2 the power-law tail sets in only far out, so at moderate n
    the estimate is biased upwards; chapter 1 of the book shows by how much.
    """
    xs = _abs_sorted_desc(x, min_size=3)
    n = xs.size
    if k is None:
        k = max(2, math.ceil(math.sqrt(n)))
    k = v.check_int(k, "k", minimum=2)
    if k >= n:
        raise ValueError(f"k must be in [2, n - 1] = [2, {n - 1}]; got {k}")
    with np.errstate(over="ignore"):
        ratio = xs[:k] / xs[k]
    logs = np.log(ratio) if np.all(np.isfinite(ratio)) else np.log(xs[:k]) - np.log(xs[k])
    if not logs.mean() > 0:
        raise ValueError(f"x must have spread among its k + 1 = {k + 1} largest values (they are all equal): "
                         "the Hill estimate is undefined")
    alpha = float(1.0 / logs.mean())
    return HillEstimate(alpha=alpha, stderr=alpha / math.sqrt(k), k=k, n=n)


def fit_power_law(
    x: Any,
    *,
    xmin: float | None = None,
    min_tail: int = 50,
    max_candidates: int = 200,
) -> PowerLawFit:
    """Fit a power-law tail to ``|x|`` (Clauset, Shalizi & Newman 2009).

    For a given ``xmin`` the continuous maximum-likelihood tail index is
    ``alpha = n_tail / sum_{x_i >= xmin} log(x_i / xmin)``. When ``xmin`` is not given it is
    chosen among up to ``max_candidates`` order statistics (log-spaced tail sizes from
    ``min_tail`` to n) as the one that minimises the Kolmogorov-Smirnov distance between
    the empirical and fitted survival functions of the tail.

    Parameters
    ----------
    x : array_like
        Samples; zeros are dropped.
    xmin : float, optional
        Fix the lower bound instead of choosing it.
    min_tail : int
        Smallest number of tail observations considered (>= 2).
    max_candidates : int
        Number of candidate ``xmin`` values scanned (>= 1).

    Returns
    -------
    PowerLawFit
    """
    xs = _abs_sorted_desc(x, min_size=3)
    n = xs.size
    min_tail = v.check_int(min_tail, "min_tail", minimum=2)
    max_candidates = v.check_int(max_candidates, "max_candidates", minimum=1)
    if xmin is not None:
        xmin = v.check_real(xmin, "xmin", low=0.0, low_open=True)
        n_tail = int(np.searchsorted(-xs, -xmin, side="right"))
        if n_tail < 2:
            raise ValueError(f"xmin must leave at least 2 observations above it; {n_tail} do")
        alpha, ks = _tail_fit(xs[:n_tail], xmin)
        if not math.isfinite(alpha):
            raise ValueError(f"x must have spread above xmin = {xmin:g} (all {n_tail} values there are equal)")
        return PowerLawFit(alpha, alpha / math.sqrt(n_tail), xmin, ks, n_tail, n)
    if min_tail > n:
        raise ValueError(f"min_tail must be <= the number of non-zero samples of x ({n}); got {min_tail}")
    sizes = np.unique(np.geomspace(min_tail, n, num=max_candidates).astype(int))
    best = None
    for k in sizes:
        cand_xmin = xs[k - 1]
        n_tail = int(np.searchsorted(-xs, -cand_xmin, side="right"))  # ties at xmin included
        alpha, ks = _tail_fit(xs[:n_tail], cand_xmin)
        if best is None or ks < best.ks_distance:
            best = PowerLawFit(alpha, alpha / math.sqrt(n_tail), float(cand_xmin), ks, n_tail, n)
    if not math.isfinite(best.alpha):
        raise ValueError("x must have spread in its tail (its largest values are all equal): no power law to fit")
    return best


def _tail_fit(tail_desc: np.ndarray, xmin: float) -> tuple[float, float]:
    """MLE tail index and KS distance for the values ``tail_desc`` (descending, all >= xmin)."""
    k = tail_desc.size
    with np.errstate(over="ignore"):
        ratio = tail_desc / xmin
    if np.all(np.isfinite(ratio)):
        total = np.log(ratio).sum()
    else:  # xmin so far below the data that x / xmin overflows: the same in logs
        logs = np.log(tail_desc) - math.log(xmin)
        total = logs.sum()
        ratio = None
    if total <= 0:
        return math.inf, 1.0
    alpha = k / total
    fitted = ratio ** (-alpha) if ratio is not None else np.exp(-alpha * logs)  # P(X >= x_i) under the fit
    i = np.arange(1, k + 1)
    ks = max(np.abs(i / k - fitted).max(), np.abs((i - 1) / k - fitted).max())
    return float(alpha), float(ks)


@dataclass(frozen=True)
class ESDPowerLaw:
    """Result of :func:`esd_power_law`.

    Attributes
    ----------
    alpha : float
        WeightWatcher's alpha: the exponent of the eigenvalue *density* of ``W^T W`` above
        ``xmin``, ``rho(lambda) ~ lambda^(-alpha)``; equal to 1 + the tail index of the
        eigenvalues.
    stderr : float
        Asymptotic standard error ``(alpha - 1) / sqrt(n_tail)``.
    xmin_fraction : float
        Smallest eigenvalue of the power-law region, over the largest eigenvalue (the exponent
        does not depend on the scale; the fit runs on these ratios, so that no square overflows).
    ks_distance : float
        Kolmogorov-Smirnov distance between the tail eigenvalues and the fitted law.
    n_tail : int
        Eigenvalues >= ``xmin``.
    n : int
        Non-zero eigenvalues.
    """

    alpha: float
    stderr: float
    xmin_fraction: float
    ks_distance: float
    n_tail: int
    n: int


def esd_power_law(W: Any, *, min_tail: int = 10) -> ESDPowerLaw:
    """Power-law exponent of the empirical spectral density of ``W^T W`` (WeightWatcher's alpha).

    The eigenvalues ``lambda_i = sigma_i(W)^2`` (the squared singular values of the (n, m)
    matrix, min(n, m) of them) are fitted by :func:`fit_power_law` (Clauset-Shalizi-Newman
    maximum likelihood with ``xmin`` chosen by the Kolmogorov-Smirnov distance), as
    WeightWatcher fits them with the ``powerlaw`` package (Martin & Mahoney 2021, "Implicit
    self-regularization in deep neural networks"). The returned ``alpha`` is the density
    exponent, ``1 +`` the fitted tail index: about 2-4 for the "heavy-tailed" layers of trained
    networks in Martin & Mahoney's classification, larger for random-like (Marchenko-Pastur)
    spectra, and ``1 + mu / 2`` for large matrices with i.i.d. entries of tail index ``mu < 2``.

    Parameters
    ----------
    W : array_like, shape (n, m)
        A weight matrix (real, finite).
    min_tail : int
        Fewest eigenvalues in the fitted tail (>= 2; at most the number of non-zero
        eigenvalues). WeightWatcher lets the KS distance choose among all tails; with the 64
        eigenvalues of a 64 x 64 layer, tails of a handful of eigenvalues fit by chance, so a floor
        is set.

    Returns
    -------
    ESDPowerLaw
    """
    arr = v.check_array(W, "W", finite=False)
    if arr.ndim != 2:
        raise ValueError(f"W must be a matrix, shape (n, m); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("W must contain only finite values")
    min_tail = v.check_int(min_tail, "min_tail", minimum=2)
    scale = float(np.abs(arr).max(initial=0.0))
    sv = np.linalg.svd(arr / scale, compute_uv=False) if scale > 0 else np.zeros(1)
    rel = (sv / sv.max()) ** 2 if sv.max() > 0 else sv  # eigenvalues over the largest: no overflow
    rel = rel[rel > np.finfo(np.float64).eps * max(arr.shape)]
    if rel.size < max(3, min_tail):
        raise ValueError(f"W must have at least max(3, min_tail) = {max(3, min_tail)} non-zero eigenvalues "
                         f"of W^T W; got {rel.size}")
    try:
        fit = fit_power_law(rel, min_tail=min_tail)
    except ValueError:  # a tail without spread, e.g. an orthogonal W: all eigenvalues equal
        raise ValueError("W has no power-law tail to fit: the largest eigenvalues of W^T W are all equal") from None
    return ESDPowerLaw(alpha=1.0 + fit.alpha, stderr=fit.stderr, xmin_fraction=fit.xmin, ks_distance=fit.ks_distance,
                       n_tail=fit.n_tail, n=fit.n)
