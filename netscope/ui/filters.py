"""The `/` display filter: which of the received top-N rows the table shows.

It only narrows what is displayed; the engine keeps counting everything. Terms are
separated by spaces and must all match:

    host:10.0.0.1   host:10.0.0.0/8   host:db8      (exact, network, or part of an address)
    host:example                                    (part of a name: DNS, SNI, HTTP Host, DNS question)
    port:443        port:8000-8100                  (either endpoint)
    proto:udp       state:estab                     (state: a prefix of the TCP state name)
    !port:22                                        (a leading ! negates a term)

A bare word is read by its shape: a number is a port, `tcp`/`udp` a protocol, anything
else part of a host address or name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from netscope.analysis.names import FlowNames
from netscope.flow.records import FlowRow
from netscope.ui.names import searchable

KEYS = ("host", "port", "proto", "state")
PROTOCOLS = ("tcp", "udp")

Test = Callable[[FlowRow, FlowNames | None], bool]  # one term, given a row and its names


class FilterError(ValueError):
    """A filter the user is typing that cannot be applied (yet); the message says why."""


@dataclass(frozen=True)
class Term:
    key: str
    value: str
    negated: bool
    test: Test

    def matches(self, row: FlowRow, names: FlowNames | None = None) -> bool:
        return self.test(row, names) != self.negated


@dataclass(frozen=True)
class DisplayFilter:
    text: str
    terms: tuple[Term, ...]

    def matches(self, row: FlowRow, names: FlowNames | None = None) -> bool:
        """Whether the table shows `row`; `names` are what the engine saw for it, if anything."""
        return all(term.matches(row, names) for term in self.terms)

    def __bool__(self) -> bool:
        return bool(self.terms)


NO_FILTER = DisplayFilter("", ())


def _host_test(value: str) -> Test:
    if "/" in value:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise FilterError(f"host:{value} is not a network") from None
        return lambda row, _names: any(
            (address := ipaddress.ip_address(ip)).version == network.version and address in network
            for ip in (row.a_ip, row.b_ip)
        )
    try:
        exact = str(ipaddress.ip_address(value))
    except ValueError:
        needle = value.lower()
        return lambda row, names: (needle in row.a_ip.lower() or needle in row.b_ip.lower()
                                   or any(needle in name for name in searchable(names)))
    return lambda row, _names: exact in (row.a_ip, row.b_ip)


def _port_test(value: str) -> Test:
    low_text, _, high_text = value.partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError:
        raise FilterError(f"port:{value} is not a port or a range like 8000-8100") from None
    if not 0 <= low <= high <= 65535:
        raise FilterError(f"port:{value} is outside 0-65535")
    return lambda row, _names: low <= row.a_port <= high or low <= row.b_port <= high


def _proto_test(value: str) -> Test:
    proto = value.lower()
    if proto not in PROTOCOLS:
        raise FilterError(f"proto:{value} is not one of {', '.join(PROTOCOLS)}")
    return lambda row, _names: row.proto == proto


def _state_test(value: str) -> Test:
    prefix = value.lower().replace("-", "_")
    return lambda row, _names: row.tcp_state is not None and row.tcp_state.startswith(prefix)


_TESTS: dict[str, Callable[[str], Test]] = {
    "host": _host_test,
    "port": _port_test,
    "proto": _proto_test,
    "state": _state_test,
}


def _bare_key(word: str) -> str:
    if word.isdigit() or (word.replace("-", "").isdigit() and word.count("-") == 1):
        return "port"
    if word.lower() in PROTOCOLS:
        return "proto"
    return "host"


def parse_filter(text: str) -> DisplayFilter:
    """Parse what is typed after `/`; raises FilterError naming the term that cannot work."""
    terms = []
    for word in text.split():
        negated = word.startswith("!")
        body = word[1:] if negated else word
        key, colon, value = body.partition(":")
        if colon and key.lower() in _TESTS:
            key = key.lower()
        elif colon and "." not in key and not key.isdigit() and len(body.split(":")) == 2:
            raise FilterError(f"unknown filter key '{key}' (use {', '.join(KEYS)})")
        else:
            key, value = _bare_key(body), body
        if not value:
            raise FilterError(f"'{word}' needs a value")
        terms.append(Term(key, value, negated, _TESTS[key](value)))
    return DisplayFilter(text.strip(), tuple(terms))
