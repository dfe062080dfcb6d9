from __future__ import annotations

import pytest

from netscope.ui.flows_table import CELL_PADDING, ENDPOINT_MIN, SORT_MARK, SortKey, plan_columns


@pytest.mark.parametrize("available", range(43, 240, 3))  # 43: rank, two endpoints at the floor, Rate
@pytest.mark.parametrize("sort_key", [SortKey.RATE, SortKey.TOTAL, SortKey.PACKETS, SortKey.AGE, SortKey.RTT])
def test_planned_columns_fit_whole_and_keep_the_sorted_one(available, sort_key):
    plan = plan_columns(available, sort_key)
    keys = [c.key for c in plan]
    assert sum(c.width + 2 * CELL_PADDING for c in plan) <= available  # nothing is cut mid-value
    assert keys[-2:] != ["a", "b"] and keys.index("b") == keys.index("a") + 1
    assert keys[0] == "rank"
    assert sort_key in {c.sort for c in plan}
    if available >= (60 if sort_key in (SortKey.RATE, SortKey.TOTAL) else 72):  # a sorted column of its own costs
        assert {"proto", "rate", "total"} <= set(keys)


def test_wide_terminals_get_every_column_and_longer_endpoints():
    wide = plan_columns(200)
    assert [c.key for c in wide] == ["rank", "proto", "a", "b", "state", "rtt", "retr", "packets", "tick", "rate",
                                     "total", "age"]
    assert wide[2].width > ENDPOINT_MIN


def test_a_live_capture_s_table_has_the_process_column_after_the_endpoints():
    assert [c.key for c in plan_columns(220, process=True)][:5] == ["rank", "proto", "a", "b", "process"]
    keys = [[c.key for c in plan_columns(width, process=True)] for width in range(220, 60, -1)]
    gone_at = {key: next(i for i, plan in enumerate(keys) if key not in plan)
               for key in ("age", "packets", "rtt", "process")}
    assert gone_at["age"] <= gone_at["packets"] <= gone_at["rtt"] <= gone_at["process"]
    assert {"process", "rtt"} <= set(keys[220 - 116])  # 120 columns: who owns each flow, and its RTT


def test_health_columns_go_early_on_narrower_terminals():
    keys = [[c.key for c in plan_columns(width)] for width in range(200, 60, -1)]
    gone_at = {key: next(i for i, plan in enumerate(keys) if key not in plan) for key in ("tick", "retr", "rtt", "age")}
    assert gone_at["tick"] <= gone_at["retr"] <= gone_at["rtt"] <= gone_at["age"]
    assert "rtt" in [c.key for c in plan_columns(120)] and "rtt" not in [c.key for c in plan_columns(90)]


def test_a_whole_ipv4_endpoint_fits_from_the_default_width_up():
    assert len("255.255.255.255:65535") <= ENDPOINT_MIN
    for width in range(116, 240, 4):  # 120 (the README's terminal) less the border and scrollbar
        assert plan_columns(width)[2].width >= ENDPOINT_MIN


@pytest.mark.parametrize("sort_key", [k for k in SortKey if k not in (SortKey.A, SortKey.B)])
def test_the_sorted_column_is_wide_enough_for_its_marker(sort_key):
    """"Packets ▼" is 9 cells: in the 7 of the Packets column the marker was cut off."""
    for available in (80, 120, 200):
        plan = plan_columns(available, sort_key, process=sort_key is SortKey.PROCESS)  # a live capture's column
        (sorted_column,) = [c for c in plan if c.sort is sort_key and c.key != "tick"]
        assert sorted_column.width >= len(sorted_column.label) + len(SORT_MARK)
