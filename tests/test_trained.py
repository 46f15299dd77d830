import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fpkit.network import Ensemble
from fpkit.sampling import hill_estimator, sample_weights
from fpkit.trained import (census_with_controls, fixed_point_census, heaviest_layer_summary, heaviest_layers,
                           last_checkpoints, layer_tail_indices, matched_iid_ensemble, random_matrix_tails,
                           shuffle_within_layers, training_tails)


def _ensemble(E=3, L=2, N=12, seed=0):
    rng = np.random.default_rng(seed)
    W = sample_weights("student_t", (E, L, N, N), df=1.5, seed=rng)
    W[:, :, np.arange(N), np.arange(N)] += 5.0  # learnt-looking structure: a strong diagonal
    b = rng.standard_normal((E, L, N))
    return Ensemble(W, b, "tanh")


def test_shuffle_keeps_the_multiset_of_every_layer_and_destroys_the_arrangement():
    ens = _ensemble()
    sh = shuffle_within_layers(ens, seed=1)
    E, L, N, _ = ens.weights.shape
    for e in range(E):
        for layer in range(L):
            np.testing.assert_array_equal(np.sort(sh.weights[e, layer].ravel()), np.sort(ens.weights[e, layer].ravel()))
            np.testing.assert_array_equal(np.sort(sh.biases[e, layer]), np.sort(ens.biases[e, layer]))
            assert not np.array_equal(sh.weights[e, layer], ens.weights[e, layer])
    # weights do not move between layers or networks: per-layer sums are unchanged
    np.testing.assert_allclose(sh.weights.sum(axis=(2, 3)), ens.weights.sum(axis=(2, 3)))
    # the diagonal structure is gone: the diagonal is no larger than the rest on average
    diag = np.abs(np.diagonal(sh.weights, axis1=2, axis2=3)).mean()
    assert diag < 0.5 * np.abs(np.diagonal(ens.weights, axis1=2, axis2=3)).mean()
    assert sh.activation == ens.activation


def test_shuffle_is_seeded_and_uniform():
    ens = _ensemble(E=1, L=1, N=3)
    a, b = shuffle_within_layers(ens, seed=5), shuffle_within_layers(ens, seed=5)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, shuffle_within_layers(ens, seed=6).weights)
    # where does entry (0, 0) go? uniform over the 9 positions
    w00 = ens.weights[0, 0, 0, 0]
    pos = [int(np.flatnonzero(shuffle_within_layers(ens, seed=s).weights[0, 0].ravel() == w00)[0]) for s in range(900)]
    counts = np.bincount(pos, minlength=9)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_matched_iid_networks_have_the_layer_tail_index_and_median():
    # a layer of 64 x 64 Student-t(df=1.5) weights with median |W| = 0.3
    W = sample_weights("student_t", (4, 2, 64, 64), df=1.5, seed=3)
    W *= 0.3 / np.median(np.abs(W), axis=(2, 3), keepdims=True)
    ens = Ensemble(W, np.zeros((4, 2, 64)), "tanh")
    ctrl = matched_iid_ensemble(ens, seed=4)
    med = np.median(np.abs(ctrl.weights), axis=(2, 3))
    assert np.all(np.abs(med / 0.3 - 1) < 0.08)  # median of 4096 draws: ~3 % sampling error
    a_in, a_out = layer_tail_indices(ens), layer_tail_indices(ctrl)
    assert np.all(np.abs(a_out - a_in) < 0.35 * a_in)  # Hill estimates of the same law
    assert np.all(np.isfinite(ctrl.weights))
    np.testing.assert_array_equal(matched_iid_ensemble(ens, seed=4).weights, ctrl.weights)
    k = int(0.1 * 64 * 64)
    assert a_in[0, 0] == pytest.approx(hill_estimator(W[0, 0].ravel(), k=k).alpha)


