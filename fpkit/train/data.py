"""The training data: scikit-learn's bundled 8 x 8 digits (no download), scaled into an activation's range."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .. import _validate as v
from ..activations import get_activation
from ..backend import make_rng

__all__ = ["N_PIXELS", "digit_pixel_range", "digits"]

#: Pixels of a digit image (8 x 8), the widest network the data allow.
N_PIXELS = 64


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

