"""The Hosts view (`h`) on the real engine process: sums, sorting, the filter, Enter to the host's flows."""

from __future__ import annotations

import pytest

from netscope.ui.hosts_table import HostsTable, plan_columns

from .test_engine_link import config, drive, wait_for

SAMPLE_HOSTS = ["10.88.0.1", "10.88.0.2", "fd00:88::1", "fd00:88::2"]  # by total bytes, ties by address


def hosts_shown(app) -> list[str]:
    return [row.address for row in app.main.hosts.shown]


def cells(table: HostsTable, row: int) -> list[str]:
    return [cell.plain for cell in table.get_row_at(row)]


@pytest.mark.parametrize("workers", [0, 2])
def test_h_lists_hosts_and_enter_lists_the_flows_of_one(workers: int):
    cfg = config(0.0)
    if workers:
        cfg = cfg.replace("pipeline", enabled=True, workers=workers)

    async def check(pilot, app):
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.state == "finished")
        await pilot.press("h")
        await wait_for(pilot, lambda: not app.main.hosts.awaiting_engine and app.main.hosts.shown)
        hosts = app.main.hosts
        assert app.main.showing_hosts and not app.main.table.display and hosts.display
        assert hosts_shown(app) == SAMPLE_HOSTS and app.snapshot.host_count == 4
        first = cells(hosts, 0)
        # host, flows, packets, sent, received (tshark's Tx/Rx bytes for 10.88.0.1), rate, total
        assert first[1:6] == ["10.88.0.1", "125", "2,886", "1.29 MB", "164 kB"]
        # a finished replay moves nothing: the heaviest hosts, as the flow list does
        assert first[-1] == "1.46 MB" and str(hosts.border_title) == "Hosts [dim]by[/dim] total bytes ▼"
        assert str(hosts.border_subtitle) == "top 4 of 4" and app.snapshot.hosts_by == "bytes"
        await pilot.press("s")  # by packets
        await wait_for(pilot, lambda: app.snapshot.hosts_by == "packets" and not hosts.awaiting_engine)
        await pilot.press("s")  # by flows
        await wait_for(pilot, lambda: app.snapshot.hosts_by == "flows" and not hosts.awaiting_engine)
        assert [cells(hosts, i)[2] for i in range(4)] == ["125", "125", "40", "40"]
        # a filter sums only the flows it matches: the IPv6 hosts
        await pilot.press("slash", *"host:fd00:88::/64", "enter")
        await wait_for(pilot, lambda: not hosts.awaiting_engine and hosts_shown(app) == SAMPLE_HOSTS[2:])
        assert "2 of 2 hosts" in str(hosts.border_subtitle)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not hosts.awaiting_engine and len(hosts.shown) == 4)
        # Enter on the second host: back to the flows, filtered by it
        await pilot.press("home", "down", "enter")
        await wait_for(pilot, lambda: not app.main.showing_hosts and app.main.table.ranked_for == "host:10.88.0.2")
        assert app.main.filter_input.value == "host:10.88.0.2"
        assert app.main.table.shown and all("10.88.0.2" in (r.a_ip, r.b_ip) for r in app.main.table.shown)
        assert app.snapshot.hosts_by is None  # the engine stopped summing hosts
        await pilot.press("q")

    drive(0.0, check, cfg)


def test_a_program_term_says_it_does_not_narrow_hosts():
    async def check(pilot, app):
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.state == "finished")
        await pilot.press("h", "slash", *"proc:curl", "enter")
        await wait_for(pilot, lambda: not app.main.hosts.awaiting_engine and app.main.hosts.shown)
        assert app.main.hosts.display_filter.text == "proc:curl" and len(app.main.hosts.shown) == 4
        assert str(app.main.hosts.border_subtitle).endswith("proc: narrows the flow list only")
        await pilot.press("q")

    drive(0.0, check)


def test_the_host_column_takes_the_room_and_counts_give_way_on_narrow_terminals():
    wide, narrow = plan_columns(116), plan_columns(50)
    assert [c.key for c in wide] == ["rank", "host", "flows", "packets", "sent", "received", "rate", "total"]
    assert sum(c.width + 2 for c in wide) == 116  # the host takes the rest: 46, room for a whole IPv6 address
    assert [c.key for c in narrow] == ["rank", "host", "rate", "total"]
    assert next(c.width for c in narrow if c.key == "host") >= 15


def test_a_name_filter_narrows_the_hosts_by_the_names_the_engine_gave(tmp_path):
    from tests.pipeline import shard_captures
    capture = shard_captures.named_web_capture(tmp_path / "names.pcap")
    cfg = config(0.0, capture)

    async def check(pilot, app):
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.state == "finished")
        await pilot.press("h", "n")
        await wait_for(pilot, lambda: app.main.hosts.shown and not app.main.hosts.awaiting_engine)
        assert "web.example.test" in [cells(app.main.hosts, i)[1] for i in range(len(app.main.hosts.shown))]
        await pilot.press("slash", *"web.example", "enter")
        await wait_for(pilot, lambda: not app.main.hosts.awaiting_engine and len(app.main.hosts.shown) == 1)
        assert hosts_shown(app) == ["10.0.0.80"]
        await pilot.press("q")

    drive(0.0, check, cfg)
