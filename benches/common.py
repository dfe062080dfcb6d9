"""Helpers shared by benchmarks: a large capture built from the bundled sample, and the raw read rate.

Import from a bench script with `sys.path.insert(0, str(Path(__file__).parent))`, then
`from common import build_large_capture, raw_read_rate`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pcapy

import netscope

SAMPLE = Path(netscope.__file__).parent / "data" / "sample.pcap"
SAMPLE_PACKETS = 3413


def build_large_capture(target_packets: int, path: Path, file_format: str = "pcap",
                        source: Path = SAMPLE, source_packets: int = SAMPLE_PACKETS,
                        distinct_flows: bool = False) -> int:
    """Write at least `target_packets` packets to `path` (copies of `source` end to end, `mergecap -a`).

    Timestamps repeat with every copy, which readers do not care about. Plain copies repeat the
    source's flows, so the whole file has its 165 flows, one of them a third of the packets:
    fine for reading and parsing, but a pipeline can balance only whole flows. With
    `distinct_flows` every copy gets its own addresses (`tcprewrite --seed`, which maps each
    address the same way in both directions), so copies add flows the way more hosts would.
    Returns the packet count.
    """
    if shutil.which("mergecap") is None:
        raise SystemExit("mergecap (Wireshark tools) is needed to build the large capture")
    copies = max(1, -(-target_packets // source_packets))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        parts = [str(source)] * copies
        if distinct_flows:
            if shutil.which("tcprewrite") is None:
                raise SystemExit("tcprewrite (tcpreplay) is needed for a capture with distinct flows per copy")
            parts = [str(Path(tmp) / f"copy{i}.pcap") for i in range(copies)]
            for seed, part in enumerate(parts, start=1):
                subprocess.run(["tcprewrite", f"--seed={seed}", f"--infile={source}", f"--outfile={part}"],
                               check=True, capture_output=True)
        subprocess.run(["mergecap", "-a", "-F", file_format, "-w", str(path), *parts], check=True,
                       capture_output=True)
    return copies * source_packets


Clock = Callable[[], float]


def raw_read(path: Path, batch_packets: int = 32768, clock: Clock = time.process_time) -> tuple[int, float]:
    """(packets, seconds) for a bare `next_batch` loop: the floor any reader on pcapy pays.

    CPU time of this process by default, so other load on a shared machine matters less;
    pass `clock=time.perf_counter` to compare with work that overlaps reading on another core.
    """
    reader = pcapy.open_offline(str(path))
    packets = 0
    start = clock()
    while True:
        _, meta = reader.next_batch(batch_packets)
        if not meta:
            break
        packets += len(meta) // 16
    elapsed = clock() - start
    reader.close()
    return packets, elapsed


def raw_read_rate(path: Path, batch_packets: int = 32768, repeat: int = 3, clock: Clock = time.process_time) -> float:
    """Best packets per second (of `clock`) of `repeat` bare `next_batch` loops, after one warm-up read."""
    raw_read(path, batch_packets, clock)
    packets, seconds = min((raw_read(path, batch_packets, clock) for _ in range(repeat)), key=lambda r: r[1])
    return packets / seconds


def best_time(run: Callable[[], None], repeat: int, warm_up: bool = False) -> float:
    """The shortest wall time of `repeat` calls of `run`; `warm_up` makes one uncounted call
    first (imports and first allocations out of the measurement)."""
    if warm_up:
        run()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best
