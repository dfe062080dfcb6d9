"""SocketOwners: which process holds a flow's socket, from this process's real sockets and from a made-up /proc."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from netscope.capture.sockets import SocketOwners, _forms

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def _line(local: str, remote: str, state: str, inode: int) -> str:
    return f"   0: {local} {remote} {state} 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0\n"


FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 127.0.0.0
        /8 host LOCAL
     |-- 10.0.0.9
        /32 host LOCAL
     |-- 10.0.0.255
        /32 link BROADCAST
"""


def _fake_proc(tmp_path: Path, tables: dict[str, list[str]], processes: dict[int, tuple[str, list[int]]]) -> Path:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "fib_trie").write_text(FIB_TRIE)
    (tmp_path / "net" / "if_inet6").write_text("00000000000000000000000000000001 01 80 10 80       lo\n")
    for name in ("tcp", "tcp6", "udp", "udp6"):
        (tmp_path / "net" / name).write_text(HEADER + "".join(tables.get(name, [])))
    for pid, (comm, inodes) in processes.items():
        fd = tmp_path / str(pid) / "fd"
        fd.mkdir(parents=True)
        (tmp_path / str(pid) / "comm").write_text(comm + "\n")
        (fd / "0").symlink_to("/dev/null")
        for number, inode in enumerate(inodes, 3):
            (fd / str(number)).symlink_to(f"socket:[{inode}]")
    return tmp_path


def test_the_kernel_s_hex_endpoints():
    assert _forms("127.0.0.1", 8080) == ("0100007F:1F90", "0000000000000000FFFF00000100007F:1F90")
    assert _forms("::1", 443) == ("00000000000000000000000001000000:01BB",)


def test_owners_of_connected_unconnected_and_dual_stack_sockets(tmp_path: Path):
    proc = _fake_proc(tmp_path, {
        "tcp": [_line("0100007F:1F90", "0100007F:C350", "01", 11),   # 127.0.0.1:8080 <- 127.0.0.1:50000
                _line("0100007F:C350", "0100007F:1F90", "01", 12),
                _line("00000000:0016", "00000000:0000", "0A", 13),   # listening on 22: owns no connection
                _line("0100007F:D431", "0100007F:0016", "06", 0)],   # TIME_WAIT: nobody's
        "tcp6": [_line("0000000000000000FFFF00000200000A:01BB", "0000000000000000FFFF00000100000A:9C40", "01", 21)],
        "udp": [_line("00000000:0035", "00000000:0000", "07", 31)],  # 0.0.0.0:53, unconnected
        "udp6": [_line("00000000000000000000000000000000:14E9", "00000000000000000000000000000000:0000", "07", 32)],
    }, {100: ("nginx", [11, 13, 21]), 200: ("curl", [12]), 300: ("dnsmasq", [31]), 400: ("avahi", [32])})
    owners = SocketOwners(proc).owners([
        ("tcp", "127.0.0.1", 8080, "127.0.0.1", 50000),
        ("tcp", "10.0.0.1", 40000, "10.0.0.2", 443),  # a dual-stack server socket in tcp6
        ("udp", "10.0.0.9", 53, "192.168.1.1", 40001),  # this host's DNS server, on 0.0.0.0
        ("udp", "10.0.0.5", 40000, "8.8.8.8", 53),  # another host's query, routed through: nobody's here
        ("udp", "::1", 5353, "::1", 40002),  # [::]:5353
        ("tcp", "127.0.0.1", 22, "127.0.0.1", 54321),  # closed: only a TIME_WAIT entry
        ("tcp", "192.0.2.1", 1, "192.0.2.2", 2),  # another host's flow
    ])
    assert owners == {
        ("tcp", "127.0.0.1", 8080, "127.0.0.1", 50000): ((100, "nginx"), (200, "curl")),
        ("tcp", "10.0.0.1", 40000, "10.0.0.2", 443): (None, (100, "nginx")),
        ("udp", "10.0.0.9", 53, "192.168.1.1", 40001): ((300, "dnsmasq"), None),
        ("udp", "::1", 5353, "::1", 40002): ((400, "avahi"), None),
    }


def test_unknown_sockets_rescan_the_processes_at_most_every_two_seconds(tmp_path: Path):
    proc = _fake_proc(tmp_path, {"tcp": [_line("0100007F:1F90", "0100007F:C350", "01", 11)]}, {})
    now = [0.0]
    owners = SocketOwners(proc, clock=lambda: now[0])
    key = ("tcp", "127.0.0.1", 8080, "127.0.0.1", 50000)
    assert owners.owners([key]) == {}
    fd = proc / "100" / "fd"
    fd.mkdir(parents=True)
    (proc / "100" / "comm").write_text("late\n")
    (fd / "3").symlink_to("socket:[11]")
    now[0] = 1.0
    assert owners.owners([key]) == {}  # not rescanned yet
    now[0] = 2.5
    assert owners.owners([key]) == {key: ((100, "late"), None)}


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_this_process_s_own_tcp_and_udp_sockets():
    comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    me = (os.getpid(), comm)
    with socket.create_server(("127.0.0.1", 0)) as server, \
            socket.create_connection(server.getsockname()) as client, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        accepted, _ = server.accept()
        udp.bind(("0.0.0.0", 0))
        with accepted:
            port, client_port = server.getsockname()[1], client.getsockname()[1]
            udp_port = udp.getsockname()[1]
            tcp_key = ("tcp", "127.0.0.1", min(port, client_port), "127.0.0.1", max(port, client_port))
            udp_key = ("udp", "127.0.0.1", udp_port, "127.0.0.2", 9)
            owners = SocketOwners().owners([tcp_key, udp_key])
    assert owners == {tcp_key: (me, me), udp_key: (me, None)}


def test_a_flow_keeps_its_owners_after_its_socket_closes(tmp_path: Path, monkeypatch):
    proc = _fake_proc(tmp_path, {"tcp": [_line("0100007F:1F90", "0100007F:C350", "01", 11)]}, {100: ("curl", [11])})
    owners = SocketOwners(proc)
    key, other = ("tcp", "127.0.0.1", 8080, "127.0.0.1", 50000), ("tcp", "127.0.0.1", 1, "127.0.0.1", 2)
    assert owners.owners([key]) == {key: ((100, "curl"), None)}
    (proc / "net" / "tcp").write_text(HEADER + _line("0100007F:C350", "0100007F:1F90", "01", 12))
    (proc / "100" / "fd" / "4").symlink_to("socket:[12]")  # curl's end closed, the other end is curl's too
    owners._last_scan = float("-inf")
    assert owners.owners([key, other]) == {key: ((100, "curl"), (100, "curl"))}
    (proc / "net" / "tcp").write_text(HEADER)  # closed
    assert owners.owners([key, other]) == {key: ((100, "curl"), (100, "curl"))}
    monkeypatch.setattr("netscope.capture.sockets.REMEMBERED", 0)
    assert owners.owners([key]) == {}  # the oldest are forgotten past the limit
