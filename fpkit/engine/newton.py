"""Newton's method on G(x) = F(x) - x: polishing, and the deflated search for all fixed points.

:func:`polish` refines points already close to fixed points (the engine's merged limits).
:func:`newton_search` runs damped, deflated Newton from fresh starts (Farrell, Birkisson & Funke
2015): it finds stable *and unstable* fixed points, which iteration can never reach. Both work
on the packed active block of :class:`~fpkit.engine.active.ActiveBlock`.
"""

from __future__ import annotations


import numpy as np

from .. import _validate as v
from ..network import Ensemble
from .active import ActiveBlock
from .starts import _check_ensemble

__all__ = ["newton_search", "polish"]


def _residual(ensemble, x):
    m = ensemble._m
    return m.abs(ensemble.forward_into(x, m.empty_like(x), m.empty_like(x)) - x).max(axis=-1)


def polish(ensemble: Ensemble, x, *, tol: float = 1e-12, max_iter: int = 20):
    """Newton's method on G(x) = F(x) - x from points close to fixed points.

    Parameters
    ----------
    x : array (E, K, N)
        Points per network (padded batches are fine).
    tol : float
        Target for ``|F(x) - x|_inf``.
    max_iter : int
        Newton steps at most.

    Returns
    -------
    x : array (E, K, N)
        Polished points (a point whose Newton step did not reduce the residual is kept).
    residual : array (E, K)
        ``|F(x) - x|_inf`` of the returned points.
    """
    _check_ensemble(ensemble)
    tol = v.check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    x = _in_box(ensemble, ensemble.check_points(x), "x")
    m = ensemble._m
    N = x.shape[-1]
    eye = m.eye(N, dtype=m.float64)
    res = _residual(ensemble, x)
    for _ in range(max_iter):
        if bool((res <= tol).all()):
            break
        fx, jac = ensemble.forward_with_jacobian(x)
        step = _solve(jac - eye, x - fx, m)
        trial = x + step
        trial_res = _residual(ensemble, trial)
        better = m.isfinite(trial_res) & (trial_res < res)
        x = m.where(better[..., None], trial, x)
        res = m.where(better, trial_res, res)
        if not bool(better.any()):
            break
    return x, res


