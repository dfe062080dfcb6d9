"""Running operations over groups of consecutive array elements, without a loop per element.

TCP health state is per flow and per direction, but a batch holds the packets of many flows.
Sorting the packets by group (flow, or flow and direction) and then running these
primitives over the whole array gives every packet the value its group's sequential
walk would have had at that point: a running maximum, the latest earlier event, the first
later event that reaches a value.
"""

from __future__ import annotations

import numpy as np

NONE = np.iinfo(np.int64).min  # "no value yet" in running maxima: below every real value


def group_starts(group: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values in a sorted `group` array."""
    starts = np.ones(group.shape[0], dtype=bool)
    starts[1:] = group[1:] != group[:-1]
    return starts


def group_ends(starts: np.ndarray) -> np.ndarray:
    """Indices of the last element of each group, given the group_starts mask."""
    if not starts.shape[0]:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.append(starts[1:], True))


def _heads_and_lengths(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index and length of every group; elements before the first start count as a group at 0."""
    heads = np.flatnonzero(starts)
    if starts.shape[0] and not starts[0]:
        heads = np.concatenate(([0], heads))
    return heads, np.diff(heads, append=starts.shape[0])


def start_index(starts: np.ndarray) -> np.ndarray:
    """For each element, the index of the first element of its group.

    One np.repeat of the group heads: a running maximum over the array costs several times
    as much, and this runs a few times per batch and table.
    """
    heads, lengths = _heads_and_lengths(starts)
    return np.repeat(heads, lengths)


def group_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Inclusive running sum that restarts at each group."""
    total = np.cumsum(values)
    heads, lengths = _heads_and_lengths(starts)
    return total - np.repeat(total[heads] - values[heads], lengths)


def latest(mask: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Index of the latest element at or before each element, in its group, where `mask` holds; -1 if none.

    `first` is start_index(...) of the grouping.
    """
    found = np.maximum.accumulate(np.where(mask, np.arange(mask.shape[0]), -1))
    found[found < first] = -1
    return found


def previous(values: np.ndarray, starts: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Each element's predecessor in its group; the group's `seed` (per element) for the first one."""
    shifted = np.empty_like(values)
    shifted[1:] = values[:-1]
    shifted[:1] = 0
    return np.where(starts, seed, shifted)


def running_max_before(values: np.ndarray, starts: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Maximum of the group's seed and of the group's elements strictly before each element.

    Values are int64 with NONE meaning "nothing"; the result is NONE where nothing came before.
    Each group is lifted above the previous one so that one global np.maximum.accumulate
    serves all groups; the lift is the group's own span, which is bounded by how far sequence
    numbers move within a batch, not by their absolute size.
    """
    n = values.shape[0]
    if not n:
        return values.copy()
    candidates = previous(values, starts, seed)  # seed, v[0], v[1], ...: a running max over them is the answer
    present = candidates != NONE
    if not present.any():
        return candidates
    index = np.flatnonzero(starts)
    group_of = np.cumsum(starts) - 1
    top = np.iinfo(np.int64).max
    floor = np.minimum.reduceat(np.where(present, candidates, top), index)
    floor[floor == top] = 0
    ceiling = np.maximum.reduceat(candidates, index)
    span = int(np.max(np.where(ceiling == NONE, 0, ceiling - floor))) + 2
    if span * index.shape[0] >= 1 << 62:
        raise OverflowError("sequence numbers moved too far within one batch to order them")
    lift = group_of * span
    lifted = np.where(present, candidates - floor[group_of] + 1, 0) + lift
    best = np.maximum.accumulate(lifted) - lift
    return np.where(best > 0, best - 1 + floor[group_of], NONE)


def first_reaching(values: np.ndarray, starts: np.ndarray, begin: np.ndarray, end: np.ndarray,
                   threshold: np.ndarray) -> np.ndarray:
    """For each query, the first index j in [begin, end) with values[j] >= threshold; -1 if none.

    Each query's range lies within one group of `values` (groups marked by `starts`) and
    ends at the group's end. Usually no element of the group before `begin` reaches the
    threshold; then the answer is where the group's running maximum first reaches it,
    one searchsorted over the running maxima of all groups lifted apart. The other
    queries skip, by halving powers of two, the longest prefix of their range that stays
    below the threshold, with a sparse table of range maxima.
    """
    answer = np.full(begin.shape[0], -1, dtype=np.int64)
    if not values.shape[0] or not begin.shape[0]:
        return answer
    group_of = np.cumsum(starts) - 1
    heads = np.flatnonzero(starts)
    floor = np.minimum.reduceat(values, heads)
    span = int(np.max(np.maximum.reduceat(values, heads) - floor)) + 2
    if span * heads.shape[0] >= 1 << 62:
        raise OverflowError("values too far apart within a group to order them")
    lift = group_of * span - floor[group_of]
    climbing = np.maximum.accumulate(values + lift)  # nondecreasing over all groups
    query_group = group_of[np.minimum(begin, values.shape[0] - 1)]
    wanted = np.maximum(threshold, floor[query_group]) - floor[query_group] + query_group * span
    reached = np.searchsorted(climbing, wanted, side="left")
    plain = reached >= begin
    found = plain & (reached < end)
    answer[found] = reached[found]
    rest = np.flatnonzero(~plain & (begin < end))
    if rest.shape[0]:
        answer[rest] = _first_reaching_slow(values, begin[rest], end[rest], threshold[rest])
    return answer


def _first_reaching_slow(values: np.ndarray, begin: np.ndarray, end: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    count = values.shape[0]
    table = [values]
    while (1 << len(table)) <= count:
        half = 1 << (len(table) - 1)
        below = table[-1]
        table.append(np.maximum(below[:-half], below[half:]))
    answer = begin.copy()
    for level in range(len(table) - 1, -1, -1):
        step = 1 << level
        can = answer + step <= end
        level_values = table[level]
        can &= level_values[np.minimum(np.where(can, answer, 0), level_values.shape[0] - 1)] < threshold
        answer = np.where(can, answer + step, answer)
    hit = np.zeros(begin.shape[0], dtype=bool)
    inside = answer < end
    hit[inside] = values[answer[inside]] >= threshold[inside]
    return np.where(hit, answer, -1)
