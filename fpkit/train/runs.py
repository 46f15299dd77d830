"""Training runs: one (:func:`train`) or many, batched, in parallel, cached (:func:`train_many`)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from .. import _validate as v
from .cache import RunCache
from .config import TrainConfig, TrainResult
from .data import digits
from .fit import fit_stacks, one_torch_thread, pack_parameters, unpack_parameters

__all__ = ["train", "train_many"]


def train(config: TrainConfig, *, cache_dir: str | os.PathLike | None = None, progress: bool = True,
          data=None) -> TrainResult:
    """Train one network; returns its loss history and checkpoints (see :mod:`fpkit.train`).

    ``data``: ``(x_train, x_test)``; default :func:`digits` for the configuration's activation
    and width (split seeded by ``config.seed``, the first ``config.n_train`` training images).
    Custom ``data`` cannot be combined with ``cache_dir``.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    if data is not None:
        if cache_dir is not None:
            raise ValueError("cache_dir needs the default data (the cache key does not cover data=)")
        x_train, x_test = (np.asarray(a, dtype=np.float64) for a in data)
        if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != config.width or \
                x_test.shape[1] != config.width:
            raise ValueError(f"data must be two arrays of shape (M, width={config.width}); got "
                             f"{x_train.shape} and {x_test.shape}")
        with one_torch_thread():
            return _train_group([config], [(x_train, x_test)], progress)[0]
    return train_many([config], cache_dir=cache_dir, progress=progress)[0]


def train_many(configs: Iterable[TrainConfig], *, cache_dir: str | os.PathLike | None = None,
               progress: bool = True, workers: int = 1, max_group: int = 16) -> list[TrainResult]:
    """Train every configuration (cached, resumable, batched; see :mod:`fpkit.train`).

    Parameters
    ----------
    configs : iterable of TrainConfig
    cache_dir : path, optional
        Directory of the per-run disk cache (:class:`~fpkit.train.RunCache`); finished runs are
        read from it, new ones written. Checked before any training: it must take data and have
        room for the runs to train.
    progress : bool
        A tqdm bar over runs.
    workers : int
        Processes that train groups in parallel (1: in this process). Each uses one torch thread.
    max_group : int
        Most runs trained together in one batched computation.

    Returns
    -------
    list of TrainResult, in the order of ``configs``.
    """
    configs = list(configs)
    for i, c in enumerate(configs):
        if not isinstance(c, TrainConfig):
            raise TypeError(f"configs[{i}] must be a TrainConfig; got {type(c).__name__}")
    workers = v.check_int(workers, "workers", minimum=1)
    max_group = v.check_int(max_group, "max_group", minimum=1)
    cache = RunCache(cache_dir) if cache_dir is not None else None
    unique = list(dict.fromkeys(configs))
    done: dict[TrainConfig, TrainResult] = {}
    keys = {}
    if cache:
        code = RunCache.code_hash()  # once per call: an edit during the run does not mix keys
        for c in unique:
            keys[c] = RunCache.key(c, code)
            hit = cache.load(*keys[c])
            if hit is not None:
                done[c] = hit
    todo = [c for c in unique if c not in done]
    if cache and todo:
        cache.check_space(sum(RunCache.run_bytes(c) for c in todo))
    bar = tqdm(total=len(unique), initial=len(done), desc="training runs", disable=not progress)
    locks = {}

    def finish(results: list[TrainResult]) -> None:
        for r in results:
            done[r.config] = r
            if cache:  # a failed write (a full disk) warns: the run is kept, only its resumability is lost
                cache.store_or_warn(*keys[r.config], r)
                locks.pop(r.config).release()
        bar.update(len(results))

    try:
        if cache is None:
            _train_jobs(todo, max_group, workers, finish)
        else:
            _train_shared(cache, keys, todo, done, locks, lambda mine: _train_jobs(mine, max_group, workers, finish),
                          bar)
    finally:
        for lock in locks.values():
            lock.release()
        bar.close()
    return [done[c] for c in configs]


