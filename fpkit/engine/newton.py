"""Newton's method on G(x) = F(x) - x: polishing, and the deflated search for all fixed points.

:func:`~fpkit.engine.polish` refines points already close to fixed points (the engine's merged limits).
:func:`~fpkit.engine.newton_search` runs damped, deflated Newton from fresh starts (Farrell, Birkisson & Funke
2015): it finds stable *and unstable* fixed points, which iteration can never reach. Both work
on the packed active block of :class:`~fpkit.engine.active.ActiveBlock`.

Host syncs (what a GPU waits for): a start that stops is marked on the device and stays where it
stopped; the host reads the block every ``sync_every`` steps, and the line search asks whether every
start has found a decrease after every ``sync_every``-th halving (not after the last).
"""

from __future__ import annotations


import numpy as np

from .. import _validate as v
from ..backend import single_threaded_blas
from ..network import Ensemble, check_ensemble
from .active import ActiveBlock
from .linalg import solve_or_zero
from .settings import MAX_SYNC_EVERY

__all__ = ["newton_search", "polish", "shooting_search"]


def _residual(ensemble, x):
    m = ensemble.array_module
    return m.abs(ensemble.forward_into(x, m.empty_like(x), m.empty_like(x)) - x).max(axis=-1)


def polish(ensemble: Ensemble, x, *, tol: float = 1e-12, max_iter: int = 20, sync_every: int = 1):
    """Newton's method on G(x) = F(x) - x from points close to fixed points.

    Parameters
    ----------
    x : array (E, K, N)
        Points per network (padded batches are fine).
    tol : float
        Target for ``|F(x) - x|_inf``.
    max_iter : int
        Newton steps at most.
    sync_every : int
        The host asks the device whether to stop every this many steps (>= 1; see
        :class:`~fpkit.engine.EngineSettings`): steps after the stop change nothing, so the result is
        the same for every value.

    Returns
    -------
    x : array (E, K, N)
        Polished points (a point whose Newton step did not reduce the residual is kept).
    residual : array (E, K)
        ``|F(x) - x|_inf`` of the returned points.
    """
    check_ensemble(ensemble)
    tol = v.check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    sync_every = v.check_int(sync_every, "sync_every", minimum=1, maximum=MAX_SYNC_EVERY)
    x = _in_box(ensemble, ensemble.check_points(x), "x")
    with single_threaded_blas:  # the BLAS thread policy of fpkit's threads (see fpkit.backend)
        return _polish(ensemble, x, tol, max_iter, sync_every)


