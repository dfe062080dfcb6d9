"""libpcap's codes and strings turned into the one line the CLI prints."""

from __future__ import annotations

import pytest

from netscope.capture.errors import activate_error, file_error, file_format_error, filter_error


def test_file_messages():
    assert str(file_error("/x.pcap", FileNotFoundError(2, "No such file or directory"))) \
        == "cannot read /x.pcap: No such file or directory"
    assert str(file_format_error("/x.txt", "unknown file format")) == "/x.txt is not a pcap or pcapng capture file"
    assert str(file_format_error("/e", "truncated dump file; tried to read 4 file header bytes, only got 0")) \
        == "/e is not a pcap or pcapng capture file"
    assert str(file_format_error("/v", "unsupported pcapng version 2.0")) \
        == "cannot read /v: unsupported pcapng version 2.0"


def test_filter_message():
    assert str(filter_error("tcp prt 80", "can't parse filter expression: syntax error")) \
        == "invalid BPF filter 'tcp prt 80': can't parse filter expression: syntax error"


@pytest.mark.parametrize(("code", "message"), [
    (-5, "no such interface 'eth9' (see --list-interfaces)"),
    (-8, "live capture on eth9 needs root or CAP_NET_RAW (or replay a file with --read-pcap)"),
    (-11, "promiscuous mode on eth9 is not permitted (try --no-promiscuous)"),
    (-9, "interface eth9 is down (bring it up first: ip link set eth9 up)"),
    (-13, "interface eth9 does not support packet capture"),
    (-1, "cannot capture on eth9: socket: boom"),
])
def test_activation_messages(code, message):
    assert str(activate_error("eth9", code, "socket: boom")) == message


def test_activation_without_libpcap_text():
    assert str(activate_error("eth9", -1, None)) == "cannot capture on eth9: libpcap error -1"
