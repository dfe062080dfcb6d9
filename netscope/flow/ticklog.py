"""What each flow moved during the last completed tick, at O(flows touched) per tick.

A tick's rate is `total at tick end - total at the flow's first touch in that tick`. Rather
than two extra counters on every row, the log keeps entries for touched flows only: a flow
created during the tick needs just its row (it started at zero), an older flow its row and
totals at first touch. Each row carries two int32 pointers into those lists (the entry of
the current tick, the result of the last tick), so forgetting a freed row is O(1) per row
and a reused row can never inherit someone else's numbers.
"""

from __future__ import annotations

import numpy as np

from netscope.flow.buffer import Growable, lazy_zeros

GONE = np.iinfo(np.int64).max


class TickLog:
    """Per-table tick bookkeeping; rows are the owning table's rows."""

    def __init__(self, capacity: int) -> None:
        self.touch_entry = lazy_zeros(capacity, np.int32)  # >0 old entry + 1, <0 -(new entry + 1)
        self.result_entry = lazy_zeros(capacity, np.int32)  # last tick's result index + 1
        self._new_rows = Growable(np.int32)
        self._old_rows = Growable(np.int32)
        self._old_bytes = Growable(np.int64)
        self._old_packets = Growable(np.int64)
        # The last tick's results. Bytes are kept negated, as the "rate" ranking wants them
        # (smaller is better), and GONE marks a flow that has gone since.
        self.result_rows = np.empty(0, dtype=np.int32)
        self.result_rank = np.empty(0, dtype=np.int64)
        self.result_packets = np.empty(0, dtype=np.int64)

    def grow(self, capacity: int) -> None:
        for name in ("touch_entry", "result_entry"):
            grown = lazy_zeros(capacity, np.int32)
            old = getattr(self, name)
            grown[: old.shape[0]] = old
            setattr(self, name, grown)

    def touch(self, rows: np.ndarray, created: np.ndarray, bytes_before: np.ndarray,
              packets_before: np.ndarray) -> None:
        """Note distinct `rows` about to be updated; the *_before totals are per row, pre-update."""
        first = self.touch_entry[rows] == 0
        fresh = first & created
        new_rows = rows[fresh]
        start = self._new_rows.append(new_rows.astype(np.int32))
        self.touch_entry[new_rows] = -(start + 1 + np.arange(new_rows.shape[0]))
        seen = first & ~created
        old_rows = rows[seen]
        start = self._old_rows.append(old_rows.astype(np.int32))
        self._old_bytes.append(bytes_before[seen])
        self._old_packets.append(packets_before[seen])
        self.touch_entry[old_rows] = start + 1 + np.arange(old_rows.shape[0])

    def forget(self, rows: np.ndarray) -> None:
        """Drop everything about `rows`, which are being freed."""
        entry = self.touch_entry[rows]
        self._old_rows.view[entry[entry > 0] - 1] = -1
        self._new_rows.view[-entry[entry < 0] - 1] = -1
        self.touch_entry[rows] = 0
        result = self.result_entry[rows]
        self.result_rank[result[result > 0] - 1] = GONE
        self.result_entry[rows] = 0

    def end_tick(self, bytes_total: np.ndarray, packets_total: np.ndarray) -> None:
        """Close the tick; *_total are the table's per-row totals (read for touched rows only)."""
        self.result_entry[self.result_rows] = 0
        new_rows = self._new_rows.view
        new_rows = new_rows[new_rows >= 0]
        old_rows = self._old_rows.view
        live = old_rows >= 0
        old_rows = old_rows[live]
        rows = np.concatenate([new_rows, old_rows])
        self.result_rows = rows
        self.result_rank = np.concatenate(
            [-bytes_total(new_rows), self._old_bytes.view[live] - bytes_total(old_rows)])
        self.result_packets = np.concatenate(
            [packets_total(new_rows), packets_total(old_rows) - self._old_packets.view[live]])
        self.touch_entry[rows] = 0
        self.result_entry[rows] = np.arange(1, rows.shape[0] + 1, dtype=np.int32)
        for log in (self._new_rows, self._old_rows, self._old_bytes, self._old_packets):
            log.clear()

    def values(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bytes, packets) of `rows` in the last completed tick, 0 for rows that did not move."""
        entry = self.result_entry[rows].astype(np.int64) - 1
        moved = entry >= 0
        tick_bytes = np.zeros(rows.shape[0], dtype=np.int64)
        tick_packets = np.zeros(rows.shape[0], dtype=np.int64)
        tick_bytes[moved] = -self.result_rank[entry[moved]]
        tick_packets[moved] = self.result_packets[entry[moved]]
        return tick_bytes, tick_packets

    def ranked(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, -bytes) of the flows that moved in the last completed tick; GONE where freed since."""
        return self.result_rows, self.result_rank
