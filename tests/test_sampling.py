import math

import numpy as np
import pytest
from scipy import stats

from fpkit import sampling
from fpkit.sampling import fit_power_law, hill_estimator, sample_weights, scale_factor

# (law, parameters) pairs covering every law; alpha-stable across its range.
LAW_CASES = [
    ("gaussian", {}),
    ("cauchy", {}),
    ("student_t", {"df": 3.0}),
    ("student_t", {"df": 1.5}),
    ("alpha_stable", {"alpha": 0.7}),
    ("alpha_stable", {"alpha": 1.0}),
    ("alpha_stable", {"alpha": 1.5}),
    ("alpha_stable", {"alpha": 1.9}),
    ("alpha_stable", {"alpha": 2.0}),
]


@pytest.mark.parametrize("law,params", LAW_CASES, ids=lambda c: str(c))
def test_sampler_matches_scipy_law(law, params):
    """Kolmogorov-Smirnov test of standard draws against scipy.stats at a fixed seed."""
    x = sample_weights(law, 3000, seed=12345, convention="absolute", **params)
    ref = sampling.weight_law(law, **params).scipy()
    result = stats.kstest(x, ref.cdf)
    assert result.pvalue > 0.01, result


def test_wrong_law_is_rejected_by_the_ks_test():
    """The KS test above has power: Cauchy draws are not Gaussian."""
    x = sample_weights("cauchy", 3000, seed=12345, convention="absolute")
    assert stats.kstest(x, stats.norm().cdf).pvalue < 1e-6


def test_alpha_stable_one_is_cauchy_and_two_is_gaussian_var_two():
    a = sample_weights("alpha_stable", 50_000, seed=3, convention="absolute", alpha=2.0)
    assert abs(a.var() - 2.0) < 0.05
    c = sample_weights("alpha_stable", 3000, seed=3, convention="absolute", alpha=1.0)
    assert stats.kstest(c, stats.cauchy().cdf).pvalue > 0.01