def _polish(ensemble, x, tol, max_iter, sync_every):
    """Newton steps while some point is above ``tol`` and the last step improved some point; the
    decision to stop is taken on the device (``running``) and read every ``sync_every`` steps."""
    m = ensemble.array_module
    eye = m.eye(x.shape[-1], dtype=m.float64)
    res = _residual(ensemble, x)
    running = m.ones((), dtype=bool)
    for i in range(max_iter):
        running &= ~(res <= tol).all()
        if i % sync_every == 0 and not bool(running):
            break
        fx, jac = ensemble.forward_with_jacobian(x)
        step = solve_or_zero(jac - eye, x - fx, m)
        trial = x + step
        trial_res = _residual(ensemble, trial)
        better = running & m.isfinite(trial_res) & (trial_res < res)
        x = m.where(better[..., None], trial, x)
        res = m.where(better, trial_res, res)
        running &= better.any()
    return x, res


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
    sync_every: int = 1,
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
    sync_every : int
        The host reads which starts have stopped (and packs the block) every this many steps (>= 1;
        see :class:`~fpkit.engine.EngineSettings`); a stopped start stays where it stopped, so the
        results do not depend on it up to the rounding of a differently packed block.

    Returns
    -------
    x : array (E, M, N)
    residual : array (E, M)
        ``|G(x)|_inf``; a start found a root where ``residual <= tol``.
    """
    check_ensemble(ensemble)
    options = _check_options(tol, max_iter, deflation_power, deflation_shift, max_halvings, patience, sync_every)
    x = _in_box(ensemble, ensemble.check_points(starts, "starts"), "starts")
    m = ensemble.array_module
    N = x.shape[-1]
    eye = m.eye(N, dtype=m.float64)

    def evaluate(sub, x):
        fx, jac = sub.forward_with_jacobian(x)
        return fx - x, (jac,)

    def residual(sub, x):  # the line search needs F only, not the Jacobian
        return sub.forward_into(x, m.empty_like(x), m.empty_like(x)) - x

    def direction(sub, x, g, aux):
        return solve_or_zero(aux[0] - eye, -g, m)

    known = _check_known(ensemble, known)
    with single_threaded_blas:
        return _damped_newton(ensemble, x, evaluate, residual, direction, known=known, point=lambda x: x,
                              clip=None, **options)


def _check_options(tol, max_iter, deflation_power, deflation_shift, max_halvings, patience, sync_every) -> dict:
    options = dict(tol=v.check_real(tol, "tol", low=0.0, low_open=True),
                   max_iter=v.check_int(max_iter, "max_iter", minimum=1),
                   power=v.check_real(deflation_power, "deflation_power", low=0.0, low_open=True),
                   shift=v.check_real(deflation_shift, "deflation_shift", low=0.0),
                   max_halvings=v.check_int(max_halvings, "max_halvings", minimum=0),
                   patience=None if patience is None else v.check_int(patience, "patience", minimum=1),
                   sync_every=v.check_int(sync_every, "sync_every", minimum=1, maximum=MAX_SYNC_EVERY))
    return options


def _in_box(ensemble, x, name: str):
    """Newton works where the fixed points are: in the closed box of the activation's range (a
    margin of one box width is allowed); NaN entries (padding of known roots) are skipped."""
    low, high = ensemble.domain
    width = high - low
    with np.errstate(invalid="ignore"):
        outside = (x < low - width) | (x > high + width)
    if bool(ensemble.array_module.any(outside)):
        raise ValueError(f"{name} must lie in the box [{low:g}, {high:g}]^N of the activation's range, where "
                         f"every fixed point is (up to a margin of {width:g}); found points outside")
    return x


def _check_known(ensemble, known):
    """Known roots (E, R, N) as float64 on the backend (NaN rows are padding), or None when
    there are none."""
    if known is None:
        return None
    m = ensemble.array_module
    E, _, N = ensemble.shape
    if not hasattr(known, "dtype") or not hasattr(known, "shape"):
        known = v.check_array(known, "known", finite=False)
    known = v.as_float64(ensemble.xp.asarray(known), "known", ensemble.xp)
    if bool(m.isinf(known).any()):
        raise ValueError("known must not contain inf (NaN rows are padding)")
    known = _in_box(ensemble, known, "known")
    if known.ndim != 3 or known.shape[0] != E or known.shape[2] != N:
        raise ValueError(f"known must have shape (E, R, N) = ({E}, R, {N}); got {tuple(known.shape)}")
    if known.shape[1] == 0 or not bool(m.isfinite(known).any()):
        return None
    return known


def _damped_newton(ensemble, X, evaluate, residual, direction, *, known, point, clip, tol, max_iter, power,
                   shift, max_halvings, patience, sync_every):
    """The damped, deflated Newton iteration both searches run, on the packed active block.

    ``X`` (E, K, ...) are the unknowns of every start; ``evaluate(sub, X) -> (R, aux)`` the
    residuals (E', K', ...) and what the step needs (a tuple of per-item arrays);
    ``residual(sub, X) -> R`` the residuals alone (what the line search evaluates);
    ``direction(sub, X, R, aux) -> dX`` the Newton step; ``point(X)`` the x (E', K', N) of a state
    (deflation acts on it, and it is what a start returns); ``clip(X)`` keeps trial states valid.
    A start stops when ``max |R| <= tol`` (a root) or after ``patience`` steps without its merit
    (the deflated residual norm) dropping by 1 %. Returns ``(x, residual)``, shapes (E, K, N), (E, K).

    Starts that stop leave the block on the device (their state frozen: the line search moves
    active starts only, and their residual is recorded); every ``sync_every`` steps one copy of the
    block's mask tells the host which stopped, their results are written out and the block packed.
    """
    m = ensemble.array_module
    E, K = X.shape[:2]
    res_axes = tuple(range(2, X.ndim))
    out_x = m.array(point(X), copy=True)
    out_res = m.full((E, K), m.inf, dtype=m.float64)
    block = ActiveBlock(m, E, K, shrink=0.5)
    sub, sub_known = ensemble, known
    R, aux = evaluate(sub, X)
    merit = _merit(R, point(X), sub_known, power, shift, m, axes=res_axes)
    best = merit
    since = m.zeros((E, K), dtype=m.int64)  # steps since ``best`` last dropped by 1 %
    stop_res = m.full((E, K), m.inf, dtype=m.float64)  # the residual where a start stopped (block positions)
    search = _LineSearch(ensemble, residual, point, clip, power, shift, max_halvings, res_axes, sync_every)
    for it in range(max_iter):
        rmax = m.abs(R).max(axis=res_axes)
        done = block.valid & (rmax <= tol)
        if patience is not None:
            done |= block.valid & (since >= patience)
        m.copyto(stop_res, rmax, where=done)
        block.finish(done)
        if it % sync_every == 0:
            rows, cols, nets, items = (m.asarray(a) for a in block.sync())
            out_x[nets, items] = point(X)[rows, cols]
            out_res[nets, items] = stop_res[rows, cols]
            plan = block.pack()
            if plan is False:
                break
            if plan is not None:
                X, R, merit, best, since = (plan.per_item(a) for a in (X, R, merit, best, since))
                aux = tuple(plan.per_item(a) for a in aux)
                stop_res = m.full(block.shape, m.inf, dtype=m.float64)
                sub = ensemble.subset(block.networks, lazy=True)  # a host index: checked without a sync
                sub_known = plan.per_row(sub_known) if sub_known is not None else None
        dX = direction(sub, X, R, aux)
        if sub_known is not None:
            # the deflation operator depends on x only: scale the whole step by its factor
            dX = _deflation_factor(point(dX), point(X), sub_known, power, shift, m)[search.expand(X)] * dX
        X = search.step(sub, sub_known, X, dX, merit, block.valid)
        R, aux = evaluate(sub, X)
        merit = _merit(R, point(X), sub_known, power, shift, m, axes=res_axes)
        improved = merit < best + _LOG_PROGRESS
        best = m.where(improved, merit, best)
        since = m.where(improved, 0, since + 1)
    rows, cols, nets, items = (m.asarray(a) for a in block.sync())
    out_x[nets, items] = point(X)[rows, cols]
    out_res[nets, items] = stop_res[rows, cols]
    rows, cols, nets, items = (m.asarray(a) for a in block.unfinished())
    out_x[nets, items] = point(X)[rows, cols]
    out_res[nets, items] = m.abs(R[rows, cols]).max(axis=tuple(range(1, R.ndim - 1)))
    return out_x, out_res


class _LineSearch:
    """The damped step of :func:`_damped_newton`: halve the step until the merit decreases (at most
    ``max_halvings`` times); starts that find no decrease take the smallest step anyway (escape flat
    regions), unless it leads out to where no fixed point can be.

    After every ``sync_every``-th trial (but the last) the host asks whether every start has found a
    decrease, and stops halving if so; the trials that this skips would change nothing, so the step
    is the same whatever ``sync_every``. (In a census nearly every step tries every halving: a block
    of deflated starts almost always holds one that finds no decrease.)"""

    def __init__(self, ensemble, residual, point, clip, power, shift, max_halvings, res_axes, sync_every):
        low, high = ensemble.domain
        self.far = 1e6 * (high - low) + max(abs(low), abs(high))  # no fixed point is anywhere near this
        self.m = ensemble.array_module
        self.residual, self.point, self.clip = residual, point, clip
        self.power, self.shift, self.max_halvings, self.res_axes = power, shift, max_halvings, res_axes
        self.sync_every = sync_every

    @staticmethod
    def expand(X):
        """An index that broadcasts a per-start array (E', K') over the unknowns X (E', K', ...)."""
        return (Ellipsis,) + (None,) * (X.ndim - 2)

    def step(self, sub, sub_known, X, dX, merit, active):
        """The new states of the starts (``active``, (E', K') bool: the others stay where they are).

        One sync per ``sync_every`` trials, none after the last."""
        m, expand = self.m, self.expand(X)
        t = m.ones(active.shape, dtype=m.float64)
        accepted = m.zeros(active.shape, dtype=bool)
        X_new = X
        for h in range(self.max_halvings + 1):
            trial = self._trial(X, t, dX, expand)
            with np.errstate(over="ignore", invalid="ignore"):  # a wild trial is simply not accepted
                mt = _merit(self.residual(sub, trial), self.point(trial), sub_known, self.power, self.shift, m,
                            axes=self.res_axes)
            ok = active & ~accepted & m.isfinite(mt) & (mt < merit)
            X_new = m.where(ok[expand], trial, X_new)
            accepted |= ok
            if h < self.max_halvings and (h + 1) % self.sync_every == 0 and bool((accepted | ~active).all()):
                break
            t = m.where(accepted, t, 0.5 * t)
        # the stuck starts take the smallest step (a where on the device: no sync to ask if any is stuck)
        trial = self._trial(X, t, dX, expand)
        finite = (m.abs(trial) <= self.far).all(axis=self.res_axes) & active & ~accepted
        return m.where(finite[expand], trial, X_new)

    def _trial(self, X, t, dX, expand):
        trial = X + t[expand] * dX
        return self.clip(trial) if self.clip is not None else trial


#: a start makes progress when its merit drops by 1 % (in log scale)
_LOG_PROGRESS = float(np.log(0.99))


def _merit(residual, x, known, power, shift, m, axes):
    """log of the deflated residual norm ``m(x) |R|`` (Farrell et al. 2015): the quantity the
    damped step must decrease (with ``m = prod_r (|x - r|^-p + shift)``; 1 without known roots)."""
    value = m.log(m.maximum(m.sqrt((residual * residual).sum(axis=axes)), 1e-300))
    if known is None:
        return value
    diff = x[:, :, None, :] - known[:, None, :, :]
    dist2 = (diff * diff).sum(axis=-1)
    pad = m.isnan(dist2)
    dist2 = m.where(pad, 1.0, m.maximum(dist2, 1e-300))
    with np.errstate(over="ignore"):  # at a known root the deflated merit is +inf: no step is accepted there
        terms = m.log(dist2 ** (-power / 2.0) + shift)
    return value + m.where(pad, 0.0, terms).sum(axis=-1)


def _deflation_factor(d, x, known, power, shift, m):
    """The factor ``1 / (1 - d . grad log m(x))`` that turns Newton steps ``d`` (E', M', N) at
    ``x`` into steps of the deflated system (Farrell et al. 2015); known roots (E', R, N)."""
    diff = x[:, :, None, :] - known[:, None, :, :]  # (E', M', R, N)
    dist2 = (diff * diff).sum(axis=-1)
    pad = m.isnan(dist2)
    dist2 = m.where(pad, 1.0, m.maximum(dist2, 1e-300))
    # Very close to a known root the powers leave float64: an infinite denominator gives the
    # factor 0 (no step), a NaN one the plain step (factor 1), as where the denominator vanishes.
    with np.errstate(over="ignore", invalid="ignore"):
        inv = dist2 ** (-power / 2.0)
        coef = -power * dist2 ** (-power / 2.0 - 1.0) / (inv + shift)
        coef = m.where(pad, 0.0, coef)
        grad_log_m = (coef[..., None] * m.where(pad[..., None], 0.0, diff)).sum(axis=2)
        denom = 1.0 - (grad_log_m * d).sum(axis=-1)
        return m.where(m.abs(denom) > 1e-12, 1.0 / denom, 1.0)


# --------------------------------------------------------------------------- multiple shooting


def _shooting_residual(ens, H):
    """Residuals R_l = phi(W H_{l-1} + b) - H_l of the cyclic layer system, and the pre-activations.

    ``H`` (E, K, L, N) holds the layer states: H[..., 0, :] = x, H[..., l, :] = output of layer
    l (1-based) for l < L; layer L must map H[..., L-1, :] back onto x.
    """
    m = ens.array_module
    prev = m.roll(H, 1, axis=2).transpose(0, 2, 1, 3)  # (E, L, K, N): the state each layer reads
    wt = m.roll(ens.weights_t, 1, axis=1)  # (E, L, N, N): layer feeding state l, transposed
    b = m.roll(ens.biases, 1, axis=1)  # (E, L, N)
    Z = (m.matmul(prev, wt) + b[:, :, None, :]).transpose(0, 2, 1, 3)  # products batched over (E, L)
    return ens.activation.value(Z, m) - H, Z


def shooting_search(
    ensemble: Ensemble,
    states,
    *,
    known=None,
    tol: float = 1e-12,
    max_iter: int = 60,
    deflation_power: float = 2.0,
    deflation_shift: float = 1.0,
    max_halvings: int = 10,
    patience: int | None = 12,
    sync_every: int = 1,
):
    """Deflated Newton on the multiple-shooting form of x = F(x): finds fixed points that plain
    Newton on F(x) - x does not reach.

    The unknowns are the states of all layers, ``h_0 = x, h_1, ..., h_{L-1}``, and the equations
    ``h_l = phi(W_l h_{l-1} + b_l)`` (l = 1..L-1) and ``h_0 = phi(W_L h_{L-1} + b_L)``, which
    close the cycle. Their solutions are exactly the fixed points (with the states along the
    orbit), but the layers' states start independently, so the search explores combinations of
    saturation patterns that no start in x alone reaches (multiple shooting, as for periodic
    orbits of ODEs). A Newton step costs as much as one on F(x) - x: with ``A_l = D_l W_l`` the
    linear system ``d_l = A_l d_{l-1} + R_l`` is closed around the cycle by
    ``(I - A_L ... A_1) d_{L-1} = s``. Steps are damped (halving until the residual norm drops),
    deflated on x against ``known`` roots (see :func:`~fpkit.engine.newton_search`), and a start without 1 %
    progress in ``patience`` steps is abandoned.

    Parameters
    ----------
    ensemble : Ensemble
    states : array (E, K, L, N)
        Initial layer states per network (in the activation's box).
    known : array (E, R, N), optional
        Roots to deflate (x only); NaN rows are padding.
    tol : float
        A start has found a root when every layer's residual is at most ``tol`` (max norm).
    max_iter, deflation_power, deflation_shift, max_halvings, patience, sync_every
        As in :func:`~fpkit.engine.newton_search`.

    Returns
    -------
    x : array (E, K, N)
        The state h_0 each start ended at.
    residual : array (E, K)
        The largest layer residual there; a root where ``residual <= tol``.
    """
    check_ensemble(ensemble)
    options = _check_options(tol, max_iter, deflation_power, deflation_shift, max_halvings, patience, sync_every)
    m = ensemble.array_module
    E, L, N = ensemble.shape
    if not hasattr(states, "dtype") or not hasattr(states, "shape"):
        states = v.check_array(states, "states", finite=False)
    H = v.as_float64(ensemble.xp.asarray(states), "states", ensemble.xp)
    if H.ndim != 4 or H.shape[0] != E or H.shape[2] != L or H.shape[3] != N:
        raise ValueError(f"states must have shape (E, K, L, N) = ({E}, K, {L}, {N}); got {tuple(H.shape)}")
    if not bool(m.isfinite(H).all()):
        raise ValueError("states must be finite (found NaN or inf)")
    H = _in_box(ensemble, H, "states")
    low, high = ensemble.domain
    margin = 1e-15 * (high - low)
    eye = m.eye(N)

    def evaluate(sub, H):
        R, Z = _shooting_residual(sub, H)
        return R, (Z,)

    def direction(sub, H, R, aux):
        # A_l = D_l W_l for the layer feeding state l; unroll d_l = A_l d_{l-1} + R_l around the cycle
        D = sub.activation.derivative(aux[0], m)  # (E', K', L, N)
        W = m.roll(sub.weights, 1, axis=1)  # (E', L, N, N)
        A = D[..., :, None] * W[:, None]  # (E', K', L, N, N)
        P = m.broadcast_to(eye, A.shape[:2] + (N, N))
        s = m.zeros(R.shape[:2] + (N,))
        for layer in range(L):
            P = m.matmul(A[:, :, layer], P)
            s = m.matmul(A[:, :, layer], s[..., None])[..., 0] + R[:, :, layer]
        prev = solve_or_zero(eye - P, s, m)  # d_{L-1}
        dH = m.empty_like(H)
        for layer in range(L):
            prev = m.matmul(A[:, :, layer], prev[..., None])[..., 0] + R[:, :, layer]
            dH[:, :, layer] = prev
        return dH

    known = _check_known(ensemble, known)
    with single_threaded_blas:
        return _damped_newton(ensemble, H, evaluate, lambda sub, H: _shooting_residual(sub, H)[0], direction,
                              known=known, point=lambda H: H[:, :, 0],
                              clip=lambda H: m.clip(H, low + margin, high - margin), **options)
