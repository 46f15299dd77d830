"""Homotopy continuation in the weight scale (fpkit.engine.continuation): the bordered solve, arcs against
brute-force roots, crossings, the layer spectrum, meeting arcs, argument checks."""

import numpy as np
import pytest

from conftest import LAST_BIT, brute_force_roots_2d, last_bit, roots_1d, roots_from_grid
from fpkit import CAUCHY_REGIME, Ensemble, NetworkConfig, find_fixed_points
from fpkit.engine import CONTINUATION_STATUS, continuation_search, fixed_point_index, layer_jacobian_eigenvalues
from fpkit.engine.continuation.system import bordered_solve


def dense_bordered(A, g, c, ct):
    """The (LN + 1)-square matrix that bordered_solve eliminates block by block, per item."""
    P, L, N, _ = A.shape
    D = L * N + 1
    M = np.zeros((P, D, D))
    for layer in range(L):
        rows = slice(layer * N, (layer + 1) * N)
        prev = (layer - 1) % L
        M[:, rows, rows] -= np.eye(N)
        M[:, rows, prev * N:(prev + 1) * N] += A[:, layer]
        M[:, rows, -1] = g[:, layer]
    M[:, -1, :-1] = c.reshape(P, -1)
    M[:, -1, -1] = ct
    return M


@pytest.mark.parametrize("L", [1, 2, 3, 7])
def test_bordered_solve_matches_the_dense_system(L):
    rng = np.random.default_rng(L)
    P, N, k = 4, 3, 2
    A = 3.0 * rng.standard_normal((P, L, N, N))
    g, c = rng.standard_normal((P, L, N)), rng.standard_normal((P, L, N))
    ct, r, rb = rng.standard_normal(P), rng.standard_normal((P, L, N, k)), rng.standard_normal((P, k))
    du, dt = bordered_solve(A, g, c, ct, r, rb, np)
    rhs = np.concatenate([r.reshape(P, L * N, k), rb[:, None, :]], axis=1)
    exact = np.linalg.solve(dense_bordered(A, g, c, ct), rhs)
    np.testing.assert_allclose(du.reshape(P, L * N, k), exact[:, :-1], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dt, exact[:, -1], rtol=1e-9, atol=1e-11)


def singular_bordered(L, noise_seed=None):
    """Two items: item 0 exactly singular (a cycle of identities, L >= 2: I - A_{L-1} ... A_0 = 0; L = 1:
    A_0 = I; the border cannot fix it), item 1 regular (zero blocks). With ``noise_seed``, every entry
    gets an absolute perturbation of 1e-17 (another BLAS kernel's rounding: the identities' ones do not
    change, the zeros do), so the pivot that is exactly zero becomes rounding noise."""
    N = 2
    A = np.zeros((2, L, N, N))
    A[0] = np.eye(N)
    g, c = np.zeros((2, L, N)), np.zeros((2, L, N))
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        A, g, c = (a + 1e-17 * rng.standard_normal(a.shape) for a in (A, g, c))
    return A, g, c, np.ones(2), np.ones((2, L, N, 1)), np.ones((2, 1))


@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("noise_seed", [None, 0, 1, 2, 3, 4])
def test_bordered_solve_marks_singular_systems_nan_on_any_kernel(L, noise_seed):
    """Exactly singular, and singular up to rounding-size noise (what another kernel makes of the exact
    zero pivot; the old exact-zero test answered 1e17 here): NaN, with and without the determinant's
    sign; the regular item beside it is solved."""
    A, g, c, ct, r, rb = singular_bordered(L, noise_seed)
    for want_sign in (False, True):
        du, dt = bordered_solve(A, g, c, ct, r, rb, np, want_sign=want_sign)[:2]
        assert np.isnan(du[0]).all() and np.isnan(dt[0]).all()
        assert np.isfinite(du[1]).all() and np.isfinite(dt[1]).all()
        exact = np.linalg.solve(dense_bordered(A, g, c, ct)[1], np.concatenate([r[1].reshape(-1, 1), rb[1, None]]))
        np.testing.assert_allclose(du[1].reshape(-1), exact[:-1, 0], rtol=1e-12, atol=1e-14)