@pytest.mark.parametrize("law,params", LAW_CASES, ids=lambda c: str(c))
def test_same_seed_same_array_and_different_seed_different(law, params):
    a = sample_weights(law, (3, 4, 5), seed=99, **params)
    b = sample_weights(law, (3, 4, 5), seed=99, **params)
    c = sample_weights(law, (3, 4, 5), seed=100, **params)
    assert a.shape == (3, 4, 5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(np.isfinite(a))


def test_generator_seed_is_consumed_not_reset():
    gen = np.random.default_rng(5)
    a = sample_weights("gaussian", 4, seed=gen)
    b = sample_weights("gaussian", 4, seed=gen)
    assert not np.array_equal(a, b)
    gen2 = np.random.default_rng(5)
    np.testing.assert_array_equal(a, sample_weights("gaussian", 4, seed=gen2))


@pytest.mark.parametrize(
    "law,params,expected",
    [
        ("gaussian", {}, 0.1),
        ("student_t", {"df": 4.0}, 0.1),
        ("cauchy", {}, 0.01),
        ("student_t", {"df": 1.0}, 0.01),
        ("alpha_stable", {"alpha": 1.5}, 100 ** (-1 / 1.5)),
        ("alpha_stable", {"alpha": 2.0}, 0.1),
    ],
)
def test_fan_in_convention_uses_the_stability_index(law, params, expected):
    assert scale_factor(law, 100, "fan_in", **params) == pytest.approx(expected)
    assert scale_factor(law, 100, "sqrt_fan_in", **params) == pytest.approx(0.1)
    assert scale_factor(law, 100, "absolute", scale=3.0, **params) == 3.0


def test_sample_weights_applies_scale_and_default_fan_in():
    z = sample_weights("cauchy", (2, 50), seed=1, convention="absolute")
    w = sample_weights("cauchy", (2, 50), seed=1, scale=2.0)  # fan_in = 50 -> 2/50
    np.testing.assert_allclose(w, z * 2.0 / 50)
    w2 = sample_weights("cauchy", (2, 50), seed=1, fan_in=10)
    np.testing.assert_allclose(w2, z / 10)


@pytest.mark.parametrize("law,params", [("gaussian", {}), ("cauchy", {}), ("alpha_stable", {"alpha": 1.5})])
def test_fan_in_keeps_preactivations_order_one(law, params):
    """Median |sum_j W_ij x_j| changes by less than 25% from N = 100 to N = 3000 under fan_in."""
    medians = []
    for n in (100, 3000):
        w = sample_weights(law, (400, n), seed=n, **params)
        x = np.random.default_rng(0).random(n)
        medians.append(np.median(np.abs(w @ x)))
    assert medians[1] / medians[0] == pytest.approx(1.0, abs=0.25)


def test_sqrt_fan_in_blows_up_cauchy_preactivations():
    """Under 1/sqrt(N), Cauchy pre-activations grow like sqrt(N): x5.5 from N=100 to 3000."""
    medians = []
    for n in (100, 3000):
        w = sample_weights("cauchy", (400, n), seed=n, convention="sqrt_fan_in")
        medians.append(np.median(np.abs(w @ np.full(n, 0.5))))
    assert 3.5 < medians[1] / medians[0] < 8.0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"law": "laplace"}, ValueError, "law must be one of"),
        ({"law": 3}, TypeError, "law must be a str"),
        ({"law": "alpha_stable", "alpha": 2.5}, ValueError, r"alpha must be in \(0.0, 2.0\]"),
        ({"law": "alpha_stable", "alpha": 0.0}, ValueError, "alpha must be in"),
        ({"law": "alpha_stable", "alpha": float("nan")}, ValueError, "alpha must be finite"),
        ({"law": "alpha_stable"}, ValueError, "needs alpha"),
        ({"law": "student_t"}, ValueError, "needs df"),
        ({"law": "student_t", "df": -1.0}, ValueError, "df must be in"),
        ({"law": "gaussian", "alpha": 1.0}, ValueError, "alpha applies only"),
        ({"law": "gaussian", "convention": "he"}, ValueError, "convention must be one of"),
        ({"law": "gaussian", "scale": 0.0}, ValueError, "scale must be in"),
        ({"law": "gaussian", "shape": (2.5, 3)}, TypeError, r"shape\[0\] must be an integer"),
        ({"law": "gaussian", "shape": (-1, 3)}, ValueError, r"shape\[0\] must be an integer >= 0"),
        ({"law": "gaussian", "shape": "10"}, TypeError, "shape must be an int"),
        ({"law": "gaussian", "fan_in": 0}, ValueError, "fan_in must be an integer >= 1"),
        ({"law": "gaussian", "shape": (3, 0)}, ValueError, "fan_in must be given"),
        ({"law": "gaussian", "seed": None}, TypeError, "seed"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, exc, match):
    args = {"shape": (3, 4), "seed": 0} | kwargs
    law = args.pop("law")
    with pytest.raises(exc, match=match):
        sample_weights(law, **args)


# ---------------------------------------------------------------- tail estimators


def _pareto(alpha, n, seed):
    """Exact Pareto samples with P(X > x) = x^(-alpha), x >= 1."""
    u = np.random.default_rng(seed).random(n)
    return (1.0 - u) ** (-1.0 / alpha)


@pytest.mark.parametrize("alpha", [0.8, 1.5, 3.0])
def test_hill_recovers_pareto_index(alpha):
    est = hill_estimator(_pareto(alpha, 20_000, seed=1), k=2000)
    assert est.alpha == pytest.approx(alpha, rel=0.06)  # stderr alpha/sqrt(2000) ~ 2.2 %
    assert est.stderr == pytest.approx(est.alpha / math.sqrt(2000))


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.5])
def test_estimators_recover_stable_index(alpha):
    """Both estimators recover alpha of symmetric alpha-stable draws within 15 %."""
    x = sample_weights("alpha_stable", 100_000, seed=2, convention="absolute", alpha=alpha)
    assert hill_estimator(x).alpha == pytest.approx(alpha, rel=0.15)
    assert fit_power_law(x).alpha == pytest.approx(alpha, rel=0.15)


