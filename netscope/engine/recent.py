"""Recent raw packets, kept so a detail screen can decode a flow's last packets on demand.

Nothing is copied while packets flow: the ring holds references to the last batches (their
byte buffers are immutable, each batch has its own) together with which of their packets are
flow packets, just enough batches to cover the latest RING_PACKETS flow packets. Bytes are
cut out only when a screen asks about a flow, and that flow alone is followed from then on.
Copying every batch's tail into a ring instead cost a quarter of the TUI engine's time.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.engine.messages import FlowKey, PacketRecord
from netscope.parse.columns import ParsedBatch

RING_PACKETS = 2048
KEEP_BYTES = 512
WATCH_PACKETS = 64
_PROTO_NUMBERS = {"tcp": 6, "udp": 17}


def _split_ip(text: str) -> tuple[int, int]:
    value = int(ipaddress.ip_address(text))
    return value >> 64, value & 0xFFFFFFFFFFFFFFFF


def _key_mask(parsed: ParsedBatch, key: FlowKey) -> np.ndarray:
    """Packets of `parsed` that belong to `key`, in either direction."""
    proto, a_ip, a_port, b_ip, b_port = key
    a_hi, a_lo = _split_ip(a_ip)
    b_hi, b_lo = _split_ip(b_ip)

    def side(prefix: str, hi: int, lo: int, port: int) -> np.ndarray:
        return ((getattr(parsed, f"{prefix}_hi") == hi) & (getattr(parsed, f"{prefix}_lo") == lo)
                & (getattr(parsed, f"{prefix}_port") == port))

    forward = side("src", a_hi, a_lo, a_port) & side("dst", b_hi, b_lo, b_port)
    backward = side("src", b_hi, b_lo, b_port) & side("dst", a_hi, a_lo, a_port)
    return (parsed.ip_proto == _PROTO_NUMBERS.get(proto, -1)) & (forward | backward)


@dataclass(frozen=True, slots=True)
class _Held:
    """One batch still inside the ring: `rows` are its flow packets, oldest first."""

    raw: RawBatch
    parsed: ParsedBatch
    rows: np.ndarray


def _record(raw: RawBatch, parsed: ParsedBatch, i: int) -> PacketRecord:
    return PacketRecord(ts=int(parsed.ts_us[i]) / 1e6, wirelen=int(parsed.wirelen[i]), linktype=raw.linktype,
                        data=raw.packet(i)[:KEEP_BYTES], l3_offset=int(parsed.l3_offset[i]))


class RecentPackets:
    """The latest `capacity` flow packets (as held batches) plus a follow-list for the inspected flow."""

    def __init__(self, capacity: int = RING_PACKETS) -> None:
        self.capacity = capacity
        self._held: deque[_Held] = deque()
        self._held_rows = 0
        self._watch: FlowKey | None = None
        self._watched: deque[PacketRecord] = deque(maxlen=WATCH_PACKETS)

    def add(self, raw: RawBatch, parsed: ParsedBatch, flow_mask: np.ndarray) -> None:
        """Take in a batch the engine has just parsed; `flow_mask` is its parsed.flow_mask()."""
        if self._watch is not None:
            self._follow(raw, parsed)
        rows = np.flatnonzero(flow_mask)[-self.capacity:]
        if rows.size == 0:
            return
        self._held.append(_Held(raw, parsed, rows))
        self._held_rows += rows.size
        while self._held_rows - self._held[0].rows.size >= self.capacity:
            self._held_rows -= self._held.popleft().rows.size

    def _follow(self, raw: RawBatch, parsed: ParsedBatch) -> None:
        for i in np.flatnonzero(_key_mask(parsed, self._watch))[-WATCH_PACKETS:]:
            self._watched.append(_record(raw, parsed, int(i)))

    def detail(self, key: FlowKey) -> tuple[PacketRecord, ...]:
        """The flow's recent packets, oldest first; from now on this flow is followed."""
        if key != self._watch:
            self._watch = key
            self._watched.clear()
            self._watched.extend(self._from_ring(key))
        return tuple(self._watched)

    def _from_ring(self, key: FlowKey) -> list[PacketRecord]:
        records = []
        outside = self._held_rows - self.capacity  # rows of the oldest held batch past the ring's reach
        for held in self._held:
            rows = held.rows[max(outside, 0):]
            outside = 0
            for i in rows[_key_mask(held.parsed, key)[rows]]:
                records.append(_record(held.raw, held.parsed, int(i)))
        return records
