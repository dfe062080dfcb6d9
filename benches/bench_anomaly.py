"""What anomaly detection costs per packet: AnomalyDetector.observe on ready-parsed batches.

Streams (default settings, batches of --batch packets, parse time not included):

* mixed      the bundled sample capture (HTTP over v4/v6, iperf3 TCP and UDP, DNS-like UDP,
             pings) repeated end to end with shifted timestamps: few SYNs, much UDP;
* flood      SYNs at 100k/s to one ip:port from random sources: detection fires once per
             cooldown, and every packet brings a new port-scan key (the memory worst case);
* one-source SYNs at 100k/s from 40 sources to one ip:port: never fires (too few sources), so
             the window holds 500k entries re-read by every batch (the time worst case).

    python benches/bench_anomaly.py [--packets 2000000] [--batch 4096] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pcapy

import netscope
from netscope.analysis.anomaly import AnomalyDetector, AnomalySettings
from netscope.capture.batch import RawBatch
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import PROTO_TCP, TCP_SYN, ParsedBatch

SAMPLE = Path(netscope.__file__).parent / "data" / "sample.pcap"


def sample_batch() -> ParsedBatch:
    reader = pcapy.open_offline(str(SAMPLE))
    data, meta = reader.next_batch(1_000_000)
    sec, usec, offset, caplen = np.frombuffer(meta, dtype=np.uint32).reshape(-1, 4).T.astype(np.int64)
    return parse_batch(RawBatch(np.frombuffer(data, np.uint8), offset, caplen, caplen.copy(),
                                sec * 1_000_000 + usec, reader.datalink()))


def mixed(total: int, batch: int) -> Iterator[ParsedBatch]:
    sample = sample_batch()
    span = int(sample.ts_us[-1] - sample.ts_us[0]) + 1000
    columns = {name: getattr(sample, name) for name in ParsedBatch.__slots__}
    repeats = -(-total // sample.count)
    whole = {name: np.concatenate([col] * repeats)[:total] for name, col in columns.items()}
    whole["ts_us"] = (np.concatenate([sample.ts_us + r * span for r in range(repeats)]))[:total]
    for start in range(0, total, batch):
        yield ParsedBatch(**{name: col[start:start + batch] for name, col in whole.items()})


def syns(total: int, batch: int, sources: np.ndarray | None, rate: int = 100_000) -> Iterator[ParsedBatch]:
    """SYNs to 10.0.0.1:80 at `rate`/s from random sources (None) or from the given ones."""
    rng = np.random.default_rng(1)
    t = 1_700_000_000_000_000
    for start in range(0, total, batch):
        n = min(batch, total - start)
        zeros = np.zeros(n, np.int64)
        ts = t + np.sort(rng.integers(0, n * 1_000_000 // rate, n))
        t = int(ts[-1]) + 1
        src = rng.integers(1, 2**32, n) if sources is None else rng.choice(sources, n)
        yield ParsedBatch(
            ts_us=ts, wirelen=zeros + 60, caplen=zeros + 60, status=zeros.astype(np.uint8),
            ip_version=np.full(n, 4, np.uint8), ip_proto=np.full(n, PROTO_TCP, np.uint8),
            src_hi=zeros.astype(np.uint64), src_lo=src.astype(np.uint64), dst_hi=zeros.astype(np.uint64),
            dst_lo=np.full(n, 0x0A000001, np.uint64), src_port=rng.integers(1024, 65536, n).astype(np.uint16),
            dst_port=np.full(n, 80, np.uint16), has_l4=np.ones(n, bool), tcp_flags=np.full(n, TCP_SYN, np.uint8),
            tcp_seq=zeros.astype(np.uint32), tcp_ack=zeros.astype(np.uint32), tcp_window=zeros.astype(np.uint16),
            payload_len=zeros, icmp_type=zeros.astype(np.uint8), icmp_code=zeros.astype(np.uint8),
            vlan_id=zeros.astype(np.uint16), l3_offset=zeros + 14, l4_offset=zeros + 34)


def run(name: str, batches: list[ParsedBatch], repeat: int) -> None:
    """Best of `repeat` fresh runs over the same batches (the machine may be shared)."""
    elapsed = float("inf")
    for _ in range(repeat):
        detector = AnomalyDetector(AnomalySettings())
        packets = alerts = peak = 0
        slowest = 0.0
        started = time.perf_counter()
        for batch in batches:
            before = time.perf_counter()
            alerts += len(detector.observe(batch))
            slowest = max(slowest, time.perf_counter() - before)
            packets += batch.count
            peak = max(peak, detector.tracked_keys)
        elapsed = min(elapsed, time.perf_counter() - started)
    seconds = (batches[-1].ts_us[-1] - batches[0].ts_us[0]) / 1e6
    print(f"{name:<11} {packets:>10,} pkts {seconds:>7.1f} s of traffic  {packets / elapsed:>12,.0f} pkt/s"
          f"  {elapsed / len(batches) * 1e3:>6.2f} ms/batch (max {slowest * 1e3:.1f})"
          f"  alerts {alerts:>3}  peak keys {peak:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run("mixed", list(mixed(args.packets, args.batch)), args.repeat)
    run("flood", list(syns(args.packets, args.batch, None)), args.repeat)
    run("one-source", list(syns(args.packets, args.batch, np.arange(0x0B000001, 0x0B000001 + 40))), args.repeat)


if __name__ == "__main__":
    main()
