"""One shard: a forked process that owns an Engine (flow tracker, names, recent packets).

A file worker takes its packets from the shared ring as the reader announces slots; a live
worker captures from its own handle in the kernel's fanout group. Both answer the same
requests on their pipe: a tick (its partial snapshot, expired flows and the anomaly
detector's input since the last tick), a flow lookup and a flow's recent packets for the
detail view, and finish (its whole flow table). Anomaly detection itself runs once, in the
reader (anomaly_input.py), so shards run no detector. Workers ignore the stop signals (Ctrl-C,
SIGTERM, SIGHUP): the reader decides when a run ends and tells them, so exports are never cut short.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from netscope.analysis.names import NameObserver
from netscope.capture.batch import RawBatch
from netscope.capture.errors import CaptureError
from netscope.engine.core import Engine
from netscope.engine.messages import FlowKey, PacketRecord
from netscope.engine.recent import RecentPackets
from netscope.engine.signals import ignore_stop_signals
from netscope.engine.snapshot import TickSnapshot
from netscope.flow.expired import ExpiredFlows
from netscope.flow.hosts import HostColumns
from netscope.flow.passes import TimeoutPass
from netscope.flow.query import FlowQuery
from netscope.flow.records import FlowColumns
from netscope.pipeline.anomaly_input import AnomalyInput, CandidateBuffer
from netscope.pipeline.ring import BatchRing


@dataclass(frozen=True)
class BatchReady:
    slot: int
    count: int
    sequence: int
    linktype: int
    first: int  # capture position of the slot's first packet: orders the anomaly input
    passes: tuple[TimeoutPass, ...] = ()  # the capture's timeout passes in the slot, at slot positions


@dataclass(frozen=True)
class ShardOptions:
    """What a shard keeps beyond flows; a live run's screen may ask for recent packets after start."""

    anomaly_input: bool  # collect the detector's input for the reader
    keep_recent: bool  # keep recent packets for the detail view


@dataclass(frozen=True)
class TickRequest:
    state: str
    top_n: int
    expire_now_us: int | None  # live: idle expiry against this clock first (files use packet time only)
    ranking: str = "rate"
    query: FlowQuery | None = None
    hosts_by: str | None = None  # the Hosts view is open: send every address of the shard's flows, summed
    capture_until_us: int | None = None  # live, finishing: the stop, the end of CaptureWindow


@dataclass(frozen=True)
class LookupRequest:
    key: FlowKey


@dataclass(frozen=True)
class RecentRequest:
    key: FlowKey


@dataclass(frozen=True)
class NamesRequest:
    """table_names for flows that left the shards' tables (the expired-flows JSONL during a run).

    Sent only to shards that observe names (PipelineEngine's shards_observe_names)."""

    flows: FlowColumns
    a_ips: list[str]
    b_ips: list[str]


@dataclass(frozen=True)
class RowNamesRequest:
    """flow_names for the merged top rows of a tick, which may be another shard's flows."""

    keys: tuple[FlowKey, ...]


@dataclass(frozen=True)
class AddressNamesRequest:
    """The Named each shard's observer holds for the merged Hosts view's addresses."""

    addresses: list[str]


@dataclass(frozen=True)
class FinishRequest:
    pass


@dataclass(frozen=True)
class WorkerTick:
    snapshot: TickSnapshot
    anomaly_input: AnomalyInput | None
    expired: ExpiredFlows | None
    last_packet_us: int | None
    hosts: HostColumns | None = None  # all of them: an address's flows may lie on several shards


@dataclass(frozen=True)
class WorkerFinal:
    flows: FlowColumns
    names: NameObserver | None


@dataclass(frozen=True)
class WorkerReady:
    linktype: int
    snaplen: int


@dataclass(frozen=True)
class CaptureFrom:
    """A live worker's go, sent once every worker has joined the fanout group: the start of its CaptureWindow."""
    start_us: int


class CaptureWindow:
    """The packets a live worker keeps: stamped from the common start to the common stop.

    Outside that time the fanout group's membership changes and a flow's packets can reach two
    shards: until its handle joins, a socket gets every packet; until the last joins, and once
    the first leaves at the end, the kernel hashes flows over fewer handles. One process counts
    nothing after its stop either.
    """

    def __init__(self, start_us: int) -> None:
        self.start_us: int | None = start_us
        self.until_us: int | None = None

    def within(self, raw: RawBatch) -> RawBatch:
        if self.until_us is not None:
            raw = raw.where(raw.ts_us <= self.until_us)
        if raw.count and self.start_us is not None:
            keep = raw.ts_us >= self.start_us
            if keep.all():
                self.start_us = None  # past the start (a packet stamped earlier would be a batch late)
            else:
                raw = raw.where(keep)
        return raw


@dataclass(frozen=True)
class WorkerFailed:
    error: str


