"""ByteReader reads and the branch-free column helpers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.parse.gather import MAX_WORDS, ByteReader, bits, pick


def expected_word(data: bytes, at: int, width: int) -> int:
    """Big-endian value of `width` bytes at `at`, zero past the end of `data`."""
    return int.from_bytes((data[at:at + width] + bytes(width))[:width], "big")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100), st.lists(st.integers(0, 120), max_size=20), st.integers(1, MAX_WORDS))
def test_reads_match_python_with_zeros_past_the_end(data: bytes, positions: list[int], count: int) -> None:
    reader = ByteReader(np.frombuffer(data, dtype=np.uint8))
    at = np.array(positions, dtype=np.int64)
    words = reader.words(at, count)
    for k, word in enumerate(words):
        expected = [expected_word(data, p + 8 * k, 8) for p in positions]
        assert word.dtype == np.int64
        assert word.view(np.uint64).tolist() == expected
    for width, read in ((1, reader.u8), (2, reader.u16), (4, reader.u32)):
        assert read(at, 3).tolist() == [expected_word(data, p + 3, width) for p in positions]


def test_positions_are_not_modified() -> None:
    reader = ByteReader(np.arange(50, dtype=np.uint8))
    at = np.array([1, 49], dtype=np.int64)
    reader.words(at, 2, skip=4)
    reader.u16(at, 7)
    assert at.tolist() == [1, 49]


def test_bits_extracts_fields_of_negative_words() -> None:
    word = np.array([-1, 0x0123456789ABCDEF], dtype=np.int64)
    assert bits(word, 60, 4).tolist() == [15, 0]
    assert bits(word, 0, 32).tolist() == [0xFFFFFFFF, 0x89ABCDEF]
    assert bits(word, 32, 16).tolist() == [0xFFFF, 0x4567]


def test_pick_is_where() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random(1000) < 0.5
    a, b = rng.integers(-2**62, 2**62, 1000), rng.integers(-2**62, 2**62, 1000)
    assert (pick(mask, a, b) == np.where(mask, a, b)).all()
    assert (pick(mask, a) == np.where(mask, a, 0)).all()
    assert (pick(mask, a, -1) == np.where(mask, a, -1)).all()
