"""NetscopeApp: a Textual screen over a running engine, reached only through an EngineLink.

The engine runs elsewhere (its own process) and publishes a snapshot per tick; the app
polls the link on a short timer, so a burst of snapshots never blocks a key press and a
slow screen never slows capture. Everything here reads snapshots: nothing imports capture,
parse or flow-table code.
"""

from __future__ import annotations

import asyncio
import math
import signal
from typing import ClassVar, Protocol

from textual.app import App
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.filter import Monochrome
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from netscope.engine.messages import EngineLink, FlowDetail, FlowKey, RequestDetail, SetPaused, SetSpeed
from netscope.engine.signals import STOP_SIGNALS
from netscope.engine.snapshot import TickSnapshot
from netscope.ui.detail import FlowDetailScreen
from netscope.ui.formatting import Units
from netscope.ui.header import DropWatch, HeaderView
from netscope.ui.help import HelpScreen
from netscope.ui.history import ThroughputHistory
from netscope.ui.main_screen import MainScreen
from netscope.ui.terminal import TerminalDriver

POLL_S = 0.05  # how often the link is drained; keys are handled by Textual in between
SPEEDS = (1.0, 2.0, 10.0, 100.0, 0.0)  # what +/- step through; 0 = as fast as possible


class TuiSettings(Protocol):
    """The `[tui]` config keys the screen uses (netscope.config.TuiConfig has them)."""

    tick_ms: int
    history_points: int


class DefaultSettings:
    tick_ms = 1000
    history_points = 300


def next_speed(current: float, step: int) -> float:
    """The listed speed just faster (step > 0) or slower than `current`; `current` at the ends."""
    def pace(speed: float) -> float:
        return math.inf if speed <= 0 else speed

    if step > 0:
        faster = [s for s in SPEEDS if pace(s) > pace(current)]
        return faster[0] if faster else current
    slower = [s for s in SPEEDS if pace(s) < pace(current)]
    return slower[-1] if slower else current


class EngineErrorScreen(ModalScreen[None]):
    """The engine stopped on an error: say so, then leave with exit code 1 on any key."""

    DEFAULT_CSS = """
    EngineErrorScreen { align: center middle; }
    EngineErrorScreen > Static {
        width: auto;
        max-width: 90%;
        border: round $error;
        border-title-color: $error;
        background: $surface;
        padding: 1 2;
    }
    """

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self):
        box = Static(Content.assemble((self.message, "bold"), "\n\n", ("press any key to quit", "$text-muted")))
        box.border_title = "engine stopped"
        yield box

    def on_key(self) -> None:
        self.app.exit(return_code=1)


