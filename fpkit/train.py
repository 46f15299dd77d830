"""Training same-dimension networks on the digits (PyTorch, CPU), exported to fpkit.

The networks are the ones of chapters 2-4, ``F = Phi_L o ... o Phi_1`` with
``Phi_l(x) = phi(W_l x + b_l)`` and ``W_l`` of size N x N, trained as (denoising)
autoencoders on scikit-learn's bundled 8 x 8 digits (no download): the loss is
``|F(x + noise) - x|^2``. N = 64 uses the pixels; a smaller width uses the digits' first N
principal components (:func:`digits`). Weights start Gaussian (``N(0, s^2 / N)``) and are
recorded at checkpoints; :func:`checkpoint_ensemble` turns the checkpoints into one
:class:`~fpkit.network.Ensemble` (one network per checkpoint), so the fixed-point engine
analyses the whole training run in one call, and :func:`layer_statistics` gives each layer's
tail indices (Hill, Clauset-Shalizi-Newman, the weight-matrix spectrum) per checkpoint.

Optimisers
    ``"sgd"`` (plain stochastic gradient descent), ``"momentum"`` (heavy ball, momentum 0.9,
    PyTorch's convention) and ``"adam"`` (betas 0.9, 0.999, eps 1e-8, PyTorch's convention).

Sweeps
    :func:`train_many` trains a list of configurations. Configurations that differ only in
    the step size and the seed train together, as one batched computation (the layers of R runs
    stacked into (R, N, N) arrays and multiplied with ``torch.bmm``), which removes most of
    PyTorch's per-step overhead at the small batch sizes where SGD's heavy tails appear. Every
    run keeps its own random streams, and a run's numbers do not depend on which runs it was
    trained with (the tests check this bit for bit), so a run's result is the same alone, in a
    group, or in a resumed sweep. ``workers`` > 1 trains groups in parallel processes, each on one
    torch thread (started from a ``forkserver``: a script that uses them needs the usual
    ``if __name__ == "__main__":`` guard).

Divergence
    A run whose loss or parameters become non-finite is stopped there (its status is
    ``"diverged"`` and ``diverged_step`` the first bad step; its later checkpoints are NaN); a
    run whose training loss ends above its initial value has status ``"no_progress"`` (for
    bounded activations large step sizes saturate the units instead of overflowing); the others
    are ``"trained"``.

Disk cache and resume
    With ``cache_dir``, every finished run is written to its own file ``train-<key>.npz``,
    atomically (temporary file, then :func:`os.replace`), as NumPy arrays plus JSON metadata,
    never a pickle. The key covers the configuration, the fpkit version and the source of the
    code that trains (:data:`TRAINING_MODULES`); the file stores the key's description and a
    SHA-256 checksum of its content. A file that is truncated, bit-flipped, unreadable or
    written for another key is reported with a warning and retrained; it is never read as data.
    An interrupted sweep loses only the groups in flight.

A run is deterministic given its seed on the CPU: one torch generator for the
initialisation, one for the mini-batches and the noise (drawn in blocks of
:data:`DRAW_BLOCK` steps).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import _validate as v
from .backend import make_rng
from .activations import get_activation
from .network import Ensemble
from .sampling import esd_power_law, fit_power_law, hill_estimator

__all__ = ["Bottleneck", "DRAW_BLOCK", "EVAL_TRAIN", "OPTIMIZERS", "RunCache", "STATUSES", "TRAINING_MODULES",
           "TrainConfig", "TrainResult", "checkpoint_ensemble", "digit_pixel_range", "digits", "layer_statistics", "run_table", "train",
           "train_bottleneck", "train_many", "training_hash"]

N_PIXELS = 64
#: Optimisers known to :class:`TrainConfig`.
OPTIMIZERS = ("sgd", "momentum", "adam")
MOMENTUM = 0.9
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: Mini-batch indices and input noise are drawn for this many steps at a time (part of a run's definition).
DRAW_BLOCK = 256
#: The logged training loss is the mean over the first this many images of the training split.
EVAL_TRAIN = 500
#: The modules whose source determines a training run's numbers (part of every cache key).
TRAINING_MODULES = ("train", "network")
#: Status of a training run.
STATUSES = ("trained", "no_progress", "diverged")


def digit_pixel_range(activation: str = "tanh") -> tuple[float, float]:
    """The values of a blank and of a full pixel in :func:`digits`: ``(low, high)``.

    The activation's range shrunk by 10 % of its width at each end, so a saturating activation
    can reach every target; (-0.8, 0.8) for tanh, (0.1, 0.9) for the logistic sigmoid. Damage
    (:func:`fpkit.restore.corrupt`) and image plots use the same range.
    """
    act = get_activation(activation, sigmoid_type=True)
    margin = 0.1 * (act.high - act.low)
    return act.low + margin, act.high - margin


def digits(activation: str = "tanh", *, test_fraction: float = 0.25, seed: Any = 0, width: int = N_PIXELS):
    """scikit-learn's bundled digits, scaled into the activation's range, split train/test.

    With ``width`` = 64 (default) the features are the pixels: 0..16 map linearly to
    the :func:`digit_pixel_range` of the activation (so the targets are reachable by a
    saturating activation). With ``width`` < 64 they are the first ``width`` principal
    components (fitted on the training split), each divided by its largest absolute value on the
    training split and mapped into the same interval (test values clipped to it). Returns
    ``x_train, x_test, y_train, y_test`` as float64 / int arrays; the split is a seeded
    permutation.
    """
    get_activation(activation, sigmoid_type=True)
    test_fraction = v.check_real(test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    width = v.check_int(width, "width", minimum=1)
    if width > N_PIXELS:
        raise ValueError(f"width must be between 1 and {N_PIXELS} (the digits have 64 pixels); got {width}")
    data = _load_digits()
    lo, hi = digit_pixel_range(activation)
    rng = make_rng(seed, "numpy")
    perm = rng.permutation(len(data.data))
    n_test = int(round(test_fraction * len(data.data)))
    test, tr = perm[:n_test], perm[n_test:]
    if width == N_PIXELS:
        x = lo + (hi - lo) * data.data / 16.0
        return x[tr], x[test], data.target[tr], data.target[test]
    mean = data.data[tr].mean(axis=0)
    _, _, vt = np.linalg.svd(data.data[tr] - mean, full_matrices=False)
    scores = (data.data - mean) @ vt[:width].T
    unit = scores / np.abs(scores[tr]).max(axis=0)  # in [-1, 1] on the training split
    x = np.clip((lo + hi) / 2 + (hi - lo) / 2 * unit, lo, hi)
    return x[tr], x[test], data.target[tr], data.target[test]


@functools.lru_cache(maxsize=1)
def _load_digits():
    """The bundled digits, read once per process (a sweep asks for them once per run)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    data.data.setflags(write=False)
    data.target.setflags(write=False)
    return data


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (hashable; the cache key).

    Parameters
    ----------
    L : int
        Depth.
    activation : str
        ``"tanh"`` or ``"logistic"`` (any sigmoid-type activation of fpkit).
    init_scale : float
        Initial weights ``N(0, init_scale^2 / width)``; biases start at 0.
    noise : float
        Standard deviation of the Gaussian input noise (0: plain autoencoder).
    optimizer : str
        One of :data:`OPTIMIZERS`: ``"sgd"``, ``"momentum"`` (SGD with momentum 0.9), ``"adam"``.
    lr : float
        Step size (learning rate).
    steps : int
        Optimisation steps (mini-batches).
    batch_size : int
    checkpoints : int
        Number of checkpoints, spaced geometrically from step 0 to ``steps``.
    seed : int
        Seeds the initialisation, the mini-batches, the noise and the train/test split.
    n_train : int or None
        Train on the first ``n_train`` images of the (seeded) training split only; small sets
        are memorised (chapter 8). None: all of them.
    width : int
        N, the width of every layer and the dimension of the data (:func:`digits`), 1..64.
    """

    L: int = 4
    activation: str = "tanh"
    init_scale: float = 1.0
    noise: float = 0.1
    optimizer: str = "adam"
    lr: float = 1e-3
    steps: int = 2000
    batch_size: int = 64
    checkpoints: int = 8
    seed: int = 0
    n_train: int | None = None
    width: int = N_PIXELS

    def __post_init__(self) -> None:
        v.check_int(self.L, "L", minimum=1)
        get_activation(self.activation, sigmoid_type=True)
        v.check_real(self.init_scale, "init_scale", low=0.0, low_open=True)
        v.check_real(self.noise, "noise", low=0.0)
        v.check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        v.check_real(self.lr, "lr", low=0.0, low_open=True)
        v.check_int(self.steps, "steps", minimum=1)
        v.check_int(self.batch_size, "batch_size", minimum=1)
        v.check_int(self.checkpoints, "checkpoints", minimum=2)
        v.check_int(self.seed, "seed", minimum=0)
        if self.n_train is not None:
            v.check_int(self.n_train, "n_train", minimum=1)
        v.check_int(self.width, "width", minimum=1)
        if self.width > N_PIXELS:
            raise ValueError(f"width must be between 1 and {N_PIXELS}; got {self.width}")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def checkpoint_steps(self) -> list[int]:
        """Steps at which weights are recorded: 0, then geometric up to ``steps``."""
        n = self.checkpoints - 1
        geo = [self.steps] if n == 1 else np.unique(np.round(np.geomspace(1, self.steps, n)).astype(int)).tolist()
        return [0, *geo]

    def _group(self) -> TrainConfig:
        """Runs whose configurations agree up to ``lr`` and ``seed`` train together."""
        return dataclasses.replace(self, lr=1.0, seed=0)


@dataclass
class TrainResult:
    """Loss history and checkpoints of one run.

    ``history``: one row per logged step (``step``, ``train_loss`` on the first
    :data:`EVAL_TRAIN` training images, ``test_loss`` on the test split; NaN after a
    divergence); ``steps``: the checkpoint steps (C,); ``weights`` (C, L, N, N) and ``biases``
    (C, L, N), NaN at checkpoints after a divergence; ``status``: one of ``"trained"``,
    ``"no_progress"``, ``"diverged"`` (see the module doc); ``diverged_step``: first step with a
    non-finite loss or parameter, -1 if none; ``extra["seconds"]``: training time (see
    :func:`run_table`).
    """

    config: TrainConfig
    history: pd.DataFrame
    steps: np.ndarray
    weights: np.ndarray
    biases: np.ndarray
    status: str = "trained"
    diverged_step: int = -1
    extra: dict = field(default_factory=dict)

    @property
    def finite_checkpoints(self) -> np.ndarray:
        """A boolean mask (C,) of the checkpoints recorded before any divergence, that is with finite
        parameters whose layer sums stay within float64 (``fpkit.network.MAX_PREACTIVATION``): the
        ones :func:`checkpoint_ensemble` can export."""
        from .network import MAX_PREACTIVATION

        with np.errstate(over="ignore", invalid="ignore"):
            rows = np.abs(self.weights).sum(axis=-1).max(axis=(1, 2))  # (C, L, N) -> (C,)
            bias = np.abs(self.biases).max(axis=(1, 2))
        return (np.isfinite(self.weights).all(axis=(1, 2, 3)) & np.isfinite(self.biases).all(axis=(1, 2))
                & (rows <= MAX_PREACTIVATION) & (bias <= MAX_PREACTIVATION))


def _torch_act(name):
    return get_activation(name, sigmoid_type=True).torch


def _torch_act_derivative(name):
    """phi'(z) of :func:`_torch_act` from the pre-activation z and the value h = phi(z)."""
    return get_activation(name, sigmoid_type=True).torch_derivative


