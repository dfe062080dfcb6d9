"""What live and file sources share: the batch conversion, the stop signal and their common face."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from netscope.capture.batch import RawBatch

META_FIELDS = 4  # next_batch meta record: native uint32 sec, usec, offset, caplen


class _HasIsSet(Protocol):
    def is_set(self) -> bool: ...


# What `batches(stop)` accepts: a threading.Event (anything with is_set), a callable, or None.
StopSignal = _HasIsSet | Callable[[], bool] | None


def stop_check(stop: StopSignal) -> Callable[[], bool]:
    """Accept a threading.Event (or anything with is_set), a plain callable, or nothing."""
    if stop is None:
        return lambda: False
    is_set = getattr(stop, "is_set", None)
    return is_set if callable(is_set) else stop


def unpack_batch(packet_bytes: bytes, packed_meta: bytes) -> tuple[np.ndarray, ...]:
    """(data, offset, caplen, ts_us) columns of one next_batch result; data is a view, not a copy."""
    meta = np.frombuffer(packed_meta, dtype=np.uint32).reshape(-1, META_FIELDS)
    ts_us = meta[:, 0].astype(np.int64) * 1_000_000 + meta[:, 1]
    # One contiguous int64 column each: strided views of the meta would slow every later pass.
    return np.frombuffer(packet_bytes, dtype=np.uint8), meta[:, 2].astype(np.int64), \
        meta[:, 3].astype(np.int64), ts_us


def pack_meta(ts_us: np.ndarray, caplen: np.ndarray) -> bytes:
    """The inverse of the meta half of `unpack_batch`, for packets gathered one at a time."""
    offset = np.concatenate(([0], np.cumsum(caplen)[:-1])) if caplen.size else caplen
    sec, usec = np.divmod(ts_us, 1_000_000)
    return np.column_stack([sec, usec, offset, caplen]).astype(np.uint32).tobytes()


def empty_batch(linktype: int) -> RawBatch:
    none = np.zeros(0, np.int64)
    return RawBatch(np.zeros(0, np.uint8), none, none, none, none, linktype)


class PacketSource(Protocol):
    """The face the engine sees, whether packets come from an interface or a file."""

    linktype: int
    wirelen_estimated: int  # packets whose wire length was estimated from the IP header

    def batches(self, stop: StopSignal = None) -> Iterator[RawBatch]: ...

    def close(self) -> None: ...
