"""A stop signal before the run has begun (here: waiting for a FIFO's writer, which can take
forever) ends the process at once with one line and the signal's exit status, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize(("signum", "name"), [(signal.SIGINT, "Interrupt"), (signal.SIGTERM, "Termination request"),
                                              (signal.SIGHUP, "Hangup")])
def test_a_stop_while_waiting_for_a_fifo_writer_is_one_line(tmp_path: Path, signum: int, name: str) -> None:
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "flows.json"
    process = subprocess.Popen([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(fifo),
                                "--export-json", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 30
    while not _waits_on_fifo(process.pid):  # netscope has started and is blocked in the open
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signum
    assert stderr == f"{name} received, stopping\n" and stdout == ""
    assert not out.exists()  # nothing had begun: no empty export pretending to be a result


def _waits_on_fifo(pid: int) -> bool:
    """Whether a thread of `pid` is blocked in open() (of the FIFO: its writer has not come)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            syscall = (task / "syscall").read_text().split()
        except OSError:
            continue
        if syscall and syscall[0] == "257":  # openat, blocked: the relay thread opening the FIFO
            return True
    return False
