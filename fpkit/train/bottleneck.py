"""A bottleneck autoencoder 64 -> k -> 64 on the digits (encoding and decoding; chapter 8)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import _validate as v
from ..activations import get_activation
from .data import N_PIXELS, digits
from .fit import fit_stacks, one_torch_thread, pack_parameters, unpack_parameters

__all__ = ["Bottleneck", "train_bottleneck"]


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
    flat = pack_parameters([W_e, W_d], [torch.zeros(k, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)])
    with one_torch_thread():
        fit = fit_stacks(flat.unsqueeze(0), shapes, [(x_train, x_test)], activation, steps=steps,
                   optimizer="adam", lrs=[lr], batch_size=batch_size, noise=noise, gens=[g_data],
                   desc=f"bottleneck k={k}", progress=progress)
    (W_e, W_d), (b_e, b_d) = unpack_parameters(fit["flat"][0].numpy().copy(), shapes)
    return Bottleneck(k, activation, W_e, b_e, W_d, b_d, fit["history"][0])
