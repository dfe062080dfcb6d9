"""Flows summed by address: the screen's Hosts view and `--export-hosts`, as Wireshark's
Endpoints statistics and iftop's or bandwhich's per-host totals count them.

A flow counts toward both of its addresses: what endpoint A sent (`*_ab`) is A's transmit and
B's receive, and the reverse. A flow between two sockets of one address (127.0.0.1 to itself)
counts its packets twice for that address, once sent and once received, as Wireshark does, but
as one flow. Hosts are summed from the flows a table holds: a flow that expired or was evicted
takes its bytes with it, as with the flow list.

Sums are numpy groupings over whole columns; a host is never a Python object until a screen or
an export asks for rows.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from netscope.flow.records import HOST_RANKINGS, FlowColumns, HostRow, format_ips
from netscope.flow.select import order, smallest

# where each 16-bit digit of a uint64 lies among its four uint16s, by the machine's byte order
_DIGIT = {shift: shift // 16 if sys.byteorder == "little" else 3 - shift // 16 for shift in (0, 16, 32, 48)}
_COUNTS = ("flows", "tx_packets", "rx_packets", "tx_bytes", "rx_bytes", "tick_packets", "tick_bytes")


@dataclass(slots=True)
class HostColumns:
    """Hosts as numpy columns, one row per address (after `summed`) or per flow endpoint (before).

    Addresses are stored as flows store them: IPv4 in the low half with hi = 0.
    tick_* are what the host's flows moved, both ways, during the last completed tick.
    """

    ip_version: np.ndarray  # uint8
    hi: np.ndarray  # uint64
    lo: np.ndarray  # uint64
    flows: np.ndarray  # int64
    tx_packets: np.ndarray  # int64
    rx_packets: np.ndarray  # int64
    tx_bytes: np.ndarray  # int64
    rx_bytes: np.ndarray  # int64
    tick_packets: np.ndarray  # int64
    tick_bytes: np.ndarray  # int64

    @property
    def count(self) -> int:
        return int(self.ip_version.shape[0])

    @property
    def packets_total(self) -> np.ndarray:
        return self.tx_packets + self.rx_packets

    @property
    def bytes_total(self) -> np.ndarray:
        return self.tx_bytes + self.rx_bytes

    @staticmethod
    def empty() -> HostColumns:
        return HostColumns(np.empty(0, np.uint8), np.empty(0, np.uint64), np.empty(0, np.uint64),
                           *(np.empty(0, np.int64) for _ in _COUNTS))

    @staticmethod
    def of_flows(flows: FlowColumns) -> HostColumns:
        """The addresses of these flows, each with its flows summed."""
        return HostColumns.of_endpoints(flows.ip_version, flows.a_hi, flows.a_lo, flows.b_hi, flows.b_lo,
                                        flows.packets_ab, flows.packets_ba, flows.bytes_ab, flows.bytes_ba,
                                        flows.tick_packets, flows.tick_bytes)

    @staticmethod
    def of_endpoints(version: np.ndarray, a_hi: np.ndarray, a_lo: np.ndarray, b_hi: np.ndarray, b_lo: np.ndarray,
                     packets_ab: np.ndarray, packets_ba: np.ndarray, bytes_ab: np.ndarray, bytes_ba: np.ndarray,
                     tick_packets: np.ndarray, tick_bytes: np.ndarray) -> HostColumns:
        """Flow columns summed by address, one sum at a time: a million flows' two million
        endpoints are grouped once, never copied into ten host columns before summing."""
        if not version.shape[0]:
            return HostColumns.empty()
        both_version = np.concatenate([version, version])
        both_hi, both_lo = np.concatenate([a_hi, b_hi]), np.concatenate([a_lo, b_lo])
        order, starts = _group(both_version, both_hi, both_lo)
        first = order[starts]
        same = (a_hi == b_hi) & (a_lo == b_lo)

        def total(a_side: np.ndarray, b_side: np.ndarray) -> np.ndarray:
            # reduceat over the grouped values: integer sums (bincount's float weights round past 2**53)
            return np.add.reduceat(np.concatenate([a_side, b_side], dtype=np.int64)[order], starts)

        # a flow between two sockets of one address is one flow, and moved its tick's bytes once
        once = np.where(same, 0, 1)
        return HostColumns(
            ip_version=both_version[first], hi=both_hi[first], lo=both_lo[first],
            flows=total(np.ones(version.shape[0], np.int64), once),
            tx_packets=total(packets_ab, packets_ba), rx_packets=total(packets_ba, packets_ab),
            tx_bytes=total(bytes_ab, bytes_ba), rx_bytes=total(bytes_ba, bytes_ab),
            tick_packets=total(tick_packets, tick_packets * once), tick_bytes=total(tick_bytes, tick_bytes * once),
        )

    @staticmethod
    def concat(parts: list[HostColumns]) -> HostColumns:
        if not parts:
            return HostColumns.empty()
        return HostColumns(**{name: np.concatenate([getattr(part, name) for part in parts])
                              for name in HostColumns.__slots__})

    def summed(self) -> HostColumns:
        """One row per address, in address order: shards' or tables' hosts merged."""
        if not self.count:
            return self
        order, starts = _group(self.ip_version, self.hi, self.lo)
        first = order[starts]
        sums = {name: np.add.reduceat(getattr(self, name)[order], starts) for name in _COUNTS}
        return HostColumns(ip_version=self.ip_version[first], hi=self.hi[first], lo=self.lo[first], **sums)

    def top(self, n: int | None, by: str) -> HostColumns:
        """The n leading hosts (all for None), best first; ties go to the smaller address.

        By rate, hosts that moved nothing in the tick follow by total bytes, so a quiet network
        still lists its hosts.
        """
        if by not in HOST_RANKINGS:
            raise ValueError(f"unknown host ranking {by!r}; expected one of {', '.join(HOST_RANKINGS)}")
        primary = -{"rate": self.tick_bytes, "bytes": self.bytes_total, "packets": self.packets_total,
                    "flows": self.flows}[by]
        ties = [-self.bytes_total] if by == "rate" else []
        ties += [self.ip_version, self.hi, self.lo]
        chosen = np.arange(self.count) if n is None else smallest(n, primary, lambda picked: [t[picked] for t in ties])
        chosen = chosen[order([primary[chosen], *(t[chosen] for t in ties)])]
        return HostColumns(**{name: getattr(self, name)[chosen] for name in HostColumns.__slots__})

    def rows(self, tick_seconds: float = 1.0) -> list[HostRow]:
        """Python rows for screens and exports."""
        addresses = format_ips(self.ip_version, self.hi, self.lo)
        columns = [getattr(self, name).tolist() for name in _COUNTS]
        return [HostRow(address, version, *counts, rate_bps=counts[-1] * 8 / max(tick_seconds, 1e-3))
                for address, version, *counts in zip(addresses, self.ip_version.tolist(), *columns, strict=True)]


def _group(version: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): `order` sorts the addresses, equal ones together; `starts` are where
    each address begins in that order.

    A least-significant-digit radix sort over 16-bit digits (numpy sorts uint16 stably by
    radix) that skips every digit all addresses share: an IPv4 table sorts by two digits, a
    third of the time of one argsort of the 64-bit words.
    """
    order = np.arange(version.shape[0])
    # An IPv4 table's high halves are all 0 and its versions all 4; ::1 has a zero high half too,
    # so the version is a digit as soon as two versions meet.
    v6 = bool(hi.any()) or bool((version != version[0]).any())
    words = [lo, hi, version.astype(np.uint64)] if v6 else [lo]
    for word in words:
        for shift in (0, 16, 32, 48):
            # the 16-bit digit, read through a uint16 view of the word: no shifted copy
            digit = np.ascontiguousarray(word).view(np.uint16)[_DIGIT[shift] :: 4]
            if digit.shape[0] and digit.min() != digit.max():
                order = order[np.argsort(digit[order], kind="stable")]  # a 2-byte gather, not the word's
    sorted_lo = lo[order]
    changed = sorted_lo[1:] != sorted_lo[:-1]
    del sorted_lo
    if v6:
        changed |= (hi[order][1:] != hi[order][:-1]) | (version[order][1:] != version[order][:-1])
    return order, np.flatnonzero(np.concatenate([[True], changed]))
