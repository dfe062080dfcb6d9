"""TCP health per flow: RTT, retransmissions and out-of-order segments (reference §3.5, full mode).

Fed right after the flow tracker, a batch at a time: the tracker says which table row and
direction each packet went to and which packets started a new flow; TcpHealth keeps its
own numpy columns per row (tcp_state.FIELDS) and a pool of segments waiting for their
ACK, and walks each batch with array operations (tcp_walk, tcp_handshake, tcp_rtt).

Kept from the reference: RTT samples by sequence-end matching with up to 128 segments in
flight per direction, EWMA with α = 1/8, one estimator per flow fed by both directions,
wrap-aware sequence numbers. Deliberate differences: the minimum is the true minimum;
segments are classified with tshark's rules (tcp_walk.Walk.classify), because the
reference's "retransmission only if already acknowledged" rule counts every loss
recovery as out-of-order; the ACK state those rules use comes from packets with the
ACK flag. Added: the handshake RTT (tcp_handshake).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from netscope.analysis.tcp_grouped import group_starts
from netscope.analysis.tcp_handshake import settle_handshakes
from netscope.analysis.tcp_rtt import match_samples
from netscope.analysis.tcp_state import Columns, Inflight, InflightPool
from netscope.analysis.tcp_walk import BatchPackets, Walk
from netscope.flow.expired import ExpiredFlows
from netscope.flow.records import FlowColumns
from netscope.flow.tracker import BatchFlows
from netscope.parse.columns import PROTO_TCP, ParsedBatch

IP_VERSIONS = (4, 6)


@dataclass(frozen=True)
class TcpHealthSettings:
    """The reference's analysis switches; a disabled measure reads as 0 (counters) or null (RTT)."""

    rtt: bool = True
    retrans: bool = True
    out_of_order: bool = True
    # Keep the values of flows that leave the table until attach_expired reads them (set it
    # when expired flows are collected): a row may start a new flow before that happens.
    keep_expired: bool = False


