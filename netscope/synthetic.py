"""`--synthetic-flows N`: does a million flows fit the memory budget, and how fast do they go in?

The flows go through FlowTracker.observe, the same batch path a capture feeds, built as
ParsedBatch columns (no packet bytes, so what is measured is the flow table, not parsing).
Flow i is 10.(i>>16).(i>>8).i : 1024 + i mod 48000 -> 172.16.(i>>8).i : 80, as in the reference.
"""

from __future__ import annotations

import errno
import sys
import time
from pathlib import Path

import numpy as np

from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.parse.columns import TCP_SYN, ParsedBatch, Status

BATCH_FLOWS = 65_536
EXIT_OVER_BUDGET = 2
EXIT_CANNOT_RESERVE = 1


def read_memory_kib() -> tuple[int | None, int | None]:
    """(VmRSS, VmHWM) of this process in KiB, from /proc/self/status."""
    values: dict[str, int] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    except OSError:
        return None, None
    return values.get("VmRSS"), values.get("VmHWM")


def synthetic_batch(start: int, stop: int) -> ParsedBatch:
    """Pure SYNs of flows start..stop-1 as parsed columns."""
    i = np.arange(start, stop, dtype=np.uint64)
    n = i.shape[0]
    zeros_u8 = np.zeros(n, np.uint8)
    src = (np.uint64(10) << np.uint64(24)) | (i & np.uint64(0xFFFFFF))
    dst = (np.uint64(0xAC10) << np.uint64(16)) | (i & np.uint64(0xFFFF))
    return ParsedBatch(
        ts_us=np.zeros(n, np.int64), wirelen=np.full(n, 54, np.int64), caplen=np.full(n, 54, np.int64),
        status=np.full(n, Status.OK, np.uint8), ip_version=np.full(n, 4, np.uint8),
        ip_proto=np.full(n, 6, np.uint8), src_hi=np.zeros(n, np.uint64), src_lo=src,
        dst_hi=np.zeros(n, np.uint64), dst_lo=dst,
        src_port=(1024 + (i % np.uint64(48000))).astype(np.uint16), dst_port=np.full(n, 80, np.uint16),
        has_l4=np.ones(n, bool), tcp_flags=np.full(n, TCP_SYN, np.uint8), tcp_seq=np.zeros(n, np.uint32),
        tcp_ack=np.zeros(n, np.uint32), tcp_window=np.zeros(n, np.uint16), payload_len=np.zeros(n, np.int64),
        icmp_type=zeros_u8, icmp_code=zeros_u8, vlan_id=np.zeros(n, np.uint16),
        l3_offset=np.full(n, 14, np.int64), l4_offset=np.full(n, 34, np.int64),
    )


def run_synthetic(flows: int, budget_mb: int) -> int:
    """Insert `flows` flows, print the figures, return the exit code (2 when over budget).

    The budget is checked after every batch too: a count far beyond it (the table of 300M flows
    takes 23 GiB) stops as soon as the process has passed it, instead of taking the machine's
    memory to find out, and the figures say how far it got.
    """
    baseline_kib, _ = read_memory_kib()
    start = time.perf_counter()
    try:
        tracker = FlowTracker(FlowSettings(timeout_s=0.0, max_flows=flows + 1))
    except (MemoryError, OverflowError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno != errno.ENOMEM:
            raise
        print(f"error: --synthetic-flows {flows:,}: this machine cannot reserve a flow table that size",
              file=sys.stderr)
        return EXIT_CANNOT_RESERVE
    inserted, over_budget = 0, False
    while inserted < flows and not over_budget:
        end = min(inserted + BATCH_FLOWS, flows)
        tracker.observe(synthetic_batch(inserted, end))
        inserted = end
        rss, _ = read_memory_kib()
        over_budget = rss is not None and rss > budget_mb * 1024
    elapsed = time.perf_counter() - start
    rss, peak = read_memory_kib()
    print("Synthetic flow benchmark complete." if inserted == flows else
          f"Synthetic flow benchmark stopped after {inserted:,} of {flows:,} flows: over the budget.")
    print(f"  Flows inserted:     {tracker.active_flows:,}")
    print(f"  Elapsed:            {elapsed:.3f}s (includes table pre-allocation)")
    print(f"  Flows/s:            {inserted / elapsed if elapsed > 0 else 0:,.0f}")
    if rss is None or peak is None:
        print("  RSS:                unavailable")
        return 0
    print(f"  RSS now / peak:     {rss / 1024:.2f} MiB / {peak / 1024:.2f} MiB")
    table_bytes = (rss - (baseline_kib or 0)) * 1024
    if inserted:
        print(f"  Bytes per flow:     {table_bytes / inserted:.1f} (RSS growth while inserting)")
    if peak > budget_mb * 1024:
        print(f"  Budget check:       FAIL (peak > {budget_mb} MiB)")
        return EXIT_OVER_BUDGET
    print(f"  Budget check:       PASS (peak < {budget_mb} MiB)")
    return 0
