"""Throughput history: bits/s and packets/s over the last `history_points` ticks (live) or
seconds of capture time (a replay, whatever its speed: engine/seconds.py).

Drawn with Textual's own Sparkline (no extra dependency, eighth-block glyphs, multi-line
height, colours from the theme so NO_COLOR and theme changes just work). Two things are
added on top of it, because a person watches this for hours:

* a fixed time axis: each screen column always covers the same ticks (buckets aligned
  to the tick count, newest at the right, blank on the left until history fills), so
  the picture scrolls instead of stretching. A replay's capture seconds start at one
  column each and share columns only once they outnumber the columns (a capture of a few
  seconds would otherwise be one bar at the right), as an I/O graph zooms out to fit;
* a zero baseline: Sparkline scales from the smallest to the largest value it is given,
  which turns ±1 % noise on a steady link into a sawtooth. Each column is handed to it
  as the pair (0, peak) and summarised with max, so its minimum is always 0.
"""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline

from netscope.engine.snapshot import CaptureSeconds
from netscope.ui import formatting
from netscope.ui.formatting import Units


class ThroughputHistory:
    """One (bytes/s, packets/s) point per tick or per capture second, keeping the last `capacity`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.bytes_per_s: deque[float] = deque(maxlen=capacity)
        self.packets_per_s: deque[float] = deque(maxlen=capacity)
        self.added = 0  # points ever added: aligns buckets so columns do not shift every tick
        self.by_capture_second = False  # a replay's points are capture seconds, not ticks
        self._last_second: int | None = None

    def add(self, bytes_per_s: float, packets_per_s: float) -> None:
        self.bytes_per_s.append(bytes_per_s)
        self.packets_per_s.append(packets_per_s)
        self.added += 1

    def add_seconds(self, seconds: CaptureSeconds) -> None:
        """A replay's completed capture seconds; the silent seconds between two are zeros (at most
        a screenful of them: a capture that pauses for a day needs no day of zeros)."""
        self.by_capture_second = True
        for second, wire_bytes, packets in zip(seconds.second.tolist(), seconds.bytes.tolist(),
                                               seconds.packets.tolist(), strict=True):
            if self._last_second is not None and second > self._last_second + 1:
                for _ in range(min(second - self._last_second - 1, self.capacity)):
                    self.add(0.0, 0.0)
            self.add(float(wire_bytes), float(packets))
            self._last_second = second

    def points_per_column(self, width: int) -> int:
        span = min(self.added, self.capacity) if self.by_capture_second else self.capacity
        return max(1, -(-span // width))

    def window_points(self, width: int) -> int:
        """How many points (ticks or capture seconds) a chart `width` columns wide covers."""
        return min(self.capacity, width * self.points_per_column(width)) if width > 0 else self.capacity

    def columns(self, series: deque[float], width: int) -> list[float]:
        """The peak of each column's ticks, oldest column first, exactly `width` values."""
        if width <= 0:
            return []
        per_column = self.points_per_column(width)
        shown = min(width, -(-self.capacity // per_column))
        peaks = [0.0] * shown
        newest_bucket = (self.added - 1) // per_column
        first_index = self.added - len(series)  # absolute index of series[0]
        for offset, value in enumerate(series):
            column = shown - 1 - (newest_bucket - (first_index + offset) // per_column)
            if column >= 0 and value > peaks[column]:
                peaks[column] = value
        return [0.0] * (width - shown) + peaks


class ColumnSparkline(Sparkline):
    """Textual's Sparkline, handed one (0, peak) pair per column of its width when it renders."""

    def __init__(self, history: ThroughputHistory, series: deque[float]) -> None:
        super().__init__([], summary_function=max)
        self.history = history
        self.series = series

    def render(self) -> RenderResult:
        columns = self.history.columns(self.series, self.size.width)
        self.set_reactive(Sparkline.data, [value for peak in columns for value in (0.0, peak)])
        return super().render()


class HistoryChart(Vertical):
    """One series: a sparkline under a border title with the current value and the peak."""

    DEFAULT_CSS = """
    HistoryChart {
        border: round $primary 40%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        height: 100%;
        width: 1fr;
        padding: 0 1;
    }
    HistoryChart ColumnSparkline {
        height: 1fr;
    }
    """

    def __init__(self, title: str, history: ThroughputHistory, series: deque[float], *, id: str) -> None:
        super().__init__(id=id)
        self.title = title
        self.sparkline = ColumnSparkline(history, series)

    def compose(self) -> ComposeResult:
        yield self.sparkline

    def show(self, now: str, peak: str) -> None:
        self.border_title = f"{self.title}  [b]{now}[/b]"
        self.border_subtitle = f"peak {peak}"
        self.sparkline.refresh()


class HistoryPanel(Horizontal):
    """Bits/s (or bytes/s) and packets/s side by side, titled with the window they cover: ticks
    of wall time live, seconds of capture time for a replay."""

    DEFAULT_CSS = """
    HistoryPanel {
        height: 5;
    }
    #bps-chart ColumnSparkline > .sparkline--max-color { color: $success; }
    #bps-chart ColumnSparkline > .sparkline--min-color { color: $success 35%; }
    #pps-chart ColumnSparkline > .sparkline--max-color { color: $accent; }
    #pps-chart ColumnSparkline > .sparkline--min-color { color: $accent 35%; }
    """

    def __init__(self, history: ThroughputHistory, window_s: float) -> None:
        super().__init__()
        self.history = history
        self.window = formatting.age(window_s)
        self.now = (0.0, 0.0)

    def compose(self) -> ComposeResult:
        yield HistoryChart("throughput", self.history, self.history.bytes_per_s, id="bps-chart")
        yield HistoryChart("packets", self.history, self.history.packets_per_s, id="pps-chart")

    def refresh_charts(self, units: Units, now: tuple[float, float] | None = None) -> None:
        """Redraw both charts; `now` is the (bytes/s, packets/s) the header shows, which the
        titles repeat (a finished replay's graph keeps its last points, but nothing moves now)."""
        history = self.history
        if now is not None:
            self.now = now
        now_bytes, now_packets = self.now
        peak_bytes = max(history.bytes_per_s, default=0.0)
        peak_packets = max(history.packets_per_s, default=0.0)
        if history.by_capture_second:
            width = self.query_one("#bps-chart", HistoryChart).sparkline.size.width
            window = f"{formatting.age(history.window_points(width))} of capture"
        else:
            window = self.window
        self.query_one("#bps-chart", HistoryChart).show(
            formatting.rate(now_bytes, units), f"{formatting.rate(peak_bytes, units)} · {window}",
        )
        self.query_one("#pps-chart", HistoryChart).show(
            formatting.packet_rate(now_packets), f"{formatting.packet_rate(peak_packets)} · {window}",
        )
