"""Where the engine starts: uniform, grid and plane starts in the activation's box."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validate as v
from ..backend import array_namespace, make_rng
from ..network import Ensemble, check_ensemble
from .settings import MAX_GRID_STARTS, EngineSettings, resolve_settings

__all__ = ["box", "grid_starts", "plane_starts", "seeded_starts", "uniform_starts"]


def box(ensemble: Ensemble, low=None, high=None) -> tuple[float, float]:
    """The interval ``[low, high]`` (default: the activation's range) after validation."""
    check_ensemble(ensemble)
    dlow, dhigh = ensemble.domain
    low = dlow if low is None else v.check_real(low, "low", low=-1e150, high=1e150)
    high = dhigh if high is None else v.check_real(high, "high", low=-1e150, high=1e150)
    if not high > low:
        raise ValueError(f"high must be > low; got low={low}, high={high}")
    return low, high


def uniform_starts(ensemble: Ensemble, n_starts: int, *, seed: Any, low=None, high=None):
    """Starts drawn uniformly from the box ``[low, high]^N`` (default: the activation's range).

    Returns an array of shape (E, M, N) on the ensemble's backend.
    """
    M = v.check_int(n_starts, "n_starts", minimum=1)
    low, high = box(ensemble, low, high)
    E, _, N = ensemble.shape
    v.check_memory(8 * E * M * N, f"n_starts = {M} starts for each of {E} networks of width {N}")
    rng = make_rng(seed, ensemble.xp)
    return low + (high - low) * rng.random((E, M, N))


def grid_starts(ensemble: Ensemble, per_axis: int, *, low=None, high=None):
    """A regular grid of ``per_axis**N`` starts in ``[low, high]^N``, the same for every network.

    Grid points are cell centres, so none lies on the boundary of the box. Refuses grids of
    more than ``MAX_GRID_STARTS`` points (use :func:`~fpkit.engine.uniform_starts`
    or :func:`~fpkit.engine.plane_starts` for large N).
    """
    per_axis = v.check_int(per_axis, "per_axis", minimum=1)
    low, high = box(ensemble, low, high)
    E, _, N = ensemble.shape
    if N * math.log2(per_axis) > math.log2(MAX_GRID_STARTS) + 1e-9 or per_axis**N > MAX_GRID_STARTS:
        raise ValueError(f"per_axis**N = {per_axis}**{N} exceeds {MAX_GRID_STARTS} grid points per network; "
                         "use uniform_starts or plane_starts")
    ticks = low + (high - low) * (np.arange(per_axis) + 0.5) / per_axis
    mesh = np.stack(np.meshgrid(*([ticks] * N), indexing="ij"), axis=-1).reshape(-1, N)
    return ensemble.xp.asarray(np.broadcast_to(mesh, (E, *mesh.shape)).copy())


def seeded_starts(ensemble: Ensemble, settings: EngineSettings, *, seed: Any):
    """The starts ``settings`` asks for: ``n_starts`` uniform ones, or its grid (see EngineSettings)."""
    check_ensemble(ensemble)
    settings = resolve_settings(settings, {})
    if settings.seeding == "grid":
        return grid_starts(ensemble, settings.grid_per_axis(ensemble.width))
    return uniform_starts(ensemble, settings.n_starts, seed=seed)


def plane_starts(origin, u, v_dir, *, extent=(-1.0, 1.0, -1.0, 1.0), resolution: int = 101):
    """Points ``origin + a u + b v`` on a regular (resolution x resolution) grid of (a, b).

    Parameters
    ----------
    origin, u, v_dir : arrays of shape (E, N)
        Per network: a point of the plane and two spanning directions.
    extent : (a_min, a_max, b_min, b_max)
    resolution : int

    Returns
    -------
    starts : array (E, resolution**2, N); ``a`` varies fastest along axis 1 of the image,
        i.e. ``labels.reshape(E, resolution, resolution)[e, i_b, i_a]``.
    """
    resolution = v.check_int(resolution, "resolution", minimum=2)
    if not isinstance(extent, (tuple, list)) or len(extent) != 4:
        raise ValueError("extent must be (a_min, a_max, b_min, b_max)")
    ext = [v.check_real(e, f"extent[{i}]") for i, e in enumerate(extent)]
    if not (ext[1] > ext[0] and ext[3] > ext[2]):
        raise ValueError(f"extent must have a_max > a_min and b_max > b_min; got {tuple(extent)}")
    shapes = [getattr(a, "shape", None) for a in (origin, u, v_dir)]
    if any(s is None or len(s) != 2 for s in shapes) or len(set(shapes)) != 1:
        raise ValueError(f"origin, u and v_dir must be arrays of one shape (E, N); got shapes {shapes}")
    xp = array_namespace(origin)
    for name, arr in (("origin", origin), ("u", u), ("v_dir", v_dir)):
        if np.dtype(str(arr.dtype)).kind not in "biuf":
            raise TypeError(f"{name} must be a real array; got dtype {arr.dtype}")
        if not bool(xp.all(xp.isfinite(arr))):
            raise ValueError(f"{name} must be finite (found NaN or inf)")
    v.check_memory(8 * resolution**2 * origin.shape[0] * origin.shape[1],
                   f"resolution**2 = {resolution}**2 starts for {origin.shape[0]} networks")
    a = xp.linspace(ext[0], ext[1], resolution)
    b = xp.linspace(ext[2], ext[3], resolution)
    B, A = xp.meshgrid(b, a, indexing="ij")  # (res_b, res_a)
    A = xp.reshape(A, (-1,))
    B = xp.reshape(B, (-1,))
    with np.errstate(over="ignore", invalid="ignore"):
        out = origin[:, None, :] + A[None, :, None] * u[:, None, :] + B[None, :, None] * v_dir[:, None, :]
    if not bool(xp.all(xp.isfinite(out))):
        raise ValueError("origin, u, v_dir and extent give points beyond the float64 range; use smaller ones")
    return out

