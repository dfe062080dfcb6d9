"""Throughput of NameObserver.observe against parse_batch on the same batches.

    python benches/bench_names.py [PCAP]

The capture (default: the bundled sample) is replicated in memory to about 200k packets and cut
into batches. Three passes are timed, best of ROUNDS each:

* parse: parse_batch alone, the baseline the observer runs next to;
* names, steady: one observer over all batches. After the first copy of the capture every flow
  has used its decode budget, so this is the cost of the numpy pre-filter plus a dict lookup per
  candidate: what a long capture of long flows costs;
* names, all new: a fresh observer per batch, so every candidate of every batch is decoded: the
  worst case, a capture made only of new short flows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dpkt
from common import best_time

from netscope.analysis.names import NameObserver
from netscope.capture.batch import RawBatch
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import ParsedBatch

DEFAULT_PCAP = Path(__file__).resolve().parent.parent / "netscope" / "data" / "sample.pcap"
TARGET_PACKETS = 200_000
BATCH_SIZE = 4096
ROUNDS = 5


def replicated_batches(path: Path) -> list[RawBatch]:
    with path.open("rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        frames, stamps = [], []
        for ts, frame in reader:
            frames.append(frame)
            stamps.append(round(ts * 1e6))
        linktype = reader.datalink()
    copies = -(-TARGET_PACKETS // len(frames))
    whole = RawBatch.from_packets(frames * copies, stamps * copies, linktype)
    return [whole.slice(start, min(start + BATCH_SIZE, whole.count)) for start in range(0, whole.count, BATCH_SIZE)]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PCAP
    batches = replicated_batches(path)
    parsed: list[ParsedBatch] = [parse_batch(raw) for raw in batches]
    packets = sum(raw.count for raw in batches)
    pairs = list(zip(batches, parsed, strict=True))

    def parse_all() -> None:
        for raw in batches:
            parse_batch(raw)

    def names_steady() -> None:
        observer = NameObserver()
        for raw, columns in pairs:
            observer.observe(raw, columns)

    def names_all_new() -> None:
        for raw, columns in pairs:
            NameObserver().observe(raw, columns)

    steady = NameObserver()
    for raw, columns in pairs:
        steady.observe(raw, columns)
    print(f"{path.name}: {packets} packets in batches of {BATCH_SIZE}; "
          f"candidates {steady.stats.candidates} ({steady.stats.candidates / packets:.1%}), "
          f"decoded once per flow budget {steady.stats.decoded}")
    for label, run in (("parse", parse_all), ("names, steady", names_steady), ("names, all new", names_all_new)):
        seconds = best_time(run, ROUNDS, warm_up=True)
        print(f"  {label:<15} {packets / seconds / 1e6:7.2f} Mpkt/s  ({seconds * 1e3:7.1f} ms)")


if __name__ == "__main__":
    main()
