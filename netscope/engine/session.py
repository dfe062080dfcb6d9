"""Build the pieces of one run from the validated Config; shared by headless and TUI runs."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from netscope.analysis.anomaly import AnomalyDetector, AnomalySettings, PortScanSettings, SynFloodSettings
from netscope.analysis.names import NameObserver
from netscope.analysis.tcp_health import TcpHealthSettings
from netscope.capture.interfaces import default_interface
from netscope.capture.live import LiveSource
from netscope.capture.mixed_links import MixedLinkSource, mixes_link_types
from netscope.capture.offline import FileSource
from netscope.capture.source import PacketSource
from netscope.config import Config, ConfigError, live_snaplen
from netscope.engine.core import Engine, EngineSettings
from netscope.engine.outputs import OutputError, OutputPaths, RunOutputs
from netscope.engine.snapshot import SourceInfo
from netscope.flow.tracker import FlowSettings
from netscope.linktypes import link_name
from netscope.pipeline.build import build_pipeline_engine, open_live_pipeline
from netscope.pipeline.engine import PipelineEngine
from netscope.pipeline.workers import PipelineError, worker_count


def bundled_sample() -> str:
    """The small real capture shipped in the package, replayed when nothing else is asked for."""
    return str(resources.files("netscope") / "data" / "sample.pcap")


def has_capture_privilege() -> bool:
    """CAP_NET_RAW in the effective set: what AF_PACKET capture needs on Linux (root without it fails)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 13))
    except OSError:
        pass
    return os.geteuid() == 0


def resolve_source(config: Config) -> tuple[Config, str | None]:
    """Fill in the source when none was given; returns the config and a notice for the user."""
    if config.capture.read_pcap or config.capture.interface:
        return config, None
    if has_capture_privilege():
        iface = default_interface()
        if iface:
            return config.replace("capture", interface=iface), None
    sample = bundled_sample()
    return config.replace("capture", read_pcap=sample), (
        f"no interface given and no capture privilege: replaying the bundled sample {sample} "
        "(use -i IFACE as root, or --read-pcap FILE)")


def open_source(config: Config) -> PacketSource:
    c = config.capture
    if c.read_pcap:
        if mixes_link_types(c.read_pcap):  # a pcapng libpcap would refuse: read without it
            return MixedLinkSource(c.read_pcap, bpf_filter=c.filter)
        return FileSource(c.read_pcap, bpf_filter=c.filter)

    def open_live() -> LiveSource:
        return LiveSource(c.interface, snaplen=live_snaplen(config), promiscuous=c.promiscuous, timeout_ms=c.timeout_ms,
                          buffer_size_mb=c.buffer_size_mb, immediate_mode=c.immediate_mode, bpf_filter=c.filter)

    if config.pipeline.enabled:  # each worker opens its own handle in one kernel fanout group
        return open_live_pipeline(config, open_live, lambda source: build_engine(
            _shard(config), source, keep_recent_packets=False, top_n=0))
    return open_live()


def source_info(config: Config, source: PacketSource) -> SourceInfo:
    live = not config.capture.read_pcap
    linktypes = getattr(source, "linktypes", (source.linktype,))  # a pcapng may mix several
    return SourceInfo(name=config.capture.interface if live else config.capture.read_pcap,
                      kind="live" if live else "file",
                      link=" + ".join(link_name(linktype) for linktype in linktypes))


