from __future__ import annotations

import pytest

from netscope.ui.flows_table import CELL_PADDING, ENDPOINT_MIN, plan_columns


@pytest.mark.parametrize("available", range(60, 240, 7))
def test_planned_columns_fit_and_keep_the_essentials(available):
    plan = plan_columns(available)
    keys = [c.key for c in plan]
    assert keys[:4] == ["rank", "proto", "a", "b"]
    assert {"rate", "total"} <= set(keys)
    if available >= 77:
        assert sum(c.width + 2 * CELL_PADDING for c in plan) <= available


def test_wide_terminals_get_every_column_and_longer_endpoints():
    wide = plan_columns(200)
    assert [c.key for c in wide] == ["rank", "proto", "a", "b", "state", "rtt", "retr", "packets", "tick", "rate",
                                     "total", "age"]
    assert wide[2].width > ENDPOINT_MIN


def test_health_columns_go_early_on_narrower_terminals():
    keys = [[c.key for c in plan_columns(width)] for width in range(200, 60, -1)]
    gone_at = {key: next(i for i, plan in enumerate(keys) if key not in plan) for key in ("tick", "retr", "rtt", "age")}
    assert gone_at["tick"] <= gone_at["retr"] <= gone_at["rtt"] <= gone_at["age"]
    assert "rtt" in [c.key for c in plan_columns(120)] and "rtt" not in [c.key for c in plan_columns(90)]
