"""What defines a training run (:class:`TrainConfig`) and what it gives (:class:`TrainResult`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import _validate as v
from ..activations import get_activation
from .data import N_PIXELS

__all__ = ["ADAM_BETAS", "ADAM_EPS", "DRAW_BLOCK", "EVAL_TRAIN", "MOMENTUM", "OPTIMIZERS", "STATUSES", "TrainConfig",
           "TrainResult"]

#: Optimisers known to :class:`TrainConfig`.
OPTIMIZERS = ("sgd", "momentum", "adam")
MOMENTUM = 0.9
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: Mini-batch indices and input noise are drawn for this many steps at a time (part of a run's definition).
DRAW_BLOCK = 256
#: The logged training loss is the mean over the first this many images of the training split.
EVAL_TRAIN = 500
#: Status of a training run.
STATUSES = ("trained", "no_progress", "diverged")


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

    def batch_group(self) -> TrainConfig:
        """The configuration with ``lr`` = 1 and ``seed`` = 0: runs that agree on it train together
        (:func:`~fpkit.train.train_many`)."""
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
        from ..network import MAX_PREACTIVATION

        with np.errstate(over="ignore", invalid="ignore"):
            rows = np.abs(self.weights).sum(axis=-1).max(axis=(1, 2))  # (C, L, N) -> (C,)
            bias = np.abs(self.biases).max(axis=(1, 2))
        return (np.isfinite(self.weights).all(axis=(1, 2, 3)) & np.isfinite(self.biases).all(axis=(1, 2))
                & (rows <= MAX_PREACTIVATION) & (bias <= MAX_PREACTIVATION))
