"""Merging the shards' partial snapshots into the one snapshot screens and exports read.

Every flow lives on exactly one shard, so per-flow values are exact and merging is sums,
concatenation and a re-sort with the tracker's own tie rules (rank, then first_us, then the
canonical key), which makes the merged top-N and the merged export the rows one process
would have produced.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import fields

import numpy as np

from netscope.analysis.names import FlowNames, Named, NameObserver, NamesAnswer
from netscope.engine.snapshot import Totals
from netscope.flow.records import FlowColumns, FlowRow
from netscope.flow.select import order

_PROTO_NUMBERS = {"tcp": 6, "udp": 17}
_SUMMED = [f.name for f in fields(Totals) if f.name != "status_counts"]


def merge_totals(parts: list[Totals], **overrides: int) -> Totals:
    """Field-wise sums (status counts by label); `overrides` replace fields the reader knows itself."""
    status: dict[str, int] = {}
    for part in parts:
        for label, count in part.status_counts.items():
            status[label] = status.get(label, 0) + count
    values = {name: sum(getattr(part, name) for part in parts) for name in _SUMMED}
    values.update(overrides)
    return Totals(status_counts=status, **values)


def _row_order_key(row: FlowRow, by: str) -> tuple:
    """FlowTracker.top's order: by rate, the flows that did not move follow, latest active first."""
    a, b = ipaddress.ip_address(row.a_ip), ipaddress.ip_address(row.b_ip)
    primary = {"rate": -row.tick_bytes, "bytes": -row.bytes_total, "packets": -row.packets_total,
               "age": row.first_seen}[by]
    quiet = -row.last_seen if by == "rate" and not row.tick_bytes else 0.0
    return (primary, quiet, row.first_seen, a.version, int(a), int(b), _PROTO_NUMBERS.get(row.proto, 0),
            row.a_port, row.b_port)


def merge_top(parts: list[tuple[FlowRow, ...]], n: int, by: str) -> tuple[FlowRow, ...]:
    """The n best of the shards' top lists (each shard's rows are exact: its flows are its own)."""
    rows = [row for part in parts for row in part]
    return tuple(sorted(rows, key=lambda row: _row_order_key(row, by))[:n])


def merge_flow_tables(parts: list[FlowColumns]) -> FlowColumns:
    """All shards' flows by bytes_total descending, ties as FlowTracker.snapshot breaks them."""
    flows = FlowColumns.concat(parts)
    ranked = order([-flows.bytes_total, flows.first_us, flows.ip_version, flows.a_hi, flows.a_lo,
                    flows.b_hi, flows.b_lo, flows.proto, flows.a_port, flows.b_port])
    return flows.take(ranked)


def merge_table_names(answers: list[NamesAnswer], count: int) -> list[FlowNames | None]:
    """Each shard's answer about the same `count` flows, as one: a flow's SNI, Host and DNS
    question from the shard that saw them, each address's name from the latest answer any shard
    saw (the name one observer of the whole capture would hold)."""
    merged: list[FlowNames | None] = []
    for i in range(count):
        found = [answer[0][i] for answer in answers if answer[0][i] is not None]
        own = next((names for names in found if names.sni or names.http_host or names.dns_query), None)
        name_a, name_b = (_latest(answer[side][i] for answer in answers) for side in (1, 2))
        names = FlowNames(name_a, name_b, *((own.sni, own.http_host, own.dns_query) if own else ()))
        merged.append(None if names == FlowNames() else names)
    return merged


def merge_named(answers: list[list[Named | None]], count: int) -> list[str | None]:
    """Each shard's Named for the same `count` addresses, as one: the latest answer any shard saw."""
    return [_latest(answer[i] for answer in answers) for i in range(count)]


def _latest(candidates: Iterable[Named | None]) -> str | None:
    return max((named for named in candidates if named is not None), key=lambda named: named[1],
               default=(None, 0))[0]


class MergedNames:
    """The shards' name observers read as one, for exports and snapshot rows (merge_table_names)."""

    def __init__(self, observers: list[NameObserver]) -> None:
        self.observers = observers

    def name_for(self, ip: str) -> str | None:
        return _latest(named for o in self.observers for named in o.named([ip]))

    def flow_names(self, key: tuple[str, str, int, str, int]) -> FlowNames | None:
        return merge_table_names([o.answer_keys([key]) for o in self.observers], 1)[0]

    def table_names(self, flows: FlowColumns, a_ips: list[str], b_ips: list[str]) -> list[FlowNames | None]:
        """flow_names for every flow of a merged table (exports), each shard asked once for all."""
        return merge_table_names([o.answer(flows, a_ips, b_ips) for o in self.observers], flows.count)

    def names_for_flows(self, keys) -> dict[tuple, FlowNames]:
        return {key: names for key in keys if (names := self.flow_names(key)) is not None}


def empty_flows() -> FlowColumns:
    none = np.empty(0, np.int64)
    return FlowColumns(proto=none.astype(np.uint8), ip_version=none.astype(np.uint8), a_hi=none.astype(np.uint64),
                       a_lo=none.astype(np.uint64), b_hi=none.astype(np.uint64), b_lo=none.astype(np.uint64),
                       a_port=none.astype(np.uint16), b_port=none.astype(np.uint16), first_us=none, last_us=none,
                       packets_ab=none, packets_ba=none, bytes_ab=none, bytes_ba=none,
                       tcp_state=none.astype(np.uint8), client=none.astype(np.uint8), tick_packets=none,
                       tick_bytes=none)
