"""Reverse DNS for what a live screen shows: answered in the background, cached, never before passive names."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from netscope.analysis.names import FlowNames
from netscope.engine import reverse_dns
from netscope.engine.core import Engine, EngineSettings
from netscope.engine.reverse_dns import ReverseDns, getnameinfo_lookup
from netscope.engine.snapshot import SourceInfo
from tests.ui.fake_link import DNS, IPERF


def _eventually(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background lookup did not finish"
        time.sleep(0.01)


def test_an_address_is_named_from_the_tick_after_its_answer_and_a_slow_server_holds_nothing_up():
    release = threading.Event()
    asked: list[str] = []

    def slow_lookup(address: str) -> str | None:
        asked.append(address)
        release.wait(5)
        return {"10.88.0.2": "iperf.lab.test"}.get(address)

    resolver = ReverseDns(slow_lookup)
    started = time.monotonic()
    assert resolver.name("10.88.0.2") is None and resolver.name("10.88.0.1") is None
    assert time.monotonic() - started < 0.5  # nothing waited for the answer
    release.set()
    _eventually(lambda: resolver.name("10.88.0.2") == "iperf.lab.test")
    _eventually(lambda: "10.88.0.1" not in resolver._pending)
    assert resolver.name("10.88.0.1") is None
    assert sorted(asked) == ["10.88.0.1", "10.88.0.2"]  # each once: answers and failures are kept


def test_failures_are_asked_again_once_their_time_is_up():
    now = [0.0]
    asked: list[str] = []
    resolver = ReverseDns(lambda address: asked.append(address), clock=lambda: now[0])
    resolver.name("192.0.2.1")
    _eventually(lambda: not resolver._pending)
    now[0] = reverse_dns.FAILURE_TTL_S - 1
    resolver.name("192.0.2.1")
    now[0] = reverse_dns.FAILURE_TTL_S + 1
    resolver.name("192.0.2.1")
    _eventually(lambda: len(asked) == 2)


def test_at_most_max_pending_lookups_wait(monkeypatch):
    monkeypatch.setattr(reverse_dns, "MAX_PENDING", 3)
    release = threading.Event()
    resolver = ReverseDns(lambda address: release.wait(5) and None, workers=1)
    for last in range(10):
        resolver.name(f"10.0.0.{last}")
    assert len(resolver._pending) == 3
    release.set()


def test_passive_names_come_first_and_the_rest_is_filled():
    resolver = ReverseDns(lambda address: {"10.88.0.1": "client.lab", "10.88.0.2": "server.lab"}.get(address))
    for address in ("10.88.0.1", "10.88.0.2"):
        resolver.name(address)
    _eventually(lambda: not resolver._pending)
    passive = {IPERF.key: FlowNames(name_b="iperf.seen.on.the.wire")}
    filled = resolver.fill([IPERF, DNS], passive)
    assert filled[IPERF.key] == FlowNames(name_a="client.lab", name_b="iperf.seen.on.the.wire")
    assert (filled[DNS.key].name_a, filled[DNS.key].name_b) == ("client.lab", "server.lab")
    assert passive == {IPERF.key: FlowNames(name_b="iperf.seen.on.the.wire")}  # the tick's own names untouched


@pytest.mark.skipif("127.0.0.1 localhost" not in " ".join(Path("/etc/hosts").read_text().split()),
                    reason="needs the usual /etc/hosts entry")
def test_the_system_resolver_reads_the_hosts_file():
    assert getnameinfo_lookup("127.0.0.1") == "localhost"


@pytest.mark.parametrize(("kind", "wanted", "resolving"), [
    ("live", True, True), ("live", False, False), ("file", True, False)])
def test_only_a_live_capture_s_screen_resolves(kind: str, wanted: bool, resolving: bool):
    engine = Engine(EngineSettings(reverse_dns=wanted), SourceInfo(name="x", kind=kind, link="Ethernet"))
    assert (engine.extras is not None and engine.extras.reverse_dns is not None) == resolving