def build_engine(config: Config, source: PacketSource, *, keep_recent_packets: bool,
                 top_n: int, second_history: bool = False, socket_owners: bool = False,
                 reverse_dns: bool = False) -> Engine | PipelineEngine:
    settings = EngineSettings(
        flow=FlowSettings(timeout_s=config.flow.timeout_secs, max_flows=config.flow.max_flows,
                          collect_expired=bool(config.output.expired_flows_jsonl)),
        top_n=top_n,
        keep_recent_packets=keep_recent_packets,
        second_history=second_history,
        socket_owners=socket_owners,
        reverse_dns=reverse_dns,
        health=health_settings(config),
    )
    if config.pipeline.enabled:
        return build_pipeline_engine(config, source, source_info(config, source), lambda shard_source: build_engine(
            _shard(config), shard_source, keep_recent_packets=False, top_n=top_n), top_n=top_n,
            detectors=build_detectors(config), keep_recent_packets=keep_recent_packets,
            second_history=second_history, socket_owners=socket_owners, reverse_dns=reverse_dns)
    try:
        return Engine(settings, source_info(config, source), detectors=build_detectors(config),
                      names=NameObserver() if config.analysis.names else None)
    except (MemoryError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno != errno.ENOMEM:
            raise
        # The tables are sized for max_flows up front (reserved, not yet touched).
        raise ConfigError(f"flow.max_flows = {config.flow.max_flows:,} needs more memory than this machine can "
                          "reserve for the flow table; lower it (0 = no cap, the table grows as flows "
                          "arrive)") from None


def _shard(config: Config) -> Config:
    """The config a pipeline shard builds its own Engine from: one process's, with its share of
    the flow cap, so that the shards together hold at most `flow.max_flows` flows as one process
    does (the reference gives each shard the whole cap: the workers times the memory asked for)."""
    cap, shards = config.flow.max_flows, worker_count(config.pipeline.workers)
    return config.replace("pipeline", enabled=False).replace("flow", max_flows=max(cap // shards, 1) if cap else 0)


def finish_engine(engine, outputs: RunOutputs) -> str | None:
    """Before exports: a pipeline hands over its shards' last alerts, expired flows and tables.

    Returns the one-line error of a shard that failed; what the others handed over is still
    recorded, and the caller still writes the exports.
    """
    finish = getattr(engine, "finish", None)
    if finish is None:
        return None
    try:
        finish()
    except PipelineError as exc:
        return str(exc)
    finally:
        outputs.record(engine)
    return None


def health_settings(config: Config) -> TcpHealthSettings | None:
    """TCP health when any measure is on; all three off is the reference's compact scale mode."""
    a = config.analysis
    if not (a.rtt or a.retrans or a.out_of_order):
        return None
    return TcpHealthSettings(rtt=a.rtt, retrans=a.retrans, out_of_order=a.out_of_order,
                             keep_expired=bool(config.output.expired_flows_jsonl))


def build_detectors(config: Config) -> list[AnomalyDetector]:
    a = config.analysis.anomalies
    if not a.enabled:
        return []
    settings = AnomalySettings(
        syn_flood=SynFloodSettings(**vars(a.syn_flood)),
        port_scan=PortScanSettings(**vars(a.port_scan)),
    )
    return [AnomalyDetector(settings)]


def output_paths(config: Config) -> OutputPaths:
    o = config.output
    return OutputPaths(export_json=o.export_json, export_csv=o.export_csv, export_hosts_csv=o.export_hosts_csv,
                       expired_flows_jsonl=o.expired_flows_jsonl,
                       alerts_jsonl=config.analysis.alerts_jsonl, write_pcap=o.write_pcap,
                       write_pcap_rotate_mb=o.write_pcap_rotate_mb, write_pcap_max_files=o.write_pcap_max_files)


def build_outputs(config: Config, source, on_reader_gone: Callable[[bool], None] | None = None) -> RunOutputs:
    linktypes = getattr(source, "linktypes", (source.linktype,))
    if config.output.write_pcap and len(linktypes) > 1:
        raise OutputError(f"--write-pcap writes pcap, which holds one link type, but {config.capture.read_pcap} mixes "
                          f"{' and '.join(link_name(linktype) for linktype in linktypes)}")
    return RunOutputs(output_paths(config), linktype=source.linktype,
                      snaplen=getattr(source, "snaplen", None) or live_snaplen(config), on_reader_gone=on_reader_gone)


def close_run(engine, outputs: RunOutputs, source) -> tuple[list[tuple[str, str]], str | None]:
    """How every run ends (EOF, count, Ctrl-C, an error): shards hand over, exports are written,
    files and the source are closed. Returns what was written and the first error, if any."""
    written: list[tuple[str, str]] = []
    error: str | None = None
    try:
        error = finish_engine(engine, outputs)
        written, export_error = outputs.finish(engine)
        error = error or export_error
    except OutputError as exc:
        error = error or str(exc)
    finally:
        outputs.close()
        source.close()
    return written, error