def test_bordered_solve_keeps_ill_conditioned_but_regular_systems():
    """A regular system whose layer cycle is 1e-8 from singular (condition about 1e9, far from singular in
    float64) is solved, not refused: finite, with a backward error at rounding level (a property every
    kernel shares; the solution's last digits depend on the kernel's rounding times the condition)."""
    rng = np.random.default_rng(3)
    P, L, N = 3, 3, 3
    A = rng.standard_normal((P, L, N, N))
    A[:, 0] = np.linalg.inv(A[:, 2] @ A[:, 1]) @ (np.eye(N) - 1e-8 * np.diag([1.0, 2.0, 3.0]))  # cycle near I
    g, c = rng.standard_normal((P, L, N)), rng.standard_normal((P, L, N))
    ct, r, rb = rng.standard_normal(P), rng.standard_normal((P, L, N, 1)), rng.standard_normal((P, 1))
    du, dt = bordered_solve(A, g, c, ct, r, rb, np)
    M = dense_bordered(A, g, c, ct)
    rhs = np.concatenate([r.reshape(P, L * N, 1), rb[:, None]], 1)
    sol = np.concatenate([du.reshape(P, L * N, 1), dt[:, None]], 1)
    assert np.isfinite(sol).all() and np.abs(sol).max() > 1e6  # large: the system is near-singular
    backward = np.abs(M @ sol - rhs).max(axis=(1, 2)) / (np.abs(M).max(axis=(1, 2)) * np.abs(sol).max(axis=(1, 2)))
    assert (backward < 1e-13).all(), backward
    np.testing.assert_allclose(sol, np.linalg.solve(M, rhs), rtol=1e-5)


def check_arcs(ens, roots, tol=1e-8):
    """Follow the main branch and the arc of every brute-force root; returns per network the
    index of the root the main branch reached, after checking the pairing: every arc ends on
    another brute-force root of opposite index, or at t = 0 (exactly one per network, from the
    main branch's root)."""
    E, _, N = ens.shape
    R = max(len(r) for r in roots)
    known = np.full((E, R, N), np.nan)
    for e, r in enumerate(roots):
        known[e, :len(r)] = r
    res = continuation_search(ens, known)
    names = res.status_names()
    main_root = []
    for e, r in enumerate(roots):
        index = fixed_point_index(np.linalg.eigvals(ens.subset(np.array([e])).jacobian(r[None])[0]))

        def which(x):
            d = np.abs(r - x).max(axis=1)
            assert d.min() < tol, (e, x, r)
            return int(d.argmin())

        assert names[e, 0] == "crossed"
        main = which(res.x[e, 0])
        assert index[main] == 1
        assert [k for k in range(len(r)) if names[e, k + 1] == "main_branch"] == [main]
        for k in range(len(r)):
            if k != main:
                assert names[e, k + 1] == "crossed", (e, k, names[e])
                assert index[which(res.x[e, k + 1])] == -index[k]
        main_root.append(main)
    return main_root


@pytest.mark.parametrize("noise_seed", LAST_BIT)
@pytest.mark.parametrize("L,scale", [(1, 4.0), (3, 16.0)])
def test_arcs_pair_the_exact_roots_of_one_unit_networks(L, scale, noise_seed):
    cfg = NetworkConfig(N=1, L=L, law="cauchy", scale=scale, activation="tanh", bias_law="same")
    ens = last_bit(Ensemble.sample(cfg, 24, seed=5), noise_seed)
    roots = [roots_1d(ens, e) for e in range(24)]
    assert sum(len(r) > 1 for r in roots) >= 5  # several multistable networks among them
    check_arcs(ens, roots)


@pytest.mark.parametrize("seed, noise_seed", [(0, None), (1, None), (0, 1), (0, 2), (1, 3)])
def test_arcs_pair_the_brute_force_roots_in_two_dimensions(seed, noise_seed):
    """Brute-force roots (never an empty list: the helper raises) paired by the arcs; also on weights
    changed in their last bit, as another BLAS kernel's rounding would see them (issue 25: seed 0 found
    no root for one network on OpenBLAS's SkylakeX kernel)."""
    cfg = NetworkConfig(N=2, L=2, law="cauchy", scale=4.0, activation="tanh", bias_law="same")
    ens = last_bit(Ensemble.sample(cfg, 6, seed=seed), noise_seed)
    roots = [brute_force_roots_2d(ens, e) for e in range(6)]
    # the grid search may miss roots; the degree argument says a complete list has sum 1
    complete = [fixed_point_index(np.linalg.eigvals(ens.subset(np.array([e])).jacobian(r[None])[0])).sum() == 1
                for e, r in enumerate(roots)]
    keep = np.flatnonzero(complete)
    assert keep.size >= 5 and sum(len(roots[e]) > 1 for e in keep) >= 1
    check_arcs(ens.subset(keep), [roots[e] for e in keep])


