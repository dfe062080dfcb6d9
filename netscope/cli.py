"""Command line: flags -> Config (defaults <- TOML <- flags), then a headless run or the TUI.

Every failure a user can cause ends here as one `error: ...` line and a non-zero exit:
1 for runtime problems (capture, files), 2 for usage and configuration mistakes.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import sys
from typing import Any, NoReturn

from netscope import __version__
from netscope.config import Config, ConfigError, load_file, validate, writes_to_stdout
from netscope.engine.signals import STOP_SIGNALS, StoppedBeforeTheRun, stop_at_once_on_signals

EXIT_RUNTIME = 1
EXIT_USAGE = 2

# glibc mallopt parameters, and the values a replay wants: big per-batch buffers come from (and
# go back to) the heap instead of fresh mmap'd pages that fault in on every batch.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 64 << 20
TRIM_THRESHOLD_BYTES = 256 << 20

# flag dest -> (config section, key); a flag given on the command line overrides the file.
FLAG_KEYS: dict[str, tuple[str, str]] = {
    "interface": ("capture", "interface"),
    "read_pcap": ("capture", "read_pcap"),
    "filter": ("capture", "filter"),
    "promiscuous": ("capture", "promiscuous"),
    "snaplen": ("capture", "snaplen"),
    "timeout_ms": ("capture", "timeout_ms"),
    "buffer_size_mb": ("capture", "buffer_size_mb"),
    "immediate_mode": ("capture", "immediate_mode"),
    "count": ("run", "count"),
    "headless": ("run", "headless"),
    "export_json": ("output", "export_json"),
    "export_csv": ("output", "export_csv"),
    "export_hosts": ("output", "export_hosts_csv"),
    "expired_flows_jsonl": ("output", "expired_flows_jsonl"),
    "quiet": ("output", "quiet"),
    "flow_timeout_s": ("flow", "timeout_secs"),
    "max_flows": ("flow", "max_flows"),
    "stats": ("stats", "enabled"),
    "stats_interval_ms": ("stats", "interval_ms"),
    "top_flows": ("stats", "top_flows"),
    "top_hosts": ("stats", "top_hosts"),
    "write_pcap": ("output", "write_pcap"),
    "write_pcap_rotate_mb": ("output", "write_pcap_rotate_mb"),
    "write_pcap_max_files": ("output", "write_pcap_max_files"),
    "anomalies": ("analysis.anomalies", "enabled"),
    "alerts_jsonl": ("analysis", "alerts_jsonl"),
    "names": ("analysis", "names"),
    "pipeline": ("pipeline", "enabled"),
    "workers": ("pipeline", "workers"),
    "tick_ms": ("tui", "tick_ms"),
    "reverse_dns": ("tui", "reverse_dns"),
    "replay_speed": ("tui", "replay_speed"),
}


def _speed(text: str) -> float:
    if text.lower() in ("max", "0"):
        return 0.0
    try:
        value = float(text.rstrip("xX"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a speed like 1, 10 or max, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("speed must be >= 0")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line errors every other bad input gets, not 15 lines of usage first."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see netscope --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="netscope", description="Watch the busiest flows on an interface or in a "
                                "capture file: a terminal UI, or headless stats and exports.",
                                argument_default=argparse.SUPPRESS)
    flag = argparse.BooleanOptionalAction
    src = p.add_argument_group("source")
    live_or_file = src.add_mutually_exclusive_group()  # each clears the other's config key, so both would be neither
    live_or_file.add_argument("-i", "--interface", metavar="IFACE",
                              help="capture live on IFACE (needs root or CAP_NET_RAW)")
    live_or_file.add_argument("--read-pcap", metavar="FILE",
                              help="replay a pcap or pcapng file, also gzip/bzip2/xz/zstd/lz4-compressed "
                                   "(- = standard input)")
    src.add_argument("-f", "--filter", metavar="EXPR", help="BPF filter, e.g. 'tcp port 443'")
    src.add_argument("-c", "--count", type=int, metavar="N", help="stop after N packets (0 = no limit)")
    src.add_argument("-p", "--promiscuous", action=flag, help="promiscuous mode (live; default on)")
    src.add_argument("-s", "--snaplen", type=int, metavar="BYTES", help="live capture length (default 4096, or 65535 "
                     "with --write-pcap)")
    src.add_argument("-t", "--timeout-ms", type=int, metavar="MS", help="libpcap read timeout (default 100)")
    src.add_argument("--buffer-size-mb", type=int, metavar="MB", help="libpcap kernel buffer size")
    src.add_argument("--immediate-mode", action=flag, help="deliver packets without buffering (live)")
    src.add_argument("-l", "--list-interfaces", action="store_true", default=False, help="list interfaces and exit")
    out = p.add_argument_group("output")
    out.add_argument("--headless", action=flag, help="no TUI: stats lines and a summary (default when stdin "
                     "or stdout is not a terminal)")
    out.add_argument("-q", "--quiet", action=flag,
                     help="headless: no banner, alert lines or progress bar; --stats lines still print")
    out.add_argument("--stats", action=flag, help="headless: print a [stats] line every interval")
    out.add_argument("--stats-interval-ms", type=int, metavar="MS", help="stats interval (default 1000)")
    out.add_argument("--top-flows", type=int, metavar="N", help="headless: top N flows under each stats line")
    out.add_argument("--top-hosts", type=int, metavar="N", help="headless: top N hosts (flows summed by address) "
                     "under each stats line")
    out.add_argument("--export-json", metavar="PATH", help="write the flow table as JSON at exit")
    out.add_argument("--export-csv", metavar="PATH", help="write the flow table as CSV at exit")
    out.add_argument("--export-hosts", metavar="PATH", help="write per-host totals (as Wireshark's Endpoints) as CSV "
                     "at exit")
    out.add_argument("--expired-flows-jsonl", metavar="PATH", help="stream expired/evicted flows as JSON lines")
    out.add_argument("--write-pcap", metavar="PATH", help="write every captured packet to a pcap file (- = "
                     "standard output)")
    out.add_argument("--write-pcap-rotate-mb", type=int, metavar="MB", help="start a new pcap segment every MB")
    out.add_argument("--write-pcap-max-files", type=int, metavar="N", help="keep only the newest N segments")
    flows = p.add_argument_group("flows and analysis")
    flows.add_argument("--flow-timeout-s", type=float, metavar="SECS", help="idle timeout (default 60, 0 = never)")
    flows.add_argument("--max-flows", type=int, metavar="N", help="flow table cap (default 100000, 0 = none)")
    flows.add_argument("--anomalies", action=flag, help="SYN-flood and port-scan detection (default off)")
    flows.add_argument("--alerts-jsonl", metavar="PATH", help="stream alerts as JSON lines")
    flows.add_argument("--names", action=flag, help="passive DNS, TLS SNI and HTTP Host names (default on)")
    flows.add_argument("--pipeline", action=flag, help="shard flows across worker processes")
    flows.add_argument("--workers", type=int, metavar="N", help="pipeline workers (0 = auto); N > 0 implies "
                       "--pipeline")
    tui = p.add_argument_group("terminal UI")
    tui.add_argument("--tick-ms", type=int, metavar="MS", help="screen refresh and rate interval (default 1000)")
    tui.add_argument("--replay-speed", type=_speed, metavar="X", help="replay pace: 1, 2, 10, 100 or max")
    tui.add_argument("--reverse-dns", action=flag, help="live: name the addresses on screen by reverse DNS, as "
                     "iftop does (default on)")
    check = p.add_argument_group("memory check")
    check.add_argument("--synthetic-flows", type=int, metavar="N", help="insert N synthetic flows, print time "
                       "and memory, exit 2 if peak RSS is over --memory-budget-mb")
    check.add_argument("--memory-budget-mb", type=int, default=500, metavar="MB", help="budget (default 500)")
    p.add_argument("--config", metavar="FILE", help="TOML configuration file (see config.example.toml)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more diagnostics on stderr")
    p.add_argument("-V", "--version", action="version", version=f"netscope {__version__}")
    return p


LIVE_ONLY = ("promiscuous", "snaplen", "timeout_ms", "buffer_size_mb", "immediate_mode")


def _set(config: Config, section: str, key: str, value: Any) -> Config:
    """Replace one key; `section` may be dotted (analysis.anomalies) for nested tables."""
    if "." not in section:
        return config.replace(section, **{key: value})
    top, inner = section.split(".", 1)
    node = getattr(config, top)
    updated = dataclasses.replace(node, **{inner: dataclasses.replace(getattr(node, inner), **{key: value})})
    return dataclasses.replace(config, **{top: updated})


def merge_flags(config: Config, args: dict[str, Any]) -> Config:
    """Apply the flags that were given; -i and --read-pcap each clear the other, as in the reference."""
    for dest, (section, key) in FLAG_KEYS.items():
        if dest in args:
            value = args[dest]
            if dest in ("read_pcap", "interface", "filter", "export_json", "export_csv", "export_hosts",
                        "write_pcap", "expired_flows_jsonl", "alerts_jsonl") and value == "":
                value = None
            config = _set(config, section, key, value)
    if args.get("workers"):
        config = config.replace("pipeline", enabled=True)
    if "interface" in args:
        config = config.replace("capture", read_pcap=None)
    if "read_pcap" in args:
        config = config.replace("capture", interface=None)
    return config


def _flag(dest: str) -> str:
    """The long option argparse stores under `dest`."""
    return f"--{dest.replace('_', '-')}"


def _unused_flags(args: dict[str, Any], config: Config, headless: bool) -> list[str]:
    """Flags given that this run has no use for, said once instead of ignored without a word."""
    notes = []
    if headless and "replay_speed" in args:
        notes.append("--replay-speed paces the screen; a headless replay runs as fast as it can")
    if config.capture.read_pcap:
        given = [_flag(dest) for dest in LIVE_ONLY if dest in args]
        if given:
            notes.append(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to live capture only")
    if "reverse_dns" in args and (headless or config.capture.read_pcap):
        notes.append(f"{_flag('reverse_dns')} names the addresses on the screen of a live capture only")
    return notes


def name_the_flag(message: str, args: dict[str, Any]) -> str:
    """A configuration error names the key; when a flag set it, say the flag too, since that is
    what was typed (`--workers 99999` -> "pipeline.workers must be ... (--workers)")."""
    for dest, (section, key) in FLAG_KEYS.items():
        if dest in args and message.startswith(f"{section}.{key} "):
            return f"{message} ({_flag(dest)})"
    return message


def load_config(args: dict[str, Any]) -> Config:
    config = load_file(args["config"]) if "config" in args else Config()
    return validate(merge_flags(config, args))


def _list_interfaces() -> int:
    from netscope.capture.errors import CaptureError
    from netscope.capture.interfaces import list_interfaces

    try:
        interfaces = list_interfaces()
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    print(f"{'Name':<20} {'Description':<24} Addresses")
    print("-" * 70)
    for iface in interfaces:
        print(f"{iface.name:<20} {(iface.description or '')[:24]:<24} {', '.join(iface.addresses)}")
    if not interfaces:
        print("  (no interfaces found — try running as root)")
    return 0


def tune_allocator() -> bool:
    """Keep large freed blocks in the heap for reuse, as MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ would.

    Every batch allocates megabytes (pcapy's packet buffer, numpy temporaries of the parse and
    flow stages) and frees them again. With glibc's defaults those blocks are mmap'd and
    unmapped each time, so every batch pays page faults on fresh zeroed pages; kept in the heap
    they are reused warm (a replay gains 5-15%). Costs at most TRIM_THRESHOLD_BYTES of memory
    held after a peak. Linux/glibc only: anywhere else, or without mallopt, it does nothing.
    Returns whether both settings were applied.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) & bool(mallopt(M_TRIM_THRESHOLD,
                                                                              TRIM_THRESHOLD_BYTES))


