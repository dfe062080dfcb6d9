"""The engine in a child process, so the screen never stalls capture and vice versa.

`EngineProcess` implements `EngineLink` (messages.py): the UI polls it for snapshots and
sends it commands; nothing but those small picklable messages crosses the process boundary.
The child ignores the stop signals (the screen owns the keyboard and the run) and stops on a
Stop command, or when the screen's process is gone, after writing its exports.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from dataclasses import dataclass

from netscope.config import Config, ConfigError
from netscope.engine.messages import Command, FlowDetail, Stop
from netscope.engine.signals import ignore_stop_signals
from netscope.engine.snapshot import TickSnapshot

JOIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class EngineFinished:
    """Sent once the child has written its outputs: what was written, any warning or error."""

    written: tuple[tuple[str, str], ...]
    warning: str | None
    error: str | None


def _drain(commands: mp.Queue, parent: int) -> list[Command]:
    """The screen's commands; a Stop as well once the screen's process is gone (killed outright,
    it can send none), so an orphaned engine writes its exports and ends instead of capturing on."""
    out: list[Command] = []
    while True:
        try:
            out.append(commands.get_nowait())
        except queue.Empty:
            break
    if os.getppid() != parent:
        out.append(Stop())
    return out


def _engine_main(config: Config, commands: mp.Queue, events: mp.Queue) -> None:
    ignore_stop_signals()
    parent = os.getppid()
    from netscope.capture.errors import CaptureError
    from netscope.engine.outputs import OutputError
    from netscope.engine.runner import Runner
    from netscope.engine.session import build_engine, build_outputs, close_run, open_source

    written: list[tuple[str, str]] = []
    warning = error = None
    try:
        source = open_source(config)
    except CaptureError as exc:
        events.put(EngineFinished((), None, str(exc)))
        return
    try:
        engine = build_engine(config, source, keep_recent_packets=True, top_n=config.tui.top_n, second_history=True,
                              socket_owners=True, reverse_dns=config.tui.reverse_dns)
        outputs = build_outputs(config, source)
    except (CaptureError, ConfigError, OutputError) as exc:
        source.close()
        events.put(EngineFinished((), None, str(exc)))
        return
    stop = threading.Event()
    runner = Runner(engine, source, outputs, tick_s=config.tui.tick_ms / 1000,
                    replay_speed=config.tui.replay_speed, count=config.run.count, publish=events.put,
                    poll_commands=lambda: _drain(commands, parent), stop_event=stop,
                    live=not config.capture.read_pcap)
    try:
        result = runner.run()
        warning = result.warning
        runner.linger()
    except (CaptureError, OutputError) as exc:
        error = str(exc)
    except Exception as exc:  # a bug of ours: one line on the screen, exports still written below
        error = f"internal error: {type(exc).__name__}: {exc}"
    finally:
        written, closing_error = close_run(engine, outputs, source)
        error = "; ".join(message for message in (error, closing_error) if message) or None
        events.put(EngineFinished(tuple(written), warning, error))


class EngineProcess:
    """Starts the engine child; an EngineLink for the screen."""

    def __init__(self, config: Config) -> None:
        ctx = mp.get_context("fork")
        self._commands: mp.Queue = ctx.Queue()
        self._events: mp.Queue = ctx.Queue()
        self._process = ctx.Process(target=_engine_main, args=(config, self._commands, self._events),
                                    name="netscope-engine",
                                    daemon=not config.pipeline.enabled)  # daemons cannot fork workers
        self._process.start()
        self.finished: EngineFinished | None = None

    def poll(self) -> list[TickSnapshot | FlowDetail]:
        out: list[TickSnapshot | FlowDetail] = []
        while True:
            try:
                message = self._events.get_nowait()
            except queue.Empty:
                break
            if isinstance(message, EngineFinished):
                self.finished = message
            else:
                out.append(message)
        return out

    def send(self, command: Command) -> None:
        if self._process.is_alive():
            self._commands.put(command)

    @property
    def error(self) -> str | None:
        if self.finished is None and not self._process.is_alive():
            self.poll()
            if self.finished is None:
                return "the engine process ended unexpectedly"
        return self.finished.error if self.finished else None

    def close(self) -> EngineFinished | None:
        """Stop the child and wait for it to write its exports."""
        self.send(Stop())
        while self.finished is None and self._process.is_alive():
            try:
                message = self._events.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(message, EngineFinished):
                self.finished = message
        self._process.join(JOIN_TIMEOUT_S)
        if self._process.is_alive():
            self._process.terminate()
        if self.finished is None:
            self.poll()
        return self.finished
