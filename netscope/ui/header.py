"""The two header lines: where packets come from and in what state, then what is flowing.

Drop counters are the numbers a person must not miss: any that grew recently is drawn
bold, in the error colour and with a ▲, so the cue survives NO_COLOR's monochrome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from textual.content import Content
from textual.widget import Widget

from netscope.engine.snapshot import TickSnapshot, Totals
from netscope.ui import formatting
from netscope.ui.formatting import Units

DROP_COUNTERS = (("pcap", "kernel_dropped"), ("if", "if_dropped"), ("dispatch", "dispatch_dropped"))
DROP_HOLD_S = 10.0  # a grown counter stays marked this long (wall time), so a one-tick blip is seen

Part = tuple[str, str]


@dataclass
class DropWatch:
    """When each drop counter last grew, in snapshot wall time (so tests stay deterministic)."""

    last: dict[str, int] = field(default_factory=dict)
    grew_at: dict[str, float] = field(default_factory=dict)

    def update(self, totals: Totals, now: float) -> None:
        for _, name in DROP_COUNTERS:
            value = getattr(totals, name)
            if value > self.last.get(name, 0):
                self.grew_at[name] = now
            self.last[name] = value

    def is_hot(self, name: str, now: float) -> bool:
        grew = self.grew_at.get(name)
        return grew is not None and now - grew <= DROP_HOLD_S


@dataclass
class HeaderView:
    """Everything the header shows besides the snapshot: local display state."""

    units: Units = Units.BITS
    frozen: bool = False  # display paused with `p`
    replay_speed: float | None = None  # what the replay runs at, including a request in flight
    replay_paused: bool | None = None  # likewise for space on a replay
    stopped: bool = False  # the engine ended on an error


class HeaderBar(Widget):
    DEFAULT_CSS = """
    HeaderBar {
        height: 2;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    def __init__(self, drops: DropWatch, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.drops = drops
        self.snapshot: TickSnapshot | None = None
        self.view = HeaderView()

    def show(self, snapshot: TickSnapshot | None, view: HeaderView) -> None:
        self.snapshot = snapshot
        self.view = view
        self.refresh()

    def render(self) -> Content:
        width = max(20, self.content_region.width)
        return Content("\n").join([_fit(self._source_line(), width), _fit(self._traffic_line(), width, keep_last=True)])

    def _source_line(self) -> list[list[Part]]:
        """Groups of parts, most important first; groups that do not fit are left out."""
        snap = self.snapshot
        title: list[Part] = [(" netscope ", "bold $text-accent")]
        if snap is None:
            return [title, [("waiting for the engine…", "$text-muted")]]
        source = snap.source
        name = PurePath(source.name).name if source.kind == "file" else source.name
        groups = [title, [(name, "bold"), (f" · {source.link}", "$text-muted")], self._state_parts(snap)]
        if self.view.frozen:
            groups.insert(1, [(" DISPLAY FROZEN ", "bold reverse $warning")])
        # live, the clock is now (it must keep running while the network is quiet); a replay's
        # is the capture's own time
        shown_time = snap.wall_time if source.kind == "live" else snap.capture_time
        if shown_time is not None:
            groups.append([(formatting.clock(shown_time), ""), (" UTC", "$text-muted")])
        if snap.progress is not None and snap.source.kind == "file":
            groups.append(_progress_bar(snap.progress))
        return groups

    def _state_parts(self, snap: TickSnapshot) -> list[Part]:
        view = self.view
        state = snap.state
        if state == "replaying" and view.replay_paused:
            state = "paused"
        elif state == "paused" and view.replay_paused is False:
            state = "replaying"
        speed = formatting.speed(view.replay_speed if view.replay_speed is not None else snap.speed)
        if view.stopped:
            return [("■ stopped", "bold $error")]
        if state == "live":
            return [("● live", "bold $success")]
        if state == "replaying":
            return [("▶ replaying ", "bold $primary"), (speed, "bold")]
        if state == "paused":
            return [("‖ paused ", "bold $warning"), (speed, "")]
        return [("■ finished", "bold $secondary")]

    def _traffic_line(self) -> list[list[Part]]:
        snap = self.snapshot
        if snap is None:
            return []
        totals = snap.totals
        units = self.view.units
        now = snap.wall_time
        groups: list[list[Part]] = [
            [(formatting.rate(snap.bps / 8, units),
              "bold $success")],
            [(formatting.packet_rate(snap.pps), "bold $accent")],
            [("flows ", "$text-muted"), (formatting.count(totals.active_flows), "bold"),
             # evictions happen only at the flow cap (flow.max_flows): say it was reached
             *([(" · evicted ", "$text-muted"), (formatting.count(totals.flows_evicted), "bold $warning")]
               if totals.flows_evicted else [])],
            [("alerts ", "$text-muted"),
             (formatting.count(totals.alerts), "bold $error" if totals.alerts else "bold")],
            # what went by since the start, as iftop's cumulative line: the first group to go
            [("total ", "$text-muted"), (formatting.size(totals.bytes), "bold"),
             (f" · {formatting.count(totals.packets)} pkts", "")],
        ]
        # A file is read whole: only the pipeline's dispatch can drop, so a replay shows drops
        # only once that happened, and the groups that matter keep the narrow header's room.
        counters = DROP_COUNTERS if snap.source.kind == "live" else \
            [(label, name) for label, name in DROP_COUNTERS if name == "dispatch_dropped" and totals.dispatch_dropped]
        if not counters:
            return groups
        drops: list[Part] = [("drops", "$text-muted")]
        for label, name in counters:
            value = getattr(totals, name)
            drops.append((f" {label} " if len(drops) == 1 else f" · {label} ", "$text-muted"))
            if self.drops.is_hot(name, now):
                drops.append((f"▲{formatting.count(value)}", "bold $error"))
            else:
                drops.append((formatting.count(value), "bold" if value else ""))
        groups.append(drops)
        return groups


def _progress_bar(progress: float, cells: int = 10) -> list[Part]:
    share = min(1.0, max(0.0, progress))
    filled = round(share * cells)
    return [("━" * filled, "$primary"), ("━" * (cells - filled), "$text-muted 30%"), (f" {share:4.0%}", "")]


def _fit(groups: list[list[Part]], width: int, keep_last: bool = False) -> Content:
    """Join groups with separators, leaving out the least important groups that do not fit.

    Groups come most important first, except that with `keep_last` the final group (the
    drop counters) outranks everything but the first.
    """
    separator = (" │ ", "$text-muted 50%")
    order = list(range(len(groups)))
    if keep_last and len(groups) > 1:
        order = [0, len(groups) - 1, *order[1:-1]]
    kept = list(order)

    def length(indices: list[int]) -> int:
        return sum(len(text) for i in indices for text, _ in groups[i]) + len(separator[0]) * (len(indices) - 1)

    while len(kept) > 1 and length(kept) > width:
        kept.pop()
    parts: list[Part] = []
    for i in sorted(kept):
        if parts:
            parts.append(separator)
        parts.extend(groups[i])
    return Content.assemble(*parts)
