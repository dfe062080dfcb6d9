"""SYN flood: many connection openings from many sources to one destination ip:port (§4.1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.analysis.alerts import Alert
from netscope.analysis.inputs import address_text, endpoint_text, pure_syns
from netscope.analysis.windows import SlidingWindows, WindowRule, check_spans, seconds_to_us
from netscope.parse.columns import ParsedBatch

KIND = "syn_flood"


@dataclass(frozen=True)
class SynFloodSettings:
    """Defaults are the reference's (§1.3): 200 SYNs from 50 sources within 5 s, then 10 s quiet."""

    enabled: bool = True
    window_secs: float = 5.0  # used as max(window, 0.1)
    syn_threshold: int = 200
    unique_src_threshold: int = 50
    cooldown_secs: float = 10.0  # per destination ip:port, used as max(cooldown, 0)

    def __post_init__(self) -> None:
        check_spans("analysis.anomalies.syn_flood", window_secs=self.window_secs, cooldown_secs=self.cooldown_secs)

    def rule(self) -> WindowRule:
        syns, sources = self.syn_threshold, self.unique_src_threshold
        return WindowRule(
            window_us=seconds_to_us(max(self.window_secs, 0.1)),
            cooldown_us=seconds_to_us(max(self.cooldown_secs, 0.0)),
            distinct=((0, 1),),  # source address
            fires=lambda entries, distinct: (entries >= syns) & (distinct[0] >= sources),
            counts_entries=True,
        )


class SynFloodDetector:
    """Keyed by destination (version, address, port); members are source addresses."""

    def __init__(self, settings: SynFloodSettings) -> None:
        self.windows = SlidingWindows(settings.rule(), key_width=3, member_columns=2)

    def observe(self, batch: ParsedBatch, clock: np.ndarray) -> list[tuple[int, Alert]]:
        rows = np.flatnonzero(pure_syns(batch))
        keys = [batch.dst_hi[rows], batch.dst_lo[rows],
                (batch.ip_version[rows].astype(np.uint64) << np.uint64(16)) | batch.dst_port[rows]]
        firings = self.windows.observe(keys, clock[rows], [batch.src_hi[rows], batch.src_lo[rows]])
        alerts = []
        for at, syns, sources in zip(firings.index, firings.entries, firings.distinct[0], strict=True):
            row = int(rows[at])
            target, port = address_text(batch, row, "dst"), int(batch.dst_port[row])
            description = f"SYN flood suspected: {syns} syns, {sources} sources to {target}:{port}"
            alerts.append((row, Alert(int(batch.ts_us[row]) / 1e6, KIND, description,
                                      (endpoint_text(target, port),))))
        return alerts

    def expire(self, now: int) -> None:
        self.windows.expire(now)

    @property
    def tracked_keys(self) -> int:
        return self.windows.tracked_keys
