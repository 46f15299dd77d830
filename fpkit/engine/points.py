"""The table of distinct fixed points a census builds, and what it does with points.

Every stage of the census (:mod:`fpkit.engine.census`) finds candidate points of some networks and
hands them to one :class:`PointTable`: a flat table, one row per distinct fixed point, with its
network, residual ``|F(x) - x|_inf``, Newton error estimate, eigenvalues, the stage that found it,
the starts that reached it and, where known, its layer states. "Is this point already known" has
one answer, :meth:`PointTable.match`: a point is a known one when it lies within ``merge_tol`` (max
norm) of a row of its own network (the nearest such row), and, where both carry layer states, when
those agree too (steep fixed points of heavy-tailed networks can be distinct and closer than
``merge_tol`` in x). Points that match no row are merged among themselves by :func:`~fpkit.engine.points.greedy_merge`
(Golub & Sussillo's rule: the point with the smallest residual represents every point within
``merge_tol``) and become new rows (:meth:`PointTable.insert`). Both are vectorised over points and
networks.

The Newton stages need per-network lists: :func:`pack_by_network` packs flat points into (E, K, N);
:func:`polish_points`, :func:`newton_errors` and :func:`point_eigenvalues` polish, certify and
classify flat points through it.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as v
from ..backend import to_numpy
from .linalg import newton_correction
from .newton import polish

__all__ = ["PointTable", "greedy_merge", "merge_points", "newton_errors", "pack_by_network", "point_eigenvalues",
           "polish_points"]

#: Largest number of (candidate, row, coordinate) differences :meth:`PointTable.match` holds at once.
_MATCH_BLOCK = 2**22


def pack_by_network(points: np.ndarray, network: np.ndarray, n_networks: int, width: int,
                    fill: float | None = None):
    """Pack flat points (P, N) of networks ``network`` (P,) into an array (E, K, N), K the most points
    of one network (at least 1).

    Padding is each network's first point (networks without points get 0.5), or ``fill`` (e.g.
    NaN) where given. Returns the packed array and each point's slot along axis 1 (its rank among
    the points of its network, in table order).
    """
    network = np.asarray(network, dtype=np.int64)
    counts = np.bincount(network, minlength=n_networks)
    K = max(int(counts.max()) if counts.size else 0, 1)
    packed = np.full((n_networks, K, width), 0.5 if fill is None else fill)
    order = np.argsort(network, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.empty(network.size, dtype=np.int64)
    slot[order] = np.arange(network.size) - np.repeat(starts, counts)
    packed[network, slot] = points
    if fill is None:
        has = counts > 0
        first = packed[:, :1, :]
        pad = np.arange(K)[None, :] >= counts[:, None]
        packed = np.where((pad & has[:, None])[..., None], first, packed)
    return packed, slot


def _state_distance(a, b):
    """Max-norm distance of layer states in asinh scale (saturated units: their logarithm), rows of
    (K, L, N) against (K, L, N); NaN where either is unknown."""
    with np.errstate(invalid="ignore"):
        return np.abs(np.arcsinh(a) - np.arcsinh(b)).max(axis=(1, 2))


def greedy_merge(points, keys, network, tol: float, *, states=None, state_tol: float = 0.0):
    """Group the points of each network that are one point; all networks at once.

    Within each network, in the order of ``keys`` (ties: input order), the first point not yet
    grouped represents every ungrouped point within ``tol`` (max norm) of it, and, where ``states``
    (K, L, N) are given, whose layer states agree within ``state_tol`` (asinh scale); repeat. Two
    distinct points closer than ``tol`` are therefore one.

    Parameters
    ----------
    points : (K, N) array
    keys : (K,) array
        The order in which points become representatives (the residual: the best point represents).
    network : (K,) int array
    tol : float

    Returns
    -------
    reps : (Q,) int array
        Indices of the representatives, by network (ascending), within a network in the order they
        were chosen.
    rep_of : (K,) int array
        For every point, the index of its representative.
    """
    K, N = points.shape
    network = np.asarray(network, dtype=np.int64)
    rep_of = np.full(K, -1, dtype=np.int64)
    if K == 0:
        return np.zeros(0, dtype=np.int64), rep_of
    order = np.lexsort((keys, network))  # by network, then key; stable
    _, first_of, counts = np.unique(network[order], return_index=True, return_counts=True)
    group = np.repeat(np.arange(counts.size), counts)
    slot = np.arange(K) - np.repeat(first_of, counts)
    index = np.full((counts.size, int(counts.max())), -1, dtype=np.int64)
    index[group, slot] = order
    packed = np.full(index.shape + (N,), np.nan)
    packed[group, slot] = points[order]
    free = index >= 0
    chosen, chosen_group, chosen_round = [], [], []
    for rnd in range(index.shape[1]):
        live = np.flatnonzero(free.any(axis=1))
        if live.size == 0:
            break
        first = free[live].argmax(axis=1)
        rep = index[live, first]
        with np.errstate(invalid="ignore"):
            close = free[live] & (np.abs(packed[live] - points[rep][:, None, :]).max(axis=2) <= tol)
        close[np.arange(live.size), first] = True  # a representative represents itself
        if states is not None:
            g, s = np.nonzero(close)
            agree = _state_distance(states[index[live[g], s]], states[rep[g]]) <= state_tol
            close[g[~agree], s[~agree]] = False
            close[np.arange(live.size), first] = True
        g, s = np.nonzero(close)
        rep_of[index[live[g], s]] = rep[g]
        free[live[g], s] = False
        chosen.append(rep)
        chosen_group.append(live)
        chosen_round.append(np.full(live.size, rnd))
    reps, by_group, by_round = (np.concatenate(a) for a in (chosen, chosen_group, chosen_round))
    return reps[np.lexsort((by_round, by_group))], rep_of


def merge_points(points: np.ndarray, residuals: np.ndarray, tol: float):
    """Group points of one network closer than ``tol`` (max norm); the representative has the smallest
    residual (see :func:`~fpkit.engine.points.greedy_merge`).

    Parameters
    ----------
    points : (K, N) array
        Finite, N >= 1.
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
    points = v.check_array(points, "points")
    residuals = v.check_array(residuals, "residuals", finite=False)
    if np.isnan(residuals).any():
        raise ValueError("residuals must not be NaN")
    if points.ndim != 2 or points.shape[1] < 1 or residuals.shape != points.shape[:1]:
        raise ValueError(f"points must be (K, N) with N >= 1 and residuals (K,); got {points.shape} and "
                         f"{residuals.shape}")
    reps, rep_of = greedy_merge(points, residuals, np.zeros(points.shape[0], dtype=np.int64), tol)
    position = np.empty(points.shape[0], dtype=np.int64)
    position[reps] = np.arange(reps.size)
    return reps, position[rep_of]


