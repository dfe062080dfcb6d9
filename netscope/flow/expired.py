"""Flows that left the table, with why and when: what `--expired-flows-jsonl` writes (§3.6)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from netscope.flow.records import FlowColumns


class ExpiryReason(IntEnum):
    TIMEOUT = 0  # idle longer than the flow timeout
    EVICTION = 1  # pushed out to keep the table within max_flows

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(slots=True)
class ExpiredFlows:
    """Removed flows as columns; reason[i] and ts_us[i] belong to flows row i.

    ts_us is the clock of the pass that removed the flow: the packet time that triggered it,
    or the time given to FlowTracker.expire_idle.
    """

    flows: FlowColumns
    reason: np.ndarray  # uint8, ExpiryReason
    ts_us: np.ndarray  # int64

    def reason_labels(self) -> list[str]:
        labels = [reason.label for reason in ExpiryReason]
        return [labels[code] for code in self.reason.tolist()]

    def times(self) -> list[float]:
        """Pass times in seconds since the epoch, as the JSONL `ts` field wants them."""
        return (self.ts_us / 1e6).tolist()


class ExpiredLog:
    """Collects removed flows between two FlowTracker.take_expired calls."""

    def __init__(self, empty: FlowColumns) -> None:
        self._empty = empty
        self._parts: list[ExpiredFlows] = []

    def add(self, flows: FlowColumns, reason: ExpiryReason, now_us: int) -> None:
        self._parts.append(ExpiredFlows(flows, np.full(flows.count, reason, dtype=np.uint8),
                                        np.full(flows.count, now_us, dtype=np.int64)))

    def take(self) -> ExpiredFlows:
        parts, self._parts = self._parts, []
        if not parts:
            return ExpiredFlows(self._empty, np.empty(0, np.uint8), np.empty(0, np.int64))
        return ExpiredFlows(FlowColumns.concat([p.flows for p in parts]),
                            np.concatenate([p.reason for p in parts]), np.concatenate([p.ts_us for p in parts]))
