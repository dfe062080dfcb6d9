"""The runner: pacing by packet time, pause/speed/detail commands, count, progress, final tick."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from netscope.config import Config
from netscope.engine.messages import FlowDetail, RequestDetail, SetFilter, SetPaused, SetRanking, SetSpeed
from netscope.engine.outputs import OutputError, OutputPaths, RunOutputs
from netscope.engine.pacing import ReplayClock
from netscope.engine.runner import Runner
from netscope.engine.session import build_engine, close_run, open_source
from netscope.engine.snapshot import TickSnapshot

BUSIEST = ("tcp", "10.88.0.1", 39246, "10.88.0.2", 5201)


def make_runner(sample: Path, speed: float, commands: list, published: list, count: int = 0,
                workers: int = 0) -> Runner:
    config = Config().replace("capture", read_pcap=str(sample))
    if workers:
        config = config.replace("pipeline", enabled=True, workers=workers)
    source = open_source(config)
    engine = build_engine(config, source, keep_recent_packets=True, top_n=10)

    def poll():
        out, commands[:] = list(commands), []
        return out

    return Runner(engine, source, RunOutputs(OutputPaths()), tick_s=0.05, replay_speed=speed, count=count,
                  publish=published.append, poll_commands=poll)


def test_replay_clock_maps_capture_time_to_wall_time() -> None:
    clock = ReplayClock(10.0)
    assert clock.wait_s(1_000_000) <= 0  # the first packet anchors the clock
    assert 0.09 < clock.wait_s(2_000_000) <= 0.1  # one capture second later, at 10x
    ts = np.array([0, 10_000, 400_000, 600_000, 2_000_000])
    assert clock.slice_end(ts, 0) == 3  # 50 ms of wall time at 10x is 500 ms of capture time
    clock.set_speed(0.0, None)
    assert clock.unpaced and clock.slice_end(ts, 1) == 5 and clock.wait_s(10**12) == 0


def test_capture_time_stepping_back_starts_the_pacing_again() -> None:
    """Copies joined end to end: the second copy is paced like the first, not replayed at once."""
    clock = ReplayClock(1.0)
    copy = np.arange(0, 10_000_000, 10_000)  # 10 s of capture, a packet every 10 ms
    ts = np.concatenate([copy, copy])
    assert clock.wait_s(0) <= 0
    start = 0
    while start < copy.size:  # replay the first copy as if its time had gone by
        end = clock.slice_end(ts, start)
        assert end <= copy.size  # a slice never runs past the step back
        start = end
    assert start == copy.size
    assert clock.wait_s(int(ts[start])) <= 0  # the first packet after the step is due at once ...
    assert 0.9 < clock.wait_s(int(ts[start + 100])) <= 1.0  # ... and the next ones at their pace
    assert clock.slice_end(ts, start) == start + 6  # 50 ms at 1x: 0 to 50 ms inclusive
    # a little out of order is no new start: it is due at once, and the pace stays
    clock = ReplayClock(1.0)
    assert clock.wait_s(5_000_000) <= 0
    assert clock.slice_end(np.array([5_000_000, 5_040_000, 4_990_000, 5_100_000]), 0) == 3
    assert clock.wait_s(4_990_000) <= 0 and 0.09 < clock.wait_s(5_100_000) <= 0.1


def test_unpaced_run_ends_finished_with_every_packet_and_full_progress(sample_pcap: Path) -> None:
    published: list = []
    result = make_runner(sample_pcap, 0.0, [], published).run()
    ticks = [m for m in published if isinstance(m, TickSnapshot)]
    assert result.packets == 3413 and not result.stopped_early
    final = ticks[-1]
    assert final.state == "finished" and final.progress == 1.0 and final.totals.packets == 3413
    assert final.top_flows[0].key == BUSIEST  # ranked by total bytes once finished


def test_count_stops_early(sample_pcap: Path) -> None:
    published: list = []
    result = make_runner(sample_pcap, 0.0, [], published, count=500).run()
    assert result.packets == 500 and result.stopped_early
    assert published[-1].totals.packets == 500


def test_paced_replay_takes_capture_time_over_speed_and_pause_holds_it(sample_pcap: Path) -> None:
    published: list = []
    commands: list = [SetSpeed(8.0)]
    runner = make_runner(sample_pcap, 1.0, commands, published)
    start = time.monotonic()
    runner.run()
    paced = time.monotonic() - start
    # the sample spans about 5.2 s of capture time: about 0.65 s at 8x, never instantly
    assert 0.4 < paced < 5.0
    replaying = [m for m in published if isinstance(m, TickSnapshot) and m.state == "replaying"]
    assert replaying and all(m.speed == 8.0 for m in replaying)
    assert all(0 < m.progress < 1 for m in replaying[:-1] if m.progress is not None)

    published.clear()
    commands[:] = [SetPaused(True)]
    runner = make_runner(sample_pcap, 50.0, commands, published)
    runner._handle_commands()
    runner._wait(0.3)
    assert runner.paused and runner.engine.totals().packets == 0


def test_copies_joined_end_to_end_are_each_paced(sample_pcap: Path, tmp_path: Path) -> None:
    twice = tmp_path / "twice.pcap"  # what mergecap -a makes: the second copy's time starts over
    twice.write_bytes(sample_pcap.read_bytes() + sample_pcap.read_bytes()[24:])
    start = time.monotonic()
    result = make_runner(twice, 16.0, [], []).run()
    # each copy spans about 5.2 s of capture time, 0.33 s at 16x; the second one is not instant
    assert result.packets == 2 * 3413 and time.monotonic() - start > 0.6


def test_an_output_that_fails_still_counts_the_batch_and_ends_with_a_finished_tick(sample_pcap: Path) -> None:
    published: list = []
    runner = make_runner(sample_pcap, 0.0, [], published)

    def full_disk(_piece) -> None:
        raise OutputError("cannot write copy.pcap: No space left on device")

    runner.outputs.write_packets = full_disk
    with pytest.raises(OutputError):
        runner.run()
    last = published[-1]
    assert isinstance(last, TickSnapshot) and last.state == "finished"
    assert last.totals.packets == 3413  # the batch the pcap refused was analysed all the same


def final_rows(sample: Path, command, workers: int) -> tuple:
    """The top flows of the last tick of a replay as fast as possible, given `command` first."""
    published: list = []
    runner = make_runner(sample, 0.0, [command], published, workers=workers)
    try:
        runner.run()
    finally:
        close_run(runner.engine, runner.outputs, runner.source)  # a pipeline's workers stop too
    return [m for m in published if isinstance(m, TickSnapshot)][-1].top_flows


@pytest.mark.parametrize("workers", [0, 2])
def test_ticks_report_the_top_flows_by_the_ranking_the_screen_asked_for(sample_pcap: Path, workers: int) -> None:
    """Sorted by age, the oldest flows of the capture arrive, not the busiest ones re-sorted."""
    rows = {ranking: final_rows(sample_pcap, SetRanking(ranking), workers) for ranking in ("rate", "age", "packets")}
    everything = rows["rate"]  # by bytes once finished; the sample's 165 flows fit in no top 10
    assert everything[0].key == BUSIEST and len(everything) == 10
    oldest = rows["age"]
    assert [r.first_seen for r in oldest] == sorted(r.first_seen for r in oldest)
    assert oldest[0].key != BUSIEST and oldest[0].first_seen < everything[-1].first_seen
    assert [r.packets_total for r in rows["packets"]] == sorted((r.packets_total for r in rows["packets"]),
                                                                 reverse=True)


@pytest.mark.parametrize("workers", [0, 2])
def test_ticks_report_the_top_flows_the_screen_filter_matches(sample_pcap: Path, workers: int) -> None:
    """Filtered, the top 10 are the heaviest matches: IPv4 HTTP flows, none of which is in the
    unfiltered top 10 (the IPv6 ones are 240 bytes bigger)."""
    tops = {text: final_rows(sample_pcap, SetFilter(text), workers)
            for text in ("", "host:10.88.0.0/16 port:8080", "udp !port:5201")}
    assert not [r for r in tops[""] if r.b_port == 8080 and "." in r.a_ip]
    http = tops["host:10.88.0.0/16 port:8080"]
    assert len(http) == 10 and all(r.b_port == 8080 and r.a_ip == "10.88.0.1" for r in http)
    assert [r.bytes_total for r in http] == sorted((r.bytes_total for r in http), reverse=True)
    assert [(r.proto, r.b_port) for r in tops["udp !port:5201"]] == [("udp", 5353)]


@pytest.mark.parametrize("workers", [0, 2])
def test_tick_rows_carry_tcp_health_for_tcp_flows_only(sample_pcap: Path, workers: int) -> None:
    """A UDP flow has no retransmissions to count: "not measured", as the exports say, not 0."""
    rows = final_rows(sample_pcap, SetFilter(""), workers)
    udp = [r for r in rows if r.proto == "udp"]
    tcp = [r for r in rows if r.proto == "tcp"]
    assert udp and tcp
    assert all(r.retransmissions is None and r.out_of_order is None and r.rtt_ms is None for r in udp)
    assert all(r.retransmissions == 0 and r.rtt_samples for r in tcp)


def test_detail_request_returns_counters_and_recent_packets(sample_pcap: Path) -> None:
    published: list = []
    commands: list = []
    runner = make_runner(sample_pcap, 0.0, commands, published)
    runner.run()
    commands.append(RequestDetail(BUSIEST))
    runner._handle_commands()
    detail = published[-1]
    assert isinstance(detail, FlowDetail) and detail.flow is not None
    assert detail.flow.packets_total == 732 + 449
    assert detail.packets and all(p.linktype == 1 and len(p.data) >= 54 for p in detail.packets)


def test_a_detail_s_rate_is_over_the_last_tick_s_span_as_the_tick_s_rows_are(sample_pcap: Path) -> None:
    """One tick covers the whole replay, 5.27 s of capture time; the detail divided the flow's tick
    bytes by one second, so the screen's rate jumped between two values while a detail was open."""
    config = Config().replace("capture", read_pcap=str(sample_pcap))
    source = open_source(config)
    engine = build_engine(config, source, keep_recent_packets=True, top_n=10)
    published: list = []
    commands: list = []
    runner = Runner(engine, source, RunOutputs(OutputPaths()), tick_s=3600, replay_speed=0.0,
                    publish=published.append, poll_commands=lambda: [commands.pop()] if commands else [])
    runner.run()
    commands.append(RequestDetail(BUSIEST))
    runner._handle_commands()
    tick, detail = published[-2], published[-1]
    row = next(row for row in tick.top_flows if row.key == BUSIEST)
    assert tick.interval_s == pytest.approx(5.265829, abs=0.01) and row.tick_bytes == row.bytes_total > 0
    assert detail.flow.rate_bps == pytest.approx(row.rate_bps)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_replay_as_fast_as_possible_reports_the_capture_s_rates_not_the_replay_s(sample_pcap: Path,
                                                                                   workers: int) -> None:
    """The sample's 1,532,296 wire bytes span 5.27 s of capture time: 2.33 Mb/s on average
    however fast it is replayed (as fast as possible, wall-clock rates were in the hundreds)."""
    published: list = []
    runner = make_runner(sample_pcap, 0.0, [], published, workers=workers)
    try:
        runner.run()
    finally:
        close_run(runner.engine, runner.outputs, runner.source)
    ticks = [m for m in published if isinstance(m, TickSnapshot)]
    seconds = sum(t.interval_s for t in ticks if t.interval_bytes)
    assert sum(t.interval_bytes for t in ticks) == 1_532_296
    assert seconds == pytest.approx(5.265829, abs=0.01)  # ticks split the capture's span between them
    assert max(t.bps for t in ticks if t.interval_bytes) < 1e8
