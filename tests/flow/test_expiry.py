"""Idle timeout by packet time, the once-a-second gate, eviction on insert, expired records."""

from __future__ import annotations

import numpy as np

from netscope.flow.tracker import FlowSettings, FlowTracker
from tests.flow.packets import Packet, make_batch

S = 1_000_000


def flow(i: int, ts: float, wirelen: int = 60) -> Packet:
    return Packet(f"10.0.0.{i}", 1000, "10.0.1.1", 80, ts_us=round(ts * S), wirelen=wirelen)


def keys(flows) -> list[str]:
    return [r.a_ip for r in flows.rows()]


def test_timeout_is_strictly_greater_and_uses_packet_time():
    tracker = FlowTracker(FlowSettings(timeout_s=10, collect_expired=True))
    tracker.observe(make_batch([flow(1, 100), flow(2, 101)]))
    tracker.observe(make_batch([flow(3, 111)]))  # 111 - 101 = 10: not more than the timeout
    assert sorted(keys(tracker.snapshot())) == ["10.0.0.2", "10.0.0.3"]
    tracker.observe(make_batch([flow(3, 112)]))
    assert keys(tracker.snapshot()) == ["10.0.0.3"]
    expired = tracker.take_expired()
    assert keys(expired.flows) == ["10.0.0.1", "10.0.0.2"]
    assert expired.reason_labels() == ["timeout", "timeout"]
    assert expired.times() == [111.0, 112.0]
    assert tracker.expired_count == 2 and tracker.take_expired().flows.count == 0


def test_passes_run_at_most_once_per_second_of_packet_time():
    tracker = FlowTracker(FlowSettings(timeout_s=1))
    tracker.observe(make_batch([flow(1, 100.0), flow(2, 100.5)]))
    tracker.observe(make_batch([flow(3, 101.0)]))  # pass at 101: nothing idle for more than 1 s yet
    tracker.observe(make_batch([flow(3, 101.9)]))  # 1 is 1.9 s idle, but the last pass was 0.9 s ago
    assert tracker.active_flows == 3
    tracker.observe(make_batch([flow(3, 102.0)]))
    assert keys(tracker.snapshot()) == ["10.0.0.3"]


def test_a_pass_inside_a_batch_restarts_a_returning_flow():
    tracker = FlowTracker(FlowSettings(timeout_s=5, collect_expired=True))
    tracker.observe(make_batch([flow(1, 100, wirelen=10), flow(2, 101), flow(2, 107), flow(1, 107.5, wirelen=20)]))
    (again,) = [r for r in tracker.snapshot().rows() if r.a_ip == "10.0.0.1"]
    assert (again.bytes_total, again.first_seen) == (20, 107.5)
    expired = tracker.take_expired()
    assert (keys(expired.flows), expired.times()) == (["10.0.0.1"], [107.0])


def test_expire_idle_uses_the_clock_it_is_given():
    tracker = FlowTracker(FlowSettings(timeout_s=10, collect_expired=True))
    tracker.observe(make_batch([flow(1, 100)]))
    tracker.expire_idle(110 * S)
    assert tracker.active_flows == 1
    tracker.expire_idle(int(110.5 * S) + 1)  # idle long enough, but within a second of the last pass
    assert tracker.active_flows == 1
    tracker.expire_idle(111 * S)
    assert tracker.active_flows == 0
    assert tracker.take_expired().times() == [111.0]


def test_a_clock_going_back_rebases_the_gate():
    tracker = FlowTracker(FlowSettings(timeout_s=10))
    tracker.observe(make_batch([flow(1, 1000)]))
    tracker.observe(make_batch([flow(2, 50)]))  # e.g. a second capture file from earlier
    tracker.observe(make_batch([flow(3, 61)]))
    # Without re-basing, the next pass would wait for 1001 s; flow 1 is from "the future".
    assert sorted(keys(tracker.snapshot())) == ["10.0.0.1", "10.0.0.3"]


