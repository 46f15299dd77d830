"""The active set shared by the iteration and the Newton search.

Both work on an (E, M) batch of items (starts) of E networks, and both drop items as they
finish, so that a few slow ones do not keep the whole ensemble busy. :class:`~fpkit.engine.ActiveBlock` keeps
the unfinished items packed in a dense (E', M') block: block row r is network ``net[r]``,
block column c of that row is item ``item[r, c]``; ``valid[r, c]`` is False for finished items
and padding. When packing would shrink the block enough, :meth:`~fpkit.engine.ActiveBlock.compact` drops the
rows without unfinished items and moves the unfinished items of every row to its front; the
caller applies the returned :class:`~fpkit.engine.Compaction` to its own per-row and per-item arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ActiveBlock", "Compaction"]


@dataclass
class Compaction:
    """How a block was packed: keep these rows, and in each the columns ``order[:, :width]``."""

    rows: Any  # (E'',) indices of the kept rows
    order: Any  # (E'', width) column order per kept row
    m: Any

    def per_row(self, a):
        """Apply to an array whose axis 0 is the block's rows (e.g. known roots (E', R, N))."""
        return a[self.rows]

    def per_item(self, a, axis: int = 1, out=None):
        """Apply to an array whose axes ``axis - 1, axis`` are the block's rows and columns
        (into ``out``, a C-contiguous array of the result's shape, if given)."""
        m = self.m
        n_rows, n_cols = a.shape[axis - 1], a.shape[axis]
        # one gather of whole items through their flat (row, column) index: a single pass over
        # the kept items (a take of the rows and then a take_along_axis of the columns cost two,
        # and the second builds a broadcast index of the array's size)
        flat = (self.rows[:, None] * n_cols + self.order).reshape(-1)
        merged = a.reshape(a.shape[:axis - 1] + (n_rows * n_cols,) + a.shape[axis + 1:])
        shape = a.shape[:axis - 1] + tuple(self.order.shape) + a.shape[axis + 1:]
        if out is None:
            return m.take(merged, flat, axis=axis - 1).reshape(shape)
        if tuple(out.shape) != shape or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous array of shape {shape}; got shape {tuple(out.shape)}")
        flat_out = out.reshape(merged.shape[:axis - 1] + flat.shape + merged.shape[axis:])  # a view
        m.take(merged, flat, axis=axis - 1, out=flat_out)
        return out


class ActiveBlock:
    """Unfinished items of an (E, M) batch packed into a dense (E', M') block (see the module doc).

    Parameters
    ----------
    m : module
        numpy or cupy.
    E, M : int
        Networks and items per network.
    shrink : float
        :meth:`~fpkit.engine.ActiveBlock.compact` packs when the packed block would have at most this fraction of the
        current block's slots.
    """

    def __init__(self, m, E: int, M: int, *, shrink: float = 0.75):
        from .. import _validate as v

        E = v.check_int(E, "E", minimum=0)
        M = v.check_int(M, "M", minimum=0)
        shrink = v.check_real(shrink, "shrink", low=0.0, high=1.0, low_open=True)
        v.check_memory(24 * E * M, f"E * M = {E} * {M} items")
        if not all(hasattr(m, f) for f in ("arange", "nonzero", "take_along_axis")):
            raise TypeError(f"m must be the numpy or cupy module; got {type(m).__name__}")
        self.m = m
        self.net = m.arange(E)
        self.item = m.broadcast_to(m.arange(M)[None, :], (E, M))
        self.valid = m.ones((E, M), dtype=bool)
        self.shrink = shrink

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.valid.shape)

    def retire(self, done):
        """Mark the items where ``done`` (E', M') is True as finished.

        Returns ``(rows, cols, nets, items)``: their block positions and their (network, item)
        indices in the full batch, so the caller can write their results out.
        """
        m = self.m
        rows, cols = m.nonzero(done)
        self.valid[rows, cols] = False
        return rows, cols, self.net[rows], self.item[rows, cols]

    def remaining(self):
        """Block positions and (network, item) indices of the unfinished items."""
        rows, cols = self.m.nonzero(self.valid)
        return rows, cols, self.net[rows], self.item[rows, cols]

    def compact(self) -> Compaction | None | bool:
        """Pack the block if that saves enough; returns a Compaction, None (no change) or False
        (nothing is left: every item has finished)."""
        m = self.m
        counts = self.valid.sum(axis=1)
        width = int(counts.max()) if counts.size else 0
        if width == 0:
            return False
        live = counts > 0
        n_live = int(live.sum())
        if n_live * width > self.shrink * self.valid.size:
            return None
        rows = m.nonzero(live)[0]
        # unfinished items first, in their original order (stable), then cut to the widest row
        key = (~self.valid[rows]).astype(m.int8)
        order = m.argsort(key, axis=1, kind="stable")[:, :width]
        plan = Compaction(rows, order, m)
        self.net = self.net[rows]
        self.item = plan.per_item(self.item)
        self.valid = plan.per_item(self.valid)
        return plan
