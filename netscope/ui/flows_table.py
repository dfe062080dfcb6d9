"""The top-N flows table: sorted and filtered on the display side, rows keyed by flow.

Rows are updated in place and reordered by their rank cell rather than rebuilt, so the
table keeps its scroll position. Until the user moves the cursor it stays on the first row,
whichever flow is there (htop's view of the busiest); once moved off it, it stays on the
same flow (not on the same line) from one tick to the next, and back on the first row
(Home, or up to it) it watches the top again. Columns are planned from the width: at 80 cells the
least useful ones (tick bytes, TCP health, age, packets, state) give way, endpoints shrink
last. With names on (`n`), an endpoint shows the name the engine saw for it, in italics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from rich.text import Text
from textual.message import Message

from netscope.analysis.names import FlowNames
from netscope.engine.snapshot import FlowOwners
from netscope.flow.records import FlowRow
from netscope.ui import formatting
from netscope.ui.filters import NO_FILTER, DisplayFilter
from netscope.ui.formatting import Units
from netscope.ui.names import endpoint_names
from netscope.ui.top_table import CELL_PADDING, TopTable

FlowKey = tuple[str, str, int, str, int]


class SortKey(Enum):
    """What the table is ordered by; `s` cycles through the first four."""

    RATE = "rate"
    TOTAL = "total"
    PACKETS = "packets"
    AGE = "age"
    PROTO = "proto"
    A = "a"
    B = "b"
    STATE = "state"
    RTT = "rtt"
    RETRANSMISSIONS = "retr"
    PROCESS = "process"

    @property
    def label(self) -> str:
        return {"rate": "rate", "total": "total bytes", "packets": "packets", "age": "age", "rtt": "RTT",
                "retr": "retransmissions"}.get(self.value, self.value)


CYCLE = (SortKey.RATE, SortKey.TOTAL, SortKey.PACKETS, SortKey.AGE)
# The engine sends each tick's top N by one of these; the other sorts (RTT, state, names) order
# the top N by rate here, as the tracker has no ranking of its own for them.
ENGINE_RANKING = {SortKey.RATE: "rate", SortKey.TOTAL: "bytes", SortKey.PACKETS: "packets", SortKey.AGE: "age"}

# Biggest first for volumes and health (unmeasured last), oldest first for age, alphabetical for text.
_SORT_VALUE: dict[SortKey, Callable[[FlowRow], object]] = {
    SortKey.RATE: lambda r: -r.rate_bps,
    SortKey.TOTAL: lambda r: -r.bytes_total,
    SortKey.PACKETS: lambda r: -r.packets_total,
    SortKey.AGE: lambda r: r.first_seen,
    SortKey.PROTO: lambda r: r.proto,
    SortKey.A: lambda r: (r.a_ip, r.a_port),
    SortKey.B: lambda r: (r.b_ip, r.b_port),
    SortKey.STATE: lambda r: r.tcp_state or "",
    SortKey.RTT: lambda r: (r.rtt_ms is None, -(r.rtt_ms or 0.0)),
    SortKey.RETRANSMISSIONS: lambda r: (r.retransmissions is None, -(r.retransmissions or 0)),
}

STATE_LABELS = {
    "syn_sent": "syn-sent", "syn_ack": "syn-ack", "established": "estab", "fin_wait": "fin-wait",
    "closed": "closed", "reset": "reset", "unknown": "?",
}
STATE_STYLES = {"established": "success", "syn_sent": "warning", "syn_ack": "warning", "reset": "error"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    right: bool = False
    sort: SortKey | None = None


RANK = Column("rank", "#", 3, right=True)
PROTO = Column("proto", "Proto", 5, sort=SortKey.PROTO)
STATE = Column("state", "State", 8, sort=SortKey.STATE)
PACKETS = Column("packets", "Packets", 7, right=True, sort=SortKey.PACKETS)
TICK_BYTES = Column("tick", "Δ Bytes", 8, right=True, sort=SortKey.RATE)
RATE = Column("rate", "Rate", 10, right=True, sort=SortKey.RATE)
TOTAL = Column("total", "Total", 8, right=True, sort=SortKey.TOTAL)
AGE = Column("age", "Age", 6, right=True, sort=SortKey.AGE)
RTT = Column("rtt", "RTT", 6, right=True, sort=SortKey.RTT)  # smoothed (EWMA)
RETRANSMISSIONS = Column("retr", "Retr", 6, right=True, sort=SortKey.RETRANSMISSIONS)
PROCESS = Column("process", "Process", 14, sort=SortKey.PROCESS)  # live: the local program, as in bandwhich
ENDPOINT_MIN, ENDPOINT_MAX = 21, 32  # 21: a whole IPv4 endpoint, 255.255.255.255:65535
ENDPOINT_FLOOR = 11  # how far endpoints shrink (squeezed with an ellipsis) before rate or total goes
DROP_ORDER = ("tick", "retr", "rtt", "age", "packets", "state")  # first to go when the terminal is narrow
# Live, with the Process column: at 120 cells the program and the RTT stay, packets and age go.
LIVE_DROP_ORDER = ("tick", "retr", "age", "packets", "rtt", "process", "state")
# then these; neither list drops the column sorted by, nor the rank (rows are ordered by it)
LAST_RESORT = ("rate", "total", "proto")
SORT_MARK = " ▼"


def plan_columns(available: int, sort_key: SortKey = SortKey.RATE, process: bool = False) -> list[Column]:
    """The columns that fit in `available` cells, endpoints sharing what is left.

    Whole columns give way, never digits: below the width the essentials need at ENDPOINT_MIN,
    endpoints shrink to ENDPOINT_FLOOR, then rate or total goes (whichever the sort does not
    use), then the protocol. The column the table is sorted by stays, so the title's "by ..."
    always has its column. `process`: a live capture's table, with the Process column.
    """
    fixed = [_marked(c) if c.sort is sort_key and c.key != "tick" else c
             for c in (RANK, PROTO, *([PROCESS] if process else []), STATE, RTT, RETRANSMISSIONS, PACKETS, TICK_BYTES,
                       RATE, TOTAL, AGE)]
    pad = 2 * CELL_PADDING

    def need(columns: list[Column], endpoint: int = ENDPOINT_MIN) -> int:
        return sum(c.width + pad for c in columns) + 2 * (endpoint + pad)

    def drop(key: str) -> list[Column]:
        return [c for c in fixed if c.key != key or (c.sort is sort_key and key != "tick")]

    for key in LIVE_DROP_ORDER if process else DROP_ORDER:
        if need(fixed) <= available:
            break
        fixed = drop(key)
    for key in LAST_RESORT:
        if need(fixed, ENDPOINT_FLOOR) <= available:
            break
        fixed = drop(key)
    spare = available - sum(c.width + pad for c in fixed) - 2 * pad
    endpoint_width = max(ENDPOINT_FLOOR, min(ENDPOINT_MAX, spare // 2))
    a = Column("a", "Endpoint A", endpoint_width, sort=SortKey.A)
    b = Column("b", "Endpoint B", endpoint_width, sort=SortKey.B)
    lead = [c for c in fixed if c.key in (RANK.key, PROTO.key)]
    return [*lead, a, b, *(c for c in fixed if c not in lead)]


def _marked(column: Column) -> Column:
    """The sorted column, wide enough for its label and the ▼ / ▲ after it (Packets is not)."""
    return dataclasses.replace(column, width=max(column.width, len(column.label) + len(SORT_MARK)))


def row_key(key: FlowKey) -> str:
    return "|".join(map(str, key))


class FlowsTable(TopTable):
    """Shows the latest top-N rows; sort, filter and units are display-side choices."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows_in: Sequence[FlowRow] = ()
        self.matching: int | None = None
        self.ranked_for = ""  # the filter the engine picked rows_in by
        self.owners: Mapping[FlowKey, FlowOwners] = {}  # live: the sockets' processes
        self.process_column = False
        self.names: Mapping[FlowKey, FlowNames] = {}
        self.show_names = False
        self.now: float = 0.0
        self.sort_key = SortKey.RATE
        self.reverse = False
        self.display_filter: DisplayFilter = NO_FILTER
        self.filter_error: str | None = None  # why the text being typed is no filter (shown until fixed)
        self.units = Units.BITS
        self.shown: list[FlowRow] = []
        self._plan: list[Column] = []
        self._by_key: dict[str, FlowRow] = {}
        self._drawn: dict[str, list[tuple[str, str]]] = {}  # what each row's cells show now
        self._order: list[str] = []  # row keys in the order last sorted
        self._placed_row = 0  # where _fill last left the cursor: elsewhere now means the user moved it
        self._following = False  # the cursor stays on its flow (True) or on the first row

    # -- public: what the app changes ------------------------------------------------------
    def show(self, rows: Sequence[FlowRow], now: float, names: Mapping[FlowKey, FlowNames] | None = None,
             matching: int | None = None, ranked_for: str = "",
             owners: Mapping[FlowKey, FlowOwners] | None = None) -> None:
        """New rows from a tick; `now` is the capture clock the ages are measured against.

        `names` are the tick's names per flow key (the filter matches them even while hidden);
        `matching`, how many flows of the whole table the filter matches, when the engine knows;
        `ranked_for`, the filter text the engine picked the rows by; `owners`, on a live
        capture, the local processes at each end (their column shows once owners is given).
        """
        self.rows_in, self.now, self.names = rows, now, names or {}
        self.matching, self.ranked_for = matching, ranked_for
        self.process_column, self.owners = owners is not None, owners or {}
        self.redraw()

    @property
    def awaiting_engine(self) -> bool:
        """The filter changed since the engine picked these rows: until it sends the new filter's
        top N, the table shows what of the old rows matches, and knows no count."""
        return self.ranked_for != self.display_filter.text

    def set_show_names(self, show: bool) -> None:
        self.show_names = show
        self.redraw()

    class RankingChanged(Message):
        """The sort now wants other flows from the engine (`by`: a FlowTracker ranking)."""

        def __init__(self, by: str) -> None:
            super().__init__()
            self.by = by

    @property
    def engine_ranking(self) -> str:
        return ENGINE_RANKING.get(self.sort_key, "rate")

    def set_sort(self, key: SortKey, reverse: bool = False) -> None:
        before = self.engine_ranking
        self.sort_key, self.reverse = key, reverse
        self.redraw()
        if self.engine_ranking != before:
            self.post_message(self.RankingChanged(self.engine_ranking))

    def cycle_sort(self) -> None:
        position = CYCLE.index(self.sort_key) if self.sort_key in CYCLE else -1
        self.set_sort(CYCLE[(position + 1) % len(CYCLE)])

    class FilterChanged(Message):
        """The filter now wants other flows from the engine: the top N of its matches."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def set_filter(self, display_filter: DisplayFilter) -> None:
        changed = display_filter.text != self.display_filter.text
        self.display_filter = display_filter
        self.redraw()
        if changed:
            self.post_message(self.FilterChanged(display_filter.text))

    def set_filter_error(self, error: str | None) -> None:
        self.filter_error = error
        self._update_titles()

    def set_units(self, units: Units) -> None:
        self.units = units
        self.redraw()

    @property
    def selected_flow(self) -> FlowRow | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._by_key.get(key or "")

    def column_sort(self, column_key: str) -> SortKey | None:
        return next((c.sort for c in self._plan if c.key == column_key), None)

    # -- drawing -----------------------------------------------------------------------------
    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        selected = self.selected_flow
        plan = plan_columns(self.scrollable_content_region.width or 80, self.sort_key, self.process_column)
        if plan != self._plan:
            self.clear(columns=True)
            self._by_key, self._drawn, self._order = {}, {}, []
            self._plan = plan
            for column in plan:
                self.add_column(self._header(column), width=column.width, key=column.key)
        self._fill(selected.key if selected else None)
        self._update_titles()

    def _header(self, column: Column) -> Text:
        label = column.label
        if column.sort is self.sort_key and column.key != "tick":
            label += " ▲" if self.reverse else SORT_MARK
        return Text(label, justify="right" if column.right else "left")

    def _ordered(self) -> list[FlowRow]:
        shown = self.display_filter.matches
        rows = [r for r in self.rows_in if shown(r, self.names.get(r.key), self.owners.get(r.key))]
        value = self._process_order if self.sort_key is SortKey.PROCESS else _SORT_VALUE[self.sort_key]
        rows.sort(key=lambda r: (value(r), -r.bytes_total, r.key))
        if self.reverse:
            rows.reverse()
        return rows

    def _process_order(self, flow: FlowRow) -> tuple[bool, str]:
        label = owner_label(self.owners.get(flow.key))
        return label is None, label or ""

    def _fill(self, selected: FlowKey | None) -> None:
        """Bring the table's rows to `_ordered()` without rebuilding it."""
        ordered = self._ordered()
        wanted = {row_key(r.key): r for r in ordered}
        for stale in [k for k in self._by_key if k not in wanted]:
            self.remove_row(stale)
            del self._drawn[stale]
        cursor_row = self.cursor_row
        if cursor_row != self._placed_row:
            self._following = cursor_row > 0
        for rank, flow in enumerate(ordered, 1):
            key = row_key(flow.key)
            cells = self._cells(rank, flow)
            looks = [(cell.plain, str(cell.style)) for cell in cells]
            if key in self._by_key:
                drawn = self._drawn[key]
                for column, cell, look, old in zip(self._plan, cells, looks, drawn, strict=True):
                    if look != old:  # update_cell repaints: skip the many cells a tick leaves alone
                        self.update_cell(key, column.key, cell)
            else:
                self.add_row(*cells, key=key)
            self._drawn[key] = looks
        self._by_key = wanted
        self.shown = ordered
        labels = [self._header(column) for column in self._plan]
        relabel = [self.columns[c.key].label.plain for c in self._plan] != [label.plain for label in labels]
        for column, label in zip(self._plan, labels, strict=True):
            self.columns[column.key].label = label
        if ordered:
            if relabel or list(wanted) != self._order:  # sort() drops every cached cell render
                self.sort("rank", key=lambda cell: int(cell.plain))
                self._order = list(wanted)
            if not self._following:
                target = 0
            elif selected is not None and row_key(selected) in wanted:
                target = self.get_row_index(row_key(selected))
            else:
                target = min(cursor_row, len(ordered) - 1)
            if target != self.cursor_row or selected is None:
                self.move_cursor(row=target, animate=False)
            self._placed_row = target

    def _cells(self, rank: int, flow: FlowRow) -> list[Text]:
        colours = self.app.theme_variables
        name_a, name_b = endpoint_names(flow, self.names.get(flow.key)) if self.show_names else (None, None)
        cells = []
        for column in self._plan:
            style = ""
            if column.key == "rank":
                text = str(rank)
                style = "dim"
            elif column.key == "proto":
                text = flow.proto
            elif column.key == "a":
                text, style = _endpoint_cell(flow.a_ip, flow.a_port, name_a, column.width, flow.client == "a_to_b")
            elif column.key == "b":
                text, style = _endpoint_cell(flow.b_ip, flow.b_port, name_b, column.width, flow.client == "b_to_a")
            elif column.key == "state":
                text = STATE_LABELS.get(flow.tcp_state or "", "—") if flow.tcp_state else "—"
                style = colours.get(STATE_STYLES.get(flow.tcp_state or "", ""), "dim")
            elif column.key == "rtt":
                text = formatting.millis(flow.rtt_ms)
                style = "" if flow.rtt_ms is not None else "dim"
            elif column.key == "retr":
                text = formatting.optional_count(flow.retransmissions)
                style = colours.get("warning", "") if flow.retransmissions else "dim"
            elif column.key == "packets":
                text = formatting.count(flow.packets_total)
            elif column.key == "tick":
                text = formatting.size(flow.tick_bytes) if flow.tick_bytes else "·"
                style = "" if flow.tick_bytes else "dim"
            elif column.key == "rate":
                text = formatting.rate(flow.rate_bps / 8, self.units) if flow.rate_bps else "·"
                style = f"bold {colours.get('success', '')}" if flow.rate_bps else "dim"
            elif column.key == "total":
                text = formatting.size(flow.bytes_total)
            elif column.key == "process":
                label = owner_label(self.owners.get(flow.key))
                text, style = (formatting.squeeze(label, column.width), "") if label else ("—", "dim")
            else:
                text = formatting.age(self.now - flow.first_seen)
            cells.append(Text(text, style=style, justify="right" if column.right else "left", no_wrap=True))
        return cells

    def _update_titles(self) -> None:
        direction = "▲" if self.reverse else "▼"
        names = " [dim]·[/dim] names" if self.show_names else ""
        self.border_title = f"Flows [dim]by[/dim] {self.sort_key.label} {direction}{names}"
        total = len(self.rows_in)
        matching = None if self.awaiting_engine else self.matching
        if self.filter_error is not None:
            self.border_subtitle = f"[b $error]{self.filter_error}[/]"
        elif self.awaiting_engine and not self.shown:
            # Cleared after matching nothing, say: the engine has not sent the new rows yet.
            waiting = "updating…"
            self.border_subtitle = f"filter [b]{self.display_filter.text}[/b] · {waiting}" if self.display_filter \
                else waiting
        elif self.display_filter:
            # Of the flows the filter matches in the whole table when the engine counted them
            # (the rows are its first N), else of the rows received; "0 of 0" says nothing.
            of = f"{matching:,} matching" if matching is not None else f"{total}"
            any_found = matching if matching is not None else total
            found = f"{len(self.shown)} of {of}" if any_found else "no flow matches"
            self.border_subtitle = f"filter [b]{self.display_filter.text}[/b] · {found}"
        else:
            self.border_subtitle = f"top {total}" if total else "no flows yet"


def _endpoint_cell(ip: str, port: int, name: str | None, width: int, opened: bool) -> tuple[str, str]:
    """An endpoint's text and style: `name:port` in italics when a name is shown, bold for the opener."""
    text = f"{name}:{port}" if name else formatting.endpoint(ip, port)
    style = " ".join(word for word, wanted in (("bold", opened), ("italic", bool(name))) if wanted)
    return formatting.squeeze(text, width), style


def owner_label(owners: FlowOwners | None) -> str | None:
    """The program at the local end of a flow; both, when both ends are local programs that differ."""
    names = [owner[1] for owner in owners or () if owner is not None]
    if len(names) == 2 and names[0] != names[1]:
        return f"{names[0]} ⇄ {names[1]}"
    return names[0] if names else None
