import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.analysis.keytable import KeyTable


def _columns(keys: list[tuple[int, int, int]]) -> list[np.ndarray]:
    return [np.array([k[i] for k in keys], dtype=np.uint64) for i in range(3)]


def test_same_key_same_id_and_ids_dense_in_first_seen_order():
    table = KeyTable(3)
    ids = table.ids(_columns([(0, 1, 80), (0, 2, 80), (0, 1, 80), (5, 1, 80)]))
    assert ids.tolist() == [0, 1, 0, 2]
    assert table.ids(_columns([(5, 1, 80), (0, 1, 81)])).tolist() == [2, 3]
    assert table.count == 4


def test_keys_differing_only_in_the_high_half_are_distinct():
    table = KeyTable(2)
    ids = table.ids([np.array([0, 1 << 63], np.uint64), np.array([7, 7], np.uint64)])
    assert ids[0] != ids[1]


def test_growth_keeps_every_id():
    table = KeyTable(1)
    first = table.ids([np.arange(100_000, dtype=np.uint64)])
    again = table.ids([np.arange(100_000, dtype=np.uint64)[::-1]])
    assert (again == first[::-1]).all()
    assert table.count == 100_000


def test_rebuild_forgets_dropped_keys_and_renumbers_the_rest():
    table = KeyTable(1)
    table.ids([np.arange(10, dtype=np.uint64)])
    keep = np.arange(10) % 3 == 0
    remap = table.rebuild(keep)
    assert remap.tolist() == [0, -1, -1, 1, -1, -1, 2, -1, -1, 3]
    assert table.count == 4
    assert table.ids([np.array([3, 9, 0, 6], np.uint64)]).tolist() == [1, 3, 0, 2]
    assert table.ids([np.array([1], np.uint64)]).tolist() == [4]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2**64 - 1), st.integers(0, 5)),
                         max_size=60), max_size=8),
       st.integers(0, 2**32))
def test_matches_a_dict(batches, seed):
    table, reference = KeyTable(3), {}
    rng = np.random.default_rng(seed)
    for batch in batches:
        ids = table.ids(_columns(batch)) if batch else np.zeros(0, np.int64)
        for key, got in zip(batch, ids, strict=True):
            assert reference.setdefault(key, int(got)) == got
        if rng.random() < 0.3 and table.count:
            keep = rng.random(table.count) < 0.5
            remap = table.rebuild(keep)
            reference = {k: int(remap[v]) for k, v in reference.items() if remap[v] >= 0}
    assert table.count == len(reference)
