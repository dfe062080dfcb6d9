"""Open-addressing hash index from packed flow keys to table rows, probed a batch at a time.

Slots hold `row + 1` (0 = empty, -1 = tombstone) in an int32 array, so the index costs
4 bytes a slot and no Python object per flow. Every operation walks all of its keys at
once: each probe round is one numpy pass over the keys still unresolved, and linear
probing keeps the rounds few at the load we allow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from netscope.flow.buffer import lazy_zeros
from netscope.flow.keys import same_keys

EMPTY = 0
TOMBSTONE = -1
MAX_LOAD = 0.6  # live entries plus tombstones, as a fraction of the slots
MIN_SLOTS = 1024


def slots_for(rows: int) -> int:
    """The power-of-two slot count that holds `rows` entries at no more than MAX_LOAD."""
    return max(MIN_SLOTS, 1 << int(np.ceil(rows / MAX_LOAD) - 1).bit_length())


class HashIndex:
    """Key -> row map over keys stored elsewhere (the table's key array, passed to each call)."""

    def __init__(self, slots: int) -> None:
        self.clear(slots)

    def _reset(self, slots: int) -> None:
        self.slots = lazy_zeros(slots, np.int32)
        self.live = 0
        self.tombstones = 0

    @property
    def size(self) -> int:
        return int(self.slots.shape[0])

    def fits(self, extra: int) -> bool:
        """Whether `extra` more entries keep live + tombstones within MAX_LOAD."""
        return self.live + self.tombstones + extra <= MAX_LOAD * self.size

    def probe(self, hashes: np.ndarray, queries: np.ndarray, stored: np.ndarray,
              claim: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """Row of each query key, -1 if absent; with `claim`, absent keys are inserted.

        `queries` and `stored` are record views of packed keys (keys.as_records).
        `claim(query_indices)` must return one fresh row per index and store those keys in
        `stored` before returning. Equal absent keys in one call are inserted once: they
        walk the same slots in lock step, all claim the same slot in the same round, one
        wins (whichever ticket the scatter kept) and the others match its row a round later.
        An insert takes the first tombstone on its path once an empty slot proves the key
        absent, so deletions do not eat the load budget for good.
        """
        rows = np.full(hashes.shape[0], -1, dtype=np.int64)
        mask = self.size - 1
        pending = np.arange(hashes.shape[0])
        pos = (hashes & np.uint64(mask)).astype(np.int64)
        first_tomb = np.full(pending.shape[0], -1, dtype=np.int64)
        while pending.size:
            value = self.slots[pos]
            done = np.zeros(pending.size, dtype=bool)
            held = np.zeros(pending.size, dtype=bool)  # stay on this slot for the next round
            occupied = np.flatnonzero(value > 0)
            if occupied.size:
                candidate = value[occupied].astype(np.int64) - 1
                same = same_keys(stored[candidate], queries[pending[occupied]])
                rows[pending[occupied[same]]] = candidate[same]
                done[occupied[same]] = True
            empty = np.flatnonzero(value == EMPTY)
            if claim is None:
                done[empty] = True
            else:
                if self.tombstones:
                    newly_tomb = (value == TOMBSTONE) & (first_tomb < 0)
                    first_tomb[newly_tomb] = pos[newly_tomb]
                if empty.size:
                    self._insert(empty, pending, pos, first_tomb, rows, done, held, claim)
            advance = ~done & ~held
            pos[advance] = (pos[advance] + 1) & mask
            keep = ~done
            pending, pos, first_tomb = pending[keep], pos[keep], first_tomb[keep]
        return rows

    def _insert(self, empty: np.ndarray, pending: np.ndarray, pos: np.ndarray, first_tomb: np.ndarray,
                rows: np.ndarray, done: np.ndarray, held: np.ndarray,
                claim: Callable[[np.ndarray], np.ndarray]) -> None:
        """One round of inserts for the queries that reached an empty slot (see probe)."""
        tickets = (-2 - np.arange(empty.size)).astype(np.int32)
        if self.tombstones:
            target = np.where(first_tomb[empty] >= 0, first_tomb[empty], pos[empty])
            current = self.slots[target]
            # A remembered tombstone may have been taken by another key in an earlier round:
            # walk again from there, as a query that lost a claim does.
            free = (current == EMPTY) | (current == TOMBSTONE)
            self.slots[target[free]] = tickets[free]
            won = free & (self.slots[target] == tickets)
            self.tombstones -= int(np.count_nonzero(current[won] == TOMBSTONE))
        else:  # every target is the empty slot just read: nothing can have taken it
            target = pos[empty]
            self.slots[target] = tickets
            won = self.slots[target] == tickets
        winners = empty[won]
        new_rows = claim(pending[winners])
        self.slots[target[won]] = (new_rows + 1).astype(np.int32)
        rows[pending[winners]] = new_rows
        done[winners] = True
        self.live += int(winners.size)
        retry = empty[~won]
        pos[retry] = target[~won]
        first_tomb[retry] = -1
        held[retry] = True

    def remove(self, hashes: np.ndarray, rows: np.ndarray) -> None:
        """Tombstone the slots of `rows` (distinct rows, all present); keys need not be compared."""
        mask = self.size - 1
        target = rows.astype(np.int64) + 1
        pos = (hashes & np.uint64(mask)).astype(np.int64)
        while target.size:
            found = self.slots[pos] == target
            self.slots[pos[found]] = TOMBSTONE
            pos, target = (pos[~found] + 1) & mask, target[~found]
        self.live -= int(rows.shape[0])
        self.tombstones += int(rows.shape[0])

    def clear(self, slots: int) -> None:
        """Drop every entry (and tombstone) and resize to `slots`: the start of a rebuild."""
        if slots & (slots - 1):
            raise ValueError("slot count must be a power of two")
        self._reset(slots)

    def place(self, hashes: np.ndarray, rows: np.ndarray, stored: np.ndarray) -> None:
        """Insert `rows`, whose keys are in `stored` and not in the index yet (a rebuild)."""
        self.probe(hashes, stored[rows], stored, claim=lambda query: rows[query])
