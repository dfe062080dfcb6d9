"""Interface listing: libpcap's devices, with kernel details when `ip` can provide them."""

from __future__ import annotations

import pcapy
import pytest

from netscope.capture import interfaces
from netscope.capture.errors import CaptureError
from netscope.capture.interfaces import InterfaceInfo, default_interface, list_interfaces


def test_loopback_is_listed_with_its_address():
    listed = {info.name: info for info in list_interfaces()}
    assert "lo" in listed
    assert listed["lo"].description == "loopback, up"
    assert "127.0.0.1" in listed["lo"].addresses
    if "any" in listed:
        assert listed["any"] == InterfaceInfo("any", "all interfaces", ())


def test_default_interface_is_a_listed_non_loopback_device():
    chosen = default_interface()
    if chosen is None:
        pytest.skip("this machine has no non-loopback capture device")
    assert chosen in {info.name for info in list_interfaces()} and chosen != "lo"


def test_names_are_still_listed_without_iproute2(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    listed = list_interfaces()
    assert "lo" in {info.name for info in listed}
    assert all(info.addresses == () and info.description == "" for info in listed)


def test_libpcap_failure_is_a_capture_error(monkeypatch):
    def refuse():
        raise pcapy.PcapError("socket: Address family not supported by protocol")

    monkeypatch.setattr(interfaces.pcapy, "findalldevs", refuse)
    with pytest.raises(CaptureError, match=r"^cannot list interfaces: socket: Address family"):
        list_interfaces()