def _loss_gradient(Ws, bs, x, target, act, dact, gWs, gbs):
    """Backpropagation through the batched layer stack, by hand (half the cost of autograd here).

    ``Ws`` (R, out, in), ``bs`` (R, out) per layer; ``x``, ``target`` (R, B, d). Writes the
    gradient of each run's loss ``mean over (B, d_out) of (F(x) - target)^2`` into ``gWs``,
    ``gbs`` (views of one (R, P) buffer) and returns ``F(x) - target``.
    """
    import torch

    zs, hs = [], [x]
    for W, b in zip(Ws, bs):
        zs.append(torch.baddbmm(b.unsqueeze(1), hs[-1], W.transpose(1, 2)))
        hs.append(act(zs[-1]))
    err = hs[-1] - target
    delta = err * (2.0 / (err.shape[1] * err.shape[2]))
    for layer in range(len(Ws) - 1, -1, -1):
        delta = delta * dact(zs[layer], hs[layer + 1])
        gWs[layer].copy_(torch.bmm(delta.transpose(1, 2), hs[layer]))
        gbs[layer].copy_(delta.sum(dim=1))
        if layer:
            delta = torch.bmm(delta, Ws[layer])
    return err


def _forward(Ws, bs, x, act):
    """Layer stack on x; unbatched ``W`` (out, in), ``b`` (out,), x (M, in), or batched over runs:
    ``W`` (R, out, in), ``b`` (R, out), x (R, M, in)."""
    import torch

    for W, b in zip(Ws, bs):
        x = act(x @ W.T + b) if W.ndim == 2 else act(torch.baddbmm(b.unsqueeze(1), x, W.transpose(1, 2)))
    return x