class ShardWorker:
    """The request handling shared by file and live workers."""

    def __init__(self, engine: Engine, conn: Connection, options: ShardOptions) -> None:
        engine.detectors = []  # the reader runs the one detector
        self.engine = engine
        self.conn = conn
        self.candidates: CandidateBuffer | None = None
        self.finished = False
        self.apply(options)

    def apply(self, options: ShardOptions) -> None:
        if options.anomaly_input and self.candidates is None:
            self.candidates = CandidateBuffer()
        if options.keep_recent and self.engine.recent is None:
            self.engine.recent = RecentPackets()

    def process(self, raw: RawBatch, positions: np.ndarray | None, passes: list[TimeoutPass] | None = None,
                clock_us: np.ndarray | None = None) -> None:
        """Analyse a batch; `positions` are its packets' places in the capture (files).

        They order the anomaly input and the DNS answers that name addresses; live capture has
        none, and packet time orders both instead. `passes` are the reader's timeout passes at
        this batch's positions and `clock_us` the capture's clock at each packet, for the anomaly
        detector (files).
        """
        order = raw.ts_us if positions is None else positions
        parsed = self.engine.process(raw, passes, order)
        if self.candidates is not None:
            self.candidates.add(parsed, order, parsed.ts_us if clock_us is None else clock_us)

    def handle(self, request: object) -> None:
        engine = self.engine
        if isinstance(request, TickRequest):
            if request.expire_now_us is not None:
                engine.tracker.expire_idle(request.expire_now_us)
            snapshot = engine.tick(request.state, 1.0, [], top_n=request.top_n, ranking=request.ranking,
                                   query=request.query)
            expired = engine.take_expired() if engine.settings.flow.collect_expired else None
            candidates = self.candidates.take() if self.candidates is not None else None
            hosts = engine.tracker.hosts(request.query) if request.hosts_by else None
            self.conn.send(WorkerTick(snapshot, candidates, expired, engine.last_packet_us, hosts))
        elif isinstance(request, LookupRequest):
            self.conn.send(engine.lookup(request.key))
        elif isinstance(request, RecentRequest):
            records: tuple[PacketRecord, ...] = engine.recent.detail(request.key) if engine.recent else ()
            self.conn.send(records)
        elif isinstance(request, NamesRequest):
            self.conn.send(engine.names.answer(request.flows, request.a_ips, request.b_ips))
        elif isinstance(request, RowNamesRequest):
            self.conn.send(engine.names.answer_keys(list(request.keys)))
        elif isinstance(request, AddressNamesRequest):
            self.conn.send(engine.names.named(request.addresses))
        elif isinstance(request, ShardOptions):
            self.apply(request)
        elif isinstance(request, FinishRequest):
            self.conn.send(WorkerFinal(engine.flow_table(), engine.names))
            self.finished = True


def _guarded(conn: Connection, body: Callable[[], None]) -> None:
    ignore_stop_signals()
    try:
        body()
    except CaptureError as exc:  # already one line for the user (an interface that went down)
        with contextlib.suppress(OSError):
            conn.send(WorkerFailed(str(exc)))
    except Exception as exc:
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        with contextlib.suppress(OSError):
            conn.send(WorkerFailed(detail))


def _shard_passes(passes: tuple[TimeoutPass, ...], positions: np.ndarray) -> list[TimeoutPass]:
    """The slot's passes at the shard's own batch positions: after its last packet before each."""
    return [TimeoutPass(int(np.searchsorted(positions, due.after, side="right")) - 1, due.clock_us)
            for due in passes]


def file_worker_main(index: int, ring: BatchRing, conn: Connection, make_engine: Callable[[], Engine],
                     options: ShardOptions) -> None:
    def body() -> None:
        worker = ShardWorker(make_engine(), conn, options)
        while not worker.finished:
            try:
                request = conn.recv()
            except EOFError:
                return  # the reader is gone
            if isinstance(request, BatchReady):
                batch, positions = ring.batch_for(request.slot, request.count, index, request.linktype,
                                                  own_bytes=worker.engine.recent is not None)
                if batch.count:
                    clock = (ring.clock_for(request.slot, request.count, positions)
                             if worker.candidates is not None else None)
                    worker.process(batch, request.first + positions, _shard_passes(request.passes, positions), clock)
                elif request.passes:
                    worker.engine.tracker.run_passes([due.clock_us for due in request.passes])
                ring.mark_done(index, request.slot, request.sequence)
            else:
                worker.handle(request)

    _guarded(conn, body)


def live_worker_main(conn: Connection, open_capture: Callable[[], object], make_engine: Callable[[object], Engine],
                     budget, options: ShardOptions) -> None:
    """Capture and analyse until finished; `budget` (shared, -1 = unlimited) enforces -c across workers."""
    def body() -> None:
        source = open_capture()
        try:
            conn.send(WorkerReady(source.linktype, source.snaplen))
            go = conn.recv()
            if not isinstance(go, CaptureFrom):
                return  # the reader gave up on the start (another worker failed)
            window = CaptureWindow(go.start_us)
            worker = ShardWorker(make_engine(source), conn, options)

            def take(raw: RawBatch) -> None:
                raw = window.within(raw)
                if raw.count:
                    with budget.get_lock():
                        if budget.value >= 0:
                            allowed = min(budget.value, raw.count)
                            budget.value -= allowed
                            raw = raw.slice(0, allowed)
                if raw.count:
                    worker.engine.wirelen_estimated = source.wirelen_estimated
                    worker.process(raw, None)
                worker.engine.kernel_stats = source.stats()

            drained = False
            for raw in source.batches(lambda: worker.finished):
                take(raw)
                while not worker.finished and conn.poll():
                    request = conn.recv()
                    if isinstance(request, TickRequest) and request.state == "finished" and not drained:
                        drained = True  # the run stops: first keep what the kernel holds
                        window.until_us = request.capture_until_us
                        for held in source.drain():
                            take(held)
                    worker.handle(request)
        finally:
            source.close()

    _guarded(conn, body)


def wait_ready(conn: Connection, timeout_s: float) -> WorkerReady | WorkerFailed | None:
    """The first message of a live worker; None if it said nothing in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if conn.poll(0.05):
            try:
                return conn.recv()
            except EOFError:
                return WorkerFailed("the worker process ended before capturing")
    return None
