"""Compressed captures read as Wireshark reads them (capture/decompress.py): the same packets as
the plain file, what comes before a cut, one-line errors, and no hang when a run stops early."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import re
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from netscope.capture import decompress
from netscope.capture.errors import CaptureError
from netscope.capture.offline import FileSource
from tests.capture.test_stream import SAMPLE_PACKETS, record_ends

LIBRARY = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}
TOOLS = {"zst": ["zstd", "-q", "-c"], "lz4": ["lz4", "-q", "-c"]}


def compressed(sample_pcap: Path, tmp_path: Path, suffix: str, require_tool=None) -> Path:
    path = tmp_path / f"sample.pcap.{suffix}"
    if suffix in LIBRARY:
        path.write_bytes(LIBRARY[suffix](sample_pcap.read_bytes()))
    else:
        require_tool(TOOLS[suffix][0])
        with path.open("wb") as out:
            subprocess.run([*TOOLS[suffix], str(sample_pcap)], stdout=out, check=True)
    return path


def columns(path: Path) -> tuple[np.ndarray, ...]:
    with FileSource(path) as source:
        batches = [b for b in source.batches() if b.count]
        assert source.warning is None and source.progress == 1.0
    return tuple(np.concatenate([getattr(b, name) for b in batches]) for name in ("ts_us", "caplen", "wirelen"))


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz", "zst", "lz4"])
def test_a_compressed_capture_reads_as_the_plain_one(sample_pcap: Path, tmp_path: Path, require_tool,
                                                     suffix: str) -> None:
    path = compressed(sample_pcap, tmp_path, suffix, require_tool)
    got, plain = columns(path), columns(sample_pcap)
    assert all(np.array_equal(a, b) for a, b in zip(got, plain, strict=True)) and got[0].size == SAMPLE_PACKETS


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz"])
def test_members_joined_end_to_end_are_one_capture(sample_pcap: Path, tmp_path: Path, monkeypatch,
                                                   suffix: str) -> None:
    """As `cat a.gz b.gz` makes them, with a member ending exactly where a read does, and zero
    padding after the last one (ignored, as gzip -d ignores it)."""
    data = sample_pcap.read_bytes()
    first = LIBRARY[suffix](data[:400_000])
    monkeypatch.setattr(decompress, "CHUNK", len(first))
    path = tmp_path / f"joined.pcap.{suffix}"
    path.write_bytes(first + LIBRARY[suffix](data[400_000:]) + bytes(512))
    assert columns(path)[0].size == SAMPLE_PACKETS


@pytest.mark.parametrize("suffix", ["gz", "xz", "zst"])
def test_a_cut_compressed_file_keeps_every_packet_before_the_cut(sample_pcap: Path, tmp_path: Path,
                                                                 require_tool, suffix: str) -> None:
    path = compressed(sample_pcap, tmp_path, suffix, require_tool)
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) // 2])
    with FileSource(path) as source:
        count = sum(b.count for b in source.batches())
        warning = source.warning
    # What a decompressor can make of the first half holds this many whole records.
    if suffix == "gz":
        prefix = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(whole[:len(whole) // 2])
        assert count == sum(end <= len(prefix) for end in record_ends(sample_pcap.read_bytes()))
    assert 0 < count < SAMPLE_PACKETS
    assert warning.startswith(f"{path}: reading stopped after packet {count:,}: ")
    assert ("cut short" in warning) if suffix != "zst" else warning.split(": ", 2)[2].startswith("zstd: ")


def test_what_is_no_capture_inside_or_no_compressed_data_at_all(tmp_path: Path) -> None:
    text = tmp_path / "notes.gz"
    text.write_bytes(gzip.compress(b"hello, this is no capture\n" * 10))
    with pytest.raises(CaptureError, match=r"notes\.gz is gzip-compressed, but what it holds is not a pcap or pcapng"):
        FileSource(text)
    header_only = tmp_path / "cut.gz"
    header_only.write_bytes(gzip.compress(b"x" * 1000)[:20])
    with pytest.raises(CaptureError, match=r"cannot read .*cut\.gz: its gzip data is damaged or cut short after 20 "):
        FileSource(header_only)


def test_a_missing_tool_is_named(sample_pcap: Path, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "sample.pcap.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(20))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CaptureError, match=r"is zstd-compressed and the zstd tool is not installed to read it"):
        FileSource(path)


def test_a_pipeline_and_an_early_stop_read_a_compressed_file(sample_pcap: Path, tmp_path: Path) -> None:
    # The workers are forked with the file open: a forked copy of a pipe's write end would keep
    # the reader waiting for the end of the data for ever.
    data = sample_pcap.read_bytes()
    path = tmp_path / "big.pcap.gz"
    path.write_bytes(gzip.compress(data + b"".join(data[24:] for _ in range(30)), compresslevel=1))
    plain, piped = tmp_path / "plain.json", tmp_path / "piped.json"
    run = [sys.executable, "-m", "netscope", "--headless", "--read-pcap"]
    subprocess.run([*run, str(sample_pcap), "--export-json", str(plain)], check=True, capture_output=True)
    result = subprocess.run([*run, str(compressed(sample_pcap, tmp_path, "gz")), "--workers", "2",
                             "--export-json", str(piped)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(piped.read_text()) == json.loads(plain.read_text())
    started = time.monotonic()
    result = subprocess.run([*run, str(path), "-c", "10", "--stats"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and re.search(r"Packets captured +10\n", result.stdout), result.stdout
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("suffix", ["gz", "zst"])
def test_progress_follows_the_packets_taken_not_the_decompressor(sample_pcap: Path, tmp_path: Path,
                                                                 require_tool, suffix: str) -> None:
    # The decompressor runs ahead by what its queue and the relay's pipe hold: all of this file.
    path = compressed(sample_pcap, tmp_path, suffix, require_tool)
    with FileSource(path, batch_packets=500) as source:
        shares = []
        for batch in source.batches():
            if batch.count:
                time.sleep(0.05)  # the decompressor is done by now
                shares.append(source.progress)
    assert 0.05 < shares[0] < 0.25 and shares == sorted(shares) and shares[-1] == 1.0


def test_a_gzip_capture_piped_in_exports_what_the_plain_file_does(sample_pcap: Path, tmp_path: Path) -> None:
    plain, piped = tmp_path / "plain.json", tmp_path / "piped.json"
    run = [sys.executable, "-m", "netscope", "--headless", "--read-pcap"]
    subprocess.run([*run, str(sample_pcap), "--export-json", str(plain)], check=True, capture_output=True)
    with compressed(sample_pcap, tmp_path, "gz").open("rb") as stdin:
        result = subprocess.run([*run, "-", "--export-json", str(piped)], stdin=stdin, capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # a stream arrives in other batches than the file, which moves the last bits of RTT averages
    keys = ("protocol", "endpoint_a", "endpoint_b", "packets_a_to_b", "packets_b_to_a", "bytes_a_to_b", "bytes_b_to_a")
    assert [{k: r[k] for k in keys} for r in json.loads(piped.read_text())] == \
        [{k: r[k] for k in keys} for r in json.loads(plain.read_text())]
