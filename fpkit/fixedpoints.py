"""Deprecated: the engine moved to the package :mod:`fpkit.engine`.

``fpkit.fixedpoints`` re-exports its public names so that code written for fpkit 0.1 keeps
running; import from :mod:`fpkit.engine` (or :mod:`fpkit`) instead.
"""

import warnings

from .engine import (  # noqa: F401
    STATUS,
    FixedPoints,
    IterationResult,
    attractors_near,
    basin_fractions,
    basin_map,
    find_fixed_points,
    grid_starts,
    iterate_map,
    merge_points,
    newton_search,
    plane_starts,
    polish,
    uniform_starts,
)

warnings.warn("fpkit.fixedpoints is deprecated; import from fpkit.engine", DeprecationWarning, stacklevel=2)
