"""CPU and memory of netscope in three states, as Kubeshark publishes them.

Usage: python benches/bench_resources.py [--seconds S] [--packets N]   (needs root and tmux)

  idle            the TUI capturing live on `lo` with nothing to see
  loaded headless a headless replay of a large capture as fast as possible
  loaded TUI      the same replay in the TUI (engine process + screen), in a tmux pane
CPU % is the share of one core used over the sampling window by the netscope process and its
children (engine, pipeline workers); RSS is their summed resident memory, anonymous and file-backed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import build_large_capture

TICKS = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split() if Path(f"/proc/{pid}").exists() else []:
        out += tree(int(child))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            continue
    return total / TICKS


def rss_mib(pids: list[int]) -> tuple[float, float]:
    """(anonymous, file-backed) resident MiB: a replayed capture is memory-mapped, and its
    page-cache pages count as file-backed RSS although the kernel can drop them at will."""
    anon = file = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    anon += int(line.split()[1])
                elif line.startswith(("RssFile:", "RssShmem:")):
                    file += int(line.split()[1])
        except OSError:
            continue
    return anon / 1024, file / 1024


def sample(root: int, seconds: float) -> tuple[float, float, float]:
    pids = tree(root)
    start_cpu, start = cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    pids = tree(root)
    memory = rss_mib(pids)  # before the last CPU read, while the processes surely still run
    used = cpu_seconds(pids) - start_cpu
    return 100 * used / (time.monotonic() - start), *memory


def in_tmux(command: str) -> int:
    subprocess.run(["tmux", "-L", "nsbench", "new-session", "-d", "-x", "120", "-y", "40", command], check=True)
    time.sleep(0.5)
    pane_pid = subprocess.run(["tmux", "-L", "nsbench", "list-panes", "-F", "#{pane_pid}"], capture_output=True,
                              text=True, check=True).stdout.split()[0]
    return int(pane_pid)


def stop_tmux() -> None:
    subprocess.run(["tmux", "-L", "nsbench", "kill-server"], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--packets", type=int, default=6_000_000)
    args = parser.parse_args()
    netscope = f"{sys.executable} -m netscope"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.pcap"
        build_large_capture(args.packets, path)
        try:
            pane = in_tmux(f"{netscope} -i lo -f 'udp port 9'")
            time.sleep(3)
            rows.append(("idle (TUI, live on lo)", *sample(pane, args.seconds)))
        finally:
            stop_tmux()
        proc = subprocess.Popen([*netscope.split(), "--headless", "-q", "--read-pcap", str(path)],
                                stdout=subprocess.DEVNULL)
        time.sleep(1.0)
        rows.append(("loaded headless (replay, max speed)", *sample(proc.pid, args.seconds)))
        proc.kill()
        proc.wait()
        try:
            pane = in_tmux(f"{netscope} --read-pcap {path} --replay-speed max")
            time.sleep(2.5)
            rows.append(("loaded TUI (replay, max speed)", *sample(pane, args.seconds)))
        finally:
            stop_tmux()
    print(f"{'state':<40}{'CPU % of one core':>18}{'RSS anon MiB':>14}{'RSS file MiB':>14}")
    for name, cpu, anon, file in rows:
        print(f"{name:<40}{cpu:>18.0f}{anon:>14.0f}{file:>14.0f}")


if __name__ == "__main__":
    main()
