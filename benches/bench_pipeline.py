"""Replay of a large capture: raw next_batch read vs the single-process engine vs the pipeline.

Each engine run is the headless CLI (no exports, quiet) timed on the wall clock, since the
pipeline's work is spread over processes; the raw read rate is the floor any pcapy reader
pays. Prints packets/s and each rate as a share of raw.

    python benches/bench_pipeline.py [--packets N] [--workers 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import build_large_capture, raw_read_rate


def replay_rate(path: Path, packets: int, *extra: str, repeat: int = 3) -> float:
    """Best packets per wall second of `repeat` headless replays (interpreter start included)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "netscope", "--headless", "-q", "--no-stats", "--read-pcap", str(path),
                        *extra], check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return packets / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.pcap"
        packets = build_large_capture(args.packets, path)
        raw = raw_read_rate(path)
        single = replay_rate(path, packets, "--no-pipeline")
        sharded = replay_rate(path, packets, "--pipeline", "--workers", str(args.workers))
    print(f"{packets:,} packets")
    for label, rate in (("raw next_batch read", raw), ("single-process engine", single),
                        (f"pipeline, {args.workers} workers", sharded)):
        print(f"{label:>24}: {rate / 1e6:6.2f} Mpkt/s  ({rate / raw:.2f}x raw)")
    print(f"{'pipeline / single':>24}: {sharded / single:.2f}x")


if __name__ == "__main__":
    main()
