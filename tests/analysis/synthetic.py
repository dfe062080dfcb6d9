"""Hand-made ParsedBatch columns and a straightforward per-packet oracle of the reference's rules."""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass

import numpy as np

from netscope.analysis.anomaly import AnomalySettings
from netscope.analysis.port_scan import UDP_SERVICE_PORTS
from netscope.parse.columns import PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, ParsedBatch, Status

SYN, SYN_ACK, ACK = TCP_SYN, TCP_SYN | TCP_ACK, TCP_ACK
RST, FIN = TCP_RST, TCP_FIN
XMAS = TCP_FIN | 0x08 | 0x20  # FIN, PSH, URG


@dataclass(frozen=True)
class Packet:
    ts_us: int
    src: str
    sport: int
    dst: str
    dport: int
    proto: int = PROTO_TCP
    flags: int = SYN
    status: Status = Status.OK


def syn(ts_us: int, src: str, dst: str, dport: int, sport: int = 40000) -> Packet:
    return Packet(ts_us, src, sport, dst, dport)


def udp(ts_us: int, src: str, sport: int, dst: str, dport: int) -> Packet:
    return Packet(ts_us, src, sport, dst, dport, proto=PROTO_UDP, flags=0)


def _halves(address: str) -> tuple[int, int, int]:
    ip = ipaddress.ip_address(address)
    value = int(ip)
    return ip.version, value >> 64, value & 0xFFFFFFFFFFFFFFFF


def batch_of(packets: list[Packet]) -> ParsedBatch:
    n = len(packets)
    src = [_halves(p.src) for p in packets]
    dst = [_halves(p.dst) for p in packets]
    zeros = np.zeros(n, dtype=np.int64)

    def column(values: list[int], dtype: type) -> np.ndarray:
        return np.array(values, dtype=dtype).reshape(n)

    return ParsedBatch(
        ts_us=column([p.ts_us for p in packets], np.int64),
        wirelen=zeros + 60, caplen=zeros + 60,
        status=column([p.status for p in packets], np.uint8),
        ip_version=column([s[0] for s in src], np.uint8),
        ip_proto=column([p.proto for p in packets], np.uint8),
        src_hi=column([s[1] for s in src], np.uint64), src_lo=column([s[2] for s in src], np.uint64),
        dst_hi=column([d[1] for d in dst], np.uint64), dst_lo=column([d[2] for d in dst], np.uint64),
        src_port=column([p.sport for p in packets], np.uint16),
        dst_port=column([p.dport for p in packets], np.uint16),
        has_l4=column([p.status == Status.OK for p in packets], bool),
        tcp_flags=column([p.flags if p.proto == PROTO_TCP else 0 for p in packets], np.uint8),
        tcp_seq=zeros.astype(np.uint32), tcp_ack=zeros.astype(np.uint32), tcp_window=zeros.astype(np.uint16),
        payload_len=zeros, icmp_type=zeros.astype(np.uint8), icmp_code=zeros.astype(np.uint8),
        vlan_id=zeros.astype(np.uint16), l3_offset=zeros + 14, l4_offset=zeros + 34,
    )


