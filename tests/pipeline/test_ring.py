"""The shared-memory ring: any slot size and worker count lays out, and a slot reads back what was written."""

import numpy as np
import pytest

from netscope.capture.batch import RawBatch
from netscope.pipeline.ring import BatchRing, RingLayout


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
@pytest.mark.parametrize("slot_packets", [1, 3, 7, 8, 100])
def test_every_layout_maps_and_round_trips_a_slot(slot_packets: int, workers: int) -> None:
    frames = [bytes([i]) * (10 + i) for i in range(slot_packets)]
    raw = RawBatch.from_packets(frames, [1_000 + i for i in range(slot_packets)], linktype=1)
    shards = np.arange(slot_packets, dtype=np.uint8) % workers
    ring = BatchRing(RingLayout(4, slot_packets, 1 << 16, workers))
    try:
        slot = ring.free_slot()
        count, sequence = ring.write(slot, raw, 0, slot_packets, shards)
        assert (count, sequence) == (slot_packets, 1)
        for worker in range(workers):
            batch, positions = ring.batch_for(slot, count, worker, 1)
            assert positions.tolist() == np.flatnonzero(shards == worker).tolist()
            assert [batch.packet(i) for i in range(batch.count)] == [frames[p] for p in positions]
            assert batch.ts_us.tolist() == [1_000 + p for p in positions]
            ring.mark_done(worker, slot, sequence)
        assert ring.free_slot() == 0
    finally:
        ring.close()
