from __future__ import annotations

import numpy as np

from netscope.engine.snapshot import CaptureSeconds
from netscope.ui.history import ThroughputHistory


def test_empty_history_is_all_zero_columns():
    assert ThroughputHistory(300).columns(ThroughputHistory(300).bytes_per_s, 10) == [0.0] * 10


def test_one_point_per_column_newest_at_the_right():
    history = ThroughputHistory(5)
    for value in (1, 2, 3):
        history.add(value, value * 10)
    assert history.columns(history.bytes_per_s, 8) == [0, 0, 0, 0, 0, 1, 2, 3]
    assert history.columns(history.packets_per_s, 8)[-1] == 30


def test_buckets_hold_the_peak_and_stay_aligned_as_points_arrive():
    history = ThroughputHistory(12)
    for value in range(1, 8):  # 7 points, 3 per column across 4 columns
        history.add(value, 0)
    assert history.columns(history.bytes_per_s, 4) == [0, 3, 6, 7]
    history.add(1, 0)  # these two join the newest bucket: no column shifts
    history.add(0, 0)
    assert history.columns(history.bytes_per_s, 4) == [0, 3, 6, 7]
    history.add(2, 0)  # starts a new bucket: everything moves left by one column
    assert history.columns(history.bytes_per_s, 4) == [3, 6, 7, 2]


def test_old_points_fall_out_of_the_window():
    history = ThroughputHistory(4)
    for value in (9, 1, 1, 1, 1):
        history.add(value, 0)
    assert max(history.columns(history.bytes_per_s, 4)) == 1


def test_capture_seconds_are_points_with_silent_seconds_as_zeros():
    history = ThroughputHistory(6)
    history.add_seconds(CaptureSeconds(np.array([10, 11, 14]), np.array([100, 200, 300]), np.array([1, 2, 3])))
    assert list(history.bytes_per_s) == [100, 200, 0, 0, 300]
    assert list(history.packets_per_s) == [1, 2, 0, 0, 3]
    assert history.by_capture_second


def test_a_long_silence_adds_at_most_a_screenful_of_zeros_and_a_step_back_none():
    history = ThroughputHistory(4)
    history.add_seconds(CaptureSeconds(np.array([10, 86_400 * 365]), np.array([5, 7]), np.array([1, 1])))
    assert list(history.bytes_per_s) == [0, 0, 0, 7] and history.added == 6
    history.add_seconds(CaptureSeconds(np.array([3]), np.array([9]), np.array([1])))  # copies joined end to end
    assert list(history.bytes_per_s) == [0, 0, 7, 9]


def test_a_replay_s_seconds_get_a_column_each_until_they_outnumber_the_columns():
    history = ThroughputHistory(300)
    history.add_seconds(CaptureSeconds(np.arange(3), np.array([1, 2, 3]), np.ones(3, np.int64)))
    assert history.columns(history.bytes_per_s, 10) == [0] * 7 + [1, 2, 3]
    assert history.window_points(10) == 10
    history.add_seconds(CaptureSeconds(np.arange(3, 25), np.arange(4, 26), np.ones(22, np.int64)))
    assert history.points_per_column(10) == 3 and history.window_points(10) == 30  # 25 seconds: 3 per column
    assert history.columns(history.bytes_per_s, 10)[-1] == 25


def test_live_ticks_keep_the_fixed_axis():
    history = ThroughputHistory(300)
    history.add(5, 1)
    assert history.points_per_column(10) == 30 and history.window_points(10) == 300
