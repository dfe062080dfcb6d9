"""Replay pacing: map capture time to wall time at a speed that can change mid-run."""

from __future__ import annotations

import time

import numpy as np

SLICE_WALL_S = 0.05  # feed paced replays in slices of this much wall time, so ticks stay smooth
# Capture time running back by more than this is a new start, not packets out of order.
STEP_BACK_US = 1_000_000


class ReplayClock:
    """When a packet stamped `ts_us` is due, given a speed (0 = as fast as possible).

    Changing speed or resuming from a pause re-anchors the clock at the current packet so
    the replay continues from where it is instead of jumping.

    Capture clocks also step back: copies of a capture joined end to end (`mergecap -a`), a
    host whose clock was set back mid-capture. Paced by the raw timestamps, every packet after
    such a step would be overdue until capture time caught up again, so a whole copy would go
    by at full speed. As tcpreplay does, the packet after a step back is due at once and the
    replay is paced from it; packets a little out of order (under STEP_BACK_US, as
    multi-queue NICs deliver them) are only due at once.
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._anchor_wall: float | None = None
        self._anchor_us = 0
        self._latest_us: int | None = None  # the latest capture time handed out in a slice

    @property
    def unpaced(self) -> bool:
        return self.speed <= 0

    def reanchor(self, ts_us: int | None = None) -> None:
        self._anchor_wall = None if ts_us is None else time.monotonic()
        if ts_us is not None:
            self._anchor_us = self._latest_us = ts_us

    def set_speed(self, speed: float, current_us: int | None) -> None:
        self.speed = speed
        self.reanchor(current_us)

    def wait_s(self, ts_us: int) -> float:
        """Seconds until the packet is due (<= 0: due now). Anchors on the first packet."""
        if self.unpaced:
            return 0.0
        if self._anchor_wall is None or (self._latest_us is not None and ts_us < self._latest_us - STEP_BACK_US):
            self.reanchor(ts_us)
        due = self._anchor_wall + (ts_us - self._anchor_us) / 1e6 / self.speed
        return due - time.monotonic()

    def slice_end(self, ts_us: np.ndarray, start: int) -> int:
        """End index of the slice that starts at `start`: SLICE_WALL_S of wall time at this speed,
        or up to the first step back in capture time, which `wait_s` then starts again from."""
        if self.unpaced:
            return int(ts_us.shape[0])
        first = int(ts_us[start])
        rest = ts_us[start + 1:]  # not searchsorted: time that steps back is not sorted
        beyond = np.flatnonzero((rest > first + int(SLICE_WALL_S * self.speed * 1e6)) | (rest < first - STEP_BACK_US))
        end = start + 1 + (int(beyond[0]) if beyond.size else rest.shape[0])
        latest = int(ts_us[start:end].max())
        self._latest_us = latest if self._latest_us is None else max(self._latest_us, latest)
        return end


class TickInterval:
    """How long a tick lasted, for its rates. Live: wall time. A replay: the capture time its
    packets span, so at 10× or as fast as possible the rates are the network's, not the
    replay's (a 10 Mb/s capture replayed at max showed gigabits). A tick whose packets span no
    capture time (none came, one came, the clock stepped back) falls back to wall time."""

    def __init__(self, capture_time: bool) -> None:
        self.capture_time = capture_time
        self._wall = time.monotonic()
        self._mark_us: int | None = None  # capture time the next tick's span starts at

    def first_packet(self, ts_us: int) -> None:
        if self._mark_us is None:
            self._mark_us = ts_us

    def close(self, last_packet_us: int | None) -> float:
        """Seconds the tick ending now covered."""
        now = time.monotonic()
        wall = max(now - self._wall, 1e-3)
        self._wall = now
        if not self.capture_time or last_packet_us is None or self._mark_us is None:
            return wall
        span = (last_packet_us - self._mark_us) / 1e6
        self._mark_us = last_packet_us
        return span if span > 0 else wall