class PointTable:
    """The distinct fixed points of E networks of width N found so far (host arrays, one row each).

    Columns (length P, the number of rows): ``x`` (P, N); ``network``; ``residual``
    (``|F(x) - x|_inf``); ``error`` (the Newton estimate of the distance to the exact point where a
    stage computed it, NaN where it is to be computed from x); ``found_by`` (the stage); ``basin``
    (uniform starts of iteration that reached it); ``hits`` (uniform multiple-shooting starts that
    reached it); ``eigenvalues`` (P, N) complex and ``classified`` (whether they are set);
    ``layer_states`` (P, L, N), the pre-activations of its orbit where a stage knows them (NaN
    elsewhere; allocated when first set).
    """

    def __init__(self, n_networks: int, width: int):
        self.n_networks, self.width = n_networks, width
        N = width
        self.x = np.zeros((0, N))
        self.network = np.zeros(0, dtype=np.int64)
        self.residual = np.zeros(0)
        self.error = np.zeros(0)
        self.found_by = np.zeros(0, dtype=object)
        self.basin = np.zeros(0, dtype=np.int64)
        self.hits = np.zeros(0, dtype=np.int64)
        self.eigenvalues = np.zeros((0, N), dtype=complex)
        self.classified = np.zeros(0, dtype=bool)
        self.layer_states: np.ndarray | None = None

    @property
    def size(self) -> int:
        """The number of rows."""
        return int(self.network.size)

    # ------------------------------------------------------------------ growing
    def add(self, x, network, residual, found_by: str, *, basin=None, error=None, eigenvalues=None,
            layer_states=None) -> np.ndarray:
        """Append rows (no matching: see :meth:`insert`); returns their row numbers."""
        n, N = network.size, self.width
        rows = np.arange(self.size, self.size + n)
        if n == 0:
            return rows
        self.x = np.concatenate([self.x, x])
        self.network = np.concatenate([self.network, network.astype(np.int64)])
        self.residual = np.concatenate([self.residual, residual])
        self.found_by = np.concatenate([self.found_by, np.full(n, found_by, dtype=object)])
        self.basin = np.concatenate([self.basin, np.zeros(n, dtype=np.int64) if basin is None else basin])
        self.hits = np.concatenate([self.hits, np.zeros(n, dtype=np.int64)])
        self.error = np.concatenate([self.error, np.full(n, np.nan) if error is None else error])
        ev = np.full((n, N), np.nan, dtype=complex) if eigenvalues is None else eigenvalues
        self.eigenvalues = np.concatenate([self.eigenvalues, ev])
        self.classified = np.concatenate([self.classified, np.full(n, eigenvalues is not None)])
        if self.layer_states is not None or layer_states is not None:
            depth = (self.layer_states if self.layer_states is not None else layer_states).shape[1]
            if self.layer_states is None:
                self.layer_states = np.full((rows[0], depth, N), np.nan)
            new = np.full((n, depth, N), np.nan) if layer_states is None else layer_states
            self.layer_states = np.concatenate([self.layer_states, new])
        return rows

    def set_layer_states(self, rows, states) -> None:
        """Record the layer states (len(rows), L, N) of ``rows`` where they are not known yet."""
        if rows.size == 0:
            return
        if self.layer_states is None:
            self.layer_states = np.full((self.size,) + states.shape[1:], np.nan)
        unknown = np.isnan(self.layer_states[rows]).any(axis=(1, 2))
        self.layer_states[rows[unknown]] = states[unknown]

    # ------------------------------------------------------------------ matching
    def match(self, x, network, tol: float, *, layer_states=None, state_tol: float = 0.0) -> np.ndarray:
        """The row of each point (K, N) of ``network`` (K,): the nearest row of its network within
        ``tol`` (max norm) whose layer states, where both are known, agree within ``state_tol``
        (asinh scale); -1 where there is none."""
        K = network.size
        rows = np.full(K, -1, dtype=np.int64)
        if K == 0 or self.size == 0:
            return rows
        packed, slot = pack_by_network(self.x, self.network, self.n_networks, self.width, fill=np.nan)
        row_of = np.full(packed.shape[:2], -1, dtype=np.int64)
        row_of[self.network, slot] = np.arange(self.size)
        step = max(1, _MATCH_BLOCK // (packed.shape[1] * self.width))
        for a in range(0, K, step):
            b = min(a + step, K)
            with np.errstate(invalid="ignore"):
                d = np.abs(packed[network[a:b]] - x[a:b, None, :]).max(axis=2)  # (k, R); NaN: padding
            near = d <= tol
            if layer_states is not None and self.layer_states is not None:
                c, r = np.nonzero(near)
                known = row_of[network[a + c], r]
                gap = _state_distance(self.layer_states[known], layer_states[a + c])
                near[c[gap > state_tol], r[gap > state_tol]] = False  # NaN (unknown): compatible
            d = np.where(near, d, np.inf)
            best = d.argmin(axis=1)
            found = near.any(axis=1)
            rows[a:b] = np.where(found, row_of[network[a:b], best], -1)
        return rows

    def insert(self, x, network, residual, tol: float, found_by: str, *, keys=None, error=None,
               eigenvalues=None, layer_states=None, state_tol: float = 0.0) -> np.ndarray:
        """The row of every point: the row it matches (:meth:`match`), or a new one.

        Points that match no row are merged among themselves (:func:`~fpkit.engine.points.greedy_merge` in the order of
        ``keys``, default the residual); their representatives become new rows, by network and in
        their input order. ``error``, ``eigenvalues`` and ``layer_states`` (per point) are the new
        rows' values where given.
        """
        rows = self.match(x, network, tol, layer_states=layer_states, state_tol=state_tol)
        fresh = np.flatnonzero(rows < 0)
        if fresh.size == 0:
            return rows
        order_keys = residual[fresh] if keys is None else keys[fresh]
        states = None if layer_states is None else layer_states[fresh]
        reps, rep_of = greedy_merge(x[fresh], order_keys, network[fresh], tol, states=states, state_tol=state_tol)
        reps = reps[np.lexsort((reps, network[fresh][reps]))]  # by network, then input order
        new = fresh[reps]
        pick = (lambda a: None if a is None else a[new])
        new_rows = self.add(x[new], network[new], residual[new], found_by, error=pick(error),
                            eigenvalues=pick(eigenvalues), layer_states=pick(layer_states))
        row_of_rep = np.full(fresh.size, -1, dtype=np.int64)
        row_of_rep[reps] = new_rows
        rows[fresh] = row_of_rep[rep_of]
        return rows

    # ------------------------------------------------------------------ views
    def packed(self, fill=np.nan) -> np.ndarray:
        """Every row packed per network, (E, R, N), padded with ``fill``."""
        return pack_by_network(self.x, self.network, self.n_networks, self.width, fill=fill)[0]

    def classify(self, ensemble) -> None:
        """Eigenvalues of J_F at the rows not classified yet (one batched call for all of them)."""
        todo = np.flatnonzero(~self.classified)
        if todo.size:
            self.eigenvalues[todo] = point_eigenvalues(ensemble, self.x[todo], self.network[todo])
            self.classified[todo] = True


def polish_points(ensemble, x, network, tol: float):
    """Polish flat points (P, N) of networks ``network`` (P,) by Newton (:func:`~fpkit.engine.polish`);
    returns (points, residual ``|F(x) - x|_inf``)."""
    if x.shape[0] == 0:
        return x, np.zeros(0)
    E, _, N = ensemble.shape
    packed, slot = pack_by_network(x, network, E, N)
    px, res = polish(ensemble, ensemble.xp.asarray(packed), tol=tol)
    px, res = to_numpy(px), to_numpy(res)
    return px[network, slot], res[network, slot]


def newton_errors(ensemble, x, network) -> np.ndarray:
    """``|(I - J)^-1 (F(x) - x)|_inf`` per point (P,): the Newton estimate of its distance to the
    exact fixed point. For steep fixed points (``|J|`` ~ 1e6 and more) rounding alone keeps
    ``|F(x) - x|`` far above ``polish_tol`` while the point is exact to rounding."""
    E, _, N = ensemble.shape
    if x.shape[0] == 0:
        return np.zeros(0)
    packed, slot = pack_by_network(x, network, E, N)
    fx, jac = ensemble.forward_with_jacobian(ensemble.xp.asarray(packed))
    fx, jac = to_numpy(fx)[network, slot], to_numpy(jac)[network, slot]
    err = np.abs(newton_correction(jac, fx - x)).max(axis=1)
    return np.where(np.isfinite(err), err, np.inf)


def point_eigenvalues(ensemble, x, network) -> np.ndarray:
    """Eigenvalues (P, N) complex of J_F at flat points (P, N) of networks ``network`` (finite at any
    depth, see :meth:`~fpkit.network.Ensemble.jacobian_eigenvalues`)."""
    E, _, N = ensemble.shape
    if x.shape[0] == 0:
        return np.zeros((0, N), dtype=complex)
    packed, slot = pack_by_network(x, network, E, N)
    return ensemble.jacobian_eigenvalues(ensemble.xp.asarray(packed))[network, slot]
