"""Which packets the detectors see, and how they name the hosts involved."""

from __future__ import annotations

import numpy as np

from netscope.flow.records import format_ip
from netscope.parse.columns import PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_RST, TCP_SYN, ParsedBatch


def pure_syns(batch: ParsedBatch) -> np.ndarray:
    """Connection openings (SYN without ACK) of packets the reference feeds to detection (§4)."""
    return (batch.flow_mask() & (batch.ip_proto == PROTO_TCP)
            & ((batch.tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN))


def stealth_probes(batch: ParsedBatch) -> np.ndarray:
    """TCP segments with none of SYN, ACK and RST: nmap's FIN, NULL and Xmas scans (-sF, -sN, -sX).

    No connection sends one (every segment after the SYN carries ACK, and a RST without ACK
    answers a segment instead of probing), so unlike an ACK scan's probes they cannot be
    mistaken for the middle of a flow whose start was not captured. The reference counts SYNs
    only, so these scans go unreported there.
    """
    return (batch.flow_mask() & (batch.ip_proto == PROTO_TCP)
            & ((batch.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == 0))


def probe_answers(batch: ParsedBatch) -> np.ndarray:
    """RSTs without ACK: a host's answer to a segment with ACK that belongs to no connection.

    This is what gives away nmap's ACK, Window and Maimon scans (-sA, -sW, -sM): their probes
    (ACK, FIN+ACK) look like the middle of a flow whose start was not captured, but every
    probe that reaches a port gets such a RST back (RFC 9293 §3.10.7.1). A connection's own
    RSTs carry ACK, and so does every answer to a SYN or a FIN/NULL/Xmas probe, so those
    scans are not counted twice. Such a RST stands for a probe of its sender's address and
    port by its receiver; a filtered port, which answers nothing, goes unseen.
    """
    return (batch.flow_mask() & (batch.ip_proto == PROTO_TCP)
            & ((batch.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_RST))


def udp_packets(batch: ParsedBatch) -> np.ndarray:
    return batch.flow_mask() & (batch.ip_proto == PROTO_UDP)


def detector_packets(batch: ParsedBatch) -> np.ndarray:
    """Every packet some detector may count: what a pipeline shard hands over to the one detector."""
    return pure_syns(batch) | stealth_probes(batch) | probe_answers(batch) | udp_packets(batch)


def address_text(batch: ParsedBatch, row: int, side: str) -> str:
    """`side` is "src" or "dst"; for alert text only (a handful of rows, never per packet)."""
    return format_ip(int(batch.ip_version[row]), int(getattr(batch, f"{side}_hi")[row]),
                     int(getattr(batch, f"{side}_lo")[row]))


def endpoint_text(address: str, port: int) -> str:
    """`ip:port`, with IPv6 addresses in brackets so the port cannot be mistaken for a group."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
