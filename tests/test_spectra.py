import math

import numpy as np
import pytest

from fpkit import spectra as sp
from fpkit.engine import find_fixed_points
from fpkit.network import Ensemble, NetworkConfig


def test_linear_one_layer_is_marchenko_pastur():
    law = sp.FreeJacobianLaw.linear(1, sigma_w=1.3)
    x = np.linspace(0.01, 4 * 1.69 - 0.01, 200)
    np.testing.assert_allclose(law.density(x), sp.marchenko_pastur_density(x, 1.69), atol=1e-10)


@pytest.mark.parametrize("L", [1, 2, 3, 6])
def test_linear_products_have_fuss_catalan_moments(L):
    law = sp.FreeJacobianLaw.linear(L)
    m1, m2 = law.moments()
    assert m1 == pytest.approx(sp.fuss_catalan_moment(L, 1), rel=1e-12)
    assert m2 == pytest.approx(sp.fuss_catalan_moment(L, 2), rel=1e-12)
    if L <= 3:  # the density's own moments and mass (x^(-L/(L+1)) at 0 is integrable on a log grid)
        x = np.geomspace(1e-14, law.support_hint(), 4000)
        d = law.density(x)
        lx = np.log(x)
        below = (L + 1) * x[0] * d[0]  # rho ~ c x^(-L/(L+1)) below the grid
        assert np.trapezoid(d * x, lx) + below == pytest.approx(1.0, abs=1e-3)
        assert np.trapezoid(d * x**2, lx) == pytest.approx(sp.fuss_catalan_moment(L, 1), rel=1e-3)
        assert np.trapezoid(d * x**3, lx) == pytest.approx(sp.fuss_catalan_moment(L, 2), rel=1e-3)
        assert law.cdf(law.support_hint()) == pytest.approx(1.0, abs=1e-3)
        right_edge = (L + 1) ** (L + 1) / L**L  # the support of the Fuss-Catalan law ends here
        assert x[d > 1e-4].max() == pytest.approx(right_edge, rel=0.02)


@pytest.mark.parametrize("L", [1, 2, 5])
def test_haagerup_larsen_gives_ginibre_product_radii(L):
    # eigenvalues of a product of L Ginibre matrices: P(|lambda| <= r) = r^(2/L) on [0, 1]
    law = sp.FreeJacobianLaw.linear(L)
    r = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(law.eigenvalue_cdf(r), r ** (2 / L), atol=1e-8)
    assert law.mass_outside(1.0) == 0.0
    assert law.mass_outside(0.5) == pytest.approx(1 - 0.5 ** (2 / L), abs=1e-8)


def test_network_theory_matches_sampled_jacobians_at_n_1000():
    cfg = NetworkConfig(N=1000, L=3, law="gaussian", scale=1.5, bias_scale=0.5, activation="tanh")
    law = sp.FreeJacobianLaw.from_config(cfg)
    ens = Ensemble.sample(cfg, 1, seed=3)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 2, 1000))
    spec = sp.jacobian_spectrum(ens, x)
    ev, sv2 = spec.pooled()
    m1, m2 = law.moments()
    assert sv2.mean() == pytest.approx(m1, rel=0.05)
    assert (sv2**2).mean() == pytest.approx(m2, rel=0.15)
    # eigenvalues of J: ring law of Haagerup-Larsen, mass outside radii, and the edge
    for r in (0.5, 0.8, 1.0):
        assert sp.mass_outside(ev, r) == pytest.approx(law.mass_outside(r), abs=0.03)
    assert spec.spectral_radius.mean() == pytest.approx(law.outer_radius, rel=0.1)
    # density of J J^T against the sampled values: Kolmogorov-Smirnov distance
    ks = law.ks_distance(sv2)
    assert ks < 0.03
    print(f"KS distance {ks:.4f}")


