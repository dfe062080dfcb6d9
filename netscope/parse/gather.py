"""Big-endian field reads at per-packet positions of one batch buffer, and branch-free column helpers."""

from __future__ import annotations

import numpy as np

WORD = 8
MAX_WORDS = 8  # the longest read in one go: a link header's EtherType and the 40-byte IP header after it
_MAX_WIDTH = WORD * MAX_WORDS


class ByteReader:
    """Reads big-endian integers at arbitrary absolute positions of a batch buffer, as int64.

    The buffer is viewed as overlapping unaligned records with a one-byte stride, so reading a
    whole header at every packet's position is a single fancy-index pass. That pass costs about the
    same for 2 bytes as for 40 (numpy's per-element overhead dominates), so callers read a header
    in one go with `words` and slice fields out of it, instead of one gather per field.

    Bytes past the end of the buffer read as zero, so a field is exact whenever it lies inside
    its packet; bytes past a packet's end belong to the next packet, and callers trust a field
    only when their own length checks put it inside the packet. Never raises on any position >= 0.
    """

    __slots__ = ("_records", "_tail_records", "_tail_start")

    def __init__(self, data: np.ndarray) -> None:
        buffer = np.ascontiguousarray(data, dtype=np.uint8)
        if buffer.size < _MAX_WIDTH:
            buffer = np.concatenate([buffer, np.zeros(_MAX_WIDTH, dtype=np.uint8)])
        # Reads that would run past the buffer end are served from a zero-padded copy of its tail.
        self._tail_start = buffer.size - _MAX_WIDTH
        tail = np.concatenate([buffer[self._tail_start:], np.zeros(_MAX_WIDTH, dtype=np.uint8)])
        self._records = _record_views(buffer)
        self._tail_records = _record_views(tail)

    def _gather(self, dtype: str, at: np.ndarray, skip: int) -> np.ndarray:
        records = self._records[dtype]
        index = at + skip
        limit = records.size - 1
        if index.size == 0 or index.max() <= limit:
            return records[index]
        past_end = np.flatnonzero(index > limit)
        tail_index = index[past_end] - self._tail_start
        np.minimum(index, limit, out=index)
        values = records[index]
        tail_records = self._tail_records[dtype]
        values[past_end] = tail_records[np.minimum(tail_index, tail_records.size - 1)]
        return values

    # Integers are gathered as raw records and only then viewed as big-endian: numpy's gather of
    # an unaligned non-native integer view takes a slow path, twice the time of a record copy.

    def u8(self, at: np.ndarray, skip: int = 0) -> np.ndarray:
        return self._gather("u1", at, skip).astype(np.int64)

    def u16(self, at: np.ndarray, skip: int = 0) -> np.ndarray:
        return self._gather("V2", at, skip).view(">u2").astype(np.int64)

    def u32(self, at: np.ndarray, skip: int = 0) -> np.ndarray:
        return self._gather("V4", at, skip).view(">u4").astype(np.int64)

    def block(self, at: np.ndarray, count: int, skip: int = 0) -> np.ndarray:
        """The `count` * 8 bytes from each position, as an (n, count * 8) uint8 array.

        Fields come out of it with `field`, straight into their own narrow dtype: cheaper than
        widening whole words to int64 and masking them when the field is all a caller wants.
        """
        return self._gather(f"V{WORD * count}", at, skip).view(np.uint8).reshape(-1, WORD * count)

    def words(self, at: np.ndarray, count: int, skip: int = 0) -> list[np.ndarray]:
        """`count` consecutive 8-byte big-endian words from each position, as int64 bit patterns.

        A word may come out negative; extract fields from it with `bits`.
        """
        records = self._gather(f"V{WORD * count}", at, skip).view(">i8").reshape(-1, count)
        return [records[:, k].astype(np.int64) for k in range(count)]


def _record_views(buffer: np.ndarray) -> dict[str, np.ndarray]:
    """Overlapping views of `buffer`: element i of each starts at byte i."""
    dtypes = ["u1", "V2", "V4"] + [f"V{WORD * count}" for count in range(1, MAX_WORDS + 1)]
    return {
        dtype: np.ndarray((buffer.size - np.dtype(dtype).itemsize + 1,), dtype=dtype, buffer=buffer,
                          strides=(1,))
        for dtype in dtypes
    }


_FIELD_DTYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32}


def field(block: np.ndarray, start: int, size: int) -> np.ndarray:
    """The big-endian unsigned `size`-byte field at byte `start` of every row of a `ByteReader.block`."""
    if size == 1:
        return block[:, start].copy()
    return block[:, start:start + size].view(f">u{size}").reshape(-1).astype(_FIELD_DTYPES[size])


def block_words(block: np.ndarray, first: int, count: int) -> list[np.ndarray]:
    """Words `first`..`first + count - 1` (8 bytes each) of every row of a block, as int64 bit patterns."""
    records = block[:, WORD * first:WORD * (first + count)].view(">i8")
    return [records[:, k].astype(np.int64) for k in range(count)]


# Large temporaries are much of what a numpy pass costs (fresh pages from the allocator), so the
# helpers below work in place on the one array they allocate.

def bits(word: np.ndarray, shift: int, width: int) -> np.ndarray:
    """The `width`-bit field starting `shift` bits above the least significant bit of `word`."""
    field = np.right_shift(word, shift)
    field &= (1 << width) - 1
    return field


def pick(mask: np.ndarray, if_true: np.ndarray, if_false: np.ndarray | int = 0) -> np.ndarray:
    """Branch-free `np.where` for int64 columns.

    Masks such as "is IPv4" or "is TCP" alternate unpredictably along a batch of interleaved
    traffic, and `np.where` then pays a branch misprediction per element (about 4x slower than
    this multiply-add on a mixed batch).
    """
    chosen = np.subtract(if_true, if_false)
    chosen *= mask
    chosen += if_false
    return chosen
