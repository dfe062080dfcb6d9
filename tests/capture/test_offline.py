"""FileSource against per-packet libpcap reads: same packets, timestamps and exact wire lengths."""

from __future__ import annotations

import struct
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from netscope.capture.errors import CaptureError
from netscope.capture.offline import FileSource
from netscope.capture.pcapfile import PCAPNG_EPB

from .oracle import assert_same, read_reference, read_source

SAMPLE_PACKETS = 3413


def to_big_endian(src: Path, dst: Path) -> Path:
    """Rewrite a little-endian classic pcap with big-endian headers (no tool writes those)."""
    raw = src.read_bytes()
    out = bytearray(struct.pack(">IHHiIII", *struct.unpack_from("<IHHiIII", raw, 0)))
    pos = 24
    while pos < len(raw):
        header = struct.unpack_from("<IIII", raw, pos)
        out += struct.pack(">IIII", *header) + raw[pos + 16:pos + 16 + header[2]]
        pos += 16 + header[2]
    dst.write_bytes(out)
    return dst


def to_cut_sll2(src: Path, dst: Path, snaplen: int) -> Path:
    """Rewrite an Ethernet pcap as Linux cooked v2 (what `tcpdump -i any` writes) cut at `snaplen`."""
    raw = src.read_bytes()
    magic, major, minor, zone, sigfigs, _, _ = struct.unpack_from("<IHHiIII", raw, 0)
    out = bytearray(struct.pack("<IHHiIII", magic, major, minor, zone, sigfigs, snaplen, 276))
    pos = 24
    while pos < len(raw):
        sec, usec, caplen, wirelen = struct.unpack_from("<IIII", raw, pos)
        frame = raw[pos + 16:pos + 16 + caplen]
        cooked = struct.pack("!HHIHBB8s", int.from_bytes(frame[12:14], "big"), 0, 1, 1, 0, 6, frame[6:12]) + frame[14:]
        out += struct.pack("<IIII", sec, usec, min(len(cooked), snaplen), wirelen + 6) + cooked[:snaplen]
        pos += 16 + caplen
    dst.write_bytes(out)
    return dst


@pytest.mark.parametrize("kind", [None, "pcapng", "nsec", "vlan", "modpcap"])
@pytest.mark.parametrize("batch_packets", [32768, 333])
def test_reads_every_packet_with_exact_wire_length(sample_pcap, make_variant, kind, batch_packets):
    path = make_variant(kind) if kind else sample_pcap
    with FileSource(path, batch_packets=batch_packets) as source:
        got = read_source(source)
        assert source.linktype == 1
        assert source.file_format == ("pcapng" if kind == "pcapng" else "pcap")
        assert source.wirelen_estimated == 0
        assert source.warning is None and source.truncated_at is None
        assert source.progress == 1.0
    assert got.caplen.size == SAMPLE_PACKETS
    assert_same(got, read_reference(path))


def test_big_endian_pcap(sample_pcap, tmp_path):
    path = to_big_endian(sample_pcap, tmp_path / "be.pcap")
    with FileSource(path) as source:
        assert_same(read_source(source), read_reference(sample_pcap))


@pytest.mark.parametrize("kind", ["snap96", "pcapng-snap96", "modpcap-snap96"])
def test_snaplen_truncated_file_keeps_original_wire_length(sample_pcap, make_variant, kind):
    path = make_variant(kind)
    with FileSource(path) as source:
        got = read_source(source)
        assert source.wirelen_estimated == 0  # read from the record headers, not guessed
    original = read_reference(sample_pcap)
    assert got.caplen.max() == 96
    np.testing.assert_array_equal(got.wirelen, original.wirelen)
    assert_same(got, read_reference(path))


@pytest.mark.parametrize("kind", ["snap96", "pcapng-snap96", "modpcap-snap96"])
def test_filter_with_truncated_file_estimates_wire_length_from_ip(sample_pcap, make_variant, kind):
    """The pcapng and modified-pcap cuts keep the interface's and header's old snaplen, so no
    snaplen says which packets were cut: the IP header of each one does."""
    path = make_variant(kind)
    with FileSource(path, bpf_filter="ip or ip6") as source:
        got = read_source(source)
        estimated = source.wirelen_estimated
    want = read_reference(sample_pcap, "ip or ip6")
    assert got.caplen.size == want.caplen.size
    np.testing.assert_array_equal(got.wirelen, want.wirelen)  # Ethernet + IP length is exact here
    assert estimated == int(np.count_nonzero(got.caplen == 96))
    assert estimated > 0


