"""One batch's TCP packets walked per flow and direction with array operations.

The packets arrive sorted by flow (a `group`) and, within a flow, in capture order. A
stable sort by (group, direction) gives each direction's packets in order too. Sequence
numbers are unwrapped per direction by summing the signed 32-bit steps between
consecutive packets, starting from the direction's highest sequence end carried over
from earlier batches, so every later comparison is a plain int64 comparison that agrees
with the wrap-aware one as long as numbers within a flow stay within 2^31 of each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.analysis.tcp_grouped import (
    NONE,
    group_ends,
    group_starts,
    group_sum,
    latest,
    previous,
    running_max_before,
    start_index,
)
from netscope.analysis.tcp_state import Columns
from netscope.parse.columns import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN

HALF = 1 << 31
MASK32 = (1 << 32) - 1


def signed32(difference: np.ndarray) -> np.ndarray:
    """A difference of two 32-bit sequence numbers as the signed step between them."""
    return ((difference + HALF) & MASK32) - HALF


@dataclass(slots=True)
class BatchPackets:
    """TCP packets of one flow table, sorted by group then capture order."""

    group: np.ndarray  # int64, 0..groups-1, ascending
    direction: np.ndarray  # int64: 0 sent by endpoint A, 1 by endpoint B
    ts_us: np.ndarray  # int64
    flags: np.ndarray  # uint8
    seq: np.ndarray  # int64 holding the raw uint32
    ack: np.ndarray  # int64 holding the raw uint32
    window: np.ndarray  # int64
    payload: np.ndarray  # int64
    groups: int

    @property
    def count(self) -> int:
        return int(self.group.shape[0])


class Walk:
    """Per-packet views of the sequence state every rule needs, and the state to carry on.

    Arrays named `*_o` are in direction order (`order`); the rest in flow order. `state`
    starts as the carried state of each group and receives the updated sequence fields.
    """

    def __init__(self, packets: BatchPackets, carried: Columns) -> None:
        self.packets = p = packets
        self.carried = carried
        self.state = carried.take(np.arange(carried.count))
        flags = p.flags
        self.syn = (flags & TCP_SYN) != 0
        self.is_ack = (flags & TCP_ACK) != 0
        self.plain = (flags & (TCP_SYN | TCP_FIN | TCP_RST)) == 0
        self.seq_len = p.payload + self.syn + ((flags & TCP_FIN) != 0)
        self.group_head = group_starts(p.group)
        self.first = start_index(self.group_head)
        self.key = p.group * 2 + p.direction  # (flow, direction): index into flattened per-direction fields
        self.order = np.argsort(self.key, kind="stable")
        self.key_o = self.key[self.order]
        self.starts_o = group_starts(self.key_o)
        self.first_o = start_index(self.starts_o)
        self._unwrap()
        self._highest()
        self._acks_sent()
        self._peer_acks()

    def flat(self, name: str) -> np.ndarray:
        """A per-direction field of the state being built, as a flat view indexed by `key`."""
        return self.state.arrays[name].reshape(-1)

    def before(self, name: str) -> np.ndarray:
        """A per-direction field as carried into the batch, flat, indexed by `key`."""
        return self.carried.arrays[name].reshape(-1)

    # -- sequence space -------------------------------------------------------------------

    def _unwrap(self) -> None:
        """Sequence numbers as int64 offsets from each direction's anchor: its carried `next`,
        or for a direction new in this batch its first sequence number."""
        p, order = self.packets, self.order
        anchored = self.before("has_next").copy()
        anchor = self.before("next").astype(np.int64)
        heads = self.order[self.starts_o]
        fresh = ~anchored[self.key[heads]]
        anchor[self.key[heads[fresh]]] = p.seq[heads[fresh]]
        anchored[self.key[heads]] = True
        self.anchor, self.anchored = anchor, anchored  # raw number that is 0 in each direction's space
        seq_o = p.seq[order]
        steps = signed32(seq_o - previous(seq_o, self.starts_o, anchor[self.key_o]))
        self.useq = np.empty(p.count, dtype=np.int64)
        self.useq[order] = group_sum(steps, self.starts_o)
        self.uend = self.useq + self.seq_len

    def to_space(self, raw: np.ndarray, key: np.ndarray) -> np.ndarray:
        """Raw numbers of direction `key`'s sequence space as unwrapped values (key must be anchored)."""
        return signed32(raw - self.anchor[key])

    def _highest(self) -> None:
        """tshark's nextseq (over all packets) and the reference's max_seq_end (segments only)."""
        order, key_o, starts_o = self.order, self.key_o, self.starts_o
        ts_o = self.packets.ts_us[order]
        end_o = self.uend[order]
        next_seed = np.where(self.before("has_next")[key_o], 0, NONE)
        next_before_o = running_max_before(end_o, starts_o, next_seed)
        raised = latest(end_o > next_before_o, self.first_o)
        raised_before = previous(raised, starts_o, np.full(raised.shape[0], -1))
        next_us_before_o = np.where(raised_before >= 0, ts_o[raised_before], self.before("next_us")[key_o])
        segment_o = np.where(self.seq_len[order] > 0, end_o, NONE)
        seg_seed = np.where(self.before("has_seg")[key_o],
                            self.to_space(self.before("seg_max")[key_o].astype(np.int64), key_o), NONE)
        seg_before_o = running_max_before(segment_o, starts_o, seg_seed)

        self.next_before = np.empty_like(next_before_o)
        self.next_before[order] = next_before_o
        self.next_us_before = np.empty_like(next_us_before_o)
        self.next_us_before[order] = next_us_before_o
        self.advanced = np.zeros(self.packets.count, dtype=bool)
        self.advanced[order] = segment_o > seg_before_o

        last = group_ends(starts_o)
        keys = key_o[last]
        top_next = np.maximum(next_before_o[last], end_o[last])
        self.flat("next")[keys] = (self.anchor[keys] + top_next) & MASK32
        self.flat("has_next")[keys] = True
        self.flat("next_us")[keys] = np.where(raised[last] >= 0, ts_o[np.maximum(raised[last], 0)],
                                              self.before("next_us")[keys])
        top_seg = np.maximum(seg_before_o[last], segment_o[last])
        moved = top_seg != NONE
        self.flat("seg_max")[keys[moved]] = (self.anchor[keys[moved]] + top_seg[moved]) & MASK32
        self.flat("has_seg")[keys[moved]] = True

    # -- ACKs -----------------------------------------------------------------------------

    def _acks_sent(self) -> None:
        """Duplicate-ACK runs of each direction, tshark's way, and the ACK state to carry."""
        p = self.packets
        pick = self.order[self.is_ack[self.order]]  # ACK packets in direction order
        key = self.key[pick]
        starts = group_starts(key)
        had = self.before("has_ack")[key]
        before_ack = previous(p.ack[pick], starts, np.where(had, self.before("ack")[key], -1))
        before_window = previous(p.window[pick], starts, self.before("window")[key].astype(np.int64))
        known = before_ack >= 0
        duplicate = ((p.payload[pick] == 0) & (p.window[pick] != 0) & known & (p.window[pick] == before_window)
                     & (self.next_before[pick] != NONE) & (self.useq[pick] == self.next_before[pick])
                     & (p.ack[pick] == before_ack) & self.plain[pick])
        changed = ~known | (p.ack[pick] != before_ack)
        counted = group_sum(duplicate.astype(np.int64), starts)
        since = latest(changed, start_index(starts))
        runs = np.where(since >= 0, counted - counted[np.maximum(since, 0)], self.before("dupacks")[key] + counted)
        self.dupacks_after = np.zeros(p.count, dtype=np.int64)
        self.dupacks_after[pick] = runs

        last = group_ends(starts)
        keys, ends = key[last], pick[last]
        self.flat("has_ack")[keys] = True
        self.flat("ack")[keys] = p.ack[ends]
        self.flat("ack_us")[keys] = p.ts_us[ends]
        self.flat("window")[keys] = p.window[ends]
        self.flat("dupacks")[keys] = runs[last]

    def _peer_acks(self) -> None:
        """For every packet, the peer's latest ACK before it (number, unwrapped value, time, dup run).

        ACK numbers are unwrapped into the acknowledged direction's space against that
        direction's latest packet, or its anchor when it has sent nothing yet in this batch.
        """
        p = self.packets
        forward = p.direction == 0
        # The latest packet of the acknowledged direction is the one just before the run of
        # same-direction packets this one belongs to, if that run does not open its flow.
        run_head = self.group_head.copy()
        run_head[1:] |= p.direction[1:] != p.direction[:-1]
        before_run = start_index(run_head) - 1
        reference = np.where(before_run >= self.first, before_run, -1)
        acked_key = self.key ^ 1
        self.ack_valid = (reference >= 0) | self.anchored[acked_key]
        base = np.where(reference >= 0, self.useq[np.maximum(reference, 0)], 0)
        raw_base = np.where(reference >= 0, p.seq[np.maximum(reference, 0)], self.anchor[acked_key])
        self.uack = base + signed32(p.ack - raw_base)

        ack_a = latest(self.is_ack & forward, self.first)
        ack_b = latest(self.is_ack & ~forward, self.first)
        peer = np.where(forward, ack_b, ack_a)
        seen = peer >= 0
        at = np.maximum(peer, 0)
        peer_key = self.key ^ 1
        carried = {name: self.before(name)[peer_key] for name in ("has_ack", "ack", "ack_us", "dupacks")}
        self.peer_has = seen | carried["has_ack"]
        self.peer_ack = np.where(seen, p.ack[at], carried["ack"].astype(np.int64))
        self.peer_uack = np.where(seen, self.uack[at],
                                  signed32(carried["ack"].astype(np.int64) - self.anchor[self.key]))
        self.peer_ack_us = np.where(seen, p.ts_us[at], carried["ack_us"])
        self.peer_dupacks = np.where(seen, self.dupacks_after[at], carried["dupacks"])

    # -- classification -----------------------------------------------------------------

    def classify(self, threshold_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(retransmission, out_of_order) per packet, with tshark's tcp.analysis rules.

        A segment is late when it starts below the direction's highest sequence end; a
        late segment is a fast retransmission if the peer sent two or more duplicate ACKs
        for exactly its start within 20 ms, out-of-order if it arrived within
        `threshold_us` (the initial RTT, 3 ms until known) of the segment that set the
        highest end and does not end there, and otherwise a retransmission. A segment
        whose data the peer already acknowledged is a (spurious) retransmission even when
        it is not late. A one-byte keep-alive one below the highest end is neither.
        """
        p = self.packets
        highest = self.next_before
        known = highest != NONE
        late = known & (self.useq < highest) & ~((p.payload > 1) & (self.useq == highest - 1))
        keepalive = known & (p.payload == 1) & (self.useq == highest - 1) & self.plain
        since_highest = p.ts_us - self.next_us_before
        since_peer_ack = p.ts_us - self.peer_ack_us
        fast = (late & self.peer_has & (self.peer_dupacks >= 2) & (self.peer_ack == p.seq)
                & (since_peer_ack >= 0) & (since_peer_ack < 20_000))
        reordered = ~fast & late & (since_highest >= 0) & (since_highest < threshold_us) & (self.uend != highest)
        spurious = ~fast & ~reordered & (p.payload > 0) & self.peer_has & (self.uend <= self.peer_uack)
        counted = (self.seq_len > 0) & ~keepalive
        return counted & (fast | spurious | (late & ~reordered)), counted & reordered
