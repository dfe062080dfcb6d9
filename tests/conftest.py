"""Shared fixtures for tests that need real capture files.

Fixtures:
    sample_pcap     Path of the real capture bundled with the package (netscope/data/sample.pcap,
                    3413 Ethernet packets, classic pcap, microsecond timestamps). Read-only.
    make_variant    make_variant(kind, source=None) -> Path: a rewritten copy of `source`
                    (default: the sample) in the test's tmp_path, made with the Wireshark/tcpreplay
                    tools; skips the test when the tool is missing. Kinds are listed in VARIANTS:
                      "pcapng"      same packets as pcapng                  (editcap -F pcapng)
                      "nsec"        classic pcap, nanosecond timestamps     (editcap -F nsecpcap)
                      "snap96"      classic pcap, every packet cut to 96 B  (editcap -F pcap -s 96)
                      "pcapng-snap96" the same cut, as pcapng               (editcap -F pcapng -s 96)
                      "modpcap"     Kuznetzov's modified pcap (24-byte records) (editcap -F modpcap)
                      "modpcap-snap96" the same cut, in that format         (editcap -F modpcap -s 96)
                      "snap68"      cut to 68 B, tcpdump's old default: TCP options, and
                                    over IPv6 the window, cut off           (editcap -F pcap -s 68)
                      "vlan"        one 802.1Q tag (VLAN 100) on every frame (tcprewrite)
                      "truncated"   the first half of the file, cut mid-record (head -c)
    require_tool    require_tool(name) -> path: skips the test when the program is not on PATH.
    require_root    skips the test unless it runs as root (live capture, namespaces).
    veth_namespace  (namespace, host interface, host address, namespace address): a veth pair
                    into a network namespace of the test's own (MTU 1500), removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest

SAMPLE_PCAP = Path(str(resources.files("netscope") / "data" / "sample.pcap"))

# kind -> (tool, argument list built from source and destination paths)
VARIANTS: dict[str, tuple[str, Callable[[Path, Path], list[str]]]] = {
    "pcapng": ("editcap", lambda src, dst: ["editcap", "-F", "pcapng", str(src), str(dst)]),
    "nsec": ("editcap", lambda src, dst: ["editcap", "-F", "nsecpcap", str(src), str(dst)]),
    "snap96": ("editcap", lambda src, dst: ["editcap", "-F", "pcap", "-s", "96", str(src), str(dst)]),
    "pcapng-snap96": ("editcap", lambda src, dst: ["editcap", "-F", "pcapng", "-s", "96", str(src), str(dst)]),
    "modpcap": ("editcap", lambda src, dst: ["editcap", "-F", "modpcap", str(src), str(dst)]),
    "modpcap-snap96": ("editcap", lambda src, dst: ["editcap", "-F", "modpcap", "-s", "96", str(src), str(dst)]),
    "snap68": ("editcap", lambda src, dst: ["editcap", "-F", "pcap", "-s", "68", str(src), str(dst)]),
    "vlan": ("tcprewrite", lambda src, dst: ["tcprewrite", "--enet-vlan=add", "--enet-vlan-tag=100",
                                             "--enet-vlan-cfi=0", "--enet-vlan-pri=0",
                                             "-i", str(src), "-o", str(dst)]),
    "truncated": ("head", lambda src, dst: ["sh", "-c", f'head -c {src.stat().st_size // 2} "{src}" > "{dst}"']),
}


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture
def require_tool() -> Callable[[str], str]:
    return _require_tool


@pytest.fixture(scope="session")
def sample_pcap() -> Path:
    return SAMPLE_PCAP


@pytest.fixture
def make_variant(tmp_path: Path) -> Callable[..., Path]:
    def make(kind: str, source: Path | None = None) -> Path:
        tool, command = VARIANTS[kind]
        _require_tool(tool)
        src = source or SAMPLE_PCAP
        dst = tmp_path / f"{src.stem}-{kind}{'.pcapng' if 'pcapng' in kind else '.pcap'}"
        subprocess.run(command(src, dst), check=True, capture_output=True)
        return dst

    return make


@pytest.fixture
def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (live capture / network namespaces)")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def veth_namespace(require_root, require_tool) -> Iterator[tuple[str, str, str, str]]:
    """(namespace, host-side interface, host address, namespace address); removed afterwards."""
    require_tool("ip")
    tag = f"{os.getpid() % 100000}"
    namespace, host_if, peer_if = f"nscap{tag}", f"nsh{tag}", f"nsp{tag}"
    host_ip, peer_ip = "10.231.77.1", "10.231.77.2"
    try:
        _ip("netns", "add", namespace)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create a network namespace: {exc.stderr.decode().strip()}")
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        _ip("link", "set", peer_if, "netns", namespace)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("netns", "exec", namespace, "ip", "addr", "add", f"{peer_ip}/30", "dev", peer_if)
        _ip("netns", "exec", namespace, "ip", "link", "set", peer_if, "up")
        yield namespace, host_if, host_ip, peer_ip
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
