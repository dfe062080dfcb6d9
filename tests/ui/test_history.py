from __future__ import annotations

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
