""":func:`continuation_search`: the main branch from t_0 and the arc of every known fixed point, followed
for a batch of networks at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import _validate as v
from ...backend import single_threaded_blas, to_numpy
from ...network import Ensemble, check_ensemble
from ..settings import MAX_SYNC_EVERY
from .arcs import CONTINUATION_STATUS, MET, contraction_log_t, follow, main_branch_start
from .system import LayerArcs, newton_distance, refine, tangent, to_preactivations

__all__ = ["ContinuationResult", "continuation_search"]


@dataclass
class ContinuationResult:
    """What :func:`continuation_search` found, per network and arc (E, K) with K = R + 1.

    Arc 0 of each network is the main branch; arc k >= 1 starts at ``known[:, k-1]``.

    Attributes
    ----------
    x : array (E, K, N)
        The fixed point where the arc crossed t = 1 (NaN where it did not).
    z : array (E, K, L, N)
        Its pre-activations z_1..z_L at t = 1 (NaN where none).
    residual : array (E, K)
        Largest layer residual ``|asinh(W_l phi(z_{l-1}) + b_l) - asinh(z_l)|_inf`` there (inf where none).
    error : array (E, K)
        The Newton estimate of the distance of ``x`` to the exact fixed point, computed in the
        layer variables (inf where none): it certifies steep points, whose ``|F(x) - x|``
        rounding keeps large.
    status : array (E, K) int
        Codes of ``CONTINUATION_STATUS``.
    steps : array (E, K) int
        Predictor-corrector attempts (accepted and refused).
    rejected : array (E, K) int
        Refused attempts among them.
    log_t0 : array (E,)
        log t_0 per network: below t_0 the network's F_t is a contraction.
    known_z : array (E, R, L, N)
        The known points' pre-activations, refined as roots of the layer equations at t = 1
        (NaN where a known point is padding or no regular root).
    """

    x: np.ndarray
    z: np.ndarray
    residual: np.ndarray
    error: np.ndarray
    status: np.ndarray
    steps: np.ndarray
    rejected: np.ndarray
    log_t0: np.ndarray
    known_z: np.ndarray

    def status_names(self) -> np.ndarray:
        """The status codes as names, shape (E, K)."""
        return np.array(list(CONTINUATION_STATUS))[self.status]


class _ArcStarts:
    """Where the P = E K arcs start (arc k of network e is row e K + k): points y (P, L N + 1), unit
    tangents, orientations (sign of det [G_y; tau^T]), whether each can start, and for arcs that
    start at a known point its layer state and residual (where an arc that meets it ends)."""

    def __init__(self, ensemble: Ensemble, K: int):
        m = ensemble.array_module
        E, L, N = ensemble.shape
        self.net = np.repeat(np.arange(E), K)
        self.slot = np.tile(np.arange(K), E)
        self.arcs = LayerArcs(ensemble.weights[m.asarray(self.net)], ensemble.biases[m.asarray(self.net)],
                              ensemble.activation, m)
        P, D = self.net.size, L * N + 1
        self.y = m.zeros((P, D))
        self.tau = m.zeros((P, D))
        self.usable = np.zeros(P, dtype=bool)
        self.orient = m.zeros(P)
        self.e_last = m.zeros((P, D))
        self.e_last[:, -1] = 1.0
        self.start_v = m.full((P, L, N), m.nan)
        self.start_res = m.full(P, m.inf)

    def head(self, rows, arcs: LayerArcs, y, up: bool, ok) -> None:
        """Start the arcs ``rows`` at y, along the tangent that raises (``up``) or lowers t."""
        m = arcs.m
        rm = m.asarray(rows)
        _, A, g = arcs.system(y)
        tg, sign = tangent(A, g, self.e_last[rm], m)
        flip = tg[:, -1] < 0 if up else tg[:, -1] > 0
        tg = m.where(flip[:, None], -tg, tg)
        self.y[rm], self.tau[rm] = y, m.where(m.isfinite(tg), tg, 0.0)
        self.orient[rm] = m.where(flip, -sign, sign)
        self.usable[rows] = to_numpy(ok & m.isfinite(tg).all(axis=1) & (sign != 0))


def _start_main_branch(starts: _ArcStarts, log_t0) -> None:
    """Arc 0 of every network: the unique solution at t_0, heading up."""
    m = starts.arcs.m
    main = np.flatnonzero(starts.slot == 0)
    arcs = starts.arcs.take(m.asarray(main))
    v0, _, fine = main_branch_start(arcs, log_t0[starts.net[main]])
    y = m.concatenate([v0.reshape(main.size, -1), m.asarray(log_t0[starts.net[main]])[:, None]], axis=1)
    starts.head(main, arcs, y, True, fine)


def _start_known_arcs(starts: _ArcStarts, known, known_z):
    """Arcs k >= 1: from the known points (their orbit's pre-activations, or ``known_z`` where given),
    refined at t = 1, heading down. Returns the refined layer states (E, R, L, N) (NaN where none)."""
    m, phi = starts.arcs.m, starts.arcs.phi
    E, R, N = known.shape
    L = starts.arcs.L
    kn = np.flatnonzero(starts.slot > 0)
    if kn.size == 0:
        return np.full((E, R, L, N), np.nan)
    km, nm, sm = m.asarray(kn), m.asarray(starts.net[kn]), m.asarray(starts.slot[kn] - 1)
    pts = known[nm, sm]
    finite = m.isfinite(pts).all(axis=1)
    pts = m.where(finite[:, None], pts, 0.0)
    arcs = starts.arcs.take(km)
    z = m.empty((kn.size, L, N))
    h = pts
    for layer in range(L):
        z[:, layer] = m.matmul(arcs.W[:, layer], h[..., None])[..., 0] + arcs.b[:, layer]
        h = phi.value(z[:, layer], m)
    if known_z is not None:
        given = known_z[nm, sm].astype(m.float64)
        z = m.where(m.isfinite(given).all(axis=(1, 2))[:, None, None], given, z)
    vk, res, fine = refine(arcs, m.arcsinh(z), m.zeros(kn.size))
    starts.start_v[km], starts.start_res[km] = vk, res  # an arc that meets this one ends here
    starts.head(kn, arcs, m.concatenate([vk.reshape(-1, L * N), m.zeros((kn.size, 1))], axis=1), False,
                finite & fine)
    root = finite & fine
    return to_numpy(m.where(root[:, None, None], to_preactivations(vk, m), m.nan)).reshape(E, R, L, N)


class _ArcEnds:
    """Where the P arcs end: the fixed point, its layer states, residual and Newton error (backend),
    and the status and step counts (host)."""

    def __init__(self, P: int, L: int, N: int, m, phi):
        self.m, self.phi, self.L = m, phi, L
        self.status = np.full(P, CONTINUATION_STATUS["no_start"], dtype=np.int64)
        self.steps = np.zeros(P, dtype=np.int64)
        self.rejected = np.zeros(P, dtype=np.int64)
        self.x = m.full((P, N), m.nan)
        self.z = m.full((P, L, N), m.nan)
        self.residual = m.full(P, m.inf)
        self.error = m.full(P, m.inf)

    def at(self, rows, arcs: LayerArcs, v, res) -> None:
        """Arcs ``rows`` end at the roots v (len(rows), L, N) of the layer equations of ``arcs``."""
        m = self.m
        dst, z = m.asarray(rows), to_preactivations(v, m)
        self.z[dst] = z
        self.x[dst] = self.phi.value(z[:, self.L - 1], m)
        self.residual[dst] = res
        self.error[dst] = newton_distance(arcs, v)


def _end_met_arcs(ends: _ArcEnds, starts: _ArcStarts, go, st, met) -> None:
    """Two arcs that met follow one curve: each ends where the other started (a known point, refined
    at t = 1, or, for the main branch, t_0)."""
    m = starts.arcs.m
    mine = np.flatnonzero(st == MET)
    if mine.size == 0:
        return
    rows, other = go[mine], go[met[mine]]
    down = starts.slot[other] == 0
    ends.status[rows[down]] = CONTINUATION_STATUS["main_branch"]
    rows, other = rows[~down], other[~down]
    if rows.size:
        ends.status[rows] = CONTINUATION_STATUS["crossed"]
        src = m.asarray(other)
        ends.at(rows, starts.arcs.take(src), starts.start_v[src], starts.start_res[src])


def _end_crossed_arcs(ends: _ArcEnds, starts: _ArcStarts, go, st, before, after) -> None:
    """Arcs that crossed t = 1: the crossing, interpolated in the bracket and refined at t = 1."""
    m = starts.arcs.m
    L, N = starts.arcs.L, starts.arcs.N
    crossed = np.flatnonzero(st == CONTINUATION_STATUS["crossed"])
    if crossed.size == 0:
        return
    cm = m.asarray(crossed)
    ya, yb = before[cm], after[cm]
    frac = ya[:, -1] / (ya[:, -1] - yb[:, -1])
    v0 = (ya[:, :-1] + frac[:, None] * (yb[:, :-1] - ya[:, :-1])).reshape(-1, L, N)
    arcs = starts.arcs.take(m.asarray(go[crossed]))
    vc, res, fine = refine(arcs, v0, m.zeros(crossed.size))
    fine = to_numpy(fine)
    rows = go[crossed]
    ends.status[rows[~fine]] = CONTINUATION_STATUS["refine_failed"]
    keep = m.asarray(np.flatnonzero(fine))
    if keep.shape[0]:
        ends.at(rows[fine], arcs.take(keep), vc[keep], res[keep])


def _as_array(ensemble: Ensemble, value, name: str):
    """An array argument on the ensemble's backend; lists (ragged ones included) and other objects are
    checked first, so that a bad one is a TypeError naming it."""
    if not hasattr(value, "dtype") or not hasattr(value, "shape"):
        try:
            value = v.check_array(value, name, finite=False)
        except TypeError as exc:
            raise TypeError(f"{exc}; {name} must be one rectangular array per call (networks with fewer "
                            "known points padded with NaN rows)") from None
    return ensemble.xp.asarray(value)


def _check_arguments(ensemble: Ensemble, known, known_z, max_steps, initial_step, max_step, min_step, main_branch,
                     meet, sync_every):
    """Validate continuation_search's arguments; returns (known (E, R, N) float64 on the backend, known_z,
    the step options)."""
    steps = dict(max_steps=v.check_int(max_steps, "max_steps", minimum=1),
                 h_max=v.check_real(max_step, "max_step", low=0.0, low_open=True),
                 h0=v.check_real(initial_step, "initial_step", low=0.0, low_open=True),
                 h_min=v.check_real(min_step, "min_step", low=0.0, low_open=True),
                 sync_every=v.check_int(sync_every, "sync_every", minimum=1, maximum=MAX_SYNC_EVERY))
    if not min_step <= initial_step <= max_step:
        raise ValueError(f"the steps must satisfy 0 < min_step <= initial_step <= max_step; got min_step={min_step}, "
                         f"initial_step={initial_step}, max_step={max_step}")
    v.check_bool(main_branch, "main_branch")
    v.check_bool(meet, "meet")
    m = ensemble.array_module
    E, L, N = ensemble.shape
    if known is None:
        known = m.full((E, 0, N), m.nan)
    else:
        known = _as_array(ensemble, known, "known")
        if known.ndim != 3 or known.shape[0] != E or known.shape[2] != N:
            raise ValueError(f"known must have shape (E, R, N) = ({E}, R, {N}); got {tuple(known.shape)}")
        if np.dtype(str(known.dtype)).kind not in "fiu":
            raise TypeError(f"known must be a real array; got dtype {known.dtype}")
        known = known.astype(m.float64)
        if known.shape[1]:  # finite rows must not overflow the first layer (non-finite rows are padding)
            ensemble.check_points(m.where(m.isfinite(known).all(axis=2)[..., None], known, 0.0), "known")
    R = known.shape[1]
    if known_z is not None:
        known_z = _as_array(ensemble, known_z, "known_z")
        if known_z.ndim != 4 or tuple(known_z.shape) != (E, R, L, N):
            raise ValueError(f"known_z must have shape (E, R, L, N) = ({E}, {R}, {L}, {N}); got {tuple(known_z.shape)}")
        if np.dtype(str(known_z.dtype)).kind not in "fiu":
            raise TypeError(f"known_z must be a real array; got dtype {known_z.dtype}")
    return known, known_z, steps


def continuation_search(
    ensemble: Ensemble,
    known=None,
    *,
    max_steps: int = 4000,
    initial_step: float = 0.02,
    max_step: float = 0.5,
    min_step: float = 1e-13,
    main_branch: bool = True,
    known_z=None,
    meet: bool = True,
    sync_every: int = 1,
) -> ContinuationResult:
    """Follow the weight-scale homotopy to fixed points: the main branch from t_0, and from
    every known fixed point the arc of decreasing t to its partner (see :mod:`fpkit.engine.continuation`).

    Parameters
    ----------
    ensemble : Ensemble
    known : array (E, R, N), optional
        Known fixed points per network, real; rows with NaN (or inf) are padding. Finite rows must
        not overflow the first layer (see :meth:`~fpkit.network.Ensemble.check_points`).
    max_steps : int
        Predictor-corrector attempts per arc at most (>= 1).
    initial_step, max_step, min_step : float
        Pseudo-arclength step lengths in the unknowns ``(asinh z_l, log t)``: the first step,
        the largest, and the smallest before an arc is given up (``stalled``);
        ``0 < min_step <= initial_step <= max_step``.
    main_branch : bool
        Follow the main branch (arc 0); False leaves arc 0 out (status ``no_start``).
    known_z : array (E, R, L, N), optional
        The known points' pre-activations where known (NaN elsewhere): a steep point's rounded
        x does not determine its layer states, so its arc starts from these instead of the
        orbit of x.
    meet : bool
        Stop two arcs of a network that follow one curve towards each other where they meet
        (each then ends where the other started): the same ends as following both to the end,
        at about half the steps. False follows every arc to its end.
    sync_every : int
        The host reads which arcs are still alive every this many attempts (>= 1; see
        :class:`~fpkit.engine.EngineSettings`); while two live arcs of one network could meet it
        reads after every attempt. A stopped arc changes nothing, so the results are the same for
        every value.

    Returns
    -------
    ContinuationResult
        Arrays of shape (E, K, ...) with K = R + 1 (arc 0: the main branch).
    """
    check_ensemble(ensemble)
    known, known_z, steps = _check_arguments(ensemble, known, known_z, max_steps, initial_step, max_step, min_step,
                                             main_branch, meet, sync_every)
    with single_threaded_blas:  # the BLAS thread policy of fpkit's threads (see fpkit.backend)
        return _search(ensemble, known, known_z, steps, main_branch, meet)


def _search(ensemble: Ensemble, known, known_z, steps: dict, main_branch: bool, meet: bool) -> ContinuationResult:
    """continuation_search on checked arguments."""
    m = ensemble.array_module
    E, L, N = ensemble.shape
    K = known.shape[1] + 1
    log_t0 = contraction_log_t(ensemble, m)
    starts = _ArcStarts(ensemble, K)
    if main_branch:
        _start_main_branch(starts, log_t0)
    refined_z = _start_known_arcs(starts, known, known_z)
    ends = _ArcEnds(starts.net.size, L, N, m, ensemble.activation)
    go = np.flatnonzero(starts.usable)
    if go.size:
        gm = m.asarray(go)
        before, after, st, stp, rej, met = follow(starts.arcs.take(gm), starts.y[gm], starts.tau[gm],
                                                  starts.orient[gm], log_t0[starts.net[go]],
                                                  group=starts.net[go] if meet else None, **steps)
        ends.status[go], ends.steps[go], ends.rejected[go] = st, stp, rej
        _end_met_arcs(ends, starts, go, st, met)
        _end_crossed_arcs(ends, starts, go, st, before, after)
    return ContinuationResult(
        x=to_numpy(ends.x).reshape(E, K, N),
        z=to_numpy(ends.z).reshape(E, K, L, N),
        residual=to_numpy(ends.residual).reshape(E, K),
        error=to_numpy(ends.error).reshape(E, K),
        status=ends.status.reshape(E, K),
        steps=ends.steps.reshape(E, K),
        rejected=ends.rejected.reshape(E, K),
        log_t0=log_t0,
        known_z=refined_z,
    )
