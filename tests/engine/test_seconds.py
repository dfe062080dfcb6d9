"""Capture-second totals: the same seconds however the replay is cut into batches, with tshark as the oracle."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import netscope
from netscope.capture.offline import FileSource
from netscope.config import Config
from netscope.engine.seconds import SecondCounter
from netscope.engine.session import build_engine

SAMPLE = Path(netscope.__file__).parent / "data" / "sample.pcap"


def seconds_of(counter: SecondCounter, final: bool = True) -> list[tuple[int, int, int]]:
    taken = counter.take(final=final)
    return list(zip(taken.second.tolist(), taken.bytes.tolist(), taken.packets.tolist(), strict=True))


def oracle(ts_us: list[int], wirelen: list[int]) -> list[tuple[int, int, int]]:
    """Packet by packet: late packets join the newest second, a step back of over a second starts afresh."""
    runs: list[list[int]] = []
    newest = previous = None
    for ts, size in zip(ts_us, wirelen, strict=True):
        if previous is not None and ts < previous - 1_000_000:
            newest = None
        second = ts // 1_000_000 if newest is None else max(newest, ts // 1_000_000)
        if runs and newest is not None and runs[-1][0] == second:
            runs[-1][1] += size
            runs[-1][2] += 1
        else:
            runs.append([second, size, 1])
        newest, previous = second, ts
    return [tuple(run) for run in runs]


times = st.lists(st.integers(-12_000_000, 3_000_000), min_size=1, max_size=60).map(
    lambda steps: np.cumsum(np.array(steps, dtype=np.int64) // 4 + 600_000) + 1_700_000_000_000_000)


@settings(max_examples=300, deadline=None)
@given(ts=times, cuts=st.lists(st.integers(0, 60), max_size=5), data=st.data())
def test_seconds_do_not_depend_on_batch_boundaries(ts, cuts, data):
    wirelen = np.array(data.draw(st.lists(st.integers(1, 1500), min_size=len(ts), max_size=len(ts))), np.int64)
    counter = SecondCounter()
    taken: list[tuple[int, int, int]] = []
    bounds = sorted({0, len(ts), *(min(c, len(ts)) for c in cuts)})
    for first, end in itertools.pairwise(bounds):
        counter.add(ts[first:end], wirelen[first:end])
        taken += seconds_of(counter, final=False)
    taken += seconds_of(counter)
    assert taken == oracle(ts.tolist(), wirelen.tolist())


def test_a_second_is_handed_over_once_complete():
    counter = SecondCounter()
    counter.add(np.array([5_000_000, 5_900_000]), np.array([100, 200]))
    assert seconds_of(counter, final=False) == []  # a later packet of second 5 may still come
    counter.add(np.array([6_100_000]), np.array([50]))
    assert seconds_of(counter, final=False) == [(5, 300, 2)]
    assert seconds_of(counter) == [(6, 50, 1)]  # the end of the file completes the last one


def test_a_replay_s_seconds_equal_tshark_s_packets_grouped_by_second(require_tool):
    """Each second's packets and wire bytes, from the engine's snapshots, against tshark's packet times and lengths."""
    require_tool("tshark")
    engine = build_engine(Config().replace("capture", read_pcap=str(SAMPLE)), FileSource(SAMPLE),
                          keep_recent_packets=False, top_n=0, second_history=True)
    got: list[tuple[int, int, int]] = []
    for batch in FileSource(SAMPLE, batch_packets=500).batches():
        if batch.count:
            engine.process(batch)
            got += seconds_in(engine.tick("replaying", 0.0, []))
    got += seconds_in(engine.tick("finished", 0.0, []))
    assert seconds_in(engine.tick("finished", 0.0, [])) == []
    out = subprocess.run(["tshark", "-r", str(SAMPLE), "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    expected = oracle([round(float(ts) * 1e6) for ts, _ in rows], [int(size) for _, size in rows])
    assert len(expected) >= 5 and sum(packets for _, _, packets in expected) == 3413
    assert got == expected


def seconds_in(snapshot) -> list[tuple[int, int, int]]:
    taken = snapshot.capture_seconds
    return list(zip(taken.second.tolist(), taken.bytes.tolist(), taken.packets.tolist(), strict=True))


def test_live_engines_and_headless_runs_keep_no_seconds():
    live = build_engine(Config().replace("capture", interface="lo"), FileSource(SAMPLE), keep_recent_packets=False,
                        top_n=0, second_history=True)
    assert live.seconds is None
    headless = build_engine(Config().replace("capture", read_pcap=str(SAMPLE)), FileSource(SAMPLE),
                            keep_recent_packets=False, top_n=0)
    assert headless.seconds is None and headless.tick("finished", 0.0, []).capture_seconds is None
