"""Live capture on lo through the real engine process: which program owns each flow, and reverse DNS."""

from __future__ import annotations

import pytest

from netscope.config import Config
from netscope.ui.detail import FlowDetailScreen, FlowSummary
from netscope.ui.flows_table import owner_label

from .live_traffic import iperf_on_lo
from .test_engine_link import drive, wait_for

PORT = 5795


@pytest.fixture
def iperf_pair(require_root):
    """An iperf3 server on lo and a client sending to it for a while: (server pid, client pid)."""
    with iperf_on_lo(PORT, 20) as pids:
        yield pids


@pytest.mark.parametrize("pipeline", [False, True], ids=["one process", "two workers"])
def test_the_process_column_and_the_detail_name_the_programs_at_both_ends(iperf_pair, pipeline: bool):
    server_pid, client_pid = iperf_pair
    cfg = Config().replace("capture", interface="lo", filter=f"tcp port {PORT}").replace("tui", tick_ms=200)
    if pipeline:  # the reader asks, in the capture's namespace, for the merged rows
        cfg = cfg.replace("pipeline", enabled=True, workers=2)

    def data_flow(app):
        """The iperf3 data connection: the busiest of its two (control and data)."""
        shown = app.main.table.shown
        return shown[0] if shown and app.snapshot.flow_owners.get(shown[0].key) else None

    async def check(pilot, app):
        await wait_for(pilot, lambda: data_flow(app) is not None and data_flow(app).bytes_total > 100_000)
        assert "process" in [column.key for column in app.main.table._plan]
        flow = data_flow(app)
        owners = app.snapshot.flow_owners[flow.key]
        server_end = 0 if flow.a_port == PORT else 1
        assert owners[server_end] == (server_pid, "iperf3") and owners[1 - server_end] == (client_pid, "iperf3")
        assert owner_label(owners) == "iperf3"
        row = app.main.table.get_row_at(0)
        assert "iperf3" in [cell.plain for cell in row]
        # Reverse DNS (the hosts file's localhost) names both ends once `n` shows names.
        await wait_for(pilot, lambda: app.snapshot.flow_names.get(flow.key) is not None
                       and app.snapshot.flow_names[flow.key].name_a == "localhost")
        await pilot.press("n")
        await pilot.pause(0.1)
        cells = [cell.plain for cell in app.main.table.get_row_at(0)]
        assert f"localhost:{flow.a_port}" in cells and f"localhost:{flow.b_port}" in cells
        await pilot.press("n")
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FlowDetailScreen) and app.screen.owners is not None)
        summary = str(app.screen.query_one(FlowSummary).render())
        assert f"iperf3 (pid {server_pid})" in summary and f"iperf3 (pid {client_pid})" in summary
        await pilot.press("escape", "slash", *"proc:iperf", "enter")
        await pilot.pause(0.1)
        assert flow.key in [row.key for row in app.main.table.shown]
        await pilot.press("slash", "ctrl+u", *"proc:nginx", "enter")
        await pilot.pause(0.1)
        assert app.main.table.shown == []
        await pilot.press("q")

    drive(0.0, check, cfg)


def test_a_replay_has_no_process_column():
    async def check(pilot, app):
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.state == "finished")
        await pilot.pause(0.1)
        assert "process" not in [column.key for column in app.main.table._plan]
        assert app.snapshot.flow_owners == {}
        await pilot.press("q")

    drive(0.0, check)


def test_labels_of_one_two_and_no_local_ends():
    assert owner_label(((10, "curl"), None)) == "curl"
    assert owner_label((None, (11, "nginx"))) == "nginx"
    assert owner_label(((10, "curl"), (11, "nginx"))) == "curl ⇄ nginx"
    assert owner_label(None) is None
