"""The Hosts view (`h`): the busiest addresses, each with its flows summed, as Wireshark's
Endpoints, iftop's per-host totals and bandwhich's remote addresses show them.

The engine ranks the addresses over its whole flow table (flow/hosts.py) by the sort asked
for, among the flows the `/` filter's address, port, protocol and state terms match; this
table shows them in that order. What only text can match (part of an address or a name)
is applied here, to the address and its name. Enter on a host filters the flow list by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.message import Message

from netscope.flow.query import host_network
from netscope.flow.records import HOST_RANKINGS, HostRow
from netscope.ui import formatting
from netscope.ui.filters import NO_FILTER, DisplayFilter
from netscope.ui.formatting import Units
from netscope.ui.top_table import CELL_PADDING, TopTable

SORT_LABELS = {"rate": "rate", "bytes": "total bytes", "packets": "packets", "flows": "flows"}
HOST_MIN = 15  # a whole IPv4 address; the host takes whatever else is left (names can be long)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    sort: str | None = None  # the engine ranking a click on the header asks for


RANK = Column("rank", "#", 3)
FLOWS = Column("flows", "Flows", 6, sort="flows")
PACKETS = Column("packets", "Packets", 9, sort="packets")
SENT = Column("sent", "Sent", 9, sort="bytes")
RECEIVED = Column("received", "Received", 9, sort="bytes")
RATE = Column("rate", "Rate", 11, sort="rate")
TOTAL = Column("total", "Total", 9, sort="bytes")
DROP_ORDER = (PACKETS, SENT, RECEIVED, FLOWS)  # first to give way on a narrow terminal
FIXED = (RANK, FLOWS, PACKETS, SENT, RECEIVED, RATE, TOTAL)


def plan_columns(available: int) -> list[Column]:
    """Every column that fits with the host's at HOST_MIN or more; the host takes what is left."""
    fixed = list(FIXED)
    need = lambda columns: sum(c.width + 2 * CELL_PADDING for c in columns) + HOST_MIN + 2 * CELL_PADDING  # noqa: E731
    for column in DROP_ORDER:
        if need(fixed) <= available:
            break
        fixed.remove(column)
    spare = available - sum(c.width + 2 * CELL_PADDING for c in fixed) - 2 * CELL_PADDING
    host = Column("host", "Host", max(HOST_MIN, spare))
    return [fixed[0], host, *fixed[1:]]


def text_terms_match(display_filter: DisplayFilter, row: HostRow, name: str | None) -> bool:
    """The filter's host terms the engine could not evaluate (a part of an address or a name),
    against this host; the engine applied the rest to the flows it summed."""
    for term in display_filter.terms:
        if term.key != "host" or host_network(term.value) is not None:
            continue
        needle = term.value.lower()
        found = needle in row.address.lower() or (name is not None and needle in name.lower())
        if found == term.negated:
            return False
    return True