def test_power_law_fit_matches_powerlaw_package_at_fixed_xmin():
    """Same MLE and KS distance as the reference implementation (powerlaw, Alstott et al.)."""
    powerlaw = pytest.importorskip("powerlaw")
    x = np.abs(sample_weights("cauchy", 5000, seed=4, convention="absolute"))
    ours = fit_power_law(x, xmin=2.0)
    ref = powerlaw.Fit(x, xmin=2.0, verbose=False)
    assert ours.alpha == pytest.approx(ref.power_law.alpha - 1.0, rel=1e-9)
    assert ours.ks_distance == pytest.approx(ref.power_law.D, abs=2.0 / ours.n_tail)
    assert ours.n_tail == int(np.sum(x >= 2.0))


def test_power_law_fit_selects_xmin_of_a_shifted_pareto():
    """Body uniform on [0, 1], exact Pareto tail above 1: xmin is found near 1."""
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.random(20_000), _pareto(1.5, 20_000, seed=9)])
    fit = fit_power_law(x)
    assert 0.9 < fit.xmin < 1.5
    assert fit.alpha == pytest.approx(1.5, rel=0.08)
    assert fit.ks_distance < 0.02


def test_gaussian_tail_gives_large_index():
    x = sample_weights("gaussian", 100_000, seed=1, convention="absolute")
    assert hill_estimator(x).alpha > 4.0


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: hill_estimator([1.0, 2.0]), ValueError, "at least 3 non-zero"),
        (lambda: hill_estimator(np.arange(1.0, 10.0), k=9), ValueError, r"k must be in \[2, n - 1\]"),
        (lambda: hill_estimator(np.arange(1.0, 10.0), k=1.5), TypeError, "k must be an integer"),
        (lambda: hill_estimator([1.0, np.nan, 3.0, 4.0]), ValueError, "finite"),
        (lambda: hill_estimator(["a", "b", "c"]), TypeError, "numeric"),
        (lambda: fit_power_law(np.arange(1.0, 10.0), min_tail=50), ValueError, "min_tail"),
        (lambda: fit_power_law(np.arange(1.0, 10.0), xmin=-1.0), ValueError, "xmin must be in"),
        (lambda: fit_power_law(np.arange(1.0, 10.0), xmin=9.5), ValueError, "at least 2"),
    ],
)
def test_estimator_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    "law,params", [("gaussian", {}), ("cauchy", {}), ("student_t", {"df": 3.0}), ("alpha_stable", {"alpha": 1.5})]
)
def test_survival_matches_empirical_tail(law, params):
    """P(|X| > x) of the law agrees with the draws at moderate and (for heavy tails) extreme x."""
    spec = sampling.weight_law(law, **params)
    x = np.abs(sample_weights(spec, 400_000, seed=11, convention="absolute"))
    for q in (0.5, 0.99):
        t = np.quantile(x, q)
        assert spec.survival(t) == pytest.approx(1 - q, rel=0.05)
    if spec.tail_index < 2:
        t = np.quantile(x, 1 - 2e-4)
        assert spec.survival(t) == pytest.approx(2e-4, rel=0.25)


def test_stable_survival_is_continuous_at_the_switch():
    spec = sampling.weight_law("alpha_stable", alpha=1.5)
    below, above = spec.survival([99.999, 100.001])
    assert above == pytest.approx(below, rel=2e-3)
    assert spec.survival(1e6) > 0


# --------------------------------------------------------------------------- ESD power law


@pytest.mark.parametrize("mu", [0.5, 1.0, 2.0, 3.0])
def test_esd_power_law_recovers_a_pareto_spectrum_exactly_placed(mu):
    """W = diag(sqrt(x)) with x Pareto(mu): the eigenvalues of W^T W are the sample itself, whose
    density exponent is 1 + mu (WeightWatcher's alpha)."""
    from fpkit.sampling import esd_power_law

    rng = np.random.default_rng(7)
    x = rng.pareto(mu, 3000) + 1.0
    fit = esd_power_law(np.diag(np.sqrt(x)))
    assert fit.n == 3000 and 0 < fit.xmin_fraction <= 1
    assert abs(fit.alpha - (1.0 + mu)) < 4 * fit.stderr + 0.02
    # the same fit on the sample directly (fit_power_law reports the tail index)
    assert fit.alpha == pytest.approx(1.0 + fit_power_law(x).alpha, rel=1e-9)


