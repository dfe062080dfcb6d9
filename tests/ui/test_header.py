"""The header's traffic line: drop counters that stand out when they grow, and only where they can."""

from __future__ import annotations

from .fake_link import LIVE_SOURCE, FakeLink, scenario, snapshot
from .pilot import run, settle
from .test_app_keys import header_text


def test_growing_drop_counters_are_marked():
    link = FakeLink([snapshot(50, source=LIVE_SOURCE, state="live")])

    async def check(pilot, app):
        assert "▲" not in header_text(app) and "drops pcap 0 · if 0 · dispatch 0" in header_text(app)
        link.push(snapshot(60, source=LIVE_SOURCE, state="live", kernel_dropped=5))
        await settle(pilot)
        assert "▲5" in header_text(app)
        link.push(snapshot(75, source=LIVE_SOURCE, state="live", kernel_dropped=5))  # 15 s later, no growth since
        await settle(pilot)
        assert "▲" not in header_text(app)

    run(check, link)


def test_a_replay_shows_drops_only_once_dispatch_dropped_and_says_when_flows_were_evicted():
    """A file is read whole: libpcap and interface drops cannot happen, so they take no room."""
    link = scenario()

    async def check(pilot, app):
        assert "drops" not in header_text(app) and "evicted" not in header_text(app)
        link.push(snapshot(60, dispatch_dropped=3, flows_evicted=1_200))
        await settle(pilot)
        traffic = header_text(app).splitlines()[1]
        assert traffic.endswith("│ drops dispatch ▲3") and "flows 15 · evicted 1,200 │" in traffic

    run(check, link)


def test_no_color_makes_the_screen_monochrome_and_keeps_the_drop_marker():
    link = scenario()

    async def check(pilot, app):
        assert app.no_color and any(type(f).__name__ == "Monochrome" for f in app._filters)
        link.push(snapshot(60, source=LIVE_SOURCE, state="live", if_dropped=3))
        await settle(pilot)
        assert "▲3" in header_text(app)  # growth still stands out without colour

    run(check, link, no_color=True)
