"""Build ParsedBatch columns for flow tests without packet bytes, and a per-packet oracle."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np

from netscope.flow.records import Client, TcpState
from netscope.parse.columns import (
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    ParsedBatch,
    Status,
)


@dataclass(frozen=True)
class Packet:
    src: str
    sport: int
    dst: str
    dport: int
    ts_us: int = 0
    proto: int = PROTO_TCP
    flags: int = 0
    wirelen: int = 60
    status: int = Status.OK


def _halves(ip: str) -> tuple[int, int, int]:
    address = ipaddress.ip_address(ip)
    value = int(address)
    return address.version, value >> 64, value & 0xFFFFFFFFFFFFFFFF


def make_batch(packets: list[Packet]) -> ParsedBatch:
    """Columns as parse would produce them (fields a packet lacks are 0)."""
    n = len(packets)
    src = [_halves(p.src) for p in packets]
    dst = [_halves(p.dst) for p in packets]

    def col(values, dtype) -> np.ndarray:
        return np.array(list(values), dtype=dtype).reshape(n)

    l4 = [p.proto in (PROTO_TCP, PROTO_UDP, PROTO_ICMP) for p in packets]
    return ParsedBatch(
        ts_us=col((p.ts_us for p in packets), np.int64),
        wirelen=col((p.wirelen for p in packets), np.int64),
        caplen=col((p.wirelen for p in packets), np.int64),
        status=col((p.status for p in packets), np.uint8),
        ip_version=col((s[0] for s in src), np.uint8),
        ip_proto=col((p.proto for p in packets), np.uint8),
        src_hi=col((s[1] for s in src), np.uint64), src_lo=col((s[2] for s in src), np.uint64),
        dst_hi=col((d[1] for d in dst), np.uint64), dst_lo=col((d[2] for d in dst), np.uint64),
        src_port=col((p.sport for p in packets), np.uint16), dst_port=col((p.dport for p in packets), np.uint16),
        has_l4=col(l4, bool),
        tcp_flags=col((p.flags if p.proto == PROTO_TCP else 0 for p in packets), np.uint8),
        tcp_seq=np.zeros(n, np.uint32), tcp_ack=np.zeros(n, np.uint32), tcp_window=np.zeros(n, np.uint16),
        payload_len=np.zeros(n, np.int64), icmp_type=np.zeros(n, np.uint8), icmp_code=np.zeros(n, np.uint8),
        vlan_id=np.zeros(n, np.uint16), l3_offset=np.full(n, 14, np.int64), l4_offset=np.full(n, 34, np.int64),
    )


def endpoint_order(ip: str, port: int) -> tuple[int, bytes, int]:
    """The reference's endpoint comparison key: (version, 16-byte address, port)."""
    address = ipaddress.ip_address(ip)
    packed = address.packed.rjust(16, b"\0")
    return address.version, packed, port


def canonical(p: Packet) -> tuple[tuple, bool]:
    """((proto name, a ip, a port, b ip, b port), a_to_b) as FlowRow.key spells it."""
    forward = endpoint_order(p.src, p.sport) <= endpoint_order(p.dst, p.dport)
    a, b = ((p.src, p.sport), (p.dst, p.dport)) if forward else ((p.dst, p.dport), (p.src, p.sport))
    name = "tcp" if p.proto == PROTO_TCP else "udp"
    return (name, str(ipaddress.ip_address(a[0])), a[1], str(ipaddress.ip_address(b[0])), b[1]), forward


def tcp_step(state: TcpState, fins: int, client: Client, flags: int,
             a_to_b: bool) -> tuple[TcpState, int, Client]:
    """One packet of the state machine, written the obvious sequential way (the oracle)."""
    if flags & TCP_RST:
        return TcpState.RESET, fins, client
    if flags & TCP_SYN and not flags & TCP_ACK:
        if client is Client.NONE:
            client = Client.A_TO_B if a_to_b else Client.B_TO_A
        return TcpState.SYN_SENT, 0, client
    if flags & TCP_SYN:
        return TcpState.SYN_ACK, fins, client
    if flags & TCP_FIN:
        fins |= 1 if a_to_b else 2
        return (TcpState.CLOSED if fins == 3 else TcpState.FIN_WAIT), fins, client
    if flags & TCP_ACK and state not in (TcpState.RESET, TcpState.CLOSED, TcpState.FIN_WAIT):
        return TcpState.ESTABLISHED, fins, client
    return state, fins, client


@dataclass
class OracleFlow:
    proto: int
    first: int
    last: int
    packets: list[int] = field(default_factory=lambda: [0, 0])
    octets: list[int] = field(default_factory=lambda: [0, 0])
    state: TcpState = TcpState.UNKNOWN
    fins: int = 0
    client: Client = Client.NONE

    def summary(self) -> tuple:
        state = self.state.label if self.proto == PROTO_TCP else None
        return (self.packets[0], self.packets[1], self.octets[0], self.octets[1], self.first, self.last,
                state, self.client.label)


class Oracle:
    """Packet-by-packet tracker: counts, state, and timeouts with the reference's once-a-second gate."""

    def __init__(self, timeout_us: int | None = None) -> None:
        self.flows: dict[tuple, OracleFlow] = {}
        self.timeout_us = timeout_us
        self.last_pass: int | None = None
        self.expired: list[tuple] = []

    def packet(self, p: Packet) -> None:
        flow_packet = p.status == Status.OK and p.proto in (PROTO_TCP, PROTO_UDP)
        if flow_packet:
            key, forward = canonical(p)
            flow = self.flows.setdefault(key, OracleFlow(p.proto, p.ts_us, p.ts_us))
            side = 0 if forward else 1
            flow.packets[side] += 1
            flow.octets[side] += p.wirelen
            flow.first, flow.last = min(flow.first, p.ts_us), max(flow.last, p.ts_us)
            if p.proto == PROTO_TCP:
                flow.state, flow.fins, flow.client = tcp_step(flow.state, flow.fins, flow.client, p.flags, forward)
        if self.timeout_us is None:
            return
        if self.last_pass is None:
            self.last_pass = p.ts_us
        elif p.ts_us - self.last_pass >= 1_000_000:
            self.last_pass = p.ts_us
            for key in [k for k, f in self.flows.items() if p.ts_us - f.last > self.timeout_us]:
                self.expired.append((key, "timeout", p.ts_us, self.flows.pop(key).summary()))

    def table(self) -> dict[tuple, tuple]:
        return {key: flow.summary() for key, flow in self.flows.items()}


def tracker_table(flows) -> dict[tuple, tuple]:
    """FlowColumns in the oracle's shape."""
    return {
        r.key: (r.packets_ab, r.packets_ba, r.bytes_ab, r.bytes_ba, int(first), int(last), r.tcp_state, r.client)
        for r, first, last in zip(flows.rows(), flows.first_us, flows.last_us, strict=True)
    }
