"""The fixed-point engine: attractors by batched iteration, all fixed points by Newton and continuation.

Modules, one idea each (the import order: each uses only those above it):

:mod:`~fpkit.engine.settings`
    :class:`~fpkit.engine.EngineSettings`, every option in one frozen, validated object.
:mod:`~fpkit.engine.starts`
    uniform, grid and plane starts in the activation's box.
:mod:`~fpkit.engine.active`
    the packed active block shared by the iteration and the Newton search.
:mod:`~fpkit.engine.linalg`
    the batched linear solves, and the one test that calls a system singular.
:mod:`~fpkit.engine.completeness`
    the index ``sign det(I - J)`` and the estimates of what a census has not found (Good-Turing, Chao1).
:mod:`~fpkit.engine.iterate`
    :func:`~fpkit.engine.iterate_map`: x <- F(x) from every start, with convergence and cycle detection.
:mod:`~fpkit.engine.newton`
    :func:`~fpkit.engine.polish`, the deflated :func:`~fpkit.engine.newton_search` and the multiple-shooting
    :func:`~fpkit.engine.shooting_search`.
:mod:`~fpkit.engine.points`
    the table of distinct fixed points (one matching routine: "is this point already known"), merging,
    polishing and classifying flat lists of points.
:mod:`~fpkit.engine.continuation`
    :func:`~fpkit.engine.continuation_search`: homotopy continuation in the weight scale, the main
    branch from t = 0 and the arcs pairing fixed points of opposite index (a numerical package:
    the layer system and its bordered solve, arcs, the layer spectrum).
:mod:`~fpkit.engine.result`
    :class:`~fpkit.engine.FixedPoints`, the result.
:mod:`~fpkit.engine.census`
    :func:`~fpkit.engine.find_fixed_points`, the pipeline of stages (iteration, adaptive starts,
    Newton, multiple shooting, continuation), with the index check.
:mod:`~fpkit.engine.basins`
    basin fractions, basin maps, attractors around a point.
:mod:`~fpkit.engine.analysis`
    what the chapters compute from censuses: the union of two censuses' lists, Jacobian norms.
"""

from .active import ActiveBlock, Compaction
from .analysis import jacobian_norms, union_counts
from .basins import attractors_near, basin_fractions, basin_map
from .census import find_fixed_points
from .completeness import chao1_unseen, fixed_point_index
from .continuation import CONTINUATION_STATUS, ContinuationResult, continuation_search, layer_jacobian_eigenvalues
from .iterate import STATUS, IterationResult, iterate_map
from .newton import newton_search, polish, shooting_search
from .points import merge_points
from .result import FixedPoints
from .settings import MAX_GRID_STARTS, PRECISIONS, SEEDINGS, EngineSettings
from .starts import grid_starts, plane_starts, seeded_starts, uniform_starts

__all__ = [
    "CONTINUATION_STATUS",
    "MAX_GRID_STARTS",
    "PRECISIONS",
    "SEEDINGS",
    "STATUS",
    "ActiveBlock",
    "Compaction",
    "ContinuationResult",
    "EngineSettings",
    "FixedPoints",
    "IterationResult",
    "attractors_near",
    "basin_fractions",
    "basin_map",
    "chao1_unseen",
    "continuation_search",
    "find_fixed_points",
    "fixed_point_index",
    "grid_starts",
    "iterate_map",
    "jacobian_norms",
    "layer_jacobian_eigenvalues",
    "merge_points",
    "newton_search",
    "plane_starts",
    "polish",
    "seeded_starts",
    "shooting_search",
    "uniform_starts",
    "union_counts",
]
