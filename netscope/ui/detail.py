"""The flow detail screen (Enter on a row): counters both ways, TCP state and health, the
names seen for the flow, and its recent packets decoded on demand, with a hex view of the
highlighted one.

The engine only starts following a flow's packets once asked, so the screen asks again on
every tick while it is open; each answer replaces the packet list, keeping the cursor on
the same packet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from netscope.analysis.names import FlowNames
from netscope.engine.messages import FlowDetail, FlowKey, PacketRecord
from netscope.engine.snapshot import FlowOwners
from netscope.flow.records import FlowRow
from netscope.ui import formatting
from netscope.ui.flow_rate import FlowRateHistory, sparkline
from netscope.ui.formatting import Units
from netscope.ui.header import DropWatch, HeaderBar
from netscope.ui.packet_decode import DecodedPacket, decode, direction, hex_dump

INFO_WIDTH = 160
CLIENT_TEXT = {"a_to_b": "A opened it (sent the first SYN)", "b_to_a": "B opened it (sent the first SYN)"}


class FlowSummary(Static):
    DEFAULT_CSS = """
    FlowSummary {
        border: round $primary 40%;
        border-title-color: $text;
        padding: 0 1;
        height: auto;
    }
    """

    def show(self, key: FlowKey, flow: FlowRow | None, expired: bool, units: Units,
             names: FlowNames | None = None, owners: FlowOwners | None = None,
             rates: FlowRateHistory | None = None) -> None:
        proto, a_ip, a_port, b_ip, b_port = key
        self.border_title = (f"[b]{proto}[/b]  {formatting.endpoint(a_ip, a_port)}  ⇄  "
                             f"{formatting.endpoint(b_ip, b_port)}")
        if flow is None:
            self.update(Content.styled("waiting for the engine's answer…", "$text-muted italic"))
            return
        state = flow.tcp_state or ("no state (udp)" if proto == "udp" else "—")
        line1 = Content.assemble(
            ("state ", "$text-muted"), (state, "bold"),
            ("  ·  ", "$text-muted"), (CLIENT_TEXT.get(flow.client or "", "opener not seen"), ""),
            ("  ·  rate ", "$text-muted"), (formatting.rate(flow.rate_bps / 8, units), "bold $success"),
            ("  (expired)", "bold $warning") if expired else "",
        )
        line2 = Content.assemble(
            ("first ", "$text-muted"), formatting.date_time(flow.first_seen),
            ("  last ", "$text-muted"), formatting.clock(flow.last_seen, micros=True),
            ("  duration ", "$text-muted"), formatting.duration(flow.duration),
        )
        rows = [("", "A → B", "B → A", "total"),
                ("packets", formatting.count(flow.packets_ab), formatting.count(flow.packets_ba),
                 formatting.count(flow.packets_total)),
                ("bytes", formatting.size(flow.bytes_ab), formatting.size(flow.bytes_ba),
                 formatting.size(flow.bytes_total))]
        table = [Content.assemble((f"{r[0]:<8}", "$text-muted"), *(f"{cell:>11}" for cell in r[1:])) for r in rows]
        table[0] = table[0].stylize("bold")
        lines = [line1, line2, names_line(names), *([owners_line(owners)] if owners else [])]
        if rates is not None and rates.rates:
            lines.append(rate_line(rates, units, max(10, self.size.width - 40)))
        if proto == "tcp":
            lines += health_lines(flow)
        self.update(Content("\n").join([*lines, *table]))


def _labelled(pairs: list[tuple[str, str]]) -> list[tuple[str, str] | str]:
    """`label value` pairs, muted labels and bold values, two spaces apart."""
    parts: list[tuple[str, str] | str] = []
    for label, value in pairs:
        parts += [(f"  {label} " if parts else f"{label} ", "$text-muted"),
                  (value, "bold" if value != formatting.MISSING else "$text-muted")]
    return parts


def names_line(names: FlowNames | None) -> Content:
    """Endpoint names (from DNS answers), then what the flow itself asked for: SNI, Host, DNS question."""
    names = names or FlowNames()
    return Content.assemble(("names    ", "$text-muted"), *_labelled([
        (label, value or formatting.MISSING) for label, value in (
            ("A", names.name_a), ("B", names.name_b), ("SNI", names.sni), ("HTTP Host", names.http_host),
            ("DNS question", names.dns_query))]))


def rate_line(rates: FlowRateHistory, units: Units, width: int) -> Content:
    """The flow's rate tick by tick since the screen opened, newest at the right."""
    line = sparkline(list(rates.rates), width)
    return Content.assemble(("rate     ", "$text-muted"), (line, "$success"),
                            (f"  peak {formatting.rate(rates.peak, units)}", "$text-muted"),
                            (f" · {len(line)} ticks", "$text-muted"))


