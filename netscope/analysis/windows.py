"""Per-key sliding windows with cooldowns, evaluated a batch at a time with sequential results.

The reference handles each counted packet in turn (§4.1-4.2): if its key is cooling down the
packet is ignored and not recorded; otherwise it is recorded, entries more than the window older
are dropped, and the key fires when its counts reach the thresholds, starting a cooldown. This
module gives exactly those results for a whole batch in numpy passes:

* entries (this batch's packets plus the stored ones of the same keys) are sorted by key and time;
* "virtual time" lays the keys end to end with a gap wider than any window or cooldown between
  them, and shrinks any longer gap inside a key to that width, so one `searchsorted` over the
  whole array finds window starts and ends for every key at once without changing any comparison;
* entries in the window = position - window start + 1; distinct members in the window count the
  intervals during which each occurrence is the newest of its member and still inside the window
  (a +1/-1 difference array and a cumulative sum);
* cooldowns make the outcome depend on earlier firings, so firings are confirmed in rounds: a
  firing whose cooldown skips no recorded packet changes nothing, and every firing of a key up to
  its first one that does skip packets is final. Those packets are dropped and only the keys
  concerned are evaluated again. Rounds are bounded by the firings that skip packets within one
  batch (usually one per key: the default cooldowns are longer than a batch).

Times are integer microseconds of a clock that never goes back (see AnomalyDetector), so window
edges are exact: `t - front > window` in the reference is `t - front > window_us` here.

Idle keys are freed by time, unlike the reference (§4.3): `expire` drops entries that have left
every future window and forgets keys with neither entries nor a running cooldown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from netscope.analysis.entry_log import Entries, EntryLog
from netscope.analysis.keytable import KeyTable

NEVER = np.iinfo(np.int64).min
MAX_SPAN_US = 86_400 * 1_000_000  # longest window or cooldown; keeps virtual time inside int64
# Housekeeping runs every half window of packet time, and at least as often as the reference's
# (30 s, §4.3): keys then live at most 1.5 windows after their last counted packet.
CLEANUP_EVERY_US = 30 * 1_000_000



def seconds_to_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def check_spans(section: str, **seconds: float) -> None:
    """Reject windows or cooldowns longer than a day (virtual time must stay inside int64)."""
    for name, value in seconds.items():
        if not value <= MAX_SPAN_US / 1_000_000:
            raise ValueError(f"{section}.{name} must be at most 86400 (one day), got {value!r}")


# (entries in the window, distinct counts in the order of WindowRule.distinct) -> fires?
FirePredicate = Callable[[np.ndarray, list[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class WindowRule:
    window_us: int
    cooldown_us: int
    distinct: tuple[tuple[int, ...], ...]  # member columns that make up each distinct count
    fires: FirePredicate
    # Store only the newest of identical (key, members) entries. Exact only for rules that read
    # distinct counts and not the number of entries: the newest one outlives the others.
    dedupe: bool


@dataclass(frozen=True)
class Firings:
    index: np.ndarray  # row of the observe() input that fired, ascending
    entries: np.ndarray  # entries in the window at that row
    distinct: list[np.ndarray]  # distinct counts at that row


@dataclass(slots=True)
class _Sorted:
    """This batch's entries and the stored entries of the same keys, sorted by key then time."""

    key: np.ndarray
    time: np.ndarray
    vtime: np.ndarray  # virtual time: see the module docstring
    is_new: np.ndarray  # a packet of this batch, not a stored entry
    row: np.ndarray  # input row of new entries, -1 for stored ones
    members: list[np.ndarray]
    group: np.ndarray  # index of the key's run of positions
    group_start: np.ndarray  # first position of each run


