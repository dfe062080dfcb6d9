"""Numbers as a person reads them at a glance: short, SI-scaled, aligned, with units.

Widths are bounded so table columns never jitter: a rate is at most 10 cells
("999.9 Mb/s"), a size at most 8 ("999.9 MB"), an age at most 6 ("59m59s"), a round-trip
time at most 6 ("12.3ms", "1.50s"). A measurement that does not exist shows as MISSING.
"""

from __future__ import annotations

import time
from enum import Enum

_SI_PREFIXES = ("", "k", "M", "G", "T", "P")
MISSING = "–"  # no value: not TCP, not measured, or no sample yet


class Units(Enum):
    """How rates are shown; `t` flips between them. Volumes are always bytes."""

    BITS = "bits"
    BYTES = "bytes"

    def toggled(self) -> Units:
        return Units.BYTES if self is Units.BITS else Units.BITS


def si(value: float, unit: str) -> str:
    """`value` with an SI prefix and three significant digits: 0 B, 950 B, 1.23 kB, 12.3 MB, 123 GB."""
    magnitude = abs(value)
    index = 0
    while magnitude >= 999.5 and index < len(_SI_PREFIXES) - 1:
        magnitude /= 1000.0
        value /= 1000.0
        index += 1
    if index == 0:
        return f"{value:.0f} {unit}"
    if magnitude >= 99.95:
        digits = 0
    elif magnitude >= 9.995:
        digits = 1
    else:
        digits = 2
    return f"{value:.{digits}f} {_SI_PREFIXES[index]}{unit}"


def rate(bytes_per_s: float, units: Units) -> str:
    """A byte rate in the chosen units: "12.3 Mb/s" or "1.54 MB/s"."""
    if units is Units.BITS:
        return si(bytes_per_s * 8, "b/s")
    return si(bytes_per_s, "B/s")


def size(num_bytes: float) -> str:
    return si(num_bytes, "B")


def packet_rate(pps: float) -> str:
    return si(pps, "p/s")


def count(value: int) -> str:
    """Exact below 100 000 (with separators, so digits are easy to compare), SI above."""
    if value < 100_000:
        return f"{value:,}"
    return si(value, "").replace(" ", "")


def millis(ms: float | None) -> str:
    """A round-trip time with three significant digits: 0.42ms, 12.3ms, 250ms, 1.50s, 12.0s, 600s.

    Below 0.1 ms (loopback, a LAN's fast path) two digits of microseconds instead, 42µs, 4.2µs,
    which 0.04ms would round away."""
    if ms is None:
        return MISSING
    if ms < 0.0995:
        micros = ms * 1000
        return "<1µs" if micros < 0.95 else f"{micros:.1f}µs" if micros < 9.95 else f"{micros:.0f}µs"
    value, unit = (ms, "ms") if ms < 999.5 else (ms / 1000, "s")
    digits = 2 if value < 9.995 else 1 if value < 99.95 else 0
    return f"{value:.{digits}f}{unit}"


def optional_count(value: int | None) -> str:
    return MISSING if value is None else count(value)


def age(seconds: float) -> str:
    """A duration in at most 6 cells, keeping the two leading units: 42s, 3m07s, 5h12m, 2d03h, 12d."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h" if days < 10 else f"{days}d"


def duration(seconds: float) -> str:
    """How long a flow lasted, for the detail view: most flows of a few packets end within a
    second, and `age`'s whole seconds would call them all 0s."""
    if seconds <= 0:
        return "0s"
    if seconds < 0.001:
        return f"{seconds * 1e6:.3g}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    return age(seconds)


def clock(ts: float, *, micros: bool = False) -> str:
    """UTC time of day, as the reference's per-packet lines print it (microseconds truncated)."""
    whole = int(ts)
    text = time.strftime("%H:%M:%S", time.gmtime(whole))
    if micros:
        text += f".{round((ts - whole) * 1e6) % 1_000_000:06d}"
    return text


def date_time(ts: float) -> str:
    """UTC date and time with microseconds, for first/last-seen stamps."""
    return f"{time.strftime('%Y-%m-%d', time.gmtime(int(ts)))} {clock(ts, micros=True)} UTC"


def speed(factor: float) -> str:
    """Replay speed as the header shows it: "1×", "10×", "0.5×", or "max" for as fast as possible."""
    if factor <= 0:
        return "max"
    return f"{factor:g}×"


def endpoint(ip: str, port: int) -> str:
    """`ip:port`, with IPv6 addresses bracketed so the port stays unambiguous."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def squeeze(text: str, width: int) -> str:
    """Shorten to `width` cells by cutting the middle: the start and the port both stay readable."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = (width - 1) // 2
    tail = width - 1 - head
    return f"{text[:head]}…{text[-tail:]}" if tail else f"{text[:head]}…"
