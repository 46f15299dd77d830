"""Completeness estimates of a census (fpkit.engine.completeness): Chao1, Good-Turing, the index."""

import numpy as np
import pytest

from fpkit.engine import chao1_unseen


def test_chao1_unseen_values():
    assert chao1_unseen([1, 1, 1, 2]) == pytest.approx(3 * 2 / (2 * 2))
    assert chao1_unseen([3, 2, 5]) == 0.0
    assert chao1_unseen([]) == 0.0
    assert chao1_unseen([1, 1, 0, 0]) == pytest.approx(1.0)  # f1 = 2, f2 = 0


def test_per_network_estimates_are_the_scalar_ones():
    from fpkit.engine.completeness import chao1_unseen_per_network, good_turing_unseen_mass

    rng = np.random.default_rng(0)
    hits, net = rng.integers(0, 4, 50), rng.integers(0, 6, 50)
    per = chao1_unseen_per_network(hits, net, 7)
    assert per.shape == (7,) and per[6] == 0.0
    np.testing.assert_array_equal(per, [chao1_unseen(hits[net == e]) for e in range(7)])
    draws = np.full(7, 40)
    mass = good_turing_unseen_mass(hits, net, draws)
    np.testing.assert_array_equal(mass, [np.sum(hits[net == e] == 1) / 40 for e in range(7)])
    stable = rng.random(50) < 0.5
    np.testing.assert_array_equal(good_turing_unseen_mass(hits, net, draws, counted=stable),
                                  [np.sum((hits == 1) & stable & (net == e)) / 40 for e in range(7)])


def test_fixed_point_index_counts_real_eigenvalues_above_one():
    from fpkit.engine import fixed_point_index

    ev = np.array([[0.5, 2.0], [3.0, 1.5], [1.5 + 1j, 1.5 - 1j], [np.nan, 0.0], [1.0, 0.2], [-4.0, 0.1]])
    assert fixed_point_index(ev).tolist() == [-1, 1, 1, 0, 0, 1]
    with pytest.raises(ValueError, match="eigenvalues must have at least one axis"):
        fixed_point_index(2.0)