class SlidingWindows:
    """The windows and cooldowns of one detector, keyed by `key_width` uint64 columns."""

    def __init__(self, rule: WindowRule, key_width: int, member_columns: int) -> None:
        self.rule = rule
        self._keys = KeyTable(key_width)
        self._log = EntryLog(member_columns)
        self._gap = max(rule.window_us, rule.cooldown_us) + 1
        self._cleanup_every = min(CLEANUP_EVERY_US, rule.window_us // 2)
        self._last_cleanup: int | None = None
        self._first_time = np.zeros(0, np.int64)  # per key id: no stored entry of the key is older
        self._last_time = np.zeros(0, np.int64)  # per key id: newest stored entry
        self._until = np.zeros(0, np.int64)  # per key id: cooldown end
        self._wanted = np.zeros(0, dtype=bool)  # per key id: scratch for log look-ups, kept all False

    @property
    def tracked_keys(self) -> int:
        return self._keys.count

    @property
    def stored_entries(self) -> int:
        return len(self._log)

    def observe(self, keys: list[np.ndarray], times: np.ndarray, members: list[np.ndarray]) -> Firings:
        """Record and evaluate one batch of counted packets (times nondecreasing, µs)."""
        if not times.shape[0]:
            return Firings(np.zeros(0, np.int64), np.zeros(0, np.int64), [np.zeros(0, np.int64)
                                                                          for _ in self.rule.distinct])
        key_id = self._keys.ids(keys)
        self._fit_state(self._keys.count)
        new = Entries(key_id, times.astype(np.int64, copy=False), [np.asarray(m, np.uint64) for m in members])
        stored = self._stored_entries_of(key_id, int(times[0]) - self.rule.window_us)
        batch = self._sort(stored, new)
        recorded, fired, entries, distinct = self._evaluate(batch)
        self._start_cooldowns(batch, fired)
        self._store(batch, recorded)
        order = np.argsort(batch.row[fired], kind="stable")
        return Firings(batch.row[fired][order], entries[order], [d[order] for d in distinct])

    def expire(self, now: int) -> None:
        """Free what no future packet can see, at most once per cleanup period of packet time."""
        if self._last_cleanup is None:
            self._last_cleanup = now
        if now - self._last_cleanup < self._cleanup_every:
            return
        self._last_cleanup = now
        cutoff = now - self.rule.window_us
        self._log.expire(cutoff)
        count = self._keys.count
        keep = (self._last_time[:count] >= cutoff) | (self._until[:count] > now)
        if keep.all():
            return
        remap = self._keys.rebuild(keep)
        self._log.renumber(remap)
        kept = np.flatnonzero(keep)
        self._first_time, self._last_time, self._until = (
            a[kept] for a in (self._first_time, self._last_time, self._until))
        self._wanted = np.zeros(kept.size, dtype=bool)

    def _fit_state(self, count: int) -> None:
        size = self._until.shape[0]
        if count <= size:
            return
        grown = max(count, 2 * size, 1024)
        pad = np.full(grown - size, NEVER, np.int64)
        self._first_time, self._last_time, self._until = (
            np.concatenate([a, pad]) for a in (self._first_time, self._last_time, self._until))
        self._wanted = np.zeros(grown, dtype=bool)

    def _stored_entries_of(self, key_id: np.ndarray, t_from: int) -> Entries:
        """Stored entries of these keys that a window starting at `t_from` can still hold."""
        keys = np.unique(key_id)
        keys = keys[self._last_time[keys] >= t_from]
        if not keys.size:
            return Entries.empty(self._log.member_columns)
        self._wanted[keys] = True
        oldest = max(t_from, int(self._first_time[keys].min()))
        entries = self._log.gather(self._wanted, oldest, int(self._last_time[keys].max()))
        self._wanted[keys] = False
        return entries

    def _sort(self, stored: Entries, new: Entries) -> _Sorted:
        # Stored entries are older than this batch and both are in time order, so a stable sort
        # by key leaves each key's entries in time (and arrival) order.
        merged = Entries.join([stored, new])
        order = np.argsort(merged.key, kind="stable")
        key, time = merged.key[order], merged.time[order]
        starts = np.empty(key.shape[0], dtype=bool)
        starts[0] = True
        np.not_equal(key[1:], key[:-1], out=starts[1:])
        step = np.empty(key.shape[0], dtype=np.int64)
        step[1:] = np.minimum(np.diff(time), self._gap)
        step[starts] = self._gap
        row = np.concatenate([np.full(stored.count, -1, np.int64), np.arange(new.count)])[order]
        return _Sorted(key=key, time=time, vtime=np.cumsum(step), is_new=row >= 0, row=row,
                       members=[m[order] for m in merged.members], group=np.cumsum(starts) - 1,
                       group_start=np.flatnonzero(starts))

    def _member_runs(self, s: _Sorted) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each distinct count: positions ordered by (key, member, position) and run ids."""
        runs = []
        for columns in self.rule.distinct:
            parts = [s.members[c] for c in reversed(columns)] + [s.key]
            order = np.lexsort(parts)
            changed = np.zeros(order.shape[0], dtype=bool)
            for part in parts:
                ordered = part[order]
                changed[1:] |= ordered[1:] != ordered[:-1]
            runs.append((order, np.cumsum(changed)))
        return runs

    def _evaluate(self, s: _Sorted) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """Which positions are recorded and which fire, with the counts at each firing."""
        size = s.key.shape[0]
        window, cooldown = self.rule.window_us, self.rule.cooldown_us
        recorded = ~s.is_new | (s.time >= self._until[s.key])
        runs = self._member_runs(s)
        final_before = s.group_start.copy()  # per key run: positions before this are settled
        active = np.ones(size, dtype=bool)
        fired, fired_entries = [], []
        fired_distinct: list[list[np.ndarray]] = [[] for _ in runs]
        while True:
            live = recorded & active
            pos = np.flatnonzero(live)
            vtime = s.vtime[pos]
            rank = np.zeros(size, dtype=np.int64)
            rank[pos] = np.arange(pos.size)
            entries = np.arange(pos.size) - np.searchsorted(vtime, vtime - window, side="left") + 1
            window_end = np.searchsorted(vtime, vtime + window, side="right")
            distinct = [self._distinct(order[live[order]], run_id[live[order]], rank, window_end, pos.size)
                        for order, run_id in runs]
            eligible = s.is_new[pos] & (pos >= final_before[s.group[pos]])
            hits = np.flatnonzero(eligible & self.rule.fires(entries, distinct))
            if not hits.size:
                break
            at = pos[hits]
            skip_end = np.searchsorted(s.vtime, s.vtime[at] + cooldown, side="left")
            new_recorded = np.concatenate([[0], np.cumsum(recorded & s.is_new)])
            skips = new_recorded[np.maximum(skip_end, at + 1)] - new_recorded[at + 1] > 0
            limit = np.full(s.group_start.shape[0], size, dtype=np.int64)
            blocking = np.flatnonzero(skips)
            groups, first = np.unique(s.group[at[blocking]], return_index=True)
            limit[groups] = at[blocking[first]]
            confirmed = at <= limit[s.group[at]]
            fired.append(at[confirmed])
            fired_entries.append(entries[hits[confirmed]])
            for out, counts in zip(fired_distinct, distinct, strict=True):
                out.append(counts[hits[confirmed]])
            if not groups.size:
                break
            # The first firing that skips packets: drop them, settle everything up to the end of
            # its cooldown and evaluate only these keys again.
            start, end = at[blocking[first]] + 1, skip_end[blocking[first]]
            cooling = np.cumsum(np.bincount(start, minlength=size + 1) - np.bincount(end, minlength=size + 1))
            recorded &= ~((cooling[:size] > 0) & s.is_new)
            final_before[groups] = end
            again = np.zeros(s.group_start.shape[0], dtype=bool)
            again[groups] = True
            active = again[s.group]
        positions = np.concatenate(fired) if fired else np.zeros(0, np.int64)
        order = np.argsort(positions, kind="stable")
        return (recorded & s.is_new, positions[order], _joined(fired_entries)[order],
                [_joined(parts)[order] for parts in fired_distinct])

    @staticmethod
    def _distinct(order: np.ndarray, run_id: np.ndarray, rank: np.ndarray, window_end: np.ndarray,
                  count: int) -> np.ndarray:
        """Distinct members in the window at each live position (by rank among live positions).

        An occurrence counts from its own position until the next occurrence of the same member
        or until it leaves the window, whichever comes first; those spans never overlap for one
        member, so the number of spans covering a position is the distinct count there.
        """
        start = rank[order]
        following = np.full(start.shape[0], count, dtype=np.int64)
        same = run_id[1:] == run_id[:-1]
        following[:-1][same] = start[1:][same]
        stop = np.minimum(following, window_end[start])
        return np.cumsum(np.bincount(start, minlength=count + 1) - np.bincount(stop, minlength=count + 1))[:count]

    def _start_cooldowns(self, s: _Sorted, fired: np.ndarray) -> None:
        if not fired.size:
            return
        last = np.flatnonzero(np.append(s.group[fired][1:] != s.group[fired][:-1], True))
        self._until[s.key[fired[last]]] = s.time[fired[last]] + self.rule.cooldown_us

    def _store(self, s: _Sorted, recorded: np.ndarray) -> None:
        """Append this batch's recorded packets to the log, in time order."""
        pos = np.flatnonzero(recorded)
        pos = pos[np.argsort(s.row[pos], kind="stable")]
        entries = Entries(s.key[pos], s.time[pos], [m[pos] for m in s.members])
        if self.rule.dedupe:
            entries = entries.take(_newest_of_each(entries))
        if not entries.count:
            return
        # Per key: the first new entry (it restarts `first_time` if all stored ones are stale)
        # and the newest one.
        keys, first = np.unique(entries.key, return_index=True)
        _, last_reversed = np.unique(entries.key[::-1], return_index=True)
        newest = entries.time[entries.count - 1 - last_reversed]
        oldest = entries.time[first]
        stale = self._last_time[keys] < oldest - self.rule.window_us
        self._first_time[keys[stale]] = oldest[stale]
        self._last_time[keys] = newest
        self._log.append(entries)


def _newest_of_each(entries: Entries) -> np.ndarray:
    """Indices (ascending) of the last entry of each distinct (key, members) combination."""
    parts = [*reversed(entries.members), entries.key]
    order = np.lexsort(parts)
    same_as_next = np.zeros(order.shape[0], dtype=bool)
    same_as_next[:-1] = True
    for part in parts:
        ordered = part[order]
        same_as_next[:-1] &= ordered[1:] == ordered[:-1]
    return np.sort(order[~same_as_next])


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
