"""802.11 links (a Wi-Fi interface in monitor mode, with or without radiotap): where the IP header
of each data frame starts, as tshark finds it.

The radiotap header says its own length (little-endian, at byte 2). The 802.11 MAC header is 24
bytes, 30 with a fourth address (a frame between two access points, ToDS and FromDS both set),
2 more for a QoS data frame's QoS control and 4 more for the HT control that QoS frames with
the Order flag carry. Then an LLC/SNAP header names the EtherType. Management and control
frames, data frames without a body (Null), encrypted bodies (the Protected flag: WPA traffic
without its keys) and A-MSDU aggregates are not IP for the flow layer: tshark without keys
does not see inside an encrypted body either. Every step is one gather over the batch.
"""

from __future__ import annotations

import numpy as np

from netscope.capture.batch import RawBatch
from netscope.linktypes import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    LLC_SNAP,
    LLC_SNAP_LEN,
    RADIOTAP_MIN_LEN,
    WIFI_ADDR4_LEN,
    WIFI_AMSDU,
    WIFI_DATA_TYPE,
    WIFI_FROM_DS,
    WIFI_HEADER_LEN,
    WIFI_HT_CONTROL_LEN,
    WIFI_ORDER,
    WIFI_PROTECTED,
    WIFI_QOS_LEN,
    WIFI_SUBTYPE_NO_DATA,
    WIFI_SUBTYPE_QOS,
    WIFI_TO_DS,
)
from netscope.parse.columns import Status
from netscope.parse.gather import ByteReader

_SNAP_PREFIX = int.from_bytes(LLC_SNAP, "big")


def mac_header(raw: RawBatch, reader: ByteReader, radiotap: bool) -> tuple[np.ndarray, np.ndarray]:
    """(where the 802.11 header starts, status): TRUNCATED_LINK where a radiotap header is cut
    or claims less than its minimum, or more than was captured."""
    n = raw.count
    if not radiotap:
        return np.zeros(n, np.int64), (raw.caplen < WIFI_HEADER_LEN).view(np.uint8) * np.uint8(Status.TRUNCATED_LINK)
    length_bytes = reader.u16(raw.offset, 2)
    length = ((length_bytes & 0xFF) << 8) | (length_bytes >> 8)  # little-endian, unlike every other field here
    cut = (raw.caplen < RADIOTAP_MIN_LEN) | (length < RADIOTAP_MIN_LEN) | (raw.caplen < length + WIFI_HEADER_LEN)
    return length, cut.view(np.uint8) * np.uint8(Status.TRUNCATED_LINK)


def wifi_link(raw: RawBatch, reader: ByteReader, radiotap: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(status, ip_version, l3_offset) of each packet of an 802.11 link."""
    start, status = mac_header(raw, reader, radiotap)
    frame_control = reader.u16(raw.offset + start)
    kind, flags = frame_control >> 8, frame_control & 0xFF
    version, frame_type, subtype = kind & 0x3, (kind >> 2) & 0x3, kind >> 4
    qos = (subtype & WIFI_SUBTYPE_QOS) != 0
    four_addresses = (flags & (WIFI_TO_DS | WIFI_FROM_DS)) == (WIFI_TO_DS | WIFI_FROM_DS)
    qos_at = start + WIFI_HEADER_LEN + WIFI_ADDR4_LEN * four_addresses
    snap_at = qos_at + qos * (WIFI_QOS_LEN + WIFI_HT_CONTROL_LEN * ((flags & WIFI_ORDER) != 0))
    carries_body = ((version == 0) & (frame_type == WIFI_DATA_TYPE) & ((subtype & WIFI_SUBTYPE_NO_DATA) == 0)
                    & ((flags & WIFI_PROTECTED) == 0))
    carries_body &= ~(qos & ((reader.u8(raw.offset + qos_at) & WIFI_AMSDU) != 0))
    ok = status == Status.OK
    status[ok & ~carries_body] = Status.NOT_IP
    framed = ok & carries_body
    status[framed & (raw.caplen < snap_at + LLC_SNAP_LEN)] = Status.TRUNCATED_LINK
    framed &= status == Status.OK
    snap = reader.words(raw.offset + snap_at, 1)[0]
    ethertype = np.where(((snap >> 16) & 0xFFFF_FFFF_FFFF) == _SNAP_PREFIX, snap & 0xFFFF, 0)  # >> keeps the sign
    ip_version = ((ethertype == ETHERTYPE_IPV4) * 4 + (ethertype == ETHERTYPE_IPV6) * 6) * framed
    status[framed & (ip_version == 0)] = Status.NOT_IP
    return status, ip_version.astype(np.uint8), (snap_at + LLC_SNAP_LEN).astype(np.int64)
