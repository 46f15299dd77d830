import numpy as np
import pandas as pd
import pytest

from fpkit.network import Ensemble
from fpkit.restore import (CORRUPTIONS, REPAIRS, basin_radius, corrupt, evaluate_restoration, median_baseline,
                           psnr, repairs, restore)

LOW, HIGH = -0.8, 0.8


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(LOW, HIGH, (200, 64))


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corruptions_stay_in_range_are_seeded_and_scale_with_strength(images, kind):
    a = corrupt(images, kind, 0.3, low=LOW, high=HIGH, seed=1)
    assert a.shape == images.shape and a.min() >= LOW and a.max() <= HIGH
    assert np.array_equal(a, corrupt(images, kind, 0.3, low=LOW, high=HIGH, seed=1))
    assert np.array_equal(corrupt(images, kind, 0.0, low=LOW, high=HIGH, seed=1), images)
    weak = np.mean((corrupt(images, kind, 0.1, low=LOW, high=HIGH, seed=2) - images) ** 2)
    strong = np.mean((corrupt(images, kind, 0.5, low=LOW, high=HIGH, seed=2) - images) ** 2)
    assert strong > weak > 0


def test_pixel_fractions(images):
    changed = np.mean(corrupt(images, "missing", 0.25, low=LOW, high=HIGH, seed=3) != images)
    assert abs(changed - 0.25) < 0.02
    occ = corrupt(np.full((5, 64), HIGH), "occlusion", 0.25, low=LOW, high=HIGH, seed=3)
    assert np.all((occ == LOW).sum(axis=1) == 16)  # a 4 x 4 block of an 8 x 8 image


def test_psnr_known_value_and_median_filter():
    x = np.zeros((1, 64))
    y = x + 0.1
    assert psnr(y, x, data_range=1.0)[0] == pytest.approx(20.0)
    assert np.isinf(psnr(x, x, data_range=1.0)[0])
    img = np.zeros((1, 64))
    img[0, 27] = 1.0  # one isolated bright pixel is removed by a 3 x 3 median
    assert np.all(median_baseline(img) == 0)


def test_bad_arguments(images):
    with pytest.raises(ValueError, match="kind"):
        corrupt(images, "blur", 0.1, low=LOW, high=HIGH, seed=0)
    with pytest.raises(ValueError, match="strength"):
        corrupt(images, "gaussian", 1.5, low=LOW, high=HIGH, seed=0)
    with pytest.raises(ValueError, match="high must be > low"):
        corrupt(images, "gaussian", 0.1, low=1.0, high=0.0, seed=0)
    with pytest.raises(ValueError, match="shape"):
        corrupt(images[:, :10], "gaussian", 0.1, low=LOW, high=HIGH, seed=0)
    with pytest.raises(ValueError, match="same shape"):
        psnr(images, images[:3], data_range=1.0)


def test_memorising_network_restores_better_than_the_damage():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from fpkit.train import TrainConfig, checkpoint_ensemble, digits, train

    x_tr, *_ = digits("tanh", seed=0)
    run = train(TrainConfig(L=2, steps=3000, checkpoints=2, lr=3e-3, seed=0, n_train=10), progress=False)
    ens = checkpoint_ensemble(run)
    clean = x_tr[:10]
    bad = corrupt(clean, "gaussian", 0.15, low=LOW, high=HIGH, seed=5)
    fixed, status = restore(ens, bad, network=1)
    assert psnr(fixed.reshape(1, -1), clean.reshape(1, -1), data_range=1.6)[0] > \
        psnr(bad.reshape(1, -1), clean.reshape(1, -1), data_range=1.6)[0] + 3.0
    lim, _ = restore(ens, clean, network=1)
    stored = np.sqrt(np.mean((lim - clean) ** 2, axis=1)) < 0.05
    assert stored.sum() >= 5  # most of the 10 training digits are attractors
    radii = basin_radius(ens, lim[stored], [0.05, 0.2], network=1, n_probe=4, seed=0)
    assert radii.shape == (stored.sum(),) and set(np.unique(radii)) <= {0.0, 0.05, 0.2}
    with pytest.raises(ValueError, match="network"):
        restore(ens, clean, network=5)
    with pytest.raises(ValueError, match="radii"):
        basin_radius(ens, lim[stored], [0.2, 0.1], network=1, seed=0)


