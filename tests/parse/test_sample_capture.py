"""The bundled real capture, read the way the capture stage reads it, checked packet by packet with dpkt."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pcapy
import pytest

import netscope
from netscope.capture.batch import RawBatch
from netscope.parse.batch_parser import parse_batch
from netscope.parse.columns import ParsedBatch, Status

from .frames import dpkt_fields, row_fields

SAMPLE = Path(netscope.__file__).parent / "data" / "sample.pcap"
SAMPLE_PACKETS = 3413


def read_batches(path: Path, batch_size: int) -> list[RawBatch]:
    """`next_batch` until EOF, each call one RawBatch (wire length = captured length: pcapy omits it)."""
    reader = pcapy.open_offline(str(path))
    batches = []
    while True:
        data, meta = reader.next_batch(batch_size)
        if not meta:
            return batches
        sec, usec, offset, caplen = np.frombuffer(meta, dtype=np.uint32).reshape(-1, 4).T.astype(np.int64)
        batches.append(RawBatch(np.frombuffer(data, dtype=np.uint8), offset, caplen, caplen.copy(),
                                sec * 1_000_000 + usec, reader.datalink()))


@pytest.fixture(scope="module")
def sample() -> tuple[list[RawBatch], list[ParsedBatch]]:
    batches = read_batches(SAMPLE, 1000)
    return batches, [parse_batch(batch) for batch in batches]


def test_every_packet_matches_dpkt(sample: tuple[list[RawBatch], list[ParsedBatch]]) -> None:
    batches, parsed = sample
    assert sum(batch.count for batch in batches) == SAMPLE_PACKETS
    for raw, columns in zip(batches, parsed, strict=True):
        for index in range(raw.count):
            assert row_fields(columns, index) == dpkt_fields(raw.packet(index), raw.linktype), index


def test_protocol_mix(sample: tuple[list[RawBatch], list[ParsedBatch]]) -> None:
    _, parsed = sample
    mix = Counter()
    for columns in parsed:
        mix.update(zip(columns.status.tolist(), columns.ip_version.tolist(), columns.ip_proto.tolist(), strict=True))
    # tshark's protocol hierarchy of the same file: 2906 IPv4, 505 IPv6, 2 ARP.
    assert mix == {(Status.OK, 4, 6): 2677, (Status.OK, 4, 17): 209, (Status.OK, 4, 1): 20,
                   (Status.OK, 6, 6): 480, (Status.OK, 6, 58): 25, (Status.NOT_IP, 0, 0): 2}
    assert sum(int(columns.flow_mask().sum()) for columns in parsed) == 2677 + 209 + 480
