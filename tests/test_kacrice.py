"""Tests of fpkit.kacrice: the Kac-Rice estimator against exact counts and closed forms, the spectral route
against the Ginibre-product (Ipsen-Forrester) exponent, seeds and argument checks.

Comparisons of two random estimates use |a - b| <= 4 * sqrt(se_a^2 + se_b^2): with the seeds fixed the
outcome is deterministic, and a wrong density, conditioning or determinant (errors of a few percent and
more) fails it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from fpkit import kacrice as kr
from fpkit import spectra as sp
from fpkit.engine import find_fixed_points
from fpkit.network import Ensemble, NetworkConfig
from fpkit.regimes import CAUCHY_REGIME, GAUSSIAN_REGIME
from fpkit.sampling import hill_estimator
from fpkit.theory.kac_rice_sampling import split_cauchy_sum

Z = 4.0  # standard errors allowed between two independent estimates


def close(a, se_a, b, se_b, z=Z):
    return abs(a - b) <= z * math.hypot(se_a, se_b)


# --------------------------------------------------------------------------- exact counts at N = 1


def _layer_grid(w, b, n=400, zmax=40.0):
    """Points of [-1, 1] where each layer's pre-activation z_l(x) (monotone in x) runs over a grid of [-zmax, zmax]."""
    pts = [np.linspace(-1.0, 1.0, 2001)]
    t = np.linspace(-zmax, zmax, n)
    for layer in range(w.size):
        def z_of(x, layer=layer):
            y = x
            for k in range(layer):
                y = np.tanh(w[k] * y + b[k])
            return w[layer] * y + b[layer]

        z_lo, z_hi = z_of(-1.0), z_of(1.0)
        tt = t[(t > min(z_lo, z_hi)) & (t < max(z_lo, z_hi))]
        if tt.size == 0:
            continue
        lo, hi = np.full(tt.size, -1.0), np.full(tt.size, 1.0)
        for _ in range(60):  # bisection: x with z_l(x) = t
            mid = 0.5 * (lo + hi)
            right = (z_of(mid) < tt) if z_hi >= z_lo else (z_of(mid) > tt)
            lo, hi = np.where(right, mid, lo), np.where(right, hi, mid)
        pts.append(0.5 * (lo + hi))
    return np.unique(np.concatenate(pts))


def count_fixed_points_1d(w, b):
    """(all, stable) fixed points of x -> tanh(w_L ... tanh(w_1 x + b_1) ... + b_L) on (-1, 1).

    F is monotone (a composition of monotone maps), so between grid points where every layer's
    pre-activation is resolved (spacing 0.2 in z) each root is a sign change of F(x) - x; brentq
    polishes it. Stability: |F'(x*)| < 1.
    """
    def F(x):
        for wk, bk in zip(w, b):
            x = np.tanh(wk * x + bk)
        return x

    def dF(x):
        d = 1.0
        for wk, bk in zip(w, b):
            z = wk * x + bk
            d *= wk * (1.0 - np.tanh(z) ** 2)
            x = np.tanh(z)
        return d

    xs = _layer_grid(w, b)
    g = F(xs) - xs
    roots = [optimize.brentq(lambda x: F(x) - x, xs[i], xs[i + 1], xtol=1e-14)
             for i in np.flatnonzero(g[:-1] * g[1:] < 0)]
    roots += list(xs[g == 0])
    return len(roots), sum(abs(dF(r)) < 1 for r in roots)


@pytest.mark.parametrize("law", ["gaussian", "cauchy"])
@pytest.mark.parametrize("L", [1, 2, 3])
def test_estimator_matches_exact_counts_at_n1(law, L):
    cfg = NetworkConfig(N=1, L=L, law=law, scale=2.0, bias_scale=0.5, activation="tanh")
    E = 1500
    ens = Ensemble.sample(cfg, E, seed=11 + L)
    counts = np.array([count_fixed_points_1d(ens.weights[e, :, 0, 0], ens.biases[e, :, 0]) for e in range(E)])
    n_all, n_stable = counts[:, 0], counts[:, 1]
    assert np.all(n_all % 2 == 1)  # degree 1: an odd number of non-degenerate roots
    est = kr.kac_rice_estimate(cfg, 100_000, seed=3)
    se = lambda a: a.std(ddof=1) / math.sqrt(a.size)  # noqa: E731
    assert close(est.q_all, est.q_all_se, n_all.mean(), se(n_all))
    assert close(est.q_all_plain, est.q_all_plain_se, n_all.mean(), se(n_all))
    assert close(est.q_stable, est.q_stable_se, n_stable.mean(), se(n_stable))
    assert n_all.mean() > 1.1  # several fixed points occur: the comparison is not trivially 1 = 1
    assert abs(est.index_sum - 1.0) <= Z * est.index_sum_se


# --------------------------------------------------------------------------- closed form: one saturating unit