class NetscopeApp(App[None]):
    TITLE = "netscope"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        # a monitor is stopped with Ctrl-C (htop, iftop, tcpdump): quit at once, exports still written
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("space", "pause", "Pause"),
        Binding("p", "freeze", "Freeze"),
        Binding("plus,equals_sign", "speed(1)", "Speed", key_display="+/-"),
        Binding("minus", "speed(-1)", "Slower", show=False),
        Binding("t", "units", "Units"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(self, link: EngineLink, config: TuiSettings | None = None, *, no_color: bool = False,
                 detecting_anomalies: bool = True) -> None:
        super().__init__()
        settings = config or DefaultSettings()
        if no_color and not self.no_color:  # Textual does this itself when NO_COLOR is set
            self.no_color = True
            self._filters.append(Monochrome())
        self.link = link
        self.tick_s = settings.tick_ms / 1000
        self.history = ThroughputHistory(settings.history_points)
        self.drops = DropWatch()
        self.snapshot: TickSnapshot | None = None  # newest received
        self.shown: TickSnapshot | None = None  # what the screen shows (older while frozen)
        self.units = Units.BITS
        self.frozen = False
        self.pending_speed: float | None = None
        self.pending_pause: bool | None = None
        self.early_pause = False  # space before the first snapshot: applied when it arrives
        self.error: str | None = None
        self.main = MainScreen(self.history, settings.history_points * self.tick_s, self.drops,
                               detecting_anomalies=detecting_anomalies)

    def get_driver_class(self) -> type[Driver]:
        default = super().get_driver_class()
        return TerminalDriver if issubclass(default, LinuxDriver) else default

    def get_default_screen(self) -> Screen:
        return self.main

    def on_mount(self) -> None:
        self.call_after_refresh(self.poll_link)  # once the main screen's widgets exist
        self.set_interval(POLL_S, self.poll_link)
        # `kill` or a closed terminal quits as `q` does: the terminal is restored and the
        # engine, stopped by our caller, still writes every export. The loop drops these
        # handlers when it closes.
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS.keys() - {signal.SIGINT}:  # Ctrl-C is a key press here
            loop.add_signal_handler(signum, self.exit)

    # -- the engine side -----------------------------------------------------------------------
    def poll_link(self) -> None:
        if self.error is not None:
            return
        try:
            messages = self.link.poll()
        except (OSError, EOFError) as exc:
            self.fail(f"lost the engine: {exc}")
            return
        newest = None
        for message in messages:
            if isinstance(message, TickSnapshot):
                self.ingest(message)
                newest = message
            elif isinstance(message, FlowDetail) and isinstance(self.screen, FlowDetailScreen):
                self.screen.apply(message)
        if newest is not None and not self.frozen:
            self.draw()  # an engine that stopped on an error sent where it stopped first
        if newest is not None and self.early_pause:  # once the first snapshot is on screen
            self.early_pause = False
            self.action_pause()
        if self.link.error:
            self.fail(self.link.error)

    def ingest(self, snapshot: TickSnapshot) -> None:
        """Account for every snapshot, drawn or not: history, alerts and drops keep counting."""
        self.snapshot = snapshot
        if snapshot.capture_seconds is not None:  # a replay: its graph is by capture second
            self.history.add_seconds(snapshot.capture_seconds)
        elif snapshot.state != "finished" or snapshot.interval_packets:  # a finished capture's graph stays put
            self.history.add(snapshot.bps / 8, snapshot.pps)
        self.main.alerts.add(snapshot.new_alerts)
        self.drops.update(snapshot.totals, snapshot.wall_time)
        if self.pending_speed is not None and snapshot.speed == self.pending_speed:
            self.pending_speed = None
        if self.pending_pause is not None and (snapshot.state == "paused") == self.pending_pause:
            self.pending_pause = None
        if snapshot.state == "finished":
            self.pending_speed = self.pending_pause = None

    def fail(self, message: str) -> None:
        self.error = message
        self.draw_headers()
        self.push_screen(EngineErrorScreen(message))

    def request_detail(self, key: FlowKey) -> None:
        self.link.send(RequestDetail(key))

    # -- drawing -----------------------------------------------------------------------------------
    def header_view(self) -> HeaderView:
        return HeaderView(units=self.units, frozen=self.frozen, replay_speed=self.pending_speed,
                          replay_paused=self.pending_pause, stopped=self.error is not None)

    def draw(self) -> None:
        if self.shown is None or self.snapshot is None or self.shown.state != self.snapshot.state:
            self.refresh_bindings()  # the speed keys apply only while a replay runs
        self.shown = self.snapshot
        if self.shown is None:
            return
        self.main.show(self.shown, self.header_view())
        if isinstance(self.screen, FlowDetailScreen):
            self.screen.header.show(self.shown, self.header_view())
            key = self.screen.key
            self.screen.tick(next((r for r in self.shown.top_flows if r.key == key), None),
                             self.shown.flow_names.get(key), self.shown.flow_owners.get(key))

    def draw_headers(self) -> None:
        """Local state changed (units, freeze, a command in flight): redraw headers only."""
        for screen in (self.main, self.screen):
            header = getattr(screen, "header", None)
            if header is not None:
                header.show(self.shown, self.header_view())

    # -- keys ----------------------------------------------------------------------------------------
    def _replay_running(self) -> bool:
        snap = self.snapshot
        return snap is not None and snap.source.kind == "file" and snap.state != "finished"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The speed keys: gone from the footer on a live capture (it has no pace), greyed out
        once a replay has finished."""
        if action == "speed" and not self._replay_running():
            live = self.snapshot is not None and self.snapshot.source.kind == "live"
            return False if live else None
        return True

    def action_freeze(self) -> None:
        self.frozen = not self.frozen
        if self.frozen:
            self.draw_headers()
        else:
            self.draw()

    def action_pause(self) -> None:
        """Space: pause the replay itself; a live capture cannot pause, so freeze the display.

        Before the first snapshot it is not known which, so the key waits for it.
        """
        if self.snapshot is None:
            self.early_pause = not self.early_pause
            return
        if not self._replay_running():
            self.action_freeze()
            return
        paused = self.pending_pause if self.pending_pause is not None else self.snapshot.state == "paused"
        self.pending_pause = not paused
        self.link.send(SetPaused(self.pending_pause))
        self.draw_headers()

    def action_speed(self, step: int) -> None:
        current = self.pending_speed if self.pending_speed is not None else self.snapshot.speed
        speed = next_speed(current, step)
        if speed != current:
            self.pending_speed = speed
            self.link.send(SetSpeed(speed))
            self.draw_headers()

    def action_units(self) -> None:
        self.units = self.units.toggled()
        self.main.set_units(self.units)
        if isinstance(self.screen, FlowDetailScreen):
            self.screen.set_units(self.units)
        self.draw_headers()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click on the highlighted row) in the flows table opens its detail; in the
        hosts table it lists the host's flows."""
        if event.data_table is self.main.hosts:
            host = self.main.hosts.selected_host
            if host is not None:
                self.main.show_flows_of(host.address)
            return
        if event.data_table is not self.main.table:
            return
        flow = self.main.table.selected_flow
        if flow is None:
            return
        names = self.shown.flow_names.get(flow.key) if self.shown is not None else None
        owners = self.shown.flow_owners.get(flow.key) if self.shown is not None else None
        screen = FlowDetailScreen(flow.key, flow, self.drops, self.request_detail, self.units, names, owners)
        screen.header.show(self.shown, self.header_view())
        self.push_screen(screen)


def run_tui(link: EngineLink, config: TuiSettings | None = None, *, no_color: bool = False,
            detecting_anomalies: bool = True) -> int:
    """Run the screen until `q` (or an engine error); return the process exit code.

    The caller owns `link` and closes it afterwards (that stops the engine and writes its
    exports, and reports an engine error once the terminal is back). NO_COLOR in the
    environment is honoured by Textual itself; `no_color` forces the same.
    """
    app = NetscopeApp(link, config, no_color=no_color, detecting_anomalies=detecting_anomalies)
    app.run()
    return 1 if app.error is not None else app.return_code or 0
