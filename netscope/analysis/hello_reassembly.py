"""A TLS ClientHello that does not fit in one TCP segment, put back together for its SNI.

Browsers that offer post-quantum key exchange (Chrome and Firefox since 2024: an X25519MLKEM768
key share is 1,216 bytes) send ClientHellos of about 1,800 bytes, which a 1,500-byte MTU cuts
into two segments; their server name may sit in either. The reference reads single segments
only and loses those names; tshark reassembles them. Here the observer hands over the first
segment of a ClientHello record it could not read whole (`start`), and then every later payload
segment of the same flow direction (`extend`), which is appended while its sequence number
follows on, until the record is complete. A gap (loss, reordering, a segment cut by the snaplen)
abandons the hello: a name is a nicety, not worth buffering a stream for.

Keys are directional packed flow keys (names.py builds them); state is a few kilobytes per
pending hello, at most MAX_PENDING of them (a batch may begin thousands), the oldest dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from netscope.analysis.tls_sni import RECORD_HEADER_LEN, ClientHello, parse_client_hello

MAX_PENDING = 8192  # hellos begun in one batch and not yet complete: about 12 MB at most
SEQ_MASK = (1 << 32) - 1


@dataclass(slots=True)
class _Pending:
    data: bytearray
    needed: int  # the whole record: header and body
    next_seq: int  # where the next segment must start
    owner: object  # what the caller files the name under (its per-flow record)
    after: tuple[int, int] = field(default=(-1, -1))  # (batch, row) of the last segment taken


class HelloReassembly:
    """ClientHello records waiting for their next segments, by directional flow key."""

    def __init__(self) -> None:
        self._pending: OrderedDict[bytes, _Pending] = OrderedDict()
        self._batch = 0

    def __bool__(self) -> bool:
        return bool(self._pending)

    @property
    def keys(self) -> list[bytes]:
        return list(self._pending)

    def next_batch(self) -> None:
        """A new batch begins: rows are counted from 0 again."""
        self._batch += 1

    def start(self, key: bytes, payload: bytes, seq: int, payload_len: int, owner: object, row: int) -> None:
        """The first segment of a ClientHello record longer than the segment (`payload` as captured)."""
        record_len = int.from_bytes(payload[3:5], "big")
        if len(payload) < payload_len:  # the segment itself was cut: the record cannot be completed
            return
        self._pending[key] = _Pending(bytearray(payload), RECORD_HEADER_LEN + record_len,
                                      (seq + payload_len) & SEQ_MASK, owner, (self._batch, row))
        self._pending.move_to_end(key)
        if len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)

    def extend(self, key: bytes, payload: bytes, seq: int, payload_len: int,
               row: int) -> tuple[object, ClientHello | None] | None:
        """A later segment of the flow direction `key`: (owner, parsed hello) once the record is
        whole (the hello None if it is malformed), else None."""
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
        return pending.owner, parse_client_hello(bytes(pending.data[:pending.needed]))