# --------------------------------------------------------------------------- cache


def training_hash() -> str:
    """SHA-256 (16 hex digits) of the source of :data:`TRAINING_MODULES`."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for name in TRAINING_MODULES:
        digest.update(name.encode())
        digest.update((root / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


class RunCache:
    """One ``.npz`` file per finished training run in ``directory`` (see the module doc).

    The file holds the run's arrays, ``meta`` (UTF-8 JSON as uint8: format, key, the key's
    description, status) and ``checksum``: the SHA-256 of ``meta`` and of every array's name,
    dtype, shape and bytes. :meth:`load` returns None, with a warning, for any file that does
    not read back exactly as written for this key.
    """

    FORMAT = "fpkit-train-run/1"
    _ARRAYS = ("steps", "weights", "biases", "h_step", "h_train_loss", "h_test_loss")

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(config: TrainConfig, code: str | None = None) -> tuple[str, str]:
        """(hex key, JSON description) of a configuration under the current training code."""
        from . import __version__

        desc = json.dumps({"config": config.as_dict(), "fpkit": __version__, "code": code or training_hash()},
                          sort_keys=True)
        return hashlib.sha256(desc.encode()).hexdigest()[:32], desc

    def path(self, key: str) -> Path:
        return self.directory / f"train-{key}.npz"

    @staticmethod
    def _checksum(meta: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
        digest = hashlib.sha256(meta.tobytes())
        for name in RunCache._ARRAYS:
            a = np.ascontiguousarray(arrays[name])
            digest.update(f"{name}|{a.dtype.str}|{a.shape}".encode())
            digest.update(a.tobytes())
        return np.frombuffer(digest.digest(), dtype=np.uint8)

    def load(self, key: str, desc: str, config: TrainConfig) -> TrainResult | None:
        """The cached run, or None if absent; a damaged or foreign file warns and counts as absent."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {name: z[name] for name in self._ARRAYS}
                meta_arr, checksum = z["meta"], z["checksum"]
            if not np.array_equal(checksum, self._checksum(meta_arr, arrays)):
                raise ValueError("checksum mismatch")
            meta = json.loads(meta_arr.tobytes().decode())
            if meta.get("format") != self.FORMAT or meta.get("key") != key or meta.get("description") != desc:
                raise ValueError("the file was written for another key")
            if meta.get("status") not in STATUSES:
                raise ValueError(f"unknown status {meta.get('status')!r}")
        except Exception as exc:  # noqa: BLE001 - any unreadable file is recomputed, never trusted
            warnings.warn(f"training cache file {path} is damaged ({type(exc).__name__}: {exc}); retraining",
                          UserWarning, stacklevel=3)
            return None
        hist = pd.DataFrame({"step": arrays["h_step"], "train_loss": arrays["h_train_loss"],
                             "test_loss": arrays["h_test_loss"]})
        return TrainResult(config, hist, arrays["steps"], arrays["weights"], arrays["biases"], meta["status"],
                           int(meta["diverged_step"]), {"seconds": meta.get("seconds")})

    def store(self, key: str, desc: str, result: TrainResult) -> Path:
        """Write atomically: a temporary file in the same directory, then os.replace."""
        h = result.history
        arrays = {"steps": np.asarray(result.steps, dtype=np.int64), "weights": result.weights,
                  "biases": result.biases, "h_step": h["step"].to_numpy(np.int64),
                  "h_train_loss": h["train_loss"].to_numpy(np.float64),
                  "h_test_loss": h["test_loss"].to_numpy(np.float64)}
        meta = json.dumps({"format": self.FORMAT, "key": key, "description": desc, "status": result.status,
                           "diverged_step": int(result.diverged_step),
                           "seconds": float(result.extra.get("seconds", float("nan")))}, sort_keys=True)
        meta_arr = np.frombuffer(meta.encode(), dtype=np.uint8)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, meta=meta_arr, checksum=self._checksum(meta_arr, arrays), **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path(key)


