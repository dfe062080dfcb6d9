"""The reader side of the pipeline: an Engine look-alike the Runner drives unchanged.

`PipelineEngine.process` routes a batch to the shards (files) and returns at once; `tick`
asks every worker for its partial snapshot, merges them and runs the one anomaly detector
over the shards' detector input; `flow_table` collects the workers' tables at the end.
Exactly the methods and attributes Runner and RunOutputs use are offered, so headless
output, the TUI and the exports need no pipeline-specific code.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterator

import numpy as np

from netscope.analysis.alerts import Alert
from netscope.analysis.names import FlowNames
from netscope.capture.batch import RawBatch
from netscope.capture.source import StopSignal, empty_batch, stop_check
from netscope.engine.core import Engine, tick_ranking
from netscope.engine.hosts_view import host_view
from netscope.engine.live_screen import LiveScreenExtras
from netscope.engine.messages import FlowKey, PacketRecord
from netscope.engine.pacing import TickInterval
from netscope.engine.seconds import SecondCounter
from netscope.engine.snapshot import SourceInfo, TickSnapshot, Totals
from netscope.flow.expired import ExpiredFlows
from netscope.flow.hosts import HostColumns
from netscope.flow.passes import PassClock, TimeoutPass
from netscope.flow.query import FlowQuery
from netscope.flow.records import FlowColumns, FlowRow
from netscope.pipeline.anomaly_input import CentralDetectors
from netscope.pipeline.merge import (
    MergedNames,
    empty_flows,
    merge_flow_tables,
    merge_named,
    merge_table_names,
    merge_top,
    merge_totals,
)
from netscope.pipeline.ring import BatchRing, RingLayout
from netscope.pipeline.routing import shard_ids
from netscope.pipeline.worker import (
    AddressNamesRequest,
    BatchReady,
    CaptureFrom,
    LookupRequest,
    NamesRequest,
    RecentRequest,
    RowNamesRequest,
    ShardOptions,
    TickRequest,
    WorkerFailed,
    WorkerFinal,
    WorkerReady,
    WorkerTick,
    file_worker_main,
    live_worker_main,
    wait_ready,
)
from netscope.pipeline.workers import PipelineError, Workers

RING_SLOTS = 4
SLOT_BYTES = 16 << 20
FREE_SLOT_POLL_S = 0.0002
READY_TIMEOUT_S = 10.0


class TrackerView:
    """What Runner and RunOutputs ask of `engine.tracker`, answered by the shards."""

    def __init__(self, engine: PipelineEngine) -> None:
        self._engine = engine
        self.expired: list[ExpiredFlows] = []
        self.expire_now_us: int | None = None

    def take_expired(self) -> ExpiredFlows:
        parts, self.expired = self.expired, []
        if not parts:
            return ExpiredFlows(empty_flows(), np.empty(0, np.uint8), np.empty(0, np.int64))
        return ExpiredFlows(FlowColumns.concat([p.flows for p in parts]), np.concatenate([p.reason for p in parts]),
                            np.concatenate([p.ts_us for p in parts]))

    def expire_idle(self, now_us: int) -> None:
        """Live idle expiry: passed to the workers with the next tick request."""
        self.expire_now_us = now_us

    def lookup(self, key: FlowKey) -> FlowColumns | None:
        return self._engine.lookup(key)


class ShardNames:
    """Names for flows the shards' observers still know, asked of every shard at once: what the
    expired-flows JSONL writes while the run goes on (at the end the shards hand their observers over)."""

    def __init__(self, workers: Workers) -> None:
        self._workers = workers

    def table_names(self, flows: FlowColumns, a_ips: list[str], b_ips: list[str]) -> list[FlowNames | None]:
        return merge_table_names(self._workers.ask_healthy(NamesRequest(flows, a_ips, b_ips)), flows.count)


class RecentView:
    """`engine.recent` for the detail view: the flow's shard answers with its recent packets."""

    def __init__(self, workers: Workers) -> None:
        self._workers = workers

    def detail(self, key: FlowKey) -> tuple[PacketRecord, ...]:
        if not self._workers.processes:
            return ()
        return next((records for records in self._workers.ask_all(RecentRequest(key)) if records), ())