def test_filter_with_cut_linux_cooked_v2_estimates_wire_length(sample_pcap, tmp_path):
    """`tcpdump -i any -s 96` writes SLL2; with a filter its wire lengths come from the IP header too."""
    path = to_cut_sll2(sample_pcap, tmp_path / "any.pcap", 96)
    with FileSource(path, bpf_filter="ip or ip6") as source:
        got = read_source(source)
        assert source.linktype == 276 and source.wirelen_estimated > 0
    np.testing.assert_array_equal(got.wirelen, read_reference(sample_pcap, "ip or ip6").wirelen + 6)


@pytest.mark.parametrize("kind", [None, "pcapng"])
def test_bpf_filter_keeps_only_matching_packets(sample_pcap, make_variant, kind):
    path = make_variant(kind) if kind else sample_pcap
    with FileSource(path, bpf_filter="udp") as source:
        got = read_source(source)
        assert source.wirelen_estimated == 0  # nothing reaches the file's 262144-byte snaplen
        assert source.progress == 1.0
    want = read_reference(path, "udp")
    assert 0 < got.caplen.size < SAMPLE_PACKETS
    assert_same(got, want)


def test_pcapng_with_irregular_blocks(sample_pcap, make_variant, require_tool, tmp_path):
    """Packet comments of varying length (EPB options) and a second section: the walk path."""
    require_tool("editcap")
    pcapng = make_variant("pcapng")
    commented = tmp_path / "commented.pcapng"
    comments = [arg for i in range(1, SAMPLE_PACKETS + 1, 3) for arg in ("-a", f"{i}:{'x' * (i % 11 + 1)}")]
    subprocess.run(["editcap", *comments, str(pcapng), str(commented)], check=True, capture_output=True)
    two_sections = tmp_path / "two-sections.pcapng"
    two_sections.write_bytes(commented.read_bytes() + make_variant("pcapng-snap96").read_bytes())
    with FileSource(two_sections, batch_packets=1000) as source:
        got = read_source(source)
        assert source.wirelen_estimated == 0
    assert got.caplen.size == 2 * SAMPLE_PACKETS
    assert_same(got, read_reference(two_sections))


@pytest.mark.parametrize("kind", [None, "pcapng"])
@pytest.mark.parametrize("bpf_filter", [None, "tcp"])
def test_truncated_file_yields_everything_before_the_cut(sample_pcap, make_variant, kind, bpf_filter):
    source_file = make_variant(kind) if kind else sample_pcap
    cut = make_variant("truncated", source_file)
    want = read_reference(cut, bpf_filter)
    with FileSource(cut, bpf_filter=bpf_filter, batch_packets=4096) as source:
        got = read_source(source)
        warning, truncated_at = source.warning, source.truncated_at
        assert source.progress == 1.0
    assert want.caplen.size > 100
    assert_same(got, want)
    assert warning is not None and "truncated or damaged" in warning and str(cut) in warning
    if bpf_filter is None:
        assert truncated_at is not None and cut.stat().st_size - 300_000 < truncated_at < cut.stat().st_size
        assert f"at byte {truncated_at:,}" in warning
    else:
        assert truncated_at is None and f"after packet {want.caplen.size:,}" in warning


def test_file_cut_inside_first_record_yields_nothing(sample_pcap, make_variant, tmp_path):
    path = tmp_path / "tiny.pcap"
    path.write_bytes(sample_pcap.read_bytes()[:30])
    with FileSource(path) as source:
        assert list(source.batches()) == []
        assert source.truncated_at == 24 and source.warning is not None
    # pcapng: the damage is the first packet block, after the section and interface headers
    whole = make_variant("pcapng").read_bytes()
    first_packet = 0
    while int.from_bytes(whole[first_packet:first_packet + 4], "little") != PCAPNG_EPB:
        first_packet += int.from_bytes(whole[first_packet + 4:first_packet + 8], "little")
    assert first_packet > 0
    path = tmp_path / "tiny.pcapng"
    path.write_bytes(whole[:first_packet + 40])
    with FileSource(path) as source:
        assert list(source.batches()) == []
        assert source.truncated_at == first_packet and f"at byte {first_packet:,} " in source.warning


