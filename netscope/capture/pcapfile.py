"""Exact wire lengths for offline reads, recovered from the capture file's own record headers.

libpcap does the decoding (`next_batch`), but its metadata has no wire length. The file has
it, next to the captured length, in every record header. Walking the headers one by one in
Python would cost more than the read itself, so the walk is *predicted* instead:

* a batch hands us the captured lengths of the next n packets, in file order;
* each record's size follows from its caplen (classic pcap: 16 + caplen; pcapng Enhanced
  Packet Block: 32 + caplen padded to 4 + the options length seen last), so a cumulative sum
  predicts where every record header starts;
* one numpy gather reads all those headers from an mmap of the file, and the prediction is
  checked (caplen, and for pcapng block type and block length, must match);
* the first mismatch — a section or interface header, a statistics block, a packet with
  options, a record libpcap shortened to its snaplen — is resolved by walking blocks in
  Python from there, and prediction resumes after it over a window that starts small and
  doubles while it keeps matching, so a file full of irregular blocks stays linear.

Files where the prediction keeps failing cost one short walk per irregular block; a record
the walk cannot reconcile with libpcap's view makes `wire_lengths` return None and the
caller falls back to estimating (netscope.capture.wirelen). With a BPF filter libpcap skips
records, so the index cannot be used at all.
"""

from __future__ import annotations

import mmap
import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

PCAP_MAGIC_MICRO = 0xA1B2C3D4
PCAP_MAGIC_NANO = 0xA1B23C4D
PCAP_MAGIC_MODIFIED = 0xA1B2CD34  # Kuznetzov's patched tcpdump: 8 more bytes per record (ifindex, protocol, type)
PCAP_FILE_HEADER_LEN = 24
PCAP_RECORD_HEADER_LEN = 16
PCAP_MODIFIED_RECORD_HEADER_LEN = 24
PCAP_LINKTYPE_MASK = 0x0FFFFFFF  # the header's upper bits carry FCS information, not the link type

PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_IDB = 0x00000001
PCAPNG_PB = 0x00000002  # obsolete Packet Block: caplen/origlen at the same offsets as an EPB
PCAPNG_SPB = 0x00000003
PCAPNG_EPB = 0x00000006
PACKET_BLOCKS = (PCAPNG_EPB, PCAPNG_PB, PCAPNG_SPB)
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
PCAPNG_EPB_FIXED_LEN = 32  # block header, interface, timestamp, lengths, trailing length
PCAPNG_MIN_BLOCK_LEN = 12
PCAPNG_SNAPLEN_SEARCH_BLOCKS = 16  # how far to look for the first interface description

MIN_WINDOW = 16  # records predicted right after a mismatch

MAX_CAPLEN = 262144  # libpcap's max_snaplen_for_dlt for all but the links below
FULL_SNAPLEN = 65535  # the reference's default snaplen: whole packets of any usual link
MAX_CAPLEN_BY_LINKTYPE = {231: 128 << 20, 279: 8 << 20, 249: 1 << 20}  # D-Bus, EBHSCR, USBPcap


def max_caplen(linktype: int) -> int:
    """The longest record libpcap reads for this link type: a longer one fails the read."""
    return MAX_CAPLEN_BY_LINKTYPE.get(linktype, MAX_CAPLEN)


@dataclass(frozen=True, slots=True)
class CaptureFormat:
    kind: str  # "pcap" or "pcapng"
    byte_order: str  # "<" or ">" (of the first section, for pcapng)
    snaplen: int  # 0 = no limit declared
    record_header_len: int = PCAP_RECORD_HEADER_LEN  # classic pcap only


Buffer = bytes | mmap.mmap | np.ndarray


def _u32(buf: Buffer, at: int, order: str) -> int:
    return struct.unpack_from(order + "I", buf, at)[0]