class PipelineEngine:
    """Shards analysis over worker processes; the Runner drives it like an Engine."""

    def __init__(self, source_info: SourceInfo, make_engine: Callable[[], Engine], *, workers: int,
                 top_n: int, slot_packets: int, detectors: list | None = None, keep_recent: bool = False,
                 live: LivePipelineSource | None = None, second_history: bool = False,
                 shards_observe_names: bool = False, socket_owners: bool = False, reverse_dns: bool = False) -> None:
        self.source = source_info
        self.top_n = top_n
        self.tracker = TrackerView(self)
        self.anomalies = CentralDetectors(detectors or [])
        self.names: MergedNames | None = None  # the shards' observers, once they have handed them over
        self._shards_observe_names = shards_observe_names
        self.last_packet_us: int | None = None
        self.kernel_stats = (0, 0, 0)
        self.wirelen_estimated = 0
        self.dispatch_dropped = 0
        self.unrecorded_alerts: list[Alert] = []
        self._totals = Totals()
        self._seq = 0
        self._dispatched = 0
        self._failure_reported = False
        self._interval = TickInterval(capture_time=source_info.kind == "file")
        self._ring: BatchRing | None = None
        self._pass_clock = PassClock()  # files: idle expiry on the whole capture's clock, as one process
        self._detector_clock_us = np.iinfo(np.int64).min  # files: the latest packet time so far (ring.py)
        self.seconds = SecondCounter() if second_history and live is None else None  # the reader sees every packet
        self.extras = LiveScreenExtras.for_source(source_info.kind, socket_owners, reverse_dns)  # this namespace
        options = ShardOptions(anomaly_input=bool(detectors), keep_recent=keep_recent)
        if live is not None:
            self.workers = live.workers
            self._shards = len(live.workers.conns)
            if keep_recent:  # anomaly input was asked for when the workers started capturing
                for index in range(self._shards):
                    self.workers.send(index, options)
        else:
            self._shards = workers
            self._ring = BatchRing(RingLayout(RING_SLOTS, slot_packets, SLOT_BYTES, workers))
            self.workers = Workers()
            try:
                self.workers.start(file_worker_main, lambda i, conn: (i, self._ring, conn, make_engine, options),
                                   workers)
            except BaseException:
                self.close()
                raise
        self.recent = RecentView(self.workers) if keep_recent else None

    # -- dispatch (files) -----------------------------------------------------------------

    def process(self, raw: RawBatch) -> None:
        """Hand a batch to the shards. Files wait for a free slot (back-pressure, never a drop)."""
        if self._ring is None or not raw.count:
            return
        shards = shard_ids(raw, self._shards)
        passes = self._pass_clock.passes(raw.ts_us)
        clock = np.maximum.accumulate(np.maximum(raw.ts_us, self._detector_clock_us))
        self._detector_clock_us = int(clock[-1])
        start = 0
        while start < raw.count:
            slot = self._free_slot()
            stop = self._ring.piece_end(raw, start)
            count, sequence = self._ring.write(slot, raw, start, stop, shards, clock)
            present = np.bincount(shards[start:stop], minlength=self._shards)
            in_slot = tuple(TimeoutPass(due.after - start, due.clock_us) for due in passes if start <= due.after < stop)
            for worker in range(self._shards):
                if present[worker] or in_slot:  # a pass concerns every shard, with packets here or not
                    self.workers.send(worker, BatchReady(slot, count, sequence, raw.linktype, self._dispatched,
                                                         in_slot))
                else:
                    self._ring.mark_done(worker, slot, sequence)
            self._dispatched += count
            start = stop
        if self.seconds is not None:
            self.seconds.add(raw.ts_us, raw.wirelen)
        self._interval.first_packet(int(raw.ts_us.min()))
        self.last_packet_us = max(self.last_packet_us or 0, int(raw.ts_us.max()))

    def _free_slot(self) -> int:
        checked = time.monotonic()
        while (slot := self._ring.free_slot()) is None:
            time.sleep(FREE_SLOT_POLL_S)
            if time.monotonic() - checked > 1.0:
                self.workers.check_alive()
                checked = time.monotonic()
        return slot

    # -- ticks ----------------------------------------------------------------------------

    def take_alerts(self) -> list[Alert]:
        return []  # alerts arrive with the workers' ticks and go straight into the merged snapshot

    def tick(self, state: str, speed: float, new_alerts: list[Alert], progress: float | None = None,
             top_n: int | None = None, ranking: str = "rate", query: FlowQuery | None = None,
             hosts_by: str | None = None) -> TickSnapshot:
        n = self.top_n if top_n is None else top_n
        if not self.workers.processes:  # after finish: the last merged state, unchanged
            parts: list[WorkerTick] = []
        else:
            parts = self.workers.ask_all(TickRequest(state, n, self.tracker.expire_now_us, ranking, query, hosts_by,
                                                     self._capture_until(state)))
        return self._merge_tick(parts, state, speed, new_alerts, progress, n, ranking, query, hosts_by)

    def _capture_until(self, state: str) -> int | None:
        """Live workers' common stop (CaptureWindow), taken when the run finishes."""
        return time.time_ns() // 1000 if state == "finished" and self._ring is None else None

    def _merge_tick(self, parts: list[WorkerTick], state: str, speed: float, new_alerts: list[Alert],
                    progress: float | None, n: int, ranking: str = "rate",
                    query: FlowQuery | None = None, hosts_by: str | None = None) -> TickSnapshot:
        self.tracker.expire_now_us = None
        alerts = new_alerts + self.anomalies.observe([part.anomaly_input for part in parts])  # packet order
        self.unrecorded_alerts.extend(alerts)
        self.tracker.expired.extend(part.expired for part in parts if part.expired is not None)
        if parts:
            self._absorb_totals([part.snapshot.totals for part in parts])
            stamps = [part.last_packet_us for part in parts if part.last_packet_us is not None]
            if stamps:
                self.last_packet_us = max([*stamps, self.last_packet_us or 0])
        interval = self._interval.close(self.last_packet_us)
        top = merge_top([part.snapshot.top_flows for part in parts], n, tick_ranking(state, ranking)) if n else ()
        names = self._row_names(top)
        shard_hosts = [part.hosts for part in parts if part.hosts is not None]
        hosts = HostColumns.concat(shard_hosts).summed() if hosts_by and shard_hosts else None
        top_hosts, host_names = host_view(hosts, hosts_by, n, interval, self._address_names) if hosts else ((), {})
        self._seq += 1
        return TickSnapshot(
            seq=self._seq, wall_time=time.time(),
            capture_time=None if self.last_packet_us is None else self.last_packet_us / 1e6,
            interval_s=interval, state=state, speed=speed, source=self.source,
            interval_packets=sum(part.snapshot.interval_packets for part in parts),
            interval_bytes=sum(part.snapshot.interval_bytes for part in parts),
            totals=self._totals, top_flows=top,
            flow_names=names if self.extras is None else self.extras.names(top, names),
            flow_owners=self.extras.owners(top) if self.extras is not None else {},
            new_alerts=tuple(alerts), progress=progress, matching_flows=_sum_known(
                [part.snapshot.matching_flows for part in parts]),
            ranked_for=query.text if query is not None else "",
            capture_seconds=self.seconds.take(final=state == "finished") if self.seconds is not None else None,
            hosts_by=hosts_by if hosts else None, top_hosts=top_hosts, host_count=hosts.count if hosts else 0,
            host_names=host_names)

    def _row_names(self, top: tuple[FlowRow, ...]) -> dict[FlowKey, FlowNames]:
        """Names of the merged top rows, asked of every shard: a row's addresses may have been
        named by DNS answers another shard saw (its own tick named it from its own answers only)."""
        keys = tuple(row.key for row in top)
        if not keys or not self._shards_observe_names or not self.workers.processes:
            return {}
        answers = merge_table_names(self.workers.ask_healthy(RowNamesRequest(keys)), len(keys))
        return {key: names for key, names in zip(keys, answers, strict=True) if names is not None}

    def _address_names(self, addresses: list[str]) -> list[str | None]:
        """Names of the merged Hosts view's addresses, from whichever shard saw the latest answer."""
        passive: list[str | None] = [None] * len(addresses)
        if addresses and self._shards_observe_names and self.workers.processes:
            passive = merge_named(self.workers.ask_healthy(AddressNamesRequest(addresses)), len(addresses))
        return passive if self.extras is None else self.extras.address_names(addresses, passive)

    def _absorb_totals(self, parts: list[Totals]) -> None:
        overrides = {"dispatch_dropped": self.dispatch_dropped, "alerts": self.anomalies.raised}
        if self._ring is not None:
            overrides["wirelen_estimated"] = self.wirelen_estimated
        self._totals = merge_totals(parts, **overrides)
        merged = self._totals
        self.kernel_stats = (merged.kernel_received, merged.kernel_dropped, merged.if_dropped)

    def totals(self) -> Totals:
        return self._totals

    def take_expired(self) -> ExpiredFlows:
        return self.tracker.take_expired()

    @property
    def names_now(self) -> MergedNames | ShardNames | None:
        """Where flow names are looked up before the end of the run (Engine.names_now)."""
        if self.names is None and self._shards_observe_names and self.workers.processes:
            return ShardNames(self.workers)
        return self.names

    def lookup(self, key: FlowKey) -> FlowColumns | None:
        if not self.workers.processes:
            return None
        return next((found for found in self.workers.ask_all(LookupRequest(key)) if found is not None), None)

    # -- the end --------------------------------------------------------------------------

    def flow_table(self) -> FlowColumns:
        finals = self.finish()
        return merge_flow_tables([final.flows for final in finals]) if finals else empty_flows()

    def finish(self) -> list[WorkerFinal]:
        """Stop the workers after they hand over what is left and their tables and names; idempotent.

        A last tick first collects anomaly input and expired flows since the previous one (a
        run that ends on an error never had its final tick) and the final totals. A shard that
        failed, now or during the run, is left out; once the others have handed over, the
        first call raises its PipelineError so the run ends with that one-line error while
        what was merged is still exported.
        """
        try:
            if self.workers.processes:
                parts = self.workers.ask_healthy(TickRequest("finished", self.top_n, self.tracker.expire_now_us,
                                                             capture_until_us=self._capture_until("finished")))
                self._merge_tick(parts, "finished", 0.0, [], None, self.top_n)
            finals = self.workers.finish()
        finally:
            self.close()
        observers = [final.names for final in finals if final.names is not None]
        if observers and self.names is None:
            self.names = MergedNames(observers)
        if self.workers.failed and not self._failure_reported:
            self._failure_reported = True
            raise next(iter(self.workers.failed.values()))
        return finals

    def close(self) -> None:
        """Workers stopped and shared memory removed, whatever state the run ended in."""
        self.workers.stop()
        if self._ring is not None:
            self._ring.close()


