"""Replay of a large capture: raw next_batch read vs the single-process engine vs the pipeline.

Each engine run is the headless CLI (no exports, quiet) timed on the wall clock, since the
pipeline's work is spread over processes; the raw read rate is the floor any pcapy reader
pays. Prints packets/s and each rate as a share of raw.

    python benches/bench_pipeline.py [--packets N] [--workers 1,2]

On two cores one worker is the natural split (the reader reads and copies, the worker analyses);
two workers add routing and a third process competing for the same cores.
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
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.pcap"
        packets = build_large_capture(args.packets, path)
        raw = raw_read_rate(path)
        single = replay_rate(path, packets, "--no-pipeline")
        sharded = {n: replay_rate(path, packets, "--workers", n) for n in args.workers.split(",")}
    print(f"{packets:,} packets")
    print(f"{'raw next_batch read':>24}: {raw / 1e6:6.2f} Mpkt/s")
    rows = [("single-process engine", single),
            *((f"pipeline, {n} worker{'s' * (n != '1')}", rate) for n, rate in sharded.items())]
    for label, rate in rows:
        print(f"{label:>24}: {rate / 1e6:6.2f} Mpkt/s  ({rate / raw:.2f}x raw, {rate / single:.2f}x single)")


if __name__ == "__main__":
    main()
