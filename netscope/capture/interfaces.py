"""Which interfaces can be captured on, for --list-interfaces and the default choice.

libpcap knows the capturable devices (including pseudo-devices such as `any` or `nflog`),
but pcapy only hands back their names. The kernel's view from `ip -j addr` adds the link
type, state and addresses; where it is unavailable (no iproute2, not Linux) the names are
still listed, just without details.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

import pcapy

from netscope.capture.errors import CaptureError

IP_COMMAND_TIMEOUT_S = 5


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    name: str
    description: str  # "ether, up"; "pseudo-device" for libpcap-only ones (`any`); "" if unknown
    addresses: tuple[str, ...]


def _kernel_links() -> dict[str, dict]:
    """`ip -j addr` records by interface name; empty when the command is missing or fails."""
    try:
        done = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True,
                              timeout=IP_COMMAND_TIMEOUT_S, check=True)
        return {link["ifname"]: link for link in json.loads(done.stdout) if "ifname" in link}
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}


def _describe(name: str, link: dict | None, kernel_known: bool) -> str:
    if link is None:
        if not kernel_known:
            return ""
        return "all interfaces" if name == "any" else "pseudo-device"
    state = "up" if "UP" in link.get("flags", ()) else "down"
    return f"{link.get('link_type', 'unknown')}, {state}"


def list_interfaces() -> list[InterfaceInfo]:
    """Every device libpcap can open, in libpcap's order (usable ones first)."""
    try:
        names = pcapy.findalldevs()
    except pcapy.PcapError as exc:
        raise CaptureError(f"cannot list interfaces: {exc}") from exc
    links = _kernel_links()
    return [InterfaceInfo(name, _describe(name, links.get(name), bool(links)),
                          tuple(a["local"] for a in links.get(name, {}).get("addr_info", ()) if "local" in a))
            for name in names]


def default_interface() -> str | None:
    """libpcap's default device (its first non-loopback one), or None when there is none."""
    try:
        return pcapy.lookupdev() or None
    except pcapy.PcapError:
        return None
