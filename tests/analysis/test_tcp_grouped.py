"""The grouped running operations against plain loops over each group."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.analysis.tcp_grouped import (
    NONE,
    first_reaching,
    group_ends,
    group_starts,
    group_sum,
    latest,
    running_max_before,
    start_index,
)

VALUE = st.one_of(st.integers(-(1 << 40), 1 << 40), st.integers(-5, 5))


@st.composite
def grouped(draw) -> tuple[np.ndarray, np.ndarray]:
    """(sorted group ids, int64 values) of equal length, possibly empty."""
    sizes = draw(st.lists(st.integers(1, 12), max_size=8))
    group = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
    values = np.array(draw(st.lists(VALUE, min_size=len(group), max_size=len(group))), dtype=np.int64)
    return group, values


def runs(group: np.ndarray) -> list[range]:
    bounds = [*np.flatnonzero(group_starts(group)).tolist(), len(group)]
    return [range(a, b) for a, b in pairwise(bounds)]


@given(grouped(), st.data())
def test_running_max_before(case, data) -> None:
    group, values = case
    values = np.where(np.array(data.draw(st.lists(st.booleans(), min_size=len(group), max_size=len(group))),
                               dtype=bool), NONE, values) if len(group) else values
    seeds = {g: data.draw(st.one_of(st.just(NONE), VALUE)) for g in set(group.tolist())}
    seed = np.array([seeds[g] for g in group.tolist()], dtype=np.int64)
    got = running_max_before(values, group_starts(group), seed)
    for span in runs(group):
        best = seeds[int(group[span.start])]
        for i in span:
            assert got[i] == best
            best = max(best, int(values[i]))


@given(grouped(), st.data())
def test_latest_sum_and_ends(case, data) -> None:
    group, values = case
    mask = values % 3 == 0
    starts = group_starts(group)
    found = latest(mask, start_index(starts))
    total = group_sum(values, starts)
    assert list(group_ends(starts)) == [span.stop - 1 for span in runs(group)]
    for span in runs(group):
        last, running = -1, 0
        for i in span:
            last = i if mask[i] else last
            running += int(values[i])
            assert (found[i], total[i]) == (last, running)


@settings(max_examples=300)
@given(grouped(), st.data())
def test_first_reaching(case, data) -> None:
    group, values = case
    if not len(group):
        return
    queries = data.draw(st.lists(st.tuples(st.integers(0, len(group) - 1), VALUE), min_size=1, max_size=20))
    spans = {g: span for span in runs(group) for g in [int(group[span.start])]}
    begin = np.array([b for b, _ in queries], dtype=np.int64)
    end = np.array([spans[int(group[b])].stop for b, _ in queries], dtype=np.int64)
    threshold = np.array([t for _, t in queries], dtype=np.int64)
    got = first_reaching(values, group_starts(group), begin, end, threshold)
    for k, (b, t) in enumerate(queries):
        want = next((j for j in range(b, int(end[k])) if values[j] >= t), -1)
        assert got[k] == want
