"""What the flow layer hands out: column snapshots for exports and small rows for screens."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class TcpState(IntEnum):
    """Connection state codes as stored in the table; names match the reference's strings."""

    UNKNOWN = 0
    SYN_SENT = 1
    SYN_ACK = 2
    ESTABLISHED = 3
    FIN_WAIT = 4
    CLOSED = 5
    RESET = 6
    NONE = 7  # UDP: no state

    @property
    def label(self) -> str | None:
        return None if self is TcpState.NONE else self.name.lower()


class Client(IntEnum):
    """Which endpoint sent the first pure SYN."""

    NONE = 0
    A_TO_B = 1
    B_TO_A = 2

    @property
    def label(self) -> str | None:
        return None if self is Client.NONE else self.name.lower()


PROTO_NAMES = {6: "tcp", 17: "udp"}


def format_ip(version: int, hi: int, lo: int) -> str:
    """Text form of one address stored as two big-endian 64-bit halves (alert text)."""
    return format_ips(np.array([version]), np.array([hi], np.uint64), np.array([lo], np.uint64))[0]


def format_ips(version: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> list[str]:
    """Text forms of address columns: IPv4 addresses are built from octet columns (ipaddress
    costs microseconds per address), each distinct IPv6 address is formatted once."""
    out = [""] * version.size
    v4 = np.flatnonzero(version == 4)
    if v4.size:
        word = lo[v4] & np.uint64(0xFFFFFFFF)
        octets = [((word >> np.uint64(shift)) & np.uint64(255)).tolist() for shift in (24, 16, 8, 0)]
        for i, a, b, c, d in zip(v4.tolist(), *octets, strict=True):
            out[i] = f"{a}.{b}.{c}.{d}"
    v6 = np.flatnonzero(version != 4)
    seen: dict[tuple[int, int], str] = {}
    for i, high, low in zip(v6.tolist(), hi[v6].tolist(), lo[v6].tolist(), strict=True):
        text = seen.get((high, low))
        if text is None:
            text = seen[(high, low)] = str(ipaddress.IPv6Address((high << 64) | low))
        out[i] = text
    return out


@dataclass(slots=True)
class FlowColumns:
    """Flows as numpy columns, one row per flow: what exports and top-N read.

    Endpoint A is the smaller endpoint by (ip version, address, port), as in the reference
    (§3.2); "a_to_b" counters are for packets sent from A. Times are microseconds since the
    epoch. `tick_*` hold what the flow moved during the last completed tick (for rates).

    The optional columns are None when nobody filled them: `row` comes from the flow table
    (per IP version, for layers that keep per-row data), the TCP health columns from
    netscope.analysis.tcp_health (NaN = no value, i.e. null in exports).
    """

    proto: np.ndarray  # uint8: 6 tcp, 17 udp
    ip_version: np.ndarray  # uint8: 4 or 6
    a_hi: np.ndarray  # uint64
    a_lo: np.ndarray  # uint64
    b_hi: np.ndarray  # uint64
    b_lo: np.ndarray  # uint64
    a_port: np.ndarray  # uint16
    b_port: np.ndarray  # uint16
    first_us: np.ndarray  # int64
    last_us: np.ndarray  # int64
    packets_ab: np.ndarray  # int64
    packets_ba: np.ndarray  # int64
    bytes_ab: np.ndarray  # int64
    bytes_ba: np.ndarray  # int64
    tcp_state: np.ndarray  # uint8, TcpState
    client: np.ndarray  # uint8, Client
    tick_packets: np.ndarray  # int64
    tick_bytes: np.ndarray  # int64
    row: np.ndarray | None = None  # int64, row in the flow table of the flow's IP version
    retransmissions: np.ndarray | None = None  # int64
    out_of_order: np.ndarray | None = None  # int64
    rtt_last_ms: np.ndarray | None = None  # float64
    rtt_min_ms: np.ndarray | None = None  # float64
    rtt_ewma_ms: np.ndarray | None = None  # float64
    rtt_samples: np.ndarray | None = None  # int64
    rtt_handshake_ms: np.ndarray | None = None  # float64

    @property
    def count(self) -> int:
        return int(self.proto.shape[0])

    @property
    def bytes_total(self) -> np.ndarray:
        return self.bytes_ab + self.bytes_ba

    @property
    def packets_total(self) -> np.ndarray:
        return self.packets_ab + self.packets_ba

    def take(self, index: np.ndarray) -> FlowColumns:
        return FlowColumns(**{name: None if (column := getattr(self, name)) is None else column[index]
                              for name in self.__slots__})

    @staticmethod
    def concat(parts: list[FlowColumns]) -> FlowColumns:
        """Parts stacked; an optional column survives only if every part has it."""
        columns = {}
        for name in FlowColumns.__slots__:
            values = [getattr(p, name) for p in parts]
            columns[name] = None if any(v is None for v in values) else np.concatenate(values)
        return FlowColumns(**columns)

    def rows(self, tick_seconds: float = 1.0) -> list[FlowRow]:
        """Python rows for screens and exports (per-flow Python work: keep it off the hot path)."""
        out = []
        health = {row_field: getattr(self, name) for name, row_field in _HEALTH_FIELDS.items()}
        a_ips = format_ips(self.ip_version, self.a_hi, self.a_lo)
        b_ips = format_ips(self.ip_version, self.b_hi, self.b_lo)
        for i in range(self.count):
            proto = PROTO_NAMES.get(int(self.proto[i]), str(int(self.proto[i])))
            out.append(
                FlowRow(
                    proto=proto,
                    a_ip=a_ips[i],
                    a_port=int(self.a_port[i]),
                    b_ip=b_ips[i],
                    b_port=int(self.b_port[i]),
                    first_seen=int(self.first_us[i]) / 1e6,
                    last_seen=int(self.last_us[i]) / 1e6,
                    packets_ab=int(self.packets_ab[i]),
                    packets_ba=int(self.packets_ba[i]),
                    bytes_ab=int(self.bytes_ab[i]),
                    bytes_ba=int(self.bytes_ba[i]),
                    tcp_state=TcpState(int(self.tcp_state[i])).label,
                    client=Client(int(self.client[i])).label,
                    tick_bytes=int(self.tick_bytes[i]),
                    tick_packets=int(self.tick_packets[i]),
                    rate_bps=int(self.tick_bytes[i]) * 8 / max(tick_seconds, 1e-3),
                    # TCP health is measured for TCP only: other flows carry "not measured", as in exports
                    **({field: _python_value(column[i]) for field, column in health.items() if column is not None}
                       if proto == "tcp" else {}),
                )
            )
        return out


def _python_value(value: np.generic) -> int | float | None:
    """A numpy scalar as int, float, or None for NaN (no measurement)."""
    plain = value.item()
    return None if isinstance(plain, float) and math.isnan(plain) else plain


# FlowColumns health columns that FlowRow carries too (FlowRow.rtt_ms is the EWMA).
_HEALTH_FIELDS = {"retransmissions": "retransmissions", "out_of_order": "out_of_order", "rtt_ewma_ms": "rtt_ms",
                  "rtt_min_ms": "rtt_min_ms", "rtt_last_ms": "rtt_last_ms", "rtt_samples": "rtt_samples",
                  "rtt_handshake_ms": "rtt_handshake_ms"}


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One flow as plain Python values: picklable, cheap to send to the UI process."""

    proto: str
    a_ip: str
    a_port: int
    b_ip: str
    b_port: int
    first_seen: float
    last_seen: float
    packets_ab: int
    packets_ba: int
    bytes_ab: int
    bytes_ba: int
    tcp_state: str | None
    client: str | None
    tick_bytes: int = 0
    tick_packets: int = 0
    rate_bps: float = 0.0
    # TCP health (None: not measured, or no sample yet); rtt_ms is the smoothed RTT (EWMA)
    retransmissions: int | None = None
    out_of_order: int | None = None
    rtt_ms: float | None = None
    rtt_min_ms: float | None = None
    rtt_last_ms: float | None = None
    rtt_samples: int | None = None
    rtt_handshake_ms: float | None = None

    @property
    def key(self) -> tuple[str, str, int, str, int]:
        """Identity that survives ticks: the canonical key, so a UI cursor can follow a flow."""
        return (self.proto, self.a_ip, self.a_port, self.b_ip, self.b_port)

    @property
    def packets_total(self) -> int:
        return self.packets_ab + self.packets_ba

    @property
    def bytes_total(self) -> int:
        return self.bytes_ab + self.bytes_ba

    @property
    def duration(self) -> float:
        return max(0.0, self.last_seen - self.first_seen)


HOST_RANKINGS = ("rate", "bytes", "packets", "flows")  # how the Hosts view ranks (flow/hosts.py)


@dataclass(frozen=True, slots=True)
class HostRow:
    """One address's totals as plain Python values: picklable, cheap to send to the UI process."""

    address: str
    ip_version: int
    flows: int
    tx_packets: int
    rx_packets: int
    tx_bytes: int
    rx_bytes: int
    tick_packets: int = 0
    tick_bytes: int = 0
    rate_bps: float = 0.0

    @property
    def packets_total(self) -> int:
        return self.tx_packets + self.rx_packets

    @property
    def bytes_total(self) -> int:
        return self.tx_bytes + self.rx_bytes