def _train_shared(cache: RunCache, keys, todo, done, locks, train_jobs: Callable, bar) -> None:
    """Train the runs ``todo`` under their locks, with the cache shared by other processes.

    A run is trained only by the process that holds its lock, after reading the cache once more;
    a run whose lock another process holds is left to it and read from the cache later (waiting
    for that process only when nothing else is left), or trained here if that process stored
    nothing.
    """
    pending = list(todo)
    while pending:
        mine, busy = [], []
        for c in pending:
            lock = cache.try_lock(keys[c][0])
            if lock is None:
                busy.append(c)
                continue
            hit = cache.load(*keys[c], warn=False)  # stored by another process meanwhile?
            if hit is not None:
                done[c] = hit
                lock.release()
                bar.update(1)
            else:
                locks[c] = lock
                mine.append(c)
        train_jobs(mine)
        if busy and not mine:
            with cache.wait_lock(keys[busy[0]][0]):
                pass  # the other process has finished (or died); the next pass reads or trains it
        pending = busy


def _train_jobs(configs: list[TrainConfig], max_group: int, workers: int, finish: Callable) -> None:
    """Train ``configs`` in groups of compatible runs (at most ``max_group``), ``workers`` processes at once."""
    groups: dict[TrainConfig, list[TrainConfig]] = {}
    for c in sorted(configs, key=lambda c: (json.dumps(c.batch_group().as_dict(), sort_keys=True), c.lr, c.seed)):
        groups.setdefault(c.batch_group(), []).append(c)
    jobs = [members[i:i + max_group] for members in groups.values() for i in range(0, len(members), max_group)]
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            finish(_train_job(job, progress=False))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # Workers fork from a forkserver that has imported fpkit.train and torch once (cheap to start
    # again, and never a fork of this process, which may hold torch's threads).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["fpkit.train", "torch", "sklearn.datasets"])
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
        futures = [pool.submit(_train_job, job, progress=False) for job in jobs]
        try:
            for fut in as_completed(futures):
                finish(fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _train_job(configs: Sequence[TrainConfig], progress: bool = False) -> list[TrainResult]:
    """Train one group of compatible configurations on the default data (a worker's task)."""
    data = []
    for c in configs:
        x_train, x_test, _, _ = digits(c.activation, seed=c.seed, width=c.width)
        data.append((x_train[: c.n_train], x_test))
    with one_torch_thread():
        return _train_group(list(configs), data, progress)


def _train_group(configs: list[TrainConfig], data: list[tuple[np.ndarray, np.ndarray]],
                 progress: bool) -> list[TrainResult]:
    """Initialise and train R compatible runs together; one TrainResult per run."""
    import torch

    base = configs[0].batch_group()
    if any(c.batch_group() != base for c in configs):
        raise ValueError("a training group must agree in everything but lr and seed")
    N, L = base.width, base.L
    shapes = [(N, N)] * L
    flat = []
    for c in configs:
        g_init = torch.Generator().manual_seed(c.seed)
        Ws = [torch.randn(N, N, generator=g_init, dtype=torch.float64) * c.init_scale / np.sqrt(N) for _ in range(L)]
        flat.append(pack_parameters(Ws, [torch.zeros(N, dtype=torch.float64)] * L))
    gens = [torch.Generator().manual_seed(c.seed + 1) for c in configs]
    start = time.perf_counter()
    fit = fit_stacks(torch.stack(flat), shapes, data, base.activation, steps=base.steps,
               optimizer=base.optimizer, lrs=[c.lr for c in configs], batch_size=base.batch_size, noise=base.noise,
               gens=gens, checkpoints=base.checkpoint_steps(), desc=f"training L={L}, {len(configs)} runs",
               progress=progress)
    seconds = (time.perf_counter() - start) / len(configs)
    out = []
    for r, c in enumerate(configs):
        hist = fit["history"][r]
        bad = fit["diverged_step"][r]
        if bad >= 0:
            status = "diverged"
        elif not hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]:
            status = "no_progress"
        else:
            status = "trained"
        layers = [unpack_parameters(ck[r], shapes) for ck in fit["checkpoints"]]
        weights = np.stack([np.stack(Ws) for Ws, _ in layers])
        biases = np.stack([np.stack(bs) for _, bs in layers])
        out.append(TrainResult(c, hist, np.array(fit["steps"]), weights, biases, status, int(bad),
                               {"seconds": seconds}))
    return out
