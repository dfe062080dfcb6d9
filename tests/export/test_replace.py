"""Exports are renamed into place: a failed write leaves the previous file, and no half of a new one."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from netscope.export import flows as flows_module
from netscope.export.flows import write_csv, write_json
from netscope.export.replace import replacing

from .test_flows import two_flows


def test_a_write_that_fails_leaves_the_previous_export_and_no_partial_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "flows.json"
    path.write_text('[{"earlier": "run"}]\n')

    def disk_full(*_args):  # "[" is written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")
        yield

    monkeypatch.setattr(flows_module, "flow_records", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_json(two_flows(), path)
    assert path.read_text() == '[{"earlier": "run"}]\n'
    assert [p.name for p in tmp_path.iterdir()] == ["flows.json"]


def test_the_new_content_appears_whole(tmp_path: Path) -> None:
    json_path, csv_path = tmp_path / "flows.json", tmp_path / "flows.csv"
    json_path.write_text("old")
    write_json(two_flows(), json_path)
    write_csv(two_flows(), csv_path)
    assert len(json.loads(json_path.read_text())) == 2
    assert len(csv_path.read_text().splitlines()) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flows.csv", "flows.json"]


def test_modes_are_kept_for_an_existing_file_and_follow_the_umask_for_a_new_one(tmp_path: Path) -> None:
    existing, new = tmp_path / "existing.json", tmp_path / "new.json"
    existing.write_text("x")
    existing.chmod(0o640)
    old_umask = os.umask(0o022)
    try:
        write_json(two_flows(), existing)
        write_json(two_flows(), new)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    assert stat.S_IMODE(new.stat().st_mode) == 0o644


def test_a_symlink_stays_and_its_file_is_replaced(tmp_path: Path) -> None:
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old")
    link.symlink_to(real)
    write_json(two_flows(), link)
    assert link.is_symlink() and len(json.loads(real.read_text())) == 2


def test_a_fifo_is_written_in_place(tmp_path: Path) -> None:
    """Like --export-json /dev/stdout piped on: a rename would replace the FIFO itself."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with replacing(fifo) as fh:
        fh.write("through the pipe\n")
    reader.join(timeout=10)
    assert received == ["through the pipe\n"] and stat.S_ISFIFO(fifo.stat().st_mode)
