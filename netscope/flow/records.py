"""What the flow layer hands out: column snapshots for exports and small rows for screens."""

from __future__ import annotations

import ipaddress
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
    """Text form of an address stored as two big-endian 64-bit halves."""
    if version == 4:
        return str(ipaddress.IPv4Address(int(lo) & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((int(hi) << 64) | int(lo)))


@dataclass(slots=True)
class FlowColumns:
    """Flows as numpy columns, one row per flow: what exports and top-N read.

    Endpoint A is the smaller endpoint by (ip version, address, port), as in the reference
    (§3.2); "a_to_b" counters are for packets sent from A. Times are microseconds since the
    epoch. `tick_*` hold what the flow moved during the last completed tick (for rates).
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
        return FlowColumns(**{name: getattr(self, name)[index] for name in self.__slots__})

    @staticmethod
    def concat(parts: list[FlowColumns]) -> FlowColumns:
        return FlowColumns(
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name in FlowColumns.__slots__}
        )

    def rows(self, tick_seconds: float = 1.0) -> list[FlowRow]:
        """Python rows for screens and exports (per-flow Python work: keep it off the hot path)."""
        out = []
        for i in range(self.count):
            v = int(self.ip_version[i])
            out.append(
                FlowRow(
                    proto=PROTO_NAMES.get(int(self.proto[i]), str(int(self.proto[i]))),
                    a_ip=format_ip(v, self.a_hi[i], self.a_lo[i]),
                    a_port=int(self.a_port[i]),
                    b_ip=format_ip(v, self.b_hi[i], self.b_lo[i]),
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
                )
            )
        return out


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