class HostsTable(TopTable):
    """The latest top-N hosts; rows keyed by address, updated in place from tick to tick."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sort_by = "rate"
        self.rows_in: Sequence[HostRow] = ()
        self.ranked_by: str | None = None  # the ranking the engine sent rows_in by
        self.host_count = 0
        self.names: Mapping[str, str] = {}
        self.show_names = False
        self.units = Units.BITS
        self.display_filter: DisplayFilter = NO_FILTER
        self.ranked_for = ""  # the filter text the engine summed rows_in under
        self.shown: list[HostRow] = []
        self._plan: list[Column] = []

    class RankingChanged(Message):
        """The view wants the top hosts by another ranking from the engine."""

        def __init__(self, by: str) -> None:
            super().__init__()
            self.by = by

    # -- public: what the screen changes ---------------------------------------------------
    def show(self, rows: Sequence[HostRow], ranked_by: str | None, host_count: int, names: Mapping[str, str],
             ranked_for: str) -> None:
        self.rows_in, self.ranked_by, self.host_count = rows, ranked_by, host_count
        self.names, self.ranked_for = names, ranked_for
        self.redraw()

    def set_sort(self, by: str) -> None:
        if by != self.sort_by:
            self.sort_by = by
            self.post_message(self.RankingChanged(by))
            self.redraw()

    def cycle_sort(self) -> None:
        self.set_sort(HOST_RANKINGS[(HOST_RANKINGS.index(self.sort_by) + 1) % len(HOST_RANKINGS)])

    def column_sort(self, column_key: str) -> str | None:
        return next((c.sort for c in self._plan if c.key == column_key), None)

    def set_filter(self, display_filter: DisplayFilter) -> None:
        self.display_filter = display_filter
        self.redraw()

    def set_show_names(self, show: bool) -> None:
        self.show_names = show
        self.redraw()

    def set_units(self, units: Units) -> None:
        self.units = units
        self.redraw()

    @property
    def awaiting_engine(self) -> bool:
        """The sort or filter changed since the engine summed these rows."""
        return self.ranked_by != self.sort_by or self.ranked_for != self.display_filter.text

    @property
    def selected_host(self) -> HostRow | None:
        if not self.row_count:
            return None
        address = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return next((row for row in self.shown if row.address == address), None)

    # -- drawing -----------------------------------------------------------------------------
    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        plan = plan_columns(self.scrollable_content_region.width or 80)
        if plan != self._plan:
            self.clear(columns=True)
            self._plan = plan
            for column in plan:
                self.add_column(self._header(column), width=column.width, key=column.key)
        selected = self.selected_host
        shown = [row for row in self.rows_in if text_terms_match(self.display_filter, row, self.names.get(row.address))]
        wanted = {row.address for row in shown}
        for stale in [key.value for key in self.rows if key.value not in wanted]:
            self.remove_row(stale)
        for rank, row in enumerate(shown, 1):
            cells = self._cells(rank, row)
            if row.address in self.rows:
                for column, cell in zip(self._plan, cells, strict=True):
                    self.update_cell(row.address, column.key, cell)
            else:
                self.add_row(*cells, key=row.address)
        for column in self._plan:
            self.columns[column.key].label = self._header(column)
        if shown:
            self.sort("rank", key=lambda cell: int(cell.plain))
            if selected is not None and self.cursor_row > 0 and selected.address in wanted:
                self.move_cursor(row=self.get_row_index(selected.address), animate=False)
        self.shown = shown
        self._update_titles()

    def _header(self, column: Column) -> Text:
        label = column.label + (" ▼" if column.sort == self.sort_by and column.key in ("rate", "total", "flows",
                                                                                          "packets") else "")
        return Text(label, justify="left" if column.key == "host" else "right")

    def _cells(self, rank: int, row: HostRow) -> list[Text]:
        colours = self.app.theme_variables
        name = self.names.get(row.address) if self.show_names else None
        cells = []
        for column in self._plan:
            style = ""
            if column.key == "rank":
                text, style = str(rank), "dim"
            elif column.key == "host":
                text, style = formatting.squeeze(name or row.address, column.width), "italic" if name else ""
            elif column.key == "flows":
                text = formatting.count(row.flows)
            elif column.key == "packets":
                text = formatting.count(row.packets_total)
            elif column.key == "sent":
                text = formatting.size(row.tx_bytes)
            elif column.key == "received":
                text = formatting.size(row.rx_bytes)
            elif column.key == "rate":
                text = formatting.rate(row.rate_bps / 8, self.units) if row.rate_bps else "·"
                style = f"bold {colours.get('success', '')}" if row.rate_bps else "dim"
            else:
                text = formatting.size(row.bytes_total)
            cells.append(Text(text, style=style, justify="left" if column.key == "host" else "right", no_wrap=True))
        return cells

    def _update_titles(self) -> None:
        names = " [dim]·[/dim] names" if self.show_names else ""
        self.border_title = f"Hosts [dim]by[/dim] {SORT_LABELS[self.sort_by]} ▼{names}"
        if self.awaiting_engine:
            self.border_subtitle = "updating…"
        elif self.display_filter:
            found = f"{len(self.shown)} of {self.host_count:,} hosts" if self.host_count else "no host matches"
            if any(term.key == "proc" for term in self.display_filter.terms):
                found += " · proc: narrows the flow list only"  # a host has no one program
            self.border_subtitle = f"filter [b]{self.display_filter.text}[/b] · {found}"
        else:
            self.border_subtitle = f"top {len(self.shown)} of {self.host_count:,}" if self.host_count \
                else "no hosts yet"
