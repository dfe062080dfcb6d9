"""Which local process owns a flow's socket, for a live capture on this host (as bandwhich shows).

The packets do not say; the kernel does. /proc/net/{tcp,tcp6,udp,udp6} list the sockets of
this network namespace (the one the capture runs in) with their addresses and inode, and each
process's /proc/<pid>/fd links name the socket inodes it holds. Only the few flows on screen
are looked up, once per tick: the socket tables are read every time (they are what changes),
the fd scan only when a socket on screen has an inode not seen before, and then at most once
per RESCAN_S, since a socket of another namespace or one already closed stays unknown.

A flow between two local processes (over lo) has an owner at each end; a flow of another host
(a mirror port, a router) has none, even where a local socket listens on its port for any
address: such a wildcard socket only owns the ends whose address is this host's. Without root,
the processes of other users stay unnamed.
Once found, a flow's owners are remembered (the last REMEMBERED flows), so a connection keeps
its programs after either end closes; one that opens and closes between two ticks is never seen.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

Owner = tuple[int, str]  # (pid, command name)
FlowOwners = tuple[Owner | None, Owner | None]  # of endpoint A, of endpoint B
FlowKey = tuple[str, str, int, str, int]  # FlowRow.key: (proto, a_ip, a_port, b_ip, b_port)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PROC = Path("/proc")
RESCAN_S = 2.0
REMEMBERED = 10_000
TABLES = {"tcp": ("tcp", "tcp6"), "udp": ("udp", "udp6")}
TCP_LISTEN = "0A"  # st column: listening sockets own no connection


class SocketOwners:
    """Answers, per flow key, which process holds each end's socket."""

    def __init__(self, proc: Path = PROC, clock: Callable[[], float] = time.monotonic) -> None:
        self.proc = proc
        self.clock = clock
        self._owner_of_inode: dict[int, Owner] = {}
        self._last_scan = float("-inf")
        self._remembered: dict[FlowKey, FlowOwners] = {}  # insertion order: the oldest go first
        self._local: tuple[Network, ...] = ()  # this host's addresses, read again every RESCAN_S
        self._local_read = float("-inf")

    def owners(self, keys: Iterable[FlowKey]) -> dict[FlowKey, FlowOwners]:
        """Owners of endpoint A and endpoint B of each flow that has at least one on this host."""
        keys = list(keys)
        if not keys:
            return {}
        if self.clock() - self._local_read >= RESCAN_S:
            self._local, self._local_read = self._local_addresses(), self.clock()
        sockets = {proto: self._sockets(proto) for proto in TABLES if any(key[0] == proto for key in keys)}
        inodes = {key: (self._inode(sockets, key, a_side=True), self._inode(sockets, key, a_side=False))
                  for key in keys if key[0] in sockets}
        wanted = {inode for pair in inodes.values() for inode in pair if inode}
        if wanted - self._owner_of_inode.keys() and self.clock() - self._last_scan >= RESCAN_S:
            self._owner_of_inode = self._scan_fds()
            self._last_scan = self.clock()
        for key, (a, b) in inodes.items():
            pair = (self._owner_of_inode.get(a) if a else None, self._owner_of_inode.get(b) if b else None)
            if pair != (None, None):
                before = self._remembered.pop(key, (None, None))  # an end that closed keeps its program
                self._remembered[key] = (pair[0] or before[0], pair[1] or before[1])
        while len(self._remembered) > REMEMBERED:
            del self._remembered[next(iter(self._remembered))]
        return {key: self._remembered[key] for key in keys if key in self._remembered}

    # -- the kernel's socket tables --------------------------------------------------------
    def _sockets(self, proto: str) -> dict[tuple[str, ...], int]:
        """(local, remote) of connected sockets and (local,) of unconnected UDP ones -> inode.

        Endpoints stay in the tables' own hex text: a busy host lists thousands of sockets
        each tick, and only the few on screen are worth converting (see _forms).
        """
        table: dict[tuple[str, ...], int] = {}
        for name in TABLES[proto]:
            for line in _lines(self.proc / "net" / name)[1:]:  # under the column names
                fields = line.split()
                # inode 0: TIME_WAIT, owned by no one; a listening socket owns no connection
                if len(fields) < 10 or fields[9] == "0" or (proto == "tcp" and fields[3] == TCP_LISTEN):
                    continue
                local, remote = fields[1], fields[2]
                if not remote.endswith(":0000"):
                    table[(local, remote)] = int(fields[9])
                elif proto == "udp":
                    table.setdefault((local,), int(fields[9]))
        return table

    def _inode(self, sockets: dict[str, dict[tuple[str, ...], int]], key: FlowKey, a_side: bool) -> int | None:
        proto, a_ip, a_port, b_ip, b_port = key
        local, remote = ((a_ip, a_port), (b_ip, b_port)) if a_side else ((b_ip, b_port), (a_ip, a_port))
        table = sockets[proto]
        locals_, remotes = _forms(*local), _forms(*remote)
        for here in locals_:
            for there in remotes:
                if (inode := table.get((here, there))) is not None:
                    return inode
        for here in locals_:  # unconnected UDP, bound to this address
            if (inode := table.get((here,))) is not None:
                return inode
        if self._is_local(local[0]):  # ... or to any address of this host
            for here in (*_forms("0.0.0.0", local[1]), *_forms("::", local[1])):
                if (inode := table.get((here,))) is not None:
                    return inode
        return None

    def _is_local(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip.version == network.version and ip in network for network in self._local)

    def _local_addresses(self) -> tuple[Network, ...]:
        """This namespace's addresses: IPv4 from the routing trie's LOCAL entries (127/8 is one),
        IPv6 from the interface address list."""
        networks: list[Network] = []
        for previous, line in itertools.pairwise(_lines(self.proc / "net" / "fib_trie")):
            words = line.split()
            if words[1:] == ["host", "LOCAL"] and previous.strip().startswith("|--"):
                with contextlib.suppress(ValueError):
                    networks.append(ipaddress.ip_network(f"{previous.split()[-1]}{words[0]}", strict=False))
        for line in _lines(self.proc / "net" / "if_inet6"):
            with contextlib.suppress(ValueError, IndexError):
                networks.append(ipaddress.ip_network(bytes.fromhex(line.split()[0])))
        return tuple(dict.fromkeys(networks))

    # -- which process holds which socket ----------------------------------------------------
    def _scan_fds(self) -> dict[int, Owner]:
        owners: dict[int, Owner] = {}
        try:
            pids = [entry for entry in os.listdir(self.proc) if entry.isdigit()]
        except OSError:
            return owners
        for pid in pids:
            fd_dir = self.proc / pid / "fd"
            try:
                fds = os.listdir(fd_dir)
            except OSError:  # gone, or another user's without root
                continue
            links = [_link(fd_dir / fd) for fd in fds]
            inodes = [int(link[8:-1]) for link in links if link.startswith("socket:[")]
            if not inodes:
                continue
            try:
                name = (self.proc / pid / "comm").read_text().strip()
            except OSError:
                continue
            for inode in inodes:
                owners.setdefault(inode, (int(pid), name))
        return owners


def _lines(path: Path) -> list[str]:
    """A /proc file's lines; none where it is missing (another kernel, no IPv6) or unreadable."""
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def _link(path: Path) -> str:
    """Where an fd points; "" once it is closed (fds come and go while a process is scanned)."""
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _forms(address: str, port: int) -> tuple[str, ...]:
    """An endpoint as the socket tables write it: the address in the kernel's byte order, 32 bits
    at a time, then the port (`127.0.0.1:8080` -> `0100007F:1F90`); an IPv4 one also as the
    IPv4-mapped address a dual-stack socket of tcp6/udp6 shows."""
    ip = ipaddress.ip_address(address)
    mapped = (ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + ip.packed),) if ip.version == 4 else ()
    return tuple(f"{_kernel_hex(each.packed)}:{port:04X}" for each in (ip, *mapped))


def _kernel_hex(packed: bytes) -> str:
    return "".join(packed[i:i + 4][::-1].hex().upper() for i in range(0, len(packed), 4))
