"""Port scan: one source reaching many ports or many hosts within a window (§4.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.analysis.alerts import Alert
from netscope.analysis.inputs import address_text, probe_answers, pure_syns, stealth_probes, udp_packets
from netscope.analysis.udp_replies import UdpReplies
from netscope.analysis.windows import SlidingWindows, WindowRule, check_spans, seconds_to_us
from netscope.parse.columns import ParsedBatch

KIND = "port_scan"

# Source ports of UDP services whose answers are not probes (see udp_replies.py): DNS, DHCP server,
# NTP, NetBIOS name/datagram, SNMP, QUIC, IKE, SSDP, STUN, IPsec NAT-T, mDNS, LLMNR.
UDP_SERVICE_PORTS = (53, 67, 123, 137, 138, 161, 443, 500, 1900, 3478, 4500, 5353, 5355)


@dataclass(frozen=True)
class PortScanSettings:
    """Defaults are the reference's (§1.3): 25 ports or 10 hosts within 10 s, then 30 s quiet."""

    enabled: bool = True
    window_secs: float = 10.0  # used as max(window, 0.1)
    unique_ports_threshold: int = 25
    unique_hosts_threshold: int = 10
    cooldown_secs: float = 30.0  # per source address, used as max(cooldown, 0)
    udp_service_ports: tuple[int, ...] = UDP_SERVICE_PORTS

    def __post_init__(self) -> None:
        check_spans("analysis.anomalies.port_scan", window_secs=self.window_secs, cooldown_secs=self.cooldown_secs)

    def rule(self) -> WindowRule:
        ports, hosts = self.unique_ports_threshold, self.unique_hosts_threshold
        return WindowRule(
            window_us=seconds_to_us(max(self.window_secs, 0.1)),
            cooldown_us=seconds_to_us(max(self.cooldown_secs, 0.0)),
            distinct=((2,), (0, 1)),  # destination port (across all hosts), destination address
            fires=lambda entries, distinct: (distinct[0] >= ports) | (distinct[1] >= hosts),
            counts_entries=False,
        )


class PortScanDetector:
    """Keyed by source (version, address); members are destination address and port.

    Counted: SYNs without ACK, FIN/NULL/Xmas probes (inputs.stealth_probes), UDP packets that
    are not replies (udp_replies.py), and, seen from the other side, RSTs without ACK
    (inputs.probe_answers): each counts as a probe of its sender by its receiver.
    """

    def __init__(self, settings: PortScanSettings) -> None:
        rule = settings.rule()
        self.windows = SlidingWindows(rule, key_width=3, member_columns=3)
        self.udp_replies = UdpReplies(rule.window_us, settings.udp_service_ports)

    def observe(self, batch: ParsedBatch, clock: np.ndarray) -> list[tuple[int, Alert]]:
        answers = probe_answers(batch)
        counted = pure_syns(batch) | stealth_probes(batch) | answers
        udp_rows = np.flatnonzero(udp_packets(batch))
        if udp_rows.size:
            counted[udp_rows] = ~self.udp_replies.replies(batch, udp_rows, clock)
        rows = np.flatnonzero(counted)
        answer = answers[rows]  # these rows count for their receiver, as probes of their sender

        def scanner_side(probe: np.ndarray, reply: np.ndarray) -> np.ndarray:
            return np.where(answer, reply[rows], probe[rows])

        keys = [scanner_side(batch.src_hi, batch.dst_hi), scanner_side(batch.src_lo, batch.dst_lo),
                batch.ip_version[rows]]
        members = [scanner_side(batch.dst_hi, batch.src_hi), scanner_side(batch.dst_lo, batch.src_lo),
                   scanner_side(batch.dst_port, batch.src_port)]
        firings = self.windows.observe(keys, clock[rows], members)
        alerts = []
        for at, ports, hosts in zip(firings.index, *firings.distinct, strict=True):
            row = int(rows[at])
            source = address_text(batch, row, "dst" if answer[at] else "src")
            description = f"Port scan suspected: {ports} ports, {hosts} hosts from {source}"
            alerts.append((row, Alert(int(batch.ts_us[row]) / 1e6, KIND, description, (source,))))
        return alerts

    def expire(self, now: int) -> None:
        self.windows.expire(now)
        self.udp_replies.expire(now)

    @property
    def tracked_keys(self) -> int:
        return self.windows.tracked_keys + self.udp_replies.tracked_flows
