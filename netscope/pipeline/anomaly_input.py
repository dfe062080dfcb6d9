"""One anomaly detector for the whole capture, fed by the shards.

Routing is by flow, but the detectors key by destination ip:port (SYN flood) and by source
address (port scan), so per-shard detectors would see a fraction of a flood and raise a scan
once per shard. Instead each worker keeps the few packets the detectors consume (pure SYNs,
FIN/NULL/Xmas probes, RSTs without ACK and UDP, analysis/inputs.py) as a small ParsedBatch
with a sort key, hands them over with its tick, and the reader feeds them, merged in packet
order, to the one AnomalyDetector.

The sort key is the packet's position in the capture for files (exactly the order one process
sees) and its timestamp for live capture, where the kernel fanout leaves no global order (the
detector treats a slightly late packet as arriving at the latest time seen).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.analysis.alerts import Alert
from netscope.analysis.inputs import detector_packets
from netscope.parse.columns import ParsedBatch


@dataclass(frozen=True)
class AnomalyInput:
    packets: ParsedBatch
    order: np.ndarray  # int64 sort key per packet: capture position (files) or ts_us (live)
    clock_us: np.ndarray  # the detector's clock at each packet: the latest time of any packet up to it


def concat_parsed(parts: list[ParsedBatch]) -> ParsedBatch:
    return ParsedBatch(**{name: np.concatenate([getattr(part, name) for part in parts])
                          for name in ParsedBatch.__slots__})


class CandidateBuffer:
    """A worker's detector input since its last tick."""

    def __init__(self) -> None:
        self._parts: list[AnomalyInput] = []

    def add(self, parsed: ParsedBatch, order: np.ndarray, clock_us: np.ndarray) -> None:
        rows = np.flatnonzero(detector_packets(parsed))
        if rows.size:
            self._parts.append(AnomalyInput(parsed.take(rows), order[rows], clock_us[rows]))

    def take(self) -> AnomalyInput | None:
        parts, self._parts = self._parts, []
        return merge_inputs(parts)


def merge_inputs(parts: list[AnomalyInput]) -> AnomalyInput | None:
    """The parts as one batch in sort-key order; stable, so equal keys keep their part order."""
    if not parts:
        return None
    if len(parts) == 1:
        packets, order, clock = parts[0].packets, parts[0].order, parts[0].clock_us
    else:
        packets, order = concat_parsed([p.packets for p in parts]), np.concatenate([p.order for p in parts])
        clock = np.concatenate([p.clock_us for p in parts])
    ranked = np.argsort(order, kind="stable")
    return AnomalyInput(packets.take(ranked), order[ranked], clock[ranked])


class CentralDetectors:
    """The reader's detectors, fed with every shard's input of a tick at once."""

    def __init__(self, detectors: list) -> None:
        self.detectors = detectors
        self.raised = 0

    def observe(self, parts: list[AnomalyInput | None]) -> list[Alert]:
        merged = merge_inputs([part for part in parts if part is not None])
        if merged is None:
            return []
        alerts = [alert for detector in self.detectors
                  for alert in detector.observe(merged.packets, clock_floor_us=merged.clock_us)]
        self.raised += len(alerts)
        return alerts
