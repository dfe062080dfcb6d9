"""The flow filter language of the screen's `/`, and its evaluation over flow-table columns.

Terms are separated by spaces and must all match:

    host:10.0.0.1   host:10.0.0.0/8   host:db8      (exact, network, or part of an address)
    host:example                                    (part of a name: DNS, SNI, HTTP Host, DNS question)
    port:443        port:8000-8100                  (either endpoint)
    proto:udp       state:estab                     (state: a prefix of the TCP state name)
    proc:curl                                       (live: part of the name of the program at an end)
    !port:22                                        (a leading ! negates a term)

A bare word is read by its shape: a number is a port, `tcp`/`udp` a protocol, anything else
part of a host address or name.

The screen applies every term to the rows it receives (ui/filters.py). The engine applies the
terms numpy can evaluate over the whole table (`FlowQuery`) before it ranks, so the screen gets
the top N of the matching flows rather than the matches among the top N. A part of an address
or a name needs a Python string per flow, and only the screen knows the programs of its rows;
the engine leaves those terms to the screen.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from netscope.flow.records import PROTO_NAMES, TcpState

KEYS = ("host", "port", "proto", "state", "proc")
PROTOCOLS = ("tcp", "udp")
_PROTO_NUMBERS = {name: number for number, name in PROTO_NAMES.items()}
_ALL_BITS = (1 << 64) - 1

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class QueryError(ValueError):
    """A filter that cannot be applied (yet, while it is being typed); the message says why."""


class Term(NamedTuple):
    key: str  # one of KEYS
    value: str
    negated: bool


def split_terms(text: str) -> list[Term]:
    """The terms of a filter; raises QueryError naming one that cannot work."""
    terms = []
    for word in text.split():
        negated = word.startswith("!")
        body = word[1:] if negated else word
        key, colon, value = body.partition(":")
        if colon and key.lower() in KEYS:
            key = key.lower()
        elif colon and "." not in key and not key.isdigit() and len(body.split(":")) == 2:
            raise QueryError(f"unknown filter key '{key}' (use {', '.join(KEYS)})")
        else:
            key, value = _bare_key(body), body
        if not value:
            raise QueryError(f"'{word}' needs a value")
        terms.append(Term(key, value, negated))
    return terms


def _bare_key(word: str) -> str:
    if word.isdigit() or (word.replace("-", "").isdigit() and word.count("-") == 1):
        return "port"
    if word.lower() in PROTOCOLS:
        return "proto"
    return "host"


def host_network(value: str) -> Network | None:
    """The addresses a host term names: a network, or one address as a /32 or /128; None for
    a part of an address or a name, which only a string search can match."""
    if "/" in value:
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise QueryError(f"host:{value} is not a network") from None
    try:
        return ipaddress.ip_network(ipaddress.ip_address(value))
    except ValueError:
        return None


def port_range(value: str) -> tuple[int, int]:
    low_text, _, high_text = value.partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError:
        raise QueryError(f"port:{value} is not a port or a range like 8000-8100") from None
    if not 0 <= low <= high <= 65535:
        raise QueryError(f"port:{value} is outside 0-65535")
    return low, high


def protocol(value: str) -> str:
    proto = value.lower()
    if proto not in PROTOCOLS:
        raise QueryError(f"proto:{value} is not one of {', '.join(PROTOCOLS)}")
    return proto


def state_prefix(value: str) -> str:
    return value.lower().replace("-", "_")


Fields = Mapping[str, np.ndarray]  # FlowColumns' key fields and tcp_state, one entry per flow


@dataclass(frozen=True)
class FlowQuery:
    """The terms of a filter that numpy evaluates over flow columns (see the module docstring)."""

    terms: tuple[Term, ...] = ()
    partial: bool = False  # terms were left to the screen: what matches here is only a superset
    text: str = ""  # as the screen typed it: a snapshot says which filter ranked its rows

    @classmethod
    def parse(cls, text: str) -> FlowQuery:
        """Raises QueryError as the screen's parser does; keeps plain terms, so a query pickles
        to pipeline workers."""
        kept, partial = [], False
        for term in split_terms(text):
            if term.key == "port":
                port_range(term.value)
            elif term.key == "proto":
                protocol(term.value)
            elif term.key == "proc" or (term.key == "host" and host_network(term.value) is None):
                partial = True
                continue
            kept.append(term)
        return cls(tuple(kept), partial, text)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def mask(self, fields: Fields) -> np.ndarray:
        """Which flows match every term."""
        matches = np.ones(fields["proto"].shape[0], dtype=bool)
        for term in self.terms:
            hit = _EVALUATE[term.key](term.value, fields)
            matches &= ~hit if term.negated else hit
        return matches


def _host(value: str, fields: Fields) -> np.ndarray:
    network = host_network(value)
    assert network is not None  # FlowQuery.parse keeps only host terms that name addresses
    width = 32 if network.version == 4 else 128
    keep = ((1 << width) - 1) ^ ((1 << (width - network.prefixlen)) - 1)  # the prefix bits
    base = int(network.network_address)
    if network.version == 4:  # an IPv4 address is the low half, the high half is 0
        halves = [(0, 0), (keep, base)]
    else:
        halves = [(keep >> 64, base >> 64), (keep & _ALL_BITS, base & _ALL_BITS)]
    version = fields["ip_version"] == network.version
    hits = []
    for side in ("a", "b"):
        hit = version.copy()
        for (bits, want), half in zip(halves, ("hi", "lo"), strict=True):
            if bits:
                hit &= (fields[f"{side}_{half}"] & np.uint64(bits)) == np.uint64(want & bits)
        hits.append(hit)
    return hits[0] | hits[1]


def _port(value: str, fields: Fields) -> np.ndarray:
    low, high = port_range(value)
    a, b = fields["a_port"], fields["b_port"]
    return ((a >= low) & (a <= high)) | ((b >= low) & (b <= high))


def _proto(value: str, fields: Fields) -> np.ndarray:
    return fields["proto"] == _PROTO_NUMBERS[protocol(value)]


def _state(value: str, fields: Fields) -> np.ndarray:
    prefix = state_prefix(value)
    codes = [state.value for state in TcpState if state.label is not None and state.label.startswith(prefix)]
    return np.isin(fields["tcp_state"], codes)


_EVALUATE = {"host": _host, "port": _port, "proto": _proto, "state": _state}
