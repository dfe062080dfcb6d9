"""Pilot tests: names in the table (`n`), in the filter and in the detail; TCP health columns and detail."""

from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import Static

from netscope.analysis.names import FlowNames
from netscope.engine.messages import FlowDetail
from netscope.ui.detail import FlowDetailScreen, FlowSummary, PacketView
from netscope.ui.flows_table import SortKey, row_key
from netscope.ui.formatting import MISSING

from .fake_link import (
    DNS,
    HTTP,
    IPERF,
    IPV6,
    LAB_SERVER,
    TLS,
    UDP_BULK,
    FakeLink,
    details,
    finished,
    history,
    snapshot,
)
from .pilot import run, settle

WIDE = (170, 40)  # endpoints get their widest cells, so names are not cut


def cell(app, flow, column: str) -> str:
    return app.main.table.get_cell(row_key(flow.key), column).plain


async def open_detail(pilot, app, flow) -> FlowDetailScreen:
    app.main.table.move_cursor(row=app.main.table.get_row_index(row_key(flow.key)))
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, FlowDetailScreen) and app.screen.key == flow.key
    return app.screen


def summary_text(screen: FlowDetailScreen) -> str:
    return str(screen.query_one(FlowSummary).render())


def test_n_shows_names_in_place_of_addresses_and_back():
    async def check(pilot, app):
        assert cell(app, IPERF, "b") == "10.88.0.2:5201"
        await pilot.press("n")
        assert cell(app, IPERF, "b") == f"{LAB_SERVER}:5201"  # DNS answer for the address
        assert cell(app, IPERF, "a") == "10.88.0.1:39246"  # no name known for the client
        assert cell(app, TLS, "b") == "www.example.test:443"  # no DNS answer: the SNI names the server
        assert "italic" in str(app.main.table.get_cell(row_key(TLS.key), "b").style)
        assert "names" in app.main.table.border_title
        await pilot.press("n")
        assert cell(app, TLS, "b") == "203.0.113.250:443"
        assert "names" not in app.main.table.border_title

    run(check, size=WIDE)


def test_names_follow_each_tick():
    link = FakeLink([*history(3), snapshot(4, names={})])

    async def check(pilot, app):
        await pilot.press("n")
        assert cell(app, IPERF, "b") == "10.88.0.2:5201"
        link.push(snapshot(5, names={IPERF.key: FlowNames(name_a="laptop.lab.test")}))
        await settle(pilot)
        assert cell(app, IPERF, "a") == "laptop.lab.test:39246"

    run(check, link, size=WIDE)


def test_filter_matches_names_even_while_they_are_hidden():
    async def check(pilot, app):
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"host:example.test")
        await pilot.pause()
        assert {row.key for row in app.main.table.shown} == {TLS.key, HTTP.key}  # SNI, HTTP Host
        app.main.filter_input.value = "example.org"  # a DNS question
        await pilot.pause()
        assert {row.key for row in app.main.table.shown} == {DNS.key}

    run(check)


def test_detail_shows_sni_host_dns_question_and_endpoint_names():
    async def check(pilot, app):
        screen = await open_detail(pilot, app, TLS)
        text = summary_text(screen)
        assert "SNI www.example.test" in text and f"HTTP Host {MISSING}" in text
        await pilot.press("escape")
        text = summary_text(await open_detail(pilot, app, HTTP))
        assert "HTTP Host example.test" in text and f"B {LAB_SERVER}" in text and f"A {MISSING}" in text
        await pilot.press("escape")
        assert "DNS question example.org" in summary_text(await open_detail(pilot, app, DNS))

    run(check)


def test_detail_takes_names_from_the_engine_answer_when_the_tick_had_none():
    answers = details()
    answers[IPERF.key] = FlowDetail(IPERF.key, IPERF, (), FlowNames(name_a="laptop.lab.test", sni="iperf.example"))
    link = FakeLink([*history(3), snapshot(4, names={})], answers)

    async def check(pilot, app):
        text = summary_text(await open_detail(pilot, app, IPERF))
        assert "A laptop.lab.test" in text and "SNI iperf.example" in text

    run(check, link)


def test_rtt_and_retransmission_columns():
    async def check(pilot, app):
        assert (cell(app, IPERF, "rtt"), cell(app, IPERF, "retr")) == ("0.42ms", "3")
        assert (cell(app, TLS, "rtt"), cell(app, TLS, "retr")) == ("23.4ms", "0")
        assert (cell(app, UDP_BULK, "rtt"), cell(app, UDP_BULK, "retr")) == (MISSING, MISSING)
        assert cell(app, IPV6, "rtt") == MISSING  # TCP, but no sample yet
        app.main.table.set_sort(SortKey.RTT)
        assert [row.key for row in app.main.table.shown][:3] == [TLS.key, IPERF.key, HTTP.key]  # unmeasured last

    run(check, size=WIDE)


def test_detail_shows_rtt_figures_retransmissions_and_out_of_order():
    async def check(pilot, app):
        text = summary_text(await open_detail(pilot, app, IPERF))
        for shown in ("ewma 0.42ms", "last 0.51ms", "min 80µs", "handshake 0.11ms", "samples 412",
                      "retransmitted 3", "out of order 1"):
            assert shown in text
        await pilot.press("escape")
        text = summary_text(await open_detail(pilot, app, IPV6))
        assert f"ewma {MISSING}" in text and f"retransmitted {MISSING}" in text
        await pilot.press("escape")
        assert "ewma" not in summary_text(await open_detail(pilot, app, DNS))  # UDP: no TCP health lines

    run(check)


@pytest.mark.parametrize("state", ["replaying", "finished"])
def test_a_detail_without_packets_promises_more_only_while_the_capture_goes_on(state: str):
    answers = details()
    answers[IPERF.key] = FlowDetail(IPERF.key, IPERF, (), None)  # none among the latest packets kept
    last = finished() if state == "finished" else snapshot(4)
    link = FakeLink([*history(3), last], answers)

    async def check(pilot, app):
        screen = await open_detail(pilot, app, IPERF)
        text = str(screen.query_one(PacketView).query_one(Static).render())
        assert text.startswith("none of this flow's packets are among the latest kept")
        assert ("from now on" in text) is (state == "replaying")

    run(check, link)


def test_the_packet_title_says_when_only_the_start_of_a_packet_is_shown():
    answers = details()
    whole = answers[IPERF.key].packets[-1]
    cut = dataclasses.replace(whole, wirelen=9_000)  # a jumbo frame, of which the engine kept the start
    answers[IPERF.key] = dataclasses.replace(answers[IPERF.key], packets=(cut,))
    link = FakeLink([*history(3), snapshot(4)], answers)

    async def check(pilot, app):
        screen = await open_detail(pilot, app, IPERF)
        assert screen.query_one(PacketView).border_title.endswith(
            f"9000 bytes on the wire, first {len(whole.data)} shown")

    run(check, link)
