"""The fixed-point engine: attractors by batched iteration, all fixed points by Newton.

Pipeline of :func:`find_fixed_points` (after Golub & Sussillo's FixedPointFinder, with cycle
detection and a Newton search for unstable points added):

1. **Iterate** ``x <- F(x)`` from all E x M starts together. A start whose step
   ``|F(x) - x|_inf`` falls below ``tol`` has *converged* and leaves the active set; one whose
   orbit returns within ``tol`` of a point p steps back (2 <= p <= ``max_period``) while still
   moving is a *cycle* of period p; one still moving after ``max_iter`` steps is
   *not converged*. The active starts are re-packed as they leave, so finished starts cost
   nothing.
2. **Merge** the converged limits per network (points closer than ``merge_tol`` in the max
   norm are one fixed point; the representative is the one with the smallest residual), and
   **polish** each by Newton's method on ``G(x) = F(x) - x`` to ``|G|_inf <= polish_tol``
   (1e-12 in float64).
3. **Classify** each fixed point by the eigenvalues of ``J_F(x*)``: stable iff the spectral
   radius is < 1; the number of eigenvalues of modulus > 1 is its number of unstable directions.
4. Optionally **search with Newton** (damped, with deflation of every root already known,
   after Farrell, Birkisson & Funke 2015) from fresh starts, which also finds *unstable* fixed
   points that iteration can never reach. Iteration counts attractors; Newton counts all.

All results come back as NumPy arrays in a :class:`FixedPoints` container whose per-start
arrays share batch axis 0 (one row per start), as do its per-fixed-point arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import _validate as v
from .backend import get_namespace, make_rng, to_numpy
from .network import Ensemble

__all__ = [
    "STATUS",
    "FixedPoints",
    "attractors_near",
    "basin_fractions",
    "basin_map",
    "find_fixed_points",
    "grid_starts",
    "iterate_map",
    "merge_points",
    "newton_search",
    "plane_starts",
    "polish",
    "uniform_starts",
]

#: Status codes of a start's orbit.
STATUS = {"converged": 0, "cycle": 1, "not_converged": 2}
_STATUS_NAMES = np.array(list(STATUS))


# --------------------------------------------------------------------------- starts


def uniform_starts(ensemble: Ensemble, n_starts: int, *, seed: Any, low=None, high=None):
    """Starts drawn uniformly from the box ``[low, high]^N`` (default: the activation's range).

    Returns an array of shape (E, M, N) on the ensemble's backend.
    """
    M = v.check_int(n_starts, "n_starts", minimum=1)
    low, high = _box(ensemble, low, high)
    E, _, N = ensemble.shape
    xp = get_namespace(_backend_of(ensemble))
    rng = make_rng(seed, xp)
    return low + (high - low) * rng.random((E, M, N))


def grid_starts(ensemble: Ensemble, per_axis: int, *, low=None, high=None):
    """A regular grid of ``per_axis**N`` starts in ``[low, high]^N``, the same for every network.

    Grid points are cell centres, so none lies on the boundary of the box. Refuses grids of
    more than 10**6 points (use :func:`uniform_starts` or :func:`plane_starts` for large N).
    """
    per_axis = v.check_int(per_axis, "per_axis", minimum=1)
    E, _, N = ensemble.shape
    if per_axis**N > 10**6:
        raise ValueError(
            f"per_axis**N = {per_axis}**{N} exceeds 10**6 grid points; use uniform_starts or plane_starts"
        )
    low, high = _box(ensemble, low, high)
    ticks = low + (high - low) * (np.arange(per_axis) + 0.5) / per_axis
    mesh = np.stack(np.meshgrid(*([ticks] * N), indexing="ij"), axis=-1).reshape(-1, N)
    xp = get_namespace(_backend_of(ensemble))
    return xp.asarray(np.broadcast_to(mesh, (E, *mesh.shape)).copy())


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
    if len(extent) != 4:
        raise ValueError("extent must be (a_min, a_max, b_min, b_max)")
    from .backend import array_namespace

    xp = array_namespace(origin)
    a = xp.linspace(extent[0], extent[1], resolution)
    b = xp.linspace(extent[2], extent[3], resolution)
    B, A = xp.meshgrid(b, a, indexing="ij")  # (res_b, res_a)
    A = xp.reshape(A, (-1,))
    B = xp.reshape(B, (-1,))
    return origin[:, None, :] + A[None, :, None] * u[:, None, :] + B[None, :, None] * v_dir[:, None, :]


def _box(ensemble, low, high):
    dlow, dhigh = ensemble.domain
    low = dlow if low is None else v.check_real(low, "low")
    high = dhigh if high is None else v.check_real(high, "high")
    if not high > low:
        raise ValueError(f"high must be > low; got low={low}, high={high}")
    return low, high


def _backend_of(ensemble: Ensemble) -> str:
    return "cupy" if ensemble.xp.__name__.split(".")[0] == "cupy" else "numpy"


# --------------------------------------------------------------------------- iteration


@dataclass
class IterationResult:
    """Per-start outcome of :func:`iterate_map`; arrays of shape (E, M[, N]) on the backend."""

    limit: Any
    iterations: Any
    status: Any
    period: Any
    step: Any


def iterate_map(
    ensemble: Ensemble,
    starts,
    *,
    tol: float = 1e-10,
    max_iter: int = 5000,
    max_period: int = 8,
    cycle_min_step: float = 1e-6,
) -> IterationResult:
    """Iterate ``x <- F(x)`` from every start, classifying each orbit.

    Parameters
    ----------
    ensemble : Ensemble
    starts : array (E, M, N)
    tol : float
        A start has converged when ``|F(x) - x|_inf < tol``.
    max_iter : int
        Hard cap on the number of steps.
    max_period : int
        Longest cycle period detected (>= 1; 1 disables cycle detection).
    cycle_min_step : float
        A period-p return ``|x_k - x_{k-p}|_inf < tol`` counts as a cycle only while the orbit
        still moves by more than this per step, so a fixed point approached in slow
        oscillation (eigenvalue near -1) is not mistaken for a 2-cycle.

    Returns
    -------
    IterationResult
        ``status`` holds :data:`STATUS` codes; ``period`` is 1 for converged starts, p for
        cycles, 0 otherwise; ``step`` is the last ``|F(x) - x|_inf``.
    """
    tol = v.check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    max_period = v.check_int(max_period, "max_period", minimum=1)
    cycle_min_step = v.check_real(cycle_min_step, "cycle_min_step", low=0.0)
    xp = ensemble.xp
    x0 = ensemble._check_points(starts)
    if not bool(xp.all(xp.isfinite(x0))):
        raise ValueError("starts must be finite (found NaN or inf)")
    E, M, N = x0.shape

    limit = xp.asarray(x0, copy=True)
    iterations = xp.full((E, M), max_iter, dtype=xp.int64)
    status = xp.full((E, M), STATUS["not_converged"], dtype=xp.int64)
    period = xp.zeros((E, M), dtype=xp.int64)
    step = xp.full((E, M), xp.inf, dtype=xp.float64)

    # The active set is packed into a dense (E', M', N) block: rows are the networks that still
    # have unfinished starts (``net``), columns their unfinished starts (``idx``; padding
    # columns are marked invalid). Both shrink as starts finish, so a few slow orbits do not
    # keep the whole ensemble busy.
    net = xp.arange(E)  # active row -> network
    idx = xp.broadcast_to(xp.arange(M)[None, :], (E, M))  # active column -> start index
    valid = xp.ones((E, M), dtype=bool)
    active = ensemble
    xa = x0
    last_step = step
    history: list = []  # x_{k-1}, x_{k-2}, ... (most recent last), at most max_period states
    for k in range(1, max_iter + 1):
        new = active.forward(xa)
        d1 = xp.max(xp.abs(new - xa), axis=-1)
        done_conv = valid & (d1 < tol)
        done_cyc = xp.zeros_like(valid)
        cyc_period = xp.zeros(valid.shape, dtype=xp.int64)
        if max_period > 1 and history:
            moving = valid & ~done_conv & (d1 > cycle_min_step)
            for p in range(2, min(max_period, len(history) + 1) + 1):
                # new is x_k, xa is x_{k-1}, history[-(p-1)] is x_{k-p}
                back = history[-(p - 1)]
                dp = xp.max(xp.abs(new - back), axis=-1)
                hit = moving & ~done_cyc & (dp < tol)
                cyc_period = xp.where(hit, p, cyc_period)
                done_cyc = done_cyc | hit
        finished = done_conv | done_cyc
        if bool(xp.any(finished)):
            rows, cols = xp.nonzero(finished)
            nets, starts_idx = net[rows], idx[rows, cols]
            limit[nets, starts_idx] = new[rows, cols]
            iterations[nets, starts_idx] = k
            status[nets, starts_idx] = xp.where(done_conv[rows, cols], STATUS["converged"], STATUS["cycle"])
            period[nets, starts_idx] = xp.where(done_conv[rows, cols], 1, cyc_period[rows, cols])
            step[nets, starts_idx] = d1[rows, cols]
            valid = valid & ~finished
        history.append(xa)
        if len(history) > max_period - 1:
            history.pop(0)
        xa, last_step = new, d1
        counts = xp.sum(valid, axis=1)
        width = int(xp.max(counts)) if valid.size else 0
        if width == 0:
            break
        live = counts > 0
        n_live = int(xp.sum(live))
        if n_live <= valid.shape[0] // 2 or width <= valid.shape[1] // 2:
            # re-pack: keep the rows with active starts, and in them the active starts first
            keep = xp.nonzero(live)[0]
            order = xp.argsort(~valid[keep], axis=1, stable=True)[:, :width]
            net = net[keep]
            idx = xp.take_along_axis(idx[keep], order, axis=1)
            valid = xp.take_along_axis(valid[keep], order, axis=1)
            xa = xp.take_along_axis(xa[keep], order[..., None], axis=1)
            last_step = xp.take_along_axis(last_step[keep], order, axis=1)
            history = [xp.take_along_axis(h[keep], order[..., None], axis=1) for h in history]
            active = ensemble.subset(net)
    if bool(xp.any(valid)):
        rows, cols = xp.nonzero(valid)
        nets, starts_idx = net[rows], idx[rows, cols]
        limit[nets, starts_idx] = xa[rows, cols]
        step[nets, starts_idx] = last_step[rows, cols]
    return IterationResult(limit, iterations, status, period, step)


# --------------------------------------------------------------------------- Newton


def _residual(ensemble, x, xp):
    return xp.max(xp.abs(ensemble.forward(x) - x), axis=-1)


def polish(ensemble: Ensemble, x, *, tol: float = 1e-12, max_iter: int = 20):
    """Newton's method on G(x) = F(x) - x from points close to fixed points.

    Parameters
    ----------
    x : array (E, K, N)
        Points per network (padded batches are fine).

    Returns
    -------
    x : array (E, K, N)
        Polished points (a point whose Newton step did not reduce the residual is kept).
    residual : array (E, K)
        ``|F(x) - x|_inf`` of the returned points.
    """
    xp = ensemble.xp
    E, K, N = x.shape
    eye = xp.eye(N, dtype=xp.float64)
    res = _residual(ensemble, x, xp)
    for _ in range(max_iter):
        if bool(xp.all(res <= tol)):
            break
        fx, jac = ensemble.forward_with_jacobian(x)
        g = fx - x
        step = _solve(jac - eye, -g, xp)
        trial = x + step
        trial_res = _residual(ensemble, trial, xp)
        better = xp.isfinite(trial_res) & (trial_res < res)
        x = xp.where(better[..., None], trial, x)
        res = xp.where(better, trial_res, res)
        if not bool(xp.any(better)):
            break
    return x, res


def _solve(a, b, xp):
    """Solve a x = b batched; singular systems give a zero step instead of an exception."""
    try:
        return xp.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = xp.zeros_like(b)
        flat_a = xp.reshape(a, (-1, *a.shape[-2:]))
        flat_b = xp.reshape(b, (-1, b.shape[-1]))
        flat_o = xp.reshape(out, (-1, b.shape[-1]))
        for i in range(flat_a.shape[0]):
            try:
                flat_o[i] = xp.linalg.solve(flat_a[i], flat_b[i])
            except np.linalg.LinAlgError:
                pass
        return xp.reshape(flat_o, b.shape)


def newton_search(
    ensemble: Ensemble,
    starts,
    *,
    known=None,
    tol: float = 1e-12,
    max_iter: int = 60,
    deflation_power: float = 2.0,
    deflation_shift: float = 1.0,
    max_halvings: int = 8,
    patience: int | None = 10,
):
    """Damped, deflated Newton from every start; finds stable *and unstable* fixed points.

    The deflated residual ``m(x) G(x)`` with ``m(x) = prod_r (|x - r|^-p + shift)`` over the
    known roots r of the same network has the same other roots but repels the iteration from
    the known ones; its Newton step is the plain step d scaled by ``1 / (1 - d . grad log m)``
    (Farrell, Birkisson & Funke 2015). Steps are halved until ``|G|`` decreases (at most
    ``max_halvings`` times). A start whose best ``|G|`` has not dropped by 1 % for ``patience``
    consecutive steps is abandoned (``None``: never); with deflation most starts wander
    without finding a new root, and this keeps them from costing ``max_iter`` steps each.

    Parameters
    ----------
    starts : array (E, M, N)
    known : array (E, R, N) or None
        Roots to deflate, per network; rows of NaN are padding.
    patience : int or None
        Steps without progress after which a start is abandoned.

    Returns
    -------
    x : array (E, M, N)
    residual : array (E, M)
        ``|G(x)|_inf``; a start found a root where ``residual <= tol``.
    """
    xp = ensemble.xp
    x = ensemble._check_points(starts)
    E, M, N = x.shape
    eye = xp.eye(N, dtype=xp.float64)
    if known is not None and known.shape[1] == 0:
        known = None
    out_x = xp.asarray(x, copy=True)
    out_res = xp.full((E, M), xp.inf, dtype=xp.float64)
    if patience is not None:
        patience = v.check_int(patience, "patience", minimum=1)
    # Active block, packed like iterate_map's: rows = networks with unfinished starts (``net``),
    # columns = their unfinished starts (``idx``); finished starts are written out and dropped.
    net = xp.arange(E)
    idx = xp.broadcast_to(xp.arange(M)[None, :], (E, M))
    valid = xp.ones((E, M), dtype=bool)
    sub, sub_known = ensemble, known
    fx, jac = sub.forward_with_jacobian(x)
    g = fx - x
    gnorm = xp.sqrt(xp.sum(g * g, axis=-1))
    best = gnorm
    since = xp.zeros((E, M), dtype=xp.int64)  # steps since ``best`` last dropped by 1 %
    for _ in range(max_iter):
        gmax = xp.max(xp.abs(g), axis=-1)
        done = valid & (gmax <= tol)
        if patience is not None:
            done = done | (valid & (since >= patience))
        if bool(xp.any(done)):
            rows, cols = xp.nonzero(done)
            out_x[net[rows], idx[rows, cols]] = x[rows, cols]
            out_res[net[rows], idx[rows, cols]] = gmax[rows, cols]
            valid = valid & ~done
        counts = xp.sum(valid, axis=1)
        width = int(xp.max(counts)) if valid.size else 0
        if width == 0:
            break
        live = counts > 0
        if int(xp.sum(live)) <= valid.shape[0] // 2 or width <= valid.shape[1] // 2:
            keep = xp.nonzero(live)[0]
            order = xp.argsort(~valid[keep], axis=1, stable=True)[:, :width]
            net = net[keep]
            idx = xp.take_along_axis(idx[keep], order, axis=1)
            valid = xp.take_along_axis(valid[keep], order, axis=1)
            x, g = (xp.take_along_axis(a[keep], order[..., None], axis=1) for a in (x, g))
            jac = xp.take_along_axis(jac[keep], order[..., None, None], axis=1)
            gnorm, best, since = (xp.take_along_axis(a[keep], order, axis=1) for a in (gnorm, best, since))
            sub = ensemble.subset(net)
            sub_known = known[net] if known is not None else None
        active = valid
        d = _solve(jac - eye, -g, xp)
        if sub_known is not None:
            diff = x[:, :, None, :] - sub_known[:, None, :, :]  # (E', M', R, N)
            dist2 = xp.sum(diff * diff, axis=-1)
            pad = xp.isnan(dist2)
            dist2 = xp.where(pad, 1.0, xp.maximum(dist2, 1e-300))
            inv = dist2 ** (-deflation_power / 2.0)
            coef = -deflation_power * dist2 ** (-deflation_power / 2.0 - 1.0) / (inv + deflation_shift)
            coef = xp.where(pad, 0.0, coef)
            grad_log_m = xp.sum(coef[..., None] * xp.where(pad[..., None], 0.0, diff), axis=2)
            denom = 1.0 - xp.sum(grad_log_m * d, axis=-1)
            tau = xp.where(xp.abs(denom) > 1e-12, 1.0 / denom, 1.0)
            d = tau[..., None] * d
        t = xp.ones(valid.shape, dtype=xp.float64)
        accepted = xp.zeros(valid.shape, dtype=bool)
        x_new, g_new, gn_new = x, g, gnorm
        for _h in range(max_halvings + 1):
            trial = x + t[..., None] * d
            f_trial = sub.forward(trial)
            g_trial = f_trial - trial
            gn_trial = xp.sqrt(xp.sum(g_trial * g_trial, axis=-1))
            ok = active & ~accepted & xp.isfinite(gn_trial) & (gn_trial < gnorm)
            x_new = xp.where(ok[..., None], trial, x_new)
            g_new = xp.where(ok[..., None], g_trial, g_new)
            gn_new = xp.where(ok, gn_trial, gn_new)
            accepted = accepted | ok
            if bool(xp.all(accepted | ~active)):
                break
            t = xp.where(accepted, t, 0.5 * t)
        # Starts that found no decrease take the smallest step anyway (escape flat regions).
        stuck = active & ~accepted
        if bool(xp.any(stuck)):
            trial = x + t[..., None] * d
            finite = xp.all(xp.isfinite(trial), axis=-1) & stuck
            x_new = xp.where(finite[..., None], trial, x_new)
        x = x_new
        fx, jac = sub.forward_with_jacobian(x)
        g = fx - x
        gnorm = xp.sqrt(xp.sum(g * g, axis=-1))
        improved = gnorm < 0.99 * best
        best = xp.where(improved, gnorm, best)
        since = xp.where(improved, 0, since + 1)
    if bool(xp.any(valid)):
        rows, cols = xp.nonzero(valid)
        out_x[net[rows], idx[rows, cols]] = x[rows, cols]
        out_res[net[rows], idx[rows, cols]] = xp.max(xp.abs(g[rows, cols]), axis=-1)
    return out_x, out_res


# --------------------------------------------------------------------------- merging


def merge_points(points: np.ndarray, residuals: np.ndarray, tol: float):
    """Group points closer than ``tol`` (max norm); the representative has the smallest residual.

    Greedy: the point with the smallest residual becomes a representative and takes every
    unassigned point within ``tol`` of it; repeat. Two distinct fixed points closer than
    ``tol`` are therefore merged into one.

    Parameters
    ----------
    points : (K, N) array
    residuals : (K,) array
    tol : float > 0

    Returns
    -------
    reps : (Q,) int array
        Indices into ``points`` of the representatives, in order of increasing residual.
    labels : (K,) int array
        For each point, the position in ``reps`` of its representative.
    """
    tol = v.check_real(tol, "merge_tol", low=0.0, low_open=True)
    points = np.asarray(points, dtype=np.float64)
    K = points.shape[0]
    labels = np.full(K, -1, dtype=np.int64)
    reps: list[int] = []
    order = np.argsort(residuals, kind="stable")
    for i in order:
        if labels[i] >= 0:
            continue
        free = labels < 0
        close = free & (np.max(np.abs(points - points[i]), axis=1) <= tol)
        labels[close] = len(reps)
        reps.append(int(i))
    return np.asarray(reps, dtype=np.int64), labels


# --------------------------------------------------------------------------- result


@dataclass
class FixedPoints:
    """Result of :func:`find_fixed_points` (NumPy arrays on the host).

    Per start (batch axis 0 of length E*M; start ``s`` is start ``s % M`` of network ``s // M``):
    ``start_network``, ``x0``, ``limit``, ``residual``, ``iterations``, ``status`` (codes of
    :data:`STATUS`), ``period``, ``attractor`` (row of the fixed-point table the start converged
    to, -1 for cycles and non-converged starts).

    Per distinct fixed point (batch axis 0 of length P): ``fp_network``, ``x``, ``fp_residual``,
    ``eigenvalues`` (P, N) complex, ``spectral_radius``, ``n_unstable`` (eigenvalues of modulus
    > 1), ``stable`` (spectral radius < 1), ``basin_count`` (starts that converged to it),
    ``found_by`` ("iteration" or "newton").
    """

    n_networks: int
    n_starts: int
    width: int
    start_network: np.ndarray
    x0: np.ndarray
    limit: np.ndarray
    residual: np.ndarray
    iterations: np.ndarray
    status: np.ndarray
    period: np.ndarray
    attractor: np.ndarray
    fp_network: np.ndarray
    x: np.ndarray
    fp_residual: np.ndarray
    eigenvalues: np.ndarray
    spectral_radius: np.ndarray
    n_unstable: np.ndarray
    stable: np.ndarray
    basin_count: np.ndarray
    found_by: np.ndarray
    settings: dict = field(default_factory=dict)

    # -------------------------------------------------------------- summaries
    def per_network(self) -> pd.DataFrame:
        """One row per network: Q (stable fixed points reached by iteration), unstable fixed
        points (found by Newton), all fixed points, starts ending in cycles / not converging,
        distinct cycle periods, mean iterations of converged starts."""
        E = self.n_networks
        net = np.arange(E)
        it_mask = self.found_by == "iteration"
        q = np.bincount(self.fp_network[it_mask & self.stable], minlength=E)
        n_all = np.bincount(self.fp_network, minlength=E)
        n_stable_all = np.bincount(self.fp_network[self.stable], minlength=E)
        n_unst = np.bincount(self.fp_network[~self.stable], minlength=E)
        st = self.status.reshape(E, self.n_starts)
        conv = st == STATUS["converged"]
        iters = np.where(conv, self.iterations.reshape(E, self.n_starts), 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_it = np.where(conv.sum(1) > 0, iters.sum(1) / np.maximum(conv.sum(1), 1), np.nan)
        per = self.period.reshape(E, self.n_starts)
        periods = [sorted(set(per[e][st[e] == STATUS["cycle"]].tolist())) for e in range(E)]
        return pd.DataFrame(
            {
                "network": net,
                "Q": q,
                "stable_fixed_points": n_stable_all,
                "unstable_fixed_points": n_unst,
                "fixed_points": n_all,
                "cycle_starts": (st == STATUS["cycle"]).sum(1),
                "not_converged_starts": (st == STATUS["not_converged"]).sum(1),
                "converged_starts": conv.sum(1),
                "cycle_periods": [",".join(map(str, p)) for p in periods],
                "mean_iterations": mean_it,
                "basin_entropy": self._basin_entropy(),
            }
        )

    def _basin_entropy(self) -> np.ndarray:
        out = np.zeros(self.n_networks)
        for e in range(self.n_networks):
            counts = self.basin_count[(self.fp_network == e) & (self.basin_count > 0)]
            if counts.sum() > 0:
                p = counts / counts.sum()
                out[e] = float(-(p * np.log(p)).sum())
        return out

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per distinct fixed point."""
        return pd.DataFrame(
            {
                "network": self.fp_network,
                "residual": self.fp_residual,
                "spectral_radius": self.spectral_radius,
                "n_unstable": self.n_unstable,
                "stable": self.stable,
                "basin_count": self.basin_count,
                "basin_fraction": self.basin_count / self.n_starts,
                "found_by": self.found_by,
            }
        )

    def starts_frame(self) -> pd.DataFrame:
        """Tidy table, one row per start."""
        return pd.DataFrame(
            {
                "network": self.start_network,
                "start": np.arange(self.start_network.size) % self.n_starts,
                "status": _STATUS_NAMES[self.status],
                "period": self.period,
                "iterations": self.iterations,
                "residual": self.residual,
                "attractor": self.attractor,
            }
        )

    def labels(self) -> np.ndarray:
        """Per start, the attractor index *within its network* (0, 1, ... by basin size),
        -2 for cycles and -1 for non-converged starts; shape (E, M)."""
        E, M = self.n_networks, self.n_starts
        out = np.full(E * M, -1, dtype=np.int64)
        out[self.status == STATUS["cycle"]] = -2
        local = np.zeros(self.fp_network.size, dtype=np.int64)
        for e in range(E):
            rows = np.flatnonzero(self.fp_network == e)
            order = rows[np.argsort(-self.basin_count[rows], kind="stable")]
            local[order] = np.arange(order.size)
        sel = self.attractor >= 0
        out[sel] = local[self.attractor[sel]]
        return out.reshape(E, M)


# --------------------------------------------------------------------------- driver


def find_fixed_points(
    ensemble: Ensemble,
    starts=None,
    *,
    n_starts: int = 256,
    seed: Any = 0,
    tol: float = 1e-10,
    max_iter: int = 5000,
    max_period: int = 8,
    merge_tol: float = 1e-6,
    polish_tol: float = 1e-12,
    newton: bool = False,
    newton_starts: int | None = None,
    newton_rounds: int = 2,
) -> FixedPoints:
    """Find the attractors (and optionally all fixed points) of every network of an ensemble.

    Parameters
    ----------
    ensemble : Ensemble
    starts : array (E, M, N), optional
        Initial points; default ``uniform_starts(ensemble, n_starts, seed=seed)``.
    n_starts : int
        M when ``starts`` is not given.
    seed : int or Generator
        Seeds the default starts and the Newton search's starts.
    tol, max_iter, max_period : see :func:`iterate_map`.
    merge_tol : float
        Fixed points closer than this (max norm) are one (see :func:`merge_points`).
    polish_tol : float
        Newton polishing target for ``|F(x) - x|_inf``.
    newton : bool
        Also run the deflated Newton search (:func:`newton_search`) for unstable fixed points.
    newton_starts : int, optional
        Starts per network and round of the Newton search (default: M).
    newton_rounds : int
        Rounds of the Newton search; each round deflates all roots known so far.

    Returns
    -------
    FixedPoints
    """
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be an Ensemble; got {type(ensemble).__name__}")
    merge_tol = v.check_real(merge_tol, "merge_tol", low=0.0, low_open=True)
    polish_tol = v.check_real(polish_tol, "polish_tol", low=0.0, low_open=True)
    newton_rounds = v.check_int(newton_rounds, "newton_rounds", minimum=1)
    rng = make_rng(seed, "numpy")
    if starts is None:
        starts = uniform_starts(ensemble, n_starts, seed=rng)
    it = iterate_map(ensemble, starts, tol=tol, max_iter=max_iter, max_period=max_period)
    xp = ensemble.xp
    E, M, N = it.limit.shape

    limit = to_numpy(it.limit)
    status = to_numpy(it.status)
    step = to_numpy(it.step)

    # Merge converged limits per network, polish the representatives, merge again.
    cand_pts, cand_net, start_cand = [], [], np.full((E, M), -1, dtype=np.int64)
    offset = 0
    for e in range(E):
        conv = np.flatnonzero(status[e] == STATUS["converged"])
        if conv.size == 0:
            continue
        reps, labels = merge_points(limit[e, conv], step[e, conv], merge_tol)
        start_cand[e, conv] = offset + labels
        cand_pts.append(limit[e, conv[reps]])
        cand_net.append(np.full(reps.size, e))
        offset += reps.size
    cand_pts = np.concatenate(cand_pts) if cand_pts else np.zeros((0, N))
    cand_net = np.concatenate(cand_net) if cand_net else np.zeros(0, dtype=np.int64)
    pol_pts, pol_res = _polish_flat(ensemble, cand_pts, cand_net, polish_tol)

    fp_pts, fp_net, fp_res, cand_to_fp = _dedupe_flat(pol_pts, pol_res, cand_net, merge_tol)
    found_by = np.full(fp_net.size, "iteration", dtype=object)

    attractor = np.full(E * M, -1, dtype=np.int64)
    flat_cand = start_cand.reshape(-1)
    has = flat_cand >= 0
    attractor[has] = cand_to_fp[flat_cand[has]]

    if newton:
        n_new = v.check_int(newton_starts if newton_starts is not None else M, "newton_starts", minimum=1)
        for _round in range(newton_rounds):
            known = xp.asarray(_group_padded(fp_pts, fp_net, E, N, fill=np.nan)[0])
            nstarts = uniform_starts(ensemble, n_new, seed=rng)
            x_n, r_n = newton_search(ensemble, nstarts, known=known, tol=polish_tol)
            x_n, r_n = to_numpy(x_n), to_numpy(r_n)
            ok = r_n <= polish_tol
            if not ok.any():
                break
            e_idx, m_idx = np.nonzero(ok)
            added_pts, added_net, added_res = _new_roots(
                fp_pts, fp_net, x_n[e_idx, m_idx], e_idx, r_n[e_idx, m_idx], merge_tol
            )
            if added_net.size == 0:
                break
            # Appended at the end, so the ids of the known points (and attractor) stay valid.
            fp_pts = np.concatenate([fp_pts, added_pts])
            fp_net = np.concatenate([fp_net, added_net])
            fp_res = np.concatenate([fp_res, added_res])
            found_by = np.concatenate([found_by, np.full(added_net.size, "newton", dtype=object)])

    # Stability from the Jacobian at each fixed point.
    eig = _eigenvalues_flat(ensemble, fp_pts, fp_net)
    radius = np.abs(eig).max(axis=1) if eig.size else np.zeros(0)
    n_unstable = (np.abs(eig) > 1.0).sum(axis=1) if eig.size else np.zeros(0, dtype=np.int64)
    stable = radius < 1.0
    basin = np.bincount(attractor[attractor >= 0], minlength=fp_net.size)

    residual = np.full(E * M, np.nan)
    residual[has] = fp_res[attractor[has]]
    not_conv = ~has
    residual[not_conv] = step.reshape(-1)[not_conv]
    return FixedPoints(
        n_networks=E,
        n_starts=M,
        width=N,
        start_network=np.repeat(np.arange(E), M),
        x0=to_numpy(starts).reshape(E * M, N),
        limit=limit.reshape(E * M, N),
        residual=residual,
        iterations=to_numpy(it.iterations).reshape(-1),
        status=status.reshape(-1),
        period=to_numpy(it.period).reshape(-1),
        attractor=attractor,
        fp_network=fp_net.astype(np.int64),
        x=fp_pts,
        fp_residual=fp_res,
        eigenvalues=eig,
        spectral_radius=radius,
        n_unstable=n_unstable.astype(np.int64),
        stable=stable,
        basin_count=basin,
        found_by=found_by.astype(str),
        settings=dict(tol=tol, max_iter=max_iter, max_period=max_period, merge_tol=merge_tol,
                      polish_tol=polish_tol, newton=newton),
    )


def _group_padded(points: np.ndarray, nets: np.ndarray, E: int, N: int, fill: float | None = None):
    """Pack flat (P, N) points into (E, K, N): padding is each network's first point, or
    ``fill`` (e.g. NaN) where given. Returns the packed array and each point's slot."""
    counts = np.bincount(nets, minlength=E)
    K = max(int(counts.max()) if counts.size else 0, 1)
    packed = np.full((E, K, N), 0.5 if fill is None else fill)
    pos = np.zeros(points.shape[0], dtype=np.int64)
    seen = np.zeros(E, dtype=np.int64)
    for i, e in enumerate(nets):
        pos[i] = seen[e]
        seen[e] += 1
    packed[nets, pos] = points
    if fill is None:
        for e in range(E):
            if counts[e]:
                packed[e, counts[e]:] = packed[e, 0]
    return packed, pos


def _polish_flat(ensemble, pts, nets, tol):
    if pts.shape[0] == 0:
        return pts, np.zeros(0)
    E, _, N = ensemble.shape
    packed, pos = _group_padded(pts, nets, E, N)
    xp = ensemble.xp
    x, res = polish(ensemble, xp.asarray(packed), tol=tol)
    x, res = to_numpy(x), to_numpy(res)
    return x[nets, pos], res[nets, pos]


def _eigenvalues_flat(ensemble, pts, nets):
    E, _, N = ensemble.shape
    if pts.shape[0] == 0:
        return np.zeros((0, N), dtype=complex)
    packed, pos = _group_padded(pts, nets, E, N)
    jac = to_numpy(ensemble.jacobian(ensemble.xp.asarray(packed)))
    return np.linalg.eigvals(jac[nets, pos])


def _new_roots(known_pts, known_net, pts, nets, res, tol):
    """Roots among ``pts`` that are new: merged among themselves and farther than ``tol``
    from every known root of the same network."""
    out_pts, out_net, out_res = [], [], []
    for e in np.unique(nets):
        rows = np.flatnonzero(nets == e)
        reps, _ = merge_points(pts[rows], res[rows], tol)
        old = known_pts[known_net == e]
        for r in rows[reps]:
            if old.shape[0] == 0 or np.max(np.abs(old - pts[r]), axis=1).min() > tol:
                out_pts.append(pts[r])
                out_net.append(e)
                out_res.append(res[r])
    N = pts.shape[1]
    return (np.asarray(out_pts).reshape(-1, N), np.asarray(out_net, dtype=np.int64),
            np.asarray(out_res, dtype=np.float64))


def _dedupe_flat(pts, residuals, nets, tol):
    """Merge points per network; returns representatives' (points, nets, residuals, map)."""
    order_pts, order_net, order_res = [], [], []
    mapping = np.full(pts.shape[0], -1, dtype=np.int64)
    count = 0
    for e in np.unique(nets):
        rows = np.flatnonzero(nets == e)
        reps, labels = merge_points(pts[rows], residuals[rows], tol)
        # keep representatives in their original order so earlier ids are stable
        reps_sorted = np.sort(reps)
        new_id = {int(r): count + i for i, r in enumerate(reps_sorted)}
        mapping[rows] = [new_id[int(reps[lab])] for lab in labels]
        order_pts.append(pts[rows[reps_sorted]])
        order_net.append(np.full(reps_sorted.size, e))
        order_res.append(residuals[rows[reps_sorted]])
        count += reps_sorted.size
    if not order_pts:
        return pts[:0], nets[:0].astype(np.int64), residuals[:0], mapping
    return (np.concatenate(order_pts), np.concatenate(order_net).astype(np.int64),
            np.concatenate(order_res), mapping)


# --------------------------------------------------------------------------- basins


def basin_fractions(result: FixedPoints, confidence: float = 0.95) -> pd.DataFrame:
    """Basin-volume fraction of every attractor with a Wilson confidence interval.

    The fraction is the share of the network's M starts that converged to the attractor, an
    unbiased estimate of the basin's volume fraction of the start box when the starts are
    uniform. Rows for cycles / non-converged starts are included with ``attractor = -2 / -1``.
    """
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    labels = result.labels()
    rows = []
    for e in range(result.n_networks):
        values, counts = np.unique(labels[e], return_counts=True)
        for lab, cnt in zip(values, counts):
            ci = stats.binomtest(int(cnt), result.n_starts).proportion_ci(confidence, method="wilson")
            rows.append({"network": e, "attractor": int(lab), "count": int(cnt),
                         "fraction": cnt / result.n_starts, "ci_low": ci.low, "ci_high": ci.high})
    return pd.DataFrame(rows)


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
    **engine: Any,
):
    """Label the points of a 2-D slice ``origin + a u + b v`` of one network's input space.

    Parameters
    ----------
    network : int
        Which network of the ensemble.
    origin, u, v_dir : arrays (N,)
        The slice; for N = 2 use ``origin = (low, low)``, ``u = (high - low, 0)``, ... to cover
        the full square.
    reference : array (K, N), optional
        Known attractors: a point converging to ``reference[k]`` (within ``merge_tol``) gets
        label k; attractors not in ``reference`` get labels K, K+1, ...
    **engine
        Passed to :func:`find_fixed_points`.

    Returns
    -------
    labels : int array (resolution, resolution)
        ``labels[i_b, i_a]``; -1 not converged, -2 cycle.
    result : FixedPoints
        The engine's result for the slice's starts (one network).
    """
    one = ensemble.subset(slice(network, network + 1))
    xp = one.xp
    starts = plane_starts(xp.asarray(np.asarray(origin, dtype=float)[None]),
                          xp.asarray(np.asarray(u, dtype=float)[None]),
                          xp.asarray(np.asarray(v_dir, dtype=float)[None]),
                          extent=extent, resolution=resolution)
    res = find_fixed_points(one, starts, **engine)
    tol = res.settings["merge_tol"]
    ref = np.zeros((0, one.width)) if reference is None else np.asarray(reference, dtype=float)
    ids = np.full(res.x.shape[0], -1, dtype=np.int64)
    extra = 0
    for k, p in enumerate(res.x):
        d = np.max(np.abs(ref - p), axis=1) if ref.shape[0] else np.zeros(0)
        if d.size and d.min() <= 100 * tol:
            ids[k] = int(d.argmin())
        else:
            ids[k] = ref.shape[0] + extra
            extra += 1
    labels = np.where(res.attractor >= 0, ids[np.maximum(res.attractor, 0)], -1)
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
    **engine: Any,
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
    radius = v.check_real(radius, "radius", low=0.0, low_open=True)
    n_probe = v.check_int(n_probe, "n_probe", minimum=1)
    points = np.asarray(points, dtype=float)
    networks = np.asarray(networks, dtype=np.int64)
    rng = make_rng(seed, "numpy")
    K = points.shape[0]
    if K == 0:
        return np.zeros(0, dtype=np.int64)
    # One batched run: network k of the sub-ensemble is a copy of networks[k], probed around points[k].
    sub = ensemble.subset(networks)
    probe = points[:, None, :] + radius * (2.0 * rng.random((K, n_probe, points.shape[1])) - 1.0)
    res = find_fixed_points(sub, sub.xp.asarray(probe), seed=rng, **engine)
    reached = res.stable & (res.basin_count > 0)
    return np.bincount(res.fp_network[reached], minlength=K).astype(np.int64)
