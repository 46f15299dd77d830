import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import warnings  # noqa: E402

import pandas as pd  # noqa: E402

import fpkit.train.runs as ftrain_runs  # noqa: E402
from fpkit.engine import find_fixed_points  # noqa: E402
from fpkit.train import (  # noqa: E402
    RunCache,
    TrainConfig,
    checkpoint_ensemble,
    digit_pixel_range,
    digits,
    layer_statistics,
    run_table,
    train,
    train_many,
)

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
    with pytest.warns(UserWarning, match="damaged"):
        redone = train(TINY, progress=False, cache_dir=tmp_path)
    assert np.array_equal(redone.weights, first.weights)


def test_exported_weights_reproduce_the_torch_forward_pass(tiny):
    from fpkit.train.fit import forward, torch_activation

    ens = checkpoint_ensemble(tiny)
    x_tr, *_ = digits("tanh", seed=TINY.seed)
    x = np.broadcast_to(x_tr[:10], (ens.n_networks, 10, 64))
    ours = ens.forward(np.ascontiguousarray(x))
    for c in range(ens.n_networks):
        ref = forward([torch.as_tensor(W) for W in tiny.weights[c]], [torch.as_tensor(b) for b in tiny.biases[c]],
                       torch.as_tensor(x_tr[:10]), torch_activation("tanh")).numpy()
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
    assert (st["hill_low"] < st["hill_alpha"]).all() and (st["hill_alpha"] < st["hill_high"]).all()
    last = st[st["step"] == st["step"].max()]
    assert last["csn_alpha"].notna().all() and st.loc[st["step"] < st["step"].max(), "csn_alpha"].isna().all()
    assert (st["esd_alpha"] > 1).all()
    assert layer_statistics(tiny, power_law="all")["csn_alpha"].notna().all()
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="width"):
        TrainConfig(width=65)
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

    from fpkit.train import train_bottleneck
    from fpkit.train.fit import forward, torch_activation

    x_train, x_test, _, _ = digits("tanh", seed=0)
    data = (x_train[:200], x_test[:100])
    a = train_bottleneck(8, steps=300, seed=1, data=data, progress=False)
    b = train_bottleneck(8, steps=300, seed=1, data=data, progress=False)
    assert a.history["test_loss"].iloc[-1] < 0.5 * a.history["test_loss"].iloc[0]
    np.testing.assert_array_equal(a.W_e, b.W_e)
    assert a.encode(x_test[:5]).shape == (5, 8)
    ref = forward([torch.as_tensor(a.W_e), torch.as_tensor(a.W_d)], [torch.as_tensor(a.b_e), torch.as_tensor(a.b_d)],
                   torch.as_tensor(x_test[:5]), torch_activation("tanh")).numpy()
    np.testing.assert_allclose(a.reconstruct(x_test[:5]), ref, atol=1e-12)
    # a wider code reconstructs better (same seed, same steps)
    wide = train_bottleneck(32, steps=300, seed=1, data=data, progress=False)
    assert wide.history["test_loss"].iloc[-1] < a.history["test_loss"].iloc[-1]
    with pytest.raises(ValueError, match="k must be between 1 and 64"):
        train_bottleneck(65, data=data)
    with pytest.raises(ValueError, match="z must have shape"):
        a.decode(np.zeros((2, 3)))


# --------------------------------------------------------------------------- training sweeps

SWEEP = [TrainConfig(L=2, width=16, optimizer=opt, lr=lr, batch_size=bs, steps=40, checkpoints=3, seed=seed)
         for opt, lrs in (("sgd", (0.5, 2.0)), ("adam", (0.01,))) for lr in lrs for bs in (1, 4) for seed in (0, 1)]


def _tables(results):
    """Run table and per-layer statistics at every checkpoint, the sweep's output."""
    stats = pd.concat([layer_statistics(r, power_law="none").assign(run=i) for i, r in enumerate(results)],
                      ignore_index=True)
    return run_table(results).drop(columns="seconds"), stats  # timings differ from run to run


@pytest.fixture(scope="module")
def sweep_reference():
    return train_many(SWEEP, progress=False)


