"""One flow's rate while its detail screen is open, drawn as a line of eighth blocks.

The screen already asks the engine for the flow on every tick; each answer's byte total, on
the capture's clock (a replay's packet time, the wall clock live), gives one rate per tick,
so the engine keeps no per-flow history for it. Like the main graphs, the scale starts at 0.
"""

from __future__ import annotations

from collections import deque

BLOCKS = " ▁▂▃▄▅▆▇█"
KEPT = 120  # ticks of rate kept; the line shows as many as fit


class FlowRateHistory:
    """(clock, bytes so far) answers in, bytes per second between successive ones out."""

    def __init__(self, kept: int = KEPT) -> None:
        self._last: tuple[float, int] | None = None
        self.rates: deque[float] = deque(maxlen=kept)  # bytes/s, oldest first

    def add(self, clock: float, bytes_total: int) -> None:
        """A fresh answer. A clock that did not move (a paused replay) waits for one that does;
        a total that fell (a new flow took the key) starts over."""
        if self._last is not None and bytes_total >= self._last[1]:
            elapsed = clock - self._last[0]
            if elapsed <= 0:
                return
            self.rates.append((bytes_total - self._last[1]) / elapsed)
        self._last = (clock, bytes_total)

    @property
    def peak(self) -> float:
        return max(self.rates, default=0.0)


def sparkline(values: list[float], width: int) -> str:
    """The last `width` values as blocks scaled 0..their peak; a value above 0 shows at least ▁."""
    shown = values[-width:] if width > 0 else []
    peak = max(shown, default=0.0)
    if peak <= 0:
        return BLOCKS[0] * len(shown)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[max(1, round(value / peak * top)) if value > 0 else 0] for value in shown)
