"""The table of distinct fixed points (fpkit.engine.points): merging, matching, inserting."""

import numpy as np
import pytest

from fpkit.engine import merge_points


def test_merge_points_tolerance():
    pts = np.array([[0.0, 0.0], [0.5e-6, 0.0], [2e-6, 0.0], [1.0, 1.0]])
    res = np.array([1e-9, 1e-13, 1e-12, 1e-10])
    reps, labels = merge_points(pts, res, tol=1e-6)
    # point 1 (smallest residual) represents 0 (within 1e-6); 2 is 1.5e-6 from 1: separate
    assert reps.tolist() == [1, 2, 3]
    assert labels.tolist() == [0, 0, 1, 2]
    reps, labels = merge_points(pts, res, tol=1e-5)
    assert reps.tolist() == [1, 3] and labels.tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="merge_tol"):
        merge_points(pts, res, tol=-1.0)


def _nearest_reference(table_x, table_net, x, net, tol):
    """The definition, point by point: the nearest row of the point's network within tol (max norm), or -1."""
    out = []
    for p, e in zip(x, net):
        mine = np.flatnonzero(table_net == e)
        d = np.abs(table_x[mine] - p).max(axis=1) if mine.size else np.zeros(0)
        out.append(int(mine[d.argmin()]) if d.size and d.min() <= tol else -1)
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("seed", range(4))
def test_match_finds_the_nearest_row_of_the_same_network(seed, monkeypatch):
    """Vectorised matching equals the point-by-point definition, also when the candidates are matched in
    small blocks; a point near a row of another network is not that row."""
    from fpkit.engine import points

    rng = np.random.default_rng(seed)
    E, N = 5, 3
    table = points.PointTable(E, N)
    x = rng.uniform(-1, 1, (40, N))
    net = rng.integers(0, E - 1, 40)  # network E - 1 has no rows
    table.add(x, net, np.zeros(40), "test")
    # candidates: copies of rows moved by less or more than tol, some in another network, random points
    pick = rng.integers(0, 40, 30)
    cand = np.concatenate([x[pick] + rng.uniform(-1.2e-6, 1.2e-6, (30, N)), rng.uniform(-1, 1, (10, N))])
    cand_net = np.concatenate([np.where(rng.random(30) < 0.2, (net[pick] + 1) % E, net[pick]), rng.integers(0, E, 10)])
    want = _nearest_reference(x, net, cand, cand_net, 1e-6)
    assert (want >= 0).sum() >= 5 and (want < 0).sum() >= 5
    np.testing.assert_array_equal(table.match(cand, cand_net, 1e-6), want)
    monkeypatch.setattr(points, "_MATCH_BLOCK", 7)
    np.testing.assert_array_equal(table.match(cand, cand_net, 1e-6), want)


def test_match_tells_steep_points_apart_by_their_layer_states():
    """Two points closer than tol in x are one unless both carry layer states that differ (asinh scale)."""
    from fpkit.engine.points import PointTable

    table = PointTable(1, 1)
    states = np.array([[[3.0]], [[np.nan]]])
    table.add(np.array([[0.5], [-0.5]]), np.array([0, 0]), np.zeros(2), "test", layer_states=states)
    near = np.array([[0.5 + 1e-9], [0.5 + 1e-9], [-0.5 + 1e-9]])
    cand_states = np.array([[[3.0 + 1e-9]], [[40.0]], [[7.0]]])
    rows = table.match(near, np.zeros(3, dtype=np.int64), 1e-6, layer_states=cand_states, state_tol=1e-6)
    assert rows.tolist() == [0, -1, 1]  # same states; other states; a row without states matches on x


def test_insert_merges_new_points_and_keeps_their_input_order():
    """insert: known points get their row; new points within tol of each other become one new row, the one
    of smallest residual representing them; new rows by network, in input order."""
    from fpkit.engine.points import PointTable

    table = PointTable(2, 1)
    table.add(np.array([[0.0]]), np.array([1]), np.array([1e-13]), "first")
    x = np.array([[0.3], [0.0 + 1e-8], [0.3 + 5e-7], [0.9], [0.1]])
    net = np.array([1, 1, 1, 1, 0])
    res = np.array([1e-12, 1e-12, 1e-14, 1e-12, 1e-12])
    rows = table.insert(x, net, res, 1e-6, "second")
    assert rows.tolist() == [2, 0, 2, 3, 1]
    np.testing.assert_array_equal(table.network, [1, 0, 1, 1])
    np.testing.assert_array_equal(table.x[:, 0], [0.0, 0.1, 0.3 + 5e-7, 0.9])  # the best of the pair
    assert table.found_by.tolist() == ["first", "second", "second", "second"]


@pytest.mark.parametrize("seed", range(3))
def test_greedy_merge_of_many_networks_is_merge_points_per_network(seed):
    from fpkit.engine.points import greedy_merge

    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1, 1, (6, 2))
    x = centres[rng.integers(0, 6, 60)] + rng.uniform(-4e-7, 4e-7, (60, 2))
    res = rng.random(60)
    net = rng.integers(0, 4, 60)
    reps, rep_of = greedy_merge(x, res, net, 1e-6)
    assert np.array_equal(net[reps], np.sort(net[reps]))  # by network
    for e in range(4):
        mine = np.flatnonzero(net == e)
        want_reps, labels = merge_points(x[mine], res[mine], 1e-6)
        np.testing.assert_array_equal(reps[net[reps] == e], mine[want_reps])
        np.testing.assert_array_equal(rep_of[mine], mine[want_reps[labels]])
