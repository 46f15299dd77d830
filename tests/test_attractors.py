"""The attractor stage of the census (fpkit.engine.census.stable): every stable fixed point counts, found
by iteration or by deflated Newton with doubling starts, until the ensemble's statistics stop moving."""

from __future__ import annotations

import numpy as np
import pytest

from fpkit import CAUCHY_REGIME, Ensemble, EngineSettings, find_fixed_points
from fpkit.engine.census.stable import attractor_statistics

CONVERGE = EngineSettings(n_starts=32, max_starts=64, max_iter=300, converge_attractors=True, attractor_starts=16)


@pytest.fixture(scope="module")
def cauchy_l1():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=6, L=1), 120, seed=21)
    return ens, find_fixed_points(ens, settings=CONVERGE, seed=3)


def test_every_attractor_found_is_a_stable_fixed_point(cauchy_l1):
    ens, res = cauchy_l1
    per = res.per_network()
    assert (per["Q"] >= per["Q_iteration"]).all()
    assert (per["Q"] == per["stable_fixed_points"]).all()
    stable = res.stable
    assert stable.any()
    x = res.x[stable]
    fx = np.stack([ens.forward(x[i][None, None], networks=np.array([res.fp_network[stable][i]]))[0, 0]
                   for i in range(len(x))])
    assert np.abs(fx - x).max() < 1e-9
    assert (res.spectral_radius[stable] < 1).all()


def test_newton_finds_attractors_iteration_missed(cauchy_l1):
    """Cauchy networks of depth 1 have attractors whose basins the uniform starts miss (the reason for the
    stage): Newton adds some, and they are stable points no iteration start reached."""
    _, res = cauchy_l1
    per = res.per_network()
    assert (per["Q"] > per["Q_iteration"]).sum() >= 3
    newton_stable = res.stable & (np.asarray(res.found_by) == "newton")
    assert (res.basin_count[newton_stable] == 0).all()


def test_rounds_double_stop_per_network_and_record_convergence(cauchy_l1):
    _, res = cauchy_l1
    c = res.convergence
    assert list(c.columns[:3]) == ["round", "networks", "newton_starts"]
    assert c["round"].iloc[0] == "iteration" and c["networks"].iloc[1] == 120
    assert (np.diff(c["networks"].iloc[1:].to_numpy()) <= 0).all()  # sequential stopping: never more networks
    assert (np.diff(c["mean_Q"].to_numpy()) >= 0).all() and (np.diff(c["P_multi"].to_numpy()) >= -1e-12).all()
    last = c.iloc[-1]
    if res.converged:
        assert max(last["moved_Q"], last["moved_P_multi"]) < CONVERGE.convergence_fraction or last["networks"] == 0
    else:
        assert len(c) == CONVERGE.attractor_rounds + 1
    stats = attractor_statistics(res.per_network()["Q"])
    assert stats["mean_Q"] == pytest.approx(last["mean_Q"]) and stats["P_multi"] == pytest.approx(last["P_multi"])


def test_a_cap_of_one_round_is_reported_as_not_converged():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=6, L=1), 60, seed=4)
    res = find_fixed_points(ens, settings=CONVERGE.replace(attractor_rounds=1), seed=3)
    assert len(res.convergence) == 2
    moved = max(res.convergence["moved_Q"].iloc[-1], res.convergence["moved_P_multi"].iloc[-1])
    assert res.converged == (moved < CONVERGE.convergence_fraction)


def test_stage_off_by_default_and_same_seed_same_result(cauchy_l1):
    ens, res = cauchy_l1
    plain = find_fixed_points(ens, settings=CONVERGE.replace(converge_attractors=False), seed=3)
    assert plain.convergence is None and plain.converged is None
    again = find_fixed_points(ens, settings=CONVERGE, seed=3)
    np.testing.assert_array_equal(again.x, res.x)
    np.testing.assert_array_equal(again.fp_network, res.fp_network)


def test_a_network_s_attractors_do_not_depend_on_the_others():
    """Per-network random streams: replacing one network by another draw leaves the others' counts alone."""
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=6, L=1), 40, seed=8)
    other = Ensemble.sample(CAUCHY_REGIME.replace(N=6, L=1), 40, seed=9)
    W, b = ens.weights.copy(), ens.biases.copy()
    W[5], b[5] = other.weights[5], other.biases[5]
    swapped = Ensemble(W, b, ens.activation)
    a = find_fixed_points(ens, settings=CONVERGE, seed=3).per_network()
    c = find_fixed_points(swapped, settings=CONVERGE, seed=3).per_network()
    keep = np.arange(40) != 5
    np.testing.assert_array_equal(a["Q"][keep], c["Q"][keep])


@pytest.mark.parametrize("N, L", [(2, 1), (4, 2)])
def test_mean_q_agrees_with_the_exact_kac_rice_mean(N, L):
    """The stage's mean number of attractors against the unbiased Kac-Rice estimate of E[Q]
    (fpkit.kacrice.mean_stable_fixed_points): within 3 combined standard errors."""
    from fpkit.kacrice import mean_stable_fixed_points

    cfg = CAUCHY_REGIME.replace(N=N, L=L)
    ens = Ensemble.sample(cfg, 600, seed=30 + N)
    res = find_fixed_points(ens, settings=CONVERGE, seed=31)
    stats = attractor_statistics(res.per_network()["Q"])
    kr = mean_stable_fixed_points(cfg, seed=32, standard_error=0.01)
    gap = abs(stats["mean_Q"] - kr.q_stable) / np.hypot(stats["se_Q"], kr.q_stable_se)
    assert gap < 3, (stats, kr.q_stable, kr.q_stable_se)


def test_bad_settings_name_the_argument():
    with pytest.raises(TypeError, match="converge_attractors"):
        EngineSettings(converge_attractors="yes")
    with pytest.raises(ValueError, match="attractor_starts"):
        EngineSettings(attractor_starts=0)
    with pytest.raises(ValueError, match="attractor_rounds"):
        EngineSettings(attractor_rounds=21)
    with pytest.raises(ValueError, match="convergence_fraction"):
        EngineSettings(convergence_fraction=0.0)
