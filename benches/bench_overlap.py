"""Why a replay cannot run at the raw read rate: what reading and the engine cost each other.

Usage: python benches/bench_overlap.py [--packets N] [--repeat R]

A replay reads the next batch in a thread (capture/readahead.py) while the engine works on the
last one, so on two cores its ceiling would be the slower of the two, if they did not get in
each other's way. This measures, on one file, best of R:

  read alone          the bare pcapy `next_batch` loop (wall and CPU of its thread)
  engine alone        Engine.process over the same batches already in memory (CPU), default
                      analysis and scale mode (RTT, retransmission, out-of-order off)
  read + engine       both at once, as in a replay: the read loop in a thread, the engine on
                      the batches in memory in the main thread; each side's wall and CPU
  main thread blocked a pure-Python loop in the main thread while the read loop runs, against
                      the same loop alone: the share of the read's time during which the main
                      thread could not run Python (`next_batch` releases the GIL while libpcap
                      reads and copies, and holds it to build its result)

Rates are packets per second; "x raw" divides by the wall rate of the read alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import build_large_capture, raw_read

from netscope.analysis.names import NameObserver
from netscope.capture.batch import RawBatch
from netscope.capture.offline import FileSource
from netscope.cli import tune_allocator
from netscope.engine.core import Engine, EngineSettings
from netscope.engine.snapshot import SourceInfo


def read_loop(path: Path, times: dict[str, float]) -> None:
    """The bare read (common.raw_read), recording its wall and thread CPU time into `times`."""
    cpu = time.thread_time()
    _, times["wall"] = raw_read(path, clock=time.perf_counter)
    times["cpu"] = time.thread_time() - cpu


def engine_pass(batches: list[RawBatch], scale: bool) -> tuple[float, float]:
    """(wall, thread CPU) of one fresh Engine over `batches`."""
    settings = EngineSettings(health=None) if scale else EngineSettings()
    engine = Engine(settings, SourceInfo(name="bench", kind="file", link="Ethernet"), names=NameObserver())
    wall, cpu = time.perf_counter(), time.thread_time()
    for raw in batches:
        engine.process(raw)
    return time.perf_counter() - wall, time.thread_time() - cpu


def together(path: Path, batches: list[RawBatch], scale: bool) -> tuple[dict[str, float], tuple[float, float]]:
    times: dict[str, float] = {}
    reader = threading.Thread(target=read_loop, args=(path, times))
    reader.start()
    engine = engine_pass(batches, scale)
    reader.join()
    return times, engine


def spin(stop: threading.Event) -> float:
    """Iterations per second of a pure-Python loop until `stop` is set."""
    count, start = 0, time.perf_counter()
    while not stop.is_set():
        count += 1
    return count / (time.perf_counter() - start)


def blocked_share(path: Path) -> float:
    """Share of the read's wall time during which the main thread could not run Python.

    The same loop runs alone (stopped by a timer) and beside the read loop (stopped when the
    read ends); what it loses beside the read is the time the read held the GIL.
    """
    timer = threading.Event()
    threading.Timer(0.3, timer.set).start()
    alone = spin(timer)
    done = threading.Event()

    def read_then_signal() -> None:
        read_loop(path, {})
        done.set()

    reader = threading.Thread(target=read_then_signal)
    reader.start()
    beside = spin(done)
    reader.join()
    return max(0.0, 1 - beside / alone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=600_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tune_allocator()  # as the CLI does
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.pcap"
        total = build_large_capture(args.packets, path)
        with FileSource(path) as source:
            batches = [RawBatch(np.array(b.data), b.offset.copy(), b.caplen.copy(), b.wirelen.copy(), b.ts_us.copy(),
                                b.linktype) for b in source.batches()]
        read_loop(path, {})  # warm the page cache
        alone: list[dict[str, float]] = []
        engine_alone: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        both: dict[bool, list[tuple[dict[str, float], tuple[float, float]]]] = {False: [], True: []}
        shares = []
        for _ in range(args.repeat):  # interleaved, so drifting load hits every row alike
            times: dict[str, float] = {}
            read_loop(path, times)
            alone.append(times)
            for scale in (False, True):
                engine_alone[scale].append(engine_pass(batches, scale))
                both[scale].append(together(path, batches, scale))
            shares.append(blocked_share(path))

    read_wall = min(t["wall"] for t in alone)
    raw = total / read_wall
    rows = [("read alone, wall", total / read_wall), ("read alone, CPU", total / min(t["cpu"] for t in alone))]
    for scale in (False, True):
        mode = "scale mode" if scale else "default"
        rows.append((f"engine alone ({mode}), CPU", total / min(cpu for _, cpu in engine_alone[scale])))
        best = min(both[scale], key=lambda run: max(run[0]["wall"], run[1][0]))
        reader_times, (engine_wall, engine_cpu) = best
        rows += [(f"read + engine ({mode}): read, wall", total / reader_times["wall"]),
                 (f"read + engine ({mode}): read, CPU", total / reader_times["cpu"]),
                 (f"read + engine ({mode}): engine, wall", total / engine_wall),
                 (f"read + engine ({mode}): engine, CPU", total / engine_cpu),
                 (f"read + engine ({mode}): both done, wall", total / max(reader_times["wall"], engine_wall))]
    print(f"{total:,} packets, best of {args.repeat}")
    print(f"{'measure':<48} {'packets/s':>12} {'x raw':>7}")
    for name, rate in rows:
        print(f"{name:<48} {rate:>12,.0f} {rate / raw:>7.2f}")
    print(f"main thread blocked while the read runs: {min(shares):.0%} to {max(shares):.0%} of the read's wall time")


if __name__ == "__main__":
    main()
