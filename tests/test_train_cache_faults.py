"""Defect 3 of issue 14: a damaged training cache entry is detected, reported and recomputed.

A truncated or bit-flipped cache file made ``train()`` raise ``zipfile.BadZipFile`` for good (the
chapter failed until the file was deleted by hand). Only the public API is used here
(``train(config, cache_dir=...)``), so the test holds whatever the cache's file format is: every
file the first run leaves in the cache directory is damaged, and the next run must warn, retrain,
return exactly the result of a fresh run, and repair the cache.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from fpkit.train import TrainConfig, train  # noqa: E402

TINY = TrainConfig(L=1, steps=6, checkpoints=2, batch_size=16, seed=3)


def _truncate(blob: bytes) -> bytes:
    return blob[: len(blob) // 2]


def _flip_middle(blob: bytes) -> bytes:
    i = len(blob) // 2
    return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:]


def _flip_end(blob: bytes) -> bytes:  # the zip directory / a trailing checksum
    i = len(blob) - 10
    return blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1:]


def _empty(blob: bytes) -> bytes:
    return b""


def _garbage(blob: bytes) -> bytes:
    return b"not a cache file at all\n" * 8


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.biases, b.biases)
    np.testing.assert_array_equal(np.asarray(a.steps), np.asarray(b.steps))
    np.testing.assert_allclose(a.history["train_loss"].to_numpy(), b.history["train_loss"].to_numpy(), rtol=0)


@pytest.fixture(scope="module")
def fresh():
    return train(TINY, progress=False)


@pytest.mark.parametrize("damage", [_truncate, _flip_middle, _flip_end, _empty, _garbage])
def test_damaged_training_cache_is_reported_and_recomputed(fresh, tmp_path, damage):
    cached = train(TINY, progress=False, cache_dir=tmp_path)
    _same(cached, fresh)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert files, "the first run wrote no cache file"
    for p in files:
        p.write_bytes(damage(p.read_bytes()))
    with pytest.warns(Warning):  # reported ...
        redone = train(TINY, progress=False, cache_dir=tmp_path)  # ... never raises ...
    _same(redone, fresh)  # ... and recomputed, not read
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the repaired entry is read back without complaint
        again = train(TINY, progress=False, cache_dir=tmp_path)
    _same(again, fresh)
