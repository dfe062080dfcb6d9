"""TLS ClientHello server name (SNI) from a whole ClientHello record, bounded like the reference (§2.6).

The decoder is a straight walk with no state over one record: a record longer than its first
segment is put together by record_reassembly.py before it gets here. Every length is checked
against what is present before it is used, so malformed input answers None and never raises.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

RECORD_HEADER_LEN = 5
CONTENT_HANDSHAKE = 0x16
HANDSHAKE_CLIENT_HELLO = 1
MIN_RECORD_VERSION, MAX_RECORD_VERSION = 0x0301, 0x0304
MAX_RECORD_LEN = 16384 + 2048
MAX_SESSION_ID = 32
MAX_EXTENSIONS_LEN = 16384
MAX_EXTENSIONS = 64
MAX_SNI_ENTRIES = 16
MAX_HOSTNAME_LEN = 255
EXTENSION_SERVER_NAME = 0
NAME_TYPE_HOST = 0

_U16 = struct.Struct(">H")
_RECORD = struct.Struct(">BHH")
_EXTENSION = struct.Struct(">HH")
_NAME_ENTRY = struct.Struct(">BH")
_HOST_LABEL = re.compile(rb"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


@dataclass(frozen=True, slots=True)
class ClientHello:
    legacy_version: int
    sni: str | None  # None when there is no server_name extension or its name fails the hostname check


def parse_client_hello(payload: bytes) -> ClientHello | None:
    """The ClientHello at the start of `payload`, or None if there is none or it is malformed.

    A malformed extension after the server_name one is not looked at: the name is already known.
    """
    if len(payload) < RECORD_HEADER_LEN:
        return None
    content_type, record_version, record_len = _RECORD.unpack_from(payload, 0)
    if (content_type != CONTENT_HANDSHAKE or not MIN_RECORD_VERSION <= record_version <= MAX_RECORD_VERSION
            or not 1 <= record_len <= MAX_RECORD_LEN or RECORD_HEADER_LEN + record_len > len(payload)):
        return None
    record = bytes(payload[RECORD_HEADER_LEN:RECORD_HEADER_LEN + record_len])
    if len(record) < 4 or record[0] != HANDSHAKE_CLIENT_HELLO:
        return None
    hello_len = int.from_bytes(record[1:4], "big")
    if 4 + hello_len > len(record):
        return None
    return _parse_hello(record[4:4 + hello_len])


def _parse_hello(hello: bytes) -> ClientHello | None:
    size = len(hello)
    pos = 2 + 32  # legacy_version, random
    if pos + 1 > size:
        return None
    legacy_version = _U16.unpack_from(hello, 0)[0]
    session_id_len = hello[pos]
    if session_id_len > MAX_SESSION_ID:
        return None
    pos += 1 + session_id_len
    if pos + 2 > size:
        return None
    suites_len = _U16.unpack_from(hello, pos)[0]
    if suites_len == 0 or suites_len % 2:
        return None
    pos += 2 + suites_len
    if pos + 1 > size:
        return None
    compression_len = hello[pos]
    if compression_len == 0:
        return None
    pos += 1 + compression_len
    if pos > size:
        return None
    if pos == size:  # no extensions at all (legal before TLS 1.2)
        return ClientHello(legacy_version, None)
    if pos + 2 > size:
        return None
    extensions_len = _U16.unpack_from(hello, pos)[0]
    pos += 2
    if extensions_len > MAX_EXTENSIONS_LEN or pos + extensions_len > size:
        return None
    return _find_server_name(hello, pos, pos + extensions_len, legacy_version)


def _find_server_name(hello: bytes, pos: int, end: int, legacy_version: int) -> ClientHello | None:
    for _ in range(MAX_EXTENSIONS):
        if pos + 4 > end:
            break
        ext_type, ext_len = _EXTENSION.unpack_from(hello, pos)
        pos += 4
        if pos + ext_len > end:
            return None
        if ext_type == EXTENSION_SERVER_NAME:
            return ClientHello(legacy_version, _server_name(hello[pos:pos + ext_len]))
        pos += ext_len
    return ClientHello(legacy_version, None)


def _server_name(extension: bytes) -> str | None:
    """The first host_name entry of a server_name list, if the list is well formed and the name is a hostname."""
    if len(extension) < 2 or _U16.unpack_from(extension, 0)[0] + 2 != len(extension):
        return None
    pos = 2
    for _ in range(MAX_SNI_ENTRIES):
        if pos + 3 > len(extension):
            return None
        name_type, name_len = _NAME_ENTRY.unpack_from(extension, pos)
        pos += 3
        if pos + name_len > len(extension):
            return None
        if name_type == NAME_TYPE_HOST:
            return strict_hostname(extension[pos:pos + name_len])
        pos += name_len
    return None


def strict_hostname(raw: bytes) -> str | None:
    """`raw` as text if it is a plain DNS hostname: dotted labels of [A-Za-z0-9-], none empty or edged by '-'."""
    if not 1 <= len(raw) <= MAX_HOSTNAME_LEN:
        return None
    if all(_HOST_LABEL.fullmatch(label) for label in raw.split(b".")):
        return raw.decode("ascii")
    return None