# --------------------------------------------------------------------------- training


def train(config: TrainConfig, *, cache_dir: str | os.PathLike | None = None, progress: bool = True,
          data=None) -> TrainResult:
    """Train one network; returns its loss history and checkpoints (see the module doc).

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
        with _one_torch_thread():
            return _train_group([config], [(x_train, x_test)], progress)[0]
    return train_many([config], cache_dir=cache_dir, progress=progress)[0]


def train_many(configs: Iterable[TrainConfig], *, cache_dir: str | os.PathLike | None = None,
               progress: bool = True, workers: int = 1, max_group: int = 16) -> list[TrainResult]:
    """Train every configuration (cached, resumable, batched; see the module doc).

    Parameters
    ----------
    configs : iterable of TrainConfig
    cache_dir : path, optional
        Directory of the per-run disk cache; finished runs are read from it, new ones written.
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
    code = training_hash() if cache else None
    unique = list(dict.fromkeys(configs))
    done: dict[TrainConfig, TrainResult] = {}
    keys = {}
    for c in unique:
        if cache:
            keys[c] = RunCache.key(c, code)
            hit = cache.load(*keys[c], c)
            if hit is not None:
                done[c] = hit
    todo = [c for c in unique if c not in done]
    groups: dict[TrainConfig, list[TrainConfig]] = {}
    for c in sorted(todo, key=lambda c: (json.dumps(c._group().as_dict(), sort_keys=True), c.lr, c.seed)):
        groups.setdefault(c._group(), []).append(c)
    jobs = [members[i:i + max_group] for members in groups.values() for i in range(0, len(members), max_group)]

    bar = tqdm(total=len(unique), initial=len(done), desc="training runs", disable=not progress)

    def finish(results):
        for r in results:
            done[r.config] = r
            if cache:
                cache.store(*keys[r.config], r)
        bar.update(len(results))

    try:
        if workers == 1 or len(jobs) <= 1:
            for job in jobs:
                finish(_train_job(job, progress=False))
        else:
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
    finally:
        bar.close()
    return [done[c] for c in configs]


