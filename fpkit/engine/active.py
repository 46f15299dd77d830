"""The active set shared by the iteration and the Newton search.

Both work on an (E, M) batch of items (starts) of E networks, and both drop items as they
finish, so that a few slow ones do not keep the whole ensemble busy. :class:`~fpkit.engine.ActiveBlock` keeps
the unfinished items packed in a dense (E', M') block: block row r is network ``net[r]``,
block column c of that row is item ``item[r, c]``; ``valid[r, c]`` is False for finished items
and padding. When packing would shrink the block enough, :meth:`~fpkit.engine.ActiveBlock.compact` drops the
rows without unfinished items and moves the unfinished items of every row to its front; the
caller applies the returned :class:`~fpkit.engine.Compaction` to its own per-row and per-item arrays.

On a GPU every decision the host takes from the device's data waits for the device (a sync), so the
block can be driven in two ways: item by item (:meth:`~fpkit.engine.ActiveBlock.retire` returns the
positions of the finished items at once, :meth:`~fpkit.engine.ActiveBlock.compact` decides from the
device's mask; each is a sync), or on a cadence: the loop marks finished items on the device
(:meth:`~fpkit.engine.ActiveBlock.finish`, no sync) and keeps their results frozen there, and every
few steps one copy of the mask (:meth:`~fpkit.engine.ActiveBlock.sync`) tells the host which items
finished since the last copy; :meth:`~fpkit.engine.ActiveBlock.pack` then decides the packing on the
host, from that copy, without another sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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

    Attributes
    ----------
    valid : array
        (E', M') bool, on the backend: False for finished items and padding.
    net : array
        (E',) int, on the backend: the network of each block row.
    item : array
        (E', M') int, on the backend: the item of each block slot.
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
        # the host's view: net and item of every slot, and the mask as of the last sync
        self._net = np.arange(E)
        self._item = np.broadcast_to(np.arange(M)[None, :], (E, M))
        self._seen = np.ones((E, M), dtype=bool)
        self._changed = E * M == 0  # whether items finished since the last pack (an empty block: all did)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.valid.shape)

    @property
    def networks(self):
        """The network of each block row, as a host array (no sync)."""
        return self._net

    @property
    def left(self) -> int:
        """Unfinished items as of the last :meth:`sync` (a host count: no sync)."""
        return int(self._seen.sum())

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

    def finish(self, done) -> None:
        """Mark the items where ``done`` (E', M') is True as finished, on the device (no sync): the
        host learns of them at the next :meth:`sync`."""
        m = self.m
        m.greater(self.valid, done, out=self.valid)  # valid & ~done in one pass

    def sync(self):
        """Copy the mask to the host (the one sync of a cadence); returns ``(rows, cols, nets, items)``
        of the items finished since the last sync, as host arrays (block positions, and (network,
        item) in the full batch)."""
        from ..backend import to_numpy

        now = np.array(to_numpy(self.valid))  # a copy also on NumPy: the device's mask changes in place
        rows, cols = np.nonzero(self._seen != now)  # the mask only loses items
        self._seen = now
        if rows.size == 0:
            return rows, cols, rows, cols
        self._changed = True
        return rows, cols, self._net[rows], self._item[rows, cols]

    def unfinished(self):
        """``(rows, cols, nets, items)`` of the items unfinished as of the last :meth:`sync`, as host
        arrays (no sync)."""
        rows, cols = np.nonzero(self._seen)
        return rows, cols, self._net[rows], self._item[rows, cols]

    def pack(self) -> Compaction | None | bool:
        """:meth:`compact` decided on the host from the mask of the last :meth:`sync` (no sync; call
        it right after one)."""
        if not self._changed:  # nothing finished since the last pack: the same answer, or None for a packed block
            return None if self._seen.any() else False
        self._changed = False
        m = self.m
        seen = self._seen
        counts = seen.sum(axis=1)
        width = int(counts.max()) if counts.size else 0
        if width == 0:
            return False
        live = counts > 0
        if int(live.sum()) * width > self.shrink * seen.size:
            return None
        rows = np.flatnonzero(live)
        # unfinished items first, in their original order (stable), then cut to the widest row
        order = np.argsort(~seen[rows], axis=1, kind="stable")[:, :width]
        plan = Compaction(m.asarray(rows), m.asarray(order), m)
        self.net = self.net[plan.rows]
        self.item = plan.per_item(self.item)
        self.valid = plan.per_item(self.valid)
        self._net = self._net[rows]
        self._item = np.take_along_axis(self._item[rows], order, axis=1)
        self._seen = np.take_along_axis(seen[rows], order, axis=1)
        return plan

    def compact(self) -> Compaction | None | bool:
        """Pack the block if that saves enough; returns a Compaction, None (no change) or False
        (nothing is left: every item has finished). Reads the mask from the device (:meth:`sync`)."""
        self.sync()
        return self.pack()
