"""Pcap output: byte-exact records, tshark read-back, and the reference's rotation and retention (§7.4)."""

from __future__ import annotations

import itertools
import logging
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pcapy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netscope
from netscope.capture.batch import RawBatch
from netscope.capture.offline import FileSource
from netscope.export.pcap_writer import (
    PcapWriteError,
    PcapWriter,
    validate_rotation,
)

SAMPLE = Path(netscope.__file__).parent / "data" / "sample.pcap"
SAMPLE_PACKETS = 3413
MIB = 1_048_576
DLT_EN10MB = 1
DLT_RAW = 12
LINKTYPE_RAW = 101

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
needs_editcap = pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap not installed")


# -- helpers -------------------------------------------------------------------------------
def read_all(path: Path) -> tuple[list[RawBatch], int]:
    """Every batch of a capture as the capture stage reads it (exact wire lengths), and its snaplen."""
    with FileSource(path, batch_packets=1000) as source:
        return list(source.batches()), source.snaplen


def columns(batches: list[RawBatch]) -> dict[str, np.ndarray]:
    """Per-packet caplen, wirelen, timestamp and a hash of the bytes, to compare two reads."""
    packets = [batch.packet(i) for batch in batches for i in range(batch.count)]
    return {
        "caplen": np.concatenate([b.caplen for b in batches]),
        "wirelen": np.concatenate([b.wirelen for b in batches]),
        "ts_us": np.concatenate([b.ts_us for b in batches]),
        "bytes": np.array([hash(p) for p in packets]),
    }


def tshark_lengths(path: Path) -> list[tuple[int, int]]:
    """(frame.len, frame.cap_len) of every packet, as Wireshark reads the file."""
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len"],
                         check=True, capture_output=True, text=True).stdout
    return [(int(wire), int(cap)) for wire, cap in (line.split("\t") for line in out.splitlines())]


def synthetic_batch(sizes: list[int] | np.ndarray, seed: int = 0, linktype: int = DLT_EN10MB) -> RawBatch:
    """Random packet bytes of the given sizes, one microsecond-spaced timestamp each, wire = 2 x caplen."""
    rng = np.random.default_rng(seed)
    caplen = np.asarray(sizes, dtype=np.int64)
    offset = np.cumsum(caplen) - caplen
    data = rng.integers(0, 256, int(caplen.sum()), dtype=np.uint8)
    ts_us = 1_700_000_000_000_000 + 999_990 + np.arange(caplen.size, dtype=np.int64) * 7
    return RawBatch(data, offset, caplen, caplen * 2, ts_us, linktype)


def oracle_segments(raw: RawBatch, snaplen: int = 65535, rotate_bytes: int | None = None,
                    linktype: int = DLT_EN10MB) -> list[bytes]:
    """The files the reference would write, one packet at a time (segment closed once it is full)."""
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)
    segments = [bytearray(header)]
    for i in range(raw.count):
        if rotate_bytes is not None and len(segments[-1]) >= rotate_bytes:
            segments.append(bytearray(header))
        ts = int(raw.ts_us[i])
        segments[-1] += struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, int(raw.caplen[i]),
                                    int(raw.wirelen[i])) + raw.packet(i)
    return [bytes(segment) for segment in segments]


def write_in_pieces(writer: PcapWriter, raw: RawBatch, cuts: list[int]) -> None:
    bounds = [0, *sorted(set(cuts)), raw.count]
    for start, stop in itertools.pairwise(bounds):
        writer.write(raw.slice(start, stop))


def files_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


# -- whole captures ------------------------------------------------------------------------
def test_sample_capture_is_rewritten_byte_for_byte(tmp_path: Path) -> None:
    batches, snaplen = read_all(SAMPLE)
    out = tmp_path / "out.pcap"
    with PcapWriter(out, batches[0].linktype, snaplen) as writer:
        for batch in batches:
            writer.write(batch)
    assert writer.packets_written == SAMPLE_PACKETS
    assert writer.segments == [out]
    assert writer.bytes_written == out.stat().st_size
    # the bundled sample is itself a microsecond little-endian pcap, so nothing may differ
    assert out.read_bytes() == SAMPLE.read_bytes()


