"""The open-addressing index: batch probe/insert, duplicates, collisions, tombstones, rebuild."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.flow.hashindex import MIN_SLOTS, TOMBSTONE, HashIndex, slots_for
from netscope.flow.keys import as_records


class Store:
    """Keys by row, plus the claim callback a table would give the index."""

    def __init__(self, capacity: int = 4096) -> None:
        self.words = np.zeros((capacity, 2), np.uint64)
        self.records = as_records(self.words)
        self.used = 0

    def claim(self, queries: np.ndarray):
        def allocate(picked: np.ndarray) -> np.ndarray:
            rows = np.arange(self.used, self.used + picked.shape[0])
            self.used += picked.shape[0]
            self.records[rows] = queries[picked]
            return rows
        return allocate


def keys_of(values: list[int]) -> np.ndarray:
    words = np.zeros((len(values), 2), np.uint64)
    words[:, 0] = values
    words[:, 1] = [v * 7 + 1 for v in values]
    return as_records(words)


def colliding(count: int, buckets: int = 1) -> np.ndarray:
    """Hashes that send every key into `buckets` neighbouring slots: long probe chains."""
    return (np.arange(count, dtype=np.uint64) % np.uint64(buckets)) + np.uint64(MIN_SLOTS - 3)


def test_slot_count_keeps_load_below_the_limit():
    assert slots_for(1) == MIN_SLOTS
    assert slots_for(1_250_000) == 1 << 21
    assert slots_for(614) == 1024 and slots_for(615) == 2048


def test_insert_then_find_with_every_key_colliding():
    index, store = HashIndex(MIN_SLOTS), Store()
    keys = keys_of(list(range(100)))
    hashes = colliding(100)
    rows = index.probe(hashes, keys, store.records, claim=store.claim(keys))
    assert sorted(rows.tolist()) == list(range(100))
    assert np.array_equal(index.probe(hashes, keys, store.records), rows)
    assert index.live == 100
    # The chain wraps around the end of the slot array.
    assert (index.slots[:50] > 0).any()


def test_many_colliding_keys_use_single_slots_then_windows():
    """More keys than WIDE_BELOW, in runs longer than WINDOW, some of them twice."""
    index, store = HashIndex(1 << 13), Store(capacity=8192)
    values = [*range(3000), *range(0, 3000, 7)]
    keys = keys_of(values)
    hashes = np.array([(v % 40) * 100 for v in values], np.uint64)
    rows = index.probe(hashes, keys, store.records, claim=store.claim(keys))
    assert index.live == store.used == 3000
    assert np.array_equal(rows[3000:], rows[:3000:7])
    assert np.array_equal(index.probe(hashes, keys, store.records), rows)


def test_equal_new_keys_in_one_call_get_one_row():
    index, store = HashIndex(MIN_SLOTS), Store()
    keys = keys_of([5, 9, 5, 5, 9, 11])
    hashes = colliding(6, buckets=2)[[0, 1, 0, 0, 1, 0]]
    rows = index.probe(hashes, keys, store.records, claim=store.claim(keys))
    assert rows[0] == rows[2] == rows[3] and rows[1] == rows[4]
    assert len({rows[0], rows[1], rows[5]}) == 3
    assert store.used == index.live == 3


def test_absent_keys_are_minus_one_without_claim():
    index, store = HashIndex(MIN_SLOTS), Store()
    keys = keys_of([1, 2, 3])
    index.probe(colliding(3), keys, store.records, claim=store.claim(keys))
    other = keys_of([4, 2])
    assert index.probe(colliding(2), other, store.records).tolist() == [-1, 1]


def chain_order(index: HashIndex, rows: np.ndarray, start: int = MIN_SLOTS - 3) -> np.ndarray:
    """Indices into `rows` in the order their entries sit along the probe chain from `start`."""
    slot_of = {int(index.slots[(start + i) % index.size]) - 1: i for i in range(rows.shape[0])}
    return np.argsort([slot_of[int(r)] for r in rows])


def test_remove_leaves_tombstones_that_inserts_reuse():
    index, store = HashIndex(MIN_SLOTS), Store()
    keys = keys_of(list(range(10)))
    hashes = colliding(10)
    rows = index.probe(hashes, keys, store.records, claim=store.claim(keys))
    head = chain_order(index, rows)[:3]
    index.remove(hashes[head], rows[head])
    assert (index.slots == TOMBSTONE).sum() == 3 and index.live == 7 and index.tombstones == 3
    # Keys behind the tombstones are still found, removed ones are not.
    expected = rows.copy()
    expected[head] = -1
    assert np.array_equal(index.probe(hashes, keys, store.records), expected)
    fresh = keys_of([100, 101])
    index.probe(colliding(2), fresh, store.records, claim=store.claim(fresh))
    # Both want the first tombstone; the one that loses it goes on to the empty slot after the run.
    assert index.tombstones == 2 and index.live == 9
    assert (index.slots == TOMBSTONE).sum() == 2
    assert index.probe(colliding(2), fresh, store.records).min() >= 0


def test_deleting_the_end_of_a_chain_leaves_no_tombstones():
    index, store = HashIndex(MIN_SLOTS), Store()
    keys = keys_of(list(range(10)))
    hashes = colliding(10)
    rows = index.probe(hashes, keys, store.records, claim=store.claim(keys))
    chain = chain_order(index, rows)
    index.remove(hashes[chain[[4, 6]]], rows[chain[[4, 6]]])  # inside the run: tombstones
    assert index.tombstones == 2
    tail = chain[7:]
    index.remove(hashes[tail], rows[tail])  # the end of the run: empty again, the tombstone at 6 too
    assert index.tombstones == 1 and (index.slots == TOMBSTONE).sum() == 1 and index.live == 5
    expected = rows.copy()
    expected[chain[[4, 6, 7, 8, 9]]] = -1
    assert np.array_equal(index.probe(hashes, keys, store.records), expected)


def test_rebuild_drops_tombstones_and_can_grow():
    index, store = HashIndex(MIN_SLOTS), Store()
    keys = keys_of(list(range(300)))
    hashes = colliding(300, buckets=7)
    rows = index.probe(hashes, keys, store.records, claim=store.claim(keys))
    index.remove(hashes[::2], rows[::2])
    index.clear(2 * MIN_SLOTS)
    index.place(hashes[1::2], rows[1::2], store.records)
    assert index.size == 2 * MIN_SLOTS and index.tombstones == 0 and index.live == 150
    assert np.array_equal(index.probe(hashes[1::2], keys[1::2], store.records), rows[1::2])
    assert (index.probe(hashes[::2], keys[::2], store.records) == -1).all()


operations = st.lists(st.tuples(st.sampled_from(["insert", "remove"]),
                                st.lists(st.integers(0, 40), min_size=1, max_size=30)), max_size=25)


@settings(max_examples=150, deadline=None)
@given(operations, st.integers(1, 5))
def test_index_agrees_with_a_dict(ops, buckets):
    """Random inserts/removals of keys hashed into a few slots, against a plain dict."""
    index, store = HashIndex(MIN_SLOTS), Store()
    expected: dict[int, int] = {}

    def hashes_of(values):
        return np.array([MIN_SLOTS - 2 + v % buckets for v in values], np.uint64)

    for op, values in ops:
        keys = keys_of(values)
        if op == "insert":
            rows = index.probe(hashes_of(values), keys, store.records, claim=store.claim(keys))
            for value, row in zip(values, rows.tolist(), strict=True):
                assert expected.setdefault(value, row) == row
        else:
            present = sorted({v for v in values if v in expected})
            index.remove(hashes_of(present), np.array([expected.pop(v) for v in present], np.int64))
        assert index.live == len(expected)
        assert index.tombstones == (index.slots == TOMBSTONE).sum()
        every = list(range(41))
        found = index.probe(hashes_of(every), keys_of(every), store.records).tolist()
        assert found == [expected.get(v, -1) for v in every]