def _train_job(configs: Sequence[TrainConfig], progress: bool = False) -> list[TrainResult]:
    """Train one group of compatible configurations on the default data (a worker's task)."""
    data = []
    for c in configs:
        x_train, x_test, _, _ = digits(c.activation, seed=c.seed, width=c.width)
        data.append((x_train[: c.n_train], x_test))
    with _one_torch_thread():
        return _train_group(list(configs), data, progress)


@contextmanager
def _one_torch_thread():
    """Run torch on one thread (64-wide layers: more threads only spin, 30x slower on a busy 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train_group(configs: list[TrainConfig], data: list[tuple[np.ndarray, np.ndarray]],
                 progress: bool) -> list[TrainResult]:
    """Initialise and train R compatible runs together; one TrainResult per run."""
    import torch

    base = configs[0]._group()
    if any(c._group() != base for c in configs):
        raise ValueError("a training group must agree in everything but lr and seed")
    N, L = base.width, base.L
    shapes = [(N, N)] * L
    flat = []
    for c in configs:
        g_init = torch.Generator().manual_seed(c.seed)
        Ws = [torch.randn(N, N, generator=g_init, dtype=torch.float64) * c.init_scale / np.sqrt(N) for _ in range(L)]
        flat.append(_pack(Ws, [torch.zeros(N, dtype=torch.float64)] * L))
    gens = [torch.Generator().manual_seed(c.seed + 1) for c in configs]
    start = time.perf_counter()
    fit = _fit(torch.stack(flat), shapes, data, base.activation, steps=base.steps,
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
        layers = [_unpack(ck[r], shapes) for ck in fit["checkpoints"]]
        weights = np.stack([np.stack(Ws) for Ws, _ in layers])
        biases = np.stack([np.stack(bs) for _, bs in layers])
        out.append(TrainResult(c, hist, np.array(fit["steps"]), weights, biases, status, int(bad),
                               {"seconds": seconds}))
    return out


def _pack(Ws, bs):
    """One run's parameters as one flat vector: W_1, b_1, W_2, b_2, ..."""
    import torch

    return torch.cat([t.reshape(-1) for W, b in zip(Ws, bs) for t in (W, b)])


def _unpack(flat, shapes):
    """Per-layer (W, b) views of flat parameters, shape (..., P) -> lists of (..., out, in), (..., out)."""
    Ws, bs, off = [], [], 0
    lead = flat.shape[:-1]
    for out_dim, in_dim in shapes:
        Ws.append(flat[..., off:off + out_dim * in_dim].reshape(*lead, out_dim, in_dim))
        off += out_dim * in_dim
        bs.append(flat[..., off:off + out_dim])
        off += out_dim
    return Ws, bs


