"""The detail screen's rate line: one rate per engine answer, on the capture's clock."""

from __future__ import annotations

from dataclasses import replace

from netscope.ui.detail import FlowSummary
from netscope.ui.flow_rate import FlowRateHistory, sparkline

from .fake_link import IPERF, scenario, snapshot
from .pilot import run, settle


def test_rates_between_answers_and_what_does_not_count():
    history = FlowRateHistory()
    history.add(10.0, 1_000)
    history.add(10.0, 5_000)  # the clock did not move (a paused replay): no rate from it
    history.add(12.0, 5_000)
    history.add(13.0, 5_000)  # quiet
    history.add(13.5, 100)  # a new flow under the same key: start over
    history.add(14.0, 600)
    assert list(history.rates) == [2_000.0, 0.0, 1_000.0]
    assert history.peak == 2_000.0


def test_the_line_scales_from_zero_to_its_peak():
    assert sparkline([0, 1, 4, 8], 10) == " ▁▄█"
    assert sparkline([1_000_000, 1_000_001], 10) == "██"  # steady is full, not a sawtooth
    assert sparkline([0.0, 0.0], 5) == "  "
    assert sparkline(list(range(9)), 3) == "▆▇█"  # the newest that fit


def test_the_detail_draws_the_flow_s_rate_tick_by_tick():
    link = scenario()

    async def check(pilot, app):
        await pilot.press("enter")
        await settle(pilot)
        for tick, total in enumerate((2_000_000, 2_250_000, 3_250_000), 1):
            flow = replace(IPERF, bytes_ab=total - IPERF.bytes_ba)
            link.details[IPERF.key] = replace(link.details[IPERF.key], flow=flow)
            link.push(snapshot(70 + tick, capture_s=5.265829 + tick))
            await settle(pilot)
        summary = str(app.screen.query_one(FlowSummary).render())
        line = next(text for text in summary.splitlines() if text.startswith("rate"))
        assert "▂█" in line and "peak 8.00 Mb/s" in line  # 250 kB then 1 MB in a second

    run(check, link)
