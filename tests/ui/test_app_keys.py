"""Pilot tests: every key binding and screen, driven on the fake link's scenario."""

from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import DataTable

from netscope.engine.messages import RequestDetail, SetPaused, SetRanking, SetSpeed
from netscope.engine.snapshot import TickSnapshot
from netscope.ui import formatting
from netscope.ui.app import EngineErrorScreen, NetscopeApp, next_speed
from netscope.ui.detail import FlowDetailScreen, PacketView
from netscope.ui.flows_table import SortKey, row_key
from netscope.ui.formatting import Units
from netscope.ui.help import HelpScreen

from .fake_link import DNS, IPERF, LIVE_SOURCE, TLS, FakeLink, finished, scenario, snapshot
from .pilot import run, settle


def table_keys(app: NetscopeApp) -> list:
    return [row.key for row in app.main.table.shown]


def cursor_flow(app: NetscopeApp):
    return app.main.table.selected_flow.key


def header_text(app: NetscopeApp) -> str:
    return str(app.screen.header.render())


def test_first_tick_fills_table_header_history_and_alerts():
    async def check(pilot, app):
        assert table_keys(app)[0] == IPERF.key  # ranked by rate
        assert app.main.table.sort_key is SortKey.RATE
        assert "replaying" in header_text(app) and "sample.pcap" in header_text(app)
        assert app.history.added == 41
        assert len(app.main.alerts.alerts) == 1

    run(check)


def test_q_quits():
    async def check(pilot, app):
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running

    app = run(check)
    assert app.return_code in (0, None)


def test_ctrl_c_quits_at_once():
    async def check(pilot, app):
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running

    app = run(check)
    assert app.return_code in (0, None)


def test_p_freezes_display_while_counting_goes_on():
    link = scenario()

    async def check(pilot, app):
        await pilot.press("p")
        assert app.frozen and "DISPLAY FROZEN" in header_text(app)
        before = app.shown.seq
        link.push(snapshot(100, rows=(DNS,)))
        await settle(pilot)
        assert app.shown.seq == before and app.snapshot.seq == 100  # received, not drawn
        assert table_keys(app)[0] == IPERF.key
        await pilot.press("p")
        assert not app.frozen and table_keys(app) == [DNS.key]

    run(check, link)


def test_space_pauses_and_resumes_a_replay():
    link = scenario()

    async def check(pilot, app):
        await pilot.press("space")
        assert link.sent[-1] == SetPaused(True)
        assert "paused" in header_text(app)
        link.push(snapshot(60, state="paused"))
        await settle(pilot)
        await pilot.press("space")
        assert link.sent[-1] == SetPaused(False)
        assert not app.frozen

    run(check, link)


def test_space_on_live_capture_freezes_the_display_only():
    link = FakeLink([snapshot(1, state="live", source=LIVE_SOURCE)])

    async def check(pilot, app):
        await pilot.press("space")
        assert app.frozen
        assert not [c for c in link.sent if isinstance(c, SetPaused)]
        assert "live" in header_text(app)

    run(check, link)


@pytest.mark.parametrize("live", [False, True])
def test_space_before_the_first_snapshot_waits_for_it(live):
    link = FakeLink()

    async def check(pilot, app):
        await pilot.press("space")
        await settle(pilot)
        assert not app.frozen and not link.sent  # neither a replay to pause nor a display to freeze yet
        link.push(snapshot(1, state="live", source=LIVE_SOURCE) if live else snapshot(1))
        await settle(pilot)
        assert (link.sent == [SetPaused(True)]) is not live
        assert app.frozen is live
        assert ("DISPLAY FROZEN" if live else "paused") in header_text(app)

    run(check, link)


def test_plus_and_minus_step_the_replay_speed():
    link = scenario()

    async def check(pilot, app):
        await pilot.press("plus")
        assert link.sent[-1] == SetSpeed(2.0)
        assert "2×" in header_text(app)
        await pilot.press("plus", "plus", "plus", "plus")
        assert [c.speed for c in link.sent if isinstance(c, SetSpeed)] == [2.0, 10.0, 100.0, 0.0]
        assert "max" in header_text(app)
        await pilot.press("minus")
        assert link.sent[-1] == SetSpeed(100.0)

    run(check, link)


