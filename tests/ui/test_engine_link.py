"""Pilot tests through the real engine process, replaying the bundled sample and a kept nmap scan."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from textual.widgets import Static

import netscope
from netscope.config import Config
from netscope.engine.process import EngineProcess
from netscope.ui.alerts import AlertsPane
from netscope.ui.app import NetscopeApp
from netscope.ui.detail import FlowDetailScreen, FlowSummary
from netscope.ui.flows_table import SortKey
from netscope.ui.formatting import clock

SAMPLE = Path(netscope.__file__).parent / "data" / "sample.pcap"
NMAP = Path(__file__).resolve().parent.parent / "data" / "anomaly-nmap-syn-scan.pcap"  # -sS -p 1-200 from 10.77.0.1
BUSIEST = ("tcp", "10.88.0.1", 39246, "10.88.0.2", 5201)
IPERF_UDP = ("udp", "10.88.0.1", 38709, "10.88.0.2", 5201)  # the second heaviest
WAIT_STEPS = 400  # bounded waits: 400 × 50 ms


def config(speed: float, capture: Path = SAMPLE) -> Config:
    return Config().replace("capture", read_pcap=str(capture)).replace("tui", replay_speed=speed, tick_ms=100)


def with_anomalies(cfg: Config) -> Config:
    return cfg.replace("analysis", anomalies=dataclasses.replace(cfg.analysis.anomalies, enabled=True))


async def wait_for(pilot, condition) -> None:
    for _ in range(WAIT_STEPS):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached while the engine ran")


def drive(speed: float, test, cfg: Config | None = None) -> None:
    cfg = cfg or config(speed)
    link = EngineProcess(cfg)
    app = NetscopeApp(link, cfg.tui)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await test(pilot, app)

    try:
        asyncio.run(main())
    finally:
        finished = link.close()
    assert finished is not None and finished.error is None


def test_replay_as_fast_as_possible_ends_finished_with_the_busiest_flow_on_top():
    async def check(pilot, app):
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.state == "finished")
        await pilot.pause(0.1)
        assert app.main.table.sort_key is SortKey.TOTAL
        assert app.main.table.shown[0].key == BUSIEST
        assert app.snapshot.totals.packets == 3413
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FlowDetailScreen) and app.screen.expired is False
                       and app.screen.flow is not None)
        await pilot.press("escape", "q")

    drive(0.0, check)


def test_a_replay_as_fast_as_possible_graphs_every_second_of_the_capture():
    """The sample spans 6 capture seconds: 6 points in 6 columns, not the one or two ticks the replay lasted."""
    async def check(pilot, app):
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.state == "finished")
        await pilot.pause(0.1)
        assert app.history.by_capture_second and app.history.added == 6
        assert sum(app.history.packets_per_s) == 3413
        assert max(app.history.bytes_per_s) * 8 > 1e6  # the iperf seconds: megabits, as captured
        chart = app.query_one("#bps-chart")
        width = chart.sparkline.size.width
        assert width > 6 and chart.border_subtitle.endswith(f"· {width}s of capture")  # a column per second
        columns = app.history.columns(app.history.bytes_per_s, width)
        assert all(columns[-6:]) and not any(columns[:-6])
        await pilot.press("q")

    drive(0.0, check)


def test_a_finished_replay_shows_the_heaviest_flows_not_the_last_to_move():
    # 10x: the last tick holds only the last second of capture, whose fastest flows are an mDNS
    # burst and an iperf control connection; the finished list must hold the two iperf streams
    async def check(pilot, app):
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.state == "finished")
        await wait_for(pilot, lambda: [r.key for r in app.main.table.shown] == [BUSIEST, IPERF_UDP])
        await pilot.press("q")

    drive(10.0, check, config(10.0).replace("tui", top_n=2))


def test_space_and_plus_reach_the_engine_during_a_paced_replay():
    async def check(pilot, app):
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("space")
        await wait_for(pilot, lambda: app.snapshot.state == "paused")
        await pilot.press("space")
        await wait_for(pilot, lambda: app.snapshot.state in ("replaying", "finished"))
        await pilot.press("plus")
        await wait_for(pilot, lambda: app.snapshot.speed == 2.0 or app.snapshot.state == "finished")
        await pilot.press("q")

    drive(1.0, check)


def test_a_replayed_nmap_scan_raises_a_port_scan_alert_in_the_pane():
    async def check(pilot, app):
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.state == "finished")
        await pilot.pause(0.1)
        pane = app.query_one(AlertsPane)
        assert [(alert.kind, alert.hosts) for alert in pane.alerts] == [("port_scan", ("10.77.0.1",))]
        line = str(pane.query_one(Static).render())
        assert line.split()[:3] == [clock(pane.alerts[0].ts), "port_scan", "10.77.0.1"]  # capture time, UTC
        assert "Port scan suspected" in line
        assert pane.border_title == "Alerts (1)" and app.snapshot.totals.alerts == 1
        await pilot.press("q")

    drive(0.0, check, with_anomalies(config(0.0, NMAP)))


async def filter_the_finished_replay(pilot, app, text: str) -> None:
    """Once the replay has finished, type `text` into the `/` filter and keep it."""
    await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.state == "finished")
    await pilot.press("slash")
    await pilot.pause()
    await pilot.press(*text, "enter")


def test_names_from_the_engine_reach_the_filter_and_the_detail():
    async def check(pilot, app):
        await filter_the_finished_replay(pilot, app, "example.org")
        await wait_for(pilot, lambda: app.main.table.shown and {r.proto for r in app.main.table.shown} == {"udp"})
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FlowDetailScreen) and app.screen.names is not None)
        assert "DNS question example.org" in str(app.screen.query_one(FlowSummary).render())
        await pilot.press("escape", "q")

    drive(0.0, check)


def test_a_filter_counts_its_matches_in_the_whole_table_not_in_the_rows_sent():
    """163 of the sample's 165 flows are TCP; the screen gets the first 100 of them."""
    async def check(pilot, app):
        await filter_the_finished_replay(pilot, app, "tcp")
        await wait_for(pilot, lambda: app.snapshot.matching_flows == 163)
        await pilot.pause()
        assert app.main.table.border_subtitle.endswith("· 100 of 163 matching")
        await pilot.press("slash", "ctrl+u", *"tcp host:example", "enter")  # a name term: only the screen applies it
        await wait_for(pilot, lambda: app.snapshot.matching_flows is None)
        await pilot.pause()
        assert app.main.table.border_subtitle.endswith(f" of {len(app.snapshot.top_flows)}")
        await pilot.press("slash", "ctrl+u", *"port:80", "enter")  # no flow of the sample: it uses 8080
        await wait_for(pilot, lambda: app.snapshot.matching_flows == 0)
        assert app.snapshot.ranked_for == "port:80"  # the rows and the count are that filter's
        await pilot.pause()
        assert app.main.table.border_subtitle.endswith("filter [b]port:80[/b] · no flow matches")  # not "0 of 0"
        await pilot.press("q")

    drive(0.0, check)