def test_census_counts_and_index_check_on_known_networks():
    # A contraction (tiny weights): one fixed point, stable, index +1 - the sum closes.
    N = 6
    small = Ensemble(0.1 * sample_weights("gaussian", (2, 2, N, N), seed=0), None, "tanh")
    per, res = fixed_point_census(small, n_starts=16, newton_starts=8, seed=0)
    assert list(per["Q"]) == [1, 1] and list(per["fixed_points"]) == [1, 1]
    assert per["index_complete"].all() and list(per["index_sum"]) == [1, 1]
    assert (per["unseen_mass"] == 0).all() and (per["n_starts_used"] == 16).all()
    # One layer W = 3 I: three fixed points per coordinate pair (x = tanh(3x)), 3^N in all; in N = 2:
    # 4 stable corners, 4 saddles (index -1), one unstable origin (index +1): sum 4 - 4 + 1 = 1.
    big = Ensemble(np.array([[3.0 * np.eye(2)]]), None, "tanh")
    per, res = fixed_point_census(big, n_starts=64, newton_starts=64, seed=1)
    assert int(per["Q"].iloc[0]) == 4 and int(per["fixed_points"].iloc[0]) == 9
    assert bool(per["index_complete"].iloc[0])
    x = res.x
    np.testing.assert_allclose(np.tanh(3.0 * x), x, atol=1e-10)


def test_controls_reject_bad_input():
    with pytest.raises(TypeError, match="Ensemble"):
        shuffle_within_layers(np.zeros((1, 1, 2, 2)), seed=0)
    with pytest.raises(TypeError, match="Ensemble"):
        matched_iid_ensemble([1, 2], seed=0)
    zero = Ensemble(np.zeros((1, 1, 8, 8)), None, "tanh")
    with pytest.raises(ValueError):
        matched_iid_ensemble(zero, seed=0)


@pytest.mark.parametrize("make, match", [
    (lambda: np.zeros((1, 2, 8, 8)), "network 0, layer 0 must have at least 3 non-zero values"),
    (lambda: np.ones((2, 1, 8, 8)), "network 0, layer 0 must have spread"),
    (lambda: np.ones((1, 1, 1, 1)), "width N = 1"),
])
def test_tail_index_errors_name_the_ensemble_and_the_layer(make, match):
    """hill_estimator's errors named its internal argument x; the controls now name ens, the network and the
    layer whose Hill index is undefined."""
    W = make()
    if W.shape[1] > 1:
        W[0, 0] = 0.0
        W[0, 1] = np.random.default_rng(0).standard_cauchy((8, 8))
    ens = Ensemble(W, None, "tanh")
    for call in (layer_tail_indices, lambda e: matched_iid_ensemble(e, seed=0)):
        with pytest.raises(ValueError, match=match) as info:
            call(ens)
        assert str(info.value).startswith("ens: ") and " x " not in str(info.value)


def test_heaviest_layers_is_the_chapters_argmin_of_the_hill_indices():
    """Chapter 7 computed the heaviest layer by hand (argmin over layers of hill_estimator(W, k = 10 % of
    the entries)) twice, and the ratio max |W| / median |W| of that layer."""
    ens = _ensemble(E=4, L=3, N=16, seed=3)
    out = heaviest_layers(ens)
    assert out.columns.tolist() == ["network", "layer", "hill_alpha", "median_abs", "max_over_median"]
    for e, W in enumerate(ens.weights):
        alphas = [hill_estimator(Wl.ravel(), k=int(0.1 * Wl.size)).alpha for Wl in W]
        layer = int(np.argmin(alphas))
        assert out.loc[e, "layer"] == layer and out.loc[e, "hill_alpha"] == alphas[layer]
        a = np.abs(W[layer])
        assert out.loc[e, "max_over_median"] == a.max() / np.median(a) and out.loc[e, "median_abs"] == np.median(a)
    # a Cauchy layer among Gaussian ones is the heaviest, and its extremes are far out
    rng = np.random.default_rng(0)
    W = rng.standard_normal((2, 3, 32, 32))
    W[:, 1] = rng.standard_cauchy((2, 32, 32))
    heavy = heaviest_layers(Ensemble(W / 32, None, "tanh"))
    assert heavy["layer"].tolist() == [1, 1] and (heavy["max_over_median"] > 20).all()
    assert (heavy["hill_alpha"] < 2).all()


