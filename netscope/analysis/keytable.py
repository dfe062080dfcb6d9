"""Dense integer ids for multi-column keys, looked up a whole batch at a time.

Detectors keep per-key state in plain arrays indexed by id, so they need an id for every key
of a batch without a Python dict (a random-source flood brings a new key with almost every
packet). This is an open-addressing hash table in numpy: all keys of a batch probe together,
one vectorised round per probe step, and keys are compared column by column, so ids are exact
(IPv6 keys included), not hashes. Keys are never deleted one by one: `rebuild` keeps the live
ones and renumbers them, which is how detectors free idle keys.
"""

from __future__ import annotations

import numpy as np

_MIN_CAPACITY = 1024
_NO_CLAIM = np.iinfo(np.int32).max
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves about half the output bits."""
    x = (x ^ (x >> np.uint64(30))) * _MIX_1
    x = (x ^ (x >> np.uint64(27))) * _MIX_2
    return x ^ (x >> np.uint64(31))


def _hash(columns: list[np.ndarray]) -> np.ndarray:
    h = _mix(columns[0])
    for column in columns[1:]:
        h = _mix(h ^ column)
    return h


class KeyTable:
    """Keys of `width` uint64 columns mapped to ids 0..count-1 in order of first appearance.

    Slots hold only ids (int32); keys live once, in per-id columns, so a slot costs 8 bytes
    (id and a scratch claim) and the table stays at most half full.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self._keys = [np.zeros(_MIN_CAPACITY // 2, dtype=np.uint64) for _ in range(width)]  # by id
        self.count = 0
        self._reset_slots(_MIN_CAPACITY)

    def _reset_slots(self, capacity: int) -> None:
        self._mask = np.uint64(capacity - 1)
        self._slot_id = np.full(capacity, -1, dtype=np.int32)
        self._claims = np.full(capacity, _NO_CLAIM, dtype=np.int32)

    def key_columns(self) -> list[np.ndarray]:
        """The key of every id, as columns (views; valid until the next insert)."""
        return [column[: self.count] for column in self._keys]

    def ids(self, columns: tuple[np.ndarray, ...] | list[np.ndarray]) -> np.ndarray:
        """The id of each row's key, inserting keys not seen before (int64, one per row)."""
        query = [np.asarray(c, dtype=np.uint64) for c in columns]
        rows = query[0].shape[0]
        if self.count + rows > self._slot_id.shape[0] // 2:
            self._grow(self.count + rows)
        out = np.full(rows, -1, dtype=np.int64)
        slot = _hash(query) & self._mask
        pending = np.arange(rows, dtype=np.int32)
        while pending.size:
            at = slot[pending]
            held = self._slot_id[at]
            occupied = held >= 0
            same = occupied.copy()
            for key_col, query_col in zip(self._keys, query, strict=True):
                same &= key_col[np.maximum(held, 0)] == query_col[pending]
            out[pending[same]] = held[same]
            free = np.flatnonzero(~occupied)
            if free.size:
                # Several pending rows may want one free slot: one takes it, the others look
                # again next round and either find their own key there or move on.
                taken, winners = self._claim(at[free], pending[free])
                out[winners] = self._insert(taken, [c[winners] for c in query])
            moved = pending[occupied & ~same]
            slot[moved] = (slot[moved] + np.uint64(1)) & self._mask
            pending = pending[out[pending] < 0]
        return out

    def _claim(self, slots: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One row per wanted slot (the lowest row): (distinct slots, winning rows)."""
        np.minimum.at(self._claims, slots, rows)
        won = self._claims[slots] == rows
        self._claims[slots] = _NO_CLAIM
        return slots[won], rows[won]

    def _insert(self, slots: np.ndarray, keys: list[np.ndarray]) -> np.ndarray:
        end = self.count + slots.size
        if end > self._keys[0].shape[0]:
            size = max(end, 2 * self._keys[0].shape[0])
            self._keys = [np.concatenate([c[: self.count], np.zeros(size - self.count, np.uint64)])
                          for c in self._keys]
        new_ids = np.arange(self.count, end)
        self._slot_id[slots] = new_ids
        for id_col, key in zip(self._keys, keys, strict=True):
            id_col[self.count : end] = key
        self.count = end
        return new_ids

    def _grow(self, expected: int) -> None:
        capacity = self._slot_id.shape[0]
        while capacity < 2 * expected:
            capacity *= 2
        self._place_all(capacity)

    def _place_all(self, capacity: int) -> None:
        """Rehash every id into an empty table of `capacity` slots (ids unchanged).

        Linear probing without deletions only needs each key to sit at or after its home slot
        with no free slot in between. Taking keys by home slot, the next one goes to
        max(home, previous + 1), a running maximum; the few that would run past the end wrap
        around through the ordinary probing loop.
        """
        self._reset_slots(capacity)
        home = (_hash(self.key_columns()) & self._mask).astype(np.int64)
        order = np.argsort(home).astype(np.int32)  # any order among equal homes
        rank = np.arange(order.size)
        slot = rank + np.maximum.accumulate(home[order] - rank) if order.size else rank
        fits = slot < capacity
        self._slot_id[slot[fits]] = order[fits]
        pending = order[~fits]
        probe = home[pending].astype(np.uint64)
        while pending.size:
            free = self._slot_id[probe] < 0
            taken, placed = self._claim(probe[free], pending[free])
            self._slot_id[taken] = placed
            left = self._slot_id[probe] != pending
            pending, probe = pending[left], (probe[left] + np.uint64(1)) & self._mask

    def rebuild(self, keep: np.ndarray) -> np.ndarray:
        """Forget the ids where `keep` is False and renumber the rest in order.

        Returns the old-id -> new-id map (-1 for forgotten ids) for the caller's per-id arrays.
        """
        kept = np.flatnonzero(keep[: self.count])
        remap = np.full(self.count, -1, dtype=np.int64)
        remap[kept] = np.arange(kept.size)
        room = max(2 * kept.size, _MIN_CAPACITY // 2)
        self._keys = [np.concatenate([c[kept], np.zeros(room - kept.size, np.uint64)]) for c in self.key_columns()]
        self.count = int(kept.size)
        capacity = _MIN_CAPACITY
        while capacity < 4 * self.count:  # room for as many new keys before the next growth
            capacity *= 2
        self._place_all(capacity)
        return remap