def test_optimizers_follow_their_update_rules():
    """One step of each optimiser from the same start equals the textbook update of torch.optim."""
    base = TrainConfig(L=1, width=8, steps=1, checkpoints=2, batch_size=4, noise=0.0, seed=3)
    x_tr, x_te, *_ = digits("tanh", seed=3, width=8)
    start = train(base.replace(lr=1e-12, optimizer="sgd"), data=(x_tr, x_te), progress=False)
    W0 = torch.tensor(start.weights[0, 0], requires_grad=True)
    b0 = torch.tensor(start.biases[0, 0], requires_grad=True)
    g = torch.Generator().manual_seed(base.seed + 1)
    idx = torch.randint(0, len(x_tr), (1, base.batch_size), generator=g)[0]
    xb = torch.as_tensor(x_tr)[idx]
    for name, make in (("sgd", lambda p: torch.optim.SGD(p, lr=0.3)),
                       ("momentum", lambda p: torch.optim.SGD(p, lr=0.3, momentum=0.9)),
                       ("adam", lambda p: torch.optim.Adam(p, lr=0.3))):
        W, b = W0.detach().clone().requires_grad_(), b0.detach().clone().requires_grad_()
        opt = make([W, b])
        loss = ((torch.tanh(xb @ W.T + b) - xb) ** 2).mean()
        loss.backward()
        opt.step()
        ours = train(base.replace(lr=0.3, optimizer=name), data=(x_tr, x_te), progress=False)
        np.testing.assert_allclose(ours.weights[-1, 0], W.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ours.biases[-1, 0], b.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_run_is_the_same_alone_in_a_group_and_across_groupings(sweep_reference):
    """Batched training does not couple runs: bit-identical results however runs are grouped."""
    alone = train_many(SWEEP[:1], progress=False)[0]
    np.testing.assert_array_equal(alone.weights, sweep_reference[0].weights)
    small_groups = train_many(SWEEP, progress=False, max_group=1)
    for a, b in zip(small_groups, sweep_reference):
        np.testing.assert_array_equal(a.weights, b.weights)
        pd.testing.assert_frame_equal(a.history, b.history)
    # determinism: the same configurations again, and a different seed differs
    again = train_many(SWEEP[:2], progress=False)
    np.testing.assert_array_equal(again[0].weights, sweep_reference[0].weights)
    assert not np.array_equal(sweep_reference[0].weights[-1], sweep_reference[1].weights[-1])


def test_sweep_cache_resumes_after_an_interruption(sweep_reference, tmp_path, monkeypatch):
    real = ftrain_runs._train_job
    calls = []

    def interrupted_after_two_jobs(configs, progress=False):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(configs))
        return real(configs, progress)

    monkeypatch.setattr(ftrain_runs, "_train_job", interrupted_after_two_jobs)
    with pytest.raises(KeyboardInterrupt):
        train_many(SWEEP, cache_dir=tmp_path, progress=False, max_group=2)
    finished = sum(calls)
    assert finished == 4 and len(list(tmp_path.glob("train-*.npz"))) == finished
    assert not list(tmp_path.glob(".tmp-*"))  # no half-written file left behind

    retrained = []
    monkeypatch.setattr(ftrain_runs, "_train_job", lambda configs, progress=False: retrained.extend(configs)
                        or real(configs, progress))
    resumed = train_many(SWEEP, cache_dir=tmp_path, progress=False, max_group=2)
    assert len(retrained) == len(SWEEP) - finished  # only the unfinished runs are trained
    ref_runs, ref_stats = _tables(sweep_reference)
    runs, stats = _tables(resumed)
    pd.testing.assert_frame_equal(runs, ref_runs)
    pd.testing.assert_frame_equal(stats, ref_stats)
    retrained.clear()
    train_many(SWEEP, cache_dir=tmp_path, progress=False)
    assert retrained == []  # everything cached now


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign", "empty"])
def test_damaged_cache_files_are_reported_and_recomputed(damage, sweep_reference, tmp_path):
    cfg = SWEEP[0]
    train_many([cfg], cache_dir=tmp_path, progress=False)
    (path,) = tmp_path.glob("train-*.npz")
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":  # one bit in the middle of the weights
        pos = len(blob) // 2
        path.write_bytes(blob[:pos] + bytes([blob[pos] ^ 0x10]) + blob[pos + 1:])
    elif damage == "foreign":  # a valid file of another run under this run's name
        other = SWEEP[1]
        cache = RunCache(tmp_path)
        cache.store(cache.key(cfg)[0], cache.key(other)[1], train_many([other], progress=False)[0])
    else:
        path.write_bytes(b"")
    with pytest.warns(UserWarning, match="holds another configuration" if damage == "foreign" else "damaged"):
        redone = train_many([cfg], cache_dir=tmp_path, progress=False)[0]
    np.testing.assert_array_equal(redone.weights, sweep_reference[0].weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten file reads back cleanly
        again = train_many([cfg], cache_dir=tmp_path, progress=False)[0]
    np.testing.assert_array_equal(again.weights, redone.weights)
    assert again.status == redone.status


def test_cache_files_hold_no_pickle_and_store_their_key(tmp_path):
    cfg = SWEEP[0]
    train_many([cfg], cache_dir=tmp_path, progress=False)
    (path,) = tmp_path.glob("train-*.npz")
    import json

    with np.load(path, allow_pickle=False) as z:  # would raise on an object array
        meta = json.loads(z["meta"].tobytes().decode())
        assert all(z[k].dtype != object for k in z.files)
    key, desc = RunCache.key(cfg)
    assert meta["key"] == key and meta["description"] == json.loads(desc) and path.name == f"train-{key}.npz"


def test_divergence_is_detected_and_recorded():
    """A run whose parameters overflow is stopped and marked, its group-mates are unaffected."""
    sane = TrainConfig(L=2, width=8, optimizer="sgd", lr=0.1, batch_size=2, steps=600, checkpoints=4, seed=0,
                       activation="algebraic", init_scale=3.0)
    wild = sane.replace(lr=1e305)
    both = train_many([sane, wild], progress=False)
    alone = train_many([sane], progress=False)[0]
    np.testing.assert_array_equal(both[0].weights, alone.weights)
    r = both[1]
    assert r.status == "diverged" and 1 <= r.diverged_step <= 600
    after = r.steps >= r.diverged_step
    assert np.isnan(r.weights[after]).all() and np.isfinite(r.weights[~after]).all()
    # exportable checkpoints: before the divergence, and with layer sums inside float64
    usable = np.array([np.abs(w).sum(axis=-1).max() <= 1e300 if np.isfinite(w).all() else False for w in r.weights])
    assert list(r.finite_checkpoints) == list(~after & usable) and r.finite_checkpoints[0]
    assert checkpoint_ensemble(r).n_networks == int(r.finite_checkpoints.sum())
    table = run_table(both)
    assert list(table["status"]) == [alone.status, "diverged"]
    assert layer_statistics(r)["step"].max() < r.diverged_step


def test_no_progress_status_for_a_step_size_past_the_edge():
    cfgs = [TrainConfig(L=2, width=16, optimizer="sgd", lr=lr, batch_size=1, steps=300, checkpoints=3, seed=0)
            for lr in (0.5, 300.0)]
    ok, saturated = train_many(cfgs, progress=False)
    assert ok.status == "trained" and ok.history["train_loss"].iloc[-1] < ok.history["train_loss"].iloc[0]
    assert saturated.status == "no_progress"
    assert not saturated.history["train_loss"].iloc[-1] < saturated.history["train_loss"].iloc[0]


def test_parallel_workers_give_the_same_runs(sweep_reference):
    par = train_many(SWEEP[:4], progress=False, workers=2, max_group=2)
    for a, b in zip(par, sweep_reference[:4]):
        np.testing.assert_array_equal(a.weights, b.weights)


def test_pca_digits_for_narrow_networks():
    x_tr, x_te, *_ = digits("tanh", seed=0, width=16)
    assert x_tr.shape[1] == 16 and x_te.shape[1] == 16
    assert x_tr.min() >= -0.8 - 1e-12 and x_tr.max() <= 0.8 + 1e-12
    assert np.isclose(np.abs(x_tr).max(), 0.8)  # the training split fills the range
    # components ordered by variance
    var = x_tr.var(axis=0) * (np.abs(x_tr).max(axis=0) ** 0)
    assert var[0] > var[-1]
    with pytest.raises(ValueError, match="width"):
        digits("tanh", width=100)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "erf", "algebraic"])
def test_hand_written_backpropagation_matches_autograd(activation):
    from fpkit.train.fit import (forward, loss_gradient, torch_activation, torch_activation_derivative,
                                 unpack_parameters)

    g = torch.Generator().manual_seed(0)
    shapes = [(5, 7), (7, 5), (7, 7)]
    R, B = 3, 4
    flat = torch.randn(R, sum(o * i + o for o, i in shapes), generator=g, dtype=torch.float64)
    x = torch.randn(R, B, 7, generator=g, dtype=torch.float64)
    target = torch.rand(R, B, 7, generator=g, dtype=torch.float64)
    act = torch_activation(activation)
    grad = torch.empty_like(flat)
    loss_gradient(*unpack_parameters(flat, shapes), x, target, act, torch_activation_derivative(activation),
                  *unpack_parameters(grad, shapes))
    leaf = flat.clone().requires_grad_()
    loss = ((forward(*unpack_parameters(leaf, shapes), x, act) - target) ** 2).mean(dim=(1, 2)).sum()
    (auto,) = torch.autograd.grad(loss, leaf)
    np.testing.assert_allclose(grad.numpy(), auto.numpy(), rtol=1e-10, atol=1e-14)