def test_zero_timeout_never_expires():
    tracker = FlowTracker(FlowSettings(timeout_s=0))
    tracker.observe(make_batch([flow(1, 0)]))
    tracker.observe(make_batch([flow(2, 10**6)]))
    tracker.expire_idle(10**15)
    assert tracker.active_flows == 2


def test_eviction_on_insert_removes_the_least_recently_seen():
    tracker = FlowTracker(FlowSettings(timeout_s=0, max_flows=3, collect_expired=True))
    tracker.observe(make_batch([flow(1, 10), flow(2, 11), flow(3, 12)]))
    # Flow 1 is refreshed in the batch that brings two new flows: 2 and 3 go, not 1.
    tracker.observe(make_batch([flow(1, 13), flow(4, 14), flow(5, 15)]))
    assert sorted(keys(tracker.snapshot())) == ["10.0.0.1", "10.0.0.4", "10.0.0.5"]
    expired = tracker.take_expired()
    assert sorted(keys(expired.flows)) == ["10.0.0.2", "10.0.0.3"]
    assert expired.reason_labels() == ["eviction"] * 2 and expired.times() == [15.0, 15.0]
    assert tracker.evicted_count == 2 and tracker.expired_count == 0


def test_updated_flows_are_kept_even_when_older_than_the_others():
    tracker = FlowTracker(FlowSettings(timeout_s=0, max_flows=2))
    tracker.observe(make_batch([flow(1, 20), flow(2, 30)]))
    tracker.observe(make_batch([flow(1, 5), flow(3, 40)]))  # out-of-order time: 1 is still the older
    assert sorted(keys(tracker.snapshot())) == ["10.0.0.1", "10.0.0.3"]


def test_a_batch_with_more_new_flows_than_the_limit_keeps_the_latest():
    tracker = FlowTracker(FlowSettings(timeout_s=0, max_flows=2))
    tracker.observe(make_batch([flow(9, 1)]))
    tracker.observe(make_batch([flow(i, 10 + i) for i in range(1, 6)]))
    assert sorted(keys(tracker.snapshot())) == ["10.0.0.4", "10.0.0.5"]
    assert tracker.evicted_count == 4 and tracker.flows_seen == 6


def test_eviction_spans_both_tables():
    tracker = FlowTracker(FlowSettings(timeout_s=0, max_flows=2))
    tracker.observe(make_batch([Packet("::1", 1, "::2", 2, ts_us=1), flow(1, 2 / S)]))
    tracker.observe(make_batch([flow(2, 3 / S)]))
    assert {r.a_ip for r in tracker.snapshot().rows()} == {"10.0.0.1", "10.0.0.2"}


def test_nothing_is_collected_unless_asked():
    tracker = FlowTracker(FlowSettings(timeout_s=1, max_flows=1))
    tracker.observe(make_batch([flow(1, 0), flow(2, 0)]))
    tracker.observe(make_batch([flow(2, 5)]))
    assert tracker.evicted_count == 1 and tracker.expired_count == 0
    assert tracker.take_expired().flows.count == 0


def test_freed_rows_are_reused_with_fresh_counters():
    tracker = FlowTracker(FlowSettings(timeout_s=1))
    tracker.observe(make_batch([Packet("10.0.0.1", 1, "10.0.0.2", 2, ts_us=0, flags=0x02, wirelen=99)]))
    row = int(tracker.last_batch.row[0])
    tracker.observe(make_batch([Packet("10.0.0.3", 1, "10.0.0.4", 2, ts_us=5 * S)]))  # then the pass
    tracker.observe(make_batch([Packet("10.0.0.5", 1, "10.0.0.6", 2, ts_us=6 * S, wirelen=7)]))
    assert int(tracker.last_batch.row[0]) == row and tracker.last_batch.created.all()
    reused = tracker.lookup(("tcp", "10.0.0.5", 1, "10.0.0.6", 2))
    (only,) = reused.rows()
    assert (only.bytes_total, only.packets_total, only.tcp_state, only.client) == (7, 1, "unknown", None)
    assert np.array_equal(reused.first_us, [6 * S])
