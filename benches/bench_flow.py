"""Flow-table throughput and memory: python benches/bench_flow.py [flows] [batch]

Prints figures only (no assertions): new flows/s through FlowTracker.observe, packets/s
updating existing flows, end_tick, top-N and snapshot times over the full table, inserts
into a full table (evicting), the fixed cost of an observe call on small batches, and
VmRSS/VmHWM after each phase. Batches are built outside the timed region.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.columns import TCP_ACK, TCP_SYN, ParsedBatch, Status


def memory() -> str:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    rss, hwm = (int(status[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))
    return f"RSS {rss:7.1f} MiB, peak {hwm:7.1f} MiB"


def flow_batch(flow_ids: np.ndarray, ts_us: int, flags: int, reverse: np.ndarray | None = None) -> ParsedBatch:
    """One IPv4 TCP packet per id at ts_us + its index (distinct times, as in a capture).

    Flow i is 10.x.y.z:(1024 + i % 48000) <-> 172.16.y.z:80.
    """
    i = flow_ids.astype(np.uint64)
    n = i.shape[0]
    client = (np.uint64(10) << np.uint64(24)) | (i & np.uint64(0xFFFFFF))
    server = (np.uint64(0xAC10) << np.uint64(16)) | (i & np.uint64(0xFFFF))
    client_port = (1024 + (i % np.uint64(48000))).astype(np.uint16)
    server_port = np.full(n, 80, np.uint16)
    back = np.zeros(n, bool) if reverse is None else reverse
    zeros64, zeros8 = np.zeros(n, np.uint64), np.zeros(n, np.uint8)
    return ParsedBatch(
        ts_us=ts_us + np.arange(n, dtype=np.int64), wirelen=np.full(n, 60, np.int64), caplen=np.full(n, 60, np.int64),
        status=np.full(n, Status.OK, np.uint8), ip_version=np.full(n, 4, np.uint8), ip_proto=np.full(n, 6, np.uint8),
        src_hi=zeros64, src_lo=np.where(back, server, client), dst_hi=zeros64, dst_lo=np.where(back, client, server),
        src_port=np.where(back, server_port, client_port), dst_port=np.where(back, client_port, server_port),
        has_l4=np.ones(n, bool), tcp_flags=np.full(n, flags, np.uint8), tcp_seq=np.zeros(n, np.uint32),
        tcp_ack=np.zeros(n, np.uint32), tcp_window=np.zeros(n, np.uint16), payload_len=np.zeros(n, np.int64),
        icmp_type=zeros8, icmp_code=zeros8, vlan_id=np.zeros(n, np.uint16),
        l3_offset=np.full(n, 14, np.int64), l4_offset=np.full(n, 34, np.int64),
    )


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def best_ms(action, repeat: int = 7) -> float:
    return min(timed(action) for _ in range(repeat)) * 1e3


def main() -> None:
    flows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 65_536
    print(f"baseline: {memory()}")
    tracker = FlowTracker(FlowSettings(timeout_s=0.0, max_flows=flows))

    elapsed = 0.0
    for lo in range(0, flows, batch):
        packets = flow_batch(np.arange(lo, min(lo + batch, flows)), 1_000_000 + lo, TCP_SYN)
        elapsed += timed(lambda p=packets: tracker.observe(p))
    print(f"insert {tracker.active_flows:,} new flows: {flows / elapsed:,.0f} flows/s  | {memory()}")

    rng = np.random.default_rng(1)
    updates = 16 * batch
    elapsed = 0.0
    for k in range(0, updates, batch):
        packets = flow_batch(rng.integers(0, flows, batch), 2_000_000 + k, TCP_ACK, reverse=rng.random(batch) < 0.5)
        elapsed += timed(lambda p=packets: tracker.observe(p))
    print(f"update existing flows: {updates / elapsed:,.0f} packets/s  | {memory()}")

    tick = best_ms(tracker.end_tick, repeat=1)
    print(f"end_tick after {updates:,} updates: {tick:.1f} ms")
    for by in ("rate", "bytes", "packets", "age"):
        elapsed_ms = best_ms(lambda b=by: tracker.top(100, b))
        print(f"top(100, by={by!r}) over {tracker.active_flows:,} flows: {elapsed_ms:.2f} ms")
    print(f"snapshot of {tracker.active_flows:,} flows: {best_ms(tracker.snapshot, repeat=1):.0f} ms  | {memory()}")
    hosts_ms = best_ms(lambda: tracker.hosts().top(100, "rate"), repeat=3)
    print(f"hosts over {tracker.active_flows:,} flows ({tracker.hosts().count:,} addresses), "
          f"top 100 by rate: {hosts_ms:.0f} ms  | {memory()}")
    small = FlowTracker(FlowSettings(timeout_s=0.0, max_flows=0))  # a busy LAN: 29,040 flows, 2,000 addresses
    ids = np.arange(29_040)
    packets = flow_batch(ids % 1000, 1_000_000, TCP_SYN)
    packets.src_port[:] = (1024 + ids % 60_000).astype(np.uint16)
    small.observe(packets)
    small.end_tick()
    print(f"hosts over {small.active_flows:,} flows ({small.hosts().count:,} addresses), top 100 by rate: "
          f"{best_ms(lambda: small.hosts().top(100, 'rate')):.1f} ms")

    elapsed = 0.0
    churn = 8 * batch
    for lo in range(flows, flows + churn, batch):
        packets = flow_batch(np.arange(lo, lo + batch), 3_000_000 + lo, TCP_SYN)
        elapsed += timed(lambda p=packets: tracker.observe(p))
    print(f"insert into a full table (evicting): {churn / elapsed:,.0f} flows/s, "
          f"{tracker.evicted_count:,} evicted  | {memory()}")

    for size in (1, 64, 1024):
        packets = flow_batch(rng.integers(flows, flows + churn, size), 9_000_000, TCP_ACK)  # live flows
        per_call = best_ms(lambda p=packets: tracker.observe(p), repeat=50)
        print(f"observe() of {size:>5}-packet batches: {per_call * 1e3:,.0f} us per call")


if __name__ == "__main__":
    main()
