"""The predicted record index, on synthetic files whose every length is known in advance."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netscope.capture.offline import FileSource
from netscope.capture.pcapfile import PcapIndex, sniff_format

# --- writers -----------------------------------------------------------------------------


def pcap_file(order: str, packets: list[tuple[int, int]], nanosecond: bool = False) -> bytes:
    """Classic pcap with one record per (caplen, wirelen); packet bytes are a counter pattern."""
    magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
    out = bytearray(struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1))
    for i, (caplen, wirelen) in enumerate(packets):
        out += struct.pack(order + "IIII", 1_700_000_000 + i, i, caplen, wirelen) + bytes(caplen)
    return bytes(out)


def pcapng_block(order: str, block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def _comment(order: str, length: int) -> bytes:
    value = b"c" * length
    return struct.pack(order + "HH", 1, length) + value + bytes(-length % 4) + struct.pack(order + "HH", 0, 0)


def pcapng_file(order: str, items: list[tuple]) -> tuple[bytes, list[int], list[int]]:
    """pcapng from items ("epb", caplen, wirelen, comment_len|None), ("spb", len), ("isb",),
    ("unknown", words); returns the bytes and the caplen/wirelen libpcap should report."""
    out = bytearray(pcapng_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)))
    out += pcapng_block(order, 1, struct.pack(order + "HHI", 1, 0, 0))
    caplens, wirelens = [], []
    for n, item in enumerate(items):
        if item[0] == "epb":
            _, caplen, wirelen, comment = item
            body = struct.pack(order + "IIIII", 0, 0, n, caplen, wirelen) + bytes(caplen) + bytes(-caplen % 4)
            out += pcapng_block(order, 6, body + (b"" if comment is None else _comment(order, comment)))
            caplens.append(caplen)
            wirelens.append(wirelen)
        elif item[0] == "spb":
            out += pcapng_block(order, 3, struct.pack(order + "I", item[1]) + bytes(item[1]))
            caplens.append(item[1])
            wirelens.append(item[1])
        elif item[0] == "isb":
            out += pcapng_block(order, 5, struct.pack(order + "III", 0, 0, n))
        else:
            out += pcapng_block(order, 0x0BAD, bytes(4 * item[1]))
    return bytes(out), caplens, wirelens


def read_lengths(path: Path, batch_packets: int) -> tuple[np.ndarray, np.ndarray, int]:
    with FileSource(path, batch_packets=batch_packets) as source:
        batches = list(source.batches())
        estimated = source.wirelen_estimated
    empty = np.zeros(0, np.int64)
    caplen = np.concatenate([b.caplen for b in batches]) if batches else empty
    wirelen = np.concatenate([b.wirelen for b in batches]) if batches else empty
    return caplen, wirelen, estimated


# --- properties --------------------------------------------------------------------------

orders = st.sampled_from("<>")
lengths = st.integers(0, 200).flatmap(lambda c: st.tuples(st.just(c), st.integers(c, c + 1500)))
pcapng_items = st.one_of(
    st.tuples(st.just("epb"), st.integers(0, 200), st.integers(0, 1500),
              st.one_of(st.none(), st.integers(1, 40))).map(lambda t: ("epb", t[1], t[1] + t[2], t[3])),
    st.tuples(st.just("spb"), st.integers(1, 120)),
    st.tuples(st.just("isb")),
    st.tuples(st.just("unknown"), st.integers(0, 8)),
)
file_settings = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@file_settings
@given(order=orders, packets=st.lists(lengths, max_size=120), nanosecond=st.booleans(),
       batch_packets=st.integers(1, 64))
def test_pcap_wire_lengths_match_the_file(tmp_path, order, packets, nanosecond, batch_packets):
    path = tmp_path / "synthetic.pcap"
    path.write_bytes(pcap_file(order, packets, nanosecond))
    caplen, wirelen, estimated = read_lengths(path, batch_packets)
    assert caplen.tolist() == [c for c, _ in packets]
    assert wirelen.tolist() == [w for _, w in packets]
    assert estimated == 0


@file_settings
@given(order=orders, items=st.lists(pcapng_items, max_size=120), batch_packets=st.integers(1, 64))
def test_pcapng_wire_lengths_match_the_file(tmp_path, order, items, batch_packets):
    data, caplens, wirelens = pcapng_file(order, items)
    path = tmp_path / "synthetic.pcapng"
    path.write_bytes(data)
    caplen, wirelen, estimated = read_lengths(path, batch_packets)
    assert caplen.tolist() == caplens
    assert wirelen.tolist() == wirelens
    assert estimated == 0


# --- pieces ------------------------------------------------------------------------------


def test_sniff_format():
    assert sniff_format(pcap_file(">", [])).kind == "pcap"
    assert sniff_format(pcap_file("<", [], nanosecond=True)).snaplen == 65535
    ng = sniff_format(pcapng_file(">", [])[0])
    assert (ng.kind, ng.byte_order, ng.snaplen) == ("pcapng", ">", 0)
    assert sniff_format(b"hello world, this is not a capture") is None


def test_index_gives_up_when_libpcap_and_file_disagree():
    view = np.frombuffer(pcap_file("<", [(10, 60), (20, 80)]), np.uint8)
    index = PcapIndex(view, 24, "<")
    np.testing.assert_array_equal(index.wire_lengths(np.array([10], np.int64)), [60])
    assert index.wire_lengths(np.array([30], np.int64)) is None  # longer than the record holds


def test_index_stops_at_end_of_file():
    view = np.frombuffer(pcap_file("<", [(10, 60)]), np.uint8)
    index = PcapIndex(view, 24, "<")
    assert index.wire_lengths(np.array([10, 10], np.int64)) is None
