"""The pcap link types netscope reads, and where each one puts the network header.

Two stages need the layout: the parser, and the capture side, which reads the IP length of
packets cut at the snaplen to recover their wire length (capture/wirelen.py). One table serves
both, so a link type added here is understood by both, with the same VLAN tags (802.11 is read by
the parser only: a Wi-Fi frame of a 1500-byte MTU is never cut at the default snaplen). It is plain
data at the top of the package, as paths.py is, so the screen's packet decoder and the report
name link types from it too without importing capture or parse code.
"""

from __future__ import annotations

DLT_NULL = 0
DLT_EN10MB = 1
DLT_RAW = 12
DLT_RAW_OPENBSD = 101  # LINKTYPE_RAW, the number pcap files carry for raw IP
DLT_LOOP = 108
DLT_LINUX_SLL = 113
DLT_IPV4 = 228
DLT_IPV6 = 229
DLT_LINUX_SLL2 = 276
DLT_IEEE802_11 = 105  # 802.11 frames as a monitor-mode interface hands them over, without radio header
DLT_IEEE802_11_RADIO = 127  # the same behind a radiotap header: what Wi-Fi monitor captures carry

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8)  # 802.1Q and 802.1ad (QinQ's outer tag)
MAX_VLAN_TAGS = 8  # 802.1Q/802.1ad stacks, walked as tshark walks them (QinQ is 2; more are rare)
VLAN_TAG_LEN = 4
# After the VLAN tags (the parser only; a live packet of these cut at the snaplen counts its
# captured bytes, capture/wirelen.py does not follow them): a PPPoE session (6-byte header,
# then the 2-byte PPP protocol) or an MPLS label stack (4 bytes per label, the last one marked
# bottom of stack, then an IP header known by its version nibble), as tshark decodes them.
ETHERTYPE_PPPOE_SESSION = 0x8864
PPPOE_HEADER_LEN = 8  # PPPoE header and PPP protocol field
PPP_IPV4, PPP_IPV6 = 0x0021, 0x0057
ETHERTYPE_MPLS = (0x8847, 0x8848)  # unicast, multicast
MPLS_LABEL_LEN = 4
MAX_MPLS_LABELS = 8

# Tunnels whose inner packet the parser reports instead (parse/tunnels.py), as tshark dissects
# them by default; the screen's packet decoder names them from here too.
VXLAN_PORTS = (4789, 8472)  # UDP, either side: IANA's, and the Linux kernel's default (flannel's)
GENEVE_PORT = 6081
IPPROTO_IPIP = 4  # IPv4 inside IP
IPPROTO_IPV6 = 41  # IPv6 inside IP (6in4, or IPv6 in IPv6)
IPPROTO_GRE = 47
ETHERTYPE_TEB = 0x6558  # transparent Ethernet bridging: GRE or GENEVE carrying an Ethernet frame
# ERSPAN, a switch's port mirror sent over GRE to a monitoring host: type I (no GRE sequence
# number) and II (an 8-byte header), type III (12 bytes, 8 more when its O flag is set).
ETHERTYPE_ERSPAN_II = 0x88BE
ETHERTYPE_ERSPAN_III = 0x22EB

# RFC 2675 jumbograms: IPv6 payload length 0 and a Hop-by-Hop header whose first option is Jumbo
# Payload (type 0xC2, 4 bytes of data) holding the real length, which must exceed 65535. Linux
# sends them with BIG TCP (gso_max_size above 64 KiB), and a capture on the sending host sees
# them. Both the parser and the wire-length estimate read the length there.
JUMBO_OPTION = 0xC2_04  # option type and option data length, as one 16-bit word
MIN_JUMBO = 1 << 16

# 802.11 (parse/wifi.py): data frames carry an LLC/SNAP header and then an EtherType. Frame
# control, as its two bytes read big-endian: type and subtype in the high byte, flags in the low.
WIFI_LINKS = {DLT_IEEE802_11: False, DLT_IEEE802_11_RADIO: True}  # DLT -> behind a radiotap header
RADIOTAP_MIN_LEN = 8  # version, pad, length (little-endian), the first present word
WIFI_DATA_TYPE = 2
WIFI_SUBTYPE_QOS, WIFI_SUBTYPE_NO_DATA = 0x8, 0x4  # subtype bits: QoS control follows; Null, no body
WIFI_TO_DS, WIFI_FROM_DS, WIFI_PROTECTED, WIFI_ORDER = 0x01, 0x02, 0x40, 0x80
WIFI_HEADER_LEN, WIFI_ADDR4_LEN, WIFI_QOS_LEN, WIFI_HT_CONTROL_LEN = 24, 6, 2, 4
WIFI_AMSDU = 0x80  # in the QoS control's first byte: the body is an A-MSDU, not one SNAP frame
LLC_SNAP = bytes.fromhex("aaaa03000000")  # LLC SNAP with an EtherType (RFC 1042 encapsulation)
LLC_SNAP_LEN = 8

# DLT -> (link header length, position of the EtherType within it); VLAN tags may follow.
ETHERTYPE_LINKS = {
    DLT_EN10MB: (14, 12),
    DLT_LINUX_SLL: (16, 14),
    DLT_LINUX_SLL2: (20, 0),
}
# DLT -> link header length, for links whose IP version is the first nibble of the payload. The
# NULL family field is in the capturing host's byte order, which is exactly why it is not used.
NIBBLE_LINKS = {DLT_NULL: 4, DLT_LOOP: 4, DLT_RAW: 0, DLT_RAW_OPENBSD: 0}
# Raw links that declare the IP version for the whole capture.
FIXED_VERSION_LINKS = {DLT_IPV4: 4, DLT_IPV6: 6}
IP_LINKS = frozenset(ETHERTYPE_LINKS) | frozenset(NIBBLE_LINKS) | frozenset(FIXED_VERSION_LINKS)

LINK_NAMES = {DLT_EN10MB: "Ethernet", DLT_LINUX_SLL: "Linux SLL", DLT_LINUX_SLL2: "Linux SLL2",
              DLT_NULL: "Loopback (NULL)", DLT_LOOP: "Loopback (LOOP)", DLT_RAW: "Raw IP",
              DLT_RAW_OPENBSD: "Raw IP", DLT_IPV4: "Raw IPv4", DLT_IPV6: "Raw IPv6",
              DLT_IEEE802_11: "IEEE 802.11", DLT_IEEE802_11_RADIO: "802.11 + radiotap"}


def link_name(linktype: int) -> str:
    """What the report and the screen call a link type; unknown ones by number, as the reference does."""
    return LINK_NAMES.get(linktype, f"Unsupported({linktype})")