def sniff_format(view: Buffer) -> CaptureFormat | None:
    """Recognise a classic pcap or pcapng file from its first bytes; None for anything else."""
    if len(view) >= PCAP_FILE_HEADER_LEN:
        for order in "<>":
            magic = _u32(view, 0, order)
            if magic in (PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PCAP_MAGIC_MODIFIED):
                header_len = PCAP_MODIFIED_RECORD_HEADER_LEN if magic == PCAP_MAGIC_MODIFIED else PCAP_RECORD_HEADER_LEN
                return CaptureFormat("pcap", order, _u32(view, 16, order), header_len)
    if len(view) >= PCAPNG_MIN_BLOCK_LEN and _u32(view, 0, "<") == PCAPNG_SHB:
        order = "<" if _u32(view, 8, "<") == PCAPNG_BYTE_ORDER_MAGIC else ">"
        return CaptureFormat("pcapng", order, _first_interface_snaplen(view, order))
    return None


def _first_interface_snaplen(view: Buffer, order: str) -> int:
    pos = 0
    for _ in range(PCAPNG_SNAPLEN_SEARCH_BLOCKS):
        if pos + 16 > len(view):
            break
        block_type, block_len = _u32(view, pos, order), _u32(view, pos + 4, order)
        if block_type == PCAPNG_IDB:
            return _u32(view, pos + 12, order)
        if block_len < PCAPNG_MIN_BLOCK_LEN:
            break
        pos += block_len
    return 0


def _gather_u32_pairs(view: np.ndarray, at: np.ndarray, order: str) -> np.ndarray:
    """Two consecutive uint32 at every position, as an (n, 2) int64 array; positions are clipped.

    The buffer is viewed as overlapping 8-byte records with a one-byte stride, so the read is one
    gather of n records instead of 8n single bytes.
    """
    records = np.ndarray((max(view.size - 7, 1),), dtype="V8", buffer=view, strides=(1,))
    safe = np.clip(at, 0, records.size - 1)
    return records[safe].view(order + "u4").reshape(-1, 2).astype(np.int64)


def _pad4(length: np.ndarray | int) -> np.ndarray | int:
    return (length + 3) & ~3


