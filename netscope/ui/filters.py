"""The `/` display filter: which of the received rows the table shows.

The language is netscope.flow.query's (host, port, proto and state terms, `!` negates, bare
words by their shape). The engine already applied the terms it can evaluate over the whole
flow table, so the rows that arrive are the top N of those matches; here every term is
applied again to each row, names and parts of addresses included.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from netscope.analysis.names import FlowNames
from netscope.engine.snapshot import FlowOwners
from netscope.flow.query import QueryError, host_network, port_range, protocol, split_terms, state_prefix
from netscope.flow.records import FlowRow
from netscope.ui.names import searchable

FilterError = QueryError  # raised while the filter being typed cannot work yet

Test = Callable[[FlowRow, FlowNames | None, FlowOwners | None], bool]  # one term: a row, its names, its programs


@dataclass(frozen=True)
class Term:
    key: str
    value: str
    negated: bool
    test: Test

    def matches(self, row: FlowRow, names: FlowNames | None = None, owners: FlowOwners | None = None) -> bool:
        return self.test(row, names, owners) != self.negated


@dataclass(frozen=True)
class DisplayFilter:
    text: str
    terms: tuple[Term, ...]

    def matches(self, row: FlowRow, names: FlowNames | None = None, owners: FlowOwners | None = None) -> bool:
        """Whether the table shows `row`; `names` are what the engine saw for it, `owners` the
        programs at its ends (live), if anything."""
        return all(term.matches(row, names, owners) for term in self.terms)

    def __bool__(self) -> bool:
        return bool(self.terms)


NO_FILTER = DisplayFilter("", ())


def _host_test(value: str) -> Test:
    network = host_network(value)
    if network is None:
        needle = value.lower()
        return lambda row, names, _owners: (needle in row.a_ip.lower() or needle in row.b_ip.lower()
                                            or any(needle in name for name in searchable(names)))
    return lambda row, _names, _owners: any(
        (address := ipaddress.ip_address(ip)).version == network.version and address in network
        for ip in (row.a_ip, row.b_ip)
    )


def _port_test(value: str) -> Test:
    low, high = port_range(value)
    return lambda row, _names, _owners: low <= row.a_port <= high or low <= row.b_port <= high


def _proto_test(value: str) -> Test:
    proto = protocol(value)
    return lambda row, _names, _owners: row.proto == proto


def _state_test(value: str) -> Test:
    prefix = state_prefix(value)
    return lambda row, _names, _owners: row.tcp_state is not None and row.tcp_state.startswith(prefix)


def _proc_test(value: str) -> Test:
    needle = value.lower()
    return lambda _row, _names, owners: any(owner is not None and needle in owner[1].lower() for owner in owners or ())


_TESTS: dict[str, Callable[[str], Test]] = {
    "host": _host_test,
    "port": _port_test,
    "proto": _proto_test,
    "state": _state_test,
    "proc": _proc_test,
}


def parse_filter(text: str) -> DisplayFilter:
    """Parse what is typed after `/`; raises FilterError naming the term that cannot work."""
    terms = tuple(Term(t.key, t.value, t.negated, _TESTS[t.key](t.value)) for t in split_terms(text))
    return DisplayFilter(text.strip(), terms)
