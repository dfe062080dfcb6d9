"""JSON-lines streams: whole lines on disk after every call, even when the disk fills mid-write."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from netscope.export.jsonl import JsonlWriter


class _FillsUp:
    """The real file, with room for `room` more bytes; then writes fail as on a full disk."""

    def __init__(self, fh, room: int) -> None:
        self.fh, self.room = fh, room

    def write(self, data) -> int:
        if not self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        taken = min(len(data), self.room)
        self.room -= taken
        return self.fh.write(bytes(data[:taken]))

    def fileno(self) -> int:
        return self.fh.fileno()

    def close(self) -> None:
        self.fh.close()


def test_lines_are_in_the_file_when_the_call_returns(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    writer = JsonlWriter(path)
    writer.write_many([{"kind": "syn_flood", "n": 1}, {"kind": "port_scan", "n": 2}])
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"kind": "syn_flood", "n": 1}, {"kind": "port_scan", "n": 2}]
    writer.close()
    assert writer.lines == 2


def test_a_write_cut_short_by_a_full_disk_leaves_only_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "expired.jsonl"
    writer = JsonlWriter(path)
    writer.write_many([{"flow": 1}])
    first = path.read_bytes()
    writer._fh = _FillsUp(writer._fh, room=15)  # part of the next lines fits, then the disk is full
    with pytest.raises(OSError, match="No space left"):
        writer.write_many([{"flow": 2, "padding": "x" * 20}, {"flow": 3}])
    assert path.read_bytes() == first  # the half line is cut away again
    writer.close()  # given up already: nothing more to fail
    with pytest.raises(ValueError, match="closed"):
        writer.write_many([{"flow": 4}])