def test_heaviest_layer_summary_of_a_layer_table():
    layers = pd.DataFrame({"run": np.repeat([0, 1], 6), "step": np.tile(np.repeat([10, 20], 3), 2),
                           "layer": np.tile([1, 2, 3], 4),
                           "hill_alpha": [3.0, 1.5, 2.0, 2.5, 2.6, 0.9, 4.0, 4.0, 3.5, 1.2, 5.0, 1.1],
                           "csn_alpha": [np.nan] * 3 + [2.0, 1.0, 3.0] + [np.nan] * 3 + [0.5, 0.7, 0.6],
                           "optimizer": np.repeat(["sgd", "adam"], 6), "spectral_norm": np.arange(12.0)})
    out = heaviest_layer_summary(layers)
    assert out[["run", "step"]].values.tolist() == [[0, 10], [0, 20], [1, 10], [1, 20]]
    assert out["heaviest_layer"].tolist() == [2, 3, 3, 3]
    np.testing.assert_array_equal(out["hill_min"], [1.5, 0.9, 3.5, 1.1])
    np.testing.assert_array_equal(out["csn_min"], [np.nan, 1.0, np.nan, 0.5])  # NaN where no layer was fitted
    assert out["optimizer"].tolist() == ["sgd", "sgd", "adam", "adam"] and "spectral_norm" not in out
    with pytest.raises(ValueError, match="hill_alpha"):
        heaviest_layer_summary(layers.drop(columns="hill_alpha"))
    with pytest.raises(TypeError, match="table column 'csn_alpha'"):
        heaviest_layer_summary(layers.assign(csn_alpha="x"))
    with pytest.raises(TypeError, match="by"):
        heaviest_layer_summary(layers, by=[])


def test_census_with_controls_is_the_three_censuses_of_chapter_7():
    ens = _ensemble(E=2, L=2, N=4, seed=5)
    seed = 11
    out = census_with_controls(ens, n_starts=8, newton_starts=4, seed=seed, max_iter=300, census_rounds=1)
    assert out["variant"].tolist() == ["trained"] * 2 + ["shuffled"] * 2 + ["i.i.d."] * 2
    assert out["network"].tolist() == [0, 1] * 3
    by_hand = [fixed_point_census(e, n_starts=8, newton_starts=4, seed=seed + 2, max_iter=300, census_rounds=1)[0]
               for e in (ens, shuffle_within_layers(ens, seed=seed), matched_iid_ensemble(ens, seed=seed + 1))]
    pd.testing.assert_frame_equal(out.drop(columns="variant"), pd.concat(by_hand, ignore_index=True))
    with pytest.raises(ValueError, match="seed"):
        census_with_controls(ens, n_starts=8, newton_starts=4, seed=-1)


def test_heaviest_layer_summary_keeps_only_comparable_constant_columns():
    """Found by the random fuzz: a column of complex numbers crashed the constant-column test (nunique)."""
    layers = pd.DataFrame({"run": [0, 0, 1, 1], "step": 5, "layer": [1, 2, 1, 2], "hill_alpha": [2.0, 1.0, 3.0, 4.0],
                           "odd": [1j, 1j, 2j, 2j], "status": ["trained"] * 4})
    out = heaviest_layer_summary(layers)
    assert out["heaviest_layer"].tolist() == [2, 1] and out["status"].tolist() == ["trained"] * 2
    with pytest.raises(ValueError, match="table lacks the column 'layer'"):  # found by the random fuzz: KeyError
        heaviest_layer_summary(layers.drop(columns="layer"))


def _run(seed=0, L=2, width=8, activation="tanh", status="trained", diverged_at=None, checkpoints=3):
    """A TrainResult made by hand (no training): Student-t weights, one row of history per checkpoint."""
    from fpkit.train import TrainConfig, TrainResult

    rng = np.random.default_rng(seed)
    config = TrainConfig(L=L, width=width, activation=activation, steps=10, checkpoints=checkpoints, seed=seed)
    W = sample_weights("student_t", (checkpoints, L, width, width), df=1.5, seed=rng)
    b = rng.standard_normal((checkpoints, L, width))
    if diverged_at is not None:
        W[diverged_at:], b[diverged_at:] = np.nan, np.nan
    steps = np.array(config.checkpoint_steps())
    history = pd.DataFrame({"step": steps, "train_loss": np.linspace(1.0, 0.5, checkpoints), "test_loss": 0.7})
    return TrainResult(config, history, steps, W, b, status=status, diverged_step=-1 if diverged_at is None else 5)


