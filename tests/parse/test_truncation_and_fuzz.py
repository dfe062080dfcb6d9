"""Cut frames get the status of the layer that was cut; arbitrary bytes never make the parser raise."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.capture.batch import RawBatch
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import PROTO_TCP, ParsedBatch, Status

from .frames import SUPPORTED_LINKS, blank_fields, frames, row_fields, status_after_cut

DTYPES = {
    "ts_us": np.int64, "wirelen": np.int64, "caplen": np.int64, "status": np.uint8, "ip_version": np.uint8,
    "ip_proto": np.uint8, "src_hi": np.uint64, "src_lo": np.uint64, "dst_hi": np.uint64, "dst_lo": np.uint64,
    "src_port": np.uint16, "dst_port": np.uint16, "has_l4": np.bool_, "tcp_flags": np.uint8,
    "tcp_seq": np.uint32, "tcp_ack": np.uint32, "tcp_window": np.uint16, "payload_len": np.int64,
    "icmp_type": np.uint8, "icmp_code": np.uint8, "vlan_id": np.uint16, "l3_offset": np.int64,
    "l4_offset": np.int64,
}
IP_READ = (Status.OK, Status.TRUNCATED_L4, Status.FRAGMENT)
TRANSPORT_COLUMNS = ("src_port", "dst_port", "tcp_flags", "tcp_seq", "tcp_ack", "tcp_window", "payload_len",
                     "icmp_type", "icmp_code")


@st.composite
def cut_batches(draw: st.DrawFn) -> tuple[int, list, list[int]]:
    linktype = draw(st.sampled_from(SUPPORTED_LINKS))
    built = draw(st.lists(frames(linktype), min_size=1, max_size=8))
    return linktype, built, [draw(st.integers(0, len(frame.data))) for frame in built]


@settings(max_examples=200, deadline=None)
@given(cut_batches())
def test_a_cut_frame_gets_the_status_of_the_layer_that_was_cut(batch: tuple[int, list, list[int]]) -> None:
    linktype, built, cuts = batch
    whole = parse_batch(RawBatch.from_packets([f.data for f in built], [0] * len(built), linktype))
    cut = parse_batch(RawBatch.from_packets(
        [f.data[:c] for f, c in zip(built, cuts, strict=True)], [0] * len(built), linktype, [len(f.data) for f in built]
    ))
    assert_consistent(cut)
    for index, (frame, length) in enumerate(zip(built, cuts, strict=True)):
        status, proto_at_cut = status_after_cut(frame, length)
        got, full = row_fields(cut, index), row_fields(whole, index)
        assert got["status"] == status, (length, frame)
        if status not in IP_READ:
            assert {k: v for k, v in got.items() if k not in ("status", "vlan_id")} == {
                k: v for k, v in blank_fields().items() if k not in ("status", "vlan_id")}
            continue
        for name in ("ip_version", "src_hi", "src_lo", "dst_hi", "dst_lo", "l3_offset", "vlan_id"):
            assert got[name] == full[name], name
        if proto_at_cut is not None:
            assert got["ip_proto"] == proto_at_cut and not got["has_l4"]
        elif status == Status.OK:
            # Payload sizes come from the length fields, so a snaplen cut leaves every column intact,
            # but for a TCP window it cut off, which reads as 0.
            if frame.proto == PROTO_TCP and length < frame.transport_end + 2:
                full["tcp_window"] = 0
            assert got == full


def assert_consistent(parsed: ParsedBatch) -> None:
    """Cross-column invariants that hold for any input whatsoever."""
    for name, dtype in DTYPES.items():
        column = getattr(parsed, name)
        assert column.dtype == dtype and column.shape == (parsed.count,), name
    status = parsed.status
    assert set(np.unique(status).tolist()) <= {s.value for s in Status}
    ip_read = np.isin(status, IP_READ)
    assert ((parsed.ip_version != 0) == ip_read).all()
    assert ((parsed.l3_offset >= 0) == ip_read).all()
    assert (parsed.l3_offset < parsed.caplen)[ip_read].all()
    assert not (parsed.has_l4 & (status != Status.OK)).any()
    assert ((parsed.l4_offset >= 0) == parsed.has_l4).all()
    assert (parsed.l4_offset + 8 <= parsed.caplen)[parsed.has_l4].all()
    assert (parsed.l4_offset > parsed.l3_offset)[parsed.has_l4].all()
    v4 = parsed.ip_version == 4
    assert not (parsed.src_hi[v4] | parsed.dst_hi[v4]).any()
    assert (parsed.src_lo[v4] < 2**32).all() and (parsed.dst_lo[v4] < 2**32).all()
    for name in TRANSPORT_COLUMNS:
        assert not getattr(parsed, name)[~parsed.has_l4].any(), name
    assert (parsed.payload_len >= 0).all()
    if (status == Status.UNSUPPORTED_LINK).any():
        assert (status == Status.UNSUPPORTED_LINK).all()


def assert_batch_independent(raw: RawBatch, parsed: ParsedBatch) -> None:
    """Each packet parses the same alone (at the very end of its own buffer) as inside the batch."""
    for index in range(raw.count):
        alone = parse_batch(RawBatch.from_packets([raw.packet(index)], [0], raw.linktype))
        assert row_fields(alone, 0) == row_fields(parsed, index)


LINKTYPES = st.sampled_from([*SUPPORTED_LINKS, 9, 105, 127, 147, 65000])


@settings(max_examples=200, deadline=None)
@given(LINKTYPES, st.lists(st.binary(max_size=96), max_size=10))
def test_random_bytes_never_raise(linktype: int, packets: list[bytes]) -> None:
    raw = RawBatch.from_packets(packets, list(range(len(packets))), linktype)
    parsed = parse_batch(raw)
    assert_consistent(parsed)
    assert_batch_independent(raw, parsed)


@st.composite
def mutated_batches(draw: st.DrawFn) -> tuple[int, list[bytes]]:
    """Valid frames with a few bytes overwritten: random input that still gets deep into the headers."""
    linktype = draw(st.sampled_from(SUPPORTED_LINKS))
    packets = []
    for frame in draw(st.lists(frames(linktype), min_size=1, max_size=6)):
        data = bytearray(frame.data)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        packets.append(bytes(data[: draw(st.integers(0, len(data)))]))
    return linktype, packets


@settings(max_examples=200, deadline=None)
@given(mutated_batches())
def test_mutated_frames_never_raise(batch: tuple[int, list[bytes]]) -> None:
    linktype, packets = batch
    raw = RawBatch.from_packets(packets, list(range(len(packets))), linktype)
    parsed = parse_batch(raw)
    assert_consistent(parsed)
    assert_batch_independent(raw, parsed)


def test_an_empty_batch_gives_empty_columns() -> None:
    parsed = parse_batch(RawBatch.from_packets([], [], 1))
    assert parsed.count == 0
    assert_consistent(parsed)


def test_unsupported_link_type_marks_every_packet() -> None:
    parsed = parse_batch(RawBatch.from_packets([b"\x45" + bytes(60), b""], [0, 0], 147))
    assert parsed.status.tolist() == [Status.UNSUPPORTED_LINK] * 2
