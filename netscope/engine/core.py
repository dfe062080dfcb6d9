"""The analysis state of one run: parse each batch once, update flows and detectors, count.

Engine knows nothing of where batches come from (runner.py) or who reads its snapshots
(ui, headless output); it turns batches into state and state into TickSnapshots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from netscope.analysis.alerts import Alert
from netscope.analysis.names import NameObserver
from netscope.analysis.tcp_health import TcpHealth, TcpHealthSettings
from netscope.capture.batch import RawBatch
from netscope.engine.hosts_view import host_view
from netscope.engine.live_screen import LiveScreenExtras
from netscope.engine.pacing import TickInterval
from netscope.engine.recent import RecentPackets
from netscope.engine.seconds import SecondCounter
from netscope.engine.snapshot import SourceInfo, TickSnapshot, Totals
from netscope.flow.expired import ExpiredFlows
from netscope.flow.passes import TimeoutPass
from netscope.flow.query import FlowQuery
from netscope.flow.records import FlowColumns
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import ERROR_STATUSES, STATUS_LABELS, ParsedBatch, Status


def tick_ranking(state: str, ranking: str) -> str:
    """The tracker ranking a tick reports: what the screen sorts by, except that once a replay
    has finished nothing moves any more, so by rate the heaviest flows of the capture are shown."""
    return "bytes" if state == "finished" and ranking == "rate" else ranking


@dataclass(frozen=True)
class EngineSettings:
    flow: FlowSettings = field(default_factory=FlowSettings)
    health: TcpHealthSettings | None = field(default_factory=TcpHealthSettings)  # None = scale mode
    top_n: int = 100
    keep_recent_packets: bool = False  # only screens with a detail view need raw packets kept
    second_history: bool = False  # a screen graphs a replay by capture second (engine/seconds.py)
    socket_owners: bool = False  # a screen names the local process of each live flow (capture/sockets.py)
    reverse_dns: bool = False  # a screen names a live capture's addresses by reverse DNS (reverse_dns.py)


class Engine:
    """Owns the tracker, the detectors and the run's counters."""

    def __init__(self, settings: EngineSettings, source: SourceInfo, detectors: list | None = None,
                 names: NameObserver | None = None) -> None:
        self.settings = settings
        self.source = source
        self.tracker = FlowTracker(settings.flow)
        self.detectors = detectors or []
        self.names = names
        self.health = TcpHealth(settings.health) if settings.health is not None else None
        self.recent = RecentPackets() if settings.keep_recent_packets else None
        self.seconds = SecondCounter() if settings.second_history and source.kind == "file" else None
        self.extras = LiveScreenExtras.for_source(source.kind, settings.socket_owners, settings.reverse_dns)
        self._status_counts = np.zeros(len(Status), dtype=np.int64)
        self._packets = 0
        self._bytes = 0
        self._flow_packets = 0
        self._alerts = 0
        self._interval_packets = 0
        self._interval_bytes = 0
        self._interval = TickInterval(capture_time=source.kind == "file")
        self._seq = 0
        self.last_packet_us: int | None = None
        self.wirelen_estimated = 0
        self.kernel_stats = (0, 0, 0)
        self.dispatch_dropped = 0
        self.pending_alerts: list[Alert] = []  # for the next snapshot
        self.unrecorded_alerts: list[Alert] = []  # for the alerts JSONL

    def process(self, raw: RawBatch, passes: list[TimeoutPass] | None = None,
                order: np.ndarray | None = None) -> ParsedBatch:
        """Account for one batch; returns the parsed columns for callers that want more.

        A pipeline shard, which sees part of a capture, passes the timeout passes its reader
        scheduled (FlowTracker.observe) and its packets' order in the whole capture
        (NameObserver.observe).
        """
        parsed = parse_batch(raw)
        self._status_counts += np.bincount(parsed.status, minlength=len(Status))[: len(Status)]
        wire_bytes = int(parsed.wirelen.sum())
        self._packets += parsed.count
        self._bytes += wire_bytes
        self._interval_packets += parsed.count
        self._interval_bytes += wire_bytes
        if parsed.count:
            self._interval.first_packet(int(parsed.ts_us.min()))
            self.last_packet_us = int(parsed.ts_us.max())
        for detector in self.detectors:
            alerts = detector.observe(parsed)
            if alerts:
                self._alerts += len(alerts)
                self.pending_alerts.extend(alerts)
                self.unrecorded_alerts.extend(alerts)
        flow_mask = parsed.flow_mask()
        self._flow_packets += int(np.count_nonzero(flow_mask))
        self.tracker.observe(parsed, flow_mask, passes)
        if self.health is not None:
            self.health.observe(parsed, self.tracker.last_batch)
        if self.names is not None:
            self.names.observe(raw, parsed, self.tracker.last_batch.packets_before, order)
        if self.recent is not None:
            self.recent.add(raw, parsed, flow_mask)
        if self.seconds is not None:
            self.seconds.add(parsed.ts_us, parsed.wirelen)
        return parsed

    def take_alerts(self) -> list[Alert]:
        alerts, self.pending_alerts = self.pending_alerts, []
        return alerts

    def totals(self) -> Totals:
        counts = {STATUS_LABELS[s]: int(self._status_counts[s]) for s in Status if self._status_counts[s]}
        received, dropped, if_dropped = self.kernel_stats
        return Totals(
            packets=self._packets,
            bytes=self._bytes,
            flow_packets=self._flow_packets,
            status_counts=counts,
            parse_errors=int(sum(self._status_counts[s] for s in ERROR_STATUSES)),
            wirelen_estimated=self.wirelen_estimated,
            active_flows=self.tracker.active_flows,
            flows_seen=self.tracker.flows_seen,
            flows_expired=self.tracker.expired_count,
            flows_evicted=self.tracker.evicted_count,
            alerts=self._alerts,
            kernel_received=received,
            kernel_dropped=dropped,
            if_dropped=if_dropped,
            dispatch_dropped=self.dispatch_dropped,
        )

    def tick(self, state: str, speed: float, new_alerts: list[Alert], progress: float | None = None,
             top_n: int | None = None, ranking: str = "rate", query: FlowQuery | None = None,
             hosts_by: str | None = None) -> TickSnapshot:
        """Close the current tick: roll per-flow tick counters and report the top flows by
        `ranking` (see tick_ranking) among those `query` matches; with `hosts_by`, the top
        addresses of those flows too (the Hosts view)."""
        interval = self._interval.close(self.last_packet_us)
        self.tracker.end_tick()
        n = self.settings.top_n if top_n is None else top_n
        top = self._with_health(self.tracker.top(n, by=tick_ranking(state, ranking), query=query)) if n else None
        rows = tuple(top.rows(interval)) if top is not None else ()
        names = self.names.names_for_flows(row.key for row in rows) if self.names is not None else {}
        if self.extras is not None:
            names = self.extras.names(rows, names)
        hosts = self.tracker.hosts(query) if hosts_by else None
        top_hosts, host_names = host_view(hosts, hosts_by, n, interval, self.address_names) if hosts else ((), {})
        self._seq += 1
        snapshot = TickSnapshot(
            seq=self._seq,
            wall_time=time.time(),
            capture_time=None if self.last_packet_us is None else self.last_packet_us / 1e6,
            interval_s=interval,
            state=state,
            speed=speed,
            source=self.source,
            interval_packets=self._interval_packets,
            interval_bytes=self._interval_bytes,
            totals=self.totals(),
            top_flows=rows,
            flow_names=names,
            flow_owners=self.extras.owners(rows) if self.extras is not None else {},
            new_alerts=tuple(new_alerts),
            progress=progress,
            matching_flows=self.tracker.count(query) if query and not query.partial else None,
            ranked_for=query.text if query is not None else "",
            capture_seconds=self.seconds.take(final=state == "finished") if self.seconds is not None else None,
            hosts_by=hosts_by, top_hosts=top_hosts, host_count=hosts.count if hosts else 0, host_names=host_names,
        )
        self._interval_packets = 0
        self._interval_bytes = 0
        return snapshot

    def address_names(self, addresses: list[str]) -> list[str | None]:
        """Names of addresses: the latest DNS answer seen for each, else live reverse DNS."""
        passive = [None if named is None else named[0] for named in self.names.named(addresses)] \
            if self.names is not None else [None] * len(addresses)
        return passive if self.extras is None else self.extras.address_names(addresses, passive)

    def _with_health(self, flows: FlowColumns) -> FlowColumns:
        return flows if self.health is None else self.health.attach(flows)

    def flow_table(self) -> FlowColumns:
        """Every live flow, sorted by bytes, with its TCP health: what the exports write."""
        return self._with_health(self.tracker.snapshot())

    def lookup(self, key: tuple[str, str, int, str, int]) -> FlowColumns | None:
        flows = self.tracker.lookup(key)
        return None if flows is None else self._with_health(flows)

    @property
    def names_now(self) -> NameObserver | None:
        """Where flow names are looked up during the run (a pipeline asks its shards)."""
        return self.names

    def take_expired(self) -> ExpiredFlows:
        """Flows that timed out or were evicted since the last call, with their TCP health."""
        expired = self.tracker.take_expired()
        return expired if self.health is None else self.health.attach_expired(expired)
