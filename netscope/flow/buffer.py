"""A numpy array that grows by appending, for logs whose final length is not known up front."""

from __future__ import annotations

import numpy as np


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
