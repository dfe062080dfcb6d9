"""Well-formed frames of every supported link type, parsed in batches, field by field against dpkt."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netscope.capture.batch import RawBatch
from netscope.parse.batch_parser import parse_batch

from .frames import SUPPORTED_LINKS, dpkt_fields, frames, row_fields


@st.composite
def batches(draw: st.DrawFn) -> tuple[int, list]:
    linktype = draw(st.sampled_from(SUPPORTED_LINKS))
    return linktype, draw(st.lists(frames(linktype), min_size=1, max_size=8))


@settings(max_examples=200, deadline=None)
@given(batches())
def test_every_column_matches_dpkt(batch: tuple[int, list]) -> None:
    linktype, built = batch
    raw = RawBatch.from_packets([f.data for f in built], list(range(len(built))), linktype)
    parsed = parse_batch(raw)
    assert parsed.count == len(built)
    for index, frame in enumerate(built):
        assert row_fields(parsed, index) == dpkt_fields(frame.data, linktype)


@settings(max_examples=50, deadline=None)
@given(batches())
def test_timestamps_and_lengths_are_copied(batch: tuple[int, list]) -> None:
    linktype, built = batch
    wirelen = [len(f.data) + 100 for f in built]
    raw = RawBatch.from_packets([f.data for f in built], [10**15 + i for i in range(len(built))], linktype,
                                wirelen)
    parsed = parse_batch(raw)
    assert parsed.ts_us.tolist() == raw.ts_us.tolist()
    assert parsed.wirelen.tolist() == wirelen
    assert parsed.caplen.tolist() == [len(f.data) for f in built]
