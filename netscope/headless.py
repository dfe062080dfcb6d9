"""Headless output: stats lines, alerts and an end-of-run summary for scripts and pipes.

Per-packet lines are deliberately not printed (the reference prints one per packet unless
--quiet); at millions of packets a second that is a job for tshark, not a monitor.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from netscope import __version__
from netscope.capture.errors import CaptureError
from netscope.config import Config, ConfigError, output_files, writes_to_stdout
from netscope.engine.outputs import OutputError
from netscope.engine.runner import Runner, RunResult
from netscope.engine.session import build_engine, build_outputs, close_run, open_source
from netscope.engine.signals import STOP_SIGNALS
from netscope.engine.snapshot import TickSnapshot, Totals
from netscope.paths import discard_writes


def stats_line(snapshot: TickSnapshot, since: Totals, pipeline: bool) -> str:
    """The reference's `[stats]` line (§7.1, §6.7): each drop counter as its change since the
    line before (`since`'s totals) and its total; the pipeline's dispatch drops first."""
    t = snapshot.totals

    def drops(name: str, field: str) -> str:
        total = getattr(t, field)
        return f"{name}={total - getattr(since, field)} (total={total})"

    dispatch = f"{drops('drops', 'dispatch_dropped')} | " if pipeline else ""
    return (f"[stats] {snapshot.bps / 1e6:.2f} Mbps | {snapshot.pps:.0f} pps | {t.active_flows} flows | "
            f"{dispatch}{drops('kdrop', 'kernel_dropped')} {drops('ifdrop', 'if_dropped')}")


def top_flow_lines(snapshot: TickSnapshot, n: int) -> list[str]:
    return [f"  {rank}. {f.proto} {f.a_ip}:{f.a_port} <-> {f.b_ip}:{f.b_port} {f.rate_bps / 1e6:.2f} Mbps"
            for rank, f in enumerate(snapshot.top_flows[:n], 1) if f.tick_bytes]


def top_host_lines(snapshot: TickSnapshot, n: int) -> list[str]:
    """The addresses that moved most in the interval, both ways, with how many flows they have:
    iftop's and bandwhich's per-host lines (the Hosts view's sums, flow/hosts.py)."""
    return [f"  host {rank}. {h.address} {h.rate_bps / 1e6:.2f} Mbps ({h.flows} flows)"
            for rank, h in enumerate(snapshot.top_hosts[:n], 1) if h.tick_bytes]


class HeadlessPrinter:
    """Receives the runner's snapshots and prints what the flags asked for."""

    def __init__(self, config: Config, console: Console, progress: Progress | None) -> None:
        self.config = config
        self.console = console
        self.progress = progress
        self.task = progress.add_task("replaying", total=1.0) if progress else None
        self.last_line_totals = Totals()  # the drop counters when the last [stats] line was printed

    def __call__(self, message: object) -> None:
        if not isinstance(message, TickSnapshot):
            return
        if self.progress is not None and message.progress is not None:
            self.progress.update(self.task, completed=message.progress)
        out = self.progress.console if self.progress is not None else self.console
        if not self.config.output.quiet:
            for alert in message.new_alerts:
                out.print(f"[alert] {alert.description}", markup=False, highlight=False)
        if self.config.stats.enabled and message.state != "finished":
            out.print(stats_line(message, self.last_line_totals, self.config.pipeline.enabled), markup=False,
                      highlight=False)
            self.last_line_totals = message.totals
            stats = self.config.stats
            for line in top_flow_lines(message, stats.top_flows) + top_host_lines(message, stats.top_hosts):
                out.print(line, markup=False, highlight=False)


class ReportConsole(Console):
    """The report's console, which outlives its reader: after `| head -3` has what it wanted,
    nothing more is printed and `reader_gone` runs (rich's default is to exit at once with
    status 1, before any export is written)."""

    def __init__(self, reader_gone: Callable[[], None], **kwargs) -> None:
        super().__init__(**kwargs)
        self._reader_gone = reader_gone

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more is written, so nothing more fails
        discard_writes(self.file.fileno())
        self._reader_gone()


def summary_table(totals: Totals, written: list[tuple[str, str]], live: bool) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("Packets captured", f"{totals.packets:,}"),
        ("Bytes (wire)", f"{totals.bytes:,}"),
        ("Flow packets", f"{totals.flow_packets:,}"),
        ("Flows seen", f"{totals.flows_seen:,}"),
        ("Flows active at end", f"{totals.active_flows:,}"),
        ("Flows expired / evicted", f"{totals.flows_expired:,} / {totals.flows_evicted:,}"),
        ("Parse errors", f"{totals.parse_errors:,}"),
    ]
    rows += [(f"  {label}", f"{count:,}") for label, count in sorted(totals.status_counts.items()) if label != "ok"]
    other_ip = totals.status_counts.get("ok", 0) - totals.flow_packets  # ICMP and the like: no ports, no flow
    if other_ip > 0:
        rows.append(("  ip, not tcp/udp", f"{other_ip:,}"))
    if totals.wirelen_estimated:
        rows.append(("Wire length estimated", f"{totals.wirelen_estimated:,}"))
    if totals.alerts:
        rows.append(("Alerts", f"{totals.alerts:,}"))
    if live:
        rows += [("Kernel received", f"{totals.kernel_received:,}"), ("Kernel dropped", f"{totals.kernel_dropped:,}"),
                 ("Interface dropped", f"{totals.if_dropped:,}")]
    rows += [(f"Export ({label})", path) for label, path in written]
    for label, value in rows:
        table.add_row(label, value)
    return table


@contextmanager
def _interrupt_sets(stop: threading.Event) -> Iterator[None]:
    """A stop signal asks the loop to stop instead of killing the process, so exports are still written."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def handler(signum, _frame) -> None:
        if not stop.is_set():
            # On a terminal the line starts fresh: the terminal has just echoed ^C, or the
            # progress bar is on it. In a log file it is one line, not a blank one and a line.
            fresh_line = "\n" if sys.stderr.isatty() else ""
            print(f"{fresh_line}{STOP_SIGNALS[signum]} received, stopping capture...", file=sys.stderr)
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _print_header(config: Config, console: Console, link: str) -> None:
    if config.output.quiet:
        return
    console.print(f"netscope {__version__}", markup=False)
    live = not config.capture.read_pcap
    where = f"Capturing on interface: {config.capture.interface}" if live else \
        f"Reading packets from pcap: {config.capture.read_pcap}"
    console.print(where, markup=False)
    if config.capture.filter:
        console.print(f"Filter: {config.capture.filter}", markup=False)
    console.print(f"Datalink: {link}", markup=False)


def run_headless(config: Config) -> int:
    # With an output on standard output (a pcap piped to tcpdump, a JSON export), the report
    # moves to stderr, as tcpdump -w - does, so it never ends up inside the data.
    live = not config.capture.read_pcap
    stop = threading.Event()

    def reader_gone() -> None:
        """A replay with exports goes on to the end of the file, quietly: the report was cut
        short, the exports need not be. A live capture (which has no end) stops, as does a run
        whose only output was the report."""
        if live or not output_files(config):
            stop.set()

    def output_reader_gone(others_left: bool) -> None:
        """An output's reader has gone (`--write-pcap - | tcpdump -r - -c 10`): as for the report,
        a replay finishes its other outputs; a live capture, or a run with nothing else to write, stops."""
        if live or not others_left:
            stop.set()

    # soft_wrap: a [stats], alert or header line is one line however narrow the terminal or pipe
    # (rich wraps at 80 columns when stdout is no terminal, which cut `grep '^\[stats\]'` lines in two)
    console = ReportConsole(reader_gone, highlight=False, soft_wrap=True,
                            file=sys.stderr if writes_to_stdout(config) else sys.stdout)
    source = open_source(config)
    with _interrupt_sets(stop):  # from here a stop signal is a stop: what was opened gets closed
        try:
            outputs = build_outputs(config, source, on_reader_gone=output_reader_gone)
        except OutputError:
            source.close()
            raise
        try:
            engine = build_engine(config, source, keep_recent_packets=False,
                                  top_n=max(config.stats.top_flows, config.stats.top_hosts))
        except ConfigError:  # a flow table too big to reserve: the outputs opened so far are closed, empty
            outputs.close()
            source.close()
            raise
        _print_header(config, console, engine.source.link)
        show_progress = not live and console.is_terminal and not config.output.quiet
        progress = Progress(TextColumn("replaying"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                            console=console, transient=True) if show_progress else None
        printer = HeadlessPrinter(config, console, progress)
        runner = Runner(engine, source, outputs, tick_s=config.stats.interval_ms / 1000, replay_speed=0.0,
                        count=config.run.count, publish=printer, stop_event=stop, live=live,
                        hosts_by="rate" if config.stats.enabled and config.stats.top_hosts else None)
        error: str | None = None
        result: RunResult | None = None
        written: list[tuple[str, str]] = []
        try:
            if progress is not None:
                with progress:
                    result = runner.run()
            else:
                result = runner.run()
        except (CaptureError, OutputError) as exc:  # the summary and exports still cover what was read
            error = str(exc)
        finally:
            written, closing_error = close_run(engine, outputs, source)
            error = "; ".join(message for message in (error, closing_error) if message) or None
        # still under the stop handler: a signal now (a service manager's second SIGTERM) finds the
        # run already stopping, and cannot cut the summary short
        if result is not None and result.warning:
            print(f"warning: {result.warning}", file=sys.stderr)
        totals = engine.totals()
        if not (error and totals.packets == 0 and not written):  # a table of zeros above the error says nothing
            console.print(summary_table(totals, written, live))
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
