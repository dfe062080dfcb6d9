"""HTTP/1.x request line and Host header from the first segment of a request.

Read from one segment only, with a cap on how much of it is scanned: a request's head almost
always fits in its first segment, and a name for the flow is all that is wanted here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METHODS = (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE")
# The first four payload bytes of a request for each method, as big-endian words: what the
# observer's vectorised pre-filter compares against.
METHOD_PREFIXES = tuple((method + b" ")[:4] for method in METHODS)
MAX_HEAD_BYTES = 8192
MAX_HOST_LEN = 255
MAX_TARGET_LEN = 2048

_REQUEST_LINE = re.compile(rb"([A-Z]{3,7}) ([\x21-\x7e]+) HTTP/1\.[01]")
# The first Host header line among complete header lines (a block that starts and ends with CRLF).
_HOST_HEADER = re.compile(rb"\r\nhost[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r\n", re.IGNORECASE)
_HOST_VALUE = re.compile(rb"[\x21-\x7e]{1,%d}" % MAX_HOST_LEN)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str
    host: str | None  # None when the header is missing, cut off by the segment end, or not printable


def parse_http_request(payload: bytes) -> HttpRequest | None:
    """The request at the start of `payload`, or None if it does not start with an HTTP/1.x request line."""
    head = bytes(payload[:MAX_HEAD_BYTES])
    line_end = head.find(b"\r\n")
    if line_end < 0:
        return None
    request = _REQUEST_LINE.fullmatch(head, 0, line_end)
    if request is None or request[1] not in METHODS or len(request[2]) > MAX_TARGET_LEN:
        return None
    # Only whole lines count: up to the blank line ending the head, or else up to the last CRLF,
    # since the segment may end inside a header.
    head_end = head.find(b"\r\n\r\n", line_end)
    headers = head[line_end:head_end + 2] if head_end >= 0 else head[line_end:head.rfind(b"\r\n") + 2]
    found = _HOST_HEADER.search(headers)
    host = None
    if found is not None and _HOST_VALUE.fullmatch(found[1]):
        host = found[1].decode("ascii")
    return HttpRequest(request[1].decode("ascii"), request[2].decode("ascii"), host)
