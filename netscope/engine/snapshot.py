"""Snapshots: the only thing presentation code (TUI, headless output, exports) reads.

They are plain frozen dataclasses of Python values (a replay's capture seconds are three small
numpy columns) so they pickle cheaply from the engine process to the UI process once per tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from netscope.analysis.alerts import Alert
from netscope.analysis.names import FlowNames
from netscope.capture.sockets import FlowOwners
from netscope.flow.records import FlowRow, HostRow


@dataclass(frozen=True, slots=True)
class CaptureSeconds:
    """Completed seconds in capture order; `second` is whole seconds since the epoch.

    Only seconds with packets are listed: a gap between two listed seconds had no traffic.
    """

    second: np.ndarray  # int64
    bytes: np.ndarray  # int64, wire bytes
    packets: np.ndarray  # int64

    @staticmethod
    def empty() -> CaptureSeconds:
        none = np.empty(0, np.int64)
        return CaptureSeconds(none, none, none)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    name: str  # interface name or file path
    kind: str  # "live" or "file"
    link: str  # link-type name, e.g. "Ethernet"


@dataclass(frozen=True, slots=True)
class Totals:
    """Counters since the start of the run."""

    packets: int = 0
    bytes: int = 0
    flow_packets: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)  # parse status label -> packets
    parse_errors: int = 0
    wirelen_estimated: int = 0  # packets whose wire length had to be estimated (see capture)
    active_flows: int = 0
    flows_seen: int = 0
    flows_expired: int = 0
    flows_evicted: int = 0
    alerts: int = 0
    kernel_received: int = 0
    kernel_dropped: int = 0
    if_dropped: int = 0
    dispatch_dropped: int = 0


@dataclass(frozen=True, slots=True)
class TickSnapshot:
    """What happened during one tick, plus running totals and the top flows."""

    seq: int
    wall_time: float  # time.time() when the tick was taken
    capture_time: float | None  # timestamp of the newest packet seen, seconds
    interval_s: float  # wall seconds the tick covered
    state: str  # "live", "replaying", "paused", "finished"
    speed: float  # replay speed (0 = as fast as possible); 1.0 for live
    source: SourceInfo
    interval_packets: int
    interval_bytes: int
    totals: Totals
    top_flows: tuple[FlowRow, ...]
    new_alerts: tuple[Alert, ...] = ()
    progress: float | None = None  # share of the file read, 0..1, for replays
    # Under the screen's filter, the flows it matches in the whole table (top_flows has the
    # first N); None without a filter, or when part of it (a name) only the screen can apply.
    matching_flows: int | None = None
    # The filter text top_flows and matching_flows were computed under ("" = none): right after
    # the screen changes its filter, a tick or two may still come from the old one.
    ranked_for: str = ""
    flow_names: dict[tuple, FlowNames] = field(default_factory=dict)  # FlowRow.key -> names seen for it
    # Live capture on a screen: FlowRow.key -> the local processes holding the socket of endpoint
    # A and of endpoint B, each (pid, command name) or None (capture/sockets.py).
    flow_owners: dict[tuple, FlowOwners] = field(default_factory=dict)
    # A replay on a screen: the capture seconds completed since the previous snapshot.
    capture_seconds: CaptureSeconds | None = None
    # The screen's Hosts view (SetHostView): the ranking it asked for (None: the view is off), the
    # top N addresses of the flows the engine's filter terms match, how many addresses those
    # flows have, and a name for each listed address that has one (DNS seen, live reverse DNS).
    hosts_by: str | None = None
    top_hosts: tuple[HostRow, ...] = ()
    host_count: int = 0
    host_names: dict[str, str] = field(default_factory=dict)

    @property
    def pps(self) -> float:
        return self.interval_packets / self.interval_s if self.interval_s > 0 else 0.0

    @property
    def bps(self) -> float:
        return self.interval_bytes * 8 / self.interval_s if self.interval_s > 0 else 0.0
