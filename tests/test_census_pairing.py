"""The census's continuation stage (fpkit.engine.census.pairing): it closes incomplete lists, pairs every point
(census_pairing), reports what stays incomplete, and does not depend on how networks are grouped."""

import warnings

import numpy as np
import pandas as pd
import pytest

from fpkit import CAUCHY_REGIME, Ensemble, find_fixed_points


@pytest.fixture(scope="module")
def census_pair():
    """A seeded Cauchy ensemble (30 networks, N = 6, L = 8), census with a deliberately short
    shooting search (16 starts, one round), without and with the continuation stage."""
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=6, L=8), 30, seed=0)
    opts = dict(n_starts=16, seed=1, newton=True, census=True, census_rounds=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        without = find_fixed_points(ens, census_continuation=False, **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a 1.0 pass rate must not warn
        with_ = find_fixed_points(ens, **opts)
    return ens, without, with_, caught


def test_census_with_continuation_closes_more_networks(census_pair):
    ens, without, with_, _ = census_pair
    before = without.per_network().index_complete.mean()
    after = with_.per_network().index_complete.mean()
    # measured: 22/30 without, 30/30 with; the margin allows three networks
    assert after >= 0.9 and after > before
    cont = with_.found_by == "continuation"
    assert cont.any()
    # every point the stage added is a fixed point, certified like the others
    assert (with_.fp_error[cont] <= 1e-12).all() or (with_.fp_residual[cont] <= 1e-12).all()
    x = with_.x[cont]
    fx = ens.subset(with_.fp_network[cont]).forward(x[:, None])[:, 0]
    assert np.abs(fx - x).max() < 1e-9
    # the stage only adds points: everything found without it is still there
    assert with_.x.shape[0] >= without.x.shape[0]


def test_incomplete_census_warns_with_count_and_reason(census_pair):
    ens, without, _, caught = census_pair
    n_bad = int((~without.per_network().index_complete).sum())
    assert n_bad > 0
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert any(f"{n_bad} of 30 networks" in msg and "census_continuation is off" in msg for msg in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        # below the warning fraction nothing is said
        find_fixed_points(ens.subset(np.arange(3)), n_starts=16, seed=1, newton=True, census=True,
                          census_rounds=1, census_continuation=False, census_warn_fraction=0.99)


def test_per_network_says_which_stage_completed_the_census(census_pair):
    _, without, with_, _ = census_pair
    per = with_.per_network()
    assert set(per.completed_by[per.index_complete]) <= {"iteration", "newton", "shooting", "continuation"}
    assert (per.completed_by[~per.index_complete] == "").all()
    # the networks the continuation stage closed are exactly those it added points to and that
    # were incomplete without it
    closed_here = set(per.network[per.completed_by == "continuation"])
    assert closed_here == set(np.unique(with_.fp_network[with_.found_by == "continuation"]))
    assert closed_here <= set(np.flatnonzero(~without.per_network().index_complete.to_numpy()))


def test_pairing_mode_closes_every_list_under_the_pairing(census_pair):
    ens, _, with_, _ = census_pair
    paired = find_fixed_points(ens, n_starts=16, seed=1, newton=True, census=True, census_rounds=1,
                               census_pairing=True)
    per = paired.per_network()
    assert per.pairs_closed.notna().all()
    # measured: all 30 close; a closed list has index sum 1 (partners have opposite indices)
    assert per.pairs_closed.sum() >= 27
    assert per.index_complete[per.pairs_closed.to_numpy(dtype=bool)].all()
    # the pairing looks at the complete networks too, and can only add points
    assert paired.x.shape[0] >= with_.x.shape[0]
    # without pairing, only networks the stage ran for have a verdict
    looked = with_.per_network().pairs_closed.notna()
    assert looked.sum() == (with_.per_network().completed_by == "continuation").sum()


def test_pairing_in_many_small_groups_gives_the_one_group_answer(census_pair):
    """With a memory budget of one network per group, the table grows between groups (crossings of
    earlier groups are added): the later groups must still find their own rows (regression: a
    broadcast error in chapter 7's census), and the answer must be the one of a single group."""
    ens = census_pair[0]
    kwargs = dict(n_starts=16, seed=1, newton=True, census=True, census_rounds=1, census_pairing=True)
    whole = find_fixed_points(ens, **kwargs).per_network()
    split = find_fixed_points(ens, continuation_memory=1, **kwargs).per_network()
    assert (whole.fixed_points > whole.fixed_points.min()).any()  # some networks gained points
    pd.testing.assert_frame_equal(split[["fixed_points", "index_sum", "pairs_closed"]],
                                  whole[["fixed_points", "index_sum", "pairs_closed"]])
