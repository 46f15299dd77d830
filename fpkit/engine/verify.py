"""An independent check of a census: every fixed point by Newton in the layer pre-activations.

:func:`layer_newton_fixed_points` looks for all fixed points of each network by a method chosen to
share as little as possible with the census (:func:`~fpkit.engine.find_fixed_points`), and
:func:`census_misses` compares a census with it network by network; :func:`census_miss_rate` does
both on a random subsample of an ensemble and gives the share of networks where the census missed a
point, with its confidence interval.

The equations. A fixed point x = F(x) of ``F = phi o (W_L . + b_L) o ... o phi o (W_1 . + b_1)`` is
a cyclic chain of layer pre-activations ``z_l = W_l phi(z_{l-1}) + b_l`` (l = 1..L, layer 1 reads
z_L, and x = phi(z_L)). In the unknowns ``v_l = asinh(z_l)`` they read

    G_l(v) = asinh(W_l phi(sinh v_{l-1}) + b_l) - v_l = 0,      l = 1..L (cyclic),

the layer equations of :func:`~fpkit.engine.continuation.system.layer_system` at t = 1 (written
out here again, not imported). A saturated unit (``|z|`` up to the row sums of ``|W|``, 1e6 and
more for heavy-tailed weights) is a logarithm in v, a linear one keeps its size.

What the search is independent of. It shares with the census only the network (its weights,
biases and the activation's value and derivative). It does not iterate F, does not use Newton on
F(x) - x, the multiple-shooting search (which works in the post-activations h_l, clipped to the
box, with deflation), nor the continuation (bordered QR in the weight scale); it does not deflate,
so a start's root depends on that start alone; its starts are random saturation patterns (each
``v_l,i`` uniform between ``-r asinh B_l,i`` and ``r asinh B_l,i``, ``B`` the largest ``|z_l,i|`` the
network allows and r a random degree of saturation per start), not points in the box; its roots are certified against the rounding floor of
the layer sums and merged by their layer states, not by x; their eigenvalues and index come from
the layer states. Its Newton step closes the cycle of the layers (``dv_l = A_l dv_{l-1} + G_l``
solved through ``(I - A_L ... A_1) dv_L = s``), as the multiple-shooting search does in h; the
unknowns, the damping and the starts differ.

What it can miss. A root whose Newton basin (in v) none of the ``n_starts`` random saturation
patterns hits; it reports, per network, the Chao1 estimate of the roots its starts have not reached
(:func:`~fpkit.engine.completeness.chao1_unseen`), and :func:`census_misses` counts the points the
census found that it did not (``extra``). Roots steeper than float64 resolves (``|z|`` so large
that the residual's rounding floor is above ``tol``) are missed or merged, and a double root (a
fold, where ``det(I - J) = 0``) gets index 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import _validate as v
from ..backend import make_rng, to_numpy
from ..network import Ensemble, check_ensemble
from .result import FixedPoints

__all__ = ["LayerNewtonRoots", "MissRate", "census_miss_rate", "census_misses", "layer_newton_fixed_points",
           "recall_summary"]

#: |v| beyond this is clipped before sinh: no |z| a network of float64 weights allows is that large.
_V_CLIP = 60.0
#: Roots whose layer states agree to this (max norm of v = asinh z) are one root.
SAME_ROOT = 1e-6
#: A census point within this of a reference root in x (max norm) is that root, where its layer
#: states could not be refined (see :func:`census_misses`).
SAME_X = 1e-6


@dataclass
class LayerNewtonRoots:
    """The fixed points :func:`layer_newton_fixed_points` found, one row per distinct root (P rows).

    Attributes
    ----------
    n_networks : int
        E, the networks of the ensemble searched.
    depth : int
        L, their depth.
    width : int
        N, their width.
    network : int array (P,)
        The root's network (ascending).
    x : array (P, N)
        The fixed point ``x = phi(z_L)``.
    z : array (P, L, N)
        Its layer pre-activations z_1..z_L.
    residual : array (P,)
        The largest ``|G_l|`` at the root (in ``asinh`` scale).
    eigenvalues : complex array (P, N)
        Of ``J_F(x) = D_L W_L ... D_1 W_1`` with ``D_l = diag(phi'(z_l))``.
    stable : bool array (P,)
        Spectral radius below 1.
    index : int array (P,)
        ``sign det(I - J_F)`` (0 where it vanishes).
    hits : int array (P,)
        How many starts converged to the root.
    starts : int array (E,)
        Starts per network.
    """

    n_networks: int
    depth: int
    width: int
    network: np.ndarray
    x: np.ndarray
    z: np.ndarray
    residual: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    index: np.ndarray
    hits: np.ndarray
    starts: np.ndarray

    def per_network(self) -> pd.DataFrame:
        """One row per network: ``fixed_points``, ``stable``, ``unstable``, ``index_sum`` (1 where the
        list can be complete), ``unseen`` (Chao1 estimate of the roots no start reached)."""
        E = self.n_networks
        count = lambda mask: np.bincount(self.network[mask], minlength=E)  # noqa: E731
        f1 = count(self.hits == 1)
        f2 = count(self.hits == 2)
        return pd.DataFrame({
            "network": np.arange(E),
            "fixed_points": count(np.ones(self.network.size, dtype=bool)),
            "stable": count(self.stable),
            "unstable": count(~self.stable),
            "index_sum": np.bincount(self.network, weights=self.index, minlength=E).round().astype(np.int64),
            "unseen": f1 * (f1 - 1) / (2.0 * (f2 + 1)),
            "starts": self.starts,
        })


# --------------------------------------------------------------------------- the layer equations


def _sinh_cosh(vl):
    """sinh and cosh of v (clipped to ``_V_CLIP``) from one exponential."""
    e = np.exp(np.clip(vl, -_V_CLIP, _V_CLIP))
    r = 1.0 / e
    return 0.5 * (e - r), 0.5 * (e + r)


class _Layers:
    """The layer equations of a batch of P starts (each with its network's W (P, L, N, N), b (P, L, N))."""

    def __init__(self, W, b, phi):
        self.W, self.b, self.phi = W, b, phi

    def take(self, keep) -> _Layers:
        return _Layers(self.W[keep], self.b[keep], self.phi)

    def residual(self, vl):
        """G (P, L, N), and what the step and the floor need: the sums a = W_l h + b_l, the inputs
        h = phi(z_{l-1}) of every layer, z_{l-1} and cosh v_{l-1}."""
        z_prev, c_prev = _sinh_cosh(np.roll(vl, 1, axis=1))
        h = self.phi.value(z_prev, np)
        a = np.einsum("plij,plj->pli", self.W, h) + self.b
        return np.arcsinh(a) - vl, (a, h, z_prev, c_prev)

    def floor(self, parts):
        """The rounding floor of |G| (P, L, N): a few ulps of the terms the sum ``W h + b`` cancels,
        scaled by ``d asinh / da``."""
        a, h = parts[:2]
        size = np.einsum("plij,plj->pli", np.abs(self.W), np.abs(h)) + np.abs(self.b)
        return 16 * np.finfo(np.float64).eps * size / np.hypot(1.0, a)

    def step(self, G, parts):
        """The Newton step dv (P, L, N): ``-dv_l + A_l dv_{l-1} = -G_l`` with
        ``A_l = dG_l / dv_{l-1} = diag(1 / sqrt(1 + a_l^2)) W_l diag(phi'(z_{l-1}) cosh v_{l-1})``,
        closed around the cycle (NaN where ``I - A_L ... A_1`` is singular)."""
        a, _, z_prev, c_prev = parts
        P, L, N = G.shape
        with np.errstate(over="ignore", invalid="ignore"):
            d = self.phi.derivative(z_prev, np) * c_prev
        d = np.where(np.isfinite(d), d, 0.0)
        A = self.W * (1.0 / np.hypot(1.0, a))[..., None] * d[:, :, None, :]
        A = np.ascontiguousarray(A.transpose(1, 0, 2, 3))  # (L, P, N, N): one layer's blocks together
        Gl = np.ascontiguousarray(G.transpose(1, 0, 2))[..., None]  # (L, P, N, 1)
        prod, s = A[0], Gl[0]
        for layer in range(1, L):
            prod = A[layer] @ prod
            s = A[layer] @ s + Gl[layer]
        with np.errstate(all="ignore"):
            try:
                prev = np.linalg.solve(np.eye(N) - prod, s)
            except np.linalg.LinAlgError:
                prev = _solve_each(np.eye(N) - prod, s)
        dv = np.empty_like(G)
        for layer in range(L):
            prev = A[layer] @ prev + Gl[layer]
            dv[:, layer] = prev[..., 0]
        return dv


def _solve_each(M, s):
    """Solve M y = s (P, N, 1) row by row; NaN rows where M is singular."""
    out = np.full(s.shape, np.nan)
    for p in range(M.shape[0]):
        try:
            out[p] = np.linalg.solve(M[p], s[p])
        except np.linalg.LinAlgError:
            pass
    return out


def _merit(G):
    with np.errstate(over="ignore", invalid="ignore"):
        out = (G * G).sum(axis=(1, 2))
    return np.where(np.isfinite(out), out, np.inf)


def _newton(layers: _Layers, vl, tol: float, max_iter: int, max_halvings: int, patience: int = 3):
    """Damped Newton on the layer equations from every start (P, L, N), no deflation. Returns the
    final v and whether each start reached a root: ``|G| <= tol + floor`` everywhere. A start whose
    step is singular, or whose step was refused (no decrease after ``max_halvings`` halvings)
    ``patience`` times in a row, is given up."""
    out_v = vl.copy()
    found = np.zeros(vl.shape[0], dtype=bool)
    live = np.arange(vl.shape[0])
    refused = np.zeros(vl.shape[0], dtype=np.int64)
    G, parts = layers.residual(vl)
    for _ in range(max_iter + 1):
        merit = _merit(G)
        ok = (np.abs(G) <= 1e-6).all(axis=(1, 2))  # candidates; the floor costs a product with |W|
        near = np.flatnonzero(ok)
        ok[near] = (np.abs(G[near]) <= tol + layers.take(near).floor([p[near] for p in parts])).all(axis=(1, 2))
        found[live[ok]] = True
        out_v[live] = vl
        keep = ~ok & np.isfinite(merit) & (refused < patience)
        if not keep.any():
            break
        live, vl, G, merit, refused = live[keep], vl[keep], G[keep], merit[keep], refused[keep]
        parts = [p[keep] for p in parts]
        layers = layers.take(keep)
        dv = layers.step(G, parts)
        usable = np.isfinite(dv).all(axis=(1, 2))
        refused[~usable] = patience  # a singular step: give up
        dv[~usable] = 0.0
        new_v = vl.copy()
        todo = np.flatnonzero(usable)
        t = 1.0
        for _h in range(max_halvings + 1):
            trial = vl[todo] + t * dv[todo]
            with np.errstate(over="ignore", invalid="ignore"):
                better = _merit(layers.take(todo).residual(trial)[0]) < merit[todo]
            new_v[todo[better]] = trial[better]
            todo = todo[~better]
            if todo.size == 0:
                break
            t *= 0.5
        # no decrease: take the smallest step anyway (it leaves flat regions), but count the refusal
        new_v[todo] = np.clip(vl[todo] + t * dv[todo], -_V_CLIP, _V_CLIP)
        refused[todo] += 1
        refused[np.setdiff1d(np.flatnonzero(usable), todo)] = 0
        vl = new_v
        G, parts = layers.residual(vl)
    return out_v, found


def _merge_states(vl, network, tol: float):
    """Group roots (K, L, N) of networks ``network`` (K,) whose states agree within ``tol``
    (max norm). Returns the representatives (indices, by network) and each root's representative."""
    rep_of = np.full(network.size, -1, dtype=np.int64)
    flat = vl.reshape(vl.shape[0], vl[0].size if vl.shape[0] else 0)
    reps = []
    for e in np.unique(network):
        mine = np.flatnonzero(network == e)
        free = np.ones(mine.size, dtype=bool)
        while free.any():
            first = mine[np.argmax(free)]
            close = free & (np.abs(flat[mine] - flat[first]).max(axis=1) <= tol)
            rep_of[mine[close]] = first
            free &= ~close
            reps.append(first)
    return np.asarray(reps, dtype=np.int64), rep_of


def _jacobians(W, phi, z):
    """J_F (P, N, N) at roots with pre-activations z (P, L, N): ``D_L W_L ... D_1 W_1``."""
    P, L, N = z.shape
    J = np.broadcast_to(np.eye(N), (P, N, N))
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(L):
            J = phi.derivative(z[:, layer], np)[:, :, None] * (W[:, layer] @ J)
    return J


def _start_bounds(W, b, phi):
    """asinh of the largest |z_l,i| a network allows (E, L, N): ``|W_l| max|phi| + |b_l|``."""
    reach = max(abs(phi.low), abs(phi.high))
    return np.arcsinh(np.abs(W).sum(axis=-1) * reach + np.abs(b))


# --------------------------------------------------------------------------- the search


def layer_newton_fixed_points(
    ensemble: Ensemble,
    *,
    n_starts: int = 2048,
    seed=0,
    tol: float = 1e-11,
    max_iter: int = 30,
    max_halvings: int = 3,
    networks=None,
    memory: int = 128 * 2**20,
) -> LayerNewtonRoots:
    """Every fixed point of each network that damped Newton on its layer equations reaches from
    ``n_starts`` random saturation patterns (see the module doc: what it is independent of, what it
    can miss).

    Each start draws a degree of saturation r uniform in (0, 1), then every ``v_l,i = asinh z_l,i``
    uniformly in ``[-r asinh B_l,i, r asinh B_l,i]`` with ``B_l,i = sum_j |W_l,ij| max|phi| + |b_l,i|``
    (every root lies in ``|z_l,i| <= B_l,i``): from nearly linear states (where steep roots, with
    all units linear and a gain of 1e8 and more around the cycle, have their only Newton basin) to
    states as saturated as the weights allow. Newton steps are halved
    until ``sum |G|^2`` drops (at most ``max_halvings`` times), without deflation; a start has found
    a root where every ``|G_l,i| <= tol`` plus the rounding floor of the sum ``W_l h + b_l``. Roots
    whose layer states agree to ``SAME_ROOT`` (max norm in v) are one.

    Parameters
    ----------
    ensemble : Ensemble
        Networks (E, L, N); any backend (the search runs in NumPy on the host).
    n_starts : int
        Starts per network (>= 1).
    seed : int or Generator
        Seeds the starts. Network e's starts depend on the seed and on e only (not on the other
        networks searched), so a subsample gets the roots the whole ensemble would.
    tol : float
        In (0, 1e-6]: the residual, above its rounding floor, below which a start has found a root.
    max_iter, max_halvings : int
        Newton steps per start, halvings per step.
    networks : int array (E',), optional
        Search these networks of the ensemble only (default: all); rows of the result refer to
        positions in the ensemble.
    memory : int
        Bytes of work arrays: the networks are searched in groups of that size.

    Returns
    -------
    LayerNewtonRoots
    """
    check_ensemble(ensemble)
    n_starts = v.check_int(n_starts, "n_starts", minimum=1, maximum=10**7)
    tol = v.check_real(tol, "tol", low=0.0, high=1e-6, low_open=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    max_halvings = v.check_int(max_halvings, "max_halvings", minimum=0)
    memory = v.check_int(memory, "memory", minimum=1)
    E, L, N = ensemble.shape
    nets = _check_networks(networks, E)
    entropy = [int(a) for a in make_rng(seed, "numpy").integers(0, 2**63, size=2)]
    W, b = to_numpy(ensemble.weights).astype(np.float64), to_numpy(ensemble.biases).astype(np.float64)
    phi = ensemble.activation
    bound = _start_bounds(W, b, phi)
    per_start = 8 * L * N * (3 * N + 12)
    group = max(1, memory // (per_start * n_starts))
    parts = []
    for a in range(0, nets.size, group):
        mine = nets[a:a + group]
        parts.append(_search_group(W, b, phi, bound, mine, n_starts, entropy, tol, max_iter, max_halvings))
    if not parts:
        parts = [(np.zeros(0, dtype=np.int64), np.zeros((0, L, N)), np.zeros(0), np.zeros(0, dtype=np.int64))]
    return _assemble(parts, W, phi, nets, E, L, N, n_starts)


def _check_networks(networks, E: int) -> np.ndarray:
    if networks is None:
        return np.arange(E)
    nets = np.asarray(networks)
    if nets.ndim != 1 or not np.issubdtype(nets.dtype, np.integer):
        raise TypeError(f"networks must be a 1-d array of network positions (integers); got {nets.dtype} "
                        f"of shape {nets.shape}")
    if nets.size and (nets.min() < 0 or nets.max() >= E):
        raise ValueError(f"networks must lie in [0, {E - 1}]; got values from {nets.min()} to {nets.max()}")
    if np.unique(nets).size != nets.size:
        raise ValueError("networks must not repeat a network")
    return np.sort(nets.astype(np.int64))


def _search_group(W, b, phi, bound, mine, K, entropy, tol, max_iter, max_halvings):
    """The distinct roots of the networks ``mine``: their network (R,), v (R, L, N), residual (R,) and
    hits (R,)."""
    _, L, N = b.shape
    v0 = np.empty((mine.size, K, L, N))
    for i, e in enumerate(mine):  # network e's draws depend on the seed and on e only
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(int(e),)))
        degree = rng.random((K, 1, 1))
        v0[i] = (2.0 * rng.random((K, L, N)) - 1.0) * degree * bound[e]
    net = np.repeat(mine, K)
    vl, found = _newton(_Layers(W[net], b[net], phi), v0.reshape(-1, L, N), tol, max_iter, max_halvings)
    idx = np.flatnonzero(found)
    net, vl = net[idx], vl[idx]
    reps, rep_of = _merge_states(vl, net, SAME_ROOT)
    position = np.empty(net.size, dtype=np.int64)
    position[reps] = np.arange(reps.size)
    hits = np.bincount(position[rep_of], minlength=reps.size)
    G = _Layers(W[net[reps]], b[net[reps]], phi).residual(vl[reps])[0]
    return net[reps], vl[reps], np.abs(G).max(axis=(1, 2), initial=0.0), hits


def _assemble(parts, W, phi, nets, E, L, N, K) -> LayerNewtonRoots:
    """The result of every group's roots: x, z, eigenvalues, stability and index from the layer states."""
    network = np.concatenate([p[0] for p in parts]).astype(np.int64)
    vl = np.concatenate([p[1] for p in parts])
    residual = np.concatenate([p[2] for p in parts])
    hits = np.concatenate([p[3] for p in parts]).astype(np.int64)
    z = np.sinh(vl)
    x = phi.value(z[:, L - 1], np)
    J = _jacobians(W[network], phi, z)
    with np.errstate(all="ignore"):
        ev = np.linalg.eigvals(J).astype(complex)
        sign = np.linalg.slogdet(np.eye(N) - J)[0].real
    ev = np.where(np.isfinite(ev), ev, np.nan)
    starts = np.zeros(E, dtype=np.int64)
    starts[nets] = K
    return LayerNewtonRoots(n_networks=E, depth=L, width=N, network=network, x=x, z=z, residual=residual,
                            eigenvalues=ev, stable=np.abs(ev).max(axis=1, initial=0.0) < 1.0,
                            index=np.where(np.isfinite(sign), sign, 0).astype(np.int64), hits=hits, starts=starts)


# --------------------------------------------------------------------------- comparing a census with it


def _orbit_states(W, b, phi, x):
    """The layer states v = asinh z (P, L, N) of the orbits of points x (P, N): z_1 = W_1 x + b_1, ..."""
    P, L, N = b.shape
    out = np.empty((P, L, N))
    h = x
    for layer in range(L):
        z = np.einsum("pij,pj->pi", W[:, layer], h) + b[:, layer]
        out[:, layer] = np.arcsinh(z)
        h = phi.value(z, np)
    return out


def _refined_census_states(ensemble: Ensemble, x, network, tol: float):
    """The census's points (P, N) of ``network`` (P,) as roots of the layer equations: Newton from their
    orbits' layer states (a few steps); NaN rows where that did not converge or moved x by more than
    ``SAME_X`` (the point is then matched by x alone)."""
    W, b = to_numpy(ensemble.weights)[network], to_numpy(ensemble.biases)[network]
    phi = ensemble.activation
    L = b.shape[1]
    start = _orbit_states(W, b, phi, x)
    vl, found = _newton(_Layers(W, b, phi), start, tol, 12, 8)
    moved = np.abs(phi.value(np.sinh(vl[:, L - 1]), np) - x).max(axis=1, initial=0.0)
    good = found & (moved <= SAME_X)
    return np.where(good[:, None, None], vl, np.nan)


def census_misses(result: FixedPoints, reference: LayerNewtonRoots, ensemble: Ensemble, *, networks=None,
                  tol: float = 1e-11) -> pd.DataFrame:
    """The fixed points of ``reference`` that the census ``result`` missed, per network.

    A census point is refined as a root of the layer equations (Newton from its orbit's layer states,
    :func:`layer_newton_fixed_points`'s method) and is a reference root where their layer states
    agree to ``SAME_ROOT`` (max norm of asinh z); where its refinement fails (or moves x by more
    than ``SAME_X``), where x agrees to ``SAME_X``.

    Parameters
    ----------
    result : FixedPoints
        A census of ``ensemble`` (:func:`~fpkit.engine.find_fixed_points`).
    reference : LayerNewtonRoots
        :func:`layer_newton_fixed_points` of the same ensemble.
    ensemble : Ensemble
    networks : int array, optional
        The networks to compare (default: those the reference searched).
    tol : float
        The refinement's root tolerance (as in :func:`layer_newton_fixed_points`).

    Returns
    -------
    pandas.DataFrame
        One row per network compared: ``network``, ``reference`` and ``census`` (fixed points each
        found), ``missed`` (reference roots the census lacks), ``missed_stable``, ``missed_unstable``,
        ``extra`` (census points the reference lacks: what the reference search missed),
        ``census_index_sum``, ``nothing_missed``.
    """
    check_ensemble(ensemble)
    if not isinstance(result, FixedPoints):
        raise TypeError(f"result must be a FixedPoints (a census); got {type(result).__name__}")
    if not isinstance(reference, LayerNewtonRoots):
        raise TypeError(f"reference must be a LayerNewtonRoots (layer_newton_fixed_points); got "
                        f"{type(reference).__name__}")
    E, L, N = ensemble.shape
    if result.n_networks != E or result.width != N or (reference.n_networks, reference.depth, reference.width) != (E, L, N):
        raise ValueError(f"result and reference must belong to the ensemble of shape (E, L, N) = {(E, L, N)}; got "
                         f"result with E = {result.n_networks}, N = {result.width} and reference of shape "
                         f"{(reference.n_networks, reference.depth, reference.width)}")
    tol = v.check_real(tol, "tol", low=0.0, high=1e-6, low_open=True)
    nets = np.flatnonzero(reference.starts > 0) if networks is None else _check_networks(networks, E)
    unsearched = nets[reference.starts[nets] == 0]
    if unsearched.size:
        raise ValueError(f"the reference did not search networks {unsearched[:5].tolist()}: pass them to "
                         "layer_newton_fixed_points(networks=...)")
    mine = np.isin(result.fp_network, nets)
    cx, cnet = result.x[mine], result.fp_network[mine]
    cv = _refined_census_states(ensemble, cx, cnet, tol)
    isum = result.index_sum()
    rows = []
    for e in nets:
        r = np.flatnonzero(reference.network == e)
        c = np.flatnonzero(cnet == e)
        same = _same_points(reference.z[r], reference.x[r], cv[c], cx[c])  # (R, C)
        missed = ~same.any(axis=1)
        rows.append({"network": int(e), "reference": r.size, "census": c.size, "missed": int(missed.sum()),
                     "missed_stable": int((missed & reference.stable[r]).sum()),
                     "missed_unstable": int((missed & ~reference.stable[r]).sum()),
                     "extra": int((~same.any(axis=0)).sum()), "census_index_sum": int(isum[e])})
    table = pd.DataFrame(rows, columns=["network", "reference", "census", "missed", "missed_stable",
                                        "missed_unstable", "extra", "census_index_sum"])
    table["nothing_missed"] = table["missed"] == 0
    return table


def _same_points(ref_z, ref_x, census_v, census_x):
    """(R, C) bool: reference root r is census point c (layer states where refined, else x)."""
    ref_v = np.arcsinh(ref_z).reshape(ref_z.shape[0], ref_z[0].size if ref_z.shape[0] else census_v[0].size)
    cv = census_v.reshape(census_v.shape[0], ref_v.shape[1])
    with np.errstate(invalid="ignore"):
        by_state = np.abs(ref_v[:, None, :] - cv[None, :, :]).max(axis=2, initial=0.0) <= SAME_ROOT
    by_x = np.abs(ref_x[:, None, :] - census_x[None, :, :]).max(axis=2, initial=0.0) <= SAME_X
    refined = np.isfinite(cv).all(axis=1)
    return np.where(refined[None, :], by_state, by_x)


def recall_summary(misses: pd.DataFrame, *, confidence: float = 0.95) -> dict:
    """The recall of a census from :func:`census_misses`'s table, with exact binomial intervals.

    Returns a dict: ``networks`` (compared), ``nothing_missed`` (networks where the census found every
    reference root), ``recall`` (their share), ``miss_rate`` (1 - recall), ``miss_rate_low`` and
    ``miss_rate_high`` (the two-sided Clopper-Pearson interval at ``confidence``), ``miss_rate_upper``
    (the one-sided upper limit at ``confidence``: with 0 misses in n networks, 1 - (1 - c)^(1/n)),
    ``missed_stable_networks``, ``missed_unstable_networks`` (networks missing a stable / an unstable
    point), ``missed_points``, ``extra_points`` (census points the reference lacks) and
    ``index_sum_one_among_missed`` (networks with a miss whose census index sum is 1 anyway).
    """
    from scipy import stats

    if not isinstance(misses, pd.DataFrame) or "nothing_missed" not in misses:
        raise TypeError("misses must be the DataFrame of census_misses")
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    n = int(len(misses))
    if n == 0:
        raise ValueError("misses must have at least one network")
    k = int((~misses["nothing_missed"]).sum())
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    upper = 1.0 if k == n else float(stats.beta.ppf(confidence, k + 1, n - k))
    bad = misses[~misses["nothing_missed"]]
    return {"networks": n, "nothing_missed": n - k, "recall": (n - k) / n, "miss_rate": k / n,
            "miss_rate_low": float(ci.low), "miss_rate_high": float(ci.high), "miss_rate_upper": upper,
            "confidence": confidence,
            "missed_stable_networks": int((misses["missed_stable"] > 0).sum()),
            "missed_unstable_networks": int((misses["missed_unstable"] > 0).sum()),
            "missed_points": int(misses["missed"].sum()), "extra_points": int(misses["extra"].sum()),
            "index_sum_one_among_missed": int((bad["census_index_sum"] == 1).sum())}


@dataclass
class MissRate:
    """How often a census missed a fixed point that the independent search found, on a random
    subsample of its networks (:func:`census_miss_rate`).

    Attributes
    ----------
    networks : int
        Networks checked.
    missed : int
        Networks where the census missed at least one reference root.
    rate : float
        ``missed / networks``.
    low : float
        Lower end of its two-sided Clopper-Pearson interval at ``confidence``.
    high : float
        Upper end of that interval.
    upper : float
        The one-sided upper limit at ``confidence`` (with 0 misses: ``1 - (1 - confidence)^(1/networks)``).
    confidence : float
    missed_stable : int
        Networks missing a stable point.
    missed_unstable : int
        Networks missing an unstable point.
    extra : int
        Census points the independent search did not find (what it missed itself).
    table : pandas.DataFrame
        :func:`census_misses` of the networks checked.
    reference : LayerNewtonRoots
        The independent search's roots.
    """

    networks: int
    missed: int
    rate: float
    low: float
    high: float
    upper: float
    confidence: float
    missed_stable: int
    missed_unstable: int
    extra: int
    table: pd.DataFrame
    reference: LayerNewtonRoots


def census_miss_rate(ensemble: Ensemble, result: FixedPoints, *, sample: int | None = 100, seed=0,
                     n_starts: int = 2048, confidence: float = 0.95) -> MissRate:
    """The share of networks in which the census ``result`` missed a fixed point, measured against
    :func:`layer_newton_fixed_points` on ``sample`` networks drawn at random, with its exact binomial
    interval: the number to state (and glue) wherever the census's count of all fixed points is used.

    Parameters
    ----------
    ensemble : Ensemble
    result : FixedPoints
        A census of ``ensemble`` (``find_fixed_points(..., census=True)``).
    sample : int or None
        Networks to check, drawn without replacement (None or at least E: all).
    seed : int or Generator
        Seeds the subsample and the independent search.
    n_starts : int
        Starts per network of the independent search.
    confidence : float
        Of the intervals, in (0, 1).

    Returns
    -------
    MissRate
    """
    check_ensemble(ensemble)
    if not isinstance(result, FixedPoints):
        raise TypeError(f"result must be a FixedPoints (a census); got {type(result).__name__}")
    E = ensemble.n_networks
    if sample is not None:
        sample = v.check_int(sample, "sample", minimum=1)
    rng = make_rng(seed, "numpy")
    nets = np.arange(E) if sample is None or sample >= E else np.sort(rng.choice(E, size=sample, replace=False))
    reference = layer_newton_fixed_points(ensemble, n_starts=n_starts, seed=rng, networks=nets)
    table = census_misses(result, reference, ensemble, networks=nets)
    s = recall_summary(table, confidence=confidence)
    return MissRate(networks=s["networks"], missed=s["networks"] - s["nothing_missed"], rate=s["miss_rate"],
                    low=s["miss_rate_low"], high=s["miss_rate_high"], upper=s["miss_rate_upper"],
                    confidence=s["confidence"], missed_stable=s["missed_stable_networks"],
                    missed_unstable=s["missed_unstable_networks"], extra=s["extra_points"], table=table,
                    reference=reference)
