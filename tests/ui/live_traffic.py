"""Traffic on lo for the live screen tests: an iperf3 server and a client sending to it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def iperf_on_lo(port: int, seconds: int) -> Iterator[tuple[int, int]]:
    """(server pid, client pid) while the client sends 2 Mb/s for `seconds`; both killed after."""
    if shutil.which("iperf3") is None:
        pytest.skip("needs iperf3")
    server = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port), "-B", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    client = subprocess.Popen(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-b", "2M"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield server.pid, client.pid
    finally:
        for process in (client, server):
            process.kill()
            process.wait()