def test_cauchy_preactivations_are_cauchy_with_the_predicted_scale():
    cfg = NetworkConfig(N=1000, L=2, law="cauchy", scale=4.0, bias_law="same", bias_scale=1.0, activation="tanh")
    gam = sp.cauchy_scale_sequence(cfg)
    assert gam[0] == pytest.approx(4.0 * 0.5 + 1.0)  # s E|x| + beta for x uniform on [-1, 1]
    ens = Ensemble.sample(cfg, 4, seed=1)
    x = np.random.default_rng(2).uniform(-1, 1, (4, 1, 1000))
    h = sp.preactivations(ens, x)
    # the median of |C| is the Cauchy scale
    assert np.median(np.abs(h[:, 0])) == pytest.approx(gam[0], rel=0.06)
    assert np.median(np.abs(h[:, 1])) == pytest.approx(gam[1], rel=0.06)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "erf", "algebraic"])
def test_preactivations_are_the_layers_of_the_forward_pass(activation):
    cfg = NetworkConfig(N=5, L=3, law="cauchy", scale=4.0, bias_law="same", activation=activation)
    ens = Ensemble.sample(cfg, 2, seed=0)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 4, 5))
    h = sp.preactivations(ens, x)
    assert h.shape == (2, 3, 4, 5)
    W, b = np.asarray(ens.weights), np.asarray(ens.biases)
    np.testing.assert_allclose(h[:, 0], np.einsum("eij,emj->emi", W[:, 0], x) + b[:, 0, None], rtol=1e-12)
    np.testing.assert_allclose(h[:, 1], np.einsum("eij,emj->emi", W[:, 1], ens.activation(h[:, 0], np))
                               + b[:, 1, None], rtol=1e-12)
    np.testing.assert_array_equal(ens.activation(h[:, -1], np), ens.forward(x))  # the network's own activation
    with pytest.raises(ValueError, match="shape"):
        sp.preactivations(ens, x[:1])


def test_real_eigenvalues_exactly_and_consistent_with_the_index():
    rng = np.random.default_rng(0)
    for scale in (1e-8, 1.0, 1e8):
        J = scale * rng.standard_normal((400, 7, 7))
        ev = sp.matrix_spectrum(J).eigenvalues
        real = sp.real_eigenvalue_mask(ev)
        # complex eigenvalues of a real matrix come in conjugate pairs: N - #real is even
        assert np.all((7 - real.sum(axis=-1)) % 2 == 0)
        np.testing.assert_array_equal(np.sort(ev[~real].imag), np.sort(-ev[~real].imag))
        # sign det(I - J) < 0 exactly when an odd number of real eigenvalues exceed 1
        sign, _ = np.linalg.slogdet(np.eye(7) - J)
        odd = (real & (ev.real > 1.0)).sum(axis=-1) % 2 == 1
        np.testing.assert_array_equal(odd, sign < 0)
    rotation = np.array([[0.0, -2.0], [2.0, 0.0]])
    assert not sp.real_eigenvalue_mask(sp.matrix_spectrum(rotation).eigenvalues).any()
    assert sp.real_eigenvalue_mask(np.array([0.5, 2.0])).all()  # a real array is all real


def test_spectrum_statistics_on_known_eigenvalues():
    ev = np.array([[[2.0, 0.5], [1 + 1j, 1 - 1j]],
                   [[0.1, 0.2], [3.0, -3.0]]])
    stats = sp.spectrum_statistics(sp.JacobianSpectrum(ev, np.abs(ev) ** 2))
    assert stats["network"].tolist() == [0, 1]
    assert stats["mass_outside_unit_circle"].tolist() == [0.75, 0.5]
    assert stats["p_real_eigenvalue_above_1"].tolist() == [0.5, 0.5]
    assert stats["mean_spectral_radius"].tolist() == pytest.approx([(2 + np.sqrt(2)) / 2, 3.2 / 2])
    with pytest.raises(ValueError, match="E, M, N"):
        sp.spectrum_statistics(sp.JacobianSpectrum(ev[0], ev[0]))