def one_unit_closed_form(law: str, s: float, beta: float) -> tuple[float, float]:
    """E[Q_all] and E[Q] for x = tanh(w x + b), w = s Z_w, b = beta Z_b (Z of ``law``), derived here.

    The line z = w x + b (the linear part) meets the saturating curve z = atanh(x) once or three
    times. Write the fixed-point condition as b = beta_w(x) := atanh(x) - w x. For w <= 1, beta_w
    increases strictly on (-1, 1) from -inf to inf: exactly one root. For w > 1, beta_w' =
    1/(1 - x^2) - w vanishes at +-x_c, x_c = sqrt(1 - 1/w); beta_w is odd, decreasing on
    (-x_c, x_c), so there are three roots iff |b| < b_c(w) := beta_w(-x_c) = w x_c - atanh(x_c),
    else one. Hence Q_all = 1 + 2 * 1[w > 1, |b| < b_c(w)] and

        E[Q_all] = 1 + 2 int_1^inf p_w(w) P(|b| < b_c(w)) dw.

    Stability, F'(x*) = w (1 - x*^2): for 0 <= w <= 1 the root is stable; for w > 1 the outer two
    of three roots (and a single root, which lies outside [-x_c, x_c]) have 0 < F' < 1, the middle
    one F' > 1, so Q = 1 + 1[|b| < b_c]; for -1 <= w < 0, F' in [w, 0): stable; for w < -1 the single
    root is stable iff |x*| > x_c, and since b = atanh(x*) + |w| x* increases with x*, iff
    |b| > b_s(w) := atanh(x_c) + |w| x_c. So

        E[Q] = P(|w| <= 1) + int_1^inf p_w (1 + P(|b| < b_c)) dw + int_{-inf}^{-1} p_w P(|b| > b_s) dw.

    One-dimensional integrals of elementary functions (P(|b| < t) = 2 Phi(t / beta) - 1 for
    Gaussian b, (2 / pi) arctan(t / beta) for Cauchy b), done by adaptive quadrature.
    """
    dist = stats.norm(scale=s) if law == "gaussian" else stats.cauchy(scale=s)
    bdist = stats.norm(scale=beta) if law == "gaussian" else stats.cauchy(scale=beta)

    def inside(t):
        return bdist.cdf(t) - bdist.cdf(-t)

    def xc(w):
        return math.sqrt(1.0 - 1.0 / abs(w))

    def bc(w):
        return w * xc(w) - math.atanh(xc(w))

    def bs(w):
        return math.atanh(xc(w)) + abs(w) * xc(w)

    q3 = integrate.quad(lambda w: dist.pdf(w) * inside(bc(w)), 1.0, np.inf, limit=200)[0]
    q_all = 1.0 + 2.0 * q3
    p_pos = dist.sf(1.0)
    q_neg = integrate.quad(lambda w: dist.pdf(w) * (1.0 - inside(bs(w))), -np.inf, -1.0, limit=200)[0]
    q_stable = (dist.cdf(1.0) - dist.cdf(-1.0)) + p_pos + q3 + q_neg
    return q_all, q_stable


@pytest.mark.parametrize("law", ["gaussian", "cauchy"])
def test_estimator_matches_closed_form_of_one_saturating_unit(law):
    q_all, q_stable = one_unit_closed_form(law, 2.5, 0.7)
    cfg = NetworkConfig(N=1, L=1, law=law, scale=2.5, bias_scale=0.7, activation="tanh")
    est = kr.kac_rice_estimate(cfg, 200_000, seed=5)
    assert abs(est.q_all - q_all) <= Z * est.q_all_se
    assert abs(est.q_stable - q_stable) <= Z * est.q_stable_se
    assert est.q_all_se < 0.02 * q_all  # the check is sharp
    if law == "cauchy":  # the scale-mixture conditioning is unbiased too
        mix = kr.kac_rice_estimate(cfg, 200_000, seed=6, conditioning="mixture")
        assert abs(mix.q_all - q_all) <= Z * mix.q_all_se


def test_closed_form_matches_counting():
    q_all, q_stable = one_unit_closed_form("gaussian", 2.5, 0.7)
    rng = np.random.default_rng(0)
    w, b = 2.5 * rng.standard_normal(2000), 0.7 * rng.standard_normal(2000)
    counts = np.array([count_fixed_points_1d(np.array([wi]), np.array([bi])) for wi, bi in zip(w, b)])
    se = counts.std(axis=0, ddof=1) / math.sqrt(len(counts))
    assert abs(counts[:, 0].mean() - q_all) <= Z * se[0]
    assert abs(counts[:, 1].mean() - q_stable) <= Z * se[1]


def test_uniform_proposal_flags_infinite_variance_for_cauchy_weights():
    # p_z(u) ~ 1/u^2 against q(u) ~ e^(-2|u|): the tail diagnostic must say so
    est = kr.kac_rice_estimate(CAUCHY_REGIME.replace(N=4, L=2), 20_000, seed=1, proposal="uniform",
                               conditioning="mixture")
    assert est.infinite_variance_suspected
    good = kr.kac_rice_estimate(GAUSSIAN_REGIME.replace(N=4, L=2), 20_000, seed=1)
    assert not good.infinite_variance_suspected


# --------------------------------------------------------------------------- N = 2, 4 against counting


def census(ens, seed, starts):
    """Per network: all fixed points found (iteration + deflated Newton), stable ones, index sum."""
    res = find_fixed_points(ens, n_starts=starts, seed=seed, max_iter=1000, newton=True, newton_starts=starts)
    idx = sp.fixed_point_index(res.eigenvalues)
    E = ens.n_networks
    n_all = np.bincount(res.fp_network, minlength=E)
    n_stable = np.bincount(res.fp_network[res.stable], minlength=E)
    index_sum = np.bincount(res.fp_network, weights=idx, minlength=E)
    return n_all, n_stable, index_sum


@pytest.mark.parametrize("N,L,scale,E,starts", [(2, 1, 1.0, 500, 16), (4, 2, 1.0, 500, 16),
                                                (2, 2, 2.5, 300, 32), (4, 1, 2.0, 250, 32)])
