"""Deprecated: the engine moved to the package :mod:`fpkit.engine`.

``fpkit.fixedpoints`` still gives the names it had in fpkit 0.1, so old code keeps running, but
each name warns (:class:`DeprecationWarning`, naming where it lives now) when it is read:
``from fpkit.fixedpoints import find_fixed_points`` warns once for ``find_fixed_points``.
Import from :mod:`fpkit.engine` (or :mod:`fpkit`) instead.
"""

from __future__ import annotations

import warnings
from typing import Any

#: The names this module still gives, each read from :mod:`fpkit.engine`.
MOVED = ("STATUS", "FixedPoints", "IterationResult", "attractors_near", "basin_fractions", "basin_map",
         "find_fixed_points", "grid_starts", "iterate_map", "merge_points", "newton_search", "plane_starts",
         "polish", "uniform_starts")

__all__: list[str] = []  # nothing here is public any more: ``import *`` takes nothing


def __getattr__(name: str) -> Any:
    if name not in MOVED:
        raise AttributeError(f"module 'fpkit.fixedpoints' has no attribute {name!r} (the engine is fpkit.engine)")
    from . import engine

    warnings.warn(f"fpkit.fixedpoints.{name} is deprecated; import it from fpkit.engine", DeprecationWarning,
                  stacklevel=2)
    return getattr(engine, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *MOVED])
