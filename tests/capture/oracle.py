"""Per-packet reference reads (pcapy `next()`, which does report the wire length) for comparisons."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pcapy

from netscope.capture.offline import FileSource


@dataclass
class Columns:
    caplen: np.ndarray
    wirelen: np.ndarray
    ts_us: np.ndarray
    data: list[bytes]


def read_reference(path: Path, bpf_filter: str | None = None) -> Columns:
    """Every complete packet libpcap returns one at a time; stops quietly at a damaged record."""
    reader = pcapy.open_offline(str(path))
    if bpf_filter:
        reader.setfilter(bpf_filter)
    caplen, wirelen, ts_us, data = [], [], [], []
    try:
        header, packet = reader.next()
        while header is not None:
            sec, usec = header.getts()
            caplen.append(header.getcaplen())
            wirelen.append(header.getlen())
            ts_us.append(sec * 1_000_000 + usec)
            data.append(packet)
            header, packet = reader.next()
    except pcapy.PcapError:
        pass
    return Columns(np.array(caplen, np.int64), np.array(wirelen, np.int64), np.array(ts_us, np.int64), data)


def read_source(source: FileSource) -> Columns:
    batches = list(source.batches())
    def column(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in batches]) if batches else np.zeros(0, np.int64)
    return Columns(column("caplen"), column("wirelen"), column("ts_us"),
                   [b.packet(i) for b in batches for i in range(b.count)])


def assert_same(got: Columns, want: Columns, *, wirelen: bool = True) -> None:
    assert got.caplen.size == want.caplen.size
    np.testing.assert_array_equal(got.caplen, want.caplen)
    np.testing.assert_array_equal(got.ts_us, want.ts_us)
    assert got.data == want.data
    if wirelen:
        np.testing.assert_array_equal(got.wirelen, want.wirelen)
