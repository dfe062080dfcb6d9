"""The shared-memory ring: any slot size and worker count lays out, and a slot reads back what was written."""

import os
import subprocess
from multiprocessing import resource_tracker, shared_memory

import numpy as np
import pytest

from netscope.capture.batch import RawBatch
from netscope.pipeline.ring import BatchRing, RingLayout, remove_stale_segments


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
@pytest.mark.parametrize("slot_packets", [1, 3, 7, 8, 100])
def test_every_layout_maps_and_round_trips_a_slot(slot_packets: int, workers: int) -> None:
    frames = [bytes([i]) * (10 + i) for i in range(slot_packets)]
    raw = RawBatch.from_packets(frames, [1_000 + i for i in range(slot_packets)], linktype=1)
    shards = np.arange(slot_packets, dtype=np.uint8) % workers
    ring = BatchRing(RingLayout(4, slot_packets, 1 << 16, workers))
    try:
        slot = ring.free_slot()
        count, sequence = ring.write(slot, raw, 0, slot_packets, shards, raw.ts_us + 5)
        assert (count, sequence) == (slot_packets, 1)
        for worker in range(workers):
            batch, positions = ring.batch_for(slot, count, worker, 1)
            assert positions.tolist() == np.flatnonzero(shards == worker).tolist()
            assert [batch.packet(i) for i in range(batch.count)] == [frames[p] for p in positions]
            assert batch.ts_us.tolist() == [1_000 + p for p in positions]
            assert ring.clock_for(slot, count, positions).tolist() == [1_005 + p for p in positions]
            ring.mark_done(worker, slot, sequence)
        assert ring.free_slot() == 0
    finally:
        ring.close()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_rings_left_by_readers_that_are_gone_are_removed(tmp_path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    for name in (f"netscope-ring-{dead}-00ff", f"netscope-ring-{alive}-00ff", f"other-{dead}", "netscope-ring-x"):
        (tmp_path / name).write_bytes(b"\0")
    assert remove_stale_segments(str(tmp_path)) == [f"netscope-ring-{dead}-00ff"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"netscope-ring-{alive}-00ff", f"other-{dead}", "netscope-ring-x"])


def test_a_new_ring_sweeps_dev_shm_of_a_killed_run_s_segment() -> None:
    """A segment no resource tracker will remove (its reader and tracker were SIGKILLed together)."""
    name = f"netscope-ring-{_dead_pid()}-0001"
    stale = shared_memory.SharedMemory(name=name, create=True, size=4096)
    resource_tracker.unregister(stale._name, "shared_memory")  # as if its tracker had died with it
    stale.close()
    assert os.path.exists(f"/dev/shm/{name}")
    ring = BatchRing(RingLayout(4, 8, 4096, 1))
    try:
        assert not os.path.exists(f"/dev/shm/{name}")
        assert ring.name.startswith(f"netscope-ring-{os.getpid()}-")
    finally:
        ring.close()
