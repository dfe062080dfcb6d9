"""Capture failures as one line a person can act on.

libpcap reports problems as return codes or terse strings ("unknown file format", code -8);
the helpers here turn them into the sentence the CLI prints after ``error:``, naming the file,
filter or interface involved and, where there is one, the fix.
"""

from __future__ import annotations

import os

# pcap_activate() return codes (pcap/pcap.h); pcapy hands them back as plain integers.
PCAP_ERROR_NO_SUCH_DEVICE = -5
PCAP_ERROR_PERM_DENIED = -8
PCAP_ERROR_IFACE_NOT_UP = -9
PCAP_ERROR_PROMISC_PERM_DENIED = -11
PCAP_ERROR_CAPTURE_NOTSUP = -13

# What libpcap says when a file is not a capture at all (as opposed to a damaged one).
_NOT_A_CAPTURE_MARKERS = ("unknown file format", "file header bytes")


# Magic numbers of the compressors captures are commonly kept in, with the tool that undoes each.
_COMPRESSED = ((b"\x1f\x8b", ("zcat", "gzip")), (b"\x28\xb5\x2f\xfd", ("zstdcat", "zstd")),
               (b"\xfd7zXZ\x00", ("xzcat", "xz")), (b"\x04\x22\x4d\x18", ("lz4cat", "lz4")),
               (b"BZh", ("bzcat", "bzip2")))
COMPRESSION_MAGIC = {name: magic for magic, (_, name) in _COMPRESSED}  # "gzip" -> its first bytes


def compression_of(head: bytes) -> tuple[str, str] | None:
    """(tool, compressor) that a file or stream starting with `head` (6 bytes) is compressed with."""
    return next((found for magic, found in _COMPRESSED if head.startswith(magic)), None)


class CaptureError(Exception):
    """A packet source could not be opened or read; ``str()`` is the whole message, on one line."""


def file_error(path: str | os.PathLike[str], exc: OSError) -> CaptureError:
    """The file could not be opened at all (missing, unreadable, a directory)."""
    return CaptureError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}")


MIXED_LINKS_REFUSAL = "different from the type of the first interface"  # libpcap on a pcapng of several links


def file_format_error(path: str | os.PathLike[str], libpcap_message: str) -> CaptureError:
    """libpcap refused the file: either not a capture, or one it cannot decode."""
    if any(marker in libpcap_message for marker in _NOT_A_CAPTURE_MARKERS):
        return CaptureError(f"{os.fspath(path)} is not a pcap or pcapng capture file")
    return CaptureError(f"cannot read {os.fspath(path)}: {libpcap_message}")


def stream_format_error(path: str | os.PathLike[str], head: bytes) -> CaptureError:
    """A stream (standard input, a FIFO) that does not start as a capture; `head`: its first bytes."""
    compressed = compression_of(head)
    if compressed is not None:
        tool, name = compressed
        return CaptureError(f"{os.fspath(path)} is {name}-compressed, which netscope undoes in a stream only "
                            f"for gzip, bzip2 and xz: put {tool} in the pipe (... | {tool} | netscope --read-pcap -)")
    return CaptureError(f"{os.fspath(path)} is not a pcap or pcapng capture file (or ended before its header)")


def filter_error(expression: str, libpcap_message: str) -> CaptureError:
    return CaptureError(f"invalid BPF filter '{expression}': {libpcap_message}")


def activate_error(interface: str, code: int, libpcap_message: str | None) -> CaptureError:
    """Map a failed pcap_activate() to advice; `libpcap_message` is used for the codes without any."""
    if code == PCAP_ERROR_NO_SUCH_DEVICE:
        return CaptureError(f"no such interface '{interface}' (see --list-interfaces)")
    if code == PCAP_ERROR_PERM_DENIED:
        return CaptureError(f"live capture on {interface} needs root or CAP_NET_RAW "
                            "(or replay a file with --read-pcap)")
    if code == PCAP_ERROR_PROMISC_PERM_DENIED:
        return CaptureError(f"promiscuous mode on {interface} is not permitted (try --no-promiscuous)")
    if code == PCAP_ERROR_IFACE_NOT_UP:
        return CaptureError(f"interface {interface} is down (bring it up first: ip link set {interface} up)")
    if code == PCAP_ERROR_CAPTURE_NOTSUP:
        return CaptureError(f"interface {interface} does not support packet capture")
    detail = libpcap_message or f"libpcap error {code}"
    return CaptureError(f"cannot capture on {interface}: {detail}")
