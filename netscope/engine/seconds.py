"""Bytes and packets per second of capture time: a replay's throughput history.

A tick's rates describe the tick; at 10× or as fast as possible one tick covers seconds or
minutes of the capture, so a graph with one point per tick squeezes a whole file into a few
bars. Like Wireshark's I/O graph, the screen plots a file by capture second instead: the
engine sums each second as packets arrive and hands over the seconds that are complete
(a packet of a later second has arrived, or the file has ended) with every snapshot.

Capture clocks are not monotonic: packets a little out of order (multi-queue NICs) are
counted in the newest second seen, and a step back by more than STEP_BACK_US (captures
joined end to end) starts the seconds afresh from the new time.
"""

from __future__ import annotations

import itertools

import numpy as np

from netscope.engine.pacing import STEP_BACK_US
from netscope.engine.snapshot import CaptureSeconds

US_PER_S = 1_000_000


class SecondCounter:
    """Sums wire bytes and packets per capture second over the batches of a replay."""

    def __init__(self) -> None:
        self._open: int | None = None  # the newest second seen, still being counted
        self._open_bytes = 0
        self._open_packets = 0
        self._last_us: int | None = None  # the previous packet's time, to see a step back
        self._closed: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, ts_us: np.ndarray, wirelen: np.ndarray) -> None:
        if not ts_us.shape[0]:
            return
        before = np.concatenate(([ts_us[0] if self._last_us is None else self._last_us], ts_us[:-1]))
        stepped_back = ts_us < before - STEP_BACK_US  # usually nowhere: one segment
        bounds = np.union1d([0, ts_us.shape[0]], np.flatnonzero(stepped_back)).tolist()
        for first, end in itertools.pairwise(bounds):
            if stepped_back[first]:
                self._close_open()
            self._add_segment(ts_us[first:end], wirelen[first:end])
        self._last_us = int(ts_us[-1])

    def _add_segment(self, ts_us: np.ndarray, wirelen: np.ndarray) -> None:
        """Packets without a step back: a running maximum puts the late ones in the newest second."""
        seconds = np.maximum.accumulate(ts_us // US_PER_S)
        if self._open is not None:
            np.maximum(seconds, self._open, out=seconds)
        change = np.flatnonzero(seconds[1:] != seconds[:-1]) + 1
        starts = np.concatenate(([0], change))
        run_bytes = np.add.reduceat(wirelen.astype(np.int64, copy=False), starts)
        run_packets = np.diff(np.append(starts, seconds.shape[0]))
        run_seconds = seconds[starts]
        if self._open is not None and run_seconds[0] == self._open:
            run_bytes[0] += self._open_bytes
            run_packets[0] += self._open_packets
        elif self._open is not None:
            self._close_open()
        if run_seconds.shape[0] > 1:
            self._closed.append((run_seconds[:-1], run_bytes[:-1], run_packets[:-1]))
        self._open, self._open_bytes = int(run_seconds[-1]), int(run_bytes[-1])
        self._open_packets = int(run_packets[-1])

    def _close_open(self) -> None:
        if self._open is not None:
            self._closed.append((np.array([self._open]), np.array([self._open_bytes]), np.array([self._open_packets])))
            self._open = None
            self._open_bytes = self._open_packets = 0

    def take(self, final: bool = False) -> CaptureSeconds:
        """The seconds completed since the last call; `final` (the file has ended) completes the open one."""
        if final:
            self._close_open()
        closed, self._closed = self._closed, []
        if not closed:
            return CaptureSeconds.empty()
        seconds, wire_bytes, packets = (np.concatenate(parts).astype(np.int64, copy=False)
                                        for parts in zip(*closed, strict=True))
        return CaptureSeconds(seconds, wire_bytes, packets)
