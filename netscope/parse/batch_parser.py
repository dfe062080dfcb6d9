"""Entry point of the parse stage: a whole RawBatch decoded layer by layer, never packet by packet."""

from __future__ import annotations

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.parse.columns import ParsedBatch
from netscope.parse.gather import ByteReader
from netscope.parse.ip import decode_ip
from netscope.parse.link import decode_link
from netscope.parse.transport import decode_transport


def parse_batch(raw: RawBatch) -> ParsedBatch:
    """Decode link, IP and transport headers of every packet in `raw` into columns.

    Each layer is a fixed handful of numpy passes over the batch (one gather per header word),
    so the cost grows with the batch, not with Python-level work per packet. Any byte content is
    accepted: a packet that cannot be decoded gets a Status, and the call never raises.
    """
    reader = ByteReader(raw.data)
    link = decode_link(raw, reader)
    ip = decode_ip(raw, reader, link)
    transport = decode_transport(raw, reader, ip)
    return ParsedBatch(
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
