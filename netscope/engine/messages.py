"""Messages between the engine and a screen: commands in, snapshots and flow details out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from netscope.analysis.names import FlowNames
from netscope.engine.snapshot import TickSnapshot
from netscope.flow.records import FlowRow

FlowKey = tuple[str, str, int, str, int]  # FlowRow.key: (proto, a_ip, a_port, b_ip, b_port)


@dataclass(frozen=True, slots=True)
class SetPaused:
    """Pause or resume a replay (live capture cannot be paused: the kernel keeps sending)."""

    paused: bool


@dataclass(frozen=True, slots=True)
class SetSpeed:
    """Replay speed factor; 0 means as fast as possible."""

    speed: float


@dataclass(frozen=True, slots=True)
class RequestDetail:
    """Ask for one flow's counters and recent packets; answered by a FlowDetail."""

    key: FlowKey


@dataclass(frozen=True, slots=True)
class SetRanking:
    """Which flows a tick reports: the top N by "rate", "bytes", "packets" or "age" (the
    screen's sort), so sorting by total bytes shows the heaviest flows, not the fastest
    ones re-sorted."""

    by: str


@dataclass(frozen=True, slots=True)
class SetFilter:
    """The screen's `/` filter (netscope.flow.query's language; "" = none): ticks then report
    the top N of the flows it matches, not the matches among the top N of all flows."""

    text: str


@dataclass(frozen=True, slots=True)
class SetHostView:
    """The screen's Hosts view: ticks then also report the top N addresses by `by` ("rate",
    "bytes", "packets" or "flows"; flow/hosts.py), summed over the flows the filter matches.
    None turns it off: summing a big table is work only an open view should cost."""

    by: str | None


@dataclass(frozen=True, slots=True)
class Stop:
    pass


Command = SetPaused | SetSpeed | SetRanking | SetFilter | SetHostView | RequestDetail | Stop


@dataclass(frozen=True, slots=True)
class PacketRecord:
    """A recent packet of a flow, kept raw so the screen can decode it on demand."""

    ts: float
    wirelen: int
    linktype: int
    data: bytes  # captured bytes, possibly cut to the engine's per-packet keep limit
    l3_offset: int = -1  # where the parser found the IP header (-1: none), for lengths the wire implies


@dataclass(frozen=True, slots=True)
class FlowDetail:
    key: FlowKey
    flow: FlowRow | None  # None once the flow has expired
    packets: tuple[PacketRecord, ...]
    names: FlowNames | None = None  # SNI, HTTP Host, DNS question and endpoint names, when seen


class EngineLink(Protocol):
    """What a screen holds to talk to a running engine (in another process or a test double)."""

    def poll(self) -> list[TickSnapshot | FlowDetail]:
        """Everything the engine published since the last call, oldest first; never blocks."""

    def send(self, command: Command) -> None: ...

    def close(self) -> None:
        """Stop the engine, wait for its exports to be written, release resources."""

    @property
    def error(self) -> str | None:
        """A one-line error if the engine stopped on one (shown by the screen, then exit 1)."""