@needs_tshark
def test_sample_capture_reads_back_in_tshark_with_the_same_lengths(tmp_path: Path) -> None:
    batches, snaplen = read_all(SAMPLE)
    out = tmp_path / "out.pcap"
    with PcapWriter(out, batches[0].linktype, snaplen) as writer:
        for batch in batches:
            writer.write(batch)
    written = tshark_lengths(out)
    assert len(written) == SAMPLE_PACKETS
    assert written == tshark_lengths(SAMPLE)


@needs_tshark
@needs_editcap
def test_snaplen_truncated_capture_keeps_original_lengths(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pcap"
    subprocess.run(["editcap", "-F", "pcap", "-s", "96", str(SAMPLE), str(truncated)], check=True,
                   capture_output=True)
    batches, snaplen = read_all(truncated)
    assert snaplen == 96
    out = tmp_path / "out.pcap"
    with PcapWriter(out, batches[0].linktype, snaplen) as writer:
        for batch in batches:
            writer.write(batch)

    written = tshark_lengths(out)
    assert written == tshark_lengths(truncated)
    assert [wire for wire, _ in written] == [wire for wire, _ in tshark_lengths(SAMPLE)]
    assert all(cap == min(wire, 96) for wire, cap in written)
    assert sum(wire != cap for wire, cap in written) > 1000
    again, _ = read_all(out)
    for name, column in columns(again).items():
        assert np.array_equal(column, columns(batches)[name]), name


def test_timestamps_and_lengths_survive_a_read_back(tmp_path: Path) -> None:
    raw = synthetic_batch([60, 1514, 9000, 74])
    out = tmp_path / "out.pcap"
    with PcapWriter(out, DLT_EN10MB) as writer:
        writer.write(raw)
    again, _ = read_all(out)
    for name, column in columns(again).items():
        assert np.array_equal(column, columns([raw])[name]), name


def test_raw_ip_is_written_with_its_file_link_type(tmp_path: Path) -> None:
    """libpcap reports a raw-IP file as DLT 12; the file itself must say LINKTYPE_RAW (101)."""
    out = tmp_path / "raw.pcap"
    with PcapWriter(out, DLT_RAW) as writer:
        writer.write(synthetic_batch([40, 60], linktype=DLT_RAW))
    assert struct.unpack_from("<I", out.read_bytes(), 20)[0] == LINKTYPE_RAW
    assert pcapy.open_offline(str(out)).datalink() == DLT_RAW


def test_packet_longer_than_snaplen_raises_the_declared_snaplen(tmp_path: Path) -> None:
    out = tmp_path / "big.pcap"
    with PcapWriter(out, DLT_EN10MB, snaplen=0) as writer:  # 0 = the 65535 default
        writer.write(synthetic_batch([100]))
        assert struct.unpack_from("<I", out.read_bytes(), 16)[0] == 65535
        writer.write(synthetic_batch([70_000, 200], seed=1))
    assert writer.snaplen == 70_000
    assert struct.unpack_from("<I", out.read_bytes(), 16)[0] == 70_000
    again, _ = read_all(out)
    assert columns(again)["caplen"].tolist() == [100, 70_000, 200]


def test_packets_not_stored_back_to_back_are_gathered(tmp_path: Path) -> None:
    """A batch whose packets sit out of order, with gaps, in its buffer writes the same records."""
    ordered = synthetic_batch([60, 200, 1514, 90])
    new_offset = np.array([1900, 0, 300, 2000], dtype=np.int64)  # sizes 60, 200, 1514, 90
    data = np.zeros(int(new_offset[-1] + ordered.caplen[-1]), dtype=np.uint8)
    for i in range(ordered.count):
        data[new_offset[i]:new_offset[i] + ordered.caplen[i]] = np.frombuffer(ordered.packet(i), np.uint8)
    scattered = RawBatch(data, new_offset, ordered.caplen, ordered.wirelen, ordered.ts_us, DLT_EN10MB)
    out = tmp_path / "out.pcap"
    with PcapWriter(out, DLT_EN10MB) as writer:
        writer.write(scattered)
    assert [out.read_bytes()] == oracle_segments(ordered)


def test_header_only_file_for_a_run_without_packets(tmp_path: Path) -> None:
    out = tmp_path / "empty.pcap"
    with PcapWriter(out, DLT_EN10MB) as writer:
        writer.write(synthetic_batch([]))
    assert out.read_bytes() == oracle_segments(synthetic_batch([]))[0]
    assert writer.packets_written == 0


# -- batch boundaries ----------------------------------------------------------------------
# ~2.6 MB of packets: three 1 MiB segments, so splits land before, on and after boundaries.
SPLIT_INPUT = synthetic_batch(np.random.default_rng(7).integers(60, 3900, 1300), seed=3)
SPLIT_ORACLE = oracle_segments(SPLIT_INPUT, rotate_bytes=MIB)
SPLIT_PLAIN = oracle_segments(SPLIT_INPUT)


def written_segments(writer: PcapWriter) -> list[bytes]:
    return [path.read_bytes() for path in writer.segments]


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, SPLIT_INPUT.count - 1), max_size=15))
def test_any_batch_split_writes_identical_files(cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with PcapWriter(Path(tmp) / "plain.pcap", DLT_EN10MB) as plain, \
                PcapWriter(Path(tmp) / "ring.pcap", DLT_EN10MB, rotate_mb=1, max_files=10) as ring:
            write_in_pieces(plain, SPLIT_INPUT, cuts)
            write_in_pieces(ring, SPLIT_INPUT, cuts)
        assert written_segments(plain) == SPLIT_PLAIN
        assert written_segments(ring) == SPLIT_ORACLE


def test_splits_exactly_at_segment_boundaries(tmp_path: Path) -> None:
    per_segment = [(len(segment) - 24) for segment in SPLIT_ORACLE]
    record_end = np.cumsum(SPLIT_INPUT.caplen + 16)
    boundaries = [int(np.searchsorted(record_end, total)) + 1 for total in np.cumsum(per_segment)[:-1]]
    cuts = [c + delta for c in boundaries for delta in (-1, 0, 1)]
    with PcapWriter(tmp_path / "ring.pcap", DLT_EN10MB, rotate_mb=1, max_files=10) as ring:
        write_in_pieces(ring, SPLIT_INPUT, cuts)
    assert len(SPLIT_ORACLE) == 3
    assert written_segments(ring) == SPLIT_ORACLE


# -- rotation and retention ----------------------------------------------------------------
REFERENCE_PACKET = 4130  # the reference's verified case: 800 x 4130 bytes, 1 MiB, keep 2
PER_SEGMENT = -(-(MIB - 24) // (REFERENCE_PACKET + 16))  # 253: the packet that reaches 1 MiB stays


@needs_tshark
def test_reference_retention_case(tmp_path: Path) -> None:
    base = tmp_path / "capture.pcap"
    raw = synthetic_batch([REFERENCE_PACKET] * 800)
    with PcapWriter(base, DLT_EN10MB, rotate_mb=1, max_files=2) as writer:
        write_in_pieces(writer, raw, list(range(100, 800, 100)))

    assert files_in(tmp_path) == ["capture.000003.pcap", "capture.000004.pcap"]
    assert writer.segments == [tmp_path / "capture.000003.pcap", tmp_path / "capture.000004.pcap"]
    assert not base.exists()
    assert [len(tshark_lengths(path)) for path in writer.segments] == [PER_SEGMENT, 800 - 3 * PER_SEGMENT]
    assert all(wire == 2 * cap == 2 * REFERENCE_PACKET for wire, cap in tshark_lengths(writer.segments[0]))


def test_segments_of_earlier_runs_continue_numbering_and_are_pruned(tmp_path: Path) -> None:
    for index in (90, 91):
        (tmp_path / f"capture.0000{index}.pcap").write_bytes(b"old")
    decoys = ["capture.pcap.bak", "capture.00a1.pcap", "other.000095.pcap", "capture.000099.pcapng",
              "capture.000098"]
    for name in decoys:
        (tmp_path / name).write_bytes(b"keep")

    with PcapWriter(tmp_path / "capture.pcap", DLT_EN10MB, rotate_mb=1, max_files=2) as writer:
        # the run's first segment already makes three: the oldest goes at once
        assert files_in(tmp_path) == sorted([*decoys, "capture.000091.pcap", "capture.000092.pcap"])
        writer.write(synthetic_batch([REFERENCE_PACKET] * (2 * PER_SEGMENT + 1)))

    assert writer.segments == [tmp_path / "capture.000093.pcap", tmp_path / "capture.000094.pcap"]
    assert files_in(tmp_path) == sorted([*decoys, "capture.000093.pcap", "capture.000094.pcap"])


def test_earlier_segments_count_toward_retention(tmp_path: Path) -> None:
    (tmp_path / "capture.000001.pcap").write_bytes(b"old")
    with PcapWriter(tmp_path / "capture.pcap", DLT_EN10MB, rotate_mb=1, max_files=3) as writer:
        writer.write(synthetic_batch([REFERENCE_PACKET] * (PER_SEGMENT + 1)))
    assert files_in(tmp_path) == ["capture.000001.pcap", "capture.000002.pcap", "capture.000003.pcap"]


def test_extensionless_and_double_extension_bases(tmp_path: Path) -> None:
    raw = synthetic_batch([REFERENCE_PACKET] * (PER_SEGMENT + 1))
    for base in ("dump", "archive.tar.gz"):
        with PcapWriter(tmp_path / base, DLT_EN10MB, rotate_mb=1, max_files=5) as writer:
            writer.write(raw)
    assert files_in(tmp_path) == ["archive.tar.000001.gz", "archive.tar.000002.gz", "dump.000001", "dump.000002"]


def test_no_empty_segment_when_input_ends_on_a_boundary(tmp_path: Path) -> None:
    base = tmp_path / "capture.pcap"
    with PcapWriter(base, DLT_EN10MB, rotate_mb=1, max_files=5) as writer:
        writer.write(synthetic_batch([REFERENCE_PACKET] * PER_SEGMENT))  # the last packet fills segment 1
    assert files_in(tmp_path) == ["capture.000001.pcap"]
    assert (tmp_path / "capture.000001.pcap").stat().st_size == 24 + PER_SEGMENT * (REFERENCE_PACKET + 16)

    with PcapWriter(base, DLT_EN10MB, rotate_mb=1, max_files=5) as writer:
        writer.write(synthetic_batch([REFERENCE_PACKET] * PER_SEGMENT))
        writer.write(synthetic_batch([]))  # an idle read does not open the next segment either
        assert files_in(tmp_path) == ["capture.000001.pcap", "capture.000002.pcap"]
        writer.write(synthetic_batch([60]))
    assert files_in(tmp_path) == ["capture.000001.pcap", "capture.000002.pcap", "capture.000003.pcap"]
    assert (tmp_path / "capture.000003.pcap").stat().st_size == 24 + 16 + 60


def test_segment_of_exactly_the_limit_is_closed(tmp_path: Path) -> None:
    exact = [4080] * 255 + [4080 - 24]  # 24 + 256 records of 4096 bytes, less the file header = 1 MiB
    with PcapWriter(tmp_path / "capture.pcap", DLT_EN10MB, rotate_mb=1, max_files=5) as writer:
        writer.write(synthetic_batch(exact))
        writer.write(synthetic_batch([60]))
    assert [path.stat().st_size for path in writer.segments] == [MIB, 24 + 16 + 60]


def test_failed_prune_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = synthetic_batch([REFERENCE_PACKET] * PER_SEGMENT)
    with PcapWriter(tmp_path / "capture.pcap", DLT_EN10MB, rotate_mb=1, max_files=1) as writer:
        writer.write(raw)
        stuck = writer.segments[0]
        stuck.unlink()
        stuck.mkdir()  # a directory cannot be unlinked like a file
        (stuck / "inside").write_bytes(b"")
        with caplog.at_level(logging.WARNING, logger="netscope.export.pcap_writer"):
            writer.write(raw)
        writer.segments[0].unlink()  # already gone by the next prune: nothing to report
        writer.write(raw)
    assert f"could not delete old capture segment {stuck}" in caplog.text
    assert len(caplog.records) == 1
    assert files_in(tmp_path) == ["capture.000001.pcap", "capture.000003.pcap"]


# -- validation and errors -----------------------------------------------------------------
@pytest.mark.parametrize(("path", "rotate_mb", "max_files", "message"), [
    (None, 1, 2, "output.write_pcap must be set when pcap rotation is enabled"),
    ("", 0, 2, "output.write_pcap must be set when pcap rotation is enabled"),
    ("c.pcap", 0, 2, "output.write_pcap_rotate_mb and output.write_pcap_max_files must both be > 0"),
    ("c.pcap", 5, 0, "output.write_pcap_rotate_mb and output.write_pcap_max_files must both be > 0"),
])
def test_rotation_validation_messages(path: str | None, rotate_mb: int, max_files: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_rotation(path, rotate_mb, max_files)


def test_valid_rotation_settings_pass() -> None:
    validate_rotation(None, 0, 0)
    validate_rotation("c.pcap", 0, 0)
    validate_rotation("c.pcap", 1, 1)


def test_writer_rejects_half_a_rotation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must both be > 0"):
        PcapWriter(tmp_path / "c.pcap", DLT_EN10MB, rotate_mb=1)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("rotate", [False, True])
def test_unwritable_location_is_one_line_os_error(tmp_path: Path, rotate: bool) -> None:
    base = tmp_path / "missing" / "c.pcap"
    with pytest.raises(PcapWriteError) as caught:
        PcapWriter(base, DLT_EN10MB, rotate_mb=int(rotate), max_files=int(rotate))
    assert isinstance(caught.value, OSError)
    assert str(caught.value).startswith(f"cannot write {tmp_path / 'missing'}")
    assert str(caught.value).endswith("No such file or directory")


def test_disk_full_at_open() -> None:
    with pytest.raises(PcapWriteError, match=r"^cannot write /dev/full: No space left on device$"):
        PcapWriter("/dev/full", DLT_EN10MB)


def test_write_failure_mid_run_is_one_line_and_keeps_the_whole_records(tmp_path: Path) -> None:
    """A file-size limit makes the kernel take only part of the batch: the error names the file and
    the reason, and the file is cut back to the records that fit whole, a capture that reads to its end."""
    script = f"""
import resource, signal
from netscope.capture.batch import RawBatch
from netscope.export.pcap_writer import PcapWriter, PcapWriteError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))
writer = PcapWriter({str(tmp_path / 'c.pcap')!r}, 1)
try:
    writer.write(RawBatch.from_packets([bytes(1000)] * 20, list(range(20)), 1))
except PcapWriteError as exc:
    print(exc)
print(writer.packets_written, writer.bytes_written)
writer.close()
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    kept = (10_000 - 24) // 1016  # records of 16 + 1000 bytes after the file header
    assert result.stdout == f"cannot write {tmp_path / 'c.pcap'}: File too large\n{kept} {24 + kept * 1016}\n"
    assert (tmp_path / "c.pcap").stat().st_size == 24 + kept * 1016
    batches, _ = read_all(tmp_path / "c.pcap")
    assert sum(batch.count for batch in batches) == kept


def test_misuse_is_rejected(tmp_path: Path) -> None:
    writer = PcapWriter(tmp_path / "c.pcap", DLT_EN10MB)
    with pytest.raises(ValueError, match="link type 12 differs"):
        writer.write(synthetic_batch([60], linktype=DLT_RAW))
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="is closed"):
        writer.write(synthetic_batch([60]))
