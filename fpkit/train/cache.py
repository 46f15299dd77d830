"""The disk cache of training runs: one ``train-<key>.npz`` per finished run (:class:`RunCache`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..cache import ArrayCache, ArrayRecord, check_arrays, check_fields
from .config import STATUSES, TrainConfig, TrainResult

__all__ = ["CODE_ENTRY", "RunCache", "training_hash"]

#: The module whose import closure determines a training run's numbers (its code hash is part of every key).
CODE_ENTRY = "fpkit.train.runs"
#: Losses logged per run besides the checkpoints (about 24 geometrically spaced steps and step 0).
_LOGGED_STEPS = 25


def training_hash() -> str:
    """The code hash (16 hex digits) of training: :func:`fpkit._provenance.code_hash` of ``fpkit.train.runs``.

    It covers every fpkit module a training run can run (the optimisation loop, the data, the
    activations, ...), found from the imports in the source.
    """
    return RunCache.code_hash()


class RunCache(ArrayCache):
    """One ``train-<key>.npz`` per finished training run in ``directory``; see :mod:`fpkit.cache`.

    The key covers the configuration, the fpkit version and :func:`training_hash`. The file
    (:class:`fpkit.cache.ArrayCache`'s layout) holds the checkpoints' ``steps`` (C,),
    ``weights`` (C, L, N, N), ``biases`` (C, L, N), the loss history (``h_step``,
    ``h_train_loss``, ``h_test_loss``) and the fields ``status``, ``diverged_step`` and
    ``seconds``. :meth:`load` gives a :class:`~fpkit.train.TrainResult`, and only if every shape
    and field fits the key's configuration (:meth:`validate`).
    """

    KIND = "training run"
    PREFIX = "train-"
    SUFFIX = ".npz"
    FORMAT = "fpkit training run/2"
    CODE_ENTRY = CODE_ENTRY
    LIBRARIES = ("numpy", "torch", "scikit-learn")

    @classmethod
    def key(cls, config: TrainConfig, code: str | None = None) -> tuple[str, str]:
        """(hex key, JSON description) of a configuration under the training code ``code`` (default
        :func:`training_hash`)."""
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
        return cls.make_key({"config": config.as_dict()}, code)

    @staticmethod
    def run_bytes(config: TrainConfig) -> int:
        """About the size of one run's file (for the free-space check before training)."""
        C, L, N = config.checkpoints, config.L, config.width
        return 8 * (C * L * (N * N + N) + C + 3 * (C + _LOGGED_STEPS)) + 4096

    def encode(self, header: dict[str, Any], value: Any) -> bytes:
        if not isinstance(value, TrainResult):
            raise TypeError(f"result must be a TrainResult; got {type(value).__name__}")
        h = value.history
        arrays = {"steps": np.asarray(value.steps, dtype=np.int64), "weights": value.weights, "biases": value.biases,
                  "h_step": h["step"].to_numpy(np.int64), "h_train_loss": h["train_loss"].to_numpy(np.float64),
                  "h_test_loss": h["test_loss"].to_numpy(np.float64)}
        fields = {"status": value.status, "diverged_step": int(value.diverged_step),
                  "seconds": float(value.extra.get("seconds", float("nan")))}
        return super().encode(header, ArrayRecord(arrays, fields))

    def validate(self, value: ArrayRecord, description: dict[str, Any]) -> TrainResult:
        """The run as a :class:`~fpkit.train.TrainResult`; ValueError unless it fits its configuration."""
        config = TrainConfig(**description["config"])
        steps = config.checkpoint_steps()
        C, L, N = len(steps), config.L, config.width
        a = value.arrays
        check_arrays(a, {"steps": (C,), "weights": (C, L, N, N), "biases": (C, L, N), "h_step": (-1,),
                         "h_train_loss": (-1,), "h_test_loss": (-1,)})
        if not np.array_equal(a["steps"], steps):
            raise ValueError(f"checkpoint steps {a['steps'].tolist()} where the configuration has {steps}")
        n_logged = len(a["h_step"])
        if n_logged == 0 or len(a["h_train_loss"]) != n_logged or len(a["h_test_loss"]) != n_logged:
            raise ValueError("the loss history is empty or its columns differ in length")
        for name in ("weights", "biases", "h_train_loss", "h_test_loss"):
            if a[name].dtype != np.float64:
                raise ValueError(f"array {name!r} is {a[name].dtype}, not float64")
        check_fields(value.fields, {"status": str, "diverged_step": int, "seconds": (float, int)})
        f = value.fields
        if f["status"] not in STATUSES:
            raise ValueError(f"unknown status {f['status']!r}")
        if not -1 <= f["diverged_step"] <= config.steps:
            raise ValueError(f"diverged_step {f['diverged_step']} outside -1..{config.steps}")
        history = pd.DataFrame({"step": a["h_step"], "train_loss": a["h_train_loss"], "test_loss": a["h_test_loss"]})
        return TrainResult(config, history, a["steps"], a["weights"], a["biases"], f["status"], f["diverged_step"],
                           {"seconds": f["seconds"]})
