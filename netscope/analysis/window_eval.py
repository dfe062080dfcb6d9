"""One batch against its keys' windows: the reference's per-packet rules in a few numpy passes.

The reference handles each counted packet in turn (§4.1-4.2): if its key is cooling down the
packet is ignored and not recorded; otherwise it is recorded, entries more than the window older
are dropped, and the key fires when its counts reach the thresholds, starting a cooldown. Here:

* this batch's packets and what the keys' windows still hold are sorted by key and time;
* "virtual time" lays the keys end to end with a gap wider than any window or cooldown between
  them, and shrinks any longer gap inside a key to that width, so one `searchsorted` over the
  whole array finds window starts and ends for every key at once without changing any comparison;
* entries in the window = position - window start + 1 (plus the stored entries known to be in
  every window of this batch); distinct members in the window count the spans during which each
  occurrence is the newest of its member and still inside the window (a +1/-1 difference array
  and a cumulative sum);
* cooldowns make the outcome depend on earlier firings, so firings are confirmed in rounds: a
  firing whose cooldown skips no recorded packet changes nothing, and every firing of a key up to
  its first one that does skip packets is final. Those packets are dropped and only the keys
  concerned are evaluated again. Rounds are bounded by the firings that skip packets within one
  batch (usually one per key: the default cooldowns are longer than a batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from netscope.analysis.entry_log import Entries

# (entries in the window, distinct counts in the order of WindowRule.distinct) -> fires?
FirePredicate = Callable[[np.ndarray, list[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class WindowRule:
    window_us: int
    cooldown_us: int
    distinct: tuple[tuple[int, ...], ...]  # member columns that make up each distinct count
    fires: FirePredicate
    counts_entries: bool  # whether `fires` reads the number of entries (else it gets zeros)


@dataclass(slots=True)
class Merged:
    """A batch's packets and the stored entries of the same keys, sorted by key then time."""

    key: np.ndarray
    time: np.ndarray
    vtime: np.ndarray  # virtual time: see the module docstring
    is_new: np.ndarray  # a packet of this batch, not a stored entry
    row: np.ndarray  # input row of new entries, -1 for stored ones
    members: list[np.ndarray]
    counts_entry: np.ndarray  # takes part in the number of entries
    counts_member: np.ndarray  # takes part in the distinct counts
    group: np.ndarray  # index of the key's run of positions
    group_start: np.ndarray  # first position of each run


@dataclass(frozen=True)
class Outcome:
    recorded: np.ndarray  # per position: a new packet that was recorded (not cooling down)
    fired: np.ndarray  # positions that fired, ascending
    entries: np.ndarray  # at each firing
    distinct: list[np.ndarray]  # at each firing


def merge(member_history: Entries, entry_history: Entries, new: Entries, gap: int) -> Merged:
    """Sort everything by key, then time; stored entries come before new ones at equal times.

    `member_history` holds the newest stored occurrence of each (key, members) and feeds the
    distinct counts; `entry_history` holds stored entries (without members) for the entry count.
    """
    blanks = [np.zeros(entry_history.count, np.uint64) for _ in new.members]
    key = np.concatenate([member_history.key, entry_history.key, new.key])
    time = np.concatenate([member_history.time, entry_history.time, new.time])
    order = np.lexsort((time, key))  # stable: ties keep the order above
    key, time = key[order], time[order]
    stored = member_history.count + entry_history.count
    row = np.concatenate([np.full(stored, -1, np.int64), np.arange(new.count)])[order]
    kind = np.concatenate([np.full(member_history.count, 1, np.int8), np.full(entry_history.count, 2, np.int8),
                           np.full(new.count, 3, np.int8)])[order]
    starts = np.empty(key.shape[0], dtype=bool)
    starts[0] = True
    np.not_equal(key[1:], key[:-1], out=starts[1:])
    step = np.empty(key.shape[0], dtype=np.int64)
    step[1:] = np.minimum(np.diff(time), gap)
    step[starts] = gap
    members = [np.concatenate(cols)[order]
               for cols in zip(member_history.members, blanks, new.members, strict=True)]
    return Merged(key=key, time=time, vtime=np.cumsum(step), is_new=row >= 0, row=row, members=members,
                  counts_entry=(kind & 2) > 0, counts_member=(kind & 1) > 0,
                  group=np.cumsum(starts) - 1, group_start=np.flatnonzero(starts))


