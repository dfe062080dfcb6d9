"""What TCP health remembers about each flow between batches, as numpy columns.

One `Columns` holds a value per flow row (or per flow in a batch); fields marked per
direction have a second axis of 2 (0 = packets sent from endpoint A, 1 = from B). Sequence
and ACK numbers are kept raw (uint32) and unwrapped again against the direction's
`next` at the start of each batch, so state never depends on where a batch boundary fell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# name: (dtype, per direction). Every field starts at zero (False), which is how a flow that
# has seen nothing looks, so new rows cost no memory until used (np.zeros pages lazily).
FIELDS: dict[str, tuple[type, bool]] = {
    "live": (np.bool_, False),  # the row holds a flow whose values nobody has taken away yet
    "first_us": (np.int64, False),  # earliest packet of the flow
    "retransmissions": (np.int64, False),
    "out_of_order": (np.int64, False),
    "rtt_samples": (np.int64, False),  # the three below are meaningful once this is > 0
    "rtt_last_us": (np.int64, False),
    "rtt_min_us": (np.int64, False),
    "rtt_ewma_us": (np.float64, False),
    "has_first_rtt": (np.bool_, False),  # tshark's initial RTT: latest SYN -> first ACK without SYN
    "first_rtt_us": (np.int64, False),
    "handshake_full": (np.bool_, False),  # ... and a SYN-ACK came back in between
    "has_syn": (np.bool_, False),  # latest pure SYN, while the handshake is not settled
    "syn_us": (np.int64, False),
    "syn_dir": (np.uint8, False),
    "synack_seen": (np.bool_, False),  # SYN-ACK from the other side after that SYN
    "has_next": (np.bool_, True),  # highest seq + length seen in the direction (any packet)
    "next": (np.uint32, True),
    "next_us": (np.int64, True),  # when `next` last moved up
    "has_seg": (np.bool_, True),  # highest segment end (segments with length only)
    "seg_max": (np.uint32, True),
    "has_ack": (np.bool_, True),  # latest ACK sent by the direction, its time and window
    "ack": (np.uint32, True),
    "ack_us": (np.int64, True),
    "window": (np.uint16, True),
    "dupacks": (np.int64, True),  # duplicate ACKs sent since the ACK number last changed
}


class Columns:
    """The FIELDS as arrays whose first axis is a flow (row or batch group)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    @staticmethod
    def fresh(count: int) -> Columns:
        return Columns({name: np.zeros((count, 2) if per_direction else count, dtype=dtype)
                        for name, (dtype, per_direction) in FIELDS.items()})

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def count(self) -> int:
        return int(self.arrays["live"].shape[0])

    def take(self, index: np.ndarray) -> Columns:
        return Columns({name: values[index] for name, values in self.arrays.items()})

    def put(self, index: np.ndarray, source: Columns) -> None:
        for name, values in self.arrays.items():
            values[index] = source.arrays[name]

    def grown(self, count: int) -> Columns:
        """A copy with room for `count` flows; the new ones hold nothing."""
        bigger = Columns.fresh(count)
        have = self.count
        for name, values in self.arrays.items():
            bigger.arrays[name][:have] = values
        return bigger

    @staticmethod
    def concat(parts: list[Columns]) -> Columns:
        return Columns({name: np.concatenate([p.arrays[name] for p in parts]) for name in FIELDS})


@dataclass(slots=True)
class Inflight:
    """Timed segments waiting for their ACK (the reference's in-flight queues), flattened.

    Sorted by `key` (flow * 2 + direction), oldest first within a key; at most
    MAX_INFLIGHT per key. `seq_end` is raw, so entries survive re-anchoring between batches.
    """

    key: np.ndarray  # int64
    seq_end: np.ndarray  # uint32
    ts_us: np.ndarray  # int64

    @staticmethod
    def empty() -> Inflight:
        return Inflight(np.empty(0, np.int64), np.empty(0, np.uint32), np.empty(0, np.int64))

    @property
    def count(self) -> int:
        return int(self.key.shape[0])

    def take(self, index: np.ndarray) -> Inflight:
        return Inflight(self.key[index], self.seq_end[index], self.ts_us[index])


MAX_INFLIGHT = 128  # per direction, oldest dropped first (reference §3.5)


class InflightPool:
    """Pending segments of every flow between batches, keyed by row * 2 + direction."""

    def __init__(self) -> None:
        self.entries = Inflight.empty()

    def pop_rows(self, rows: np.ndarray) -> Inflight:
        """Remove and return the entries of the sorted, distinct `rows`."""
        entries = self.entries
        if not entries.count or not rows.shape[0]:
            return Inflight.empty()
        begin = np.searchsorted(entries.key, rows * 2, side="left")
        end = np.searchsorted(entries.key, rows * 2 + 1, side="right")
        marks = np.zeros(entries.count + 1, dtype=np.int64)
        np.add.at(marks, begin, 1)
        np.add.at(marks, end, -1)
        chosen = np.cumsum(marks[:-1]) > 0
        if not chosen.any():
            return Inflight.empty()
        self.entries = entries.take(~chosen)
        return entries.take(chosen)

    def add(self, new: Inflight) -> None:
        """Insert entries sorted by key whose keys are not in the pool (popped before)."""
        if not new.count:
            return
        old = self.entries
        if not old.count:
            self.entries = new
            return
        at = np.searchsorted(old.key, new.key)
        self.entries = Inflight(np.insert(old.key, at, new.key), np.insert(old.seq_end, at, new.seq_end),
                                np.insert(old.ts_us, at, new.ts_us))
