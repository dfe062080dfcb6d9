"""When idle expiry runs: at most once per second of the clock in use (reference §3.6).

The schedule is its own object so that a pipeline's reader can run it over the whole capture
and hand each shard the passes one process would run. A shard that scheduled passes from its
own packets only would expire a quiet flow at that shard's next packet, seconds late, and
fold that packet into the flow one process had already expired.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

PASS_INTERVAL_US = 1_000_000


class TimeoutPass(NamedTuple):
    """A pass that runs after the packet at `after` (-1: before the batch's first) with `clock_us`."""

    after: int
    clock_us: int


class PassClock:
    """The timeout passes due over a stream of packet times, batch after batch."""

    def __init__(self) -> None:
        self.last_us: int | None = None

    def passes(self, ts_us: np.ndarray) -> list[TimeoutPass]:
        """Passes in one batch: after the first packet a second or more past the previous pass,
        with that packet's time as the clock (one numpy scan per pass)."""
        if not ts_us.shape[0]:
            return []
        if self.last_us is None:
            self.last_us = int(ts_us[0])
        passes: list[TimeoutPass] = []
        start = 0
        while start < ts_us.shape[0]:
            due = ts_us[start:] >= self.last_us + PASS_INTERVAL_US
            step = int(np.argmax(due))
            if not due[step]:
                break
            self.last_us = int(ts_us[start + step])
            passes.append(TimeoutPass(start + step, self.last_us))
            start += step + 1
        if ts_us[-1] < self.last_us:
            self.last_us = int(ts_us[-1])  # the clock went back and stayed back: re-base
        return passes

    def due(self, now_us: int) -> bool:
        """Whether an explicit clock (a live capture's wall clock while idle) calls for a pass now."""
        last = self.last_us
        if last is None or now_us - last >= PASS_INTERVAL_US:
            self.last_us = now_us
            return True
        if now_us < last:
            self.last_us = now_us  # the clock went back: count the next second from here
        return False