def evaluate(m: Merged, rule: WindowRule, until: np.ndarray, base: np.ndarray) -> Outcome:
    """Apply the rules to every new position.

    `until` is each position's key cooldown end before this batch; `base` the stored entries of
    its key that lie inside every window of this batch and are therefore not in `m`.
    """
    size = m.key.shape[0]
    window, cooldown = rule.window_us, rule.cooldown_us
    recorded = ~m.is_new | (m.time >= until)
    runs = _member_runs(m, rule.distinct)
    final_before = m.group_start.copy()  # per key run: positions before this are settled
    active = np.ones(size, dtype=bool)
    entries_at = np.zeros(size, dtype=np.int64)
    distinct_at = [np.zeros(size, dtype=np.int64) for _ in runs]
    fired, fired_entries = [], []
    fired_distinct: list[list[np.ndarray]] = [[] for _ in runs]
    position = np.arange(size)
    while True:
        live = recorded & active
        if rule.counts_entries:
            at = np.flatnonzero(live & m.counts_entry)
            vtime = m.vtime[at]
            entries_at[at] = np.arange(at.size) - np.searchsorted(vtime, vtime - window, side="left") + 1 + base[at]
        at = np.flatnonzero(live & m.counts_member)
        vtime = m.vtime[at]
        rank = np.zeros(size, dtype=np.int64)
        rank[at] = np.arange(at.size)
        window_end = np.searchsorted(vtime, vtime + window, side="right")
        for (order, run_id), out in zip(runs, distinct_at, strict=True):
            keep = live[order]
            out[at] = _distinct(order[keep], run_id[keep], rank, window_end, at.size)
        candidates = np.flatnonzero(live & m.is_new & (position >= final_before[m.group]))
        hits = candidates[rule.fires(entries_at[candidates], [d[candidates] for d in distinct_at])]
        if not hits.size:
            break
        skip_end = np.searchsorted(m.vtime, m.vtime[hits] + cooldown, side="left")
        new_recorded = np.concatenate([[0], np.cumsum(recorded & m.is_new)])
        skips = new_recorded[np.maximum(skip_end, hits + 1)] - new_recorded[hits + 1] > 0
        limit = np.full(m.group_start.shape[0], size, dtype=np.int64)
        blocking = np.flatnonzero(skips)
        groups, first = np.unique(m.group[hits[blocking]], return_index=True)
        limit[groups] = hits[blocking[first]]
        confirmed = hits[hits <= limit[m.group[hits]]]
        fired.append(confirmed)
        fired_entries.append(entries_at[confirmed])
        for out, counts in zip(fired_distinct, distinct_at, strict=True):
            out.append(counts[confirmed])
        if not groups.size:
            break
        # The first firing that skips packets: drop them, settle everything up to the end of its
        # cooldown and evaluate only these keys again.
        start, end = hits[blocking[first]] + 1, skip_end[blocking[first]]
        cooling = np.cumsum(np.bincount(start, minlength=size + 1) - np.bincount(end, minlength=size + 1))
        recorded &= ~((cooling[:size] > 0) & m.is_new)
        final_before[groups] = end
        again = np.zeros(m.group_start.shape[0], dtype=bool)
        again[groups] = True
        active = again[m.group]
    positions = _joined(fired)
    order = np.argsort(positions, kind="stable")
    return Outcome(recorded & m.is_new, positions[order], _joined(fired_entries)[order],
                   [_joined(parts)[order] for parts in fired_distinct])


def _member_runs(m: Merged, distinct: tuple[tuple[int, ...], ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each distinct count: member positions ordered by (key, member, position), and run ids."""
    members = np.flatnonzero(m.counts_member)
    runs = []
    for columns in distinct:
        parts = [m.members[c][members] for c in reversed(columns)] + [m.key[members]]
        order = np.lexsort(parts)
        changed = np.zeros(order.shape[0], dtype=bool)
        for part in parts:
            ordered = part[order]
            changed[1:] |= ordered[1:] != ordered[:-1]
        runs.append((members[order], np.cumsum(changed)))
    return runs


def _distinct(order: np.ndarray, run_id: np.ndarray, rank: np.ndarray, window_end: np.ndarray,
              count: int) -> np.ndarray:
    """Distinct members in the window at each live member position (by rank among them).

    An occurrence counts from its own position until the next occurrence of the same member or
    until it leaves the window, whichever comes first; those spans never overlap for one member,
    so the number of spans covering a position is the distinct count there.
    """
    start = rank[order]
    following = np.full(start.shape[0], count, dtype=np.int64)
    same = run_id[1:] == run_id[:-1]
    following[:-1][same] = start[1:][same]
    stop = np.minimum(following, window_end[start])
    return np.cumsum(np.bincount(start, minlength=count + 1) - np.bincount(stop, minlength=count + 1))[:count]


def newest_of_each(entries: Entries) -> Entries:
    """The last entry of each distinct (key, members) combination, in time order."""
    parts = [*reversed(entries.members), entries.key]
    order = np.lexsort(parts)
    same_as_next = np.zeros(order.shape[0], dtype=bool)
    same_as_next[:-1] = True
    for part in parts:
        ordered = part[order]
        same_as_next[:-1] &= ordered[1:] == ordered[:-1]
    return entries.take(np.sort(order[~same_as_next]))


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
