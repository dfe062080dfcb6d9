"""The main screen: header, throughput history, top flows (or hosts), the filter line, alerts, keys."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from netscope.engine.messages import SetFilter, SetHostView, SetRanking
from netscope.engine.snapshot import TickSnapshot
from netscope.ui.alerts import AlertsPane
from netscope.ui.filters import NO_FILTER, FilterError, parse_filter
from netscope.ui.flows_table import FlowsTable, SortKey
from netscope.ui.formatting import Units
from netscope.ui.header import DropWatch, HeaderBar, HeaderView
from netscope.ui.history import HistoryPanel, ThroughputHistory
from netscope.ui.hosts_table import HostsTable

SHORT_SCREEN = 32  # below this many lines the history and alerts give rows to the table
TINY_SCREEN = 18  # below this, they give way to it altogether


class MainScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "cycle_sort", "Sort"),
        Binding("h", "toggle_hosts", "Hosts"),
        Binding("n", "toggle_names", "Names"),
        Binding("slash", "open_filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    DEFAULT_CSS = """
    MainScreen { overflow: hidden; }  /* a short terminal cuts the bottom, never scrolls the screen */
    MainScreen HistoryPanel { height: 7; }
    MainScreen AlertsPane { height: 6; }
    MainScreen.-short HistoryPanel { height: 4; }
    MainScreen.-short AlertsPane { height: 3; }
    MainScreen.-tiny HistoryPanel, MainScreen.-tiny AlertsPane { display: none; }
    MainScreen #hosts { display: none; }
    MainScreen.-hosts #hosts { display: block; }
    MainScreen.-hosts #flows { display: none; }
    MainScreen #filter {
        display: none;
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    MainScreen #filter.-active { display: block; }
    MainScreen #filter.-invalid { color: $error; }
    """

    def __init__(self, history: ThroughputHistory, window_s: float, drops: DropWatch, *,
                 detecting_anomalies: bool = True) -> None:
        super().__init__()
        self.header = HeaderBar(drops)
        self.history_panel = HistoryPanel(history, window_s)
        self.table = FlowsTable(id="flows")
        self.hosts = HostsTable(id="hosts")
        self.alerts = AlertsPane(detecting=detecting_anomalies, id="alerts")
        self.seen_finished = False

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.history_panel
        yield self.table
        yield self.hosts
        yield Input(placeholder="host:1.2.3.4 host:example port:443 proto:udp state:estab !port:22"
                                " · Enter keeps, Esc clears", id="filter")
        yield self.alerts
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.table.focus()

    @property
    def showing_hosts(self) -> bool:
        return self.has_class("-hosts")

    @property
    def active_table(self) -> FlowsTable | HostsTable:
        return self.hosts if self.showing_hosts else self.table

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_SCREEN, "-short")
        self.set_class(event.size.height < TINY_SCREEN, "-tiny")

    def show(self, snapshot: TickSnapshot, view: HeaderView) -> None:
        """Draw one snapshot (the app calls this only while the display is not frozen)."""
        self.header.show(snapshot, view)
        self.history_panel.refresh_charts(view.units, (snapshot.bps / 8, snapshot.pps))
        if snapshot.state == "finished" and not self.seen_finished:
            self.seen_finished = True  # once: a sort chosen after the end stays chosen
            if self.table.sort_key is SortKey.RATE:
                self.table.set_sort(SortKey.TOTAL)  # nothing moves any more: the heaviest flows
            if self.hosts.sort_by == "rate":
                self.hosts.set_sort("bytes")  # and hosts
        # ages count on the capture's clock: a replay's packet time; live, the wall clock, which
        # keeps running when the network goes quiet (the newest packet's time would stop)
        live_source = snapshot.source.kind == "live"
        live = live_source or snapshot.capture_time is None
        now = snapshot.wall_time if live else snapshot.capture_time
        self.table.show(snapshot.top_flows, now, snapshot.flow_names, snapshot.matching_flows, snapshot.ranked_for,
                        snapshot.flow_owners if live_source else None)
        if self.showing_hosts:
            self.hosts.show(snapshot.top_hosts, snapshot.hosts_by, snapshot.host_count, snapshot.host_names,
                            snapshot.ranked_for)
        self.alerts.redraw()

    def set_units(self, units: Units) -> None:
        self.table.set_units(units)
        self.hosts.set_units(units)
        self.history_panel.refresh_charts(units)

    # -- sorting -----------------------------------------------------------------------------------
    def action_cycle_sort(self) -> None:
        self.active_table.cycle_sort()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.data_table is self.hosts:
            by = self.hosts.column_sort(event.column_key.value or "")
            if by is not None:
                self.hosts.set_sort(by)
            return
        key = self.table.column_sort(event.column_key.value or "")
        if key is None:
            return
        reverse = not self.table.reverse if key is self.table.sort_key else False
        self.table.set_sort(key, reverse)

    # Both come from the table, but are often posted while this screen handles a key or the
    # filter input, and Textual stops a message at the screen that was handling one when it
    # was created: so the screen, not the app, tells the engine.
    def on_flows_table_ranking_changed(self, message: FlowsTable.RankingChanged) -> None:
        """Sorting by total bytes must show the heaviest flows, not the fastest ones re-sorted."""
        self.app.link.send(SetRanking(message.by))

    def on_flows_table_filter_changed(self, message: FlowsTable.FilterChanged) -> None:
        """A filtered table shows the top N of the matching flows, not the matches among the top N."""
        self.app.link.send(SetFilter(message.text))

    def on_hosts_table_ranking_changed(self, message: HostsTable.RankingChanged) -> None:
        if self.showing_hosts:
            self.app.link.send(SetHostView(message.by))

    def action_toggle_names(self) -> None:
        self.table.set_show_names(not self.table.show_names)
        self.hosts.set_show_names(self.table.show_names)

    # -- the Hosts view ----------------------------------------------------------------------------
    def action_toggle_hosts(self) -> None:
        """Flows or hosts: the engine sums its table by address only while the Hosts view is open."""
        hosts = not self.showing_hosts
        self.set_class(hosts, "-hosts")
        self.app.link.send(SetHostView(self.hosts.sort_by if hosts else None))
        if hosts:
            self.hosts.show((), None, 0, {}, "")  # "updating…" until the engine's first sums
        self.active_table.focus()

    def show_flows_of(self, address: str) -> None:
        """Enter on a host: the flow list, filtered by it (what Wireshark's "Apply as Filter" does)."""
        self.filter_input.value = f"host:{address}"  # parsed and applied by on_input_changed
        self.filter_input.remove_class("-active")
        self.action_toggle_hosts()

    # -- filtering ---------------------------------------------------------------------------------
    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    def action_open_filter(self) -> None:
        self.filter_input.add_class("-active")
        self.call_after_refresh(self.filter_input.focus)  # it can take focus once displayed

    def action_clear_filter(self) -> None:
        field = self.filter_input
        field.value = ""
        field.remove_class("-active", "-invalid")
        self.table.set_filter_error(None)
        self.table.set_filter(NO_FILTER)
        self.hosts.set_filter(NO_FILTER)
        self.active_table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Each keystroke applies the text when it parses; while it does not, the last filter that
        did stays applied and the error stays under the table until the text is fixed."""
        event.stop()
        try:
            display_filter = parse_filter(event.value)
        except FilterError as exc:
            event.input.add_class("-invalid")
            event.input.tooltip = str(exc)
            self.table.set_filter_error(str(exc))
            return
        event.input.remove_class("-invalid")
        event.input.tooltip = None
        self.table.set_filter_error(None)
        self.table.set_filter(display_filter)
        self.hosts.set_filter(display_filter)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter keeps the filter (shown under the table) and gives the keys back to the table;
        on text that does not parse it keeps the input open, the error shown (Esc clears)."""
        event.stop()
        if not event.value.strip():
            self.action_clear_filter()
            return
        try:
            parse_filter(event.value)
        except FilterError as exc:
            event.input.add_class("-invalid")  # Input's own validation on submit drops the class
            self.table.set_filter_error(str(exc))
            return
        event.input.remove_class("-active")
        self.active_table.focus()
