"""The aggregator's top-N merge gives what one tracker over every flow would rank."""

from __future__ import annotations

import random

import pytest

from netscope.flow.tracker import FlowSettings, FlowTracker
from netscope.pipeline.merge import merge_top
from tests.flow.packets import Packet, make_batch


def packets(seed: int) -> list[list[Packet]]:
    """Two ticks of traffic over 40 flows (v4 and v6); many flows are quiet in the second tick."""
    rng = random.Random(seed)
    flows = [(f"10.0.{i // 200}.{i % 200 + 1}", 1000 + i) for i in range(30)]
    flows += [(f"2001:db8::{i + 1:x}", 2000 + i) for i in range(10)]
    ticks = []
    for tick in range(2):
        chosen = rng.sample(flows, 25 if tick == 0 else 8)
        ticks.append([Packet(ip, port, "10.9.9.9" if "." in ip else "2001:db8::ffff", 80,
                             ts_us=tick * 1_000_000 + rng.randrange(1_000_000), wirelen=rng.choice((60, 60, 1514)))
                      for ip, port in chosen for _ in range(rng.randrange(1, 4))])
    return ticks


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("by", ["rate", "bytes", "packets", "age"])
def test_shards_merged_rank_as_one_tracker(seed: int, by: str) -> None:
    whole = FlowTracker(FlowSettings())
    shards = [FlowTracker(FlowSettings()), FlowTracker(FlowSettings())]
    for tick in packets(seed):
        tick.sort(key=lambda p: p.ts_us)
        whole.observe(make_batch(tick))
        for index, shard in enumerate(shards):
            mine = [p for p in tick if hash((p.src, p.sport)) % 2 == index]
            if mine:
                shard.observe(make_batch(mine))
        for tracker in (whole, *shards):
            tracker.end_tick()
    for n in (1, 5, 12, 50):
        merged = merge_top([tuple(shard.top(n, by=by).rows()) for shard in shards], n, by)
        assert [row.key for row in merged] == [row.key for row in whole.top(n, by=by).rows()], (n, by)
