"""A deterministic EngineLink double and the snapshots it serves.

Every time shown on screen comes from these snapshots (capture clock, wall time, first
and last seen), never from the real clock, so screenshots are stable.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import dpkt

from netscope.analysis.alerts import Alert
from netscope.analysis.names import FlowNames
from netscope.engine.messages import Command, FlowDetail, FlowKey, PacketRecord, RequestDetail
from netscope.engine.snapshot import SourceInfo, TickSnapshot, Totals
from netscope.flow.records import FlowRow

from . import packets

T0 = 1795408193.126096  # the bundled sample's first packet
WALL0 = 1_800_000_000.0
FILE_SOURCE = SourceInfo(name="/captures/sample.pcap", kind="file", link="Ethernet")
LIVE_SOURCE = SourceInfo(name="eth0", kind="live", link="Ethernet")
ETHERNET = 1


class FakeLink:
    """Serves queued messages; answers RequestDetail from a table of prepared details."""

    def __init__(self, messages=(), details: dict[FlowKey, FlowDetail] | None = None) -> None:
        self.queue: deque = deque(messages)
        self.details = details or {}
        self.sent: list[Command] = []
        self.closed = False
        self._error: str | None = None

    def poll(self) -> list:
        out = list(self.queue)
        self.queue.clear()
        return out

    def push(self, *messages) -> None:
        self.queue.extend(messages)

    def send(self, command: Command) -> None:
        self.sent.append(command)
        if isinstance(command, RequestDetail) and command.key in self.details:
            self.queue.append(self.details[command.key])

    def close(self) -> None:
        self.closed = True

    def fail(self, message: str) -> None:
        self._error = message

    @property
    def error(self) -> str | None:
        return self._error


def flow(proto: str, a: tuple[str, int], b: tuple[str, int], *, packets: tuple[int, int], size: tuple[int, int],
         first: float, last: float, state: str | None = "established", client: str | None = "a_to_b",
         tick_bytes: int = 0, **health: float | int | None) -> FlowRow:
    """A row as the engine sends it; `health` takes FlowRow's TCP health fields (rtt_ms, retransmissions...)."""
    return FlowRow(
        proto=proto, a_ip=a[0], a_port=a[1], b_ip=b[0], b_port=b[1], first_seen=T0 + first, last_seen=T0 + last,
        packets_ab=packets[0], packets_ba=packets[1], bytes_ab=size[0], bytes_ba=size[1],
        tcp_state=state if proto == "tcp" else None, client=client if proto == "tcp" else None,
        tick_bytes=tick_bytes, tick_packets=tick_bytes // 1000, rate_bps=tick_bytes * 8.0, **health,
    )


IPERF = flow("tcp", ("10.88.0.1", 39246), ("10.88.0.2", 5201), packets=(732, 449), size=(1_096_933, 29_642),
             first=2.805, last=3.809, tick_bytes=812_345, rtt_ms=0.42, rtt_last_ms=0.51, rtt_min_ms=0.08,
             rtt_samples=412, rtt_handshake_ms=0.11, retransmissions=3, out_of_order=1)
HTTP = flow("tcp", ("10.88.0.1", 51566), ("10.88.0.2", 8080), packets=(6, 6), size=(520, 2_874),
            first=0.0, last=0.02, state="closed", tick_bytes=0, rtt_ms=0.19, rtt_last_ms=0.2, rtt_min_ms=0.15,
            rtt_samples=5, rtt_handshake_ms=0.15, retransmissions=0, out_of_order=0)
DNS = flow("udp", ("10.88.0.1", 35122), ("10.88.0.2", 53), packets=(60, 60), size=(4_260, 9_180),
           first=5.2, last=5.26, tick_bytes=13_440)
TLS = flow("tcp", ("192.168.100.200", 50512), ("203.0.113.250", 443), packets=(14, 18), size=(2_310, 48_870),
           first=1.0, last=4.5, client="a_to_b", tick_bytes=40_960, rtt_ms=23.4, rtt_last_ms=25.1, rtt_min_ms=21.9,
           rtt_samples=17, rtt_handshake_ms=22.0, retransmissions=0, out_of_order=0)
IPV6 = flow("tcp", ("fd00:1234:5678:9abc::1", 443), ("fd00:1234:5678:9abc::2", 51000), packets=(3, 2),
            size=(222, 148), first=4.9, last=5.0, state="syn_ack", client="b_to_a", tick_bytes=370)
UDP_BULK = flow("udp", ("10.88.0.1", 38709), ("10.88.0.2", 5201), packets=(88, 1), size=(129_676, 46),
                first=3.81, last=4.81, tick_bytes=64_000)
RESET = flow("tcp", ("10.88.0.3", 40000), ("10.88.0.9", 22), packets=(2, 1), size=(120, 54),
             first=4.0, last=4.01, state="reset", tick_bytes=0)
SCAN = [flow("tcp", ("10.88.0.66", 61000 + i), ("10.88.0.2", 1000 + i), packets=(1, 1), size=(60, 54),
             first=3.0 + i / 100, last=3.0 + i / 100, state="reset", tick_bytes=0) for i in range(8)]
