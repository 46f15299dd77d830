"""The optimisation in PyTorch: R layer stacks trained at once by hand-written backpropagation.

The parameters of R runs are one (R, P) array (:func:`pack_parameters`; the layers are views of
it, :func:`unpack_parameters`), so one optimiser step (:func:`optimizer_step`: PyTorch's SGD,
SGD-momentum and Adam rules) updates every run, and the per-operation overhead of PyTorch does
not grow with depth or with R. :func:`fit_stacks` is the training loop: mini-batches and noise
drawn per run from its own generator in blocks of :data:`~fpkit.train.DRAW_BLOCK` steps,
divergence detection, losses and checkpoints.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..activations import get_activation
from .config import ADAM_BETAS, ADAM_EPS, DRAW_BLOCK, EVAL_TRAIN, MOMENTUM

__all__ = ["fit_stacks", "forward", "loss_gradient", "one_torch_thread", "optimizer_step", "pack_parameters",
           "torch_activation", "torch_activation_derivative", "unpack_parameters"]


def torch_activation(name):
    """phi as a torch function, for the sigmoid-type activation ``name``."""
    return get_activation(name, sigmoid_type=True).torch


def torch_activation_derivative(name):
    """phi'(z) of :func:`torch_activation` from the pre-activation z and the value h = phi(z)."""
    return get_activation(name, sigmoid_type=True).torch_derivative


def loss_gradient(Ws, bs, x, target, act, dact, gWs, gbs):
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


def forward(Ws, bs, x, act):
    """Layer stack on x; unbatched ``W`` (out, in), ``b`` (out,), x (M, in), or batched over runs:
    ``W`` (R, out, in), ``b`` (R, out), x (R, M, in)."""
    import torch

    for W, b in zip(Ws, bs):
        x = act(x @ W.T + b) if W.ndim == 2 else act(torch.baddbmm(b.unsqueeze(1), x, W.transpose(1, 2)))
    return x



def pack_parameters(Ws, bs):
    """One run's parameters as one flat vector: W_1, b_1, W_2, b_2, ..."""
    import torch

    return torch.cat([t.reshape(-1) for W, b in zip(Ws, bs) for t in (W, b)])


def unpack_parameters(flat, shapes):
    """Per-layer (W, b) views of flat parameters, shape (..., P) -> lists of (..., out, in), (..., out)."""
    Ws, bs, off = [], [], 0
    lead = flat.shape[:-1]
    for out_dim, in_dim in shapes:
        Ws.append(flat[..., off:off + out_dim * in_dim].reshape(*lead, out_dim, in_dim))
        off += out_dim * in_dim
        bs.append(flat[..., off:off + out_dim])
        off += out_dim
    return Ws, bs


def fit_stacks(flat, shapes, data, act_name, *, steps, optimizer, lrs, batch_size, noise, gens, checkpoints=(),
               desc="training", progress=False) -> dict:
    """Minimise the (denoising) reconstruction loss of R layer stacks at once.

    ``flat`` (R, P): each run's parameters packed by :func:`pack_parameters` for layers of ``shapes``
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

    act = torch_activation(act_name)
    R = len(lrs)
    flat = flat.detach().clone()
    grad = torch.empty_like(flat)
    # The layers are views of ``flat`` (which the optimiser updates), their gradients views of ``grad``.
    Ws, bs = unpack_parameters(flat, shapes)
    gWs, gbs = unpack_parameters(grad, shapes)
    dact = torch_activation_derivative(act_name)
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

    def stack(x):
        return forward(Ws, bs, x, act)

    def losses(step):
        tr = ((stack(xe) - xe) ** 2).mean(dim=(1, 2))
        te = ((stack(xv) - xv) ** 2).mean(dim=(1, 2))
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
            err = loss_gradient(Ws, bs, inp, clean, act, dact, gWs, gbs)
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(err.sum(dim=(1, 2))), step, first_bad)
            optimizer_step(flat, grad, state, state2, optimizer, lr, step, scratch)
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


def optimizer_step(p, g, state, state2, optimizer, lr, t, tmp=None) -> None:
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


@contextmanager
def one_torch_thread():
    """Run torch on one thread (64-wide layers: more threads only spin, 30x slower on a busy 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
