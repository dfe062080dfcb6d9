"""Throughput of parse_batch against the pcapy read loop that feeds it.

    python benches/bench_parse.py [PCAP]

The capture (default: the bundled sample) is read with pcapy `next_batch` and its packets are
replicated in memory to about 200k, then cut into batches of the sizes the engine uses. The read
loop over the same file is measured in the same run as the baseline, so the ratio says how much
parsing adds on top of merely getting the bytes out of libpcap on this machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pcapy

from netscope.capture.batch import RawBatch
from netscope.parse.batch_parser import parse_batch

DEFAULT_PCAP = Path(__file__).resolve().parent.parent / "netscope" / "data" / "sample.pcap"
TARGET_PACKETS = 200_000
READ_BATCH = 4096
PARSE_BATCH_SIZES = (4096, 32768, 65536)
ROUNDS = 5


def read_file(path: Path) -> tuple[int, list[tuple[bytes, np.ndarray]]]:
    """Every next_batch result of one pass: (DLT, [(buffer, meta rows sec/usec/offset/caplen)])."""
    reader = pcapy.open_offline(str(path))
    chunks = []
    while True:
        data, meta = reader.next_batch(READ_BATCH)
        if not meta:
            return reader.datalink(), chunks
        chunks.append((data, np.frombuffer(meta, dtype=np.uint32).reshape(-1, 4).astype(np.int64)))


def time_read_loop(path: Path, packets_wanted: int) -> tuple[int, float]:
    """Packets and seconds of bare next_batch passes over the file until `packets_wanted` were read."""
    packets, started = 0, time.perf_counter()
    while packets < packets_wanted:
        reader = pcapy.open_offline(str(path))
        while True:
            _, meta = reader.next_batch(READ_BATCH)
            if not meta:
                break
            packets += len(meta) // 16
    return packets, time.perf_counter() - started


def replicate(linktype: int, chunks: list[tuple[bytes, np.ndarray]], packets_wanted: int) -> RawBatch:
    """One in-memory batch of about `packets_wanted` packets: the file's batches, concatenated."""
    one_pass = b"".join(data for data, _ in chunks)
    starts = np.cumsum([0] + [len(data) for data, _ in chunks[:-1]])
    meta = np.concatenate([rows for _, rows in chunks])
    pass_offset = np.concatenate([rows[:, 2] + start for (_, rows), start in zip(chunks, starts, strict=True)])
    copies = -(-packets_wanted // len(meta))
    offset = np.concatenate([pass_offset + k * len(one_pass) for k in range(copies)])
    caplen = np.tile(meta[:, 3], copies)
    ts_us = np.tile(meta[:, 0] * 1_000_000 + meta[:, 1], copies)
    data = np.frombuffer(one_pass * copies, dtype=np.uint8)
    return RawBatch(data, offset, caplen, caplen.copy(), ts_us, linktype)


def split(whole: RawBatch, size: int) -> list[RawBatch]:
    return [
        RawBatch(whole.data, whole.offset[i:i + size], whole.caplen[i:i + size], whole.wirelen[i:i + size],
                 whole.ts_us[i:i + size], whole.linktype)
        for i in range(0, whole.count, size)
    ]


def time_parse(batches: list[RawBatch]) -> float:
    """Best of ROUNDS passes of parse_batch over every batch, in seconds."""
    parse_batch(batches[0])  # first-call imports and allocations out of the measurement
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for batch in batches:
            parse_batch(batch)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PCAP
    linktype, chunks = read_file(path)
    whole = replicate(linktype, chunks, TARGET_PACKETS)
    read_packets, read_seconds = min((time_read_loop(path, TARGET_PACKETS) for _ in range(ROUNDS)),
                                     key=lambda result: result[1])
    read_rate = read_packets / read_seconds

    print(f"{path.name}: DLT {linktype}, {sum(len(rows) for _, rows in chunks)} packets in the file, "
          f"{whole.count} replicated in memory; best of {ROUNDS} rounds")
    print(f"{'stage':<28}{'packets/s':>14}{'ms/batch':>11}{'vs read':>10}")
    print(f"{f'pcapy next_batch({READ_BATCH}) read':<28}{read_rate:>14,.0f}"
          f"{read_seconds * 1e3 * READ_BATCH / read_packets:>11.2f}{1:>10.2f}")
    for size in PARSE_BATCH_SIZES:
        batches = split(whole, size)
        seconds = time_parse(batches)
        rate = whole.count / seconds
        print(f"{f'parse_batch({size})':<28}{rate:>14,.0f}{seconds * 1e3 / len(batches):>11.2f}"
              f"{rate / read_rate:>10.2f}")


if __name__ == "__main__":
    main()
