"""Array storage for the flow tables: lazily zeroed columns and append-only logs."""

from __future__ import annotations

import math
import mmap

import numpy as np


def lazy_zeros(shape: int | tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """A zeroed array on private anonymous memory in small pages, backed only where written.

    np.zeros would do, except that numpy asks the kernel for transparent huge pages on big
    arrays. A table column is written a row at a time as flows arrive, so huge pages mostly
    cost: each first touch clears 2 MiB (in a fresh process here, 100 MB took ~450 ms to
    fault in against ~50 ms in 4 KiB pages), and partly used ones count in full towards RSS
    (a million flows peaked ~5 MiB lower this way). Random reads were no faster with them.
    """
    dims = (shape,) if isinstance(shape, int) else shape
    itemsize = np.dtype(dtype).itemsize
    nbytes = math.prod(dims) * itemsize  # Python ints: a size past int64 fails in mmap, not silently
    memory = mmap.mmap(-1, max(nbytes, 1), flags=mmap.MAP_PRIVATE)
    return np.frombuffer(memory, dtype=dtype, count=nbytes // itemsize).reshape(dims)


class Growable:
    """Append-only numpy storage with amortised O(1) appends (the capacity doubles).

    Capacity beyond `size` is allocated with np.empty and never written, so the kernel does
    not back it with memory until it is used: doubling costs address space, not RSS.
    """

    def __init__(self, dtype: np.dtype | type, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=dtype)
        self.size = 0

    @property
    def view(self) -> np.ndarray:
        return self._data[: self.size]

    def append(self, values: np.ndarray) -> int:
        """Append `values`; returns the index of the first appended element."""
        start = self.size
        end = start + values.shape[0]
        if end > self._data.shape[0]:
            grown = np.empty(max(end, 2 * self._data.shape[0]), dtype=self._data.dtype)
            grown[:start] = self._data[:start]
            self._data = grown
        self._data[start:end] = values
        self.size = end
        return start

    def pop(self, count: int) -> np.ndarray:
        """Remove and return the last `count` elements (fewer if there are fewer)."""
        count = min(count, self.size)
        self.size -= count
        return self._data[self.size : self.size + count].copy()

    def clear(self) -> None:
        self.size = 0
