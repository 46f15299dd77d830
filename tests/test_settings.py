"""EngineSettings: every option validated where it is made, with an error naming it."""

import pytest

from fpkit import Ensemble, EngineSettings, NetworkConfig, find_fixed_points

from conftest import cauchy_ensemble


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(newton="no"), TypeError, "newton must be True or False"),
    (dict(census="false"), TypeError, "census must be True or False"),
    (dict(n_starts=0), ValueError, "n_starts must be an integer >= 1"),
    (dict(max_starts=8, n_starts=16), ValueError, "max_starts must be >= n_starts"),
    (dict(unseen_target=0.0), ValueError, "unseen_target must be in"),
    (dict(merge_tol=1e-13), ValueError, "merge_tol must be > polish_tol"),
    (dict(seeding="sobol"), ValueError, "seeding must be one of"),
    (dict(census_min_rounds=9, census_rounds=8), ValueError, "census_min_rounds must be <="),
    (dict(tol=float("nan")), ValueError, "tol must be finite"),
    # tolerances that mean nothing in the activation's box (of side 1 or 2): issue 25
    (dict(tol=10.0), ValueError, r"tol must be in \(0.0, 0.01\)"),
    (dict(tol=0.01), ValueError, r"tol must be in \(0.0, 0.01\)"),
    (dict(merge_tol=0.5), ValueError, r"merge_tol must be in \(0.0, 0.01\)"),
    (dict(polish_tol=1.0), ValueError, r"polish_tol must be in \(0.0, 0.01\)"),
    (dict(root_tol=0.02), ValueError, r"root_tol must be in \(0.0, 0.01\)"),
    (dict(root_tol=1e-5), ValueError, "merge_tol must be > root_tol"),
    (dict(shooting_patience=0), ValueError, "shooting_patience must be an integer >= 1"),
    (dict(shooting_max_halvings=-1), ValueError, "shooting_max_halvings must be an integer >= 0"),
    (dict(shooting_memory=0), ValueError, "shooting_memory must be an integer >= 1"),
    (dict(continuation_memory=1.5), TypeError, "continuation_memory must be an integer"),
    (dict(continuation_min_step=0.0), ValueError, "continuation_min_step must be in"),
    (dict(continuation_initial_step=1.0), ValueError, "continuation_min_step <= continuation_initial_step"),
    (dict(continuation_meet="yes"), TypeError, "continuation_meet must be True or False"),
])
def test_engine_settings_refuse_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        EngineSettings(**kwargs)


def test_engine_settings_from_mapping_and_grid_refusal():
    s = EngineSettings.from_mapping({"newton": True, "max_iter": 10})
    assert s.newton and s.max_iter == 10 and hash(s) == hash(EngineSettings(newton=True, max_iter=10))
    with pytest.raises(ValueError, match="unknown option"):
        EngineSettings.from_mapping({"newtn": True})
    with pytest.raises(TypeError, match="unknown engine option"):
        EngineSettings().replace(max_iters=3)
    # a grid at N = 19 would need 2**19 starts: refused, naming the sizes
    with pytest.raises(ValueError, match="2 \\* n_starts"):
        EngineSettings(seeding="grid", n_starts=256).grid_per_axis(19)
    assert EngineSettings(seeding="grid", n_starts=256).starts_per_network(2) == 256


def test_census_settings_are_validated():
    with pytest.raises(TypeError, match="census_continuation"):
        EngineSettings(census_continuation="yes")
    with pytest.raises(ValueError, match="continuation_steps"):
        EngineSettings(continuation_steps=0)
    with pytest.raises(ValueError, match="continuation_rounds"):
        EngineSettings(continuation_rounds=0)
    with pytest.raises(ValueError, match="census_warn_fraction"):
        EngineSettings(census_warn_fraction=1.0)


def test_grid_seeding_refuses_more_starts_than_asked():
    """Defect 5: seeding='grid' silently replaced n_starts by >= 2**N starts (N = 19: 524,288)."""
    ens = Ensemble.sample(NetworkConfig(N=19, L=1), 1, seed=0)
    with pytest.raises(ValueError, match=r"seeding='grid' at N = 19 gives 2\*\*19 = 524288 starts"):
        find_fixed_points(ens, seeding="grid", n_starts=64)
    with pytest.raises(ValueError, match="seeding='grid'"):
        EngineSettings(seeding="grid", n_starts=64).starts_per_network(19)
    assert EngineSettings(seeding="grid", n_starts=16).starts_per_network(2) == 16  # honoured where it can be


@pytest.mark.parametrize("value", ["no", "false", "False", 0, 1, None, "yes"])
def test_newton_must_be_a_real_boolean(value):
    """Defect 6: newton='no' or a quoted 'false' ran Newton (truthy strings)."""
    with pytest.raises(TypeError, match="newton must be True or False"):
        find_fixed_points(cauchy_ensemble(), n_starts=4, newton=value)
    with pytest.raises(TypeError, match="census must be True or False"):
        EngineSettings(census=value)


def test_a_tolerance_just_inside_the_bound_is_accepted_and_runs():
    """tol = 0.005 (half a percent of the logistic's box) is allowed: the iteration stops where the step is
    below it."""
    from conftest import one_unit

    s = EngineSettings(tol=0.005, merge_tol=0.009, polish_tol=1e-12)
    res = find_fixed_points(one_unit(8.0, -4.0), settings=s, n_starts=16)
    assert res.per_network().loc[0, "Q"] == 2 and (res.residual[res.status == 0] < 0.005).all()


def test_results_keep_the_typed_settings():
    res = find_fixed_points(cauchy_ensemble(), n_starts=4, max_iter=20, root_tol=1e-13)
    assert isinstance(res.settings, EngineSettings)
    assert res.settings == EngineSettings(n_starts=4, max_iter=20, root_tol=1e-13)
