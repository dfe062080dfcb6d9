"""Which packets the detectors see, and how they name the hosts involved."""

from __future__ import annotations

import numpy as np

from netscope.flow.records import format_ip
from netscope.parse.columns import PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_SYN, ParsedBatch


def pure_syns(batch: ParsedBatch) -> np.ndarray:
    """Connection openings (SYN without ACK) of packets the reference feeds to detection (§4)."""
    return (batch.flow_mask() & (batch.ip_proto == PROTO_TCP)
            & ((batch.tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN))


def udp_packets(batch: ParsedBatch) -> np.ndarray:
    return batch.flow_mask() & (batch.ip_proto == PROTO_UDP)


def address_text(batch: ParsedBatch, row: int, side: str) -> str:
    """`side` is "src" or "dst"; for alert text only (a handful of rows, never per packet)."""
    return format_ip(int(batch.ip_version[row]), int(getattr(batch, f"{side}_hi")[row]),
                     int(getattr(batch, f"{side}_lo")[row]))


def endpoint_text(address: str, port: int) -> str:
    """`ip:port`, with IPv6 addresses in brackets so the port cannot be mistaken for a group."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
