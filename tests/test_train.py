import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from fpkit.engine import find_fixed_points  # noqa: E402
from fpkit.train import (TrainConfig, checkpoint_ensemble, digit_pixel_range, digits,  # noqa: E402
                         layer_statistics, train)

TINY = TrainConfig(L=2, steps=60, checkpoints=3, lr=3e-3, seed=1)


@pytest.fixture(scope="module")
def tiny():
    return train(TINY, progress=False)


def test_digits_are_bundled_and_scaled(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(socket, "socket", no_network)
    x_tr, x_te, y_tr, y_te = digits("tanh", seed=0)
    assert x_tr.shape[1] == 64 and len(x_tr) + len(x_te) == 1797
    assert x_tr.min() >= -0.8 - 1e-12 and x_tr.max() <= 0.8 + 1e-12
    x_tr2, *_ = digits("logistic", seed=0)
    assert x_tr2.min() >= 0.1 - 1e-12 and x_tr2.max() <= 0.9 + 1e-12
    # blank and full pixels sit exactly at the ends of digit_pixel_range
    assert (x_tr.min(), x_tr.max()) == digit_pixel_range("tanh") == pytest.approx((-0.8, 0.8))
    assert (x_tr2.min(), x_tr2.max()) == digit_pixel_range("logistic") == pytest.approx((0.1, 0.9))
    with pytest.raises(ValueError, match="activation"):
        digit_pixel_range("relu")


def test_training_reduces_the_loss(tiny):
    h = tiny.history
    assert h["train_loss"].iloc[-1] < 0.5 * h["train_loss"].iloc[0]
    assert h["test_loss"].iloc[-1] < 0.5 * h["test_loss"].iloc[0]
    assert list(tiny.steps) == TINY.checkpoint_steps() and tiny.weights.shape == (len(tiny.steps), 2, 64, 64)


def test_training_is_deterministic_and_cached(tiny, tmp_path):
    again = train(TINY, progress=False)
    assert np.array_equal(again.weights, tiny.weights)
    first = train(TINY, progress=False, cache_dir=tmp_path)
    files = list(tmp_path.glob("train-*.npz"))
    assert len(files) == 1
    cached = train(TINY, progress=False, cache_dir=tmp_path)
    assert np.array_equal(cached.weights, first.weights)
    assert np.allclose(cached.history["train_loss"], first.history["train_loss"])
    files[0].write_bytes(b"garbage")  # a damaged cache file is retrained, not read
    redone = train(TINY, progress=False, cache_dir=tmp_path)
    assert np.array_equal(redone.weights, first.weights)


def test_exported_weights_reproduce_the_torch_forward_pass(tiny):
    from fpkit.train import _forward, _torch_act

    ens = checkpoint_ensemble(tiny)
    x_tr, *_ = digits("tanh", seed=TINY.seed)
    x = np.broadcast_to(x_tr[:10], (ens.n_networks, 10, 64))
    ours = ens.forward(np.ascontiguousarray(x))
    for c in range(ens.n_networks):
        ref = _forward([torch.as_tensor(W) for W in tiny.weights[c]], [torch.as_tensor(b) for b in tiny.biases[c]],
                       torch.as_tensor(x_tr[:10]), _torch_act("tanh")).numpy()
        assert np.max(np.abs(ours[c] - ref)) < 1e-12


def test_attractors_of_a_trained_network_are_fixed_points(tiny):
    ens = checkpoint_ensemble(tiny)
    res = find_fixed_points(ens, n_starts=32, seed=0, max_iter=3000)
    assert res.x.shape[0] > 0
    fx = ens.forward(np.stack([res.x[res.fp_network == e][:1] if (res.fp_network == e).any()
                               else np.zeros((1, 64)) for e in range(ens.n_networks)]))
    for e in range(ens.n_networks):
        if (res.fp_network == e).any():
            assert np.max(np.abs(fx[e, 0] - res.x[res.fp_network == e][0])) < 1e-10


def test_layer_statistics_and_bad_config(tiny):
    st = layer_statistics(tiny)
    assert len(st) == len(tiny.steps) * 2 and (st["tail_index"] > 0).all()
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="checkpoints"):
        TrainConfig(checkpoints=1)
    with pytest.raises(TypeError, match="TrainConfig"):
        train({"L": 2})


@pytest.mark.parametrize("checkpoints", [2, 3, 10])
def test_checkpoints_start_at_zero_and_end_at_the_last_step(checkpoints):
    steps = TrainConfig(steps=500, checkpoints=checkpoints).checkpoint_steps()
    assert steps[0] == 0 and steps[-1] == 500 and steps == sorted(set(steps))


def test_n_train_and_custom_data_rules(tmp_path):
    cfg = TINY.replace(n_train=5, steps=5)
    r = train(cfg, progress=False)
    assert r.weights.shape[0] == len(cfg.checkpoint_steps())
    x_tr, x_te, *_ = digits("tanh", seed=0)
    with pytest.raises(ValueError, match="cache_dir"):
        train(cfg, data=(x_tr, x_te), cache_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="n_train"):
        TrainConfig(n_train=0)


def test_bottleneck_trains_is_seeded_and_matches_torch():
    import torch

    from fpkit.train import _forward, _torch_act, train_bottleneck

    x_train, x_test, _, _ = digits("tanh", seed=0)
    data = (x_train[:200], x_test[:100])
    a = train_bottleneck(8, steps=300, seed=1, data=data, progress=False)
    b = train_bottleneck(8, steps=300, seed=1, data=data, progress=False)
    assert a.history["test_loss"].iloc[-1] < 0.5 * a.history["test_loss"].iloc[0]
    np.testing.assert_array_equal(a.W_e, b.W_e)
    assert a.encode(x_test[:5]).shape == (5, 8)
    ref = _forward([torch.as_tensor(a.W_e), torch.as_tensor(a.W_d)], [torch.as_tensor(a.b_e), torch.as_tensor(a.b_d)],
                   torch.as_tensor(x_test[:5]), _torch_act("tanh")).numpy()
    np.testing.assert_allclose(a.reconstruct(x_test[:5]), ref, atol=1e-12)
    # a wider code reconstructs better (same seed, same steps)
    wide = train_bottleneck(32, steps=300, seed=1, data=data, progress=False)
    assert wide.history["test_loss"].iloc[-1] < a.history["test_loss"].iloc[-1]
    with pytest.raises(ValueError, match="k must be between 1 and 64"):
        train_bottleneck(65, data=data)
    with pytest.raises(ValueError, match="z must have shape"):
        a.decode(np.zeros((2, 3)))
