"""Suite-wide settings.

* The suite runs on NumPy: ``FPKIT_BACKEND=numpy`` is set before any test module imports fpkit,
  so installing CuPy (or running on a GPU machine) cannot change what the CPU suite computes.
  A test marked ``@pytest.mark.gpu`` runs with ``FPKIT_BACKEND=cupy`` instead, and is skipped
  where CuPy has no CUDA device.
* At the end of a run that included the browser test, one line says how many pages and typeset
  formulas it checked and how many requests went to other hosts.
"""

from __future__ import annotations

import os
import sys

import pytest

os.environ["FPKIT_BACKEND"] = "numpy"


@pytest.fixture(autouse=True)
def _backend_for_this_test(request, monkeypatch):
    if request.node.get_closest_marker("gpu") is None:
        monkeypatch.setenv("FPKIT_BACKEND", "numpy")
        return
    from fpkit import backend

    cupy, why = backend._cupy_or_reason()
    if cupy is None:
        pytest.skip(f"needs CuPy with a CUDA device: {why}")
    monkeypatch.setenv("FPKIT_BACKEND", "cupy")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    module = sys.modules.get("test_browser") or sys.modules.get("tests.test_browser")
    results = getattr(module, "RESULTS", None)
    if not results:
        return
    formulas = sum({r["shown"]: r["formulas"] for r in results.values()}.values())  # index.html redirects
    requests = sum(r["requests"] for r in results.values())
    off_host = sum(r["off_host"] for r in results.values())
    terminalreporter.write_sep("-", "browser test of the book")
    terminalreporter.write_line(
        f"{module.HTML}: {len(results)} pages, {formulas} formulas typeset by MathJax, "
        f"{requests} requests, {off_host} to other hosts")


# --------------------------------------------------------------------------- helpers shared by the tests
# (imported as ``from conftest import ...``: pytest puts this directory on sys.path)

import numpy as np  # noqa: E402
from scipy import optimize  # noqa: E402


def reference_forward(W, b, phi, x):
    """Plain per-network, per-point loop: the definition of F."""
    out = np.empty_like(x)
    for e in range(W.shape[0]):
        for m in range(x.shape[1]):
            h = x[e, m]
            for layer in range(W.shape[1]):
                h = phi(W[e, layer] @ h + b[e, layer])
            out[e, m] = h
    return out


#: Activations written out independently of fpkit.activations (what reference_forward applies).
REFERENCE_PHI = {
    "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "algebraic": lambda z: z / np.sqrt(1.0 + z * z),
}

#: Seeds of the last-bit perturbations (None: the weights as drawn).
LAST_BIT = [None, 1, 2]


def last_bit(ensemble, noise_seed):
    """The ensemble with weights and biases multiplied by ``1 + 1e-16 * noise`` (standard normal noise of
    ``noise_seed``; None: the ensemble itself): what another BLAS kernel's rounding does to a computation,
    so that a test cannot pass by an exact tie that only one kernel produces."""
    from fpkit import Ensemble

    if noise_seed is None:
        return ensemble
    rng = np.random.default_rng(noise_seed)
    W, b = (np.asarray(a) for a in (ensemble.weights, ensemble.biases))
    return Ensemble(W * (1 + 1e-16 * rng.standard_normal(W.shape)), b * (1 + 1e-16 * rng.standard_normal(b.shape)),
                    ensemble.activation)


def one_unit(w, b, activation="logistic", noise_seed=None):
    """The network x -> phi(w x + b) of width and depth 1 (perturbed at the last bit with ``noise_seed``)."""
    from fpkit import Ensemble

    ens = Ensemble(np.array([[[[w]]]], dtype=float), np.array([[[b]]], dtype=float), activation)
    return last_bit(ens, noise_seed)


def is_root(ensemble, x, tol=1e-10):
    """Whether x (N,) is a fixed point of the single-network ``ensemble`` to ``tol``: its residual
    ``|F(x) - x|`` or, for steep points whose residual rounding keeps large, its Newton distance
    ``|(I - J)^-1 (F(x) - x)|`` (both max norm)."""
    if not np.all(np.isfinite(x)) or np.abs(x).max() > 10.0:  # fixed points lie in the box
        return False
    fx, jac = (np.asarray(a)[0, 0] for a in ensemble.forward_with_jacobian(x.reshape(1, 1, -1)))
    g = fx - x
    if np.abs(g).max() < tol:
        return True
    with np.errstate(all="ignore"):
        try:
            step = np.linalg.solve(np.eye(x.size) - jac, g)
        except np.linalg.LinAlgError:
            return False
    return bool(np.all(np.isfinite(step)) and np.abs(step).max() < tol)


