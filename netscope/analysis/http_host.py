"""HTTP/1.x request line and Host header from the first segment of a request.

Read from one segment only, with a cap on how much of it is scanned: a request's head almost
always fits in its first segment, and a name for the flow is all that is wanted here.
"""

from __future__ import annotations

import re
from typing import NamedTuple

METHODS = (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE")
# The first four payload bytes of a request for each method, as big-endian words: what the
# observer's vectorised pre-filter compares against.
METHOD_PREFIXES = tuple((method + b" ")[:4] for method in METHODS)
MAX_HEAD_BYTES = 8192
MAX_HOST_LEN = 255
MAX_TARGET_LEN = 2048

# The whole request line with its CRLF. None of its parts can hold a CR or LF, so a match ends
# at the payload's first line end, and a target longer than MAX_TARGET_LEN fails to match.
_REQUEST_LINE = re.compile(rb"(%s) ([\x21-\x7e]{1,%d}) HTTP/1\.[01]\r\n"
                           % (b"|".join(METHODS), MAX_TARGET_LEN))
# The first Host header line among complete header lines (a block that starts and ends with CRLF).
_HOST_HEADER = re.compile(rb"\r\nhost[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r\n", re.IGNORECASE)
_HOST_VALUE = re.compile(rb"[\x21-\x7e]{1,%d}" % MAX_HOST_LEN)


class HttpRequest(NamedTuple):
    """A named tuple, not a frozen dataclass: one is built per decoded request, and a frozen
    dataclass's __init__ alone took a fifth of the decode."""

    method: str
    target: str
    host: str | None  # None when the header is missing, cut off by the segment end, or not printable


def parse_http_request(payload: bytes) -> HttpRequest | None:
    """The request at the start of `payload`, or None if it does not start with an HTTP/1.x request line.

    Regexes run on the payload with positions instead of on slices of it: this runs for every
    new flow's first request, and each slice was a copy.
    """
    head = bytes(payload[:MAX_HEAD_BYTES])
    request = _REQUEST_LINE.match(head)
    if request is None:
        return None
    line_end = request.end() - 2
    # Only whole lines count: up to the blank line ending the head, or else up to the last CRLF,
    # since the segment may end inside a header.
    head_end = head.find(b"\r\n\r\n", line_end)
    found = _HOST_HEADER.search(head, line_end, head_end + 2 if head_end >= 0 else head.rfind(b"\r\n") + 2)
    host = None
    if found is not None and _HOST_VALUE.fullmatch(found[1]):
        host = found[1].decode("ascii")
    return HttpRequest(request[1].decode("ascii"), request[2].decode("ascii"), host)