def owners_line(owners: FlowOwners) -> Content:
    """The local programs holding each end's socket (a live capture on this host)."""
    return Content.assemble(("process  ", "$text-muted"), *_labelled([
        (label, f"{owner[1]} (pid {owner[0]})" if owner else formatting.MISSING)
        for label, owner in zip(("A", "B"), owners, strict=True)]))


def health_lines(flow: FlowRow) -> list[Content]:
    """RTT (smoothed, last, min, from the handshake) with its sample count; retransmitted and reordered segments."""
    rtt = Content.assemble(("rtt      ", "$text-muted"), *_labelled([
        ("ewma", formatting.millis(flow.rtt_ms)), ("last", formatting.millis(flow.rtt_last_ms)),
        ("min", formatting.millis(flow.rtt_min_ms)), ("handshake", formatting.millis(flow.rtt_handshake_ms)),
        ("samples", formatting.optional_count(flow.rtt_samples))]))
    segments = Content.assemble(("segments ", "$text-muted"), *_labelled([
        ("retransmitted", formatting.optional_count(flow.retransmissions)),
        ("out of order", formatting.optional_count(flow.out_of_order))]))
    return [rtt, segments]


class PacketView(VerticalScroll):
    """Decoded layers of one packet, then its bytes in hex."""

    DEFAULT_CSS = """
    PacketView {
        border: round $primary 40%;
        border-title-color: $text;
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("no packet selected", "$text-muted italic"))

    def show(self, record: PacketRecord | None, decoded: DecodedPacket | None, more_to_come: bool = True) -> None:
        """`more_to_come`: the capture goes on (live, or a replay not finished), so packets may still arrive."""
        static = self.query_one(Static)
        if record is None or decoded is None:
            self.border_title = "Packet"
            # The engine keeps only the latest packets of all flows, then follows the inspected one.
            later = "; its packets from now on will show here" if more_to_come else ""
            static.update(Content.styled(f"none of this flow's packets are among the latest kept{later}",
                                         "$text-muted italic"))
            return
        shown = "" if len(record.data) >= record.wirelen else f", first {len(record.data)} shown"
        self.border_title = (f"Packet  {formatting.clock(record.ts, micros=True)}  "
                             f"{record.wirelen} bytes on the wire{shown}")
        colours = self.app.theme_variables
        layers = Table.grid(padding=(0, 1))
        layers.add_column(width=9, style=f"bold {colours.get('accent', '')}")
        layers.add_column(ratio=1)
        for layer in decoded.layers:
            fields = Text("  ").join(
                Text.assemble((name, "dim"), " ", (value, "bold")) for name, value in layer.fields
            )
            layers.add_row(layer.name, fields)
        dump = Text("\n").join(Text.assemble((row[:4], "dim"), row[4:]) for row in hex_dump(record.data))
        static.update(Group(layers, Text(""), dump))


class FlowDetailScreen(Screen):
    """Opened from the flows table; Esc goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    DEFAULT_CSS = """
    FlowDetailScreen { overflow: hidden; }  /* a short terminal cuts the bottom, never scrolls the screen */
    FlowDetailScreen #summary { max-height: 45%; }
    FlowDetailScreen #packets {
        height: 1fr;
        min-height: 5;
        border: round $primary 40%;
        border-title-color: $text;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    FlowDetailScreen #packets:focus { border: round $primary; }
    """

    def __init__(self, key: FlowKey, row: FlowRow | None, drops: DropWatch,
                 request: Callable[[FlowKey], None], units: Units, names: FlowNames | None = None,
                 owners: FlowOwners | None = None) -> None:
        super().__init__()
        self.key = key
        self.flow = row
        self.names = names
        self.owners = owners
        self.rates = FlowRateHistory()
        self.expired = False
        self.header = HeaderBar(drops)
        self.request = request
        self.units = units
        self.records: tuple[PacketRecord, ...] = ()
        self.decoded: dict[str, tuple[PacketRecord, DecodedPacket]] = {}

    def compose(self) -> ComposeResult:
        yield self.header
        yield FlowSummary(id="summary")
        table: DataTable = DataTable(id="packets", cursor_type="row", zebra_stripes=True)
        table.border_title = "Recent packets"
        yield table
        yield PacketView(id="packet")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#packets", DataTable)
        table.add_column("Time", width=15, key="time")
        table.add_column("Dir", width=3, key="dir")
        table.add_column(Text("Len", justify="right"), width=5, key="len")
        table.add_column("Proto", width=5, key="proto")
        table.add_column("Info", width=INFO_WIDTH, key="info")  # cut at the edge (overflow-x hidden)
        table.focus()
        self._show_summary()
        self.query_one(PacketView).show(None, None, self._more_to_come)
        self.request(self.key)

    # -- fed by the app ------------------------------------------------------------------------
    def tick(self, row: FlowRow | None, names: FlowNames | None = None, owners: FlowOwners | None = None) -> None:
        """A new snapshot: take the fresher counters (names, owners) if the flow is in it, ask for packets."""
        if row is not None:
            self.flow = row
            self.names = names or self.names
            self.owners = owners or self.owners
            self._show_summary()
        self.request(self.key)

    def apply(self, detail: FlowDetail) -> None:
        if detail.key != self.key:
            return
        self.expired = detail.flow is None
        if detail.flow is not None:
            self.flow = detail.flow
            snapshot = self.header.snapshot
            if snapshot is not None:
                live = snapshot.source.kind == "live" or snapshot.capture_time is None
                self.rates.add(snapshot.wall_time if live else snapshot.capture_time, detail.flow.bytes_total)
        self.names = detail.names or self.names
        self._show_summary()
        if detail.packets != self.records:
            self.records = detail.packets
            self._fill_packets()

    def set_units(self, units: Units) -> None:
        self.units = units
        self._show_summary()

    # -- drawing ---------------------------------------------------------------------------------
    @property
    def _more_to_come(self) -> bool:
        snapshot = self.header.snapshot
        return snapshot is None or snapshot.state != "finished"

    def _show_summary(self) -> None:
        self.query_one(FlowSummary).show(self.key, self.flow, self.expired, self.units, self.names, self.owners,
                                         self.rates)

    def _fill_packets(self) -> None:
        table = self.query_one("#packets", DataTable)
        previous = None
        if table.row_count:
            previous = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        self.decoded = {}
        seen: Counter[str] = Counter()
        for record in reversed(self.records):  # newest first
            packet = decode(record)
            identity = f"{record.ts!r}/{record.wirelen}/{hash(record.data)}"
            seen[identity] += 1
            key = f"{identity}/{seen[identity]}"
            self.decoded[key] = (record, packet)
            table.add_row(
                formatting.clock(record.ts, micros=True),
                direction(packet, self.key),
                Text(str(record.wirelen), justify="right"),
                packet.protocol,
                Text(packet.info, no_wrap=True),
                key=key,
            )
        table.border_title = f"Recent packets ({len(self.records)}, newest first)"
        if previous in self.decoded:
            table.move_cursor(row=table.get_row_index(previous), animate=False)
        self._show_packet()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_packet()

    def _show_packet(self) -> None:
        table = self.query_one("#packets", DataTable)
        view = self.query_one(PacketView)
        if not table.row_count:
            view.show(None, None, self._more_to_come)
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        record, packet = self.decoded[key or ""]
        view.show(record, packet)
