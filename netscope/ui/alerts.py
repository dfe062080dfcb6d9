"""The alerts pane: the engine's alert stream, newest first, the last MAX_ALERTS kept.

Each line is the capture time of the packet that raised it (UTC), the kind, the hosts
involved and the description. Lines are ordered by that time rather than by arrival, since a
sharded engine may publish one worker's alerts a tick after another's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from netscope.analysis.alerts import Alert
from netscope.ui import formatting

MAX_ALERTS = 200  # as the reference's dashboard keeps
HOSTS_LISTED = 3  # hosts named on an alert's line; the rest are counted


def hosts_text(hosts: Sequence[str]) -> str:
    """The involved hosts, first on the line (after time and kind) so a narrow pane still shows them."""
    listed = ", ".join(hosts[:HOSTS_LISTED])
    return listed if len(hosts) <= HOSTS_LISTED else f"{listed} +{len(hosts) - HOSTS_LISTED}"


class AlertsPane(VerticalScroll):
    DEFAULT_CSS = """
    AlertsPane {
        height: 4;
        border: round $primary 40%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        scrollbar-size-vertical: 1;
        padding: 0 1;
    }
    AlertsPane.-has-alerts {
        border: round $error 70%;
    }
    AlertsPane > Static {
        width: 100%;
    }
    """

    can_focus = False

    def __init__(self, *, detecting: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detecting = detecting  # anomaly detection is on: "no alerts" means none was raised
        self.alerts: deque[Alert] = deque(maxlen=MAX_ALERTS)
        self.received = 0  # alerts ever added
        self._drawn = 0  # `received` when last drawn: redrawing re-lays out the pane, so only on news
        self.border_title = "Alerts"

    def compose(self):
        # Detection is off by default (as in the reference), and an empty pane would read as
        # "nothing suspicious" when nothing was looked for.
        empty = "no alerts" if self.detecting else "no alerts: anomaly detection is off (start with --anomalies)"
        yield Static(Content.styled(empty, "$text-muted italic"))

    def add(self, alerts: Sequence[Alert]) -> None:
        """Record new alerts (kept even while the display is frozen)."""
        self.alerts.extend(alerts)
        self.received += len(alerts)

    def redraw(self) -> None:
        if self.received == self._drawn:
            return
        self._drawn = self.received
        self.set_class(True, "-has-alerts")
        kept = "" if self.received <= len(self.alerts) else f", newest {len(self.alerts)} kept"
        self.border_title = f"Alerts ({self.received}{kept})"
        self.border_subtitle = "capture time, UTC"
        lines = [
            Content.assemble(
                (formatting.clock(alert.ts), "$text-muted"), "  ",
                (f"{alert.kind:<10}", "bold $error"), "  ",
                (f"{hosts_text(alert.hosts)}  " if alert.hosts else "", "bold"),
                alert.description,
            )
            for alert in sorted(reversed(self.alerts), key=lambda alert: alert.ts, reverse=True)  # ties: last in first
        ]
        self.query_one(Static).update(Content("\n").join(lines))
