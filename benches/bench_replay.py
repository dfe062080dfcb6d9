"""Replay throughput: raw libpcap batches vs netscope's engine vs a plain dpkt flow loop.

Usage: python benches/bench_replay.py [--packets N] [--repeat R] [--json OUT] [--default-allocator]

Builds a large capture from the bundled sample (mergecap), then measures packets per second of
the wall clock (best of R) and per CPU second of the process (all its threads):
  raw next_batch   the floor: pcapy hands over batches, nothing looks at them
  engine, default  FileSource -> parse_batch -> FlowTracker + TCP health + passive names: what a
                   headless replay does minus printing and exports
  engine, scale    the same with TCP health and names off (analysis.rtt/retrans/out_of_order and
                   analysis.names false)
  dpkt loop        a per-packet Python loop decoding with dpkt into a flow dict (the naive way)
FileSource reads a batch ahead in a thread while the engine works on the last one, so on two
cores the engine's wall rate gains on its CPU rate; the ratios that count are wall against wall.
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


def engine_rate(path: Path, full: bool) -> tuple[float, float, int]:
    """(wall rate, CPU rate, flows) of the default engine (TCP health and names on) or scale mode."""
    settings = EngineSettings() if full else EngineSettings(health=None)
    engine = Engine(settings, SourceInfo(str(path), "file", "Ethernet"), names=NameObserver() if full else None)
    start, start_cpu = time.perf_counter(), time.process_time()
    with FileSource(str(path)) as source:
        packets = 0
        for raw in source.batches():
            engine.process(raw)
            packets += raw.count
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return packets / wall, packets / cpu, engine.tracker.active_flows


def best_engine_rates(path: Path, full: bool, repeat: int) -> tuple[float, float, int]:
    runs = [engine_rate(path, full) for _ in range(repeat)]
    return max(r[0] for r in runs), max(r[1] for r in runs), runs[0][2]


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
        raw_wall = raw_read_rate(path, repeat=args.repeat, clock=time.perf_counter)
        raw_cpu = raw_read_rate(path, repeat=args.repeat)
        engine, engine_cpu, flows = best_engine_rates(path, True, args.repeat)
        plain, plain_cpu, _ = best_engine_rates(path, False, args.repeat)
        naive, _ = max(dpkt_rate(path, args.dpkt_packets) for _ in range(2))  # one thread: CPU = wall
    rows = [
        ("raw next_batch read", raw_wall, raw_cpu),
        ("engine, default (+ TCP health, names)", engine, engine_cpu),
        ("engine, scale mode (parse + flows)", plain, plain_cpu),
        ("dpkt per-packet loop", naive, naive),
    ]
    print(f"replay of {total:,} packets ({path.name}), {flows:,} flows; best of {args.repeat}")
    print(f"{'path':<40}{'packets/s':>12}{'x raw':>7}{'per CPU s':>12}{'x raw':>7}")
    for name, wall, cpu in rows:
        print(f"{name:<40}{wall:>12,.0f}{wall / raw_wall:>7.2f}{cpu:>12,.0f}{cpu / raw_cpu:>7.2f}")
    print(f"engine / dpkt loop: {engine / naive:.1f}x (wall), {engine_cpu / naive:.1f}x (CPU)")
    if args.json:
        args.json.write_text(json.dumps({"packets": total, "rows": [
            {"path": n, "packets_per_s": w, "ratio_raw": w / raw_wall, "packets_per_cpu_s": c,
             "ratio_raw_cpu": c / raw_cpu} for n, w, c in rows],
            "engine_over_dpkt": engine / naive}, indent=2))


if __name__ == "__main__":
    main()