def _text(address: str) -> str:
    return str(ipaddress.ip_address(address))


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class SequentialOracle:
    """The reference's per-packet rules (§4.1-4.2), written plainly, plus our documented fixes.

    Deliberately independent of the vectorised code: dicts of deques, one packet at a time.
    """

    def __init__(self, settings: AnomalySettings, udp_service_ports: tuple[int, ...] = UDP_SERVICE_PORTS):
        self.s = settings
        self.syn_q: dict[tuple, deque] = {}
        self.syn_until: dict[tuple, int] = {}
        self.scan_q: dict[str, deque] = {}
        self.scan_until: dict[str, int] = {}
        self.udp_last: dict[tuple, int] = {}  # (src, sport, dst, dport) -> last time sent
        self.service_ports = set(udp_service_ports)
        self.clock = -(2**63)

    @staticmethod
    def _us(seconds: float) -> int:
        return round(seconds * 1_000_000)

    def observe(self, packets: list[Packet]) -> list[tuple[float, str, str, tuple[str, ...]]]:
        out = []
        for p in packets:
            self.clock = max(self.clock, p.ts_us)
            t = self.clock
            if p.status != Status.OK or p.proto not in (PROTO_TCP, PROTO_UDP):
                continue
            pure_syn = p.proto == PROTO_TCP and (p.flags & (SYN | ACK)) == SYN
            stealth = p.proto == PROTO_TCP and (p.flags & (SYN | ACK | RST)) == 0  # FIN, NULL, Xmas scans
            answer = p.proto == PROTO_TCP and (p.flags & (SYN | ACK | RST)) == RST  # answers ACK/Maimon probes
            if pure_syn and self.s.syn_flood.enabled:
                out.extend(self._syn(p, t))
            if p.proto == PROTO_UDP:
                reply = self._udp_reply(p, t)
            if self.s.port_scan.enabled and (pure_syn or stealth or (p.proto == PROTO_UDP and not reply)):
                out.extend(self._scan(p, t, p.src, p.dst, p.dport))
            if self.s.port_scan.enabled and answer:  # a probe of its sender by its receiver
                out.extend(self._scan(p, t, p.dst, p.src, p.sport))
        return out

    def _udp_reply(self, p: Packet, t: int) -> bool:
        window = self._us(max(self.s.port_scan.window_secs, 0.1))
        back = self.udp_last.get((p.dst, p.dport, p.src, p.sport))
        self.udp_last[(p.src, p.sport, p.dst, p.dport)] = t
        same_endpoint = (p.src, p.sport) == (p.dst, p.dport)
        answered = back is not None and t - back <= window and not same_endpoint
        return answered or p.sport in self.service_ports

    def _syn(self, p: Packet, t: int):
        cfg = self.s.syn_flood
        key = (p.dst, p.dport)
        if self.syn_until.get(key, -(2**63)) > t:
            return []
        q = self.syn_q.setdefault(key, deque())
        q.append((t, p.src))
        window = self._us(max(cfg.window_secs, 0.1))
        while t - q[0][0] > window:
            q.popleft()
        sources = len({s for _, s in q})
        if len(q) >= cfg.syn_threshold and sources >= cfg.unique_src_threshold:
            self.syn_until[key] = t + self._us(max(cfg.cooldown_secs, 0.0))
            return [(p.ts_us / 1e6, "syn_flood",
                     f"SYN flood suspected: {len(q)} syns, {sources} sources to {_text(p.dst)}:{p.dport}",
                     (_endpoint(_text(p.dst), p.dport),))]
        return []

    def _scan(self, p: Packet, t: int, scanner: str, target: str, port: int):
        cfg = self.s.port_scan
        if self.scan_until.get(scanner, -(2**63)) > t:
            return []
        q = self.scan_q.setdefault(scanner, deque())
        q.append((t, target, port))
        window = self._us(max(cfg.window_secs, 0.1))
        while t - q[0][0] > window:
            q.popleft()
        ports = len({port for _, _, port in q})
        hosts = len({host for _, host, _ in q})
        if ports >= cfg.unique_ports_threshold or hosts >= cfg.unique_hosts_threshold:
            self.scan_until[scanner] = t + self._us(max(cfg.cooldown_secs, 0.0))
            return [(p.ts_us / 1e6, "port_scan",
                     f"Port scan suspected: {ports} ports, {hosts} hosts from {_text(scanner)}", (_text(scanner),))]
        return []


def random_source_flood(rng: np.random.Generator, start_us: int, count: int, rate: int,
                        target: int = 0x0A000001, port: int = 80, proto: int = PROTO_TCP) -> ParsedBatch:
    """`count` SYNs (or UDP packets) at `rate` per second to one IPv4 target from random IPv4 sources."""
    ts = start_us + np.sort(rng.integers(0, max(1, count * 1_000_000 // rate), count))
    zeros = np.zeros(count, dtype=np.int64)
    return ParsedBatch(
        ts_us=ts, wirelen=zeros + 60, caplen=zeros + 60, status=zeros.astype(np.uint8),
        ip_version=np.full(count, 4, np.uint8), ip_proto=np.full(count, proto, np.uint8),
        src_hi=zeros.astype(np.uint64), src_lo=rng.integers(1, 2**32, count).astype(np.uint64),
        dst_hi=zeros.astype(np.uint64), dst_lo=np.full(count, target, np.uint64),
        src_port=rng.integers(1024, 65536, count).astype(np.uint16), dst_port=np.full(count, port, np.uint16),
        has_l4=np.ones(count, dtype=bool), tcp_flags=np.full(count, SYN if proto == PROTO_TCP else 0, np.uint8),
        tcp_seq=zeros.astype(np.uint32), tcp_ack=zeros.astype(np.uint32), tcp_window=zeros.astype(np.uint16),
        payload_len=zeros, icmp_type=zeros.astype(np.uint8), icmp_code=zeros.astype(np.uint8),
        vlan_id=zeros.astype(np.uint16), l3_offset=zeros + 14, l4_offset=zeros + 34,
    )