def _fit(flat, shapes, data, act_name, *, steps, optimizer, lrs, batch_size, noise, gens, checkpoints=(),
         desc="training", progress=False) -> dict:
    """Minimise the (denoising) reconstruction loss of R layer stacks at once.

    ``flat`` (R, P): each run's parameters packed by :func:`_pack` for layers of ``shapes``
    ``[(out, in), ...]``; ``data``: per run ``(x_train, x_test)`` (the same
    sizes for every run); ``lrs``: per run step size; ``gens``: per run torch generator for
    mini-batches and noise. All runs are updated together (one optimiser step on the (R, P)
    array), which keeps PyTorch's per-operation overhead independent of depth and of R.

    Returns a dict with ``history`` (per run a DataFrame ``step, train_loss, test_loss``, at step
    0, the checkpoints and about 24 geometrically spaced steps), ``checkpoints`` (per checkpoint a
    (R, P) NumPy copy of the parameters, NaN for runs diverged by then), ``steps`` and
    ``diverged_step`` (per run, -1 if finite throughout).
    """
    import torch

    act = _torch_act(act_name)
    R = len(lrs)
    flat = flat.detach().clone()
    grad = torch.empty_like(flat)
    # The layers are views of ``flat`` (which the optimiser updates), their gradients views of ``grad``.
    Ws, bs = _unpack(flat, shapes)
    gWs, gbs = _unpack(grad, shapes)
    dact = _torch_act_derivative(act_name)
    xt = torch.as_tensor(np.stack([d[0] for d in data]))
    xv = torch.as_tensor(np.stack([d[1] for d in data]))
    xe = xt[:, :EVAL_TRAIN]  # the training loss is logged on these images
    n = xt.shape[1]
    bsz = min(batch_size, n)
    lr = torch.tensor(lrs, dtype=torch.float64).unsqueeze(1)  # (R, 1); 0 for a diverged run
    state = torch.zeros_like(flat) if optimizer != "sgd" else None
    state2 = torch.zeros_like(flat) if optimizer == "adam" else None
    scratch = torch.empty_like(flat) if optimizer == "adam" else None
    rows = torch.arange(R).unsqueeze(1)
    first_bad = torch.full((R,), -1, dtype=torch.int64)
    ckpt_set = set(checkpoints)
    # Losses on the whole train / test sets (the data through R networks: costly) at the
    # checkpoints and at about 24 geometrically spaced steps.
    log_set = ckpt_set | set(np.unique(np.round(np.geomspace(1, steps, 24)).astype(int)).tolist())
    history: list[tuple] = []
    saved: list[np.ndarray] = []

    def forward(x):
        return _forward(Ws, bs, x, act)

    def losses(step):
        tr = ((forward(xe) - xe) ** 2).mean(dim=(1, 2))
        te = ((forward(xv) - xv) ** 2).mean(dim=(1, 2))
        history.append((step, tr.numpy().copy(), te.numpy().copy()))

    losses(0)
    if 0 in ckpt_set:
        saved.append(flat.numpy().copy())
    bar = tqdm(total=steps, desc=desc, disable=not progress)
    step = 0
    while step < steps:
        block = min(DRAW_BLOCK, steps - step)
        idx = torch.stack([torch.randint(0, n, (block, bsz), generator=g) for g in gens])  # (R, block, bsz)
        eps = (torch.stack([torch.randn((block, bsz, xt.shape[2]), generator=g, dtype=torch.float64)
                            for g in gens]) if noise > 0 else None)
        for j in range(block):
            step += 1
            clean = xt[rows, idx[:, j]]  # (R, bsz, d)
            inp = clean + noise * eps[:, j] if eps is not None else clean
            err = _loss_gradient(Ws, bs, inp, clean, act, dact, gWs, gbs)
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(err.sum(dim=(1, 2))), step, first_bad)
            _update(flat, grad, state, state2, optimizer, lr, step, scratch)
            if step in ckpt_set:
                saved.append(flat.numpy().copy())
            if step in log_set:
                losses(step)
        # Divergence: a non-finite output, or parameters made non-finite by the last update.
        finite = torch.isfinite(flat).all(dim=1)
        first_bad = torch.where((first_bad < 0) & ~finite, step, first_bad)
        dead = first_bad >= 0
        if bool(dead.any()):  # freeze diverged runs at zero so that no NaN is carried along
            lr[dead] = 0.0
            for t in (flat, state, state2):
                if t is not None:
                    t[dead] = 0.0
        bar.update(block)
    bar.close()

    bad = first_bad.numpy()
    ck_steps = [s for s in checkpoints if s <= steps]
    out_hist = []
    for r in range(R):
        frame = pd.DataFrame({"step": [h[0] for h in history], "train_loss": [h[1][r] for h in history],
                              "test_loss": [h[2][r] for h in history]})
        if bad[r] >= 0:
            frame.loc[frame["step"] >= bad[r], ["train_loss", "test_loss"]] = np.nan
        out_hist.append(frame.drop_duplicates("step", keep="first").reset_index(drop=True))
    for snap, s in zip(saved, ck_steps):
        snap[((bad >= 0) & (bad <= s)) | ~np.isfinite(snap).all(axis=1)] = np.nan
    return {"history": out_hist, "checkpoints": saved, "steps": ck_steps, "diverged_step": bad, "flat": flat}


def _update(p, g, state, state2, optimizer, lr, t, tmp=None) -> None:
    """One optimiser step in place on the (R, P) parameters (PyTorch's SGD / SGD-momentum / Adam
    rules), with per-run step sizes ``lr`` (R, 1); ``tmp``: scratch of p's shape (Adam)."""
    import torch

    if optimizer == "sgd":
        p.sub_(lr * g)
    elif optimizer == "momentum":
        state.mul_(MOMENTUM).add_(g)
        p.sub_(lr * state)
    else:
        # lr / c1 * m / (sqrt(v) / sqrt(c2) + eps), in place without temporaries
        b1, b2 = ADAM_BETAS
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        tmp = torch.empty_like(p) if tmp is None else tmp
        state.mul_(b1).add_(g, alpha=1.0 - b1)
        state2.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        torch.sqrt(state2, out=tmp).add_(ADAM_EPS * np.sqrt(c2))
        torch.div(state, tmp, out=tmp).mul_(lr * (np.sqrt(c2) / c1))
        p.sub_(tmp)


# --------------------------------------------------------------------------- export and statistics