def test_estimator_error_bars_cover_counted_mean(N, L, scale, E, starts):
    # GAUSSIAN_REGIME (scale 1, one fixed point nearly always) and the same with larger weights
    cfg = GAUSSIAN_REGIME.replace(N=N, L=L, scale=scale)
    ens = Ensemble.sample(cfg, E, seed=21)
    n_all, n_stable, index_sum = census(ens, seed=22, starts=starts)
    complete = np.mean(index_sum == 1)
    assert complete >= 0.97  # the census closes its index sum almost everywhere: counts are complete
    est = kr.kac_rice_estimate(cfg, 60_000, seed=23)
    se = lambda a: a.std(ddof=1) / math.sqrt(a.size)  # noqa: E731
    assert close(est.q_all, est.q_all_se, n_all.mean(), se(n_all))
    assert close(est.q_stable, est.q_stable_se, n_stable.mean(), se(n_stable))
    if scale > 1.0:
        assert n_all.mean() > 1.1


@pytest.mark.parametrize("config", [GAUSSIAN_REGIME.replace(N=4, L=2, scale=2.5), CAUCHY_REGIME.replace(N=4, L=1)])
def test_index_sum_is_one(config):
    est = kr.kac_rice_estimate(config, 40_000, seed=8)
    assert abs(est.index_sum - 1.0) <= Z * est.index_sum_se
    assert est.index_sum_se < 0.15
    assert est.q_all > 1.5  # many index -1 points: the sum is not trivially 1


# --------------------------------------------------------------------------- exact Cauchy conditioning


def test_cauchy_split_is_the_exact_conditional_law():
    rng = np.random.default_rng(4)
    g1, g2, S = 0.3, 1.7, 2.5
    n = 20_000
    a = split_cauchy_sum(np.tile([g1, g2], (n, 1)), np.full(n, S), rng)
    np.testing.assert_allclose(a.sum(axis=1), S, rtol=1e-12)
    dens = lambda x: stats.cauchy.pdf(x, scale=g1) * stats.cauchy.pdf(S - x, scale=g2)  # noqa: E731
    # the exact conditional density is proportional to dens; its CDF by quadrature on a bounded range
    # (the tails beyond |x| = 1e4 hold less than 1e-11 of the mass) with the two peaks as break points
    edges = np.array([-1e4, -2.0, -0.5, 0.0, 0.2, 0.5, 1.0, 2.0, 2.5, 4.0, 1e4])
    pieces = [integrate.quad(dens, lo, hi, limit=200)[0] for lo, hi in zip(edges[:-1], edges[1:])]
    cdf = np.cumsum(pieces)[:-1] / np.sum(pieces)
    grid = edges[1:-1]
    emp = (a[:, 0][:, None] <= grid).mean(axis=0)
    assert np.max(np.abs(emp - cdf)) < 0.015  # KS-type bound; 1.36/sqrt(n) = 0.0096 at 95 %
    # a large target far in the tail (the sampler's other envelope)
    b = split_cauchy_sum(np.tile([0.5, 0.5, 1.0], (1000, 1)), np.full(1000, 1e6), rng)
    np.testing.assert_allclose(b.sum(axis=1), 1e6, rtol=1e-12)
    assert np.all(np.isfinite(b))


# --------------------------------------------------------------------------- spectral route


@pytest.mark.parametrize("L", [1, 2, 3, 6])
@pytest.mark.parametrize("tau", [0.7, 1.0, 1.3, 2.0, 6.0])
def test_log_potential_is_the_ginibre_product_exponent(L, tau):
    law = sp.FreeJacobianLaw.linear(L, sigma_w=tau ** (1.0 / L))
    expected = kr.ginibre_product_log_potential(L, tau)
    assert law.log_potential(1.0) == pytest.approx(expected, abs=1e-9)
    if tau > 1.0:  # near the transition the exponent is (log tau)^2 / L to leading order
        assert expected > 0


def test_ginibre_product_exponent_against_sampled_determinants():
    # Ipsen & Forrester: the mean number of fixed points of the multi-layer Gaussian map is
    # E|det(I - tau X)|, X a product of Ginibre matrices; its exponent, sampled at N = 120
    rng = np.random.default_rng(7)
    N, L, tau = 120, 2, 3.0
    logs = []
    for _ in range(60):
        X = np.eye(N)
        for _ in range(L):
            X = rng.standard_normal((N, N)) / math.sqrt(N) @ X
        logs.append(np.linalg.slogdet(np.eye(N) - tau * X)[1] / N)
    mean_log = float(np.mean(logs))
    assert mean_log == pytest.approx(kr.ginibre_product_log_potential(L, tau), abs=0.02)
    assert float(np.std(logs)) < 0.02  # self-averaging: the typical value is the exponent


def test_layer_spectrum_powers_give_the_depth_dependence():
    cfg = GAUSSIAN_REGIME.replace(N=50, scale=3.0)
    one = kr.layer_spectrum(cfg)
    q = kr.meanfield_fixed_variance(cfg)
    atoms = sp.gaussian_d2_atoms("tanh", q)
    for L in (1, 3, 5):
        law = sp.FreeJacobianLaw(np.full(L, 9.0), [atoms] * L)
        assert one.log_potential(L) == pytest.approx(law.log_potential(1.0), rel=2e-3, abs=1e-6)
        assert one.log_potential(L) == pytest.approx(L * one.log_potential(1), rel=1e-9)
    ordered = kr.layer_spectrum(GAUSSIAN_REGIME)
    assert ordered.log_potential(4) == 0.0 and ordered.mass_outside == 0.0


def test_spectral_route_matches_exact_estimator_in_the_ordered_phase():
    cfg = GAUSSIAN_REGIME.replace(N=6, L=2)
    sr = kr.spectral_route(cfg, 3000, seed=2)
    est = kr.kac_rice_estimate(cfg, 20_000, seed=2)
    assert sr.q_all == pytest.approx(est.q_all, abs=0.03)
    # the spectral route calls every point stable here (the eigenvalue law lies inside the unit disc);
    # at N = 6 a few fixed points have one eigenvalue outside it, which the N -> infinity law cannot see
    assert sr.q_stable == sr.q_all and est.q_stable < est.q_all


