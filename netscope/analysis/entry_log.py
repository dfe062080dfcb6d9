"""Window entries stored in time order, for cheap appends, expiry and look-ups by time span.

Entries arrive in time order, so they are kept as a list of time-ordered chunks: appending
touches only the newest chunk, expiry drops whole chunks from the front, and a look-up reads only
the part of each chunk inside the time span asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CHUNK_ENTRIES = 16384  # appends go to the newest chunk until it holds this many


@dataclass(slots=True)
class Entries:
    """Window entries as columns: key ids, times (µs) and the detector's member columns."""

    key: np.ndarray  # int64
    time: np.ndarray  # int64
    members: list[np.ndarray]  # uint64 each

    @property
    def count(self) -> int:
        return int(self.time.shape[0])

    def take(self, index: np.ndarray | slice) -> Entries:
        return Entries(self.key[index], self.time[index], [m[index] for m in self.members])

    @staticmethod
    def join(parts: list[Entries]) -> Entries:
        return Entries(np.concatenate([p.key for p in parts]), np.concatenate([p.time for p in parts]),
                       [np.concatenate(cols) for cols in zip(*(p.members for p in parts), strict=True)])

    @staticmethod
    def empty(member_columns: int) -> Entries:
        return Entries(np.zeros(0, np.int64), np.zeros(0, np.int64),
                       [np.zeros(0, np.uint64) for _ in range(member_columns)])


class EntryLog:
    def __init__(self, member_columns: int) -> None:
        self.member_columns = member_columns
        self._chunks: list[Entries] = []

    def __len__(self) -> int:
        return sum(chunk.count for chunk in self._chunks)

    def append(self, entries: Entries) -> None:
        """Add entries no older than any stored one, in time order."""
        if not entries.count:
            return
        if self._chunks and self._chunks[-1].count < CHUNK_ENTRIES:
            self._chunks[-1] = Entries.join([self._chunks[-1], entries])
        else:
            self._chunks.append(entries)

    def gather(self, wanted: np.ndarray, t_from: int, t_to: int) -> Entries:
        """Entries of the key ids where `wanted` is True with time in [t_from, t_to], in time order."""
        parts = []
        for chunk in self._chunks:
            if chunk.time[-1] < t_from or chunk.time[0] > t_to:
                continue
            start = int(np.searchsorted(chunk.time, t_from, side="left"))
            stop = int(np.searchsorted(chunk.time, t_to, side="right"))
            part = chunk.take(slice(start, stop))
            hit = np.flatnonzero(wanted[part.key])
            if hit.size:
                parts.append(part.take(hit))
        return Entries.join(parts) if parts else Entries.empty(self.member_columns)

    def pop_before(self, cutoff: int) -> Entries:
        """Remove and return the entries older than `cutoff`: they can no longer be inside any window."""
        popped = []
        while self._chunks and self._chunks[0].time[-1] < cutoff:
            popped.append(self._chunks.pop(0))
        if self._chunks:
            first = self._chunks[0]
            start = int(np.searchsorted(first.time, cutoff, side="left"))
            if start:
                popped.append(first.take(slice(0, start)))
                self._chunks[0] = first.take(slice(start, first.count))
        return Entries.join(popped) if popped else Entries.empty(self.member_columns)

    def rewrite(self, keep: Callable[[Entries], Entries]) -> None:
        """Replace everything stored by `keep(all entries)`, which must stay in time order."""
        if self._chunks:
            kept = keep(Entries.join(self._chunks))
            self._chunks = [kept] if kept.count else []

    def renumber(self, remap: np.ndarray) -> None:
        """Apply a KeyTable.rebuild map; every stored key must have survived it."""
        for chunk in self._chunks:
            chunk.key = remap[chunk.key]
