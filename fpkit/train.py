"""Training same-dimension networks on the digits (PyTorch, CPU), exported to fpkit.

The networks are the ones of chapters 2-4, ``F = Phi_L o ... o Phi_1`` with
``Phi_l(x) = phi(W_l x + b_l)`` and ``W_l`` of size 64 x 64, trained as (denoising)
autoencoders on scikit-learn's bundled 8 x 8 digits (no download): the loss is
``|F(x + noise) - x|^2``. Weights start Gaussian (``N(0, s^2 / N)``) and are recorded at
checkpoints; :func:`checkpoint_ensemble` turns the checkpoints into one
:class:`~fpkit.network.Ensemble` (one network per checkpoint), so the fixed-point engine
analyses the whole training run in one call, and :func:`layer_statistics` gives each layer's
tail index and spectral norm per checkpoint.

A run is deterministic given its seed on the CPU (one torch generator for the
initialisation, one for the batches and the noise). With ``cache_dir`` the checkpoints are
stored on disk (atomically, keyed by the configuration and the code), so a chapter re-run does
not retrain when nothing changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import _validate as v
from .network import Ensemble, get_activation
from .sampling import hill_estimator

__all__ = ["Bottleneck", "TrainConfig", "TrainResult", "checkpoint_ensemble", "digit_pixel_range", "digits",
           "layer_statistics", "train", "train_bottleneck"]

N_PIXELS = 64


def digit_pixel_range(activation: str = "tanh") -> tuple[float, float]:
    """The values of a blank and of a full pixel in :func:`digits`: ``(low, high)``.

    The activation's range shrunk by 10 % of its width at each end, so a saturating activation
    can reach every target; (-0.8, 0.8) for tanh, (0.1, 0.9) for the logistic sigmoid. Damage
    (:func:`fpkit.restore.corrupt`) and image plots use the same range.
    """
    act = get_activation(activation)
    margin = 0.1 * (act.high - act.low)
    return act.low + margin, act.high - margin


def digits(activation: str = "tanh", *, test_fraction: float = 0.25, seed: Any = 0):
    """scikit-learn's bundled digits, scaled into the activation's range, split train/test.

    Pixels 0..16 map linearly to :func:`digit_pixel_range` (the activation's range less 10 % at
    each end, so the targets are reachable by a saturating activation). Returns ``x_train,
    x_test, y_train, y_test`` as float64 / int arrays, images of shape (n, 64); the split is a
    seeded permutation.
    """
    from sklearn.datasets import load_digits

    test_fraction = v.check_real(test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    lo, hi = digit_pixel_range(activation)
    data = load_digits()
    x = lo + (hi - lo) * data.data / 16.0
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    perm = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, tr = perm[:n_test], perm[n_test:]
    return x[tr], x[test], data.target[tr], data.target[test]


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
        Initial weights ``N(0, init_scale^2 / 64)``; biases start at 0.
    noise : float
        Standard deviation of the Gaussian input noise (0: plain autoencoder).
    optimizer : str
        ``"adam"`` or ``"sgd"``.
    lr : float
        Learning rate.
    steps : int
        Optimisation steps (mini-batches).
    batch_size : int
    checkpoints : int
        Number of checkpoints, spaced geometrically from step 0 to ``steps``.
    seed : int
    n_train : int or None
        Train on the first ``n_train`` images of the (seeded) training split only; small sets
        are memorised (chapter 8). None: all of them.
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

    def __post_init__(self) -> None:
        v.check_int(self.L, "L", minimum=1)
        get_activation(self.activation)
        v.check_real(self.init_scale, "init_scale", low=0.0, low_open=True)
        v.check_real(self.noise, "noise", low=0.0)
        v.check_choice(self.optimizer, "optimizer", ("adam", "sgd"))
        v.check_real(self.lr, "lr", low=0.0, low_open=True)
        v.check_int(self.steps, "steps", minimum=1)
        v.check_int(self.batch_size, "batch_size", minimum=1)
        v.check_int(self.checkpoints, "checkpoints", minimum=2)
        v.check_int(self.seed, "seed", minimum=0)
        if self.n_train is not None:
            v.check_int(self.n_train, "n_train", minimum=1)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def checkpoint_steps(self) -> list[int]:
        """Steps at which weights are recorded: 0, then geometric up to ``steps``."""
        n = self.checkpoints - 1
        geo = [self.steps] if n == 1 else np.unique(np.round(np.geomspace(1, self.steps, n)).astype(int)).tolist()
        return [0, *geo]


@dataclass
class TrainResult:
    """Loss history and checkpoints of one run.

    ``history``: one row per logged step (``step``, ``train_loss``, ``test_loss``);
    ``steps``: the checkpoint steps; ``weights`` (C, L, 64, 64) and ``biases`` (C, L, 64).
    """

    config: TrainConfig
    history: pd.DataFrame
    steps: np.ndarray
    weights: np.ndarray
    biases: np.ndarray
    extra: dict = field(default_factory=dict)


def _torch_act(name):
    return get_activation(name).torch


def _forward(Ws, bs, x, act):
    for W, b in zip(Ws, bs):
        x = act(x @ W.T + b)
    return x


def _code_hash() -> str:
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("train.py", "network.py", "sampling.py"):
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(cache_dir, config: TrainConfig) -> Path:
    desc = json.dumps({"config": dataclasses.asdict(config), "code": _code_hash()}, sort_keys=True)
    return Path(cache_dir) / f"train-{hashlib.sha256(desc.encode()).hexdigest()[:24]}.npz"


def train(config: TrainConfig, *, cache_dir: str | os.PathLike | None = None, progress: bool = True,
          data=None) -> TrainResult:
    """Train one network; returns its loss history and checkpoints (see the module doc).

    ``data``: ``(x_train, x_test)``; default :func:`digits` for the configuration's activation
    (split seeded by ``config.seed``, the first ``config.n_train`` training images). Custom
    ``data`` cannot be combined with ``cache_dir``.
    """
    import torch

    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    if data is not None and cache_dir is not None:
        raise ValueError("cache_dir needs the default data (the cache key does not cover data=)")
    path = _cache_path(cache_dir, config) if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                hist = pd.DataFrame({k[2:]: z[k] for k in z.files if k.startswith("h_")})
                return TrainResult(config, hist, z["steps"], z["weights"], z["biases"])
        except (OSError, ValueError, KeyError, EOFError):  # damaged file: retrain
            path.unlink(missing_ok=True)
    if data is None:
        x_train, x_test, _, _ = digits(config.activation, seed=config.seed)
        x_train = x_train[: config.n_train]
    else:
        x_train, x_test = data
    with _one_torch_thread():
        result = _train(config, x_train, x_test, progress)
    if path is not None:
        _store(path, result)
    return result


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


def _fit(Ws, bs, xt, xv, act, *, steps, optimizer, lr, batch_size, noise, g_data, desc, progress,
         on_step=None) -> pd.DataFrame:
    """Minimise the (denoising) reconstruction loss of the layer stack ``Ws, bs`` on ``xt``.

    Mini-batches and input noise come from ``g_data``; ``on_step(step)`` runs after every
    update. Returns the loss history (``step``, ``train_loss``, ``test_loss``; about 50 rows).
    """
    import torch

    params = Ws + bs
    opt = (torch.optim.Adam(params, lr=lr) if optimizer == "adam"
           else torch.optim.SGD(params, lr=lr, momentum=0.9))

    def losses():
        with torch.no_grad():
            return (float(((_forward(Ws, bs, xt, act) - xt) ** 2).mean()),
                    float(((_forward(Ws, bs, xv, act) - xv) ** 2).mean()))

    hist = [(0, *losses())]
    log_every = max(1, steps // 50)
    for step in tqdm(range(1, steps + 1), desc=desc, disable=not progress):
        idx = torch.randint(0, xt.shape[0], (min(batch_size, xt.shape[0]),), generator=g_data)
        batch = xt[idx]
        noisy = batch + noise * torch.randn(batch.shape, generator=g_data, dtype=torch.float64)
        loss = ((_forward(Ws, bs, noisy, act) - batch) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(step)
        if step % log_every == 0 or step == steps:
            hist.append((step, *losses()))
    return pd.DataFrame(hist, columns=["step", "train_loss", "test_loss"])


def _train(config, x_train, x_test, progress):
    import torch
    N = x_train.shape[1]
    act = _torch_act(config.activation)
    g_init = torch.Generator().manual_seed(config.seed)
    g_data = torch.Generator().manual_seed(config.seed + 1)
    Ws = [torch.nn.Parameter(torch.randn(N, N, generator=g_init, dtype=torch.float64) * config.init_scale / np.sqrt(N))
          for _ in range(config.L)]
    bs = [torch.nn.Parameter(torch.zeros(N, dtype=torch.float64)) for _ in range(config.L)]
    ckpt_steps = config.checkpoint_steps()
    weights, biases = [], []

    def record(step):
        if step in ckpt_steps:
            with torch.no_grad():
                weights.append(np.stack([W.detach().numpy().copy() for W in Ws]))
                biases.append(np.stack([b.detach().numpy().copy() for b in bs]))

    record(0)
    history = _fit(Ws, bs, torch.as_tensor(x_train), torch.as_tensor(x_test), act, steps=config.steps,
                   optimizer=config.optimizer, lr=config.lr, batch_size=config.batch_size, noise=config.noise,
                   g_data=g_data, desc=f"training L={config.L}", progress=progress, on_step=record)
    return TrainResult(config, history, np.array(ckpt_steps), np.stack(weights), np.stack(biases))


def _store(path: Path, result: TrainResult) -> None:
    """Write a result atomically (temporary file in the same directory, then os.replace)."""
    history = result.history
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, steps=result.steps, weights=result.weights, biases=result.biases,
                     **{f"h_{c}": history[c].to_numpy() for c in history.columns})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def checkpoint_ensemble(result: TrainResult, *, backend: str | None = None) -> Ensemble:
    """One network per checkpoint, as an :class:`~fpkit.network.Ensemble` (E = checkpoints)."""
    ens = Ensemble(result.weights, result.biases, result.config.activation)
    if backend not in (None, "numpy"):
        from .backend import get_namespace

        xp = get_namespace(backend)
        ens = Ensemble(xp.asarray(result.weights), xp.asarray(result.biases), result.config.activation)
    return ens


def layer_statistics(result: TrainResult, *, tail_fraction: float = 0.1) -> pd.DataFrame:
    """Per checkpoint and layer: Hill tail index of ``|W|`` (top ``tail_fraction`` of the entries),
    spectral norm, Frobenius norm, the largest ``|entry|`` over the entries' standard deviation,
    and the mean ``|diagonal entry|`` over the mean ``|off-diagonal entry|`` (``diagonal_ratio``: a
    layer that learns a near-identity map has a few large entries on its diagonal, which the
    tail index alone would read as a heavy tail)."""
    tail_fraction = v.check_real(tail_fraction, "tail_fraction", low=0.0, high=0.5, low_open=True)
    rows = []
    for c, step in enumerate(result.steps):
        for layer in range(result.weights.shape[1]):
            W = result.weights[c, layer]
            k = max(2, int(tail_fraction * W.size))
            hill = hill_estimator(W.ravel(), k=k)
            off = np.abs(W[~np.eye(W.shape[0], dtype=bool)])
            rows.append({"step": int(step), "layer": layer + 1, "tail_index": hill.alpha,
                         "spectral_norm": float(np.linalg.norm(W, 2)),
                         "frobenius_norm": float(np.linalg.norm(W)),
                         "max_over_std": float(np.abs(W).max() / W.std()),
                         "diagonal_ratio": float(np.abs(np.diag(W)).mean() / off.mean())})
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
        return get_activation(self.activation)(x @ self.W_e.T + self.b_e, np)

    def decode(self, z) -> np.ndarray:
        """Images, shape (M, 64), of codes z, shape (M, k)."""
        z = np.asarray(z, dtype=float)
        if z.ndim != 2 or z.shape[1] != self.k:
            raise ValueError(f"z must have shape (M, {self.k}); got {z.shape}")
        return get_activation(self.activation)(z @ self.W_d.T + self.b_d, np)

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

    get_activation(activation)
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
    act = _torch_act(activation)
    g_init = torch.Generator().manual_seed(seed)
    g_data = torch.Generator().manual_seed(seed + 1)
    W_e = torch.nn.Parameter(torch.randn(k, n, generator=g_init, dtype=torch.float64) / np.sqrt(n))
    W_d = torch.nn.Parameter(torch.randn(n, k, generator=g_init, dtype=torch.float64) / np.sqrt(k))
    b_e = torch.nn.Parameter(torch.zeros(k, dtype=torch.float64))
    b_d = torch.nn.Parameter(torch.zeros(n, dtype=torch.float64))
    with _one_torch_thread():
        history = _fit([W_e, W_d], [b_e, b_d], torch.as_tensor(x_train), torch.as_tensor(x_test), act,
                       steps=steps, optimizer="adam", lr=lr, batch_size=batch_size, noise=noise, g_data=g_data,
                       desc=f"bottleneck k={k}", progress=progress)
    return Bottleneck(k, activation, *(p.detach().numpy().copy() for p in (W_e, b_e, W_d, b_d)), history)