def test_complexity_is_zero_when_ordered_and_positive_when_chaotic():
    ordered = kr.complexity(GAUSSIAN_REGIME.replace(L=3))
    assert ordered["typical"] == 0.0 and ordered["gaussian_family"] == pytest.approx(0.0, abs=1e-12)
    chaotic = kr.complexity(GAUSSIAN_REGIME.replace(L=3, scale=3.0))
    assert chaotic["typical"] > 0.05
    assert chaotic["gaussian_family"] >= chaotic["typical"]


# --------------------------------------------------------------------------- seeds and arguments


def test_same_seed_same_numbers():
    cfg = CAUCHY_REGIME.replace(N=3, L=2)
    a = kr.kac_rice_estimate(cfg, 3000, seed=9, batch_size=700)
    b = kr.kac_rice_estimate(cfg, 3000, seed=9, batch_size=700)
    c = kr.kac_rice_estimate(cfg, 3000, seed=10, batch_size=700)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.q_all == b.q_all and a.q_stable == b.q_stable
    assert not np.array_equal(a.scores, c.scores)
    g1 = kr.kac_rice_estimate(cfg, 500, seed=np.random.default_rng(1))
    g2 = kr.kac_rice_estimate(cfg, 500, seed=np.random.default_rng(1))
    np.testing.assert_array_equal(g1.scores, g2.scores)
    s1 = kr.spectral_route(GAUSSIAN_REGIME.replace(N=3, L=2), 500, seed=4)
    s2 = kr.spectral_route(GAUSSIAN_REGIME.replace(N=3, L=2), 500, seed=4)
    assert s1 == s2


def test_table_caches_and_resumes(tmp_path, monkeypatch):
    cfgs = [GAUSSIAN_REGIME.replace(N=2, L=L) for L in (1, 2)]
    t1 = kr.kac_rice_table(cfgs, 1000, seed=1, cache_dir=str(tmp_path), progress=False)
    assert len(list(tmp_path.glob("*.fpkacrice"))) == 2 and not list(tmp_path.glob("*.lock"))
    pd.testing.assert_frame_equal(t1, kr.kac_rice_table(cfgs, 1000, seed=1, progress=False))  # as computed
    calls = _count_estimates(monkeypatch)
    t2 = kr.kac_rice_table(cfgs[::-1], 1000, seed=1, cache_dir=str(tmp_path), progress=False)
    assert calls == []  # every row read back
    pd.testing.assert_frame_equal(t2, t1[::-1].reset_index(drop=True))  # bit for bit, order independent
    kr.kac_rice_table(cfgs[:1], 1000, seed=2, cache_dir=str(tmp_path), progress=False)
    kr.kac_rice_table(cfgs[:1], 1000, seed=1, cache_dir=str(tmp_path), progress=False, proposal="image")
    assert len(calls) == 2 and len(list(tmp_path.glob("*.fpkacrice"))) == 4  # seed and options are in the key


def _count_estimates(monkeypatch, delay: float = 0.0):
    """Make kr.kac_rice_estimate record the configurations it computes (and sleep ``delay`` s in each)."""
    import time

    calls, real = [], kr.kac_rice_estimate

    def counted(config, *args, **kwargs):
        calls.append(config.L)
        time.sleep(delay)
        return real(config, *args, **kwargs)

    monkeypatch.setattr(kr, "kac_rice_estimate", counted)
    return calls


