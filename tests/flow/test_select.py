"""Top-n selection against a full sort: the same rows, ties settled by the tie columns, then by index."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from netscope.flow.select import order, smallest

ranks = st.lists(st.integers(0, 3), min_size=1, max_size=60)  # few values: ties everywhere


@given(ranks, st.lists(st.integers(0, 2), min_size=60, max_size=60), st.integers(0, 70))
def test_smallest_is_the_head_of_the_full_order(rank, tie, count):
    rank_array, tie_array = np.array(rank), np.array(tie[:len(rank)])
    picked = smallest(count, rank_array, lambda rows: [tie_array[rows]])
    by_sort = order([rank_array, tie_array, np.arange(rank_array.size)])[:count]
    assert sorted(picked.tolist()) == sorted(by_sort.tolist())


def test_a_tie_at_the_top_longer_than_the_list_goes_by_index():
    rank = np.array([5, 1, 1, 9, 1, 1, 1])
    assert sorted(smallest(3, rank).tolist()) == [1, 2, 4]
    assert sorted(smallest(3, rank, lambda rows: [np.array([3, 2, 1, 0, 0])[:rows.size]]).tolist()) == [4, 5, 6]
