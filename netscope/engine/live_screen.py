"""What a live capture's screen adds to each tick's top rows: the local programs holding their
sockets (capture/sockets.py) and reverse DNS names where no passive name is known (reverse_dns.py).

Both ask the host about the rows on screen only, so a replay (whose traffic is not this host's
now) and a headless run do without; one process and a pipeline's reader use the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from netscope.analysis.names import FlowNames
from netscope.capture.sockets import FlowOwners, SocketOwners
from netscope.engine.reverse_dns import ReverseDns
from netscope.flow.records import FlowRow


class LiveScreenExtras:
    def __init__(self, socket_owners: bool, reverse_dns: bool) -> None:
        self.sockets = SocketOwners() if socket_owners else None
        self.reverse_dns = ReverseDns() if reverse_dns else None

    @classmethod
    def for_source(cls, kind: str, socket_owners: bool, reverse_dns: bool) -> LiveScreenExtras | None:
        """The extras a source of this kind ("live" or "file") gets; None when there are none."""
        live = kind == "live"
        return cls(socket_owners, reverse_dns) if live and (socket_owners or reverse_dns) else None

    def names(self, rows: Sequence[FlowRow], names: dict[tuple, FlowNames]) -> dict[tuple, FlowNames]:
        return names if self.reverse_dns is None else self.reverse_dns.fill(rows, names)

    def address_names(self, addresses: list[str], passive: list[str | None]) -> list[str | None]:
        """`passive` names of the addresses, each one they lack asked of reverse DNS."""
        if self.reverse_dns is None:
            return passive
        return [name or self.reverse_dns.name(address) for address, name in zip(addresses, passive, strict=True)]

    def owners(self, rows: Sequence[FlowRow]) -> dict[tuple, FlowOwners]:
        return {} if self.sockets is None else self.sockets.owners(row.key for row in rows)
