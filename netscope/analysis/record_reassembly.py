"""Records that do not fit in one TCP segment, put back together for the names they carry.

Two such records matter for names. A TLS ClientHello: browsers that offer post-quantum key
exchange (Chrome and Firefox since 2024: an X25519MLKEM768 key share is 1,216 bytes) send
ClientHellos of about 1,800 bytes, which a 1,500-byte MTU cuts into two segments, the server
name in either. A DNS message over TCP: answers go over TCP because they are too big for a
datagram, so they are usually longer than one segment. The reference reads single segments
only and loses both; tshark reassembles them.

The observer hands over the first segment of a record it could not read whole (`start`), then
the later payload segments of the same flow direction (`extend`), which are appended while
their sequence numbers follow on, until the record is complete. A gap (loss, reordering, a
segment cut by the snaplen) abandons the record: a name is a nicety, not worth buffering a
stream for. Keys are directional packed flow keys (names.py builds them); state is a few
kilobytes per pending record, at most MAX_PENDING of them (a batch may begin thousands), the
oldest dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

MAX_PENDING = 8192  # records begun and not yet complete: about 12 MB at most
MAX_RECORD = 1 << 16  # a DNS message's limit; a ClientHello record's is below it
SEQ_MASK = (1 << 32) - 1


@dataclass(slots=True)
class _Pending:
    data: bytearray
    needed: int  # the whole record
    next_seq: int  # where the next segment must start
    owner: object  # what the caller files the record under
    after: tuple[int, int]  # (batch, row) of the last segment taken


class RecordReassembly:
    """Records waiting for their next segments, by directional flow key."""

    def __init__(self) -> None:
        self._pending: OrderedDict[bytes, _Pending] = OrderedDict()
        self._batch = 0

    def __bool__(self) -> bool:
        return bool(self._pending)

    def continues(self, key: bytes, seq: int) -> bool:
        """Whether a segment of `key` starting at `seq` is the next one of a pending record."""
        pending = self._pending.get(key)
        return pending is not None and pending.next_seq == seq

    @property
    def keys(self) -> list[bytes]:
        return list(self._pending)

    def next_batch(self) -> None:
        """A new batch begins: rows are counted from 0 again."""
        self._batch += 1

    def start(self, key: bytes, payload: bytes, needed: int, seq: int, payload_len: int, owner: object,
              row: int) -> None:
        """The first segment (`payload`, as captured) of a record of `needed` bytes that goes on."""
        if len(payload) < payload_len or needed > MAX_RECORD:  # the segment itself was cut
            return
        self._pending[key] = _Pending(bytearray(payload), needed, (seq + payload_len) & SEQ_MASK, owner,
                                      (self._batch, row))
        self._pending.move_to_end(key)
        if len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)

    def extend(self, key: bytes, payload: bytes, seq: int, payload_len: int, row: int) -> tuple[object, bytes] | None:
        """A later segment of the flow direction `key`: (owner, record) once the record is whole, else None."""
        pending = self._pending.get(key)
        if pending is None or pending.after >= (self._batch, row):
            return None
        if seq != pending.next_seq or len(payload) < payload_len:
            del self._pending[key]  # a gap or a cut segment: give up on this one
            return None
        pending.data += payload
        pending.next_seq = (seq + payload_len) & SEQ_MASK
        pending.after = (self._batch, row)
        if len(pending.data) < pending.needed:
            return None
        del self._pending[key]
        return pending.owner, bytes(pending.data[:pending.needed])
