"""TCP health throughput next to parsing and flow tracking: python benches/bench_tcp_health.py [PCAP] [packets]

The capture (default: the bundled sample, mostly TCP) is parsed once and its packets are
replicated to about 200k (default), each copy with its own addresses so every copy is a
separate set of flows, and the copies interleaved in time so that thousands of flows are
active in every batch. Timed per batch size, best of ROUNDS passes with fresh state:
parse_batch over the replicated raw bytes, FlowTracker.observe, and TcpHealth.observe
(RTT matching, classification, handshake) fed by the tracker's mapping. Prints figures
only. The TCP share of the packets is printed too, since health work scales with it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pcapy

from netscope.analysis.tcp_health import TcpHealth
from netscope.capture.batch import RawBatch
from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import PROTO_TCP, ParsedBatch

DEFAULT_PCAP = Path(__file__).resolve().parent.parent / "netscope" / "data" / "sample.pcap"
BATCH_SIZES = (4096, 32768)
ROUNDS = 3
COPY_SPACING_US = 37  # copies start this far apart, so their packets interleave


def read_raw(path: Path) -> RawBatch:
    reader = pcapy.open_offline(str(path))
    datas, metas, base = [], [], 0
    while True:
        data, meta = reader.next_batch(4096)
        if not meta:
            break
        rows = np.frombuffer(meta, dtype=np.uint32).reshape(-1, 4).astype(np.int64)
        rows[:, 2] += base
        base += len(data)
        datas.append(data)
        metas.append(rows)
    meta = np.concatenate(metas)
    return RawBatch(np.frombuffer(b"".join(datas), np.uint8), meta[:, 2], meta[:, 3], meta[:, 3].copy(),
                    meta[:, 0] * 1_000_000 + meta[:, 1], reader.datalink())


def replicate_raw(raw: RawBatch, copies: int) -> RawBatch:
    size = raw.data.shape[0]
    offset = np.concatenate([raw.offset + k * size for k in range(copies)])
    return RawBatch(np.tile(raw.data, copies), offset, np.tile(raw.caplen, copies), np.tile(raw.wirelen, copies),
                    np.tile(raw.ts_us, copies), raw.linktype)


def replicate_parsed(parsed: ParsedBatch, copies: int) -> ParsedBatch:
    """`copies` of the packets as distinct flows (IPv4 addresses moved per copy), interleaved in time."""
    columns = {f.name: np.tile(getattr(parsed, f.name), copies) for f in fields(ParsedBatch)}
    copy = np.repeat(np.arange(copies, dtype=np.uint64), parsed.count)
    v4 = columns["ip_version"] == 4
    for side in ("src_lo", "dst_lo"):
        columns[side] = np.where(v4, (columns[side] + (copy << np.uint64(12))) & np.uint64(0xFFFFFFFF),
                                 columns[side] + copy)
    columns["ts_us"] = columns["ts_us"] + copy.astype(np.int64) * COPY_SPACING_US
    order = np.argsort(columns["ts_us"], kind="stable")
    return ParsedBatch(**{name: values[order] for name, values in columns.items()})


def split(parsed: ParsedBatch, size: int) -> list[ParsedBatch]:
    return [parsed.take(slice(i, i + size)) for i in range(0, parsed.count, size)]


def time_parse(raw_batches: list[RawBatch]) -> float:
    started = time.perf_counter()
    for batch in raw_batches:
        parse_batch(batch)
    return time.perf_counter() - started


def time_tracked(batches: list[ParsedBatch]) -> tuple[float, float]:
    """Seconds in FlowTracker.observe and in TcpHealth.observe over all batches, fresh state."""
    tracker = FlowTracker(FlowSettings(timeout_s=60, max_flows=0))
    health = TcpHealth()
    tracker_s = health_s = 0.0
    for batch in batches:
        started = time.perf_counter()
        tracker.observe(batch)
        middle = time.perf_counter()
        health.observe(batch, tracker.last_batch)
        tracker_s += middle - started
        health_s += time.perf_counter() - middle
    return tracker_s, health_s


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PCAP
    target = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    raw = read_raw(path)
    copies = -(-target // raw.count)
    parsed = replicate_parsed(parse_batch(raw), copies)
    raw_all = replicate_raw(raw, copies)
    tcp_share = float(np.mean(parsed.flow_mask() & (parsed.ip_proto == PROTO_TCP)))
    print(f"{path.name}: {raw.count} packets x {copies} copies = {parsed.count} packets, "
          f"{tcp_share:.0%} TCP flow packets; best of {ROUNDS}")
    print(f"{'batch':>7}  {'parse pkt/s':>13}  {'tracker pkt/s':>13}  {'health pkt/s':>13}  "
          f"{'health ms/batch':>15}  {'health/parse':>12}")
    for size in BATCH_SIZES:
        raw_batches = [RawBatch(raw_all.data, raw_all.offset[i:i + size], raw_all.caplen[i:i + size],
                                raw_all.wirelen[i:i + size], raw_all.ts_us[i:i + size], raw_all.linktype)
                       for i in range(0, raw_all.count, size)]
        batches = split(parsed, size)

        parse_s = min(time_parse(raw_batches) for _ in range(ROUNDS))
        runs = [time_tracked(batches) for _ in range(ROUNDS)]
        tracker_s = min(r[0] for r in runs)
        health_s = min(r[1] for r in runs)
        n = parsed.count
        print(f"{size:>7}  {n / parse_s:>13,.0f}  {n / tracker_s:>13,.0f}  {n / health_s:>13,.0f}  "
              f"{health_s * 1e3 / len(batches):>15.2f}  {parse_s / health_s:>12.2f}")


if __name__ == "__main__":
    main()
