"""Descriptor aliases (/dev/stdout) are written through the descriptor, never reopened or replaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netscope.paths import descriptor_alias, is_ordinary_file, open_output


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
