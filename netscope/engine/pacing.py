"""Replay pacing: map capture time to wall time at a speed that can change mid-run."""

from __future__ import annotations

import time

import numpy as np

SLICE_WALL_S = 0.05  # feed paced replays in slices of this much wall time, so ticks stay smooth


class ReplayClock:
    """When a packet stamped `ts_us` is due, given a speed (0 = as fast as possible).

    Changing speed or resuming from a pause re-anchors the clock at the current packet so
    the replay continues from where it is instead of jumping.
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._anchor_wall: float | None = None
        self._anchor_us = 0

    @property
    def unpaced(self) -> bool:
        return self.speed <= 0

    def reanchor(self, ts_us: int | None = None) -> None:
        self._anchor_wall = None if ts_us is None else time.monotonic()
        if ts_us is not None:
            self._anchor_us = ts_us

    def set_speed(self, speed: float, current_us: int | None) -> None:
        self.speed = speed
        self.reanchor(current_us)

    def wait_s(self, ts_us: int) -> float:
        """Seconds until the packet is due (<= 0: due now). Anchors on the first packet."""
        if self.unpaced:
            return 0.0
        if self._anchor_wall is None:
            self._anchor_wall, self._anchor_us = time.monotonic(), ts_us
        due = self._anchor_wall + (ts_us - self._anchor_us) / 1e6 / self.speed
        return due - time.monotonic()

    def slice_end(self, ts_us: np.ndarray, start: int) -> int:
        """End index of the slice that starts at `start`: SLICE_WALL_S of wall time at this speed."""
        if self.unpaced:
            return int(ts_us.shape[0])
        limit = int(ts_us[start]) + int(SLICE_WALL_S * self.speed * 1e6)
        end = int(np.searchsorted(ts_us[start:], limit, side="right")) + start
        return max(end, start + 1)