@pytest.mark.parametrize("noise_seed", LAST_BIT)
def test_arc_from_a_stable_point_finds_its_saddle_partner(noise_seed):
    """Two coupled bistable units: 9 fixed points, 4 of them stable. From each stable point but
    the main branch's, the arc of decreasing weight scale turns around and comes back to t = 1 at
    a saddle (index -1); the main branch's stable point leads down to t_0 instead."""
    ens = last_bit(Ensemble(np.array([[[[3.0, 0.4], [-0.3, 2.5]]]]), np.array([[[0.2, -0.1]]]), "tanh"), noise_seed)
    roots = roots_from_grid(ens)
    ev = np.linalg.eigvals(ens.jacobian(roots[None])[0])
    index, stable = fixed_point_index(ev), np.abs(ev).max(axis=1) < 1
    assert roots.shape[0] == 9 and index.sum() == 1 and stable.sum() == 4
    main = check_arcs(ens, [roots])[0]
    assert stable[main]
    res = continuation_search(ens, roots[None][:, stable])
    names = res.status_names()[0, 1:]
    assert (names == "main_branch").sum() == 1 and (names == "crossed").sum() == 3
    for k in np.flatnonzero(names == "crossed"):
        x = res.x[0, k + 1]
        partner = np.abs(roots - x).max(axis=1).argmin()
        assert np.abs(roots[partner] - x).max() < 1e-10 and index[partner] == -1 and not stable[partner]
        assert np.abs(ens.forward(x[None, None])[0, 0] - x).max() < 1e-12
    assert np.abs(roots[stable][names == "main_branch"] - roots[main]).max() < 1e-12


def test_crossings_are_fixed_points_with_their_layer_states():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=4, L=3), 8, seed=2)
    res = continuation_search(ens)
    assert (res.status[:, 0] == CONTINUATION_STATUS["crossed"]).all()
    x = res.x[:, :1]
    assert np.abs(ens.forward(x) - x).max() < 1e-10
    assert (res.error[:, 0] < 1e-12).all() and (res.residual[:, 0] < 1e-12).all()
    # the layer states are the orbit's pre-activations; the eigenvalues from them match J at x
    z0 = np.einsum("eij,ej->ei", ens.weights[:, 0], x[:, 0]) + ens.biases[:, 0]
    np.testing.assert_allclose(res.z[:, 0, 0], z0, atol=1e-9)
    ev = np.sort_complex(layer_jacobian_eigenvalues(ens, res.z[:, :1])[:, 0])
    np.testing.assert_allclose(ev, np.sort_complex(np.linalg.eigvals(ens.jacobian(x)[:, 0])), rtol=1e-7, atol=1e-9)


def test_continuation_is_deterministic_and_honours_its_arguments():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=3, L=4), 5, seed=4)
    known = np.full((5, 2, 3), np.nan)
    a = continuation_search(ens, known)
    b = continuation_search(ens, known)
    for name in ("x", "z", "residual", "error", "status", "steps", "rejected"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.status[:, 1:] == CONTINUATION_STATUS["no_start"]).all()
    off = continuation_search(ens, known, main_branch=False)
    assert (off.status == CONTINUATION_STATUS["no_start"]).all() and np.isnan(off.x).all()
    capped = continuation_search(ens, max_steps=2)
    assert (capped.steps <= 2).all() and (capped.status == CONTINUATION_STATUS["step_cap"]).any()
    with pytest.raises(ValueError, match="known must have shape"):
        continuation_search(ens, np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match="max_steps"):
        continuation_search(ens, max_steps=0)
    with pytest.raises(ValueError, match="initial_step"):
        continuation_search(ens, initial_step=2.0, max_step=1.0)
    with pytest.raises(TypeError, match="main_branch"):
        continuation_search(ens, main_branch="yes")
    with pytest.raises(ValueError, match="z must have shape"):
        layer_jacobian_eigenvalues(ens, np.zeros((5, 1, 3, 3)))
    with pytest.raises(ValueError, match="known_z must have shape"):
        continuation_search(ens, known, known_z=np.zeros((5, 2, 4, 2)))
    # a ragged list of known points (one list per network, of different lengths): an error naming it
    ragged = [[[0.1, 0.2, 0.3]], [[0.1, 0.2, 0.3], [0.0, 0.0, 0.0]]] + [[[0.1, 0.2, 0.3]]] * 3
    with pytest.raises(TypeError, match="known must be a numeric array.*padded with NaN rows"):
        continuation_search(ens, ragged)
    with pytest.raises(TypeError, match="known_z must be a numeric array"):
        continuation_search(ens, known, known_z=[[[[0.0]]], [[[0.0, 1.0]]]])
    with pytest.raises(TypeError, match="known must be a numeric array"):
        continuation_search(ens, "abc")