def _none_found(what, ensemble):
    raise AssertionError(f"{what} found no fixed point of {ensemble!r}, yet every network has one (degree 1 "
                         "on the box): the search, not the network, failed")


def roots_1d(ensemble, e=0, phi=None):
    """Every root of a width-1 network (any depth), as points x (K, 1): the roots of z = f(z) in the last
    layer's pre-activation (x = phi(z); |z - b_L| <= |w_L|), by sign changes on a fine grid (grid points
    where f is exactly 0 included) and brentq. In z, saturated roots (x within rounding of the box's edge)
    are as easy to bracket as others. ``phi`` defaults to the network's activation. Never empty: f changes
    sign between the ends of the grid, so an empty list raises."""
    W, b = np.asarray(ensemble.weights)[e, :, 0, 0], np.asarray(ensemble.biases)[e, :, 0]
    value = (lambda z: ensemble.activation.value(np.asarray(z, dtype=float), np)) if phi is None else phi

    def f(z):
        h = value(z)
        for layer in range(W.size - 1):
            h = value(W[layer] * h + b[layer])
        return W[-1] * h + b[-1] - z

    zs = np.linspace(b[-1] - abs(W[-1]) - 1.0, b[-1] + abs(W[-1]) + 1.0, 400_001)
    fs = f(zs)
    roots = list(zs[fs == 0])
    roots += [optimize.brentq(f, zs[i], zs[i + 1], xtol=1e-14, rtol=1e-15)
              for i in np.flatnonzero(np.sign(fs[:-1]) * np.sign(fs[1:]) < 0)]
    if not roots:
        _none_found("roots_1d", ensemble)
    return np.sort(value(np.array(roots))).reshape(-1, 1)


def brute_force_roots_2d(ensemble, e, resolution=400):
    """Roots of G = F - x in the box for network e of a width-2 ensemble: the cells of a fine grid where
    both components of G change sign, each refined by scipy's root finder from the cell's centre and kept
    where :func:`is_root` certifies it. Never empty (raises)."""
    low, high = ensemble.domain
    pad = 0.01 * (high - low)  # roots can sit at the edge of the box (saturated units)
    ticks = np.linspace(low - pad, high + pad, resolution + 1)
    X, Y = np.meshgrid(ticks, ticks, indexing="ij")
    pts = np.stack([X, Y], -1).reshape(1, -1, 2)
    sub = ensemble.subset(slice(e, e + 1))
    G = (sub.forward(pts) - pts).reshape(resolution + 1, resolution + 1, 2)
    s0, s1 = np.sign(G[..., 0]), np.sign(G[..., 1])

    def changes(s):
        c = np.stack([s[:-1, :-1], s[1:, :-1], s[:-1, 1:], s[1:, 1:]])
        return (c.max(0) >= 0) & (c.min(0) <= 0)

    # the root finder may probe non-finite points; F refuses them, the residual is then NaN
    g = lambda x: sub.forward(x.reshape(1, 1, 2))[0, 0] - x if np.all(np.isfinite(x)) else np.full(2, np.nan)
    roots = []
    for i, j in np.argwhere(changes(s0) & changes(s1)):
        x0 = np.array([(ticks[i] + ticks[i + 1]) / 2, (ticks[j] + ticks[j + 1]) / 2])
        sol = optimize.root(g, x0, tol=1e-14)
        if is_root(sub, sol.x) and all(np.abs(sol.x - r).max() > 1e-6 for r in roots):
            roots.append(sol.x)
    if not roots:
        _none_found(f"brute_force_roots_2d (network {e})", ensemble)
    return np.array(roots)


def roots_from_grid(ensemble, per_axis=25):
    """The roots of a single width-2 network reached by scipy's root finder from a grid of starts
    (certified by :func:`is_root`). Never empty (raises)."""
    g = lambda x: ensemble.forward(x.reshape(1, 1, -1))[0, 0] - x
    roots = []
    for a in np.linspace(-0.99, 0.99, per_axis):
        for c in np.linspace(-0.99, 0.99, per_axis):
            sol = optimize.root(g, np.array([a, c]), tol=1e-14)
            if is_root(ensemble, sol.x, 1e-12) and all(np.abs(sol.x - r).max() > 1e-8 for r in roots):
                roots.append(sol.x)
    if not roots:
        _none_found("roots_from_grid", ensemble)
    return np.array(roots)


def cauchy_ensemble(E=3, N=3, L=2, seed=4):
    """A small Cauchy ensemble (scale 4, tanh) for argument checks."""
    from fpkit import Ensemble, NetworkConfig

    return Ensemble.sample(NetworkConfig(N=N, L=L, law="cauchy", scale=4.0, activation="tanh"), E, seed=seed)
