"""One typed configuration object: compiled defaults <- TOML file <- command-line flags.

Every section is a frozen dataclass whose field types drive validation, so a key that is
unknown or has the wrong type is rejected once, at start, with a message naming the key
(the reference silently ignores unknown keys; a typo then costs an afternoon).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netscope.capture.pcapfile import FULL_SNAPLEN
from netscope.paths import STDOUT_FD, descriptor_alias, existing_segments, is_ordinary_file, is_segment_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

INT32_MAX = 2**31 - 1  # libpcap's int arguments (the reference types these keys i32)
UINT32_MAX = 2**32 - 1
MAX_BUFFER_MB = INT32_MAX // (1 << 20)
# The hash index numbers rows in int32 and the tables are sized a quarter above the cap.
MAX_FLOWS = 1 << 30
# A ring slot holds at most one read batch (32,768 packets) anyway; far larger slots only reserve
# shared memory (41 bytes of columns per packet, four slots).
MAX_SLOT_PACKETS = 1 << 20
# Each worker is a process with its own flow table and ring slots (and, live, a capture handle in
# one kernel fanout group); auto picks at most 8. Far more is a typo that forks a machine full.
MAX_WORKERS = 64
# Flow times are int64 microseconds; a timeout of a century already means "never" to any capture.
MAX_FLOW_TIMEOUT_S = 100 * 365 * 86400


MONITOR_SNAPLEN = 4096  # every header, and the start of payload the name decoders read


def live_snaplen(config: Config) -> int:
    """The live capture length when none was set: whole packets only when they are written
    (--write-pcap). Copying whole 64 KiB GRO/TSO super-packets out of the kernel ring is what
    makes a capture fall behind (an iperf3 run on lo: 80 % dropped at 65535, under 1 % at 4096);
    wire lengths of cut packets come from their IP headers, and frames of a 1500-byte MTU are
    never cut."""
    if config.capture.snaplen is not None:
        return config.capture.snaplen
    return FULL_SNAPLEN if config.output.write_pcap else MONITOR_SNAPLEN


class ConfigError(Exception):
    """A configuration problem, phrased as one line that names the offending key."""


@dataclass(frozen=True)
class CaptureConfig:
    interface: str | None = None
    read_pcap: str | None = None
    promiscuous: bool = True
    snaplen: int | None = None  # None: live_snaplen() picks one
    timeout_ms: int = 100
    buffer_size_mb: int | None = None
    immediate_mode: bool = False
    filter: str | None = None


@dataclass(frozen=True)
class RunConfig:
    count: int = 0
    headless: bool = False


@dataclass(frozen=True)
class OutputConfig:
    export_json: str | None = None
    export_csv: str | None = None
    export_hosts_csv: str | None = None
    expired_flows_jsonl: str | None = None
    quiet: bool = False
    write_pcap: str | None = None
    write_pcap_rotate_mb: int = 0
    write_pcap_max_files: int = 0


@dataclass(frozen=True)
class FlowConfig:
    timeout_secs: float = 60.0
    max_flows: int = 100_000


@dataclass(frozen=True)
class StatsConfig:
    enabled: bool = False
    interval_ms: int = 1000
    top_flows: int = 0
    top_hosts: int = 0  # headless: the busiest addresses under each stats line (flow/hosts.py)


@dataclass(frozen=True)
class SynFloodConfig:
    enabled: bool = True
    window_secs: float = 5.0
    syn_threshold: int = 200
    unique_src_threshold: int = 50
    cooldown_secs: float = 10.0


@dataclass(frozen=True)
class PortScanConfig:
    enabled: bool = True
    window_secs: float = 10.0
    unique_ports_threshold: int = 25
    unique_hosts_threshold: int = 10
    cooldown_secs: float = 30.0


@dataclass(frozen=True)
class AnomaliesConfig:
    enabled: bool = False
    syn_flood: SynFloodConfig = field(default_factory=SynFloodConfig)
    port_scan: PortScanConfig = field(default_factory=PortScanConfig)


@dataclass(frozen=True)
class AnalysisConfig:
    rtt: bool = True
    retrans: bool = True
    out_of_order: bool = True
    names: bool = True
    alerts_jsonl: str | None = None
    anomalies: AnomaliesConfig = field(default_factory=AnomaliesConfig)


@dataclass(frozen=True)
class PipelineConfig:
    enabled: bool = False
    workers: int = 0
    # Packets per shared-memory ring slot (file replays). One slot takes a whole FileSource batch, so
    # each worker gets batches of about 32768 / N packets: at the reference's 4096 the per-batch
    # numpy overhead made two workers slower than one process.
    channel_capacity: int = 32768


@dataclass(frozen=True)
class TuiConfig:
    tick_ms: int = 1000
    replay_speed: float = 1.0  # 0 = as fast as possible
    top_n: int = 100
    history_points: int = 300
    reverse_dns: bool = True  # live: name the addresses on screen by reverse DNS, as iftop does


@dataclass(frozen=True)
class Config:
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    run: RunConfig = field(default_factory=RunConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    tui: TuiConfig = field(default_factory=TuiConfig)

    def replace(self, section: str, **values: Any) -> Config:
        """A copy with some keys of one section changed (CLI flags use this)."""
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **values)})


# Path-like keys where "" means "unset", as in the reference (§1.3).
_EMPTY_MEANS_UNSET = {
    "capture.interface", "capture.read_pcap", "capture.filter", "output.export_json",
    "output.export_csv", "output.export_hosts_csv", "output.expired_flows_jsonl", "output.write_pcap",
    "analysis.alerts_jsonl",
}


def _type_name(tp: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return names.get(args[0] if args else tp, str(tp))


def _as_toml(value: Any) -> str:
    """A value as the config file spells it (true, "soon", [1, 2]), for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "[" + ", ".join(_as_toml(item) for item in value) + "]"
    return str(value)


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check one TOML value against a dataclass field type; ints are accepted where floats are."""
    optional = isinstance(tp, types.UnionType) and type(None) in typing.get_args(tp)
    base = next((a for a in typing.get_args(tp) if a is not type(None)), tp) if optional else tp
    if optional and key in _EMPTY_MEANS_UNSET and value == "":
        return None
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    wrong = ((base is bool and not isinstance(value, bool))
             or (base is int and (isinstance(value, bool) or not isinstance(value, int)))
             or (base in (float, str) and not isinstance(value, base)))
    if wrong:
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_as_toml(value)}")
    return value


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            where = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"unknown config key '{where}'")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        key = f"{prefix}.{f.name}" if prefix else f.name
        value, tp = data[f.name], hints[f.name]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected a table [{key}], got {_as_toml(value)}")
            values[f.name] = _build(tp, value, key)
        else:
            values[f.name] = _coerce(key, value, tp)
    return cls(**values)


def load_file(path: str | Path) -> Config:
    """Read a TOML file into a Config (not yet merged with flags, not yet validated)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8 by definition
        raise ConfigError(f"config file {path} is not valid TOML: not UTF-8 (byte 0x{exc.object[exc.start]:02x} "
                          f"at offset {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return from_dict(data)


def from_dict(data: dict[str, Any]) -> Config:
    """A Config from TOML-shaped data: unknown keys and wrong types raise, ranges are left to validate."""
    return _build(Config, data, "")


def validate(config: Config) -> Config:
    """Cross-key and range checks, run once on the merged configuration."""
    c = config
    if c.capture.interface and c.capture.read_pcap:
        raise ConfigError("capture.interface and capture.read_pcap are mutually exclusive")
    checks = [
        ("capture.snaplen", c.capture.snaplen is None or c.capture.snaplen > 0, "must be > 0"),
        ("capture.timeout_ms", 0 <= c.capture.timeout_ms <= INT32_MAX, f"must be between 0 and {INT32_MAX}"),
        ("capture.buffer_size_mb", c.capture.buffer_size_mb is None or 0 <= c.capture.buffer_size_mb <= MAX_BUFFER_MB,
         f"must be between 0 and {MAX_BUFFER_MB} (libpcap takes the size in bytes as an int)"),
        ("run.count", c.run.count >= 0, "must be >= 0"),
        ("flow.timeout_secs", 0 <= c.flow.timeout_secs <= MAX_FLOW_TIMEOUT_S,
         f"must be between 0 and {MAX_FLOW_TIMEOUT_S} seconds (0 = never)"),
        ("flow.max_flows", 0 <= c.flow.max_flows <= MAX_FLOWS, f"must be between 0 and {MAX_FLOWS} (0 = no cap)"),
        ("stats.interval_ms", c.stats.interval_ms > 0, "must be > 0"),
        ("stats.top_flows", c.stats.top_flows >= 0, "must be >= 0"),
        ("stats.top_hosts", c.stats.top_hosts >= 0, "must be >= 0"),
        ("tui.tick_ms", c.tui.tick_ms >= 16, "must be >= 16"),
        ("output.write_pcap_rotate_mb", c.output.write_pcap_rotate_mb >= 0, "must be >= 0"),
        ("output.write_pcap_max_files", c.output.write_pcap_max_files >= 0, "must be >= 0"),
        ("pipeline.workers", 0 <= c.pipeline.workers <= MAX_WORKERS, f"must be between 0 and {MAX_WORKERS} (0 = auto)"),
        ("pipeline.channel_capacity", 0 < c.pipeline.channel_capacity <= MAX_SLOT_PACKETS,
         f"must be between 1 and {MAX_SLOT_PACKETS}"),
        ("tui.replay_speed", c.tui.replay_speed >= 0, "must be >= 0 (0 = as fast as possible)"),
        ("tui.top_n", c.tui.top_n > 0, "must be > 0"),
        ("tui.history_points", c.tui.history_points > 1, "must be > 1"),
    ]
    for key, ok, why in checks:
        if not ok:
            section, name = key.split(".")
            raise ConfigError(f"{key} {why}, got {getattr(getattr(c, section), name)!r}")
    for name in ("syn_flood", "port_scan"):
        detector = getattr(c.analysis.anomalies, name)
        for key in ("window_secs", "cooldown_secs"):
            if not 0 <= getattr(detector, key) <= 86400:
                raise ConfigError(f"analysis.anomalies.{name}.{key} must be between 0 and 86400 seconds, "
                                  f"got {getattr(detector, key)!r}")
        for key in (f.name for f in dataclasses.fields(detector) if f.name.endswith("_threshold")):
            value = getattr(detector, key)
            if not 0 <= value <= UINT32_MAX:  # the reference's u32
                raise ConfigError(f"analysis.anomalies.{name}.{key} must be between 0 and {UINT32_MAX}, got {value}")
    o = c.output
    if (o.write_pcap_rotate_mb or o.write_pcap_max_files) and not o.write_pcap:
        raise ConfigError("output.write_pcap must be set when pcap rotation is enabled")
    if (o.write_pcap_rotate_mb or o.write_pcap_max_files) and not (o.write_pcap_rotate_mb and o.write_pcap_max_files):
        raise ConfigError("output.write_pcap_rotate_mb and output.write_pcap_max_files must both be > 0 "
                          "when rotation is enabled")
    if o.write_pcap_rotate_mb and o.write_pcap and not is_ordinary_file(o.write_pcap):
        raise ConfigError(f"output.write_pcap_rotate_mb needs output.write_pcap to be a file; {o.write_pcap} "
                          "cannot take numbered segments")
    if o.write_pcap and c.pipeline.enabled and not c.capture.read_pcap:  # live: the workers capture, not this process
        raise ConfigError("output.write_pcap cannot be used with pipeline.enabled on a live capture "
                          "(the workers capture; use single-process mode to record)")
    _check_distinct_files(c)
    if c.capture.buffer_size_mb == 0:
        c = c.replace("capture", buffer_size_mb=None)
    return c


def output_files(c: Config) -> list[tuple[str, str]]:
    """(key, path) of every file output that is set."""
    return [(key, path) for key, path in (
        ("output.write_pcap", c.output.write_pcap), ("output.export_json", c.output.export_json),
        ("output.export_csv", c.output.export_csv), ("output.export_hosts_csv", c.output.export_hosts_csv),
        ("output.expired_flows_jsonl", c.output.expired_flows_jsonl),
        ("analysis.alerts_jsonl", c.analysis.alerts_jsonl),
    ) if path]


def writes_to_stdout(c: Config) -> bool:
    """Whether an output goes to standard output: then the report goes to stderr and no screen runs."""
    return any(descriptor_alias(path) == STDOUT_FD for _, path in output_files(c))


def _check_distinct_files(c: Config) -> None:
    """No output may be the capture being read (it is truncated at start) or another output."""
    read = [("capture.read_pcap", c.capture.read_pcap)] if c.capture.read_pcap else []
    files = [(key, path) for key, path in read + output_files(c) if path != "-" and is_ordinary_file(path)]
    for i, (key, path) in enumerate(files):
        for other_key, other in files[:i]:
            if _same_file(path, other):
                what = "the capture being read" if other_key == "capture.read_pcap" else f"{other_key} as well"
                raise ConfigError(f"{key} {path} is {what}")
    if c.output.write_pcap_rotate_mb and c.output.write_pcap:
        _check_outside_ring(Path(c.output.write_pcap), [(k, p) for k, p in files if k != "output.write_pcap"])


def _check_outside_ring(ring: Path, files: list[tuple[str, str]]) -> None:
    """A rotating capture writes numbered segments next to its path and deletes the oldest, ones
    from earlier runs included: no other file of the run may be, or be named as, one of them."""
    try:
        segments = [segment for _, segment in existing_segments(ring)]
    except OSError:
        segments = []  # a directory that cannot be listed fails when the ring opens
    for key, path in files:
        if is_segment_name(ring, path) or any(_same_file(path, str(segment)) for segment in segments):
            raise ConfigError(f"{key} {path} is a segment of the output.write_pcap ring {ring}, "
                              "which rotation overwrites or deletes")


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def iter_keys(cls: type = Config, prefix: str = "") -> typing.Iterator[tuple[str, Any]]:
    """Every leaf key with its default, in declaration order (docs and tests use this)."""
    instance = cls()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(hints[f.name]):
            yield from iter_keys(hints[f.name], key)
        else:
            yield key, getattr(instance, f.name)
