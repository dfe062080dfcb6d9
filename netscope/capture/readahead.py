"""Reading the next libpcap batch while the engine analyses the current one.

pcapy's `next_batch` spends most of its time in `pcap_dispatch` (file reads and copies) with
the GIL released, and numpy releases it for most of its passes, so a reader thread that
fetches batch k+1 while the caller works on batch k overlaps the two on a second core: for a
file replayed as fast as possible the read almost disappears from the wall time. Besides
`next_batch`, the thread runs the owner's `convert` on each result: work that belongs to the
read itself and waits on memory more than on the interpreter (FileSource's wire-length index
reads the record headers the read has just brought into cache). Every counter the caller
reads stays with the caller, so nothing it sees runs ahead.

The thread never outlives the handle: `stop()` waits for the call in progress (a batch of a
regular file, milliseconds) before the owner may close it. Pipes are not read ahead: a read
there can block for as long as the writer pleases.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

AHEAD = 1  # batches fetched but not yet taken: one in the queue, one being read
# Reading ahead should use a spare core, not take one from the screen: with the TUI on two cores
# the engine's two threads and the UI process compete: at equal priority the UI cost 6-8 % of
# throughput, niced 3-5 % (benches/bench_ui.py; the slowest key press stays under 100 ms either way).
READ_AHEAD_NICE = 5  # added to the nice value the thread starts with


Batch = tuple[bytes, bytes]  # what next_batch returns: packet bytes, packed metadata


class BatchReadAhead:
    """Yields `convert(handle.next_batch(n))` in order, each fetched one step ahead by a thread.

    An error of `next_batch` (libpcap's PcapError for a damaged file) is re-raised in the
    caller's thread at the batch where it happened. The end of the file (empty metadata) is
    yielded as `None`, not converted, and ends the thread, after `at_end` has run in it: the
    owner's clean-up that need not wait for the caller (FileSource unmaps the file there).
    """

    def __init__(self, handle, batch_packets: int, convert: Callable[[Batch], Any] = lambda batch: batch,
                 at_end: Callable[[], None] = lambda: None) -> None:
        self._handle = handle
        self._batch_packets = batch_packets
        self._convert = convert
        self._at_end = at_end
        self._queue: queue.Queue = queue.Queue(maxsize=AHEAD)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read, name="netscope-read-ahead", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        me = threading.get_native_id()  # on Linux a thread's own nice value
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, me, min(os.getpriority(os.PRIO_PROCESS, me) + READ_AHEAD_NICE, 19))
        while not self._stopping.is_set():
            try:
                result = self._handle.next_batch(self._batch_packets)
                item = self._convert(result) if result[1] else None
                if item is None:
                    self._at_end()
            except Exception as exc:
                self._queue.put(exc)
                return
            self._queue.put(item)  # stop() makes room, so this never blocks a stopping thread
            if item is None:
                return

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if isinstance(item, Exception):
                raise item
            yield item
            if item is None:
                return

    def stop(self) -> None:
        """End the thread; returns once it no longer touches the handle."""
        self._stopping.set()
        with contextlib.suppress(queue.Empty):
            self._queue.get_nowait()  # a put waiting for room returns, then the loop sees the stop
        self._thread.join()
