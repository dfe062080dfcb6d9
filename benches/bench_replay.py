"""Replay throughput: raw libpcap batches vs netscope's engine vs a plain dpkt flow loop.

Usage: python benches/bench_replay.py [--packets N] [--repeat R] [--json OUT] [--default-allocator]

Builds a large capture from the bundled sample (mergecap), then measures packets per CPU second:
  raw next_batch   the floor: pcapy hands over batches, nothing looks at them
  engine, default  FileSource -> parse_batch -> FlowTracker + TCP health + passive names: what a
                   headless replay does minus printing and exports
  engine, scale    the same with TCP health and names off (analysis.rtt/retrans/out_of_order and
                   analysis.names false)
  dpkt loop        a per-packet Python loop decoding with dpkt into a flow dict (the naive way)
The allocator is tuned first, as the CLI does (netscope.cli.tune_allocator), so every row runs
in the same process conditions as `netscope --headless`; --default-allocator skips that.
Issue targets: engine >= 0.4x raw (issue 2), >= 0.6x raw (issue 4); engine >= 5x dpkt loop.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

import dpkt
import pcapy

sys.path.insert(0, str(Path(__file__).parent))
from common import build_large_capture, raw_read_rate

from netscope.analysis.names import NameObserver
from netscope.capture.offline import FileSource
from netscope.cli import tune_allocator
from netscope.engine.core import Engine, EngineSettings
from netscope.engine.snapshot import SourceInfo


def engine_rate(path: Path, full: bool) -> tuple[float, int]:
    """Default engine (TCP health and names on) or scale mode (both off)."""
    settings = EngineSettings() if full else EngineSettings(health=None)
    engine = Engine(settings, SourceInfo(str(path), "file", "Ethernet"), names=NameObserver() if full else None)
    start = time.process_time()
    with FileSource(str(path)) as source:
        packets = 0
        for raw in source.batches():
            engine.process(raw)
            packets += raw.count
    elapsed = time.process_time() - start
    return packets / elapsed, engine.tracker.active_flows


def dpkt_rate(path: Path, limit: int) -> tuple[float, int]:
    """The baseline a Python programmer writes first: one Python iteration per packet."""
    reader = pcapy.open_offline(str(path))
    flows: dict[tuple, list[int]] = {}
    packets = 0
    start = time.process_time()
    while packets < limit:
        header, data = reader.next()
        if header is None:
            break
        packets += 1
        eth = dpkt.ethernet.Ethernet(data)
        ip = eth.data
        if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
            continue
        l4 = ip.data
        if not isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP):
            continue
        family = socket.AF_INET if isinstance(ip, dpkt.ip.IP) else socket.AF_INET6
        src = (socket.inet_ntop(family, ip.src), l4.sport)
        dst = (socket.inet_ntop(family, ip.dst), l4.dport)
        forward = src <= dst
        key = (ip.p, *(src + dst if forward else dst + src))
        record = flows.setdefault(key, [0, 0, 0, 0])
        record[0 if forward else 1] += 1
        record[2 if forward else 3] += header.getlen()
    elapsed = time.process_time() - start
    return packets / elapsed, len(flows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=600_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dpkt-packets", type=int, default=150_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--default-allocator", action="store_true", help="leave glibc malloc untuned")
    args = parser.parse_args()
    if not args.default_allocator:
        tune_allocator()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.pcap"
        total = build_large_capture(args.packets, path)
        raw = raw_read_rate(path, repeat=args.repeat)
        engine, flows = max(engine_rate(path, full=True) for _ in range(args.repeat))
        engine_plain, _ = max(engine_rate(path, full=False) for _ in range(args.repeat))
        naive, _ = max(dpkt_rate(path, args.dpkt_packets) for _ in range(2))
    rows = [
        ("raw next_batch read", raw, 1.0),
        ("engine, default (+ TCP health, names)", engine, engine / raw),
        ("engine, scale mode (parse + flows)", engine_plain, engine_plain / raw),
        ("dpkt per-packet loop", naive, naive / raw),
    ]
    print(f"replay of {total:,} packets ({path.name}), {flows:,} flows; packets per CPU second, best of {args.repeat}")
    print(f"{'path':<40}{'packets/s':>14}{'x raw':>8}")
    for name, rate, ratio in rows:
        print(f"{name:<40}{rate:>14,.0f}{ratio:>8.2f}")
    print(f"engine / dpkt loop: {engine / naive:.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"packets": total, "rows": [
            {"path": n, "packets_per_s": r, "ratio_raw": q} for n, r, q in rows],
            "engine_over_dpkt": engine / naive}, indent=2))


if __name__ == "__main__":
    main()
