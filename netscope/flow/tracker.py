"""Bidirectional TCP/UDP flow tracking, fed a parsed batch at a time (reference §3, §5).

Behaviour kept from the reference: the canonical key and direction, per-direction counts of
wire bytes, the TCP state names and transitions, the client from the first pure SYN,
timeouts strictly greater than the limit and at most one maintenance pass per second of
the clock in use. Deliberate differences (§12): `closed` needs a FIN from each side; time
only ever comes from packets (or the explicit clock given to expire_idle), never from the
wall clock behind the caller's back; `max_flows` holds on insert, not once a second;
first_us/last_us are the min/max packet time, so they cannot go backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.flow.expired import ExpiredFlows, ExpiredLog, ExpiryReason
from netscope.flow.hosts import HostColumns
from netscope.flow.keys import LAYOUTS, key_from_text
from netscope.flow.packets import FlowPackets
from netscope.flow.passes import PassClock, TimeoutPass
from netscope.flow.query import FlowQuery
from netscope.flow.records import FlowColumns
from netscope.flow.select import order
from netscope.flow.table import CHUNK, FREE_TIME, RANKINGS, FlowTable
from netscope.parse.columns import ParsedBatch

UNLIMITED_START_ROWS = 4096
MIN_ROWS = 1024


@dataclass(frozen=True)
class FlowSettings:
    timeout_s: float = 60.0  # <= 0 disables idle expiry
    max_flows: int = 100_000  # 0 = unlimited
    collect_expired: bool = False  # keep removed flows for take_expired (costs a gather per pass)


@dataclass(slots=True)
class BatchFlows:
    """Where each packet of the last observed batch went, for layers that keep per-flow data.

    Rows are per table: `ip_version` (4 or 6; 0 = not a TCP/UDP flow packet) says which.
    A row keeps its flow for the flow's lifetime and is then reused; `created` marks packets
    whose flow was new in this batch, which is when per-row data must be reset. `started`
    marks the first packet of each such flow: a row can end one flow and start another
    within a batch (expiry or eviction between two parts of it), and only `started` tells
    where. `packets_before` is how many packets the flow had before the part of the batch
    that counted this packet (a chunk of up to CHUNK packets): how old the flow is, for
    layers that only look at a flow's first packets.
    """

    ip_version: np.ndarray  # uint8
    row: np.ndarray  # int64, -1 when not a flow packet
    a_to_b: np.ndarray  # bool
    created: np.ndarray  # bool
    started: np.ndarray  # bool
    packets_before: np.ndarray  # int64, 0 when not a flow packet

    @staticmethod
    def empty(count: int) -> BatchFlows:
        return BatchFlows(np.zeros(count, np.uint8), np.full(count, -1, np.int64),
                          np.zeros(count, bool), np.zeros(count, bool), np.zeros(count, bool),
                          np.zeros(count, np.int64))


class FlowTracker:
    """Flow tables for IPv4 and IPv6 keys, their expiry, eviction and rankings."""

    def __init__(self, settings: FlowSettings) -> None:
        if settings.max_flows < 0:
            raise ValueError("max_flows must be >= 0 (0 = unlimited)")
        self.settings = settings
        limit = settings.max_flows
        v4_rows = max(MIN_ROWS, limit + limit // 4) if limit else UNLIMITED_START_ROWS
        # IPv6 is usually the minority: start it small, it grows by doubling when needed.
        self._tables = [FlowTable(LAYOUTS[0], v4_rows), FlowTable(LAYOUTS[1], max(MIN_ROWS, v4_rows // 8))]
        self._timeout_us = round(settings.timeout_s * 1e6) if settings.timeout_s > 0 else None
        self._pass_clock = PassClock()
        self._expired = ExpiredLog(self._tables[0].columns(np.empty(0, np.int64)))
        self.flows_seen = 0
        self.expired_count = 0
        self.evicted_count = 0
        self.last_batch = BatchFlows.empty(0)

    @property
    def active_flows(self) -> int:
        return sum(table.live for table in self._tables)

    # -- feeding ----------------------------------------------------------------------------

    def observe(self, batch: ParsedBatch, flow_mask: np.ndarray | None = None,
                passes: list[TimeoutPass] | None = None) -> None:
        """Count the batch's TCP/UDP packets into their flows, in packet order.

        `flow_mask` is `batch.flow_mask()` for a caller that already has it.

        Idle expiry runs where it would run packet by packet: after the first packet that
        is a second or more past the previous pass, with that packet's time as the clock.
        The batch is split at those packets, so a flow idle for longer than the timeout
        before a packet in the middle of a batch is expired and started afresh. A pass that
        provably expires nothing (every flow's last_us bounded below by the cutoff) and
        cannot be preceded by an eviction does not split the batch: every split costs a
        fixed set of numpy calls per table. `passes` replaces the tracker's own schedule: a
        pipeline shard runs those its reader scheduled over the whole capture.
        """
        flow_positions = np.flatnonzero(batch.flow_mask() if flow_mask is None else flow_mask)
        self.last_batch = BatchFlows.empty(batch.count)
        if self._timeout_us is None:
            passes = []
        elif passes is None:
            passes = self._pass_clock.passes(batch.ts_us)
        start = 0
        floor: int | None = None  # no live flow's last_us is below this once start..point is counted
        scanned = 0  # batch positions below this are in `floor`
        for point, now_us in passes:
            assert self._timeout_us is not None
            if floor is None:
                floor = self._oldest_last_us()
            floor = min(floor, self._earliest_packet(batch, flow_positions, scanned, point))
            scanned = point + 1
            if floor >= now_us - self._timeout_us and self._cannot_overflow(flow_positions, start, point):
                continue  # the pass would expire nothing: count on without splitting the batch here
            self._ingest(batch, flow_positions, start, point)
            self._timeout_pass(now_us)
            start = point + 1
            floor = None
        self._ingest(batch, flow_positions, start, batch.count - 1)

    def run_passes(self, clocks_us: list[int]) -> None:
        """Passes a pipeline's reader scheduled in a slot that holds none of this shard's packets."""
        if self._timeout_us is not None:
            for now_us in clocks_us:
                self._timeout_pass(now_us)

    def expire_idle(self, now_us: int) -> None:
        """Idle expiry against an explicit clock (e.g. wall clock while a live capture is idle)."""
        if self._timeout_us is not None and self._pass_clock.due(now_us):
            self._timeout_pass(now_us)

    def _oldest_last_us(self) -> int:
        """The smallest last_us of any live flow (free rows hold FREE_TIME, which is never smaller)."""
        return min((int(table.last_us[: table.hwm].min()) for table in self._tables if table.hwm),
                   default=FREE_TIME)

    @staticmethod
    def _earliest_packet(batch: ParsedBatch, flow_positions: np.ndarray, first: int, last: int) -> int:
        """The earliest time of the flow packets at batch positions first..last (FREE_TIME if none)."""
        lo, hi = np.searchsorted(flow_positions, [first, last + 1])
        return int(batch.ts_us[flow_positions[lo:hi]].min()) if hi > lo else FREE_TIME

    def _cannot_overflow(self, flow_positions: np.ndarray, first: int, last: int) -> bool:
        """Whether counting positions first..last cannot take the tracker past max_flows (so no eviction)."""
        if not self.settings.max_flows:
            return True
        lo, hi = np.searchsorted(flow_positions, [first, last + 1])
        return self.active_flows + int(hi - lo) <= self.settings.max_flows

    def _ingest(self, batch: ParsedBatch, flow_positions: np.ndarray, first: int, last: int) -> None:
        """Count the flow packets at batch positions first..last, then enforce max_flows."""
        lo, hi = np.searchsorted(flow_positions, [first, last + 1])
        updated: dict[int, list[np.ndarray]] = {table.layout.version: [] for table in self._tables}
        for start in range(lo, hi, CHUNK):
            positions = flow_positions[start : min(start + CHUNK, hi)]
            versions = batch.ip_version[positions]
            for table in self._tables:
                # Each table's packets are gathered straight from the batch: no second copy of a mixed chunk.
                mine = versions == table.layout.version
                if mine.all():
                    updated[table.layout.version].append(self._count_into(table, FlowPackets.gather(batch, positions)))
                elif mine.any():
                    updated[table.layout.version].append(
                        self._count_into(table, FlowPackets.gather(batch, positions[mine])))
        excess = self.active_flows - self.settings.max_flows
        if self.settings.max_flows and excess > 0 and hi > lo:
            protect = {version: np.concatenate(rows) if rows else np.empty(0, np.int64)
                       for version, rows in updated.items()}
            self._evict(excess, protect, int(batch.ts_us[flow_positions[lo:hi]].max()))

    def _count_into(self, table: FlowTable, packets: FlowPackets) -> np.ndarray:
        """Count packets of one IP version into `table`; returns their rows."""
        keys = table.layout.pack(packets.a_hi, packets.a_lo, packets.b_hi, packets.b_lo, packets.proto,
                                 packets.a_port, packets.b_port)
        table.reserve(packets.count)
        live_before = table.live
        rows = table.resolve(keys)
        created, starts, before = table.apply(rows, packets.a_to_b, packets.ts_us, packets.wirelen, packets.flags)
        self.flows_seen += table.live - live_before
        mapping = self.last_batch
        mapping.ip_version[packets.position] = table.layout.version
        mapping.row[packets.position] = rows
        mapping.a_to_b[packets.position] = packets.a_to_b
        mapping.created[packets.position] = created
        mapping.started[packets.position[starts]] = True
        mapping.packets_before[packets.position] = before
        return rows

    # -- removal ----------------------------------------------------------------------------

    def _timeout_pass(self, now_us: int) -> None:
        assert self._timeout_us is not None
        for table in self._tables:
            self._remove(table, table.idle_rows(now_us - self._timeout_us), ExpiryReason.TIMEOUT, now_us)

    def _evict(self, count: int, protect: dict[int, np.ndarray], now_us: int) -> None:
        """Remove the `count` least recently seen flows, `protect`ed ones only if unavoidable."""
        candidates = [table.oldest(count, protect[table.layout.version]) for table in self._tables]
        rank = np.concatenate([r for _, r in candidates])
        which = np.concatenate([np.full(rows.shape[0], i) for i, (rows, _) in enumerate(candidates)])
        rows = np.concatenate([rows for rows, _ in candidates])
        chosen = order([rank, which, rows])[:count]
        for i, table in enumerate(self._tables):
            self._remove(table, np.sort(rows[chosen][which[chosen] == i]), ExpiryReason.EVICTION, now_us)

    def _remove(self, table: FlowTable, rows: np.ndarray, reason: ExpiryReason, now_us: int) -> None:
        for start in range(0, rows.shape[0], CHUNK):
            chunk = rows[start : start + CHUNK]
            if self.settings.collect_expired:
                self._expired.add(table.columns(chunk), reason, now_us)
            table.release(chunk)
        if reason is ExpiryReason.TIMEOUT:
            self.expired_count += int(rows.shape[0])
        else:
            self.evicted_count += int(rows.shape[0])

    def take_expired(self) -> ExpiredFlows:
        """Flows removed since the last call (always empty unless collect_expired)."""
        return self._expired.take()

    # -- reading ----------------------------------------------------------------------------

    def end_tick(self) -> None:
        """Close the current tick: what each flow moved since becomes its tick_bytes/packets."""
        for table in self._tables:
            table.end_tick()

    def top(self, n: int, by: str = "rate", query: FlowQuery | None = None) -> FlowColumns:
        """The n leading flows, best first.

        rate: most bytes in the last completed tick; when fewer than n flows moved in it, the
        rest are the flows active most recently, so a quiet network still shows its flows
        instead of an empty table (the reference, too, takes the n largest deltas, zeros
        included). bytes, packets: largest totals; age: oldest first_us. Ties go to the older
        flow, then to the smaller key, so equal flows keep their places from one tick to the next.
        With a `query`, only the flows it matches are ranked.
        """
        if by not in RANKINGS:
            raise ValueError(f"unknown ranking {by!r}; expected one of {', '.join(RANKINGS)}")
        n = max(n, 0)
        best = _merge([table.top(n, by, query) for table in self._tables], by, n)
        if by != "rate" or best.count >= n or best.count >= self.active_flows:
            return best
        quiet = _merge([table.top(n - best.count, "quiet", query) for table in self._tables], "quiet", n - best.count)
        return _concat([best, quiet])

    def count(self, query: FlowQuery) -> int:
        """How many live flows `query` matches."""
        return sum(table.count(query) for table in self._tables)

    def hosts(self, query: FlowQuery | None = None) -> HostColumns:
        """Every address of the live flows `query` matches, with those flows summed (flow/hosts.py)."""
        return HostColumns.concat([table.hosts(query) for table in self._tables])  # tables share no address

    def snapshot(self) -> FlowColumns:
        """Every live flow, by bytes_total descending (stable ties as in top), for exports."""
        return _merge([table.ordered("bytes") for table in self._tables], "bytes")

    def lookup(self, key: tuple[str, str, int, str, int]) -> FlowColumns | None:
        """One flow by FlowRow.key, `(proto, a_ip, a_port, b_ip, b_port)`; None if not tracked."""
        parsed = key_from_text(*key)
        if parsed is None:
            return None
        layout, words = parsed
        table = self._table(layout.version)
        row = table.find(words)
        return table.columns(row) if row[0] >= 0 else None

    def _table(self, ip_version: int) -> FlowTable:
        return next(table for table in self._tables if table.layout.version == ip_version)


def _merge(parts: list[FlowColumns], by: str, limit: int | None = None) -> FlowColumns:
    """One ranking from per-table rankings (each already best first), cut to `limit`.

    Endpoints of IPv4 keys sort before IPv6 ones, so where two flows of different tables
    tie on (rank, first_us) the IPv4 table's comes first: a stable sort on those two
    columns over the tables' rows in table order is the whole merge. Columns are gathered
    one at a time so that a snapshot of many flows is not copied twice over.
    """
    nonempty = [part for part in parts if part.count] or parts[:1]
    if len(nonempty) == 1:
        merged = nonempty[0]
        return merged if limit is None or merged.count <= limit else merged.take(slice(0, limit))
    primary = np.concatenate([_primary(part, by) for part in nonempty])
    first = np.concatenate([part.first_us for part in nonempty])
    return _concat(nonempty, order([primary, first])[: limit])


def _concat(parts: list[FlowColumns], rows: np.ndarray | None = None) -> FlowColumns:
    """The parts' flows one after the other, or those at `rows` of that sequence."""
    columns = {}
    for name in FlowColumns.__slots__:
        values = [getattr(part, name) for part in parts]
        if any(v is None for v in values):
            columns[name] = None
        else:
            joined = np.concatenate(values)
            columns[name] = joined if rows is None else joined[rows]
    return FlowColumns(**columns)


def _primary(flows: FlowColumns, by: str) -> np.ndarray:
    """The rank FlowTable orders by, recomputed from columns: smaller is better."""
    if by == "age":
        return flows.first_us
    if by == "quiet":
        return -flows.last_us
    return -{"rate": flows.tick_bytes, "bytes": flows.bytes_total, "packets": flows.packets_total}[by]
