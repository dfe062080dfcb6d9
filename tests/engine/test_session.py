"""Setting up a run: failures found only then still come out as one line naming their cause."""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from netscope.config import Config, ConfigError
from netscope.engine import core, session
from netscope.engine.messages import SetPaused, Stop
from netscope.engine.process import EngineFinished, _drain, _engine_main


class _Unreservable:
    """Stands in for a flow tracker whose tables the kernel refuses to reserve."""

    def __init__(self, *_args: object) -> None:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")


def test_a_flow_table_too_big_to_reserve_names_max_flows(sample_pcap: Path, monkeypatch) -> None:
    monkeypatch.setattr(core, "FlowTracker", _Unreservable)
    config = Config().replace("capture", read_pcap=str(sample_pcap)).replace("flow", max_flows=1 << 30)
    source = session.open_source(config)
    try:
        with pytest.raises(ConfigError) as err:
            session.build_engine(config, source, keep_recent_packets=False, top_n=0)
    finally:
        source.close()
    assert str(err.value).startswith("flow.max_flows = 1,073,741,824 needs more memory than this machine")


def test_other_os_errors_are_not_taken_for_memory(sample_pcap: Path, monkeypatch) -> None:
    def broken(*_args: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(core, "FlowTracker", broken)
    config = Config().replace("capture", read_pcap=str(sample_pcap))
    source = session.open_source(config)
    try:
        with pytest.raises(OSError, match="I/O error"):
            session.build_engine(config, source, keep_recent_packets=False, top_n=0)
    finally:
        source.close()


def test_the_screens_engine_reports_a_setup_failure_as_its_one_line_error(sample_pcap: Path, monkeypatch) -> None:
    """The TUI's engine child sends the message instead of dying with a traceback on the terminal."""
    monkeypatch.setattr(core, "FlowTracker", _Unreservable)
    config = Config().replace("capture", read_pcap=str(sample_pcap))
    ctx = mp.get_context("fork")
    commands, events = ctx.Queue(), ctx.Queue()
    handler = signal.getsignal(signal.SIGINT)
    try:
        _engine_main(config, commands, events)  # in this process: the child's body, run directly
    finally:
        signal.signal(signal.SIGINT, handler)  # the child's body ignores Ctrl-C
    finished = events.get(timeout=10)
    assert isinstance(finished, EngineFinished) and finished.written == ()
    assert finished.error is not None and finished.error.startswith("flow.max_flows = 100,000 needs more memory")


def test_an_engine_whose_screen_is_gone_is_told_to_stop() -> None:
    """A screen killed outright sends no Stop; its engine, now some other process's child, stops itself."""
    commands = mp.get_context("fork").Queue()
    commands.put(SetPaused(True))
    pause = _drain_when_ready(commands, os.getppid())
    assert pause == [SetPaused(True)]
    assert _drain(commands, os.getppid()) == []
    assert _drain(commands, parent=-1) == [Stop()]  # not our parent any more


def _drain_when_ready(commands, parent: int) -> list:
    for _ in range(100):  # a queue's put reaches get_nowait through a feeder thread
        got = _drain(commands, parent)
        if got:
            return got
        time.sleep(0.01)
    return []


def test_a_live_source_is_opened_with_the_monitor_snaplen_unless_packets_are_written(require_root,
                                                                                     tmp_path: Path) -> None:
    live = Config().replace("capture", interface="lo")
    source = session.open_source(live)
    try:
        assert source.snaplen == 4096
    finally:
        source.close()
    source = session.open_source(live.replace("output", write_pcap=str(tmp_path / "out.pcap")))
    try:
        assert source.snaplen == 65535
    finally:
        source.close()
