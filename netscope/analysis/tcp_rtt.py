"""RTT samples by sequence-end matching, the reference's rule (§3.5), over a whole batch.

Sequentially, every segment that advances its direction is queued as (seq_end, time), at
most 128 per direction with the oldest dropped, and each ACK from the peer pops, oldest
first, every queued entry it covers, one sample each. Because queued ends only grow, an
entry's fate does not depend on the others: it is popped by the first peer ACK after it
that reaches its end, unless the entry 128 places behind it was queued before that ACK
(then it had been dropped). Both questions are answered for all entries at once: the
first is a "first value >= x in a range" query over the peer's ACKs, the second a
comparison with the position of the entry 128 further on.
"""

from __future__ import annotations

import numpy as np

from netscope.analysis.tcp_grouped import first_reaching, group_starts
from netscope.analysis.tcp_state import MAX_INFLIGHT, Inflight
from netscope.analysis.tcp_walk import MASK32, Walk

EWMA_KEEP = 0.875  # ewma = 0.875 * ewma + 0.125 * sample (α = 1/8)


def match_samples(walk: Walk, carried: Inflight) -> Inflight:
    """Feed this batch's RTT samples into `walk.state`; returns the entries still waiting.

    `carried` holds the waiting entries of the batch's continuing flows, keyed by
    group * 2 + direction like `walk.key`; so does the result.
    """
    p = walk.packets
    n = p.count
    pushed = np.flatnonzero(walk.advanced)
    key = np.concatenate([carried.key, walk.key[pushed]])
    order = np.argsort(key, kind="stable")  # per key: carried entries (older) first, then in capture order
    key = key[order]
    end = np.concatenate([walk.to_space(carried.seq_end.astype(np.int64), carried.key), walk.uend[pushed]])[order]
    sent_us = np.concatenate([carried.ts_us, p.ts_us[pushed]])[order]
    position = np.concatenate([np.full(carried.count, -1), pushed])[order]

    acks = np.flatnonzero(walk.is_ack & walk.ack_valid)
    ack_key = (walk.key ^ 1)[acks]  # the direction each ACK acknowledges
    by_key = np.argsort(ack_key, kind="stable")
    acks, ack_key = acks[by_key], ack_key[by_key]
    ack_rank = ack_key * (n + 1) + acks + 1
    begin = np.searchsorted(ack_rank, key * (n + 1) + position + 1, side="right")
    stop = np.searchsorted(ack_rank, (key + 1) * (n + 1), side="left")
    hit = first_reaching(walk.uack[acks], group_starts(ack_key), begin, stop, end)
    popped_at = np.full(key.shape[0], np.iinfo(np.int64).max)
    popped_at[hit >= 0] = acks[hit[hit >= 0]]

    later = np.arange(key.shape[0]) + MAX_INFLIGHT
    crowded = later < key.shape[0]
    crowded[crowded] = key[later[crowded]] == key[crowded]
    dropped = np.zeros(key.shape[0], dtype=bool)
    dropped[crowded] = position[later[crowded]] < popped_at[crowded]
    popped = (hit >= 0) & ~dropped
    _aggregate(walk, key[popped] // 2, popped_at[popped], np.flatnonzero(popped),
               np.maximum(p.ts_us[popped_at[popped]] - sent_us[popped], 0))

    waiting = (hit < 0) & ~dropped
    return Inflight(key[waiting], ((walk.anchor[key[waiting]] + end[waiting]) & MASK32).astype(np.uint32),
                    sent_us[waiting])


def _aggregate(walk: Walk, group: np.ndarray, at: np.ndarray, fifo: np.ndarray, sample_us: np.ndarray) -> None:
    """Last, true minimum, EWMA and count of each flow's new samples, in the order they were taken."""
    if not group.shape[0]:
        return
    state = walk.state
    order = np.lexsort((fifo, at, group))
    group, sample_us = group[order], sample_us[order]
    starts = group_starts(group)
    heads = np.flatnonzero(starts)
    flows = group[heads]
    counts = np.diff(np.append(heads, group.shape[0]))
    rank = np.arange(group.shape[0]) - np.repeat(heads, counts)
    remaining = np.repeat(counts, counts) - 1 - rank  # samples after this one in its flow
    had = state.rtt_samples[flows] > 0
    weight = 0.125 * np.power(EWMA_KEEP, remaining)
    first_alone = starts & ~np.repeat(had, counts)  # with no earlier EWMA the first sample starts it
    weight[first_alone] = np.power(EWMA_KEEP, remaining[first_alone])
    blended = np.bincount(np.repeat(np.arange(flows.shape[0]), counts), weights=weight * sample_us,
                          minlength=flows.shape[0])
    previous = np.where(had, state.rtt_ewma_us[flows], 0.0)
    state.rtt_ewma_us[flows] = previous * np.power(EWMA_KEEP, counts) + blended
    smallest = np.minimum.reduceat(sample_us, heads)
    state.rtt_min_us[flows] = np.where(had, np.minimum(state.rtt_min_us[flows], smallest), smallest)
    state.rtt_last_us[flows] = sample_us[np.append(heads[1:], group.shape[0]) - 1]
    state.rtt_samples[flows] += counts
