"""Recent raw packets, kept so a detail screen can decode a flow's last packets on demand.

Copying packet bytes costs memory bandwidth, so only the flow packets at the end of each
batch go into a fixed ring (each cut to KEEP_BYTES), and once a screen asks about a flow
that flow alone is followed from then on.
"""

from __future__ import annotations

import ipaddress
from collections import deque

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.engine.messages import FlowKey, PacketRecord
from netscope.parse.columns import ParsedBatch

RING_PACKETS = 2048
KEEP_BYTES = 512
WATCH_PACKETS = 64
_PROTO_NUMBERS = {"tcp": 6, "udp": 17}


def _split_ip(text: str) -> tuple[int, int, int]:
    address = ipaddress.ip_address(text)
    value = int(address)
    return address.version, value >> 64, value & 0xFFFFFFFFFFFFFFFF


def _key_mask(parsed: ParsedBatch | dict, key: FlowKey) -> np.ndarray:
    """Packets of `parsed` (a ParsedBatch or the ring's column dict) that belong to `key`."""
    proto, a_ip, a_port, b_ip, b_port = key
    col = (lambda name: parsed[name]) if isinstance(parsed, dict) else (lambda name: getattr(parsed, name))
    _, a_hi, a_lo = _split_ip(a_ip)
    _, b_hi, b_lo = _split_ip(b_ip)

    def side(prefix: str, hi: int, lo: int, port: int) -> np.ndarray:
        return (col(f"{prefix}_hi") == hi) & (col(f"{prefix}_lo") == lo) & (col(f"{prefix}_port") == port)

    forward = side("src", a_hi, a_lo, a_port) & side("dst", b_hi, b_lo, b_port)
    backward = side("src", b_hi, b_lo, b_port) & side("dst", a_hi, a_lo, a_port)
    return (col("ip_proto") == _PROTO_NUMBERS.get(proto, -1)) & (forward | backward)


class RecentPackets:
    """A ring of the latest flow packets plus a follow-list for the flow being inspected."""

    _COLUMNS = ("ts_us", "wirelen", "caplen", "ip_proto", "src_hi", "src_lo", "dst_hi", "dst_lo",
                "src_port", "dst_port")

    def __init__(self, capacity: int = RING_PACKETS) -> None:
        self.capacity = capacity
        self._cols = {name: np.zeros(capacity, dtype=np.uint64 if "_hi" in name or "_lo" in name else np.int64)
                      for name in self._COLUMNS}
        self._data = np.zeros((capacity, KEEP_BYTES), dtype=np.uint8)
        self._linktype = np.zeros(capacity, dtype=np.int32)
        self._filled = 0
        self._next = 0
        self._watch: FlowKey | None = None
        self._watched: deque[PacketRecord] = deque(maxlen=WATCH_PACKETS)

    def add(self, raw: RawBatch, parsed: ParsedBatch) -> None:
        flow_rows = np.flatnonzero(parsed.flow_mask())
        if self._watch is not None:
            self._follow(raw, parsed)
        rows = flow_rows[-self.capacity :]
        if rows.size == 0:
            return
        slots = (self._next + np.arange(rows.size)) % self.capacity
        for name in self._COLUMNS:
            self._cols[name][slots] = getattr(parsed, name)[rows]
        self._linktype[slots] = raw.linktype
        self._data[slots] = self._gather(raw, rows)
        self._next = int((self._next + rows.size) % self.capacity)
        self._filled = min(self.capacity, self._filled + rows.size)

    @staticmethod
    def _gather(raw: RawBatch, rows: np.ndarray) -> np.ndarray:
        """The first KEEP_BYTES of each selected packet as a zero-padded matrix, in one gather."""
        columns = np.arange(KEEP_BYTES)
        index = raw.offset[rows, None] + columns
        inside = columns < np.minimum(raw.caplen[rows], KEEP_BYTES)[:, None]
        matrix = raw.data[np.minimum(index, max(raw.data.shape[0] - 1, 0))] if raw.data.size else np.zeros(
            index.shape, np.uint8)
        return np.where(inside, matrix, 0).astype(np.uint8)

    def _follow(self, raw: RawBatch, parsed: ParsedBatch) -> None:
        rows = np.flatnonzero(_key_mask(parsed, self._watch))[-WATCH_PACKETS:]
        for i in rows:
            self._watched.append(PacketRecord(
                ts=int(parsed.ts_us[i]) / 1e6, wirelen=int(parsed.wirelen[i]), linktype=raw.linktype,
                data=raw.packet(int(i))[:KEEP_BYTES]))

    def detail(self, key: FlowKey) -> tuple[PacketRecord, ...]:
        """The flow's recent packets, oldest first; from now on this flow is followed."""
        if key != self._watch:
            self._watch = key
            self._watched.clear()
            for record in self._from_ring(key):
                self._watched.append(record)
        return tuple(self._watched)

    def _from_ring(self, key: FlowKey) -> list[PacketRecord]:
        order = (self._next - self._filled + np.arange(self._filled)) % self.capacity
        cols = {name: values[order] for name, values in self._cols.items()}
        hits = order[np.flatnonzero(_key_mask(cols, key))]
        return [
            PacketRecord(ts=int(self._cols["ts_us"][s]) / 1e6, wirelen=int(self._cols["wirelen"][s]),
                         linktype=int(self._linktype[s]),
                         data=self._data[s, : min(int(self._cols["caplen"][s]), KEEP_BYTES)].tobytes())
            for s in hits
        ]