def test_arcs_from_given_layer_states_match_arcs_from_x():
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=3, L=4), 6, seed=8)
    first = continuation_search(ens)
    known = first.x[:, :1]  # the main branch's points, as known points
    from_x = continuation_search(ens, known, main_branch=False)
    from_z = continuation_search(ens, known, main_branch=False, known_z=first.z[:, :1])
    np.testing.assert_array_equal(from_x.status, from_z.status)
    assert (from_x.status[:, 1] == CONTINUATION_STATUS["main_branch"]).all()  # each leads back to t_0
    np.testing.assert_allclose(from_x.known_z, first.z[:, :1], rtol=1e-9, atol=1e-9)


def test_eigenvalues_of_a_steep_product_come_from_the_cyclic_matrix():
    """A_l = Q diag(d_l) Q^T: the product has eigenvalues prod_l d_l exactly, up to 30^11 ~ 2e16
    here, so the product's rounding (~ |J| * 1e-16) drowns the moderate ones; the block-cyclic
    matrix resolves every eigenvalue of modulus above 1 and the index sign det(I - J)."""
    from fpkit.engine.continuation.spectrum import cyclic_eigenvalues, cyclic_index

    L, N = 11, 5
    Q = np.linalg.qr(np.random.default_rng(7).standard_normal((N, N)))[0]
    d = np.array([30.0, 1.5, 1.2, -1.3, 1e-3])
    A = np.broadcast_to(Q @ np.diag(d) @ Q.T, (1, L, N, N)).copy()
    exact = d**L  # 1.8e16, 86.5, 7.4, -17.9, 1e-33: three real eigenvalues above 1
    assert cyclic_index(A, np)[0] == np.sign(np.prod(1.0 - exact)) == -1
    lam = cyclic_eigenvalues(A, np)[0]
    big = np.sort_complex(lam[np.abs(lam) > 1])
    np.testing.assert_allclose(big, np.sort_complex(exact[np.abs(exact) > 1].astype(complex)), rtol=1e-9)
    assert (np.abs(lam) < 1).sum() == 1 and fixed_point_index(lam) == -1


def test_arcs_that_meet_end_where_arcs_followed_to_the_end_end():
    """Two arcs on one curve stop where they meet; each ends where the other started: the same
    status and the same point as when both are followed all the way, in fewer steps."""
    ens = Ensemble.sample(CAUCHY_REGIME.replace(N=4, L=6), 24, seed=3)
    res = find_fixed_points(ens, n_starts=64, seed=4, newton=True)
    from fpkit.engine.points import pack_by_network

    known, _ = pack_by_network(res.x, res.fp_network, ens.shape[0], ens.shape[2], fill=np.nan)
    full = continuation_search(ens, known, meet=False)
    met = continuation_search(ens, known)
    np.testing.assert_array_equal(met.status, full.status)
    crossed = met.status == CONTINUATION_STATUS["crossed"]
    assert crossed[:, 1:].any()
    np.testing.assert_allclose(met.x[crossed], full.x[crossed], atol=1e-9)
    np.testing.assert_allclose(met.z[crossed], full.z[crossed], rtol=1e-7, atol=1e-7)
    assert (met.error[crossed] <= 1e-12).all()
    assert (met.steps <= full.steps).all() and met.steps.sum() < 0.8 * full.steps.sum()
    with pytest.raises(TypeError, match="meet"):
        continuation_search(ens, known, meet=1)
