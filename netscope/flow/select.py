"""Pick the n best of many rows without sorting them all, with ties settled the same way every time.

np.argpartition alone returns an arbitrary subset of equal values at the cut, which makes a
top-N screen flicker between equally ranked flows. Here the cut is a value: everything
strictly better is in, and only the rows equal to the cut go on to the next tie breaker
(computed for those rows only), so the cost stays one partition pass over the ranked rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TieColumns = Callable[[np.ndarray], list[np.ndarray]]


def smallest(count: int, rank: np.ndarray, tie_columns: TieColumns | None = None) -> np.ndarray:
    """Indices of the `count` smallest entries of `rank`, ties broken by `tie_columns`, unordered.

    `tie_columns(indices)` returns the tie breakers of those entries, most significant first;
    without it (or when they run out) ties at the cut are taken in index order.
    """
    size = rank.shape[0]
    if count >= size:
        return np.arange(size)
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    # A tie at the top as long as the list (a million flows with one timestamp) is the cut
    # itself: np.partition over such an array costs a hundred milliseconds, these passes a few.
    lowest = rank.min()
    cut = lowest if np.count_nonzero(rank == lowest) >= count else np.partition(rank, count - 1)[count - 1]
    better = np.flatnonzero(rank < cut)
    tied = np.flatnonzero(rank == cut)
    needed = count - better.shape[0]
    if tied.shape[0] > needed:
        tied = tied[_lexicographic(needed, tie_columns(tied) if tie_columns else [])]
    return np.concatenate([better, tied])


def _lexicographic(count: int, columns: list[np.ndarray]) -> np.ndarray:
    """Indices of the `count` lexicographically smallest rows of `columns`."""
    if not columns:
        return np.arange(count)
    rest = columns[1:]
    return smallest(count, columns[0], lambda picked: [column[picked] for column in rest])


def order(rank_columns: list[np.ndarray]) -> np.ndarray:
    """Stable ascending order by several columns, most significant first."""
    return np.lexsort(rank_columns[::-1])