def _mixed_link_types(sample_pcap: Path, tmp_path: Path, interleaved: bool) -> Path:
    """A pcapng with an Ethernet and a raw-IP interface: both announced before any packet
    (mergecap), or the raw one in a second section after every Ethernet packet."""
    ethernet = tmp_path / "ethernet.pcapng"
    raw_ip = tmp_path / "raw.pcap"
    subprocess.run(["editcap", "-F", "pcapng", str(sample_pcap), str(ethernet)], check=True, capture_output=True)
    subprocess.run(["editcap", "-C", "14", "-T", "rawip", "-F", "pcapng", str(sample_pcap), str(raw_ip)], check=True,
                   capture_output=True)
    mixed = tmp_path / "mixed.pcapng"
    if interleaved:
        subprocess.run(["mergecap", "-w", str(mixed), str(ethernet), str(raw_ip)], check=True, capture_output=True)
    else:
        mixed.write_bytes(ethernet.read_bytes() + raw_ip.read_bytes())
    return mixed


@pytest.mark.parametrize("interleaved", [True, False], ids=["both announced first", "second section"])
def test_a_pcapng_of_two_link_types_is_read_whole(sample_pcap, require_tool, tmp_path, interleaved):
    """libpcap refuses the raw-IP interface (before the first packet, or after the Ethernet
    section); from there the block walk of mixed_links.py reads on, so nothing is lost."""
    require_tool("editcap")
    require_tool("mergecap")
    path = _mixed_link_types(sample_pcap, tmp_path, interleaved=interleaved)
    with FileSource(path) as source:
        batches = list(source.batches())
        assert source.warning is None and source.packets_read == 2 * SAMPLE_PACKETS
    assert {batch.linktype for batch in batches} == {1, 12}
    by_link = {linktype: sum(b.count for b in batches if b.linktype == linktype) for linktype in (1, 12)}
    assert by_link == {1: SAMPLE_PACKETS, 12: SAMPLE_PACKETS}
    if not interleaved:  # libpcap's batches first, then the walk's, in file order
        assert [b.linktype for b in batches][-1] == 12 and batches[0].linktype == 1


def test_snaplen_shortened_by_libpcap(sample_pcap, tmp_path):
    """A header snaplen below the records' caplen: libpcap cuts them, the index still follows."""
    raw = bytearray(sample_pcap.read_bytes())
    struct.pack_into("<I", raw, 16, 200)
    path = tmp_path / "low-snaplen.pcap"
    path.write_bytes(raw)
    with FileSource(path) as source:
        got = read_source(source)
    assert got.caplen.max() == 200
    np.testing.assert_array_equal(got.wirelen, read_reference(sample_pcap).wirelen)


def test_stop_signal_ends_reading_early(sample_pcap):
    stop = threading.Event()
    with FileSource(sample_pcap, batch_packets=100) as source:
        seen = 0
        for batch in source.batches(stop):
            seen += batch.count
            stop.set()
        assert seen == 100
        assert 0 < source.progress < 1
        assert source.bytes_consumed == 24 + sum(16 + int(c) for c in read_reference(sample_pcap).caplen[:100])


def test_progress_grows_with_filter_too(sample_pcap):
    with FileSource(sample_pcap, bpf_filter="tcp", batch_packets=500) as source:
        readings = [source.progress for _ in source.batches()]
        assert readings == sorted(readings) and readings[0] < 1
        assert source.progress == 1.0 and source.size_bytes == sample_pcap.stat().st_size


def test_missing_file():
    with pytest.raises(CaptureError) as err:
        FileSource("/nonexistent/x.pcap")
    assert str(err.value) == "cannot read /nonexistent/x.pcap: No such file or directory"


def test_directory(tmp_path):
    with pytest.raises(CaptureError) as err:
        FileSource(tmp_path)
    assert str(err.value) == f"cannot read {tmp_path}: Is a directory"


@pytest.mark.parametrize("content", [b"", b"hello\n", b"x" * 100])
def test_not_a_capture_file(tmp_path, content):
    path = tmp_path / "x.txt"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as err:
        FileSource(path)
    assert str(err.value) == f"{path} is not a pcap or pcapng capture file"


def test_invalid_filter(sample_pcap):
    with pytest.raises(CaptureError) as err:
        FileSource(sample_pcap, bpf_filter="tcp prt 80")
    assert str(err.value) == "invalid BPF filter 'tcp prt 80': can't parse filter expression: syntax error"
