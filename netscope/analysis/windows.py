"""Per-key sliding windows with cooldowns for one detector: state kept between batches.

What the windows hold is split by what the rules read (window_eval.py does the evaluation):

* distinct counts need only the newest occurrence of each member, so each batch stores one entry
  per (key, members) combination in the member log;
* the entry count (SYN flood) needs every entry's time, stored without members in the entry log.
  A per-key count of its entries is kept up to date as entries leave the windows, so a batch reads
  only the stored entries that leave the window *during* the batch; the older ones inside every
  window of the batch are a number. A busy key that never fires (many SYNs from few sources) thus
  costs what its batch brings, not what its window holds.

Times are integer microseconds of a clock that never goes back (see AnomalyDetector), so window
edges are exact: `t - front > window` in the reference is `t - front > window_us` here.

Idle keys are freed by time, unlike the reference (§4.3): `expire` drops entries that have left
every future window and forgets keys with neither entries nor a running cooldown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netscope.analysis.entry_log import Entries, EntryLog
from netscope.analysis.keytable import KeyTable
from netscope.analysis.window_eval import Merged, WindowRule, evaluate, merge, newest_of_each

__all__ = ["Firings", "SlidingWindows", "WindowRule", "check_spans", "seconds_to_us"]

NEVER = np.iinfo(np.int64).min
MAX_SPAN_US = 86_400 * 1_000_000  # longest window or cooldown; keeps virtual time inside int64
# Housekeeping runs every half window of packet time, and at least as often as the reference's
# (30 s, §4.3): keys then live at most 1.5 windows after their last counted packet.
CLEANUP_EVERY_US = 30 * 1_000_000


class CleanupGate:
    """Says when a cleanup is due: every half window of packet time, at most every 30 s.

    The first call only starts the clock, so a capture's first packet does not pay for a
    cleanup of nothing.
    """

    def __init__(self, window_us: int) -> None:
        self.every = min(CLEANUP_EVERY_US, window_us // 2)
        self._last: int | None = None

    def due(self, now: int) -> bool:
        if self._last is None:
            self._last = now
        if now - self._last < self.every:
            return False
        self._last = now
        return True
COMPACT_AT_LEAST = 4096  # member log growth that triggers dropping superseded occurrences


def seconds_to_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def check_spans(section: str, **seconds: float) -> None:
    """Reject windows or cooldowns longer than a day (virtual time must stay inside int64)."""
    for name, value in seconds.items():
        if not value <= MAX_SPAN_US / 1_000_000:
            raise ValueError(f"{section}.{name} must be at most 86400 (one day), got {value!r}")


@dataclass(frozen=True)
class Firings:
    index: np.ndarray  # row of the observe() input that fired, ascending
    entries: np.ndarray  # entries in the window at that row (0 if the rule does not count them)
    distinct: list[np.ndarray]  # distinct counts at that row


class SlidingWindows:
    """The windows and cooldowns of one detector, keyed by `key_width` uint64 columns."""

    def __init__(self, rule: WindowRule, key_width: int, member_columns: int) -> None:
        self.rule = rule
        self._keys = KeyTable(key_width)
        self._members = EntryLog(member_columns)
        self._entries = EntryLog(0)
        self._member_columns = member_columns
        self._members_compacted = 0  # member log size after its last rewrite
        self._gap = max(rule.window_us, rule.cooldown_us) + 1
        self._cleanup = CleanupGate(rule.window_us)
        self._horizon = NEVER  # the entry log and `_live` hold entries from this time on
        self._first_time = np.zeros(0, np.int64)  # per key id: no stored entry of the key is older
        self._last_time = np.zeros(0, np.int64)  # per key id: newest stored entry
        self._until = np.zeros(0, np.int64)  # per key id: cooldown end
        self._live = np.zeros(0, np.int64)  # per key id: entries in the entry log
        self._wanted = np.zeros(0, dtype=bool)  # per key id: scratch for log look-ups, kept all False

    @property
    def tracked_keys(self) -> int:
        return self._keys.count

    def observe(self, keys: list[np.ndarray], times: np.ndarray, members: list[np.ndarray]) -> Firings:
        """Record and evaluate one batch of counted packets (times nondecreasing, µs)."""
        if not times.shape[0]:
            return Firings(np.zeros(0, np.int64), np.zeros(0, np.int64),
                           [np.zeros(0, np.int64) for _ in self.rule.distinct])
        key_id = self._keys.ids(keys)
        self._fit_state(self._keys.count)
        times = times.astype(np.int64, copy=False)
        new = Entries(key_id, times, [np.asarray(m, np.uint64) for m in members])
        # Stored entries older than `start` are outside every window of this batch, those newer
        # than `end` inside all of them.
        start, end = int(times[0]) - self.rule.window_us, int(times[-1]) - self.rule.window_us
        self._advance(start)
        member_history, entry_history = self._history(key_id, start, end)
        merged = merge(member_history, entry_history, new, self._gap)
        stored_in_batch = np.bincount(merged.group[merged.counts_entry & ~merged.is_new],
                                      minlength=merged.group_start.shape[0])
        base = self._live[merged.key] - stored_in_batch[merged.group]
        outcome = evaluate(merged, self.rule, self._until[merged.key], base)
        if outcome.fired.size:
            self._start_cooldowns(merged.key[outcome.fired], merged.time[outcome.fired])
        self._store(merged, outcome.recorded)
        rows = merged.row[outcome.fired]
        order = np.argsort(rows, kind="stable")
        return Firings(rows[order], outcome.entries[order], [d[order] for d in outcome.distinct])

    def expire(self, now: int) -> None:
        """Free what no future packet can see, at most once per cleanup period of packet time."""
        if not self._cleanup.due(now):
            return
        cutoff = now - self.rule.window_us
        self._advance(cutoff)
        self._members.pop_before(cutoff)
        self._members_compacted = min(self._members_compacted, len(self._members))
        count = self._keys.count
        keep = (self._last_time[:count] >= cutoff) | (self._until[:count] > now)
        if keep.all():
            return
        remap = self._keys.rebuild(keep)
        self._members.renumber(remap)
        self._entries.renumber(remap)
        self._resize_state(np.flatnonzero(keep), max(2 * self._keys.count, 1024))

    def _fit_state(self, count: int) -> None:
        size = self._until.shape[0]
        if count > size:
            self._resize_state(np.arange(size), max(count, 2 * size, 1024))

    def _resize_state(self, kept: np.ndarray, size: int) -> None:
        """Per-key arrays of `size` rows, holding the rows `kept` of the old ones first."""
        def resized(old: np.ndarray, blank: int) -> np.ndarray:
            new = np.full(size, blank, dtype=old.dtype)
            new[: kept.size] = old[kept]
            return new

        self._first_time, self._last_time, self._until = (
            resized(a, NEVER) for a in (self._first_time, self._last_time, self._until))
        self._live = resized(self._live, 0)
        self._wanted = np.zeros(size, dtype=bool)

    def _advance(self, horizon: int) -> None:
        """Let entries older than `horizon` go from the entry log and from the per-key counts."""
        if horizon <= self._horizon:
            return
        self._horizon = horizon
        gone = self._entries.pop_before(horizon)
        if gone.count:
            np.subtract.at(self._live, gone.key, 1)

    def _history(self, key_id: np.ndarray, start: int, end: int) -> tuple[Entries, Entries]:
        """Stored entries of this batch's keys that its windows can see.

        Members: the newest occurrence of each (key, members) from `start` on. Entries: those in
        [start, end], the ones that leave the window during the batch.
        """
        keys = np.unique(key_id)
        keys = keys[self._last_time[keys] >= start]
        if not keys.size:
            return Entries.empty(self._member_columns), Entries.empty(0)
        self._wanted[keys] = True
        oldest = max(start, int(self._first_time[keys].min()))
        newest = int(self._last_time[keys].max())
        members = newest_of_each(self._members.gather(self._wanted, oldest, newest))
        entries = self._entries.gather(self._wanted, oldest, end) if self.rule.counts_entries else Entries.empty(0)
        self._wanted[keys] = False
        return members, entries

    def _start_cooldowns(self, key: np.ndarray, time: np.ndarray) -> None:
        """Each firing key cools down from its latest firing."""
        np.maximum.at(self._until, key, time + self.rule.cooldown_us)

    def _store(self, m: Merged, recorded: np.ndarray) -> None:
        """Append this batch's recorded packets to the logs, in time order."""
        pos = np.flatnonzero(recorded)
        if not pos.size:
            return
        pos = pos[np.argsort(m.row[pos], kind="stable")]
        entries = Entries(m.key[pos], m.time[pos], [c[pos] for c in m.members])
        if self.rule.counts_entries:
            self._entries.append(Entries(entries.key, entries.time, []))
            np.add.at(self._live, entries.key, 1)
        # Per key: the first new entry (it restarts `first_time` if all stored ones are stale)
        # and the newest one.
        keys, first = np.unique(entries.key, return_index=True)
        _, last_reversed = np.unique(entries.key[::-1], return_index=True)
        newest = entries.time[entries.count - 1 - last_reversed]
        oldest = entries.time[first]
        stale = self._last_time[keys] < oldest - self.rule.window_us
        self._first_time[keys[stale]] = oldest[stale]
        self._last_time[keys] = newest
        self._members.append(newest_of_each(entries))
        # Older occurrences of a member are dead weight for distinct counts; drop them whenever
        # the member log has doubled since it was last cleaned, so a key with few, busy members
        # is not re-read a batch at a time.
        stored = len(self._members)
        if stored >= 2 * self._members_compacted + COMPACT_AT_LEAST:
            self._members.rewrite(newest_of_each)
            self._members_compacted = len(self._members)
