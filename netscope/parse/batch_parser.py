"""Entry point of the parse stage: a whole RawBatch decoded layer by layer, never packet by packet."""

from __future__ import annotations

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.parse.columns import ParsedBatch
from netscope.parse.gather import ByteReader
from netscope.parse.ip import decode_ip
from netscope.parse.link import decode_link
from netscope.parse.transport import decode_transport
from netscope.parse.tunnels import MAX_DEPTH, find_tunnels, inner_batch

# Columns a tunnel's inner packet replaces; the outer packet keeps its time, lengths and VLAN.
INNER_COLUMNS = ("status", "ip_version", "ip_proto", "src_hi", "src_lo", "dst_hi", "dst_lo", "src_port", "dst_port",
                 "has_l4", "tcp_flags", "tcp_seq", "tcp_ack", "tcp_window", "payload_len", "icmp_type", "icmp_code")


def parse_batch(raw: RawBatch, depth: int = 0) -> ParsedBatch:
    """Decode link, IP and transport headers of every packet in `raw` into columns.

    Each layer is a fixed handful of numpy passes over the batch (one gather per header word),
    so the cost grows with the batch, not with Python-level work per packet. Any byte content is
    accepted: a packet that cannot be decoded gets a Status, and the call never raises.
    Tunnelled packets are then decoded again from their inner packet (tunnels.py), `depth`
    counting the tunnels already opened.
    """
    reader = ByteReader(raw.data)
    link = decode_link(raw, reader)
    ip = decode_ip(raw, reader, link)
    transport = decode_transport(raw, reader, ip)
    parsed = ParsedBatch(
        ts_us=np.array(raw.ts_us, dtype=np.int64),
        wirelen=np.array(raw.wirelen, dtype=np.int64),
        caplen=np.array(raw.caplen, dtype=np.int64),
        status=transport.status,
        ip_version=ip.ip_version,
        ip_proto=ip.proto,
        src_hi=ip.src_hi,
        src_lo=ip.src_lo,
        dst_hi=ip.dst_hi,
        dst_lo=ip.dst_lo,
        src_port=transport.src_port,
        dst_port=transport.dst_port,
        has_l4=transport.has_l4,
        tcp_flags=transport.tcp_flags,
        tcp_seq=transport.tcp_seq,
        tcp_ack=transport.tcp_ack,
        tcp_window=transport.tcp_window,
        payload_len=transport.payload_len,
        icmp_type=transport.icmp_type,
        icmp_code=transport.icmp_code,
        vlan_id=link.vlan_id,
        l3_offset=ip.l3_offset,
        l4_offset=transport.l4_offset,
    )
    if depth < MAX_DEPTH:
        for tunnel in find_tunnels(raw, reader, parsed.status, parsed.ip_proto, parsed.has_l4, parsed.src_port,
                                   parsed.dst_port, ip.transport_offset):
            _take_inner(parsed, tunnel.rows, tunnel.inner_start, parse_batch(inner_batch(raw, tunnel), depth + 1))
    return parsed


def _take_inner(parsed: ParsedBatch, rows: np.ndarray, inner_start: np.ndarray, inner: ParsedBatch) -> None:
    """Rows whose inner packet has an IP header become that packet (offsets from the outer start)."""
    adopt = inner.ip_version != 0
    rows, inner_start = rows[adopt], inner_start[adopt]
    for name in INNER_COLUMNS:
        getattr(parsed, name)[rows] = getattr(inner, name)[adopt]
    parsed.l3_offset[rows] = inner.l3_offset[adopt] + inner_start
    l4 = inner.l4_offset[adopt]
    parsed.l4_offset[rows] = np.where(l4 >= 0, l4 + inner_start, -1)
