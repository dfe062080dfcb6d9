"""Descriptor aliases (/dev/stdout) are written through the descriptor, never reopened or replaced;
segment names of a rotating capture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netscope.paths import (
    descriptor_alias,
    existing_segments,
    is_ordinary_file,
    is_segment_name,
    open_output,
    segment_path,
)


@pytest.mark.parametrize(("path", "fd"), [
    ("/dev/stdout", 1), ("/dev/stderr", 2), ("/dev/fd/3", 3), ("/proc/self/fd/7", 7), ("/dev/null", None),
    ("stdout", None), ("/tmp/dev/stdout", None),
])
def test_descriptor_aliases(path: str, fd: int | None) -> None:
    assert descriptor_alias(path) == fd


def test_ordinary_files_are_regular_or_not_there_yet(tmp_path: Path) -> None:
    (tmp_path / "there.json").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    assert is_ordinary_file(tmp_path / "there.json") and is_ordinary_file(tmp_path / "new.json")
    assert not is_ordinary_file(tmp_path / "fifo")
    assert not is_ordinary_file("/dev/null") and not is_ordinary_file("/dev/stdout")


def test_an_alias_shares_the_descriptors_offset(tmp_path: Path) -> None:
    """What the descriptor wrote before stays, and what it writes after comes after ours."""
    target = tmp_path / "redirected.txt"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, b"before\n")
        with open_output(f"/dev/fd/{fd}", "w") as fh:
            fh.write("ours\n")
        os.write(fd, b"after\n")
    finally:
        os.close(fd)
    assert target.read_text() == "before\nours\nafter\n"


def test_segment_names_and_scan(tmp_path: Path) -> None:
    assert segment_path(Path("/x/capture.pcap"), 7) == Path("/x/capture.000007.pcap")
    assert segment_path(Path("dump"), 1_234_567) == Path("dump.1234567")
    for name in ("cap.000010.pcap", "cap.2.pcap", "cap.1234567.pcap", "cap.3.pcapng", "cap.000004.pcap.tmp"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "cap.000005.pcap").mkdir()
    assert existing_segments(tmp_path / "cap.pcap") == [
        (2, tmp_path / "cap.2.pcap"), (10, tmp_path / "cap.000010.pcap"), (1_234_567, tmp_path / "cap.1234567.pcap")]


def test_segment_names_are_recognised_through_symlinks(tmp_path: Path) -> None:
    ring = tmp_path / "ring" / "cap.pcap"
    ring.parent.mkdir()
    (tmp_path / "elsewhere").symlink_to(ring.parent)
    assert is_segment_name(ring, ring.parent / "cap.000001.pcap")
    assert is_segment_name(ring, tmp_path / "elsewhere" / "cap.42.pcap")
    assert is_segment_name(tmp_path / "elsewhere" / "cap.pcap", ring.parent / "cap.7.pcap")
    for other in ("cap.pcap", "cap.000001.pcapng", "cap.x.pcap", "other.000001.pcap"):
        assert not is_segment_name(ring, ring.parent / other)
    assert not is_segment_name(ring, tmp_path / "cap.000001.pcap")
