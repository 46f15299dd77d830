"""Benchmarks of the fixed-point engine (used by ``benchmarks/run.py`` and the book's appendix).

Every comparison runs both sides in one process, interleaved (A, B, A, B, ...), and keeps
each side's best time, so that the machine's noise affects both alike; each comparison also
checks that both sides give the same answer before a ratio is reported.

* :func:`python_loop_iterate` - what a paper script does: one network and one start at a
  time, a Python loop over iterations and layers.
* :func:`torch_iterate` - the engine's batched iteration (convergence test, finished starts
  dropped from the active block) written in PyTorch, for a CPU or CUDA comparison.
* :func:`steady_iteration` / :func:`matmul_roofline` - the engine's forward iteration on a
  block where nothing finishes, and the plain batched matrix products of the same shapes:
  the floating-point rate the iteration cannot beat.
* :func:`syncs_per_step` - host syncs per step of the engine's loops (what a GPU waits for),
  counted on the counting backend of :mod:`fpkit.syncs`, at several ``sync_every``.
* :func:`cadence_timing` - the iteration timed at several ``sync_every`` on the ensemble's backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from . import _validate as v
from .backend import split_rows, to_numpy
from .engine import iterate_map, uniform_starts
from .network import Ensemble, check_ensemble

__all__ = [
    "activation_share",
    "cadence_timing",
    "compare",
    "cost_law",
    "matmul_roofline",
    "python_loop_iterate",
    "steady_iteration",
    "syncs_per_step",
    "torch_iterate",
]


def _best_times(funcs: dict[str, Callable[[], object]], repeats: int,
                warmup: float = 0.0) -> tuple[dict, dict]:
    """Run every function ``repeats`` times, interleaved; best seconds and last result of each.

    With ``warmup > 0`` each timed call follows untimed calls of the same function lasting at
    least ``warmup`` seconds (at least one), so that it is timed in the steady state it reaches in
    long work: on the 2-core VMs this project runs on, a core that has idled runs a second thread
    at a fraction of its speed for about 0.1 s of load (measured: the first ~20 forward passes of
    a two-thread engine step took as long as one thread's), which a 50 ms timed call never leaves.
    """
    best = {k: np.inf for k in funcs}
    out = {}
    for _ in range(repeats):
        for name, fn in funcs.items():
            if warmup > 0:
                start = time.perf_counter()
                fn()
                while time.perf_counter() - start < warmup:
                    fn()
            t0 = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best, out


def compare(funcs: dict[str, Callable[[], object]], *, repeats: int = 3,
            warmup: float = 0.0) -> tuple[dict, dict]:
    """Public form of the interleaved best-of-``repeats`` timer: ``(seconds, results)``.

    ``warmup``: seconds (>= 0, at most 60) of untimed calls of a function before each of its timed calls.
    """
    repeats = v.check_int(repeats, "repeats", minimum=1)
    warmup = v.check_real(warmup, "warmup", low=0.0, high=60.0)
    if not isinstance(funcs, dict) or not funcs:
        raise TypeError(f"funcs must be a non-empty dict of name -> callable; got {type(funcs).__name__}")
    for name, fn in funcs.items():
        v.check_callable(fn, f"funcs[{name!r}]")
    return _best_times(funcs, repeats, warmup)


def python_loop_iterate(ensemble: Ensemble, starts, *, tol: float = 1e-10, max_iter: int = 5000,
                        subset: np.ndarray | None = None) -> np.ndarray:
    """Per-network, per-start Python loop of ``x <- F(x)`` until ``|F(x) - x|_inf < tol``.

    ``subset``: flat indices ``e * M + m`` of the starts to run (default: all).
    Returns the limits of the starts run, shape (len(subset), N).
    """
    check_ensemble(ensemble)
    x0 = to_numpy(ensemble.check_points(starts, "starts"))
    tol = v.check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    W, b = to_numpy(ensemble.weights), to_numpy(ensemble.biases)
    E, M, N = x0.shape
    phi = ensemble.activation
    idx = np.arange(E * M) if subset is None else v.check_array(subset, "subset", ndim=1)
    if subset is not None:
        if np.any(idx != np.round(idx)) or (idx.size and (idx.min() < 0 or idx.max() >= E * M)):
            raise ValueError(f"subset must hold flat start indices in [0, E*M - 1 = {E * M - 1}]")
        idx = idx.astype(np.int64)
    out = np.empty((idx.size, N))
    for row, flat in enumerate(idx):
        e, m = divmod(int(flat), M)
        x = x0[e, m].copy()
        for _ in range(max_iter):
            y = x
            for layer in range(W.shape[1]):
                y = phi(W[e, layer] @ y + b[e, layer], np)
            done = np.max(np.abs(y - x)) < tol
            x = y
            if done:
                break
        out[row] = x
    return out


def torch_iterate(ensemble: Ensemble, starts, *, tol: float = 1e-10, max_iter: int = 5000,
                  device: str = "cpu"):
    """The engine's batched iteration in PyTorch (float64): returns (limits, iterations) as NumPy.

    The algorithm of :func:`fpkit.engine.iterate_map` with ``max_period=1``, stage by stage: F is
    evaluated into preallocated buffers (transposed weights, in-place products and activation);
    convergence is screened with the squared 2-norm and confirmed in the max norm for the few
    starts that pass; finished starts are written out at once, and the block is packed (rows and
    columns) when packing keeps at most 3/4 of its slots (:class:`fpkit.engine.ActiveBlock`).
    It is a separate function rather than the engine run on torch tensors because the engine's
    hot loop is written against the NumPy/CuPy API (``out=`` ufuncs, ``axis=``, ``max`` returning
    values), which torch spells differently.
    """
    import torch

    check_ensemble(ensemble)
    starts = ensemble.check_points(starts, "starts")
    tol = v.check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    if not isinstance(device, str):
        raise TypeError(f"device must be a str such as 'cpu' or 'cuda'; got {type(device).__name__}")
    try:
        torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device {device!r} is not a torch device ({exc})") from None
    inplace = {"tanh": "tanh_", "logistic": "sigmoid_"}.get(ensemble.activation.name)
    act = ensemble.activation.torch
    x0 = torch.as_tensor(np.asarray(to_numpy(starts)), device=device)
    wt_all = torch.as_tensor(to_numpy(ensemble.weights_t), device=device)
    b_all = torch.as_tensor(to_numpy(ensemble.biases), device=device)
    E, M, N = x0.shape
    L = wt_all.shape[1]
    tol2 = N * tol * tol
    limit = x0.clone()
    iterations = torch.full((E, M), max_iter, dtype=torch.int64, device=device)
    net = torch.arange(E, device=device)
    idx = torch.arange(M, device=device).expand(E, M)
    valid = torch.ones((E, M), dtype=torch.bool, device=device)
    wt, b = wt_all, b_all
    x = x0.clone()
    new, scratch, diff = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
    for k in range(1, max_iter + 1):
        src = x
        for layer in range(L):
            dst = new if (L - layer) % 2 == 1 else scratch
            torch.matmul(src, wt[:, layer], out=dst)
            dst += b[:, layer, None, :]
            if inplace:
                getattr(dst, inplace)()
            else:
                dst.copy_(act(dst))
            src = dst
        torch.sub(new, x, out=diff)
        near = valid & (torch.einsum("emn,emn->em", diff, diff) < tol2)
        if bool(near.any()):
            r, c = torch.nonzero(near, as_tuple=True)
            ok = diff[r, c].abs().amax(dim=-1) < tol
            r, c = r[ok], c[ok]
            if r.numel():
                limit[net[r], idx[r, c]] = new[r, c]
                iterations[net[r], idx[r, c]] = k
                valid[r, c] = False
        x, new = new, x
        counts = valid.sum(dim=1)
        width = int(counts.max())
        if width == 0:
            break
        live = counts > 0
        if int(live.sum()) * width <= 0.75 * valid.numel():
            keep = torch.nonzero(live, as_tuple=True)[0]
            order = torch.argsort((~valid[keep]).to(torch.int8), dim=1, stable=True)[:, :width]
            net = net[keep]
            idx = torch.take_along_dim(idx[keep], order, dim=1)
            valid = torch.take_along_dim(valid[keep], order, dim=1)
            x = torch.take_along_dim(x[keep], order[..., None], dim=1)
            new, scratch, diff = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
            wt, b = wt_all[net], b_all[net]
    if bool(valid.any()):
        r, c = torch.nonzero(valid, as_tuple=True)
        limit[net[r], idx[r, c]] = x[r, c]
    return limit.cpu().numpy(), iterations.cpu().numpy()


def steady_iteration(ensemble: Ensemble, starts, steps: int):
    """``steps`` engine iterations on the full block (nothing can finish: ``tol`` is tiny)."""
    steps = v.check_int(steps, "steps", minimum=1)
    return iterate_map(ensemble, starts, tol=1e-300, max_iter=steps, max_period=1).limit


def matmul_roofline(ensemble: Ensemble, starts, steps: int):
    """The batched products alone: ``steps * L`` times ``x @ W_l^T`` on the same shapes, the
    fastest way the engine's backend does them (preallocated output, transposed weights, the
    networks shared among the same CPU threads as the engine's)."""
    check_ensemble(ensemble)
    starts = ensemble.check_points(starts, "starts")
    steps = v.check_int(steps, "steps", minimum=1)
    m = ensemble.array_module
    wt = ensemble.weights_t
    E, M, N = starts.shape
    out = m.empty_like(starts)

    def rows(a, b):
        for _ in range(steps):
            for layer in range(wt.shape[1]):
                m.matmul(starts[a:b], wt[a:b, layer], out=out[a:b])

    if m is np:
        split_rows(rows, E, work=flops_per_step(E, M, N, wt.shape[1]))
    else:  # pragma: no cover - needs a GPU
        rows(0, E)
    return out


def activation_share(ensemble: Ensemble, starts, steps: int, *, repeats: int = 3, warmup: float = 0.0) -> float:
    """Share of a steady iteration step spent in the activation (the products' share is what
    :func:`matmul_roofline` measures): the best time of ``steps * L`` in-place activations on a
    block of pre-activations, the networks shared among the engine's threads as in a step, over
    the best time of :func:`steady_iteration`. ``steps`` and ``repeats`` are integers >= 1;
    ``warmup`` as in :func:`compare`."""
    check_ensemble(ensemble)
    starts = ensemble.check_points(starts, "starts")
    steps = v.check_int(steps, "steps", minimum=1)
    repeats = v.check_int(repeats, "repeats", minimum=1)
    warmup = v.check_real(warmup, "warmup", low=0.0, high=60.0)
    m = ensemble.array_module
    z = m.matmul(starts, ensemble.weights_t[:, 0]) + ensemble.biases[:, 0, None, :]
    buf = m.empty_like(z)
    phi = ensemble.activation

    def rows(a, b):
        for _ in range(steps * ensemble.depth):
            m.copyto(buf[a:b], z[a:b])
            phi.value(buf[a:b], m, out=buf[a:b])

    def activations():
        E, M, N = z.shape
        if m is np:  # in threads exactly when a step of the engine is
            split_rows(rows, E, work=flops_per_step(E, M, N, ensemble.depth))
        else:  # pragma: no cover - needs a GPU
            rows(0, E)
        return buf

    t, _ = _best_times({"act": activations, "step": lambda: steady_iteration(ensemble, starts, steps)}, repeats,
                       warmup)
    return t["act"] / t["step"]


def flops_per_step(E: int, M: int, N: int, L: int) -> float:
    """Floating-point operations of the products of one iteration: ``2 E M L N^2``."""
    return 2.0 * E * M * L * N * N


def cost_law(*, widths=(8, 16, 32, 64), depths=(2, 4, 8, 16), sizes=(256, 1024, 4096, 16384),
             base_N: int = 32, base_L: int = 8, base_size: int = 2048, steps: int = 20,
             repeats: int = 3, seed=0, backend: str | None = None) -> pd.DataFrame:
    """Time per steady iteration against N, L and E*M (one axis varied, the others at base),
    with the matmul roofline (the same products alone) measured beside it, interleaved.

    Returns a table with columns ``axis`` (``"N"``, ``"L"`` or ``"EM"``), ``N``, ``L``, ``EM``,
    ``seconds_per_step``, ``roofline_seconds_per_step``, ``seconds_per_unit`` (per network x
    start x step, i.e. per point evaluation of F), ``roofline_per_unit``, ``gflops`` (rate of
    the products, ``2 E M L N^2`` per step) and ``efficiency`` (roofline time / engine time).
    """
    from .network import NetworkConfig

    for name, values in (("widths", widths), ("depths", depths), ("sizes", sizes)):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"{name} must be a sequence of positive integers; got {type(values).__name__}")
        for i, value in enumerate(values):
            v.check_int(value, f"{name}[{i}]", minimum=1)
    for name, value in (("base_N", base_N), ("base_L", base_L), ("base_size", base_size), ("steps", steps),
                        ("repeats", repeats)):
        v.check_int(value, name, minimum=1)
    E = 16
    N_max, L_max, S_max = max([*widths, base_N]), max([*depths, base_L]), max([*sizes, base_size])
    # weights, and per start the iteration's ring of past states (up to max_period + 1 = 65) and temporaries
    v.check_memory(16 * (E * L_max * N_max**2 + 80 * S_max * N_max),  # with room for the roofline beside it
                   f"the largest widths/base_N = {N_max}, depths/base_L = {L_max}, sizes/base_size = {S_max}")
    rows = []
    points = ([("N", n, base_L, base_size) for n in widths] + [("L", base_N, d, base_size) for d in depths]
              + [("EM", base_N, base_L, s) for s in sizes])
    for axis, N, L, size in points:
        M = max(1, size // E)
        ens = Ensemble.sample(NetworkConfig(N=N, L=L, law="gaussian", activation="tanh"), E,
                              seed=seed, backend=backend)
        x0 = uniform_starts(ens, M, seed=seed)
        t, _ = _best_times({"engine": lambda: _sync(steady_iteration(ens, x0, steps)),
                            "roofline": lambda: _sync(matmul_roofline(ens, x0, steps))}, repeats)
        sec, roof = t["engine"] / steps, t["roofline"] / steps
        rows.append({"axis": axis, "N": N, "L": L, "EM": E * M, "seconds_per_step": sec,
                     "roofline_seconds_per_step": roof, "seconds_per_unit": sec / (E * M),
                     "roofline_per_unit": roof / (E * M), "gflops": flops_per_step(E, M, N, L) / sec / 1e9,
                     "efficiency": roof / sec})
    return pd.DataFrame(rows)


def _sync(x):
    """Force completion of asynchronous (CuPy) work before a timer stops."""
    if hasattr(x, "device") and type(x).__module__.startswith("cupy"):
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    return x


def iteration_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Largest max-norm difference between two sets of limits."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0



#: The loops :func:`syncs_per_step` measures.
SYNC_STAGES = ("iteration", "newton", "shooting", "continuation")


def _check_cadences(sync_every) -> tuple[int, ...]:
    from .engine.settings import MAX_SYNC_EVERY

    if isinstance(sync_every, (str, bytes)) or not hasattr(sync_every, "__iter__"):
        raise TypeError(f"sync_every must be a sequence of integers; got {type(sync_every).__name__}")
    out = tuple(v.check_int(k, f"sync_every[{i}]", minimum=1, maximum=MAX_SYNC_EVERY) for i, k in enumerate(sync_every))
    if not out:
        raise ValueError("sync_every must hold at least one cadence")
    return out


def syncs_per_step(ensemble: Ensemble, starts, *, sync_every=(1, 8), stages=SYNC_STAGES, max_iter: int = 5000,
                   newton_steps: int = 20, continuation_steps: int = 4000) -> pd.DataFrame:
    """Host syncs per step of the engine's loops at each cadence, counted on the CPU.

    The networks run on a strict :class:`~fpkit.syncs.CountingNamespace` (the NumPy numbers, with
    every event that would make the host wait for a GPU counted). Per stage and ``sync_every``:

    * ``"iteration"``: :func:`~fpkit.engine.iterate_map` from ``starts`` (E, M, N) with ``max_iter``;
      steps = the loop's steps (the largest iteration count);
    * ``"newton"`` / ``"shooting"``: :func:`~fpkit.engine.newton_search` from ``starts`` and
      :func:`~fpkit.engine.shooting_search` from their orbits' layer states, ``newton_steps`` steps
      each (an unreachable tolerance and no patience, so every start takes every step);
    * ``"continuation"``: :func:`~fpkit.engine.continuation_search`, the main branch of every
      network (one arc per network: no meeting test); steps = the longest arc's attempts.

    Returns a table with columns ``stage``, ``sync_every``, ``steps``, ``syncs`` (all of the call),
    ``loop_syncs`` (those of the loop's own reads of the device: the block's or the arcs' mask),
    ``syncs_per_step`` (``syncs / steps``) and ``other`` (the rest: per-call checks, the line
    search's and the corrector's questions, and fpkit.network's two per Jacobian).
    """
    from .engine import continuation_search, newton_search, shooting_search
    from .syncs import counting_ensemble

    check_ensemble(ensemble)
    starts = ensemble.check_points(starts, "starts")
    cadences = _check_cadences(sync_every)
    if isinstance(stages, str) or not isinstance(stages, Iterable) or not all(st in SYNC_STAGES for st in stages):
        raise ValueError(f"stages must be a sequence of names from {SYNC_STAGES}; got {stages!r}")
    max_iter = v.check_int(max_iter, "max_iter", minimum=1)
    newton_steps = v.check_int(newton_steps, "newton_steps", minimum=1)
    continuation_steps = v.check_int(continuation_steps, "continuation_steps", minimum=1)
    dev, ns = counting_ensemble(ensemble)
    x0 = ns.asarray(to_numpy(starts))
    states = ns.asarray(_orbit_states(ensemble, to_numpy(starts)))
    c = ns.counter
    runs = {
        "iteration": (lambda k: iterate_map(dev, x0, max_iter=max_iter, sync_every=k),
                      lambda r: int(to_numpy(r.iterations).max()), ("sync", "active.py")),
        "newton": (lambda k: newton_search(dev, x0, tol=1e-300, patience=None, max_iter=newton_steps, sync_every=k),
                   lambda r: newton_steps, ("sync", "active.py")),
        "shooting": (lambda k: shooting_search(dev, states, tol=1e-300, patience=None, max_iter=newton_steps,
                                               sync_every=k), lambda r: newton_steps, ("sync", "active.py")),
        "continuation": (lambda k: continuation_search(dev, max_steps=continuation_steps, sync_every=k),
                         lambda r: int(r.steps.max()), ("sync", "arcs.py")),
    }
    rows = []
    for stage in stages:
        run, count_steps, loop_site = runs[stage]
        for k in cadences:
            c.reset()
            result = run(k)
            syncs, loop = c.syncs, c.syncs_in(*loop_site)
            steps = count_steps(result)
            rows.append({"stage": stage, "sync_every": k, "steps": steps, "syncs": syncs, "loop_syncs": loop,
                         "syncs_per_step": syncs / max(steps, 1), "other": syncs - loop})
    return pd.DataFrame(rows)


def _orbit_states(ensemble: Ensemble, x) -> np.ndarray:
    """The layer states (E, M, L, N) along the orbits of points x (E, M, N) (NumPy), in the box."""
    W, b = to_numpy(ensemble.weights), to_numpy(ensemble.biases)
    E, L, N = ensemble.shape
    out = np.empty(x.shape[:2] + (L, N))
    h = x
    for layer in range(L):
        out[:, :, layer] = h
        h = ensemble.activation.value(np.matmul(h, np.swapaxes(W[:, layer], -1, -2)) + b[:, layer, None, :], np)
    low, high = ensemble.domain
    margin = 1e-12 * (high - low)
    return np.clip(out, low + margin, high - margin)


def cadence_timing(ensemble: Ensemble, starts, *, sync_every=(1, 8), repeats: int = 3, warmup: float = 0.0,
                   **options) -> pd.DataFrame:
    """:func:`~fpkit.engine.iterate_map` timed at each ``sync_every`` on the ensemble's backend
    (interleaved, best of ``repeats``, as :func:`compare`), after checking that every cadence gives
    the same statuses, periods and iteration counts (``precision="float64"``; an AssertionError
    otherwise). ``options``: further settings of the iteration (e.g. ``max_iter``).

    Returns a table with columns ``sync_every``, ``seconds`` and ``relative`` (seconds over those of
    the first cadence).
    """
    check_ensemble(ensemble)
    starts = ensemble.check_points(starts, "starts")
    cadences = _check_cadences(sync_every)
    repeats = v.check_int(repeats, "repeats", minimum=1)
    warmup = v.check_real(warmup, "warmup", low=0.0, high=60.0)
    if options.get("precision", "float64") != "float64":
        raise ValueError("cadence_timing compares step counts, which only precision='float64' keeps exact; "
                         f"got precision={options['precision']!r}")
    t, out = _best_times({k: (lambda k=k: _synced_iteration(ensemble, starts, k, options)) for k in cadences},
                         repeats, warmup)
    first = out[cadences[0]]
    for k in cadences[1:]:
        for name in ("status", "period", "iterations"):
            same = np.array_equal(to_numpy(getattr(first, name)), to_numpy(getattr(out[k], name)))
            assert same, f"sync_every={k} gives other {name} than sync_every={cadences[0]}"
    return pd.DataFrame([{"sync_every": k, "seconds": t[k], "relative": t[k] / t[cadences[0]]} for k in cadences])


def _synced_iteration(ensemble, starts, k, options):
    result = iterate_map(ensemble, starts, sync_every=k, **options)
    _sync(result.limit)
    return result
