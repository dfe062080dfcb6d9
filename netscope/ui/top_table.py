"""What the flows and the hosts tables share: a bordered row table that fits its width.

Both list a tick's top N, one row per flow or address, with columns planned to fit: there is
nothing to the side, so Home and End go to the first and last row, as in htop, instead of
DataTable's sideways scroll.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable

CELL_PADDING = 1


class TopTable(DataTable):
    DEFAULT_CSS = """
    TopTable {
        height: 1fr;
        max-height: 100%;
        border: round $primary 40%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
        scrollbar-gutter: stable;  /* the column plan's width must not change when rows outgrow the height */
    }
    TopTable:focus {
        border: round $primary;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=CELL_PADDING)
