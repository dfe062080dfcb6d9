"""The columns parse hands to flow tracking and analysis; one row per packet of the batch."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Status(IntEnum):
    """Why a packet did or did not reach the flow layer. Counted per reason, never raised."""

    OK = 0  # parsed; may still lack a transport header (see has_l4)
    NOT_IP = 1  # ARP, LLDP, ...: valid, just nothing for the flow layer
    UNSUPPORTED_LINK = 2  # a DLT we do not decode
    TRUNCATED_LINK = 3  # link or VLAN header cut short
    TRUNCATED_IP = 4  # fewer bytes than the IPv4/IPv6 header needs
    BAD_IP = 5  # wrong version nibble, IHL < 5, ...
    TRUNCATED_L4 = 6  # TCP/UDP/ICMP header cut short (packet still counted, no flow)
    FRAGMENT = 7  # non-initial IP fragment: no transport header to read


STATUS_LABELS = {
    Status.OK: "ok",
    Status.NOT_IP: "not ip",
    Status.UNSUPPORTED_LINK: "unsupported link type",
    Status.TRUNCATED_LINK: "truncated link header",
    Status.TRUNCATED_IP: "truncated ip header",
    Status.BAD_IP: "malformed ip header",
    Status.TRUNCATED_L4: "truncated transport header",
    Status.FRAGMENT: "non-initial fragment",
}

# Statuses that are errors in the reference's sense (§2.7): the rest are normal traffic.
ERROR_STATUSES = (Status.UNSUPPORTED_LINK, Status.TRUNCATED_LINK, Status.TRUNCATED_IP, Status.BAD_IP)

PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMP = 1
PROTO_ICMPV6 = 58

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


@dataclass(slots=True)
class ParsedBatch:
    """Header fields of every packet in a batch, as numpy columns of equal length.

    Addresses are two big-endian uint64 halves of a 16-byte address (IPv4 sits in the low
    32 bits of `*_lo`, `*_hi` = 0), so comparing `(hi, lo)` numerically orders addresses the
    way the reference orders endpoints. Fields that a packet does not have are 0.
    """

    ts_us: np.ndarray  # int64
    wirelen: np.ndarray  # int64, bytes counted for the packet
    caplen: np.ndarray  # int64
    status: np.ndarray  # uint8, Status
    ip_version: np.ndarray  # uint8: 0, 4 or 6
    ip_proto: np.ndarray  # uint8: effective transport protocol after IPv6 extension headers
    src_hi: np.ndarray  # uint64
    src_lo: np.ndarray  # uint64
    dst_hi: np.ndarray  # uint64
    dst_lo: np.ndarray  # uint64
    src_port: np.ndarray  # uint16 (TCP/UDP only)
    dst_port: np.ndarray  # uint16
    has_l4: np.ndarray  # bool: a complete TCP/UDP/ICMP/ICMPv6 header was read
    tcp_flags: np.ndarray  # uint8
    tcp_seq: np.ndarray  # uint32
    tcp_ack: np.ndarray  # uint32
    tcp_window: np.ndarray  # uint16
    payload_len: np.ndarray  # int64: TCP/UDP payload bytes per the IP/UDP length fields
    icmp_type: np.ndarray  # uint8
    icmp_code: np.ndarray  # uint8
    vlan_id: np.ndarray  # uint16: outermost 802.1Q/802.1ad VLAN id, 0 = untagged
    l3_offset: np.ndarray  # int64: start of the IP header within the packet (-1 if none)
    l4_offset: np.ndarray  # int64: start of the transport header within the packet (-1 if none)

    @property
    def count(self) -> int:
        return int(self.ts_us.shape[0])

    def flow_mask(self) -> np.ndarray:
        """Packets that create or update TCP/UDP flows (reference §3.1)."""
        return (
            (self.status == Status.OK)
            & self.has_l4
            & ((self.ip_proto == PROTO_TCP) | (self.ip_proto == PROTO_UDP))
        )

    def take(self, index: np.ndarray) -> ParsedBatch:
        """A sub-batch of the selected rows (boolean mask or integer index)."""
        return ParsedBatch(**{name: getattr(self, name)[index] for name in self.__slots__})