def main(argv: list[str] | None = None) -> int:
    stop_at_once_on_signals()
    try:
        return _run(argv)
    except BrokenPipeError:  # `netscope -l | head -1`: the reader has what it wanted
        from netscope.paths import discard_writes

        discard_writes(sys.stdout.fileno())
        return 0
    except StoppedBeforeTheRun as stopped:
        fresh_line = "\n" if sys.stderr.isatty() else ""  # after the ^C the terminal echoed
        print(f"{fresh_line}{STOP_SIGNALS[stopped.signum]} received, stopping", file=sys.stderr)
        return 128 + stopped.signum


def _run(argv: list[str] | None) -> int:
    tune_allocator()
    args = vars(build_parser().parse_args(argv))
    budget = args.pop("memory_budget_mb")
    if "synthetic_flows" in args:
        from netscope.synthetic import run_synthetic

        # These two bypass the configuration (as in the reference), so they are checked here.
        if args["synthetic_flows"] < 0:
            print(f"error: --synthetic-flows must be >= 0, got {args['synthetic_flows']}", file=sys.stderr)
            return EXIT_USAGE
        if budget <= 0:
            print(f"error: --memory-budget-mb must be > 0, got {budget}", file=sys.stderr)
            return EXIT_USAGE
        ignored = sorted(_flag(name) for name, value in args.items()
                         if name not in ("synthetic_flows", "verbose") and (value or name != "list_interfaces"))
        if ignored:  # the check measures the flow table alone, as the reference's does
            print(f"note: --synthetic-flows ignores {', '.join(ignored)}", file=sys.stderr)
        return run_synthetic(args["synthetic_flows"], budget)
    if args.pop("list_interfaces"):
        return _list_interfaces()
    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"error: {name_the_flag(str(exc), args)}", file=sys.stderr)
        return EXIT_USAGE
    from netscope.capture.errors import CaptureError
    from netscope.engine.outputs import OutputError
    from netscope.engine.session import resolve_source

    config, notice = resolve_source(config)
    if notice:
        print(f"note: {notice}", file=sys.stderr)
    # The screen draws on stdout and reads keys from stdin: without a terminal on both (output
    # piped, or a capture piped in with --read-pcap -), or with an output sent to stdout
    # (--write-pcap /dev/stdout), the run is headless.
    headless = config.run.headless or not sys.stdout.isatty() or not sys.stdin.isatty() or writes_to_stdout(config)
    for note in _unused_flags(args, config, headless):
        print(f"note: {note}", file=sys.stderr)
    try:
        if headless:
            from netscope.headless import run_headless

            return run_headless(config)
        from netscope.tui_launch import run_tui_session

        return run_tui_session(config)
    except ConfigError as exc:  # found only while setting up the run (a flow table too big to reserve)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CaptureError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except Exception as exc:  # a bug of ours: still one line, the traceback only on request
        if args.get("verbose"):
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc} (run with -v for a traceback)", file=sys.stderr)
        return EXIT_RUNTIME
