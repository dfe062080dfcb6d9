"""Merging the shards' partial snapshots into the one snapshot screens and exports read.

Every flow lives on exactly one shard, so per-flow values are exact and merging is sums,
concatenation and a re-sort with the tracker's own tie rules (rank, then first_us, then the
canonical key), which makes the merged top-N and the merged export the rows one process
would have produced.
"""

from __future__ import annotations

import ipaddress
from dataclasses import fields

import numpy as np

from netscope.analysis.names import FlowNames, NameObserver
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


def merge_table_names(answers: list[list[FlowNames | None]], count: int) -> list[FlowNames | None]:
    """Each shard's table_names for the same `count` flows, as one: a flow's SNI, Host and DNS
    question from the shard that saw them, each address's name from the first shard that knows it."""
    merged: list[FlowNames | None] = []
    for per_flow in zip(*answers, strict=True) if answers else [()] * count:
        found = [names for names in per_flow if names is not None]
        if not found:
            merged.append(None)
            continue
        own = next((names for names in found if names.sni or names.http_host or names.dns_query), found[0])
        name_a = next((names.name_a for names in found if names.name_a is not None), None)
        name_b = next((names.name_b for names in found if names.name_b is not None), None)
        merged.append(FlowNames(name_a, name_b, own.sni, own.http_host, own.dns_query))
    return merged


class MergedNames:
    """The shards' name observers read as one, for exports and snapshot rows.

    A flow's SNI, Host and DNS question are on the flow's shard; an address's DNS name may
    have been learned on any shard (the DNS flow's), so every shard is asked, first answer wins.
    """

    def __init__(self, observers: list[NameObserver]) -> None:
        self.observers = observers

    def name_for(self, ip: str) -> str | None:
        return next((name for o in self.observers if (name := o.name_for(ip)) is not None), None)

    def flow_names(self, key: tuple[str, str, int, str, int]) -> FlowNames | None:
        found = [names for o in self.observers if (names := o.flow_names(key)) is not None]
        if not found:
            return None
        own = next((names for names in found if names.sni or names.http_host or names.dns_query), found[0])
        return FlowNames(self.name_for(key[1]), self.name_for(key[3]), own.sni, own.http_host, own.dns_query)

    def table_names(self, flows: FlowColumns, a_ips: list[str], b_ips: list[str]) -> list[FlowNames | None]:
        """flow_names for every flow of a merged table (exports), each shard asked once for all."""
        return merge_table_names([o.table_names(flows, a_ips, b_ips) for o in self.observers], flows.count)

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
