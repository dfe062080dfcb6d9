"""Shared-memory batch slots between the reader and the workers: bytes are copied once, never pickled.

The reader copies a batch (or a piece of one, when it does not fit a slot) into a free slot
with a shard id per packet; every worker reads the same slot and keeps its own packets. A
slot is free again once every worker has marked it done with the slot's current sequence
number, written into a small shared array: no queue round trip per batch.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from netscope.capture.batch import RawBatch

# clock_us: the latest packet time up to each packet in the whole capture, the anomaly detector's
# clock, which a shard cannot know from its own packets when capture time steps back.
_COLUMNS = ("offset", "caplen", "wirelen", "ts_us", "clock_us")
SEGMENT_PREFIX = "netscope-ring-"  # then the reader's pid: a segment whose reader is gone is stale
SHM_DIR = "/dev/shm"


def remove_stale_segments(directory: str = SHM_DIR) -> list[str]:
    """Unlink the rings of readers that no longer exist; returns their names.

    The resource tracker removes a ring when its reader dies, unless it died too (a SIGKILL to
    the whole process group, as a container stop's last resort sends): the segment, 64 MiB
    and more of RAM, would then stay until reboot. A ring whose pid is alive, or belongs to a
    process of someone else, is left alone.
    """
    removed = []
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            pid = name[len(SEGMENT_PREFIX):].split("-", 1)[0]
            if not name.startswith(SEGMENT_PREFIX) or not pid.isdigit() or _alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))
                removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive
    return True


def _aligned(size: int) -> int:
    """`size` rounded up to a multiple of 8: where the int64 bookkeeping after the shard ids starts."""
    return -(-size // 8) * 8


@dataclass(frozen=True)
class RingLayout:
    slots: int
    slot_packets: int
    slot_bytes: int
    workers: int

    @property
    def size(self) -> int:
        per_slot = self.slot_bytes + self.slot_packets * (8 * len(_COLUMNS) + 1)
        return _aligned(self.slots * per_slot) + 8 * self.slots * (self.workers + 1)


class BatchRing:
    """Slots in one shared memory block, created by the reader before the workers are forked.

    Forked workers inherit the mapping itself, so they never attach by name (attaching would
    register the segment with the resource tracker a second time).
    """

    def __init__(self, layout: RingLayout) -> None:
        self.layout = layout
        self._owner_pid = os.getpid()
        remove_stale_segments()
        self._shm = shared_memory.SharedMemory(name=f"{SEGMENT_PREFIX}{self._owner_pid}-{secrets.token_hex(4)}",
                                               create=True, size=layout.size)
        self.name = self._shm.name
        self._map_views()

    def _map_views(self) -> None:
        lay = self.layout
        buffer = self._shm.buf
        at = 0

        def take(dtype, shape) -> np.ndarray:
            nonlocal at
            view = np.ndarray(shape, dtype=dtype, buffer=buffer, offset=at)
            at += view.nbytes
            return view

        self.data = take(np.uint8, (lay.slots, lay.slot_bytes))
        self.columns = {name: take(np.int64, (lay.slots, lay.slot_packets)) for name in _COLUMNS}
        self.shard = take(np.uint8, (lay.slots, lay.slot_packets))
        at = _aligned(at)
        self.written = take(np.int64, (lay.slots,))  # sequence number of the slot's current contents
        self.done = take(np.int64, (lay.workers, lay.slots))  # what each worker has finished with
        self.written[:] = 0
        self.done[:] = 0

    # -- reader side ----------------------------------------------------------------------

    def free_slot(self) -> int | None:
        """A slot every worker has finished with, or None."""
        free = np.flatnonzero((self.done == self.written).all(axis=0))
        return int(free[0]) if free.size else None

    def piece_end(self, raw: RawBatch, start: int) -> int:
        """End of the piece of `raw` from `start` that fits one slot (at least one packet)."""
        lay = self.layout
        stop = min(raw.count, start + lay.slot_packets)
        ends = raw.offset[start:stop] + raw.caplen[start:stop] - raw.offset[start]
        fits = int(np.searchsorted(np.maximum.accumulate(ends), lay.slot_bytes, side="right"))
        return start + max(fits, 1)

    def write(self, slot: int, raw: RawBatch, start: int, stop: int, shard: np.ndarray,
              clock_us: np.ndarray) -> tuple[int, int]:
        """Copy packets start..stop-1 into `slot`; returns (packets, sequence number)."""
        first = int(raw.offset[start])
        end = int((raw.offset[start:stop] + raw.caplen[start:stop]).max())
        self.data[slot, : end - first] = raw.data[first:end]
        count = stop - start
        cols = self.columns
        np.subtract(raw.offset[start:stop], first, out=cols["offset"][slot, :count])
        cols["caplen"][slot, :count] = raw.caplen[start:stop]
        cols["wirelen"][slot, :count] = raw.wirelen[start:stop]
        cols["ts_us"][slot, :count] = raw.ts_us[start:stop]
        cols["clock_us"][slot, :count] = clock_us[start:stop]
        self.shard[slot, :count] = shard[start:stop]
        self.written[slot] += 1
        return count, int(self.written[slot])

    # -- worker side ----------------------------------------------------------------------

    def batch_for(self, slot: int, count: int, worker: int, linktype: int,
                  own_bytes: bool = False) -> tuple[RawBatch, np.ndarray]:
        """The worker's packets of a slot and their positions in it.

        Columns are copies; bytes stay a view into the slot, which the reader overwrites once
        every worker has marked it done, unless `own_bytes` copies them out first (one memcpy of
        the span the worker's packets cover): a worker that keeps batches for the detail view
        must not read them back from a slot that holds other packets by then.
        """
        mine = np.flatnonzero(self.shard[slot, :count] == worker)
        cols = {name: values[slot, :count][mine] for name, values in self.columns.items()}
        data = self.data[slot]
        if own_bytes and mine.size:
            data = data[: int((cols["offset"] + cols["caplen"]).max())].copy()
        raw = RawBatch(data, cols["offset"], cols["caplen"], cols["wirelen"], cols["ts_us"], linktype)
        return raw, mine

    def clock_for(self, slot: int, count: int, mine: np.ndarray) -> np.ndarray:
        """The capture's clock_us at the worker's packets of a slot (`mine` from batch_for)."""
        return self.columns["clock_us"][slot, :count][mine]

    def mark_done(self, worker: int, slot: int, sequence: int) -> None:
        self.done[worker, slot] = sequence

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the views, unmap and remove the segment (reader only; workers just exit)."""
        if os.getpid() != self._owner_pid or self.data is None:
            return
        self.data = self.shard = self.written = self.done = None
        self.columns = {}
        self._shm.close()
        self._shm.unlink()
