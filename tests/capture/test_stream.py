"""Captures read as streams (a FIFO here; standard input in tests/test_cli.py): packets as they
arrive, whole records only, exact wire lengths, a BPF filter, and stops that lose nothing."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from netscope.capture.errors import CaptureError
from netscope.capture.offline import FileSource
from netscope.capture.pcapfile import PCAP_FILE_HEADER_LEN
from tests.capture.test_pcapfile import pcap_file, pcapng_block

SAMPLE_PACKETS = 3413


def record_ends(capture: bytes) -> list[int]:
    """Byte offset just past each record of a little-endian classic pcap."""
    ends, pos = [], PCAP_FILE_HEADER_LEN
    while pos < len(capture):
        pos += 16 + int.from_bytes(capture[pos + 8:pos + 12], "little")
        ends.append(pos)
    return ends


class Writer(threading.Thread):
    """Writes `chunks` into a FIFO, waiting for `go` before each one after the first."""

    def __init__(self, fifo: Path, chunks: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.fifo, self.chunks, self.go = fifo, chunks, threading.Semaphore(0)

    def run(self) -> None:
        with open(self.fifo, "wb", buffering=0) as out:
            for i, chunk in enumerate(self.chunks):
                if i:
                    self.go.acquire()
                out.write(chunk)


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "capture.fifo"
    os.mkfifo(path)
    return path


def read_until(batches, packets: int, seconds: float = 10) -> int:
    """Packets taken from `batches` until `packets` have come (empty batches are idle ticks)."""
    seen, deadline = 0, time.monotonic() + seconds
    while seen < packets:
        assert time.monotonic() < deadline, f"only {seen} of {packets} packets arrived"
        seen += next(batches).count
    return seen


def test_packets_are_handed_over_as_they_arrive_not_when_a_batch_fills(sample_pcap: Path, tmp_path: Path) -> None:
    data = sample_pcap.read_bytes()
    ends = record_ends(data)
    path = fifo(tmp_path)
    writer = Writer(path, [data[:ends[99]], data[ends[99]:ends[99] + 7], data[ends[99] + 7:]])
    writer.start()
    with FileSource(path) as source:
        batches = source.batches()
        assert read_until(batches, 100) == 100  # the rest has not been written yet
        writer.go.release()  # 7 bytes of the next record: not a packet yet
        assert all(next(batches).count == 0 for _ in range(3))
        writer.go.release()
        assert read_until(batches, SAMPLE_PACKETS - 100) == SAMPLE_PACKETS - 100
        assert [b for b in batches if b.count] == [] and source.warning is None


def test_a_stop_while_the_stream_is_silent_ends_at_once(sample_pcap: Path, tmp_path: Path) -> None:
    data = sample_pcap.read_bytes()
    path = fifo(tmp_path)
    writer = Writer(path, [data[:record_ends(data)[9]], b""])  # then silence, the writer still there
    writer.start()
    stop = threading.Event()
    with FileSource(path) as source:
        batches = source.batches(stop)
        assert read_until(batches, 10) == 10
        stop.set()
        started = time.monotonic()
        assert [b for b in batches if b.count] == []
        assert time.monotonic() - started < 1 and source.warning is None
    writer.go.release()


def test_a_stream_has_exact_wire_lengths_and_takes_a_filter(sample_pcap: Path, tmp_path: Path, make_variant) -> None:
    cut = make_variant("pcapng-snap96")
    with FileSource(cut) as source:
        expected = np.concatenate([b.wirelen for b in source.batches()])
    modified = make_variant("modpcap-snap96")  # 24-byte record headers
    for capture, bpf, want in ((cut, None, expected), (modified, None, expected), (sample_pcap, "udp", None)):
        directory = tmp_path / capture.stem
        directory.mkdir()
        path = fifo(directory)
        Writer(path, [capture.read_bytes()]).start()
        with FileSource(path, bpf_filter=bpf) as source:
            batches = [b for b in source.batches() if b.count]
            wirelen = np.concatenate([b.wirelen for b in batches])
            assert source.wirelen_estimated == 0
        if want is not None:
            assert np.array_equal(wirelen, want) and int(wirelen.sum()) == 1_532_296
        else:
            with FileSource(sample_pcap, bpf_filter="udp") as by_file:
                assert np.array_equal(wirelen, np.concatenate([b.wirelen for b in by_file.batches()]))


def test_a_later_section_libpcap_cannot_follow_keeps_the_packets_before_it(sample_pcap: Path, tmp_path: Path,
                                                                          make_variant, require_tool) -> None:
    require_tool("editcap")
    ethernet = make_variant("pcapng")
    raw_ip = tmp_path / "raw.pcapng"
    subprocess.run(["editcap", "-C", "14", "-T", "rawip", "-F", "pcapng", str(sample_pcap), str(raw_ip)], check=True,
                   capture_output=True)
    path = fifo(tmp_path)
    Writer(path, [ethernet.read_bytes() + raw_ip.read_bytes()]).start()
    with FileSource(path) as source:
        assert sum(b.count for b in source.batches()) == SAMPLE_PACKETS
        assert "reading stopped after packet 3,413" in source.warning


@pytest.mark.parametrize("content", [b"", b"\xd4\xc3\xb2\xa1\x02\x00", b"not a capture at all, just text\n"])
def test_a_stream_that_is_no_capture_is_refused_when_opened(tmp_path: Path, content: bytes) -> None:
    path = fifo(tmp_path)
    Writer(path, [content]).start()
    with pytest.raises(CaptureError, match=r"capture\.fifo"):
        FileSource(path)



def _refused_record_captures() -> dict[str, tuple[bytes, bytes]]:
    """Captures with three packets, then (the second part) a record libpcap refuses and three more."""
    frame = bytes(60)

    def epb(interface: int = 0, data: bytes = frame) -> bytes:
        return pcapng_block("<", 6, struct.pack("<IIIII", interface, 0, 1, len(data), len(data)) + data)

    def idb(linktype: int) -> bytes:
        return pcapng_block("<", 1, struct.pack("<HHI", linktype, 0, 0))

    shb = pcapng_block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    good = epb() * 3
    classic = pcap_file("<", [(60, 60)] * 3)
    return {
        "caplen above libpcap's limit (pcap)": (classic, pcap_file("<", [(300_000, 300_000)] + [(60, 60)] * 3)[24:]),
        "caplen above libpcap's limit (pcapng)": (shb + idb(1) + good, epb(data=bytes(300_000)) + good),
        "a packet on an undescribed interface": (shb + idb(1) + good, epb(interface=1) + good),
        "an interface of a second link type": (shb + idb(1) + good, idb(101) + good),
        "a new section without interfaces": (shb + idb(1) + good + shb, epb() + good),
    }


@pytest.mark.parametrize("name", list(_refused_record_captures()))
def test_a_record_libpcap_refuses_keeps_every_packet_before_it_as_a_file_does(tmp_path: Path, name: str) -> None:
    """libpcap fails the whole batch that meets such a record; a file is read again up to it, a
    stream cannot be, so the relay stops before it: three packets either way, and where. A file's
    interface of a second link type is no such record: mixed_links.py reads the rest of it."""
    before, refused = _refused_record_captures()[name]
    as_file = tmp_path / "capture.bin"
    as_file.write_bytes(before + refused)
    with FileSource(as_file) as source:
        assert sum(b.count for b in source.batches()) == (6 if name == "an interface of a second link type" else 3)
    path = fifo(tmp_path)
    Writer(path, [before + refused]).start()
    with FileSource(path) as source:
        assert sum(b.count for b in source.batches()) == 3
        assert source.warning.startswith(f"{path}: reading stopped after packet 3, at byte {len(before)}: ")
        assert source.truncated_at == len(before)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_a_gzip_bzip2_or_xz_stream_is_decompressed_on_the_way(sample_pcap: Path, tmp_path: Path, compress) -> None:
    data = compress(sample_pcap.read_bytes())
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    whole.mkdir(), cut.mkdir()
    path = fifo(whole)
    writer = Writer(path, [data[:10], data[10:]])  # the compressor's header arrives alone
    writer.start()
    threading.Timer(0.3, writer.go.release).start()
    with FileSource(path) as source:
        assert sum(b.count for b in source.batches()) == SAMPLE_PACKETS and source.warning is None
    path = fifo(cut)
    Writer(path, [data[:len(data) * 9 // 10]]).start()  # within bzip2's second 900 kB block
    with FileSource(path) as source:
        count = sum(b.count for b in source.batches())
        assert 0 < count < SAMPLE_PACKETS
        assert source.warning.startswith(f"{path}: reading stopped after packet {count:,}: its ")
        assert "data is damaged or cut short" in source.warning


def test_a_zstd_or_lz4_stream_is_refused_with_the_tool_that_reads_it(tmp_path: Path) -> None:
    path = fifo(tmp_path)
    Writer(path, [b"\x28\xb5\x2f\xfd" + bytes(100)]).start()
    with pytest.raises(CaptureError, match=r"capture\.fifo is zstd-compressed, .*\| zstdcat \| netscope --read-pcap -"):
        FileSource(path)