def test_matrix_spectrum_is_the_jacobian_spectrum_of_a_stack():
    A = np.diag([3.0, -1.0, 0.5])
    s = sp.matrix_spectrum(A[None])
    np.testing.assert_allclose(np.sort(s.eigenvalues.real[0]), [-1.0, 0.5, 3.0])
    np.testing.assert_allclose(s.sv2[0], [9.0, 1.0, 0.25])  # descending
    with pytest.raises(ValueError, match="N, N"):
        sp.matrix_spectrum(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="real"):
        sp.matrix_spectrum(np.eye(2) * 1j)


def test_cavity_matches_sampled_cauchy_layer_and_is_seeded():
    cfg = NetworkConfig(N=1000, L=1, law="cauchy", scale=4.0, bias_law="same", bias_scale=1.0, activation="tanh")
    ens = Ensemble.sample(cfg, 3, seed=1)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 1, 1000))
    sv2 = sp.jacobian_spectrum(ens, x).sv2
    grid = np.geomspace(1e-6, 1e2, 9)
    kw = dict(eta=0.2, population=1500, sweeps=20, burn_in=8)
    theory = sp.cavity_jjt_density(cfg, grid, seed=5, **kw)
    sampled = sp.smoothed_esd(sv2, grid, eta=0.2)
    np.testing.assert_allclose(theory * grid, sampled * grid, rtol=0.15)
    np.testing.assert_array_equal(theory, sp.cavity_jjt_density(cfg, grid, seed=5, **kw))


def test_index_of_fixed_points_sums_to_one():
    # N = 1, x -> tanh(2 x): fixed points 0 (slope 2, index -1) and +-0.9575 (slope < 1, index +1)
    ens = Ensemble(np.array([[[[2.0]]]]), activation="tanh")
    res = find_fixed_points(ens, n_starts=32, seed=0, newton=True)
    assert len(res.x) == 3
    idx = sp.fixed_point_index(res.eigenvalues)
    assert sorted(idx.tolist()) == [-1, 1, 1]
    assert idx.sum() == 1
    # per network: complete with Newton; iteration alone misses the saddle, so the sum is 2
    two = Ensemble(np.array([[[[2.0]]], [[[2.0]]]]), activation="tanh")
    sums = sp.fixed_point_index_sums(find_fixed_points(two, n_starts=32, seed=0, newton=True))
    assert sums["index_sum"].tolist() == [1, 1] and sums["index_complete"].all()
    assert sums["fixed_points"].tolist() == [3, 3] and sums["index_minus"].tolist() == [1, 1]
    assert sums["stable_fixed_points"].tolist() == [2, 2]
    partial = sp.fixed_point_index_sums(find_fixed_points(two, n_starts=32, seed=0))
    assert partial["index_sum"].tolist() == [2, 2] and not partial["index_complete"].any()
    np.testing.assert_array_equal(sp.fixed_point_index(np.array([[0.5, 3.0], [np.nan, 0.1]])), [-1, 0])


def test_spectra_bad_input_errors():
    cauchy = NetworkConfig(N=10, L=2, law="cauchy")
    gauss = NetworkConfig(N=10, L=2, law="gaussian")
    with pytest.raises(ValueError, match="law='gaussian'"):
        sp.FreeJacobianLaw.from_config(cauchy)
    with pytest.raises(ValueError, match="law='cauchy'"):
        sp.cavity_jjt_density(gauss, [1.0], seed=0)
    with pytest.raises(ValueError, match="x must be"):
        sp.FreeJacobianLaw.linear(2).density([0.0, 1.0])
    with pytest.raises(ValueError, match="burn_in"):
        sp.cavity_jjt_density(cauchy, [1.0], seed=0, sweeps=5, burn_in=5)
    with pytest.raises(ValueError, match="radius"):
        sp.mass_outside([1.0], radius=-1)
    with pytest.raises(ValueError, match="values"):
        sp.smoothed_esd([], [1.0])
    with pytest.raises(ValueError, match="sigma_w2"):
        sp.FreeJacobianLaw([-1.0], [(1.0, 1.0)])
    with pytest.raises(ValueError, match="sum to 1"):
        sp.FreeJacobianLaw([1.0], [([1.0, 2.0], [0.5, 0.6])])
    with pytest.raises(TypeError, match="Ensemble"):
        sp.jacobian_spectrum("net", np.zeros((1, 1, 1)))
    with pytest.raises(ValueError, match="L"):
        sp.fuss_catalan_moment(0, 1)
    with pytest.raises(ValueError, match="w"):
        sp.FreeJacobianLaw.linear(1).s_transform(-1.5)


