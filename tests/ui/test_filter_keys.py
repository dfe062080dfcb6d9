"""The `/` filter line driven with Pilot: applied as typed, errors kept in view, Esc clears."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import DataTable, Input

from netscope.engine.messages import SetFilter

from .fake_link import DNS, TLS, scenario, snapshot
from .pilot import run, settle


def test_slash_filters_and_escape_clears():
    link = scenario()

    async def check(pilot, app):
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.focused, Input)
        await pilot.press(*"proto:udp")
        await pilot.pause()
        assert {row.proto for row in app.main.table.shown} == {"udp"}
        await pilot.press("enter")
        assert isinstance(app.focused, DataTable)
        assert "proto:udp" in app.main.table.border_subtitle
        await pilot.press("escape")
        assert len(app.main.table.shown) == len(app.snapshot.top_flows)
        # the engine is told each filter that parses (not proto:u, proto:ud on the way), so it
        # sends the top N of the matches
        sent = [c.text for c in link.sent if isinstance(c, SetFilter)]
        assert sent == ["p", "pr", "pro", "prot", "proto", "proto:udp", ""]

    run(check, link)


def test_invalid_filter_is_flagged_and_not_applied():
    link = scenario()

    async def check(pilot, app):
        await pilot.press("slash")
        await pilot.pause()
        app.main.filter_input.value = "colour:red"  # as if pasted
        await pilot.pause()
        assert app.main.filter_input.has_class("-invalid")
        assert "unknown filter key" in app.main.table.border_subtitle
        assert len(app.main.table.shown) == len(app.snapshot.top_flows)

    run(check, link)


def test_a_filter_typed_into_an_error_keeps_the_error_shown_and_enter_does_not_take_it():
    """Typing port:abc applies "port" (a bare word) on the way; once the text stops parsing, the
    error must stay under the table through later ticks, and Enter must not close on it."""
    link = scenario()

    async def check(pilot, app):
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"port:abc")
        link.push(snapshot(100))  # a tick redraws the table
        await settle(pilot)
        assert "port:abc is not a port" in app.main.table.border_subtitle
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.focused, Input) and app.main.filter_input.has_class("-invalid")
        assert "port:abc is not a port" in app.main.table.border_subtitle
        await pilot.press("backspace", "backspace", "backspace", *"53")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.focused, DataTable)
        assert "filter [b]port:53[/b]" in app.main.table.border_subtitle
        assert {r.key for r in app.main.table.shown} == {DNS.key}

    run(check, link)


def test_until_the_engine_answers_a_new_filter_the_table_says_it_is_updating():
    """The engine's rows and count belong to the filter it ranked them under (ranked_for): a
    filter cleared after it matched nothing is not "no flows yet", and a count is not carried
    over to the next filter."""
    link = scenario()

    async def check(pilot, app):
        await pilot.press("slash", *"port:80", "enter")
        link.push(replace(snapshot(100, rows=()), matching_flows=0, ranked_for="port:80"))
        await settle(pilot)
        assert app.main.table.border_subtitle.endswith("filter [b]port:80[/b] · no flow matches")
        await pilot.press("escape")
        await pilot.pause()
        assert app.main.table.border_subtitle == "updating…"
        link.push(snapshot(101))
        await settle(pilot)
        assert app.main.table.border_subtitle == f"top {len(app.snapshot.top_flows)}"

        await pilot.press("slash", *"tcp", "enter")
        link.push(replace(snapshot(102, rows=(TLS,)), matching_flows=163, ranked_for="tcp"))
        await settle(pilot)
        assert app.main.table.border_subtitle.endswith("· 1 of 163 matching")
        await pilot.press("slash", "ctrl+u", *"udp", "enter")
        await pilot.pause()
        assert app.main.table.border_subtitle.endswith("filter [b]udp[/b] · updating…")  # TLS is no udp flow

    run(check, link)
