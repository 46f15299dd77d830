"""The fixed-point engine: attractors by batched iteration, all fixed points by Newton.

Modules, one idea each:

:mod:`~fpkit.engine.settings`
    :class:`~fpkit.engine.EngineSettings`, every option in one frozen, validated object.
:mod:`~fpkit.engine.starts`
    uniform, grid and plane starts in the activation's box.
:mod:`~fpkit.engine.active`
    the packed active block shared by the iteration and the Newton search.
:mod:`~fpkit.engine.iterate`
    :func:`~fpkit.engine.iterate_map`: x <- F(x) from every start, with convergence and cycle detection.
:mod:`~fpkit.engine.newton`
    :func:`~fpkit.engine.polish` and the deflated :func:`~fpkit.engine.newton_search`.
:mod:`~fpkit.engine.continuation`
    :func:`~fpkit.engine.continuation_search`: homotopy continuation in the weight scale, the main
    branch from t = 0 and the arcs pairing fixed points of opposite index.
:mod:`~fpkit.engine.merge`
    merging points that are one fixed point.
:mod:`~fpkit.engine.census`
    :func:`~fpkit.engine.find_fixed_points`, the pipeline of stages, with adaptive starts and the index check.
:mod:`~fpkit.engine.result`
    :class:`~fpkit.engine.FixedPoints`, the result; :func:`~fpkit.engine.fixed_point_index`.
:mod:`~fpkit.engine.basins`
    basin fractions, basin maps, attractors around a point.
"""

from .active import ActiveBlock, Compaction
from .basins import attractors_near, basin_fractions, basin_map
from .census import chao1_unseen, find_fixed_points
from .continuation import CONTINUATION_STATUS, ContinuationResult, continuation_search, layer_jacobian_eigenvalues
from .iterate import STATUS, IterationResult, iterate_map
from .merge import merge_points
from .newton import newton_search, polish, shooting_search
from .result import FixedPoints, fixed_point_index
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
    "layer_jacobian_eigenvalues",
    "merge_points",
    "newton_search",
    "plane_starts",
    "polish",
    "seeded_starts",
    "shooting_search",
    "uniform_starts",
]
