"""Basins of attraction: volume fractions, 2-D maps, and the attractors around a point."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import _validate as v
from ..backend import make_rng
from ..network import Ensemble, check_ensemble
from .census import find_fixed_points
from .iterate import STATUS
from .result import FixedPoints
from .settings import EngineSettings, resolve_settings
from .starts import plane_starts

__all__ = ["attractors_near", "basin_fractions", "basin_map"]


def _counts(x, name):
    """Integer counts (integral floats accepted), as an int64 array."""
    arr = v.check_array(x, name)
    if np.any(arr != np.round(arr)) or np.any(np.abs(arr) > 2**62):
        raise ValueError(f"{name} must hold whole numbers (counts)")
    return arr.astype(np.int64)


def basin_fractions(result: FixedPoints, confidence: float = 0.95) -> pd.DataFrame:
    """Basin-volume fraction of every attractor with a Wilson confidence interval.

    The fraction is the share of the network's starts (all of them, adaptive ones included)
    that converged to the attractor, an unbiased estimate of the basin's volume fraction of the
    start box when the starts are uniform. Rows for cycles and non-converged starts are included
    with ``attractor = -2 / -1``; attractors are numbered within their network by basin size, as
    in :meth:`~fpkit.engine.FixedPoints.labels`.
    """
    from ..stats import wilson_interval  # lazy: fpkit.stats loads scipy.stats

    if not isinstance(result, FixedPoints):
        raise TypeError(f"result must be a FixedPoints; got {type(result).__name__}")
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    rows = []
    for e in range(result.n_networks):
        n = int(result.starts_used[e])
        fps = np.flatnonzero((result.fp_network == e) & (result.basin_count > 0))
        fps = fps[np.argsort(-result.basin_count[fps], kind="stable")]
        entries = [(-2, int(result.cycle_count[e])), (-1, int(result.not_converged_count[e]))]
        entries += [(k, int(result.basin_count[p])) for k, p in enumerate(fps)]
        for lab, cnt in sorted(entries):
            if cnt == 0:
                continue
            low, high = wilson_interval(cnt, n, confidence)
            rows.append({"network": e, "attractor": lab, "count": cnt, "fraction": cnt / n,
                         "ci_low": float(low), "ci_high": float(high)})
    return pd.DataFrame(rows, columns=["network", "attractor", "count", "fraction", "ci_low", "ci_high"])


def basin_map(
    ensemble: Ensemble,
    network: int,
    origin,
    u,
    v_dir,
    *,
    extent=(-0.5, 1.5, -0.5, 1.5),
    resolution: int = 101,
    reference=None,
    settings: EngineSettings | None = None,
    **options: Any,
):
    """Label the points of a 2-D slice ``origin + a u + b v`` of one network's input space.

    Parameters
    ----------
    network : int
        Which network of the ensemble.
    origin, u, v_dir : arrays (N,)
        The slice; for N = 2 use ``origin = (low, low)``, ``u = (high - low, 0)``, ... to cover
        the full square.
    extent : (a_min, a_max, b_min, b_max)
    resolution : int
        Pixels per side.
    reference : array (K, N), optional
        Known attractors: a point converging to ``reference[k]`` (within 100 ``merge_tol``) gets
        label k; attractors not in ``reference`` get labels K, K+1, ...
    settings, **options
        Engine settings for :func:`~fpkit.engine.find_fixed_points` (the slice's pixels are its starts).

    Returns
    -------
    labels : int array (resolution, resolution)
        ``labels[i_b, i_a]``; -1 not converged, -2 cycle.
    result : FixedPoints
        The engine's result for the slice's starts (one network).
    """
    check_ensemble(ensemble)
    network = v.check_int(network, "network", minimum=0)
    if network >= ensemble.n_networks:
        raise ValueError(f"network must be in [0, {ensemble.n_networks - 1}]; got {network}")
    N = ensemble.width
    vecs = []
    for name, vec in (("origin", origin), ("u", u), ("v_dir", v_dir)):
        arr = v.check_array(vec, name, finite=False)
        if arr.shape != (N,) or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be a finite vector of length N = {N}; got shape {arr.shape}")
        vecs.append(ensemble.xp.asarray(arr[None]))
    ref = np.zeros((0, N)) if reference is None else v.check_array(reference, "reference")
    if ref.ndim == 1 and ref.size == N:
        ref = ref[None]
    if ref.ndim != 2 or ref.shape[1] != N:
        raise ValueError(f"reference must have shape (K, N = {N}); got {ref.shape}")
    s = resolve_settings(settings, options)  # bad settings fail before the slice is built
    one = ensemble.subset(slice(network, network + 1))
    starts = plane_starts(*vecs, extent=extent, resolution=resolution)
    try:
        one.check_points(starts, "starts")
    except ValueError as exc:
        raise ValueError(f"origin, u, v_dir and extent give starts the network cannot take: {exc}") from None
    res = find_fixed_points(one, starts, settings=s)
    tol = s.merge_tol
    ids = np.full(res.x.shape[0], -1, dtype=np.int64)
    extra = 0
    for k, p in enumerate(res.x):
        d = np.max(np.abs(ref - p), axis=1) if ref.shape[0] else np.zeros(0)
        if d.size and d.min() <= 100 * tol:
            ids[k] = int(d.argmin())
        else:
            ids[k] = ref.shape[0] + extra
            extra += 1
    labels = np.full(res.attractor.shape, -1, dtype=np.int64)
    hit = res.attractor >= 0
    labels[hit] = ids[res.attractor[hit]]
    labels[res.status == STATUS["cycle"]] = -2
    return labels.reshape(resolution, resolution), res


def attractors_near(
    ensemble: Ensemble,
    points: np.ndarray,
    networks: np.ndarray,
    *,
    radius: float = 1e-3,
    n_probe: int = 32,
    seed: Any = 0,
    settings: EngineSettings | None = None,
    **options: Any,
) -> np.ndarray:
    """How many distinct attractors are reached from a small ball around each point.

    A fixed point on the boundary between basins has at least two attractors in every
    neighbourhood; an unstable point inside one basin has one. For each ``points[k]`` (of
    network ``networks[k]``), ``n_probe`` starts uniform in the max-norm ball of ``radius`` are
    iterated and the distinct stable limits counted.

    Returns
    -------
    counts : int array (K,)
    """
    check_ensemble(ensemble)
    low, high = ensemble.domain
    radius = v.check_real(radius, "radius", low=0.0, high=high - low, low_open=True)
    n_probe = v.check_int(n_probe, "n_probe", minimum=1)
    s = resolve_settings(settings, options)
    points = v.check_array(points, "points")
    networks = v.check_array(networks, "networks")
    if np.any(networks != np.round(networks)) or (networks.size and (networks.min() < 0 or
                                                                    networks.max() >= ensemble.n_networks)):
        raise ValueError(f"networks must hold indices of networks in [0, {ensemble.n_networks - 1}]")
    networks = networks.astype(np.int64)
    K = points.shape[0] if points.ndim == 2 else -1
    if points.ndim != 2 or points.shape[1] != ensemble.width or networks.shape != (K,):
        raise ValueError(f"points must be (K, N = {ensemble.width}) and networks (K,); "
                         f"got {points.shape} and {networks.shape}")
    if K and (networks.min() < 0 or networks.max() >= ensemble.n_networks):
        raise ValueError(f"networks must be in [0, {ensemble.n_networks - 1}]")
    if K and (points.min() < low - (high - low) or points.max() > high + (high - low)):
        raise ValueError(f"points must lie in the box [{low:g}, {high:g}]^N where the fixed points are")
    v.check_memory(8 * 32 * K * n_probe * ensemble.width, f"n_probe = {n_probe} starts around {K} points")
    rng = make_rng(seed, "numpy")
    if K == 0:
        return np.zeros(0, dtype=np.int64)
    # One batched run: network k of the sub-ensemble is a copy of networks[k], probed around points[k].
    sub = ensemble.subset(networks)
    probe = points[:, None, :] + radius * (2.0 * rng.random((K, n_probe, points.shape[1])) - 1.0)
    res = find_fixed_points(sub, sub.xp.asarray(probe), seed=rng, settings=s)
    reached = res.stable & (res.basin_count > 0)
    return np.bincount(res.fp_network[reached], minlength=K).astype(np.int64)
