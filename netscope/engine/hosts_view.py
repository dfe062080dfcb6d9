"""The Hosts view's part of a tick, the same for one process and a pipeline's merged shards:
the top addresses by the screen's ranking, and a name for each that has one."""

from __future__ import annotations

from collections.abc import Callable

from netscope.flow.hosts import HostColumns
from netscope.flow.records import HostRow

NamesOf = Callable[[list[str]], list["str | None"]]  # addresses -> their names, None where unnamed


def host_view(hosts: HostColumns, by: str, n: int, interval_s: float,
              names_of: NamesOf) -> tuple[tuple[HostRow, ...], dict[str, str]]:
    rows = tuple(hosts.top(n, by).rows(interval_s))
    addresses = [row.address for row in rows]
    names = {address: name for address, name in zip(addresses, names_of(addresses), strict=True) if name}
    return rows, names