def test_last_checkpoints_stacks_the_final_networks_with_the_runs_activation():
    runs = [_run(seed=s, activation="logistic") for s in range(3)]
    ens = last_checkpoints(runs)
    assert ens.activation.name == "logistic" and ens.weights.shape == (3, 2, 8, 8)
    for e, r in enumerate(runs):
        np.testing.assert_array_equal(ens.weights[e], r.weights[-1])
        np.testing.assert_array_equal(ens.biases[e], r.biases[-1])
    with pytest.raises(ValueError, match="share depth, width and activation"):
        last_checkpoints([_run(), _run(width=7)])
    with pytest.raises(ValueError, match="share depth, width and activation"):
        last_checkpoints([_run(), _run(activation="logistic")])
    with pytest.raises(ValueError, match="run 1 .*'diverged'.* no finite last checkpoint"):
        last_checkpoints([_run(), _run(status="diverged", diverged_at=2)])
    with pytest.raises(ValueError, match="results is empty"):
        last_checkpoints([])
    with pytest.raises(TypeError, match="item 1 is Ensemble"):
        last_checkpoints([_run(), _ensemble()])


def test_training_tails_joins_layer_statistics_with_each_runs_configuration():
    from fpkit.train import layer_statistics, run_table

    runs = [_run(seed=0), _run(seed=1, status="no_progress"), _run(seed=2, status="diverged", diverged_at=2)]
    table = training_tails(runs)
    assert sorted(table["run"].unique()) == [0, 1, 2]
    assert len(table) == 2 * 3 + 2 * 3 + 2 * 2              # the diverged run loses its last checkpoint
    for i, r in enumerate(runs):
        mine = table[table["run"] == i].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[layer_statistics(r).columns], layer_statistics(r))
        assert (mine["status"] == r.status).all() and (mine["seed"] == i).all()
    assert set(run_table(runs).columns) <= set(table.columns)
    summary = heaviest_layer_summary(table)
    assert summary.groupby("run")["status"].first().tolist() == ["trained", "no_progress", "diverged"]
    with pytest.raises(TypeError, match="results"):
        training_tails(_run())
    with pytest.raises(ValueError, match="tail_fraction"):
        training_tails(runs, tail_fraction=0.9)


def test_random_matrix_tails_measure_known_laws_like_a_trained_layer():
    from fpkit.sampling import esd_power_law, fit_power_law

    laws = {"Gaussian": "gaussian", "Cauchy": "cauchy"}
    table = random_matrix_tails(laws, 30, 32, seed=3)
    assert table["law"].tolist() == ["Gaussian"] * 30 + ["Cauchy"] * 30
    assert list(table.columns) == ["law", "hill_alpha", "csn_alpha", "esd_alpha", "max_over_median"]
    med = table.groupby("law").median()
    # the Cauchy tail index is 1 and the Hill estimate of a Cauchy matrix is close to it; the Gaussian one is
    # light-tailed (a Hill index well above 2 at this size), and its largest entry is a few medians
    assert abs(med.loc["Cauchy", "hill_alpha"] - 1.0) < 0.15 and med.loc["Gaussian", "hill_alpha"] > 3.0
    assert med.loc["Gaussian", "max_over_median"] < 10 < 100 < med.loc["Cauchy", "max_over_median"]
    # the same numbers as the estimators called on each matrix, drawn from one generator in the laws' order
    rng = np.random.default_rng(3)
    first = sample_weights("gaussian", (30, 32, 32), seed=rng)[0]
    row = table.iloc[0]
    assert row["hill_alpha"] == hill_estimator(np.abs(first).ravel(), k=int(0.1 * 32 * 32)).alpha
    assert row["csn_alpha"] == fit_power_law(np.abs(first).ravel()).alpha
    assert row["esd_alpha"] == esd_power_law(first, min_tail=10).alpha
    assert row["max_over_median"] == np.abs(first).max() / np.median(np.abs(first))
    pd.testing.assert_frame_equal(table, random_matrix_tails(laws, 30, 32, seed=3))
    with pytest.raises(TypeError, match="laws"):
        random_matrix_tails(["cauchy"], 3, 8, seed=0)
    with pytest.raises(ValueError, match="width"):
        random_matrix_tails(laws, 3, 2, seed=0)
    with pytest.raises(ValueError, match="n_matrices"):
        random_matrix_tails(laws, 0, 8, seed=0)
