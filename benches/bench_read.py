"""What FileSource adds on top of a bare pcapy read loop.

Builds a large capture (copies of the bundled sample, `mergecap -a`) in a temp dir, then
measures packets per CPU second of this process (less sensitive than wall time to other load
on the machine), best of --repeat after a warm-up, raw and FileSource runs interleaved:

* raw            `next_batch` in a loop, nothing done with the result (the floor);
* FileSource     RawBatch columns + exact wire lengths from the record index;
* the same for a pcapng copy (index over Enhanced Packet Blocks);
* with a filter  `--filter` (default "ip or ip6"): no index, wire lengths from the snaplen rule.

    python benches/bench_read.py [--packets 300000] [--batch 32768] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import build_large_capture, raw_read

from netscope.capture.offline import FileSource


def source_read(path: Path, batch_packets: int, bpf_filter: str | None = None) -> tuple[int, float, int]:
    """(packets, CPU seconds, packets with estimated wire length) for one FileSource pass."""
    start = time.process_time()
    with FileSource(path, bpf_filter=bpf_filter, batch_packets=batch_packets) as source:
        packets = sum(batch.count for batch in source.batches())
        estimated = source.wirelen_estimated
    return packets, time.process_time() - start, estimated


def best_rates(path: Path, batch_packets: int, repeat: int) -> tuple[float, float]:
    """Best raw and FileSource packets/s, alternating the two so drifting load hits both alike."""
    raw_read(path, batch_packets)
    source_read(path, batch_packets)
    raw_best = source_best = float("inf")
    for _ in range(repeat):
        packets, seconds = raw_read(path, batch_packets)
        raw_best = min(raw_best, seconds)
        _, seconds, _ = source_read(path, batch_packets)
        source_best = min(source_best, seconds)
    return packets / raw_best, packets / source_best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=32768)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--filter", default="ip or ip6")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="netscope-bench-read-") as tmp:
        pcap, pcapng = Path(tmp) / "large.pcap", Path(tmp) / "large.pcapng"
        packets = build_large_capture(args.packets, pcap)
        build_large_capture(args.packets, pcapng, file_format="pcapng")
        size_mb = pcap.stat().st_size / 1e6
        print(f"capture: {packets:,} packets, {size_mb:.0f} MB (pcap), batch {args.batch}, best of {args.repeat}")

        rows = []
        for label, path in (("pcap", pcap), ("pcapng", pcapng)):
            raw, indexed = best_rates(path, args.batch, args.repeat)
            rows.append((f"{label} raw next_batch", raw, None, None))
            rows.append((f"{label} FileSource (index)", indexed, indexed / raw, source_read(path, args.batch)[2]))
        runs = [source_read(pcap, args.batch, args.filter) for _ in range(args.repeat)]
        packets, seconds, estimated = min(runs, key=lambda run: run[1])
        rows.append((f"pcap FileSource filter '{args.filter}'", packets / seconds, None, estimated))

        for label, rate, ratio, estimated in rows:
            extra = f"  {ratio:5.2f} x raw" if ratio is not None else ""
            extra += f"  ({estimated:,} wire lengths estimated)" if estimated is not None else ""
            print(f"  {label:<38} {rate / 1e6:6.2f} M packets/s{extra}")


if __name__ == "__main__":
    main()