@pytest.mark.gpu
def test_preactivations_and_spectra_on_cupy_equal_numpy():
    cupy = pytest.importorskip("cupy")
    from fpkit.backend import to_numpy

    cfg = NetworkConfig(N=6, L=3, law="cauchy", scale=4.0, bias_law="same", activation="logistic")
    ens = Ensemble.sample(cfg, 3, seed=0, backend="numpy")
    on_gpu = Ensemble(cupy.asarray(ens.weights), cupy.asarray(ens.biases), activation=cfg.activation)
    x = np.random.default_rng(1).uniform(0, 1, (3, 4, 6))
    h = sp.preactivations(on_gpu, cupy.asarray(x))
    assert type(h).__module__.startswith("cupy")
    np.testing.assert_allclose(to_numpy(h), sp.preactivations(ens, x), rtol=1e-10, atol=1e-12)
    stats_gpu = sp.spectrum_statistics(sp.jacobian_spectrum(on_gpu, cupy.asarray(x)))
    stats_cpu = sp.spectrum_statistics(sp.jacobian_spectrum(ens, x))
    np.testing.assert_allclose(stats_gpu.to_numpy(float), stats_cpu.to_numpy(float), rtol=1e-8)


def test_cavity_s_transform_matches_a_sampled_cauchy_layer():
    # one layer at inputs phi(gamma* C): the resolvent at negative spectral parameter, t = y g(y)
    cfg = NetworkConfig(N=800, L=1, law="cauchy", scale=4.0, bias_scale=1.0, activation="tanh")
    gam = sp.cauchy_fixed_scale(cfg)
    assert gam == pytest.approx(4.0 * np.mean(np.abs(np.tanh(gam * np.tan(np.pi * (np.arange(40001) + 0.5) / 40001
                                                                          - np.pi / 2)))) + 1.0, rel=1e-6)
    y = np.array([1e-4, 1e-2, 1.0, 1e2])
    w, log_s = sp.cavity_s_transform(cfg, y, population=1500, sweeps=16, burn_in=5, seed=1)
    ens = Ensemble.sample(cfg, 1, seed=3)
    x = np.tanh(gam * np.random.default_rng(0).standard_cauchy((1, 2, 800)))
    sv2 = np.concatenate([np.linalg.svd(j, compute_uv=False) ** 2 for j in ens.jacobian(x)[0]])
    g = np.array([np.mean(1.0 / (sv2 + yi)) for yi in y])
    np.testing.assert_allclose(1.0 + w, y * g, atol=0.03)
    np.testing.assert_allclose(log_s, np.log(g / (1.0 - y * g)), atol=0.15)


def test_radial_quantile_and_log_potential_of_products():
    law = sp.FreeJacobianLaw.linear(3, sigma_w=1.2)
    t = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(law.radial_quantile(t), 1.2**3 * t ** 1.5, atol=1e-9)  # r = sigma^L t^(L/2)
    # Jensen: the log-potential of a law inside the unit disc is 0 at z = 1, log z far outside it
    assert sp.FreeJacobianLaw.linear(2, 0.9).log_potential(1.0) == 0.0
    assert law.log_potential(10.0) == pytest.approx(math.log(10.0))
    with pytest.raises(ValueError, match="t"):
        law.radial_quantile([1.5])


def test_deep_free_law_moments_are_an_error_not_inf():
    """Defect 6: FreeJacobianLaw(L=1000).moments() returned inf with a warning."""
    import warnings

    law = sp.FreeJacobianLaw.linear(1000, sigma_w=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="outside the float64 range .* use log_moments"):
            law.moments()
        log_m1, log_m2 = law.log_moments()
    # linear layers: m1 = sigma^(2L), m2 / m1^2 = L + 1 (Fuss-Catalan)
    assert log_m1 == pytest.approx(1000 * math.log(4.0), rel=1e-12)
    assert log_m2 == pytest.approx(2 * log_m1 + math.log(1001.0), rel=1e-12)
    assert sp.FreeJacobianLaw.linear(1000).moments() == pytest.approx((1.0, 1001.0))


