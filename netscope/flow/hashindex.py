"""Open-addressing hash index from packed flow keys to table rows, probed a batch at a time.

Slots hold `row + 1` (0 = empty, -1 = tombstone) in an int32 array, so the index costs
4 bytes a slot and no Python object per flow. Every operation walks all of its keys at
once: each probe round is one numpy pass over the keys still unresolved (linear probing).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from netscope.flow.buffer import lazy_zeros
from netscope.flow.keys import same_keys

EMPTY = 0
TOMBSTONE = -1
NO_TOMB = -1  # first_tomb of a query that has passed no tombstone yet
NO_REUSE = -2  # first_tomb of a query that must take an empty slot
MAX_LOAD = 0.6  # live entries plus tombstones, as a fraction of the slots
MIN_SLOTS = 1024
WINDOW = 16  # slots a round examines per key once at most WIDE_BELOW keys are left
WIDE_BELOW = 2048
_OFFSETS = np.arange(WINDOW)


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

        A round looks at one slot per key while many keys are unresolved, and at a window
        of WINDOW slots once few are left: linear probing leaves a long tail of keys with
        long runs to walk, and a round costs about the same for a handful of keys as for
        a thousand.
        """
        rows = np.full(hashes.shape[0], -1, dtype=np.int64)
        mask = self.size - 1
        pending = np.arange(hashes.shape[0])
        pos = (hashes & np.uint64(mask)).astype(np.int64)
        first_tomb = np.full(pending.shape[0], NO_TOMB, dtype=np.int64)
        while pending.size:
            width, window, reached, stop, before = self._look(pos, pending.size)
            done = np.zeros(pending.size, dtype=bool)
            held = np.zeros(pending.size, dtype=bool)  # look at the slot in pos again next round
            hits = np.flatnonzero((window > 0) & before)  # (key, offset) pairs, flattened
            if hits.size:
                query = hits if width == 1 else hits // width
                candidate = window.ravel()[hits].astype(np.int64) - 1
                same = same_keys(stored[candidate], queries[pending[query]])
                rows[pending[query[same]]] = candidate[same]
                done[query[same]] = True
            reached &= ~done
            if claim is None:
                done |= reached
            else:
                if self.tombstones:
                    tomb = (window == TOMBSTONE) & before
                    seen = tomb.any(axis=1) & (first_tomb == NO_TOMB)
                    first_tomb[seen] = (pos[seen] + tomb[seen].argmax(axis=1)) & mask
                if reached.any():
                    self._insert(np.flatnonzero(reached), (pos + stop) & mask, pending, pos, first_tomb,
                                 rows, done, held, claim)
            advance = ~done & ~held
            pos[advance] = (pos[advance] + width) & mask
            keep = ~done
            pending, pos, first_tomb = pending[keep], pos[keep], first_tomb[keep]
        return rows

    def _look(self, pos: np.ndarray, keys: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The slots a round examines: (width, window, reached, stop, before).

        window[i] holds the `width` slots from pos[i]; reached[i] says one of them is empty,
        stop[i] is the offset of the first empty one (width if none) and before[i] masks the
        slots in front of it, the only ones that can hold the key.
        """
        if keys > WIDE_BELOW:  # one slot each: plain 1-D work, the bulk of every probe
            value = self.slots[pos]
            reached = value == EMPTY
            return 1, value[:, None], reached, (~reached).astype(np.int64), ~reached[:, None]
        window = self.slots[(pos[:, None] + _OFFSETS) & (self.size - 1)]
        empty = window == EMPTY
        reached = empty.any(axis=1)
        stop = np.where(reached, empty.argmax(axis=1), WINDOW)
        return WINDOW, window, reached, stop, stop[:, None] > _OFFSETS

    def _insert(self, empty: np.ndarray, empty_pos: np.ndarray, pending: np.ndarray, pos: np.ndarray,
                first_tomb: np.ndarray, rows: np.ndarray, done: np.ndarray, held: np.ndarray,
                claim: Callable[[np.ndarray], np.ndarray]) -> None:
        """One round of inserts for the queries `empty`, which found an empty slot (see probe)."""
        tickets = (-2 - np.arange(empty.size)).astype(np.int32)
        reuse = first_tomb[empty] >= 0
        if reuse.any():
            target = np.where(reuse, first_tomb[empty], empty_pos[empty])
            current = self.slots[target]
            # A remembered tombstone may have been taken by another key in an earlier round.
            free = (current == EMPTY) | (current == TOMBSTONE)
            self.slots[target[free]] = tickets[free]
            won = free & (self.slots[target] == tickets)
            self.tombstones -= int(np.count_nonzero(current[won] == TOMBSTONE))
        else:  # every target is an empty slot just read: nothing can have taken it
            target = empty_pos[empty]
            self.slots[target] = tickets
            won = self.slots[target] == tickets
        winners = empty[won]
        new_rows = claim(pending[winners])
        self.slots[target[won]] = (new_rows + 1).astype(np.int32)
        rows[pending[winners]] = new_rows
        done[winners] = True
        self.live += int(winners.size)
        # Losers look at the slot they wanted again: the winner there may hold the same key.
        # One that wanted a tombstone then walks on to an empty slot without reusing
        # tombstones, or keys sharing a tombstone would take one round each to get in.
        retry = empty[~won]
        pos[retry] = target[~won]
        first_tomb[retry] = np.where(reuse[~won], NO_REUSE, first_tomb[retry])
        held[retry] = True

    def remove(self, hashes: np.ndarray, rows: np.ndarray) -> None:
        """Delete `rows` (distinct rows, all present); keys need not be compared.

        A deleted slot becomes a tombstone, so that probes keep walking past it, except at
        the end of a run: a slot followed by an empty one is on no key's path, so it and any
        tombstones just before it go back to empty. That undoes about half of all deletions
        at our load and keeps rebuilds rare under churn.
        """
        mask = self.size - 1
        target = rows.astype(np.int64) + 1
        pos = (hashes & np.uint64(mask)).astype(np.int64)
        gone = []
        while target.size:
            width = 1 if target.size > WIDE_BELOW else WINDOW
            match = self.slots[(pos[:, None] + _OFFSETS[:width]) & mask] == target[:, None]
            found = match.any(axis=1)
            gone.append((pos[found] + match[found].argmax(axis=1)) & mask)
            pos, target = (pos[~found] + width) & mask, target[~found]
        self.live -= int(rows.shape[0])
        self.tombstones += int(rows.shape[0])
        candidates = np.concatenate(gone) if gone else np.empty(0, np.int64)
        self.slots[candidates] = TOMBSTONE
        while candidates.size:
            ends_run = (self.slots[candidates] == TOMBSTONE) & (self.slots[(candidates + 1) & mask] == EMPTY)
            cleared = np.unique(candidates[ends_run])
            self.slots[cleared] = EMPTY
            self.tombstones -= int(cleared.shape[0])
            candidates = (cleared - 1) & mask

    def clear(self, slots: int) -> None:
        """Drop every entry (and tombstone) and resize to `slots`: the start of a rebuild."""
        if slots & (slots - 1):
            raise ValueError("slot count must be a power of two")
        self._reset(slots)

    def place(self, hashes: np.ndarray, rows: np.ndarray, stored: np.ndarray) -> None:
        """Insert `rows`, whose keys are in `stored` and not in the index yet (a rebuild)."""
        self.probe(hashes, stored[rows], stored, claim=lambda query: rows[query])
