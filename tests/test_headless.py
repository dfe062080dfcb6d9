"""The headless report: its [stats] line, and what happens when its reader (or an output's)
goes away: `netscope ... | head -3`."""

from __future__ import annotations

import io
import json
import os
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from netscope.config import Config
from netscope.headless import HeadlessPrinter
from tests.capture.test_pcapfile import pcapng_block
from tests.ui.fake_link import snapshot


def run_with_stdout_closed(*args: str, timeout: float = 60, headless: bool = True) -> subprocess.CompletedProcess:
    """Standard output is a pipe whose reader has already gone, so the first line written fails
    with EPIPE: what `| head -1` does a moment later, without the race."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        command = [sys.executable, "-m", "netscope", *(["--headless"] if headless else []), *args]
        return subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=timeout)
    finally:
        os.close(write_end)


def test_a_replay_whose_report_is_cut_short_still_writes_whole_exports(sample_pcap: Path, tmp_path: Path) -> None:
    out = tmp_path / "flows.json"
    result = run_with_stdout_closed("--read-pcap", str(sample_pcap), "--stats", "--export-json", str(out))
    assert result.returncode == 0 and result.stderr == ""
    assert len(json.loads(out.read_text())) == 165  # every flow of the file, not the ones before the cut


def test_a_replay_with_nothing_but_its_report_stops_quietly(sample_pcap: Path) -> None:
    result = run_with_stdout_closed("--read-pcap", str(sample_pcap), "--stats")
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.timeout(60)
def test_a_live_capture_whose_reader_goes_stops_and_writes_its_exports(require_root, tmp_path: Path) -> None:
    out = tmp_path / "live.json"
    result = run_with_stdout_closed("-i", "lo", "--stats", "--export-json", str(out), timeout=30)
    assert result.returncode == 0 and result.stderr == ""
    assert isinstance(json.loads(out.read_text()), list)


@pytest.mark.parametrize("args", [("-l",), ("--synthetic-flows", "10")])
def test_listings_whose_reader_goes_end_quietly(args: tuple[str, ...]) -> None:
    result = run_with_stdout_closed(*args, headless=False)
    assert result.returncode == 0 and result.stderr == ""  # was a BrokenPipeError traceback


@pytest.mark.timeout(60)
def test_a_live_capture_whose_pcap_reader_goes_stops_as_tcpdump_does(require_root, tmp_path: Path) -> None:
    """`netscope -i lo --write-pcap - | tcpdump -r - -c 10`: when the reader has had enough, the
    capture ends with status 0, the flow export written (was "cannot write -: Broken pipe", 1)."""
    out = tmp_path / "live.json"
    process = subprocess.Popen([sys.executable, "-m", "netscope", "--headless", "-i", "lo", "-f", "udp port 9",
                                "--write-pcap", "-", "--export-json", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=False)
    assert len(process.stdout.read(24)) == 24  # the pcap file header: the capture is open
    process.stdout.close()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    deadline = time.monotonic() + 30
    while process.poll() is None:
        assert time.monotonic() < deadline, "the capture went on after its reader had gone"
        sender.sendto(b"x" * 100, ("127.0.0.1", 9))
        time.sleep(0.01)
    sender.close()
    stderr = process.stderr.read().decode()
    assert process.returncode == 0 and "error:" not in stderr
    assert "Export (pcap, incomplete)" in stderr
    assert sum(flow["packets_total"] for flow in json.loads(out.read_text())) > 0


def test_the_stats_line_gives_each_drop_count_since_the_last_line_and_in_total() -> None:
    """As the reference prints it (§7.1; §6.7 adds the pipeline's dispatch drops first)."""
    for pipeline, dispatch in ((False, ""), (True, "drops=7 (total=9) | ")):
        console = Console(file=io.StringIO(), width=200)
        config = Config().replace("stats", enabled=True).replace("pipeline", enabled=pipeline)
        printer = HeadlessPrinter(config, console, None)
        printer(snapshot(1, kernel_dropped=5, if_dropped=1, dispatch_dropped=2))
        printer(snapshot(2, kernel_dropped=12, if_dropped=1, dispatch_dropped=9))
        lines = [line for line in console.file.getvalue().splitlines() if line.startswith("[stats] ")]
        first_dispatch = "drops=2 (total=2) | " if pipeline else ""
        assert lines[0].endswith(f" flows | {first_dispatch}kdrop=5 (total=5) ifdrop=1 (total=1)")
        assert lines[1].endswith(f" flows | {dispatch}kdrop=7 (total=12) ifdrop=0 (total=1)")


def test_a_capture_whose_first_packet_is_unreadable_is_the_error_alone(tmp_path: Path) -> None:
    """No summary of zeros above the error line (the capture's first packet names no interface)."""
    path = tmp_path / "first-bad.pcapng"
    shb = pcapng_block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = pcapng_block("<", 1, struct.pack("<HHI", 1, 0, 0))
    epb = pcapng_block("<", 6, struct.pack("<IIIII", 1, 0, 1, 60, 60) + bytes(60))
    path.write_bytes(shb + idb + epb * 3)
    result = subprocess.run([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Packets captured" not in result.stdout
    assert result.stderr.startswith(f"error: cannot read {path}: a packet arrived on interface 1")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(("write_pcap", "workers"), [(False, "0"), (True, "0"), (False, "2")])
def test_ctrl_c_right_after_traffic_keeps_what_the_kernel_already_captured(require_root, tmp_path: Path,
                                                                          write_pcap: bool, workers: str) -> None:
    """Datagrams the kernel has put in the capture ring when Ctrl-C comes are counted, exported
    and written, not dropped with the ring (tcpdump loses them: its read waits for the block)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        port = receiver.getsockname()[1]
        out, pcap = tmp_path / "flows.json", tmp_path / "out.pcap"
        process = subprocess.Popen(
            [sys.executable, "-m", "netscope", "--headless", "-i", "lo", "-f", f"udp port {port}",
             "--export-json", str(out), "--workers", workers, *(["--write-pcap", str(pcap)] if write_pcap else [])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert process.stdout.readline().startswith("netscope")  # capturing
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for _ in range(50):
                    sender.sendto(b"x" * 10, ("127.0.0.1", port))
            process.send_signal(signal.SIGINT)  # at once: the datagrams sit in the kernel's ring
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr
    assert sum(flow["packets_total"] for flow in json.loads(out.read_text())) == 50
    if write_pcap:
        assert len(subprocess.run(["tcpdump", "-r", str(pcap), "-n"], capture_output=True, text=True,
                                  check=True).stdout.splitlines()) == 50


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers", ["0", "2"])
def test_top_hosts_lines_follow_each_stats_line_on_a_live_capture(require_root, workers: str) -> None:
    """`--top-hosts`: the addresses that moved most in the interval; 127.0.0.1 to itself is one host, one flow.
    Each line stays one line in a pipe narrower than it (rich wrapped them at the width)."""
    flags = ["--pipeline", "--workers", workers] if workers != "0" else []
    process = subprocess.Popen([sys.executable, "-m", "netscope", "--headless", "-i", "lo", "-f", "udp port 9",
                                "--stats", "--stats-interval-ms", "200", "--top-flows", "1", "--top-hosts", "2",
                                *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "60"})  # narrower than a [stats] line: not cut
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lines: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    try:
        while not any(line.startswith("  host 1. ") for line in lines):
            assert time.monotonic() < deadline, lines
            sender.sendto(b"x" * 958, ("127.0.0.1", 9))  # 1,000 bytes on the wire
            if selector.select(timeout=0.01):
                lines.append(process.stdout.readline().rstrip("\n"))
    finally:
        sender.close()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    at = next(i for i, line in enumerate(lines) if line.startswith("  host 1. "))
    assert re.fullmatch(r"  host 1\. 127\.0\.0\.1 \d+\.\d\d Mbps \(1 flows\)", lines[at])
    assert re.fullmatch(r"  1\. udp 127\.0\.0\.1:9 <-> 127\.0\.0\.1:\d+ \d+\.\d\d Mbps", lines[at - 1])
    assert lines[at - 2].startswith("[stats] ")
    assert not any(line.startswith("  host 2. ") for line in lines)  # one address moved
