"""Which name to show for each end of a flow, from what the engine observed passively.

A DNS answer names an address (name_a, name_b); a TLS SNI or HTTP Host names the server a
client asked for, which is the better label for the server side when no DNS answer was
seen (HTTPS to a CDN address often has no DNS answer in the capture, but always has SNI).
"""

from __future__ import annotations

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
    asked_for = names.sni or names.http_host
    name_a, name_b = names.name_a, names.name_b
    if server_side(row) == "a":
        name_a = name_a or asked_for
    else:
        name_b = name_b or asked_for
    return name_a, name_b


def searchable(names: FlowNames | None) -> tuple[str, ...]:
    """Every name of a flow, lower-cased, for the display filter's host term."""
    if names is None:
        return ()
    found = (names.name_a, names.name_b, names.sni, names.http_host, names.dns_query)
    return tuple(name.lower() for name in found if name)
