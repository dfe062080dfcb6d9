"""Reverse DNS for the addresses on screen during a live capture, as iftop and bandwhich do it.

Passive names (the DNS answers, SNI and Host the capture carries) come first; an address none
of them named is looked up with getnameinfo (the hosts file, then DNS) in background threads,
so a slow or unreachable DNS server never holds up a tick: the name shows from the tick after
the answer. Answers are kept for ANSWER_TTL_S, failures for FAILURE_TTL_S, and at most
MAX_PENDING lookups wait at a time (the rest are asked for again on a later tick).

Only what a screen shows is looked up, never a whole table (exports keep passive names only).
The queries this sends are themselves traffic the capture may see, as with iftop.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from netscope.analysis.names import FlowNames
from netscope.flow.records import FlowRow

ANSWER_TTL_S = 600.0
FAILURE_TTL_S = 300.0
MAX_PENDING = 64
MAX_KNOWN = 20_000  # addresses remembered; past it, expired ones go (all, if none has expired)
WORKERS = 4

Lookup = Callable[[str], str | None]


def getnameinfo_lookup(address: str) -> str | None:
    """The address's name, or None when it has none (NI_NAMEREQD: never the address itself)."""
    try:
        name = socket.getnameinfo((address, 0, 0, 0) if ":" in address else (address, 0), socket.NI_NAMEREQD)[0]
    except (OSError, UnicodeError):
        return None
    return name if name and name != address else None


class ReverseDns:
    """A cache of address -> name filled by daemon threads (they never delay the process's exit)."""

    def __init__(self, lookup: Lookup = getnameinfo_lookup, clock: Callable[[], float] = time.monotonic,
                 workers: int = WORKERS) -> None:
        self._lookup = lookup
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, tuple[str | None, float]] = {}  # address -> (name or None, expiry)
        self._pending: set[str] = set()
        self._queue: queue.Queue[str] = queue.Queue()
        for number in range(workers):
            threading.Thread(target=self._work, name=f"reverse-dns-{number}", daemon=True).start()

    def name(self, address: str) -> str | None:
        """The name known for `address`; None for now when it is unknown, and it gets asked."""
        with self._lock:
            known = self._known.get(address)
            if known is not None and known[1] > self._clock():
                return known[0]
            if address not in self._pending and len(self._pending) < MAX_PENDING:
                self._pending.add(address)
                self._queue.put(address)
        return None

    def fill(self, rows: Iterable[FlowRow], names: dict[tuple, FlowNames]) -> dict[tuple, FlowNames]:
        """`names` of these rows with each endpoint no passive name covers named by reverse DNS."""
        filled = dict(names)
        for row in rows:
            seen = names.get(row.key) or FlowNames()
            name_a = seen.name_a or self.name(row.a_ip)
            name_b = seen.name_b or self.name(row.b_ip)
            if (name_a, name_b) != (seen.name_a, seen.name_b):
                filled[row.key] = replace(seen, name_a=name_a, name_b=name_b)
        return filled

    def _work(self) -> None:
        while True:
            address = self._queue.get()
            name = self._lookup(address)
            with self._lock:
                now = self._clock()
                if len(self._known) >= MAX_KNOWN:
                    self._known = {key: entry for key, entry in self._known.items() if entry[1] > now}
                    if len(self._known) >= MAX_KNOWN:
                        self._known = {}
                self._known[address] = (name, now + (ANSWER_TTL_S if name is not None else FAILURE_TTL_S))
                self._pending.discard(address)