def test_jacobian_spectrum_where_the_jacobian_overflows_is_a_clear_error():
    cfg = NetworkConfig(N=4, L=500, law="gaussian", scale=10.0, activation="tanh", bias_law=None)
    ens = Ensemble.sample(cfg, 1, seed=0)
    with pytest.raises(ValueError, match="overflows float64 .*forward_with_scaled_jacobian"):
        sp.jacobian_spectrum(ens, np.zeros((1, 1, 4)))


def test_linear_network_jacobians_are_the_products_the_chapters_form_by_hand():
    from fpkit.sampling import sample_weights

    W = sample_weights("gaussian", (3, 40, 40), seed=7)  # chapter 5's product_jacobian(3, 40, 7)
    by_hand = W[2] @ (W[1] @ W[0])
    np.testing.assert_array_equal(sp.linear_network_jacobians(3, 40, seed=7)[0], by_hand)
    J = sp.linear_network_jacobians(2, 300, 4, sigma_w=1.5, seed=1)
    assert J.shape == (4, 300, 300)
    sv2 = sp.matrix_spectrum(J[:, None]).sv2
    law = sp.FreeJacobianLaw.linear(2, sigma_w=1.5)
    assert sv2.mean() == pytest.approx(law.moments()[0], rel=0.03)  # Fuss-Catalan, scaled by 1.5^4
    assert (sv2**2).mean() == pytest.approx(law.moments()[1], rel=0.08)


def test_empirical_log_potential_is_the_log_determinant_and_matches_the_ginibre_exponent():
    from fpkit import kacrice as kr

    J = sp.linear_network_jacobians(2, 200, 6, sigma_w=3.0 ** 0.5, seed=2)  # tau X with tau = 3, L = 2
    spec = sp.matrix_spectrum(J[:, None])
    logdet = np.array([np.linalg.slogdet(np.eye(200) - j)[1] / 200 for j in J])
    np.testing.assert_allclose(sp.empirical_log_potential(spec, 1.0), logdet, rtol=1e-9, atol=1e-12)
    assert sp.empirical_log_potential(spec).mean() == pytest.approx(kr.ginibre_product_log_potential(2, 3.0), abs=0.02)
    ev = np.array([[[1.0, 2.0]]])
    assert sp.empirical_log_potential(sp.JacobianSpectrum(ev, ev**2), 1.0)[0] == -np.inf  # det(I - J) = 0
    with pytest.raises(TypeError, match="spectrum"):
        sp.empirical_log_potential(ev)
    with pytest.raises(ValueError, match="z"):
        sp.empirical_log_potential(spec, np.nan)
    with pytest.raises(ValueError, match="L"):
        sp.linear_network_jacobians(0, 3, seed=0)
    with pytest.raises(ValueError, match="sigma_w"):
        sp.linear_network_jacobians(2, 3, sigma_w=0.0, seed=0)
    with pytest.raises(ValueError, match="overflows"):
        sp.linear_network_jacobians(200, 3, sigma_w=1e30, seed=0)


def test_random_input_spectrum_is_chapter_5s_recipe():
    from fpkit.engine import uniform_starts
    from fpkit.regimes import GAUSSIAN_REGIME

    cfg = GAUSSIAN_REGIME.replace(N=20, L=2)
    spec = sp.random_input_spectrum(cfg, 3, 4, seed=11)
    ens = Ensemble.sample(cfg, 3, seed=11)
    by_hand = sp.jacobian_spectrum(ens, uniform_starts(ens, 4, seed=11))
    np.testing.assert_array_equal(spec.eigenvalues, by_hand.eigenvalues)
    assert spec.sv2.shape == (3, 4, 20)
    with pytest.raises(TypeError, match="config"):
        sp.random_input_spectrum("cfg", 1, 1, seed=0)