def test_two_runs_on_one_cache_compute_each_configuration_once(tmp_path, monkeypatch):
    """A configuration is computed under its lock, after reading the cache again: two runs side by side
    (threads here; the lock is an flock on a file of its own, process or thread alike) never compute one
    entry twice, and both return the same table."""
    import threading

    cfgs = [GAUSSIAN_REGIME.replace(N=2, L=L) for L in (1, 2, 3)]
    calls = _count_estimates(monkeypatch, delay=0.3)
    tables = [None, None]

    def run(i, order):
        tables[i] = kr.kac_rice_table(order, 200, seed=3, cache_dir=str(tmp_path), progress=False)

    threads = [threading.Thread(target=run, args=(0, cfgs)), threading.Thread(target=run, args=(1, cfgs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(calls) == [1, 2, 3]  # without the lock each run computes all three
    pd.testing.assert_frame_equal(tables[0], tables[1])


def _forged(path, change):
    """Rewrite the body of a Kac-Rice cache file with ``change`` and a recomputed checksum (a forged file)."""
    import hashlib
    import json

    blob = path.read_bytes()
    head = len(kr.KacRiceCache.MAGIC) + 65
    body = json.loads(blob[head:])
    change({c["name"]: c for c in body["columns"]}, body)
    payload = json.dumps(body, allow_nan=True).encode()
    path.write_bytes(kr.KacRiceCache.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)


@pytest.mark.parametrize("change, why", [
    (lambda cols, body: cols["q_all"].update(values=[float("nan")]), "q_all, q_stable or index_sum is not finite"),
    (lambda cols, body: cols["index_sum"].update(values=[float("inf")]), "q_all, q_stable or index_sum is not fin"),
    (lambda cols, body: cols["L"].update(values=[7]), "column 'L' holds"),
    (lambda cols, body: cols["n_samples"].update(values=[10]), "column 'n_samples' holds"),
    (lambda cols, body: body.update(columns=[c for n, c in cols.items() if n != "q_stable"]),
     "columns ['q_stable'] are missing"),
    (lambda cols, body: [body.update(n_rows=2)] + [c.update(values=c["values"] * 2) for c in cols.values()],
     "2 rows where the key asks for 1"),
])
def test_a_cache_file_that_makes_no_sense_for_its_key_is_recomputed(tmp_path, change, why):
    """Checksummed, under the right key, written by these versions, and still wrong: reported and recomputed."""
    cfg = GAUSSIAN_REGIME.replace(N=2, L=1)
    first = kr.kac_rice_table([cfg], 200, seed=1, cache_dir=tmp_path, progress=False)
    (path,) = tmp_path.glob("*.fpkacrice")
    _forged(path, change)
    with pytest.warns(UserWarning, match=f"Kac-Rice cache file {path} does not fit its key") as record:
        again = kr.kac_rice_table([cfg], 200, seed=1, cache_dir=tmp_path, progress=False)
    assert any(why in str(w.message) for w in record), [str(w.message) for w in record]
    pd.testing.assert_frame_equal(again, first)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewritten: read back without complaint
        pd.testing.assert_frame_equal(kr.kac_rice_table([cfg], 200, seed=1, cache_dir=tmp_path, progress=False), first)


def test_a_damaged_cache_file_is_recomputed(tmp_path):
    cfg = GAUSSIAN_REGIME.replace(N=2, L=1)
    first = kr.kac_rice_table([cfg], 200, seed=1, cache_dir=tmp_path, progress=False)
    (path,) = tmp_path.glob("*.fpkacrice")
    blob = path.read_bytes()
    for damaged in (blob[: len(blob) // 2], blob[:60] + bytes([blob[60] ^ 0xFF]) + blob[61:]):
        path.write_bytes(damaged)
        with pytest.warns(UserWarning, match="is damaged"):
            pd.testing.assert_frame_equal(kr.kac_rice_table([cfg], 200, seed=1, cache_dir=tmp_path,
                                                            progress=False), first)


def test_a_full_disk_fails_before_any_work_and_a_failed_write_keeps_the_row(tmp_path, monkeypatch):
    import errno

    import fpkit._io as io_mod

    cfgs = [GAUSSIAN_REGIME.replace(N=2, L=L) for L in (1, 2)]
    expected = kr.kac_rice_table(cfgs, 200, seed=1, progress=False)
    calls = _count_estimates(monkeypatch)
    real_write = io_mod._write_all

    def full(fh, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io_mod, "_write_all", full)
    with pytest.raises(OSError, match="No space left on device"):
        kr.kac_rice_table(cfgs, 200, seed=1, cache_dir=tmp_path / "full", progress=False)
    assert calls == []  # refused before any work
    monkeypatch.setattr(io_mod, "_write_all", real_write)

    def store(self, key, desc, table):  # the disk fills up after the run started
        raise OSError(errno.ENOSPC, f"No space left on device (writing {str(self.path(key))!r})")

    monkeypatch.setattr(kr.KacRiceCache, "store", store)
    cache = tmp_path / "fills"
    with pytest.warns(UserWarning, match="could not write the Kac-Rice cache file .*fpkacrice"):
        table = kr.kac_rice_table(cfgs, 200, seed=1, cache_dir=cache, progress=False)
    pd.testing.assert_frame_equal(table, expected)  # every row kept
    assert calls == [1, 2] and not list(cache.glob("*.fpkacrice"))


def test_a_cache_key_holds_the_kac_rice_code_hash():
    from fpkit._provenance import code_hash

    assert kr.kac_rice_code_hash() == kr.KacRiceCache.code_hash() == code_hash("fpkit.kacrice")
    cfg = GAUSSIAN_REGIME.replace(N=2, L=1)
    desc = {"config": cfg.as_dict(), "settings": {"n_samples": 10, "seed": 0}}
    assert kr.KacRiceCache.make_key(desc) == kr.KacRiceCache.make_key(desc, kr.kac_rice_code_hash())
    assert kr.KacRiceCache.make_key(desc, "a")[0] != kr.KacRiceCache.make_key(desc, "b")[0]


def test_bad_arguments():
    cfg = GAUSSIAN_REGIME.replace(N=2, L=1)
    with pytest.raises(TypeError, match="config"):
        kr.kac_rice_estimate("gaussian", 100, seed=0)
    with pytest.raises(ValueError, match="n_samples"):
        kr.kac_rice_estimate(cfg, 1, seed=0)
    with pytest.raises(TypeError, match="n_samples"):
        kr.kac_rice_estimate(cfg, 10.5, seed=0)
    with pytest.raises(ValueError, match="proposal"):
        kr.kac_rice_estimate(cfg, 100, seed=0, proposal="flat")
    with pytest.raises(ValueError, match="conditioning"):
        kr.kac_rice_estimate(cfg, 100, seed=0, conditioning="approx")
    with pytest.raises(ValueError, match="batch_size"):
        kr.kac_rice_estimate(cfg, 100, seed=0, batch_size=0)
    with pytest.raises(ValueError, match="seed"):
        kr.kac_rice_estimate(cfg, 100, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        kr.kac_rice_estimate(cfg, 100, seed=None)
    with pytest.raises(TypeError, match="progress"):
        kr.kac_rice_estimate(cfg, 100, seed=0, progress="yes")
    with pytest.raises(ValueError, match="law"):
        kr.kac_rice_estimate(NetworkConfig(N=2, L=1, law="alpha_stable", alpha=1.5), 100, seed=0)
    with pytest.raises(ValueError, match="law='gaussian'"):
        kr.spectral_route(CAUCHY_REGIME.replace(N=2, L=1), 100, seed=0)
    with pytest.raises(ValueError, match="law='gaussian'"):
        kr.complexity(CAUCHY_REGIME)
    with pytest.raises(ValueError, match="L"):
        kr.ginibre_product_log_potential(0, 2.0)
    with pytest.raises(ValueError, match="tau"):
        kr.ginibre_product_log_potential(2, -1.0)
    with pytest.raises(ValueError, match="L"):
        kr.layer_spectrum(GAUSSIAN_REGIME).log_potential(0)
    with pytest.raises(ValueError, match="z"):
        sp.FreeJacobianLaw.linear(2).log_potential(0.0)
    with pytest.raises(TypeError, match="configs"):
        kr.kac_rice_table([cfg, "x"], 100, seed=0)


# --------------------------------------------------------------------------- when Q_all is no valid check


def test_the_heavy_tail_rule_on_scores_of_known_tail():
    """score_tail's rule (Hill index < 2 or one score over 10 % of the sum), on 40 simulated samples of 20,000
    scores each: it flags Pareto tails of index 1 and 1.5 (infinite variance) every time, and never flags
    index 3 or 5 or bounded scores (finite variance)."""
    from fpkit.theory.kac_rice import score_tail

    rng = np.random.default_rng(0)
    for alpha, expect in [(1.0, True), (1.5, True), (3.0, False), (5.0, False), (None, False)]:
        flags = []
        for _ in range(40):
            f = rng.uniform(0.0, 3.0, 20_000) if alpha is None else rng.pareto(alpha, 20_000) + 1.0
            tail, share, _ = score_tail(f)
            flags.append(tail < 2.0 or share > 0.1)
        assert np.mean(flags) == (1.0 if expect else 0.0), (alpha, np.mean(flags))


def test_cauchy_q_all_scores_have_the_tail_the_flag_assumes():
    # the premise of the law-based part of the flag: for Cauchy weights P(f > t) ~ t^-2; Gaussian: light
    cauchy = kr.kac_rice_estimate(NetworkConfig(N=1, L=1, law="cauchy", scale=4.0, bias_scale=1.0,
                                                activation="tanh"), 200_000, seed=7)
    gauss = kr.kac_rice_estimate(NetworkConfig(N=1, L=1, law="gaussian", scale=1.0, bias_scale=0.5,
                                               activation="tanh"), 200_000, seed=7)
    hill = lambda e, k: hill_estimator(e.scores[e.scores > 0], k=k).alpha  # noqa: E731
    assert all(hill(cauchy, k) < 2.2 for k in (300, 1000, 3000))
    assert all(hill(gauss, k) > 4.0 for k in (300, 1000, 3000))
    assert cauchy.infinite_variance_suspected and not gauss.infinite_variance_suspected


def test_q_all_is_flagged_where_the_census_lies_above_it():
    """Issue 27: at Cauchy N = 2, L = 8 the census's mean Q_all (1.199 +- 0.015) lay above seven estimates
    (1.05-1.14) whose Hill index was often above 2: the law-based rule flags every one."""
    cfg = CAUCHY_REGIME.replace(N=2, L=8)
    for seed in (1, 2, 3):
        est = kr.kac_rice_estimate(cfg, 20_000, seed=seed)
        assert est.infinite_variance_suspected and est.summary()["infinite_variance_suspected"]
    assert not kr.kac_rice_estimate(GAUSSIAN_REGIME.replace(N=2, L=1), 20_000, seed=1).infinite_variance_suspected


# --------------------------------------------------------------------------- E[Q] with a valid standard error


@pytest.mark.parametrize("law, L", [("gaussian", 2), ("cauchy", 3)])
def test_mean_stable_fixed_points_matches_exact_counts_at_n1(law, L):
    cfg = NetworkConfig(N=1, L=L, law=law, scale=2.0, bias_scale=0.5, activation="tanh")
    E = 1500
    ens = Ensemble.sample(cfg, E, seed=40 + L)
    n_stable = np.array([count_fixed_points_1d(ens.weights[e, :, 0, 0], ens.biases[e, :, 0])[1] for e in range(E)])
    est = kr.mean_stable_fixed_points(cfg, seed=41, standard_error=0.004)
    assert est.q_stable_se <= 1.25 * 0.004 and not est.capped  # sized from a 1,024-sample run's sd
    assert close(est.q_stable, est.q_stable_se, n_stable.mean(), n_stable.std(ddof=1) / math.sqrt(E))
    assert not est.infinite_variance_suspected


@pytest.mark.parametrize("config, E", [(CAUCHY_REGIME.replace(N=2, L=8), 600),
                                       (GAUSSIAN_REGIME.replace(N=2, L=2, scale=2.5), 400)])
def test_mean_stable_fixed_points_matches_the_census_at_n2(config, E):
    """The stable points counted by iteration and deflated Newton (all of them: every attractor of these
    networks has a basin that 32 starts find) against E[Q]; within 4 combined standard errors."""
    n_stable = census(Ensemble.sample(config, E, seed=42), seed=43, starts=32)[1]
    est = kr.mean_stable_fixed_points(config, seed=44, standard_error=0.005)
    assert close(est.q_stable, est.q_stable_se, n_stable.mean(), n_stable.std(ddof=1) / math.sqrt(E))
    assert not est.infinite_variance_suspected


def test_mean_stable_fixed_points_standard_error_is_valid_and_sized():
    cfg = CAUCHY_REGIME.replace(N=2, L=2)
    runs = [kr.mean_stable_fixed_points(cfg, seed=s, n_samples=1500) for s in range(40)]
    means = np.array([r.q_stable for r in runs])
    ses = np.array([r.q_stable_se for r in runs])
    # the spread of 40 independent estimates is what their standard errors say (chi-square: 0.75-1.3 at 95 %)
    assert 0.7 <= means.std(ddof=1) / ses.mean() <= 1.4
    big = kr.mean_stable_fixed_points(cfg, seed=99, standard_error=0.003)
    assert abs(means.mean() - big.q_stable) <= 4 * math.hypot(ses.mean() / math.sqrt(40), big.q_stable_se)
    assert big.target_se == 0.003 and big.pilot_samples == 1024 and 0.0025 <= big.q_stable_se <= 0.0035
    capped = kr.mean_stable_fixed_points(cfg, seed=99, standard_error=0.001, max_samples=5000)
    assert capped.capped and capped.n_samples == 5000 and capped.q_stable_se > 0.001


def test_mean_stable_fixed_points_is_seeded_and_checks_its_arguments():
    cfg = GAUSSIAN_REGIME.replace(N=3, L=2)
    a = kr.mean_stable_fixed_points(cfg, seed=5, n_samples=500)
    b = kr.mean_stable_fixed_points(cfg, seed=5, n_samples=500)
    c = kr.mean_stable_fixed_points(cfg, seed=6, n_samples=500)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.array_equal(a.scores, c.scores)
    assert a.target_se is None and a.pilot_samples == 0 and a.summary()["n_samples"] == 500
    for call, exc, match in [
        (lambda: kr.mean_stable_fixed_points("cfg", seed=0), TypeError, "config"),
        (lambda: kr.mean_stable_fixed_points(cfg, seed=0, standard_error=0.0), ValueError, "standard_error"),
        (lambda: kr.mean_stable_fixed_points(cfg, seed=0, n_samples=1), ValueError, "n_samples"),
        (lambda: kr.mean_stable_fixed_points(cfg, seed=0, pilot_samples=3), ValueError, "pilot_samples"),
        (lambda: kr.mean_stable_fixed_points(cfg, seed=0, max_samples=1), ValueError, "max_samples"),
        (lambda: kr.mean_stable_fixed_points(cfg, seed=0, batch_size=0), ValueError, "batch_size"),
        (lambda: kr.mean_stable_fixed_points(cfg, seed=None), TypeError, "seed"),
        (lambda: kr.mean_stable_fixed_points(cfg, seed=0, proposal="flat"), ValueError, "proposal"),
        (lambda: kr.mean_stable_fixed_points(cfg, seed=0, progress="yes"), TypeError, "progress"),
    ]:
        with pytest.raises(exc, match=match):
            call()


# --------------------------------------------------------------------------- defects of issue 25


def test_tiny_cauchy_scales_work_or_fail_clearly():
    """Issue 25: kac_rice_estimate raised 'report this as a bug' for Cauchy scales <= 1e-200."""
    for scale in (1e-100, 1e-200, 1e-300):
        cfg = NetworkConfig(N=2, L=2, law="cauchy", scale=scale, bias_scale=1.0, activation="tanh")
        est = kr.kac_rice_estimate(cfg, 2000, seed=1)
        # F is constant to within float64 (the weights vanish): exactly one fixed point, stable
        assert est.q_all == 1.0 and abs(est.q_stable - 1.0) <= Z * est.q_stable_se + 1e-12
        assert abs(est.index_sum - 1.0) <= Z * est.index_sum_se + 1e-12
    no_bias = NetworkConfig(N=2, L=2, law="cauchy", scale=1e-200, bias_law=None, activation="tanh")
    with pytest.raises(ValueError, match="config.scale = 1e-200 .* too small"):
        kr.kac_rice_estimate(no_bias, 200, seed=1)
    with pytest.raises(ValueError, match="config.scale"):
        kr.kac_rice_estimate(GAUSSIAN_REGIME.replace(N=2, L=3, scale=1e-120, bias_law=None), 200, seed=1)


def test_cauchy_split_works_in_any_units_and_exactly():
    rng = np.random.default_rng(3)
    gam = rng.uniform(0.1, 3.0, (500, 4))
    S = 3.0 * rng.standard_cauchy(500)
    base = split_cauchy_sum(gam, S, np.random.default_rng(8))
    for power in (-1000, -700, 600):  # scaling by a power of two is exact: the same draws, scaled
        scaled = split_cauchy_sum(np.ldexp(gam, power), np.ldexp(S, power), np.random.default_rng(8))
        np.testing.assert_array_equal(scaled, np.ldexp(base, power))
    tiny = split_cauchy_sum(gam * 1e-300, S * 1e-300, np.random.default_rng(8))
    assert np.all(np.isfinite(tiny))
    np.testing.assert_allclose(tiny.sum(axis=1), S * 1e-300, rtol=1e-10)


def test_kac_rice_linear_algebra_is_single_threaded_and_thread_count_free(monkeypatch):
    """Issue 25: the Kac-Rice linear algebra runs under fpkit.backend.single_threaded_blas (the numbers do not
    depend on FPKIT_NUM_THREADS nor on the BLAS threads; here BLAS is set to two threads first)."""
    from threadpoolctl import ThreadpoolController, threadpool_limits

    cfg = CAUCHY_REGIME.replace(N=10, L=4)  # big enough to be split among two threads
    seen = []
    controller = ThreadpoolController()
    for name in ("slogdet", "eigvals"):
        original = getattr(np.linalg, name)

        def spy(*args, _original=original, **kwargs):
            seen.extend(c.num_threads for c in controller.lib_controllers if c.user_api == "blas")
            return _original(*args, **kwargs)

        monkeypatch.setattr(np.linalg, name, spy)
    results = []
    with threadpool_limits(limits=2, user_api="blas"):
        for threads in ("1", "2"):
            monkeypatch.setenv("FPKIT_NUM_THREADS", threads)
            results.append(kr.kac_rice_estimate(cfg, 3000, seed=5, batch_size=1500).scores)
    assert seen and set(seen) == {1}
    np.testing.assert_array_equal(results[0], results[1])


# --------------------------------------------------------------------------- found by the fuzz (tests/test_fuzz.py)


def test_score_tail_is_scale_free_at_the_ends_of_the_float64_range():
    """Scores of 1e300 overflowed (total**2), [0, 5e-324] gave 0/0: the same numbers in units of the largest."""
    from fpkit.theory.kac_rice import score_tail

    f = np.random.default_rng(0).pareto(2.5, 400)
    tail, share, ess = score_tail(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for c in (1e-300, 1e300):
            t2, s2, e2 = score_tail(c * f)
            assert t2 == pytest.approx(tail, rel=1e-12) and s2 == pytest.approx(share, rel=1e-12)
            assert e2 == pytest.approx(ess, rel=1e-12)
        assert score_tail(np.array([0.0, 5e-324])) == (math.inf, 1.0, 1.0)
        assert score_tail(np.full(30, 1e300))[1:] == pytest.approx((1 / 30, 30.0))


def test_split_cauchy_sum_with_scales_beyond_each_others_range():
    """Scales 1e-300 and 1e300 in one row (2^-1074 of the unit: 0 in it) divided by zero, and a total far above
    every scale made 0/0: warnings, and a probability of NaN. Now every row sums to its total, a negligible
    variable gets 0."""
    gam = np.array([[1.0, 0.5, 0.0], [2.0, 1e-300, 1e300], [1e-300, 1e-300, 1e-300], [1.0, 0.5, 0.0]])
    total = np.array([1e300, -4.0, -1e300, 0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = split_cauchy_sum(gam, total, np.random.default_rng(0))
    np.testing.assert_allclose(out.sum(axis=-1), total, rtol=1e-12, atol=1e-12)
    assert out[1, 1] == 0.0 and np.all(out[gam == 0] == 0)
    assert np.count_nonzero(out[2]) == 1  # both tiny: the huge sum goes to one of them
    ordinary = split_cauchy_sum(gam[[0, 3]][:, :2], np.array([0.7, 0.3]), np.random.default_rng(5))
    with pytest.raises(ValueError, match="gam: a row whose scales are all 0"):
        split_cauchy_sum(np.zeros((1, 2)), np.ones(1), np.random.default_rng(0))
    with pytest.raises(ValueError, match="total must have the shape of gam"):
        split_cauchy_sum(gam, np.ones(3), np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        split_cauchy_sum(gam, total, 0)
    np.testing.assert_allclose(ordinary.sum(axis=-1), [0.7, 0.3], rtol=1e-14)


@pytest.mark.parametrize("call, error, match", [
    (lambda ks: ks.check_kac_rice_config(CAUCHY_REGIME.replace(bias_law="alpha_stable")), ValueError,
     "config: bias_law 'alpha_stable' needs a parameter"),
    (lambda ks: ks.KacRiceProposal("other", "tanh", [1.0], True), ValueError, "kind must be one of"),
    (lambda ks: ks.KacRiceProposal("image", "relu", [1.0], True), ValueError, "activation must be a sigmoid-type"),
    (lambda ks: ks.KacRiceProposal("image", "tanh", [0.0], True), ValueError, "scales must be a non-empty array"),
    (lambda ks: ks.KacRiceProposal("image", "tanh", [1.0], 1), TypeError, "heavy must be True or False"),
    (lambda ks: ks.KacRiceProposal("image", "tanh", [1.0], True).sample(np.random.default_rng(0), ()), ValueError,
     "shape must have at least one axis"),
    (lambda ks: ks.KacRiceProposal("image", "tanh", [1.0], True).logpdf("u"), TypeError, "u must be a numeric"),
    (lambda ks: ks.pilot_scales(GAUSSIAN_REGIME, 3), TypeError, "rng must be a numpy.random.Generator"),
    (lambda ks: ks.pilot_scales(GAUSSIAN_REGIME, np.random.default_rng(0), 0), ValueError, "n_components"),
    (lambda ks: ks.condition_last_layer(GAUSSIAN_REGIME.replace(N=2), np.zeros((3, 2)), np.zeros((3, 3)),
                                        np.random.default_rng(0), True), ValueError, "y and u must both have shape"),
    (lambda ks: ks.condition_last_layer(CAUCHY_REGIME.replace(N=2, scale=1e200), np.ones((1, 2)), np.ones((1, 2)),
                                        np.random.default_rng(0), True), ValueError, "too large for the Kac-Rice"),
    (lambda ks: ks.batch_seeds(0, GAUSSIAN_REGIME, 10, 0), ValueError, "batch_size must be an integer >= 1"),
    (lambda ks: ks.scale_bounds(GAUSSIAN_REGIME.replace(law="alpha_stable", alpha=1.5)), ValueError, "config.law"),
])
def test_the_sampling_pieces_check_their_arguments(call, error, match):
    """Public pieces of the estimator (kac_rice and spectral_route use them): before, these calls failed inside
    NumPy (or, for the bias law, named no argument)."""
    from fpkit.theory import kac_rice_sampling

    with pytest.raises(error, match=match):
        call(kac_rice_sampling)


def test_the_proposal_density_is_minus_infinity_far_out_without_warnings():
    from fpkit.theory.kac_rice_sampling import KacRiceProposal

    prop = KacRiceProposal("meanfield", "tanh", [0.5, 2.0], False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = prop.logpdf(np.array([[0.0, 0.0], [1e300, 1e300]]))
    assert np.isfinite(out[0]) and out[1] == -np.inf
