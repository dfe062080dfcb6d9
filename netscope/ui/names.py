"""Which name to show for each end of a flow, from what the engine observed passively.

A DNS answer names an address (name_a, name_b); a TLS SNI or HTTP Host names the server a
client asked for, which is the better label for the server side when no DNS answer was
seen (HTTPS to a CDN address often has no DNS answer in the capture, but always has SNI).
"""

from __future__ import annotations

import ipaddress

from netscope.analysis.names import FlowNames
from netscope.flow.records import FlowRow


def server_side(row: FlowRow) -> str:
    """"a" or "b": the side that accepted the connection, else the one on the lower (service) port."""
    if row.client == "a_to_b":
        return "b"
    if row.client == "b_to_a":
        return "a"
    return "a" if row.a_port < row.b_port else "b"


def endpoint_names(row: FlowRow, names: FlowNames | None) -> tuple[str | None, str | None]:
    """The names to show for endpoints A and B; the server side falls back to SNI, then HTTP Host."""
    if names is None:
        return None, None
    asked_for = host_name(names.sni) or host_name(names.http_host)
    name_a, name_b = names.name_a, names.name_b
    if server_side(row) == "a":
        name_a = name_a or asked_for
    else:
        name_b = name_b or asked_for
    return name_a, name_b


def host_name(value: str | None) -> str | None:
    """A Host header or SNI as a name: without its `:port`, and None for an address literal.

    `Host: [fd00::2]:8080` or `Host: 10.0.0.2:8080` says nothing the address column does not.
    """
    if not value:
        return None
    if value.startswith("["):
        host = value[1:value.find("]")]
    elif value.count(":") == 1:
        host = value.partition(":")[0]
    else:
        host = value  # no port, or a bare IPv6 literal whose colons are not a port separator
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host or None
    return None


def searchable(names: FlowNames | None) -> tuple[str, ...]:
    """Every name of a flow, lower-cased, for the display filter's host term."""
    if names is None:
        return ()
    found = (names.name_a, names.name_b, names.sni, names.http_host, names.dns_query)
    return tuple(name.lower() for name in found if name)
