"""The `?` help screen: keys, the filter syntax, and what the columns mean."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("q  ctrl+c", "quit (exports are written on the way out)"),
    ("p", "freeze / unfreeze the display (capture goes on counting)"),
    ("space", "pause / resume a replay; on live capture, same as p"),
    ("+  -", "replay speed: 1× 2× 10× 100× max"),
    ("s", "sort: rate, total bytes, packets, age (or click a header)"),
    ("h", "hosts: each address's flows summed; Enter there lists a host's flows"),
    ("/", "filter the table; Enter keeps it, Esc clears it"),
    ("Enter", "flow detail: counters, its rate per tick, recent packets decoded, hex"),
    ("Esc", "back / clear the filter"),
    ("t", "rates in bits/s or bytes/s"),
    ("n", "names instead of addresses: DNS, SNI, Host seen; live, reverse DNS"),
    ("↑ ↓ PgUp PgDn", "move; row 1 watches the top, other rows keep their flow"),
    ("Home  End", "first / last flow of the table"),
    ("?", "this help"),
)

FILTERS = (
    ("host:10.0.0.1", "either endpoint; also host:10.0.0.0/8, host:db8 (part)"),
    ("host:example", "part of a name: DNS, SNI, HTTP Host or DNS question"),
    ("port:443", "either port; also port:8000-8100"),
    ("proto:udp", "tcp or udp"),
    ("state:estab", "TCP state (a prefix)"),
    ("proc:curl", "live: part of the name of the program at either end"),
    ("!port:22", "negate a term; terms are ANDed"),
    ("10.0.0.1 53 tcp", "bare words: address, port, protocol"),
)

COLUMNS = (
    ("Δ Bytes", "bytes the flow moved during the last tick"),
    ("Rate", "the same over the tick's length"),
    ("Total", "bytes since the flow was first seen"),
    ("Age", "time since first seen, on the capture's clock"),
    ("RTT", "smoothed TCP round-trip time (EWMA); – when not measured"),
    ("Retr", "TCP retransmissions seen; – for UDP"),
    ("Process", "live: the program holding the flow's socket here (a ⇄ b: both ends are local)"),
    ("Sent  Received", "hosts: bytes the address sent and received, in the flows listed"),
    ("bold endpoint", "the side that opened the connection"),
    ("italic endpoint", "a name (n): seen on the wire, or live by reverse DNS"),
)


def _section(title: str, rows: tuple[tuple[str, str], ...], width: int) -> Content:
    lines = [Content.styled(title, "bold $text-accent")]
    lines += [Content.assemble((f"  {key:<{width}}", "bold $accent"), (text, "")) for key, text in rows]
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 100%;
        max-width: 84;
        height: auto;
        max-height: 90%;
        border: round $primary;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 2;
        scrollbar-size-vertical: 1;
    }
    HelpScreen Static {
        width: 100%;
    }
    """

    def compose(self) -> ComposeResult:
        body = Content("\n\n").join([
            _section("Keys", KEYS, 17),
            _section("Display filter ( / )", FILTERS, 17),
            _section("Columns", COLUMNS, 17),
        ])
        with VerticalScroll() as box:
            box.border_title = "netscope help"
            box.border_subtitle = "Esc or ? closes"
            yield Static(body)
