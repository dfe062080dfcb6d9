"""pcapng files of several link types, which libpcap refuses: read by capture/mixed_links.py, checked against tshark."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest

from netscope.capture.mixed_links import MixedLinkSource, mixes_link_types
from tests.parse.test_cases import ether, ipv4, tcp
from tests.tshark_oracle import netscope_flows, tshark_flows

ETHERNET, RAW = 1, 101  # in the file; libpcap, and so netscope, reports raw IP as DLT 12
DLT_RAW = 12


def _block(kind: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


def shb() -> bytes:
    return _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(linktype: int, tsresol: int | None = None, tsoffset: int | None = None, snaplen: int = 0) -> bytes:
    options = b""
    if tsresol is not None:
        options += _option(9, bytes([tsresol]))
    if tsoffset is not None:
        options += _option(14, struct.pack("<q", tsoffset))
    return _block(1, struct.pack("<HHI", linktype, 0, snaplen) + options + (_option(0, b"") if options else b""))


def epb(interface: int, ticks: int, frame: bytes, wirelen: int | None = None) -> bytes:
    return _block(6, struct.pack("<5I", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
                                 len(frame) if wirelen is None else wirelen) + frame)


def packet_block(interface: int, ticks: int, frame: bytes) -> bytes:  # obsolete, but tshark reads it
    return _block(2, struct.pack("<HH4I", interface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame))
                  + frame)


def udp_ip(sport: int, payload: bytes = b"dns?") -> bytes:
    segment = dpkt.udp.UDP(sport=sport, dport=53, ulen=8 + len(payload), data=payload)
    return ipv4(bytes(segment), proto=17)


def mixed_capture(path: Path) -> Path:
    """Ethernet in nanoseconds with a time offset, raw IP in microseconds, interleaved."""
    blocks = [shb(), idb(ETHERNET, tsresol=9, tsoffset=1_700_000_000), idb(RAW)]
    for i in range(40):
        segment = tcp(b"x" * i, flags=0x18)
        segment.sport = 40000 + i % 3
        blocks.append(epb(0, i * 10_000_000 + 123, ether(ipv4(segment))))  # every 10 ms, ns ticks
        maker = epb if i % 2 else packet_block
        blocks.append(maker(1, 1_700_000_000_000_000 + i * 10_000 + 5_000, udp_ip(5000 + i % 2)))
    blocks.append(epb(0, 999_000_000_000, ether(ipv4(tcp(b"cut"))), wirelen=1514))  # cut at capture: wire 1514
    path.write_bytes(b"".join(blocks))
    return path


def test_a_mixed_pcapng_is_read_and_its_flows_equal_tshark_s(tmp_path: Path, require_tool) -> None:
    require_tool("tshark")
    capture = mixed_capture(tmp_path / "mixed.pcapng")
    assert mixes_link_types(capture)
    expected = tshark_flows(capture)
    assert {key[0] for key in expected} == {"tcp", "udp"} and len(expected) == 5
    assert netscope_flows(capture, tmp_path / "one.json", "--flow-timeout-s", "0") == expected
    assert netscope_flows(capture, tmp_path / "two.json", "--flow-timeout-s", "0", "--pipeline", "--workers",
                          "2") == expected


def _micros(epoch: str) -> int:
    """tshark's `seconds.nanoseconds` as whole microseconds, without a float's rounding."""
    seconds, _, fraction = epoch.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def test_timestamps_follow_each_interface_s_resolution_and_offset(tmp_path: Path, require_tool) -> None:
    require_tool("tshark")
    capture = mixed_capture(tmp_path / "mixed.pcapng")
    stamps = subprocess.run(["tshark", "-r", str(capture), "-T", "fields", "-e", "frame.time_epoch"],
                            capture_output=True, text=True, check=True).stdout.split()
    with MixedLinkSource(capture) as source:
        batches = list(source.batches())
    assert [b.linktype for b in batches[:3]] == [ETHERNET, DLT_RAW, ETHERNET]  # a batch per run of one link type
    ours = [int(ts) for b in batches for ts in b.ts_us]
    assert ours == [_micros(stamp) for stamp in stamps]  # tshark's, cut to microseconds
    assert int(batches[-1].wirelen[-1]) == 1514 and int(batches[-1].caplen[-1]) < 1514


def test_a_filter_runs_per_link_type_and_a_cut_file_keeps_what_came_before(tmp_path: Path) -> None:
    capture = mixed_capture(tmp_path / "mixed.pcapng")
    with MixedLinkSource(capture, bpf_filter="udp") as source:
        kept = list(source.batches())
    assert {b.linktype for b in kept} == {DLT_RAW} and sum(b.count for b in kept) == 40
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(capture.read_bytes()[:-30])
    with MixedLinkSource(cut) as source:
        total = sum(b.count for b in source.batches())
        assert total == 80 and "truncated or damaged at byte" in (source.warning or "")


def test_the_cli_names_both_links_and_refuses_to_write_them_into_one_pcap(tmp_path: Path) -> None:
    capture = mixed_capture(tmp_path / "mixed.pcapng")
    run = subprocess.run([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(capture),
                          "--flow-timeout-s", "0", "--export-json", str(tmp_path / "f.json")], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and "Datalink: Ethernet + Raw IP" in run.stdout + run.stderr
    assert len(json.loads((tmp_path / "f.json").read_text())) == 5
    refused = subprocess.run([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(capture),
                              "--write-pcap", str(tmp_path / "out.pcap")], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: --write-pcap writes pcap, which holds one link type, but {capture} mixes Ethernet and Raw IP")


@pytest.mark.parametrize("content", ["one link", "classic pcap", "not a capture"])
def test_other_files_go_to_libpcap(tmp_path: Path, sample_pcap: Path, content: str) -> None:
    path = tmp_path / "file"
    path.write_bytes({"one link": shb() + idb(ETHERNET) + idb(ETHERNET) + epb(0, 1, ether(ipv4(tcp()))),
                      "classic pcap": sample_pcap.read_bytes(), "not a capture": b"hello"}[content])
    assert not mixes_link_types(path)
    assert not mixes_link_types(tmp_path / "missing")


def late_interface_capture(path: Path) -> Path:
    """Ethernet packets, then a raw-IP interface described only after them, then packets of both."""
    blocks = [shb(), idb(ETHERNET)]
    blocks += [epb(0, 1_700_000_000_000_000 + i * 1000, ether(ipv4(tcp(b"a" * i, flags=0x18)))) for i in range(30)]
    blocks.append(idb(RAW))
    for i in range(30, 60):
        blocks.append(epb(i % 2, 1_700_000_000_000_000 + i * 1000,
                          ether(ipv4(tcp(b"b" * i, flags=0x18))) if i % 2 == 0 else udp_ip(6000)))
    path.write_bytes(b"".join(blocks))
    return path


def test_an_interface_of_another_link_type_after_packets_hands_the_rest_over(tmp_path: Path, require_tool) -> None:
    require_tool("tshark")
    capture = late_interface_capture(tmp_path / "late.pcapng")
    assert not mixes_link_types(capture)  # libpcap opens it and reads the first 30 packets
    flows = netscope_flows(capture, tmp_path / "flows.json")
    assert flows == tshark_flows(capture) and sum(a + b for a, b, _, _ in flows.values()) == 60
    filtered = netscope_flows(capture, tmp_path / "udp.json", "-f", "udp")
    assert set(filtered) == {key for key in flows if key[0] == "udp"}
    refused = subprocess.run([sys.executable, "-m", "netscope", "--headless", "--read-pcap", str(capture),
                              "--write-pcap", str(tmp_path / "out.pcap")], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith(
        "error: --write-pcap writes pcap, which holds one link type, but the capture changes from link type 1 to 12")
    written = subprocess.run(["tshark", "-r", str(tmp_path / "out.pcap")], capture_output=True, text=True)
    assert len(written.stdout.splitlines()) >= 30  # what came before the change is kept