def test_speed_ladder():
    assert next_speed(1.0, 1) == 2.0
    assert next_speed(0.0, 1) == 0.0
    assert next_speed(0.0, -1) == 100.0
    assert next_speed(5.0, 1) == 10.0 and next_speed(5.0, -1) == 2.0
    assert next_speed(1.0, -1) == 1.0


def test_live_ages_keep_counting_when_the_network_goes_quiet():
    """Live, age is on the wall clock: the newest packet's time stops when nothing arrives."""
    quiet = snapshot(1, rows=[IPERF], state="live", source=LIVE_SOURCE)  # wall clock ~2 months past the packets
    replay = snapshot(2, rows=[IPERF])

    async def check(pilot, app):
        live_age = app.main.table.get_cell(row_key(IPERF.key), "age").plain
        link.push(replay)
        await settle(pilot)
        replay_age = app.main.table.get_cell(row_key(IPERF.key), "age").plain
        assert (live_age, replay_age) == (formatting.age(quiet.wall_time - IPERF.first_seen),
                                          formatting.age(replay.capture_time - IPERF.first_seen))
        assert live_age.endswith("d") and replay_age == "2s"

    link = FakeLink([quiet])
    run(check, link, size=(160, 40))


def test_speed_keys_do_nothing_on_live_capture():
    link = FakeLink([snapshot(1, state="live", source=LIVE_SOURCE)])

    async def check(pilot, app):
        await pilot.press("plus", "minus")
        assert not [c for c in link.sent if isinstance(c, SetSpeed)]
        assert app.check_action("speed", (1,)) is False  # not in the footer at all

    run(check, link)


def test_s_cycles_the_sort_and_asks_the_engine_for_those_flows():
    link = scenario()

    async def check(pilot, app):
        seen = []
        for _ in range(4):
            await pilot.press("s")
            seen.append(app.main.table.sort_key)
        assert seen == [SortKey.TOTAL, SortKey.PACKETS, SortKey.AGE, SortKey.RATE]
        app.main.table.set_sort(SortKey.AGE)
        app.main.table.set_sort(SortKey.RTT)  # no ranking of the tracker's: the top N by rate, sorted here
        app.main.table.set_sort(SortKey.STATE)  # the same flows again: nothing to ask
        await pilot.pause()
        asked = [c.by for c in link.sent if isinstance(c, SetRanking)]
        assert asked == ["bytes", "packets", "age", "rate", "age", "rate"]

    run(check, link)


def test_sort_by_total_orders_rows_by_bytes():
    async def check(pilot, app):
        await pilot.press("s")
        totals = [row.bytes_total for row in app.main.table.shown]
        assert totals == sorted(totals, reverse=True)

    run(check)


def test_t_toggles_units_everywhere():
    async def check(pilot, app):
        assert "Mb/s" in header_text(app)
        await pilot.press("t")
        assert app.units is Units.BYTES
        assert "kB/s" in header_text(app) and "Mb/s" not in header_text(app)
        assert "B/s" in str(app.main.table.get_row_at(0))

    run(check)


def test_question_mark_opens_help_and_escape_closes_it():
    async def check(pilot, app):
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)

    run(check)


def test_enter_opens_detail_with_decoded_packets_and_escape_goes_back():
    link = scenario()

    async def check(pilot, app):
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FlowDetailScreen) and screen.key == IPERF.key
        assert RequestDetail(IPERF.key) in link.sent
        packets = screen.query_one("#packets", DataTable)
        assert packets.row_count == 4
        assert "[ACK, PSH]" in str(packets.get_row_at(0)[4])  # newest first
        assert "[SYN]" in str(packets.get_row_at(3)[4])
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main

    run(check, link)


