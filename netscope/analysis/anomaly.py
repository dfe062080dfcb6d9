"""Anomaly detection on whole batches: SYN floods and port scans with the reference's rules (§4).

`AnomalyDetector.observe` takes a ParsedBatch and returns the alerts it raised, in packet order
(a packet that raises both gives the SYN flood first). Results equal the reference's sequential
per-packet rules (windows pruned with `t - front > window`, the cooldown checked before a packet
is recorded, thresholds compared with `>=`), computed with numpy passes over the batch
(window_eval.py), with these deliberate differences:

* `kind` is always `syn_flood` / `port_scan`;
* idle keys are freed by packet time, so memory follows the traffic of the last window instead of
  growing for ever under a random-source flood: every half window of packet time (at most 30 s),
  entries older than the window and keys with neither entries nor a cooldown go;
* UDP replies are not counted as scan probes (udp_replies.py says what a reply is);
* times are integer microseconds, so window edges do not depend on float rounding;
* packet time never goes back: a packet stamped earlier than one already seen is treated as
  arriving at the latest time seen (captures merged from several queues can be slightly out of
  order; the reference would then compare against a queue front newer than the packet).

With --pipeline one detector still sees all detector input: the workers forward it to the main
process (docs/anomalies.md, netscope/pipeline/anomaly_input.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from netscope.analysis.alerts import Alert
from netscope.analysis.port_scan import PortScanDetector, PortScanSettings
from netscope.analysis.syn_flood import SynFloodDetector, SynFloodSettings
from netscope.parse.columns import ParsedBatch

__all__ = ["AnomalyDetector", "AnomalySettings", "PortScanSettings", "SynFloodSettings"]


@dataclass(frozen=True)
class AnomalySettings:
    """`[analysis.anomalies]` minus its master switch, which decides whether a detector exists."""

    syn_flood: SynFloodSettings = field(default_factory=SynFloodSettings)
    port_scan: PortScanSettings = field(default_factory=PortScanSettings)


class AnomalyDetector:
    """Both detectors over one packet clock."""

    def __init__(self, settings: AnomalySettings) -> None:
        self._detectors: list[SynFloodDetector | PortScanDetector] = []
        if settings.syn_flood.enabled:
            self._detectors.append(SynFloodDetector(settings.syn_flood))
        if settings.port_scan.enabled:
            self._detectors.append(PortScanDetector(settings.port_scan))
        self._clock = np.iinfo(np.int64).min

    @property
    def tracked_keys(self) -> int:
        """Keys and UDP flows held in memory: what a flood could make grow."""
        return sum(detector.tracked_keys for detector in self._detectors)

    def observe(self, batch: ParsedBatch, clock_floor_us: np.ndarray | None = None) -> list[Alert]:
        """Alerts the batch raises. `clock_floor_us` is, per packet, the latest time of the packets
        before it that the batch leaves out (a pipeline's reader feeds only the detectors' input)."""
        if not batch.count:
            return []
        times = batch.ts_us if clock_floor_us is None else np.maximum(batch.ts_us, clock_floor_us)
        clock = np.maximum.accumulate(np.maximum(times, self._clock))
        self._clock = int(clock[-1])
        raised: list[tuple[int, int, Alert]] = []
        for order, detector in enumerate(self._detectors):
            raised.extend((row, order, alert) for row, alert in detector.observe(batch, clock))
            detector.expire(self._clock)
        raised.sort(key=lambda item: item[:2])
        return [alert for _, _, alert in raised]
