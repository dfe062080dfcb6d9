"""Routing puts both directions of a flow on one shard, for IPv4 and IPv6, on any link the parser knows."""

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.capture.batch import RawBatch
from netscope.parse.batch_parser import parse_batch
from netscope.pipeline.routing import shard_ids

ETH_V4 = b"\x00" * 12 + b"\x08\x00"
ETH_V6 = b"\x00" * 12 + b"\x86\xdd"


def ipv4(src: int, dst: int, proto: int, sport: int, dport: int) -> bytes:
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, proto, 0, src.to_bytes(4, "big"),
                         dst.to_bytes(4, "big"))
    return ETH_V4 + header + struct.pack(">HH", sport, dport) + b"\x00" * 16


def ipv6(src: int, dst: int, proto: int, sport: int, dport: int) -> bytes:
    header = struct.pack(">IHBB16s16s", 6 << 28, 20, proto, 64, src.to_bytes(16, "big"), dst.to_bytes(16, "big"))
    return ETH_V6 + header + struct.pack(">HH", sport, dport) + b"\x00" * 16


endpoint4 = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 65535))
endpoint6 = st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 65535))


def both_directions(build, a, b, proto) -> RawBatch:
    packets = [build(a[0], b[0], proto, a[1], b[1]), build(b[0], a[0], proto, b[1], a[1])]
    return RawBatch.from_packets(packets, [1, 2], linktype=1)


@settings(max_examples=200, deadline=None)
@given(a=endpoint4, b=endpoint4, proto=st.sampled_from([6, 17]), shards=st.integers(2, 8))
def test_ipv4_directions_share_a_shard(a, b, proto, shards):
    ids = shard_ids(both_directions(ipv4, a, b, proto), shards)
    assert ids[0] == ids[1] < shards


@settings(max_examples=200, deadline=None)
@given(a=endpoint6, b=endpoint6, proto=st.sampled_from([6, 17]), shards=st.integers(2, 8))
def test_ipv6_directions_share_a_shard(a, b, proto, shards):
    ids = shard_ids(both_directions(ipv6, a, b, proto), shards)
    assert ids[0] == ids[1] < shards


def test_every_packet_of_a_flow_lands_on_its_shard_in_the_sample(sample_pcap):
    from netscope.capture.offline import FileSource

    with FileSource(sample_pcap) as source:
        raw = next(iter(source.batches()))
    ids = shard_ids(raw, 3)
    parsed = parse_batch(raw)
    flows = np.flatnonzero(parsed.flow_mask())
    a = np.minimum(parsed.src_lo[flows], parsed.dst_lo[flows])
    b = np.maximum(parsed.src_lo[flows], parsed.dst_lo[flows])
    shard_of_pair = {}
    for i, left, right in zip(flows.tolist(), a.tolist(), b.tolist(), strict=True):
        key = (int(parsed.ip_version[i]), left, right, int(parsed.ip_proto[i]),
               frozenset((int(parsed.src_port[i]), int(parsed.dst_port[i]))))
        assert shard_of_pair.setdefault(key, int(ids[i])) == int(ids[i])
    assert len(set(shard_of_pair.values())) == 3, "the sample's flows spread over every shard"


def test_one_shard_or_empty_batch_is_all_zero():
    raw = both_directions(ipv4, (1, 2), (3, 4), 6)
    assert shard_ids(raw, 1).tolist() == [0, 0]
    assert shard_ids(raw.slice(0, 0), 4).shape == (0,)