class TcpHealth:
    """Per-flow TCP health next to a FlowTracker's tables."""

    def __init__(self, settings: TcpHealthSettings | None = None) -> None:
        self.settings = settings or TcpHealthSettings()
        self._tables = {version: _TableHealth(self.settings) for version in IP_VERSIONS}

    def observe(self, batch: ParsedBatch, flows: BatchFlows) -> None:
        """Account for `batch`, which the tracker has just observed (`flows` = tracker.last_batch)."""
        for version, table in self._tables.items():
            positions = np.flatnonzero(flows.ip_version == version)
            if positions.shape[0]:
                table.observe(batch, flows, positions)

    def columns_for(self, ip_version: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The health columns of live flows, as FlowColumns fields (NaN = null)."""
        values = Columns.fresh(rows.shape[0])
        for version, table in self._tables.items():
            mine = np.flatnonzero(ip_version == version)
            values.put(mine, table.current(rows[mine]))
        return self._export(values)

    def attach(self, flows: FlowColumns) -> FlowColumns:
        """`flows` (from the tracker: top, snapshot, lookup) with the health columns filled."""
        if flows.row is None:
            raise ValueError("flow columns without table rows: take them from the tracker")
        return replace(flows, **self.columns_for(flows.ip_version, flows.row))

    def attach_expired(self, expired: ExpiredFlows) -> ExpiredFlows:
        """Removed flows (tracker.take_expired) with their health columns; call once per take_expired."""
        flows = expired.flows
        if flows.row is None:
            raise ValueError("flow columns without table rows: take them from the tracker")
        values = Columns.fresh(flows.count)
        for version, table in self._tables.items():
            mine = np.flatnonzero(flows.ip_version == version)
            values.put(mine, table.departed(flows.row[mine], flows.first_us[mine]))
        return ExpiredFlows(replace(flows, **self._export(values)), expired.reason, expired.ts_us)

    def _export(self, values: Columns) -> dict[str, np.ndarray]:
        settings, count = self.settings, values.count
        measured = values.rtt_samples > 0

        def rtt(column: np.ndarray, present: np.ndarray) -> np.ndarray:
            if not settings.rtt:
                return np.full(count, np.nan)
            return np.where(present, column / 1000, np.nan)

        return {
            "retransmissions": values.retransmissions if settings.retrans else np.zeros(count, np.int64),
            "out_of_order": values.out_of_order if settings.out_of_order else np.zeros(count, np.int64),
            "rtt_last_ms": rtt(values.rtt_last_us, measured),
            "rtt_min_ms": rtt(values.rtt_min_us, measured),
            "rtt_ewma_ms": rtt(values.rtt_ewma_us, measured),
            "rtt_samples": values.rtt_samples if settings.rtt else np.zeros(count, np.int64),
            "rtt_handshake_ms": rtt(np.maximum(values.first_rtt_us, 0), values.has_first_rtt & values.handshake_full),
        }


class _TableHealth:
    """Health columns for the rows of one flow table (one IP version)."""

    def __init__(self, settings: TcpHealthSettings) -> None:
        self.settings = settings
        self.rows = Columns.fresh(1024)
        self.pool = InflightPool()
        self._retired_rows: list[np.ndarray] = []
        self._retired: list[Columns] = []

    def current(self, rows: np.ndarray) -> Columns:
        inside = rows < self.rows.count
        values = Columns.fresh(rows.shape[0])
        values.put(np.flatnonzero(inside), self.rows.take(rows[inside]))
        return values

    def observe(self, batch: ParsedBatch, flows: BatchFlows, positions: np.ndarray) -> None:
        order = np.argsort(flows.row[positions], kind="stable")
        positions = positions[order]
        rows = flows.row[positions]
        started = flows.started[positions]
        if int(rows[-1]) >= self.rows.count:
            self.rows = self.rows.grown(max(int(rows[-1]) + 1, 2 * self.rows.count))

        boundary = group_starts(rows) | started  # a group = one flow's packets in this batch
        group = np.cumsum(boundary) - 1
        heads = np.flatnonzero(boundary)
        group_row = rows[heads]
        row_first = group_starts(group_row)
        final = np.append(group_row[1:] != group_row[:-1], True)
        continuing = np.flatnonzero(row_first & ~started[heads])
        replaced = group_row[row_first & started[heads]]
        replaced = replaced[self.rows.live[replaced]]  # rows whose earlier flow is gone now
        self._retire(replaced, self.rows.take(replaced))

        carried = Columns.fresh(heads.shape[0])
        carried.put(continuing, self.rows.take(group_row[continuing]))
        waiting = self.pool.pop_rows(group_row[row_first])
        waiting = _rekeyed(waiting, group_row[continuing], continuing)

        state, pending = self._walk(batch, positions, group, heads.shape[0], flows, carried, waiting)
        keep = final[pending.key // 2]  # a flow that ended within the batch waits for nothing
        self.pool.add(Inflight(group_row[pending.key[keep] // 2] * 2 + pending.key[keep] % 2,
                               pending.seq_end[keep], pending.ts_us[keep]))
        first_seen = np.minimum.reduceat(batch.ts_us[positions], heads)
        state.first_us[:] = np.where(carried.live, np.minimum(carried.first_us, first_seen), first_seen)
        state.live[:] = True

        self._retire(group_row[~final], state.take(~final))
        self.rows.put(group_row[final], state.take(final))

    def _walk(self, batch: ParsedBatch, positions: np.ndarray, group: np.ndarray, groups: int,
              flows: BatchFlows, carried: Columns, waiting: Inflight) -> tuple[Columns, Inflight]:
        """Run the batch's TCP packets through the rules: the new state of every group, and
        the segments still waiting for an ACK (keyed group * 2 + direction)."""
        tcp = batch.ip_proto[positions] == PROTO_TCP
        if not tcp.any():
            return carried, Inflight.empty()
        at = positions[tcp]
        packets = BatchPackets(
            group=group[tcp], direction=(~flows.a_to_b[at]).astype(np.int64), ts_us=batch.ts_us[at],
            flags=batch.tcp_flags[at], seq=batch.tcp_seq[at].astype(np.int64),
            ack=batch.tcp_ack[at].astype(np.int64), window=batch.tcp_window[at].astype(np.int64),
            payload=batch.payload_len[at], groups=groups)
        walk = Walk(packets, carried)
        window_us = settle_handshakes(walk)
        retransmission, out_of_order = walk.classify(window_us)
        state = walk.state
        state.retransmissions[:] += np.bincount(packets.group[retransmission], minlength=groups)
        state.out_of_order[:] += np.bincount(packets.group[out_of_order], minlength=groups)
        pending = match_samples(walk, waiting) if self.settings.rtt else Inflight.empty()
        return state, pending

    # -- flows that left the table ------------------------------------------------------

    def _retire(self, rows: np.ndarray, values: Columns) -> None:
        if self.settings.keep_expired and rows.shape[0]:
            self._retired_rows.append(rows)
            self._retired.append(values)

    def departed(self, rows: np.ndarray, first_us: np.ndarray) -> Columns:
        """Values of removed flows, found by (row, first packet time): retired, or still in the row."""
        values = Columns.fresh(rows.shape[0])
        if self._retired_rows:
            kept_rows = np.concatenate(self._retired_rows)
            kept = Columns.concat(self._retired)
            match = _match_pairs(kept_rows, kept.first_us, rows, first_us)
            found = np.flatnonzero(match >= 0)
            values.put(found, kept.take(match[found]))
            unused = np.ones(kept_rows.shape[0], dtype=bool)
            unused[match[found]] = False
            self._retired_rows = [kept_rows[unused]] if unused.any() else []
            self._retired = [kept.take(unused)] if unused.any() else []
        else:
            match = np.full(rows.shape[0], -1)
        inside = (match < 0) & (rows < self.rows.count)
        inside[inside] = self.rows.live[rows[inside]] & (self.rows.first_us[rows[inside]] == first_us[inside])
        there = np.flatnonzero(inside)
        values.put(there, self.rows.take(rows[there]))
        self.rows.live[rows[there]] = False  # its flow is gone: nothing to retire at reuse
        return values


def _rekeyed(entries: Inflight, rows: np.ndarray, groups: np.ndarray) -> Inflight:
    """Entries keyed row * 2 + direction, kept for `rows` (sorted) and keyed group * 2 + direction."""
    if not rows.shape[0]:
        return Inflight.empty()
    row = entries.key // 2
    at = np.minimum(np.searchsorted(rows, row), rows.shape[0] - 1)
    keep = rows[at] == row
    kept = entries.take(keep)
    return Inflight(groups[at[keep]] * 2 + kept.key % 2, kept.seq_end, kept.ts_us)


def _match_pairs(keys_a: np.ndarray, keys_b: np.ndarray, query_a: np.ndarray, query_b: np.ndarray) -> np.ndarray:
    """Index of the (keys_a, keys_b) pair equal to each query pair; -1 if none."""
    pairs = np.concatenate([np.stack([keys_a, keys_b], axis=1), np.stack([query_a, query_b], axis=1)])
    _, ident = np.unique(pairs, axis=0, return_inverse=True)
    ident = ident.reshape(-1)
    lookup = np.full(int(ident.max()) + 1 if ident.shape[0] else 0, -1, dtype=np.int64)
    lookup[ident[: keys_a.shape[0]]] = np.arange(keys_a.shape[0])
    return lookup[ident[keys_a.shape[0]:]]
