"""Pilot tests for the alerts pane: what a line says, order by capture time, and the bound."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import Static

from netscope.analysis.alerts import Alert
from netscope.ui.alerts import MAX_ALERTS, hosts_text

from .fake_link import SCAN_ALERT, T0, FakeLink, history, snapshot
from .pilot import run, settle


def pane_lines(app) -> list[str]:
    return str(app.main.alerts.query_one(Static).render()).splitlines()


def test_an_alert_shows_utc_capture_time_kind_hosts_and_description():
    link = FakeLink([*history(3), snapshot(4, alerts=(SCAN_ALERT,))])

    async def check(pilot, app):
        (line,) = pane_lines(app)
        assert line.split()[:3] == ["04:29:56", "port_scan", "10.88.0.66"]  # T0 + 3.08 s, UTC
        assert SCAN_ALERT.description in line
        assert app.main.alerts.border_title == "Alerts (1)"
        assert "UTC" in app.main.alerts.border_subtitle

    run(check, link)


def test_newest_capture_time_first_whatever_the_arrival_order():
    late = replace(SCAN_ALERT, ts=T0 + 60, description="later scan")
    early = replace(SCAN_ALERT, ts=T0 + 1, description="earlier scan")
    link = FakeLink([*history(3), snapshot(4, alerts=(SCAN_ALERT,))])

    async def check(pilot, app):
        link.push(snapshot(5, alerts=(late, early)))  # e.g. two workers' alerts merged into one tick
        await settle(pilot)
        lines = pane_lines(app)
        assert ["later scan" in lines[0], SCAN_ALERT.description in lines[1], "earlier scan" in lines[2]] == [True] * 3

    run(check, link)


def test_the_pane_keeps_the_newest_alerts_only():
    burst = tuple(Alert(T0 + i, "syn_flood", f"flood {i}", (f"10.0.0.{i % 250}:80",)) for i in range(MAX_ALERTS + 50))
    link = FakeLink([*history(3), snapshot(4, alerts=burst)])

    async def check(pilot, app):
        lines = pane_lines(app)
        assert len(lines) == MAX_ALERTS
        assert lines[0].endswith(f"flood {MAX_ALERTS + 49}") and lines[-1].endswith("flood 50")
        assert app.main.alerts.border_title == f"Alerts ({MAX_ALERTS + 50}, newest {MAX_ALERTS} kept)"

    run(check, link)


def test_many_hosts_are_counted_past_the_first_few():
    assert hosts_text(("a", "b")) == "a, b"
    assert hosts_text(("a", "b", "c", "d", "e")) == "a, b, c +2"


def test_an_empty_pane_says_when_nothing_was_looked_for():
    """Detection is off by default: "no alerts" alone would read as "nothing suspicious"."""
    async def off(pilot, app):
        assert pane_lines(app) == ["no alerts: anomaly detection is off (start with --anomalies)"]

    async def on(pilot, app):
        assert pane_lines(app) == ["no alerts"]

    run(off, FakeLink(history(3)), detecting_anomalies=False)
    run(on, FakeLink(history(3)), detecting_anomalies=True)