def test_esd_power_law_of_a_cauchy_matrix_is_one_and_a_half():
    """i.i.d. entries of tail index mu < 2: the largest eigenvalues of W^T W are the squared largest
    entries, of tail index mu / 2, so alpha = 1 + mu / 2 (Martin & Mahoney 2021) = 1.5 for Cauchy."""
    from fpkit.sampling import esd_power_law

    alphas = [esd_power_law(sample_weights("cauchy", (600, 600), seed=s)).alpha for s in range(4)]
    assert abs(np.mean(alphas) - 1.5) < 0.1


def test_esd_power_law_is_scale_free_and_handles_rectangles_and_huge_entries():
    from fpkit.sampling import esd_power_law

    W = sample_weights("student_t", (80, 50), df=1.5, seed=2)
    a = esd_power_law(W)
    assert a.n == 50
    assert esd_power_law(1e300 * W).alpha == pytest.approx(a.alpha, rel=1e-9)
    assert esd_power_law(W.T).alpha == pytest.approx(a.alpha, rel=1e-9)
    gauss = esd_power_law(sample_weights("gaussian", (600, 600), seed=3)).alpha
    assert gauss > 3.0 > a.alpha  # Marchenko-Pastur edge: a steep fitted "tail"


@pytest.mark.parametrize(
    "W, kwargs, exc, match",
    [
        (np.ones(5), {}, ValueError, "matrix"),
        (np.full((4, 4), np.nan), {}, ValueError, "finite"),
        (np.ones((20, 20)), {}, ValueError, "non-zero eigenvalues"),
        (np.eye(20), {"min_tail": 1}, ValueError, "min_tail"),
        (np.array([["a"]]), {}, TypeError, "numeric"),
    ],
)
def test_esd_power_law_bad_input(W, kwargs, exc, match):
    from fpkit.sampling import esd_power_law

    with pytest.raises(exc, match=match):
        esd_power_law(W, **kwargs)


# ---------------------------------------------------------------- issue 14 regressions


def test_tiny_tail_index_is_refused_naming_the_smallest_allowed():
    """Defect 6: sample_weights('alpha_stable', alpha=0.001) returned inf/NaN."""
    with pytest.raises(ValueError, match=r"alpha must be in \[0.1, 2.0\]; got 0.001: below 0.1 the draws overflow"):
        sample_weights("alpha_stable", (3, 3), alpha=0.001, seed=0)
    with pytest.raises(ValueError, match=r"df must be in \[0.1, inf\]"):
        sample_weights("student_t", (3, 3), df=0.01, seed=0)
    assert sampling.MIN_TAIL_INDEX == 0.1


@pytest.mark.parametrize("law, params", [("alpha_stable", {"alpha": 0.1}), ("student_t", {"df": 0.1})])
def test_smallest_tail_index_draws_are_finite(law, params):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = sample_weights(law, 1_000_000, seed=5, convention="absolute", **params)
    assert np.all(np.isfinite(x)) and np.abs(x).max() > 1e20  # heavy, but representable


def test_weights_that_overflow_name_the_scale():
    with pytest.raises(ValueError, match="scale=1e\\+306 is too large"):
        sample_weights("cauchy", (50, 50), seed=0, scale=1e306, convention="absolute")
    with pytest.raises(ValueError, match="scale \\* fan_in\\*\\*.* outside the float64 range"):
        scale_factor("alpha_stable", 10**40, alpha=0.1, scale=1.0)
    with pytest.raises(ValueError, match="shape=.* need .* GiB, more than this machine's memory"):
        sample_weights("gaussian", (10**6, 10**6, 10), seed=0)