class LivePipelineSource:
    """Live capture in the workers, one handle each in a kernel fanout group (capture/fanout.py).

    The reader captures nothing itself; to the Runner this source yields idle batches so its
    loop keeps ticking, and ends once a packet count (-c), shared by all workers, is used up.
    """

    def __init__(self, open_capture: Callable[[], object], make_engine: Callable[[object], Engine], workers: int,
                 count: int, timeout_ms: int, anomaly_input: bool) -> None:
        self.budget = mp.get_context("fork").Value("q", count if count > 0 else -1)
        self.timeout_s = timeout_ms / 1000
        self.workers = Workers()
        self.engine: PipelineEngine | None = None
        self.wirelen_estimated = 0
        options = ShardOptions(anomaly_input=anomaly_input, keep_recent=False)
        self.workers.start(live_worker_main, lambda _i, conn: (conn, open_capture, make_engine, self.budget, options),
                           workers)
        try:
            ready = [wait_ready(conn, READY_TIMEOUT_S) for conn in self.workers.conns]
            failed = next((r for r in ready if not isinstance(r, WorkerReady)), False)
            if failed is not False:
                raise PipelineError(failed.error if isinstance(failed, WorkerFailed) else
                                   "a pipeline worker did not open its capture in time")
            start_us = time.time_ns() // 1000  # all have joined; the kernel stamps packets on this clock
            for index in range(len(self.workers.conns)):
                self.workers.send(index, CaptureFrom(start_us))
        except BaseException:
            self.close()
            raise
        self.linktype = ready[0].linktype
        self.snaplen = ready[0].snaplen

    def batches(self, stop: StopSignal = None) -> Iterator[RawBatch]:
        should_stop = stop_check(stop)
        idle = empty_batch(self.linktype)
        while not should_stop() and self.budget.value != 0:
            time.sleep(self.timeout_s)
            yield idle

    def stats(self) -> tuple[int, int, int]:
        """The workers' libpcap counters summed, as of the last merged tick."""
        return self.engine.kernel_stats if self.engine is not None else (0, 0, 0)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        else:
            self.workers.stop()


def _sum_known(counts: list[int | None]) -> int | None:
    """The shards' counts added up; None when any shard could not count (or there are none)."""
    return sum(counts) if counts and None not in counts else None  # type: ignore[arg-type]