class _SignClassifier:
    """Class 1 when the first pixel is bright: stands in for a trained classifier."""

    def score(self, images, labels):
        return float(np.mean((images[:, 0] > 0) == (labels == 1)))


@pytest.fixture
def bistable():
    """x -> tanh(3 x) in every pixel: attractors +-0.995 per pixel, 0 unstable."""
    return Ensemble(3.0 * np.eye(64)[None, None], np.zeros((1, 1, 64)), activation="tanh")


def test_repairs_are_one_pass_attractor_and_median(bistable, images):
    fixed = repairs(bistable, images[:5], network=0)
    assert tuple(fixed) == REPAIRS
    np.testing.assert_allclose(fixed["one pass F(x)"], np.tanh(3 * images[:5]))
    from scipy.optimize import brentq

    x_star = brentq(lambda x: np.tanh(3 * x) - x, 0.5, 1.0, xtol=1e-15)  # the positive root of x = tanh(3x)
    np.testing.assert_allclose(fixed["attractor"], np.sign(images[:5]) * x_star, atol=1e-9)
    np.testing.assert_array_equal(fixed["median filter"], median_baseline(images[:5]))
    with pytest.raises(ValueError, match="network"):
        repairs(bistable, images[:5], network=1)


def test_evaluate_restoration_scores_every_damage_and_repair(bistable):
    rng = np.random.default_rng(0)
    clean = np.where(rng.random((30, 64)) < 0.5, LOW, HIGH)
    labels = (clean[:, 0] > 0).astype(int)
    strengths = {"gaussian": [0.01, 0.3], "missing": [0.5]}
    table = evaluate_restoration(bistable, clean, labels, network=0, strengths=strengths,
                                 classifier=_SignClassifier(), low=LOW, high=HIGH, seed=7)
    assert len(table) == 3 * 4 and table["method"].tolist()[:4] == ["damaged", *REPAIRS]
    rows = table.set_index(["kind", "strength", "method"])
    # the damage is corrupt(...) with seed + 100 k + j
    bad = corrupt(clean, "missing", 0.5, low=LOW, high=HIGH, seed=7 + 100 * 1 + 0)
    assert rows.loc[("missing", 0.5, "damaged"), "psnr"] == pytest.approx(
        psnr(bad.reshape(1, -1), clean.reshape(1, -1), data_range=HIGH - LOW)[0])
    # weak noise flips no pixel's sign: every damaged image flows to the clean image's attractor
    assert rows.loc[("gaussian", 0.01, "attractor"), "same attractor as clean"] == 1.0
    assert rows.loc[("gaussian", 0.01, "attractor"), "accuracy"] == 1.0
    # a missing pixel sits on the unstable fixed point 0 and stays there
    assert rows.loc[("missing", 0.5, "attractor"), "same attractor as clean"] == 0.0
    assert table.loc[table["method"] != "attractor", "same attractor as clean"].isna().all()
    again = evaluate_restoration(bistable, clean, labels, network=0, strengths=strengths,
                                 classifier=_SignClassifier(), low=LOW, high=HIGH, seed=7)
    pd.testing.assert_frame_equal(table, again)
    # per image: the same damage and repairs; pooled over the images they give the table's numbers
    each = evaluate_restoration(bistable, clean, labels, network=0, strengths=strengths,
                                classifier=_SignClassifier(), low=LOW, high=HIGH, seed=7, per_image=True)
    assert len(each) == 3 * 4 * 30 and set(each["image"]) == set(range(30))
    pooled = each.groupby(["kind", "strength", "method"], sort=False).agg(
        mse=("squared_error", "mean"), same=("same attractor as clean", "mean"))
    np.testing.assert_allclose(10 * np.log10((HIGH - LOW) ** 2 / pooled["mse"].to_numpy()),
                               rows.loc[pooled.index, "psnr"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(pooled["same"].to_numpy(), rows.loc[pooled.index, "same attractor as clean"])
    assert set(each.loc[each["method"] == "attractor", "same attractor as clean"]) <= {0.0, 1.0}
    with pytest.raises(TypeError, match="per_image"):
        evaluate_restoration(bistable, clean, labels, network=0, strengths=strengths,
                             classifier=_SignClassifier(), low=LOW, high=HIGH, seed=7, per_image="yes")
    with pytest.raises(ValueError, match="strengths key"):
        evaluate_restoration(bistable, clean, labels, network=0, strengths={"blur": [0.1]},
                             classifier=_SignClassifier(), low=LOW, high=HIGH, seed=0)
    with pytest.raises(ValueError, match="labels"):
        evaluate_restoration(bistable, clean, labels[:3], network=0, strengths=strengths,
                             classifier=_SignClassifier(), low=LOW, high=HIGH, seed=0)
    with pytest.raises(TypeError, match="classifier"):
        evaluate_restoration(bistable, clean, labels, network=0, strengths=strengths,
                             classifier=None, low=LOW, high=HIGH, seed=0)


# ----------------------------------------------------------------------- regression tests (issue 25)


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupt_refuses_images_outside_the_range_it_promises(images, kind):
    """A value outside [low, high] used to be kept (at strength 0, or by every pixel the damage missed),
    so the result broke the promise "stays in [low, high]"; now the images are refused, naming x."""
    bad = images.copy()
    bad[3, 5] = HIGH + 0.5
    with pytest.raises(ValueError, match=r"x must have its values in \[low, high\]"):
        corrupt(bad, kind, 0.0, low=LOW, high=HIGH, seed=0)
    # the ends of the range themselves are images (blank and full pixels)
    edge = np.where(images > 0, HIGH, LOW)
    out = corrupt(edge, kind, 0.4, low=LOW, high=HIGH, seed=0)
    assert out.min() >= LOW and out.max() <= HIGH


class _ScoreClassifier:
    def __init__(self, score):
        self.value = score

    def score(self, images, labels):
        return self.value


@pytest.mark.parametrize("score, exc", [(np.nan, ValueError), (1.5, ValueError), (-0.1, ValueError),
                                        ("0.9", TypeError), (None, TypeError), (np.array([0.5, 0.5]), TypeError)])
def test_evaluate_restoration_refuses_a_classifier_score_that_is_not_an_accuracy(bistable, score, exc):
    """A NaN accuracy used to land in the table; any score outside [0, 1] is now refused, naming the classifier."""
    clean = np.where(np.random.default_rng(1).random((6, 64)) < 0.5, LOW, HIGH)
    with pytest.raises(exc, match="classifier"):
        evaluate_restoration(bistable, clean, np.zeros(6, int), network=0, strengths={"gaussian": [0.1]},
                             classifier=_ScoreClassifier(score), low=LOW, high=HIGH, seed=0)
    ok = evaluate_restoration(bistable, clean, np.zeros(6, int), network=0, strengths={"gaussian": [0.1]},
                              classifier=_ScoreClassifier(np.float32(0.25)), low=LOW, high=HIGH, seed=0)
    assert (ok["accuracy"] == 0.25).all()
    with pytest.raises(ValueError, match="clean must have its values"):
        evaluate_restoration(bistable, clean * 2, np.zeros(6, int), network=0, strengths={"gaussian": [0.1]},
                             classifier=_ScoreClassifier(0.5), low=LOW, high=HIGH, seed=0)


def test_attractor_distances_are_the_rms_distances_to_the_limits(bistable):
    """The memorised-digit check of chapter 8 (restore, then the RMS distance per image), as one call."""
    from fpkit.restore import attractor_distances

    rng = np.random.default_rng(2)
    x = rng.uniform(LOW, HIGH, (7, 64))
    limits, distance = attractor_distances(bistable, x, network=0)
    by_hand, _ = restore(bistable, x, network=0)
    np.testing.assert_array_equal(limits, by_hand)
    np.testing.assert_array_equal(distance, np.sqrt(np.mean((by_hand - x) ** 2, axis=1)))
    # an attractor is at distance 0 from itself
    _, again = attractor_distances(bistable, limits, network=0)
    assert np.all(again < 1e-9)
