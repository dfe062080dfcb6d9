"""TCP, UDP, ICMP and ICMPv6 headers, decoded over the whole batch at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.parse.columns import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Status
from netscope.parse.gather import ByteReader, field, pick
from netscope.parse.ip import IpLayer

TCP_MIN_HEADER = 20
TCP_THROUGH_FLAGS = 14  # ports, sequence and acknowledgment numbers, data offset, flags
TCP_THROUGH_WINDOW = 16
UDP_HEADER = 8
ICMP_MIN_HEADER = 8  # type, code, checksum and the 4-byte rest-of-header the reference requires


@dataclass(slots=True)
class TransportLayer:
    """Transport columns for the whole batch; 0 (or -1 for the offset) where `has_l4` is False."""

    status: np.ndarray  # uint8, the IP layer's status with TRUNCATED_L4 added
    has_l4: np.ndarray  # bool
    src_port: np.ndarray  # uint16
    dst_port: np.ndarray  # uint16
    tcp_flags: np.ndarray  # uint8
    tcp_seq: np.ndarray  # uint32
    tcp_ack: np.ndarray  # uint32
    tcp_window: np.ndarray  # uint16
    payload_len: np.ndarray  # int64
    icmp_type: np.ndarray  # uint8
    icmp_code: np.ndarray  # uint8
    l4_offset: np.ndarray  # int64


def decode_transport(raw: RawBatch, reader: ByteReader, ip: IpLayer) -> TransportLayer:
    """Read the transport header of every packet whose IP layer is OK.

    A TCP/UDP/ICMP header that does not fit in the IP payload (or a TCP data offset below 5)
    makes the packet TRUNCATED_L4; any other protocol leaves it OK without `has_l4`. Of a TCP
    header only the bytes up to the flags have to be captured (see below).
    """
    at = raw.offset + ip.transport_offset
    # Bytes 0-7: ports + sequence number (TCP), ports + length + checksum (UDP),
    # type + code + checksum + rest of header (ICMP). Bytes 8-15 of TCP: acknowledgment number,
    # data offset, flags, window. Each field is cut from these 16 bytes in its own output dtype.
    head = reader.block(at, 2)
    room = ip.payload_end - ip.transport_offset

    ok = ip.status == Status.OK
    is_tcp = ok & (ip.proto == PROTO_TCP)
    is_udp = ok & (ip.proto == PROTO_UDP)
    is_icmp = ok & ((ip.proto == PROTO_ICMP) | (ip.proto == PROTO_ICMPV6))

    tcp_header_len = (field(head, 12, 1) >> 4).astype(np.int64)
    tcp_header_len *= 4
    # A short snaplen (tcpdump -s 68, the old default) cuts TCP headers: options always, and over
    # IPv6 the window too. Ports, sequence and acknowledgment numbers and flags are what flows
    # and TCP health read, so those 14 bytes must be captured; the rest only has to fit in the
    # IP length. The reference wants the whole header captured, and so loses every handshake
    # (and every IPv6 TCP packet) of such a capture from its flows; tshark does not.
    tcp = (is_tcp & (room >= TCP_THROUGH_FLAGS) & (tcp_header_len >= TCP_MIN_HEADER)
           & (tcp_header_len <= ip.declared_len))
    udp = is_udp & (room >= UDP_HEADER)
    icmp = is_icmp & (room >= ICMP_MIN_HEADER)
    has_l4 = tcp | udp | icmp
    has_ports = tcp | udp

    status = ip.status.copy()
    status[(is_tcp | is_udp | is_icmp) & ~has_l4] = Status.TRUNCATED_L4

    udp_payload = np.maximum(field(head, 4, 2).astype(np.int64) - UDP_HEADER, 0)
    # Never negative where `tcp` holds: the header fits in declared_len.
    tcp_payload = ip.declared_len - tcp_header_len
    return TransportLayer(
        status=status,
        has_l4=has_l4,
        src_port=_only(has_ports, field(head, 0, 2)),
        dst_port=_only(has_ports, field(head, 2, 2)),
        tcp_flags=_only(tcp, field(head, 13, 1)),
        tcp_seq=_only(tcp, field(head, 4, 4)),
        tcp_ack=_only(tcp, field(head, 8, 4)),
        tcp_window=_only(tcp & (room >= TCP_THROUGH_WINDOW), field(head, 14, 2)),  # 0: not captured
        payload_len=tcp_payload * tcp + udp_payload * udp,
        icmp_type=_only(icmp, field(head, 0, 1)),
        icmp_code=_only(icmp, field(head, 1, 1)),
        l4_offset=pick(has_l4, ip.transport_offset, -1),
    )


def _only(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`values` where `mask`, else 0, in place and in the values' dtype (no branches: masks interleave)."""
    np.multiply(values, mask, out=values)
    return values