def checkpoint_ensemble(result: TrainResult, *, backend: str | None = None) -> Ensemble:
    """One network per checkpoint, as an :class:`~fpkit.network.Ensemble` (E = checkpoints).

    Only checkpoints recorded before a divergence are included (all of them for a run that did
    not diverge); ``result.steps[result.finite_checkpoints]`` are their steps.
    """
    keep = result.finite_checkpoints
    if not keep.any():
        raise ValueError("the run diverged before its first checkpoint; there is no network to export")
    W, b = result.weights[keep], result.biases[keep]
    if backend not in (None, "numpy"):
        from .backend import get_namespace

        xp = get_namespace(backend)
        W, b = xp.asarray(W), xp.asarray(b)
    return Ensemble(W, b, result.config.activation)


def layer_statistics(result: TrainResult, *, tail_fraction: float = 0.1, power_law: str = "last",
                     confidence: float = 0.95) -> pd.DataFrame:
    """Per checkpoint and layer: tail indices of the weights and of their spectrum, norms.

    Columns: ``step``, ``layer`` (1..L), ``hill_alpha`` with ``hill_low``, ``hill_high`` (Hill
    estimate of the tail index of ``|W_ij|`` on the top ``tail_fraction`` of the entries, with
    its asymptotic normal interval ``alpha (1 +- z / sqrt(k))``), ``tail_index`` (= ``hill_alpha``),
    ``hill_offdiag`` (the same on the off-diagonal entries only),
    ``csn_alpha``, ``csn_low``, ``csn_high``, ``csn_xmin``, ``csn_ks``, ``csn_n_tail`` (the
    Clauset-Shalizi-Newman fit of :func:`~fpkit.sampling.fit_power_law`; at the checkpoints chosen
    by ``power_law``: ``"last"`` (default), ``"all"`` or ``"none"``, NaN elsewhere), ``esd_alpha``
    (WeightWatcher's alpha of the eigenvalues of ``W^T W``, :func:`~fpkit.sampling.esd_power_law`),
    ``spectral_norm``, ``frobenius_norm``, ``median_abs`` (median ``|W_ij|``), ``max_over_std`` (the
    largest ``|entry|`` over the entries' standard deviation) and ``diagonal_ratio`` (mean
    ``|diagonal entry|`` over mean ``|off-diagonal entry|``: a layer that learns a near-identity map
    has a few large entries on its diagonal, which a tail index alone would read as a heavy tail).
    Checkpoints after a divergence are left out.
    """
    from scipy import stats

    tail_fraction = v.check_real(tail_fraction, "tail_fraction", low=0.0, high=0.5, low_open=True)
    v.check_choice(power_law, "power_law", ("last", "all", "none"))
    confidence = v.check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    rows = []
    finite = np.flatnonzero(result.finite_checkpoints)
    for c in finite:
        step = result.steps[c]
        fit_csn = power_law == "all" or (power_law == "last" and c == finite[-1])
        for layer in range(result.weights.shape[1]):
            W = result.weights[c, layer]
            k = max(2, int(tail_fraction * W.size))
            hill = hill_estimator(W.ravel(), k=k)
            off = np.abs(W[~np.eye(W.shape[0], dtype=bool)])
            row = {"step": int(step), "layer": layer + 1, "hill_alpha": hill.alpha,
                   "hill_low": hill.alpha - z * hill.stderr, "hill_high": hill.alpha + z * hill.stderr,
                   "tail_index": hill.alpha,
                   "hill_offdiag": hill_estimator(off, k=max(2, int(tail_fraction * off.size))).alpha}
            if fit_csn:
                pl = fit_power_law(W.ravel())
                row.update(csn_alpha=pl.alpha, csn_low=pl.alpha - z * pl.stderr, csn_high=pl.alpha + z * pl.stderr,
                           csn_xmin=pl.xmin, csn_ks=pl.ks_distance, csn_n_tail=pl.n_tail)
            else:
                row.update(csn_alpha=np.nan, csn_low=np.nan, csn_high=np.nan, csn_xmin=np.nan, csn_ks=np.nan,
                           csn_n_tail=np.nan)
            try:
                esd = esd_power_law(W, min_tail=min(10, max(3, min(W.shape) // 2))).alpha
            except ValueError:  # numerically rank-deficient: too few non-zero eigenvalues to fit
                esd = np.nan
            scale = float(np.abs(W).max())  # norms of W / scale: no overflow for huge weights
            row.update(esd_alpha=esd, spectral_norm=scale * float(np.linalg.norm(W / scale, 2)),
                       frobenius_norm=scale * float(np.linalg.norm(W / scale)), median_abs=float(np.median(np.abs(W))),
                       max_over_std=float(1.0 / (W / scale).std()),
                       diagonal_ratio=float(np.abs(np.diag(W)).mean() / off.mean()))
            rows.append(row)
    return pd.DataFrame(rows)


def run_table(results: Iterable[TrainResult]) -> pd.DataFrame:
    """One row per run: the configuration's fields, ``lr_per_batch`` (lr / batch size),
    ``status``, ``diverged_step``, ``seconds`` (training time: its group's wall time over the
    group's size, when it was trained), and the first and last finite train / test losses."""
    rows = []
    for r in results:
        h = r.history.dropna()
        rows.append({**r.config.as_dict(), "lr_per_batch": r.config.lr / r.config.batch_size, "status": r.status,
                     "diverged_step": r.diverged_step, "seconds": r.extra.get("seconds"),
                     "initial_train_loss": float(r.history["train_loss"].iloc[0]),
                     "final_train_loss": float(h["train_loss"].iloc[-1]) if len(h) else np.nan,
                     "final_test_loss": float(h["test_loss"].iloc[-1]) if len(h) else np.nan})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Bottleneck autoencoder 64 -> k -> 64 (encoding / decoding)
# ---------------------------------------------------------------------------


@dataclass
class Bottleneck:
    """A trained bottleneck autoencoder ``x -> z = phi(W_e x + b_e) -> phi(W_d z + b_d)``.

    ``W_e`` (k, 64), ``b_e`` (k,), ``W_d`` (64, k), ``b_d`` (64,); ``history`` has one row per
    logged step (``step``, ``train_loss``, ``test_loss``). Encoding and decoding run in NumPy.
    """

    k: int
    activation: str
    W_e: np.ndarray
    b_e: np.ndarray
    W_d: np.ndarray
    b_d: np.ndarray
    history: pd.DataFrame

    def encode(self, x) -> np.ndarray:
        """Codes z, shape (M, k), of images x, shape (M, 64)."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.W_e.shape[1]:
            raise ValueError(f"x must have shape (M, {self.W_e.shape[1]}); got {x.shape}")
        return get_activation(self.activation, sigmoid_type=True)(x @ self.W_e.T + self.b_e, np)

    def decode(self, z) -> np.ndarray:
        """Images, shape (M, 64), of codes z, shape (M, k)."""
        z = np.asarray(z, dtype=float)
        if z.ndim != 2 or z.shape[1] != self.k:
            raise ValueError(f"z must have shape (M, {self.k}); got {z.shape}")
        return get_activation(self.activation, sigmoid_type=True)(z @ self.W_d.T + self.b_d, np)

    def reconstruct(self, x) -> np.ndarray:
        return self.decode(self.encode(x))


def train_bottleneck(k: int, *, activation: str = "tanh", steps: int = 3000, lr: float = 3e-3,
                     batch_size: int = 64, noise: float = 0.0, seed: int = 0, data=None,
                     progress: bool = True) -> Bottleneck:
    """Train a 64 -> k -> 64 autoencoder on the digits (Adam, CPU, deterministic given ``seed``).

    Parameters
    ----------
    k : int
        Code size, 1 <= k <= 64.
    data : (x_train, x_test), optional
        Default :func:`digits` for ``activation``, split seeded by ``seed``.
    noise : float
        Standard deviation of Gaussian input noise (0: plain autoencoder).
    """
    import torch

    get_activation(activation, sigmoid_type=True)
    k = v.check_int(k, "k", minimum=1)
    if k > N_PIXELS:
        raise ValueError(f"k must be between 1 and {N_PIXELS} (a bottleneck); got {k}")
    steps = v.check_int(steps, "steps", minimum=1)
    lr = v.check_real(lr, "lr", low=0.0, low_open=True)
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    noise = v.check_real(noise, "noise", low=0.0)
    seed = v.check_int(seed, "seed", minimum=0)
    if data is None:
        x_train, x_test, _, _ = digits(activation, seed=seed)
    else:
        x_train, x_test = (np.asarray(a, dtype=float) for a in data)
    n = x_train.shape[1]
    g_init = torch.Generator().manual_seed(seed)
    g_data = torch.Generator().manual_seed(seed + 1)
    W_e = torch.randn(k, n, generator=g_init, dtype=torch.float64) / np.sqrt(n)
    W_d = torch.randn(n, k, generator=g_init, dtype=torch.float64) / np.sqrt(k)
    shapes = [(k, n), (n, k)]
    flat = _pack([W_e, W_d], [torch.zeros(k, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)])
    with _one_torch_thread():
        fit = _fit(flat.unsqueeze(0), shapes, [(x_train, x_test)], activation, steps=steps,
                   optimizer="adam", lrs=[lr], batch_size=batch_size, noise=noise, gens=[g_data],
                   desc=f"bottleneck k={k}", progress=progress)
    (W_e, W_d), (b_e, b_d) = _unpack(fit["flat"][0].numpy().copy(), shapes)
    return Bottleneck(k, activation, W_e, b_e, W_d, b_d, fit["history"][0])