ROWS = (IPERF, UDP_BULK, TLS, DNS, IPV6, HTTP, RESET, *SCAN)

# What the engine's passive name observer would have for the scenario: a DNS answer named the
# iperf server, the TLS flow has only its SNI, the HTTP flow its Host, the DNS flow its question.
LAB_SERVER = "iperf.lab.test"
NAMES = {
    IPERF.key: FlowNames(name_b=LAB_SERVER),
    UDP_BULK.key: FlowNames(name_b=LAB_SERVER),
    TLS.key: FlowNames(sni="www.example.test"),
    HTTP.key: FlowNames(name_b=LAB_SERVER, http_host="example.test"),
    DNS.key: FlowNames(name_b=LAB_SERVER, dns_query="example.org"),
}


def snapshot(seq: int = 1, rows=ROWS, *, state: str = "replaying", speed: float = 1.0,
             source: SourceInfo = FILE_SOURCE, alerts: tuple[Alert, ...] = (), capture_s: float = 5.265829,
             progress: float | None = 0.62, interval_bytes: int = 981_115, interval_packets: int = 1_204,
             names: dict[FlowKey, FlowNames] | None = None, **totals: int) -> TickSnapshot:
    """One tick of the scenario; `seq` advances the wall clock by a second per tick."""
    base = dict(packets=3_413, bytes=1_532_296, flow_packets=3_386, active_flows=len(rows), flows_seen=165,
                alerts=len(alerts), kernel_received=3_413)
    base.update(totals)
    return TickSnapshot(
        seq=seq, wall_time=WALL0 + seq, capture_time=T0 + capture_s, interval_s=1.0, state=state, speed=speed,
        source=source, interval_packets=interval_packets, interval_bytes=interval_bytes, totals=Totals(**base),
        top_flows=tuple(rows), new_alerts=alerts, progress=progress if source.kind == "file" else None,
        flow_names={row.key: NAMES[row.key] for row in rows if row.key in NAMES} if names is None else names,
    )


def history(count: int = 40) -> list[TickSnapshot]:
    """A ramp-and-burst throughput pattern, so the sparklines have a recognisable shape."""
    out = []
    for i in range(1, count + 1):
        level = (i % 10) * 60_000 + (400_000 if 15 <= i <= 22 else 0)
        out.append(snapshot(i, interval_bytes=level, interval_packets=level // 800))
    return out


SCAN_ALERT = Alert(ts=T0 + 3.08, kind="port_scan",
                   description="Port scan detected: 10.88.0.66 probed 8 ports in 0.1s", hosts=("10.88.0.66",))


def detail_packets(key: FlowKey) -> tuple[PacketRecord, ...]:
    """Recent packets for a few of the scenario's flows, as the engine would keep them."""
    _, a_ip, a_port, b_ip, b_port = key
    t = T0 + 2.805
    if key == IPERF.key:
        frames = [
            packets.tcp(a_ip, a_port, b_ip, b_port, dpkt.tcp.TH_SYN, 1000),
            packets.tcp(b_ip, b_port, a_ip, a_port, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, 5000, 1001),
            packets.tcp(a_ip, a_port, b_ip, b_port, dpkt.tcp.TH_ACK, 1001, 5001),
            packets.tcp(a_ip, a_port, b_ip, b_port, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, 1001, 5001, b"x" * 200),
        ]
    elif key == TLS.key:
        frames = [packets.tcp(a_ip, a_port, b_ip, b_port, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, 77, 88,
                              packets.client_hello("www.example.test"))]
        t = T0 + 1.0
    elif key == HTTP.key:
        frames = [packets.tcp(a_ip, a_port, b_ip, b_port, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, 10, 20, packets.HTTP_GET)]
        t = T0
    elif key == DNS.key:
        frames = [packets.udp(a_ip, a_port, b_ip, b_port, packets.dns_query("example.org")),
                  packets.udp(b_ip, b_port, a_ip, a_port, packets.dns_answer("example.org", "93.184.215.14"))]
        t = T0 + 5.2
    else:
        frames = []
    return tuple(PacketRecord(ts=t + i * 0.000250, wirelen=len(f), linktype=ETHERNET, data=f[:512])
                 for i, f in enumerate(frames))


def details() -> dict[FlowKey, FlowDetail]:
    return {row.key: FlowDetail(key=row.key, flow=row, packets=detail_packets(row.key), names=NAMES.get(row.key))
            for row in ROWS}


def scenario(**snapshot_args) -> FakeLink:
    """The standard link: a minute of history, then the tick the tests look at."""
    ticks = history()
    last = snapshot(len(ticks) + 1, alerts=(SCAN_ALERT,), **snapshot_args)
    return FakeLink([*ticks, last], details())


def finished(rows=ROWS) -> TickSnapshot:
    """End of file: nothing moves any more, so every flow's tick bytes are zero."""
    still = tuple(replace(r, tick_bytes=0, tick_packets=0, rate_bps=0.0) for r in rows)
    return snapshot(99, still, state="finished", progress=1.0, interval_bytes=0, interval_packets=0)