def test_detail_asks_again_each_tick_and_keeps_following_the_flow():
    link = scenario()

    async def check(pilot, app):
        await pilot.press("enter")
        await settle(pilot)
        asked = link.sent.count(RequestDetail(IPERF.key))
        link.push(snapshot(70))
        await settle(pilot)
        assert link.sent.count(RequestDetail(IPERF.key)) == asked + 1

    run(check, link)


def test_detail_shows_tls_sni_and_hex():
    async def check(pilot, app):
        app.main.table.move_cursor(row=app.main.table.get_row_index("|".join(map(str, TLS.key))))
        await pilot.press("enter")
        await settle(pilot)
        view = app.screen.query_one(PacketView)
        assert "ClientHello sni=www.example.test" in str(app.screen.query_one("#packets", DataTable).get_row_at(0)[4])
        assert "Packet" in view.border_title

    run(check)


def test_cursor_stays_on_its_flow_when_ranks_change():
    link = scenario()

    async def check(pilot, app):
        await pilot.press("down", "down")
        chosen = cursor_flow(app)
        assert chosen == TLS.key
        reordered = (TLS, DNS, IPERF)
        link.push(snapshot(80, rows=tuple(reversed(reordered))))
        await settle(pilot)
        assert cursor_flow(app) == TLS.key
        assert app.main.table.cursor_row == table_keys(app).index(TLS.key)

    run(check, link)


def test_until_the_cursor_is_moved_it_watches_the_top_flow():
    """As in htop: a screen nobody touches shows the busiest flow selected, whichever it is."""
    link = scenario()

    def with_top(seq: int, key) -> TickSnapshot:
        """A tick where the flow `key` has become the fastest by far."""
        rows = tuple(dataclasses.replace(r, rate_bps=r.rate_bps + 10**9 if r.key == key else r.rate_bps)
                     for r in app_rows)
        return snapshot(seq, rows=rows)

    app_rows = (TLS, DNS, IPERF)

    async def check(pilot, app):
        link.push(snapshot(79, rows=app_rows))
        await settle(pilot)
        first = cursor_flow(app)
        risen = table_keys(app)[-1]
        link.push(with_top(80, risen))
        await settle(pilot)
        assert app.main.table.cursor_row == 0 and cursor_flow(app) == risen != first
        await pilot.press("down")  # moved: now it follows its flow
        chosen = cursor_flow(app)
        link.push(with_top(81, chosen))
        await settle(pilot)
        assert cursor_flow(app) == chosen and app.main.table.cursor_row == 0
        link.push(with_top(82, risen))
        await settle(pilot)
        assert cursor_flow(app) == chosen and app.main.table.cursor_row == 1
        await pilot.press("up")  # back on the first row: watching the top again
        link.push(with_top(83, chosen))
        await settle(pilot)
        assert app.main.table.cursor_row == 0 and cursor_flow(app) == chosen

    run(check, link)


def test_home_and_end_go_to_the_first_and_last_flow():
    async def check(pilot, app):
        keys = table_keys(app)
        await pilot.press("end")
        assert cursor_flow(app) == keys[-1]
        await pilot.press("home")
        assert cursor_flow(app) == keys[0]

    run(check)


def test_clicking_a_header_sorts_and_clicking_again_reverses():
    async def check(pilot, app):
        table = app.main.table
        total_x = sum(c.get_render_width(table) for c in table.ordered_columns[:table.get_column_index("total")])
        await pilot.click("#flows", offset=(total_x + 3, 1))
        await pilot.pause()
        assert table.sort_key is SortKey.TOTAL and not table.reverse
        await pilot.click("#flows", offset=(total_x + 3, 1))
        await pilot.pause()
        assert table.reverse
        totals = [row.bytes_total for row in table.shown]
        assert totals == sorted(totals)

    run(check)


