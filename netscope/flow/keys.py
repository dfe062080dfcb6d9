"""Canonical bidirectional flow keys (reference §3.2) packed into uint64 words.

A key is `(proto, endpoint A, endpoint B)` with A the smaller endpoint by (ip version,
16-byte address, port). IPv4 keys take 2 words, IPv6 keys 5; everything above this module
is written once against `KeyLayout` and never looks at the width. The words are laid out
so that comparing them word by word orders keys by (a address, b address, proto, a port,
b port): that gives top-N and exports a tie order that does not depend on table rows.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np

from netscope.parse.columns import PROTO_TCP, PROTO_UDP

U64 = np.uint64
_LOW32 = U64(0xFFFFFFFF)
_PROTO_BY_NAME = {"tcp": PROTO_TCP, "udp": PROTO_UDP}


@dataclass(frozen=True)
class KeyLayout:
    """How one IP version's keys are packed: address words, then one proto/ports word."""

    version: int
    words: int

    def pack(self, a_hi: np.ndarray, a_lo: np.ndarray, b_hi: np.ndarray, b_lo: np.ndarray,
             proto: np.ndarray, a_port: np.ndarray, b_port: np.ndarray) -> np.ndarray:
        """(n, words) uint64 keys from canonical endpoint columns."""
        out = np.empty((a_lo.shape[0], self.words), dtype=U64)
        if self.version == 4:
            out[:, 0] = ((a_lo.astype(U64) & _LOW32) << U64(32)) | (b_lo.astype(U64) & _LOW32)
        else:
            out[:, 0], out[:, 1], out[:, 2], out[:, 3] = a_hi, a_lo, b_hi, b_lo
        out[:, -1] = ((proto.astype(U64) << U64(32)) | (a_port.astype(U64) << U64(16))
                      | b_port.astype(U64))
        return out

    def unpack(self, keys: np.ndarray) -> dict[str, np.ndarray]:
        """FlowColumns' key fields from packed keys."""
        n = keys.shape[0]
        if self.version == 4:
            a_hi = b_hi = np.zeros(n, dtype=U64)
            a_lo, b_lo = keys[:, 0] >> U64(32), keys[:, 0] & _LOW32
        else:
            a_hi, a_lo, b_hi, b_lo = (keys[:, i].copy() for i in range(4))
        tail = keys[:, -1]
        return {
            "proto": ((tail >> U64(32)) & U64(0xFF)).astype(np.uint8),
            "ip_version": np.full(n, self.version, dtype=np.uint8),
            "a_hi": a_hi, "a_lo": a_lo, "b_hi": b_hi, "b_lo": b_lo,
            "a_port": ((tail >> U64(16)) & U64(0xFFFF)).astype(np.uint16),
            "b_port": (tail & U64(0xFFFF)).astype(np.uint16),
        }

    @staticmethod
    def proto_of(keys: np.ndarray) -> np.ndarray:
        return ((keys[:, -1] >> U64(32)) & U64(0xFF)).astype(np.uint8)


V4 = KeyLayout(version=4, words=2)
V6 = KeyLayout(version=6, words=5)
LAYOUTS = (V4, V6)


def a_to_b(src_hi: np.ndarray, src_lo: np.ndarray, src_port: np.ndarray,
           dst_hi: np.ndarray, dst_lo: np.ndarray, dst_port: np.ndarray) -> np.ndarray:
    """True where the packet goes from endpoint A to B: src <= dst by (address, port).

    Both endpoints of a packet share its IP version, so the version never decides here.
    """
    return (src_hi < dst_hi) | (
        (src_hi == dst_hi) & ((src_lo < dst_lo) | ((src_lo == dst_lo) & (src_port <= dst_port))))


_SEED = U64(0x9E3779B97F4A7C15)
_MUL_WORD = U64(0xFF51AFD7ED558CCD)
_MUL_FINAL = U64(0xC4CEB9FE1A85EC53)


def hash_keys(keys: np.ndarray) -> np.ndarray:
    """64-bit hash of each packed key (multiply-xorshift per word, murmur-style finaliser)."""
    h = np.full(keys.shape[0], _SEED, dtype=U64)
    for word in range(keys.shape[1]):
        h ^= keys[:, word]
        h *= _MUL_WORD
        h ^= h >> U64(33)
    h *= _MUL_FINAL
    h ^= h >> U64(29)
    return h


def as_records(keys: np.ndarray) -> np.ndarray:
    """A 1-D view with one opaque element per key: numpy gathers and scatters whole keys of
    this view several times faster than rows of the (n, words) array."""
    return np.ascontiguousarray(keys).view(np.dtype((np.void, keys.shape[1] * 8))).ravel()


def words_of(records: np.ndarray) -> np.ndarray:
    """The (n, words) uint64 array behind a record view."""
    return records.view(U64).reshape(records.shape[0], records.dtype.itemsize // 8)


def same_keys(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Elementwise key equality of two record views (word by word: cheaper than void ==)."""
    a, b = words_of(left), words_of(right)
    equal = a[:, 0] == b[:, 0]
    for word in range(1, a.shape[1]):
        equal &= a[:, word] == b[:, word]
    return equal


def _address_halves(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[int, int]:
    value = int(address)
    return value >> 64, value & 0xFFFFFFFFFFFFFFFF


def key_from_text(proto: str | int, a_ip: str, a_port: int, b_ip: str,
                  b_port: int) -> tuple[KeyLayout, np.ndarray] | None:
    """The packed key of a flow named the way FlowRow.key names it; None if it cannot exist.

    The endpoints may come in either order: they are put in canonical order here.
    """
    number = _PROTO_BY_NAME.get(proto) if isinstance(proto, str) else int(proto)
    try:
        a, b = ipaddress.ip_address(a_ip), ipaddress.ip_address(b_ip)
    except ValueError:
        return None
    if number is None or a.version != b.version:
        return None
    (a_hi, a_lo), (b_hi, b_lo) = _address_halves(a), _address_halves(b)
    if (b_hi, b_lo, b_port) < (a_hi, a_lo, a_port):
        a_hi, a_lo, a_port, b_hi, b_lo, b_port = b_hi, b_lo, b_port, a_hi, a_lo, a_port
    layout = V4 if a.version == 4 else V6

    def column(value: int, dtype: type) -> np.ndarray:
        return np.array([value], dtype=dtype)

    return layout, layout.pack(column(a_hi, U64), column(a_lo, U64), column(b_hi, U64), column(b_lo, U64),
                               column(number, np.uint8), column(a_port, np.uint16), column(b_port, np.uint16))
