"""The capture loop: pull batches from a source, pace replays, tick, obey commands, stop cleanly.

The same loop serves the headless CLI (in-process) and the TUI (inside the engine process);
the difference is only who receives the snapshots (`publish`) and who sends commands.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from netscope.capture.batch import RawBatch
from netscope.capture.errors import CaptureError
from netscope.capture.source import PacketSource
from netscope.engine.core import Engine
from netscope.engine.messages import (
    Command,
    FlowDetail,
    RequestDetail,
    SetFilter,
    SetHostView,
    SetPaused,
    SetRanking,
    SetSpeed,
    Stop,
)
from netscope.engine.outputs import OutputError, RunOutputs
from netscope.engine.pacing import ReplayClock
from netscope.engine.snapshot import TickSnapshot
from netscope.flow.query import FlowQuery, QueryError
from netscope.flow.records import HOST_RANKINGS
from netscope.flow.table import RANKINGS

Publish = Callable[[TickSnapshot | FlowDetail], None]
PollCommands = Callable[[], Iterable[Command]]

IDLE_STEP_S = 0.05  # longest sleep between command checks while paced or paused


@dataclass
class RunResult:
    packets: int
    stopped_early: bool  # count reached, Ctrl-C or a Stop command
    warning: str | None = None  # e.g. "file ends mid-record at byte N"


class Runner:
    """Runs one source through one engine until EOF, count, or stop."""

    def __init__(self, engine: Engine, source: PacketSource, outputs: RunOutputs, *, tick_s: float, replay_speed: float,
                 count: int = 0, publish: Publish | None = None, poll_commands: PollCommands | None = None,
                 stop_event: threading.Event | None = None, live: bool = False, hosts_by: str | None = None) -> None:
        self.engine = engine
        self.source = source
        self.outputs = outputs
        self.tick_s = tick_s
        self.clock = ReplayClock(0.0 if live else replay_speed)
        self.count = count
        self.publish = publish or (lambda _message: None)
        self.poll_commands = poll_commands or (lambda: ())
        self.stop_event = stop_event or threading.Event()
        self.live = live
        self.paused = False
        self.ranking = "rate"  # which flows each tick reports (SetRanking: the screen's sort)
        self.query = FlowQuery()  # ... among those the screen's filter matches (SetFilter)
        self.hosts_by = hosts_by  # the hosts' ranking, None while no one reads them (SetHostView, --top-hosts)
        self._next_tick = time.monotonic() + tick_s
        self._tick_span_s = tick_s  # what the last tick covered: a detail's rate is over it, as the rows' are
        self._seen = 0
        self._batch_progress = (0.0, 0.0, 1)  # source progress before/after the current batch, its size
        self._fed_in_batch = 0

    # -- commands and ticks -------------------------------------------------------------
    def _state(self) -> str:
        if self.live:
            return "live"
        return "paused" if self.paused else "replaying"

    def _handle_commands(self) -> None:
        for command in self.poll_commands():
            if isinstance(command, Stop):
                self.stop_event.set()
            elif isinstance(command, SetPaused) and not self.live:
                self.paused = command.paused
                if not self.paused:
                    self.clock.reanchor(self.engine.last_packet_us)
            elif isinstance(command, SetSpeed) and not self.live:
                self.clock.set_speed(command.speed, self.engine.last_packet_us)
            elif isinstance(command, SetRanking) and command.by in RANKINGS:
                self.ranking = command.by
            elif isinstance(command, SetHostView) and (command.by is None or command.by in HOST_RANKINGS):
                self.hosts_by = command.by
            elif isinstance(command, SetFilter):
                with contextlib.suppress(QueryError):  # the screen sends only filters it could parse
                    self.query = FlowQuery.parse(command.text)
            elif isinstance(command, RequestDetail):
                self.publish(self._detail(command))

    def _detail(self, request: RequestDetail) -> FlowDetail:
        flow = self.engine.lookup(request.key)
        rows = flow.rows(self._tick_span_s)[0] if flow is not None and flow.count else None
        packets = self.engine.recent.detail(request.key) if self.engine.recent is not None else ()
        names = self.engine.names.flow_names(request.key) if self.engine.names is not None else None
        return FlowDetail(key=request.key, flow=rows, packets=packets, names=names)

    def _tick(self, state: str | None = None) -> None:
        if self.live:
            self.engine.kernel_stats = self.source.stats()
            self.engine.tracker.expire_idle(int(time.time() * 1e6))
            self.outputs.record(self.engine)
        snapshot = self.engine.tick(state or self._state(), self.clock.speed if not self.live else 1.0,
                                    self.engine.take_alerts(), progress=self._progress(), ranking=self.ranking,
                                    query=self.query, hosts_by=self.hosts_by)
        self.publish(snapshot)
        self._tick_span_s = snapshot.interval_s
        self._next_tick = time.monotonic() + self.tick_s

    def _progress(self) -> float | None:
        """Share of the file replayed: the source reads a whole batch ahead, so interpolate within it."""
        before, after, size = self._batch_progress
        if getattr(self.source, "progress", None) is None:
            return None
        return before + (after - before) * min(self._fed_in_batch / max(size, 1), 1.0)

    def _service(self) -> None:
        """Commands and due ticks: called between slices and while waiting."""
        self._handle_commands()
        if time.monotonic() >= self._next_tick:
            self._tick()

    def _wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, staying responsive to commands, ticks and stop."""
        end = time.monotonic() + seconds
        while not self.stop_event.is_set():
            self._service()
            left = end - time.monotonic()
            if left <= 0:
                return
            self.stop_event.wait(min(left, IDLE_STEP_S, max(self._next_tick - time.monotonic(), 0.001)))

    # -- the loop -----------------------------------------------------------------------
    def _feed(self, raw: RawBatch) -> None:
        before = self._batch_progress[1]
        self._batch_progress = (before, getattr(self.source, "progress", None) or 0.0, raw.count)
        self._fed_in_batch = 0
        start = 0
        while start < raw.count and not self.stop_event.is_set():
            while self.paused and not self.stop_event.is_set():
                self._wait(IDLE_STEP_S)
            wait = self.clock.wait_s(int(raw.ts_us[start]))
            if wait > 0:
                self._wait(wait)
                continue  # speed or pause may have changed while waiting
            end = self.clock.slice_end(raw.ts_us, start)
            self._take(raw.slice(start, end))
            start = self._fed_in_batch = end
            self._service()

    def _take(self, piece: RawBatch) -> None:
        """Write, analyse and record one slice of packets."""
        try:
            self.outputs.write_packets(piece)
        except OutputError:
            self.engine.process(piece)  # the file could not take them, but they were captured
            raise
        self.engine.process(piece)
        self.outputs.record(self.engine)

    def run(self) -> RunResult:
        try:
            stopped = self._run_batches()
        except (CaptureError, OutputError):
            with contextlib.suppress(CaptureError, OutputError):
                self._tick("finished")  # the screen shows the flows as they were when it stopped
            raise
        if self.live:
            self.engine.kernel_stats = self.source.stats()
        self.outputs.record(self.engine)
        final_state = "finished" if not self.live or stopped else "live"
        self._tick("finished" if final_state == "finished" else None)
        return RunResult(self._seen, stopped, getattr(self.source, "warning", None))

    def _run_batches(self) -> bool:
        """Feed batches until the source ends (False) or the count, Ctrl-C or a Stop command ends the run (True)."""
        pending = None  # a batch read but not fed when the stop came
        for raw in self.source.batches(self.stop_event):
            self._service()
            if self.stop_event.is_set():
                pending = raw
                break
            raw, reached = self._within_count(raw)
            self._feed(raw)
            if reached:
                return True
            if self.stop_event.is_set():
                break
        if not self.stop_event.is_set():
            return False  # the source ended
        self._drain(pending)
        return True

    def _within_count(self, raw: RawBatch) -> tuple[RawBatch, bool]:
        """The part of `raw` the --count budget leaves, and whether the budget is now spent."""
        reached = bool(self.count) and self._seen + raw.count >= self.count
        if reached:
            raw = raw.slice(0, self.count - self._seen)
        self._seen += raw.count
        return raw, reached

    def _drain(self, pending: RawBatch | None) -> None:
        """A live capture that is stopped keeps what the kernel had captured: the batch already
        read and what its ring still holds (LiveSource.drain). A replay just stops."""
        drain = getattr(self.source, "drain", None) if self.live else None
        if drain is None:
            return
        for raw in itertools.chain([pending] if pending is not None else [], drain()):
            raw, reached = self._within_count(raw)
            if raw.count:
                self._take(raw)
            if reached:
                return

    def linger(self) -> None:
        """After the end of a replay keep answering the screen (details, stop) until told to stop."""
        while not self.stop_event.is_set():
            self._handle_commands()
            if time.monotonic() >= self._next_tick:
                self._tick("finished")
            self.stop_event.wait(IDLE_STEP_S)