def test_clicking_a_row_moves_the_cursor_and_clicking_it_again_opens_detail():
    async def check(pilot, app):
        await pilot.click("#flows", offset=(10, 4))  # border, header, then rows 0, 1, 2
        await pilot.pause()
        assert app.main.table.cursor_row == 2
        await pilot.click("#flows", offset=(10, 4))
        await settle(pilot)
        assert isinstance(app.screen, FlowDetailScreen)

    run(check)


def test_finished_replay_ranks_by_total_bytes():
    link = scenario()

    async def check(pilot, app):
        link.push(finished())
        await settle(pilot)
        assert "finished" in header_text(app)
        assert app.main.table.sort_key is SortKey.TOTAL
        # the graph keeps its last points, but its titles say what the header says: nothing moves
        rate = formatting.rate(0.0, Units.BITS)
        assert header_text(app).splitlines()[1].split(" │ ")[0].strip() == rate
        assert rate in app.main.query_one("#bps-chart").border_title
        assert formatting.packet_rate(0.0) in app.main.query_one("#pps-chart").border_title
        assert table_keys(app)[0] == IPERF.key
        assert link.sent[-1] == SetRanking("bytes")  # the engine must send the heaviest flows
        await pilot.press("s")
        link.push(finished())
        await settle(pilot)
        assert app.main.table.sort_key is SortKey.PACKETS
        await pilot.press("s", "s")  # age, then rate: chosen after the end, it stays
        link.push(finished())
        await settle(pilot)
        assert app.main.table.sort_key is SortKey.RATE

    run(check, link)


def test_engine_error_is_shown_then_exit_code_1():
    link = scenario()

    async def check(pilot, app):
        link.fail("capture stopped: interface went down")
        await settle(pilot)
        assert isinstance(app.screen, EngineErrorScreen)
        await pilot.press("x")
        await pilot.pause()

    app = run(check, link)
    assert app.return_code == 1


def test_an_engine_that_stops_on_an_error_shows_where_it_stopped():
    """Its last tick and its error arrive together: the tick is drawn, the header says stopped."""
    link = scenario()

    async def check(pilot, app):
        link.push(snapshot(99, rows=[TLS], state="finished", progress=0.36))
        link.fail("cannot write /full/copy.pcap: No space left on device")
        await settle(pilot)
        assert isinstance(app.screen, EngineErrorScreen)
        assert table_keys(app) == [TLS.key]
        assert "stopped" in str(app.main.header.render()) and "replaying" not in str(app.main.header.render())
        await pilot.press("x")
        await pilot.pause()

    assert run(check, link).return_code == 1


def test_layout_survives_80x24_and_resizes():
    async def check(pilot, app):
        assert app.main.has_class("-short")
        keys = [c.key.value for c in app.main.table.ordered_columns]
        assert keys[:4] == ["rank", "proto", "a", "b"] and "rate" in keys and "total" in keys
        width = sum(c.get_render_width(app.main.table) for c in app.main.table.ordered_columns)
        assert width <= app.main.table.scrollable_content_region.width
        await pilot.resize_terminal(160, 50)
        await settle(pilot)
        assert not app.main.has_class("-short")
        wide = [c.key.value for c in app.main.table.ordered_columns]
        assert {"state", "packets", "tick", "age"} <= set(wide)

    run(check, size=(80, 24))


def test_a_tiny_terminal_gives_every_line_to_the_table():
    async def check(pilot, app):
        await settle(pilot)
        assert not app.main.history_panel.display and not app.main.alerts.display
        table = app.main.table
        assert table.region.height >= 5 and table.row_count and table.shown
        assert app.main.max_scroll_y == 0  # nothing pushed below the screen, no screen scrollbar

    run(check, size=(40, 12))


def test_the_live_clock_keeps_running_while_the_network_is_quiet():
    quiet = snapshot(9, state="live", source=LIVE_SOURCE, capture_s=1.0)  # newest packet 8 s before the tick
    link = FakeLink([quiet])

    async def check(pilot, app):
        await settle(pilot)
        assert formatting.clock(quiet.wall_time) in header_text(app)
        assert formatting.clock(quiet.capture_time) not in header_text(app)

    run(check, link)