class RecordIndex(ABC):
    """Follows libpcap through the file: the packets it returns, in order, map to records here.

    `position` is the byte offset of the first record not yet matched, so after the last
    batch it marks how far the file was consumed (and where a damaged tail begins).
    """

    def __init__(self, view: np.ndarray, start: int, byte_order: str) -> None:
        self.view = view
        self.position = start
        self.byte_order = byte_order

    def wire_lengths(self, caplen: np.ndarray) -> np.ndarray | None:
        """Wire lengths of the next `caplen.size` packets, or None once the file and libpcap disagree."""
        total = caplen.size
        out = np.empty(total, np.int64)
        done, window = 0, max(total, 1)
        while done < total:
            chunk = caplen[done:done + window]
            sizes = self._predicted_sizes(chunk)
            ends = self.position + np.cumsum(sizes)
            ok, wirelen = self._check(ends - sizes, chunk, sizes, ends)
            matched = chunk.size if ok.all() else int(np.argmin(ok))
            out[done:done + matched] = wirelen[:matched]
            if matched:
                self.position = int(ends[matched - 1])
            done += matched
            if matched == chunk.size:
                window *= 2
                continue
            resolved = self._walk_to_packet(int(caplen[done]))
            if resolved is None:
                return None
            out[done] = resolved
            done += 1
            window = MIN_WINDOW
        return out

    def damage_start(self) -> int:
        """Where a file cut short is cut: `position`, after any whole blocks that hold no packet
        (libpcap reads whole blocks, so only the one that does not fit is the damage)."""
        return self.position

    @abstractmethod
    def _predicted_sizes(self, caplen: np.ndarray) -> np.ndarray:
        """Size of each record if every one is a plain packet record."""

    @abstractmethod
    def _check(self, starts: np.ndarray, caplen: np.ndarray, sizes: np.ndarray,
               ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which predicted records are real, and the wire lengths read at them."""

    @abstractmethod
    def _walk_to_packet(self, caplen: int) -> int | None:
        """Advance `position` past the next packet record, reading headers one by one; its wire length."""


class PcapIndex(RecordIndex):
    """Classic pcap: a 16-byte header (ts_sec, ts_frac, caplen, wirelen) before each packet, or
    24 bytes in the modified format (the same four fields first)."""

    def __init__(self, view: np.ndarray, start: int, byte_order: str,
                 record_header_len: int = PCAP_RECORD_HEADER_LEN) -> None:
        super().__init__(view, start, byte_order)
        self.record_header_len = record_header_len

    def _predicted_sizes(self, caplen: np.ndarray) -> np.ndarray:
        return caplen + self.record_header_len

    def _check(self, starts, caplen, sizes, ends):
        lengths = _gather_u32_pairs(self.view, starts + 8, self.byte_order)
        ok = (ends <= self.view.size) & (lengths[:, 0] == caplen)
        return ok, lengths[:, 1]

    def _walk_to_packet(self, caplen: int) -> int | None:
        pos = self.position
        if pos + self.record_header_len > self.view.size:
            return None
        file_caplen = _u32(self.view, pos + 8, self.byte_order)
        end = pos + self.record_header_len + file_caplen
        # libpcap shortens records longer than the file's snaplen, never lengthens them.
        if file_caplen < caplen or end > self.view.size:
            return None
        self.position = end
        return _u32(self.view, pos + 12, self.byte_order)


class PcapngIndex(RecordIndex):
    """pcapng: predicts Enhanced Packet Blocks, walks everything else (SHB, IDB, ISB, options...)."""

    def __init__(self, view: np.ndarray, start: int, byte_order: str) -> None:
        super().__init__(view, start, byte_order)
        self.options_len = 0  # options bytes of the last EPB walked: files tend to repeat them

    def _predicted_sizes(self, caplen: np.ndarray) -> np.ndarray:
        return _pad4(caplen) + (PCAPNG_EPB_FIXED_LEN + self.options_len)

    def damage_start(self) -> int:
        """Past the section and interface headers (and statistics) in front of a cut packet."""
        pos, order = self.position, self.byte_order
        while (block := self._block_at(pos, order)) is not None and block[0] not in PACKET_BLOCKS:
            pos, order = pos + block[1], block[2]
        return pos

    def _block_at(self, pos: int, order: str) -> tuple[int, int, str] | None:
        """Type, length and byte order of the whole block at `pos`; None if no whole block is there.

        A section header sets the byte order for itself and what follows it."""
        if pos + PCAPNG_MIN_BLOCK_LEN > self.view.size:
            return None
        block_type = _u32(self.view, pos, order)
        if block_type == PCAPNG_SHB:
            order = "<" if _u32(self.view, pos + 8, "<") == PCAPNG_BYTE_ORDER_MAGIC else ">"
        block_len = _u32(self.view, pos + 4, order)
        if block_len < PCAPNG_MIN_BLOCK_LEN or block_len % 4 or pos + block_len > self.view.size:
            return None
        return block_type, block_len, order

    def _check(self, starts, caplen, sizes, ends):
        head = _gather_u32_pairs(self.view, starts, self.byte_order)
        lengths = _gather_u32_pairs(self.view, starts + 20, self.byte_order)
        ok = ((ends <= self.view.size) & (head[:, 0] == PCAPNG_EPB) & (head[:, 1] == sizes)
              & (lengths[:, 0] == caplen))
        return ok, lengths[:, 1]

    def _walk_to_packet(self, caplen: int) -> int | None:
        while (block := self._block_at(self.position, self.byte_order)) is not None:
            pos = self.position
            block_type, block_len, self.byte_order = block
            self.position = pos + block_len
            if block_type in (PCAPNG_EPB, PCAPNG_PB):
                file_caplen = _u32(self.view, pos + 20, self.byte_order)
                if file_caplen < caplen:
                    return None
                if block_type == PCAPNG_EPB:
                    self.options_len = block_len - PCAPNG_EPB_FIXED_LEN - _pad4(file_caplen)
                return _u32(self.view, pos + 24, self.byte_order)
            if block_type == PCAPNG_SPB:
                return _u32(self.view, pos + 8, self.byte_order)
        return None


def open_index(view: np.ndarray, fmt: CaptureFormat) -> RecordIndex:
    if fmt.kind == "pcap":
        return PcapIndex(view, PCAP_FILE_HEADER_LEN, fmt.byte_order, fmt.record_header_len)
    return PcapngIndex(view, 0, fmt.byte_order)
