"""Which worker a packet goes to: a symmetric hash of its endpoints, read straight from raw bytes.

Routing must put every packet of a flow, in both directions, on one shard, and must be cheap
enough that the reader is not the bottleneck, so it reads only what the hash needs (the link
layer decode shared with the parser, then addresses and ports) instead of parsing the batch.

Each endpoint is mixed into 64 bits on its own and the two are combined with XOR, which does
not care about order: (A, B) and (B, A) hash alike. Ports join the endpoint for IPv4 TCP/UDP
packets that carry them (not non-first fragments, which are no flow's packets anyway). IPv6
hashes addresses only: a flow's packets may or may not carry extension headers, and walking
them here would duplicate the parser; all flows of one IPv6 host pair share a shard, which
costs balance, not correctness. So do tunnels (parse/tunnels.py): the parser reports a
tunnelled packet as its inner flow's, and the two directions of an inner flow travel between
the same tunnel endpoints but with other outer ports (VXLAN's source port is a hash of the
inner packet), so UDP to or from a tunnel port hashes by address, as GRE and IP-in-IP, which
have no ports, already do. Non-IP packets go to shard 0.
"""

from __future__ import annotations

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.parse.gather import ByteReader, field
from netscope.parse.link import decode_link
from netscope.parse.tunnels import tunnel_udp_port

_MULTIPLIER_A = np.uint64(0x9E3779B97F4A7C15)
_MULTIPLIER_B = np.uint64(0xBF58476D1CE4E5B9)
_MULTIPLIER_C = np.uint64(0x94D049BB133111EB)
_SHIFT = np.uint64(31)
_PROTO_TCP, _PROTO_UDP = 6, 17


def _mix(value: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (uint64 wraps, as wanted)."""
    value = (value ^ (value >> _SHIFT)) * _MULTIPLIER_B
    value = (value ^ (value >> _SHIFT)) * _MULTIPLIER_C
    return value ^ (value >> _SHIFT)


def endpoint_hash(hi: np.ndarray, lo: np.ndarray, port: np.ndarray) -> np.ndarray:
    """One endpoint (address as two uint64 halves, port) as a 64-bit hash."""
    return _mix(_mix(hi.astype(np.uint64) * _MULTIPLIER_A + lo.astype(np.uint64)) + port.astype(np.uint64))


def shard_of_endpoints(a_hash: np.ndarray, b_hash: np.ndarray, shards: int) -> np.ndarray:
    """Shard per packet from its two endpoint hashes; the same whichever side is the source."""
    return (_mix(a_hash ^ b_hash) % np.uint64(shards)).astype(np.uint8)


def shard_ids(raw: RawBatch, shards: int) -> np.ndarray:
    """The shard (0..shards-1) of every packet of `raw`, as uint8."""
    n = raw.count
    if shards <= 1 or n == 0:
        return np.zeros(n, np.uint8)
    reader = ByteReader(raw.data)
    link = decode_link(raw, reader)
    at = raw.offset + link.l3_offset
    zero = np.zeros(n, np.int64)
    src_hi, src_lo, dst_hi, dst_lo = zero.copy(), zero.copy(), zero.copy(), zero.copy()
    src_port, dst_port = zero.copy(), zero.copy()

    v4 = np.flatnonzero((link.ip_version == 4) & (raw.caplen >= link.l3_offset + 20))
    if v4.size:
        header = reader.block(at[v4], 3)  # the 20-byte header (and 4 more) in one gather
        src_lo[v4] = field(header, 12, 4)
        dst_lo[v4] = field(header, 16, 4)
        flags_and_fragment = field(header, 6, 2)
        proto = field(header, 9, 1)
        header_len = (field(header, 0, 1).astype(np.int64) & 0x0F) * 4
        has_ports = (((proto == _PROTO_TCP) | (proto == _PROTO_UDP)) & ((flags_and_fragment & 0x1FFF) == 0)
                     & (raw.caplen[v4] >= link.l3_offset[v4] + header_len + 4))
        with_ports = v4[has_ports]
        ports = reader.u32(at[with_ports] + header_len[has_ports])
        src_port[with_ports] = ports >> 16
        dst_port[with_ports] = ports & 0xFFFF
        udp = proto[has_ports] == _PROTO_UDP
        tunnel = with_ports[udp & tunnel_udp_port(src_port[with_ports], dst_port[with_ports])]
        src_port[tunnel] = dst_port[tunnel] = 0

    v6 = np.flatnonzero((link.ip_version == 6) & (raw.caplen >= link.l3_offset + 40))
    if v6.size:
        src_hi[v6], src_lo[v6], dst_hi[v6], dst_lo[v6] = reader.words(at[v6], 4, 8)

    shard = shard_of_endpoints(endpoint_hash(src_hi, src_lo, src_port), endpoint_hash(dst_hi, dst_lo, dst_port),
                               shards)
    shard[(link.ip_version != 4) & (link.ip_version != 6)] = 0
    return shard