def _solve(a, b, m):
    """Solve a x = b batched; singular systems give a zero step instead of an exception."""
    try:
        out = m.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = m.zeros_like(b)
        flat_a = a.reshape(-1, *a.shape[-2:])
        flat_b = b.reshape(-1, b.shape[-1])
        flat_o = out.reshape(-1, b.shape[-1])
        for i in range(flat_a.shape[0]):
            try:
                flat_o[i] = m.linalg.solve(flat_a[i], flat_b[i])
            except np.linalg.LinAlgError:
                pass
    # a nearly singular system can give an inf/NaN step (CuPy does not raise): no step there
    return m.where(m.isfinite(out).all(axis=-1, keepdims=True), out, 0.0)


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
    ensemble : Ensemble
    starts : array (E, M, N)
    known : array (E, R, N) or None
        Roots to deflate, per network; rows of NaN are padding.
    tol : float
        A start has found a root when ``|G|_inf <= tol``.
    max_iter : int
        Newton steps per start at most.
    deflation_power, deflation_shift : float
        p and the shift of the deflation operator (p > 0, shift >= 0).
    max_halvings : int
        Step halvings per Newton step at most.
    patience : int or None
        Steps without progress after which a start is abandoned.

    Returns
    -------
    x : array (E, M, N)
    residual : array (E, M)
        ``|G(x)|_inf``; a start found a root where ``residual <= tol``.
    """
    _check_ensemble(ensemble)
    tol = v.check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    deflation_power = v.check_real(deflation_power, "deflation_power", low=0.0, low_open=True)
    deflation_shift = v.check_real(deflation_shift, "deflation_shift", low=0.0)
    max_halvings = v.check_int(max_halvings, "max_halvings", minimum=0)
    if patience is not None:
        patience = v.check_int(patience, "patience", minimum=1)
    x = _in_box(ensemble, ensemble.check_points(starts, "starts"), "starts")
    m = ensemble._m
    E, M, N = x.shape
    if known is not None:
        known = _in_box(ensemble, _check_known(known, ensemble), "known")
        if known.ndim != 3 or known.shape[0] != E or known.shape[2] != N:
            raise ValueError(f"known must have shape (E, R, N) = ({E}, R, {N}); got {tuple(known.shape)}")
        if known.shape[1] == 0 or not bool(m.isfinite(known).any()):
            known = None
    eye = m.eye(N, dtype=m.float64)
    low, high = ensemble.domain
    far = 1e6 * (high - low) + max(abs(low), abs(high))  # starts lie in the box; fixed points too
    out_x = m.array(x, copy=True)
    out_res = m.full((E, M), m.inf, dtype=m.float64)
    block = ActiveBlock(m, E, M, shrink=0.5)
    sub, sub_known = ensemble, known
    fx, jac = sub.forward_with_jacobian(x)
    g = fx - x
    gnorm = m.sqrt((g * g).sum(axis=-1))
    best = gnorm
    since = m.zeros((E, M), dtype=m.int64)  # steps since ``best`` last dropped by 1 %
    for _ in range(max_iter):
        gmax = m.abs(g).max(axis=-1)
        done = block.valid & (gmax <= tol)
        if patience is not None:
            done |= block.valid & (since >= patience)
        if bool(done.any()):
            rows, cols, nets, items = block.retire(done)
            out_x[nets, items] = x[rows, cols]
            out_res[nets, items] = gmax[rows, cols]
        plan = block.compact()
        if plan is False:
            break
        if plan is not None:
            x, g, jac, gnorm, best, since = (plan.per_item(a) for a in (x, g, jac, gnorm, best, since))
            sub = ensemble.subset(block.net)
            sub_known = plan.per_row(sub_known) if sub_known is not None else None
        active = block.valid
        d = _solve(jac - eye, -g, m)
        if sub_known is not None:
            d = _deflate(d, x, sub_known, deflation_power, deflation_shift, m)
        t = m.ones(active.shape, dtype=m.float64)
        accepted = m.zeros(active.shape, dtype=bool)
        x_new = x
        for _h in range(max_halvings + 1):
            trial = x + t[..., None] * d
            with np.errstate(over="ignore", invalid="ignore"):  # a wild trial is simply not accepted
                g_trial = sub.forward_into(trial, m.empty_like(trial), m.empty_like(trial)) - trial
            gn_trial = m.sqrt((g_trial * g_trial).sum(axis=-1))
            ok = active & ~accepted & m.isfinite(gn_trial) & (gn_trial < gnorm)
            x_new = m.where(ok[..., None], trial, x_new)
            accepted |= ok
            if bool((accepted | ~active).all()):
                break
            t = m.where(accepted, t, 0.5 * t)
        # Starts that found no decrease take the smallest step anyway (escape flat regions).
        stuck = active & ~accepted
        if bool(stuck.any()):
            trial = x + t[..., None] * d
            # ... but never out to where no fixed point can be (a runaway would overflow F)
            finite = (m.abs(trial) <= far).all(axis=-1) & stuck
            x_new = m.where(finite[..., None], trial, x_new)
        x = x_new
        fx, jac = sub.forward_with_jacobian(x)
        g = fx - x
        gnorm = m.sqrt((g * g).sum(axis=-1))
        improved = gnorm < 0.99 * best
        best = m.where(improved, gnorm, best)
        since = m.where(improved, 0, since + 1)
    if bool(block.valid.any()):
        rows, cols, nets, items = block.remaining()
        out_x[nets, items] = x[rows, cols]
        out_res[nets, items] = m.abs(g[rows, cols]).max(axis=-1)
    return out_x, out_res


def _in_box(ensemble, x, name: str):
    """Newton works where the fixed points are: in the closed box of the activation's range (a
    margin of one box width is allowed); NaN entries (padding of known roots) are skipped."""
    low, high = ensemble.domain
    m = ensemble._m
    width = high - low
    with np.errstate(invalid="ignore"):
        outside = (x < low - width) | (x > high + width)
    if bool(m.any(outside)):
        raise ValueError(f"{name} must lie in the box [{low:g}, {high:g}]^N of the activation's range, where "
                         f"every fixed point is (up to a margin of {width:g}); found points outside")
    return x


def _check_known(known, ensemble):
    """Known roots as a float64 array of the ensemble's backend; NaN rows (padding) are allowed."""
    from ..network import _as_float64

    if not hasattr(known, "dtype") or not hasattr(known, "shape"):
        known = v.check_array(known, "known", finite=False)
    known = _as_float64(ensemble.xp.asarray(known), "known", ensemble.xp)
    if bool(ensemble._m.isinf(known).any()):
        raise ValueError("known must not contain inf (NaN rows are padding)")
    return known


def _deflate(d, x, known, power, shift, m):
    """Scale Newton steps ``d`` (E', M', N) by the deflation factor of the known roots (E', R, N)."""
    diff = x[:, :, None, :] - known[:, None, :, :]  # (E', M', R, N)
    dist2 = (diff * diff).sum(axis=-1)
    pad = m.isnan(dist2)
    dist2 = m.where(pad, 1.0, m.maximum(dist2, 1e-300))
    inv = dist2 ** (-power / 2.0)
    coef = -power * dist2 ** (-power / 2.0 - 1.0) / (inv + shift)
    coef = m.where(pad, 0.0, coef)
    grad_log_m = (coef[..., None] * m.where(pad[..., None], 0.0, diff)).sum(axis=2)
    denom = 1.0 - (grad_log_m * d).sum(axis=-1)
    tau = m.where(m.abs(denom) > 1e-12, 1.0 / denom, 1.0)
    return tau[..., None] * d
