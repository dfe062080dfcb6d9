"""The kernel fanout program of a live pipeline: which worker's handle gets each packet.

PACKET_FANOUT_HASH, the obvious mode, hashes what the kernel's flow dissector reads for its
fanout, and that dissector leaves the ports out of a first fragment. A UDP flow whose large
datagrams fragment and small ones do not was then two flows on two shards (DNS with big answers,
anything over a tunnel with a small MTU). It also hashes a tunnel's outer ports, which differ
between the two directions of one inner flow (pipeline/routing.py says why).

So the group runs this classic-BPF program instead (PACKET_FANOUT_CBPF), the same rule as the
file pipeline's routing: a symmetric hash of the addresses, with the ports for IPv4 TCP and UDP
packets that carry them (first fragments too) unless a tunnel port is on either side, and of
the addresses alone for IPv6. The kernel takes the result modulo the group's size. Offsets are
from the network header (SKF_NET_OFF), so the link type does not matter; a packet that is not
IP (by skb->protocol) goes to the first handle.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
from dataclasses import dataclass

from netscope.linktypes import GENEVE_PORT, VXLAN_PORTS

PACKET_FANOUT_CBPF = 6
SOL_PACKET = 263
PACKET_FANOUT_DATA = 22

# classic BPF opcodes (linux/filter.h)
_LD_W_ABS, _LD_H_ABS, _LD_B_ABS = 0x20, 0x28, 0x30
_LD_H_IND = 0x48
_LD_MEM, _LDX_MEM, _ST = 0x60, 0x61, 0x02
_AND_K, _LSH_K, _RSH_K, _MUL_K, _XOR_X = 0x54, 0x64, 0x74, 0x24, 0xAC
_TAX = 0x07
_JA, _JEQ_K, _JSET_K = 0x05, 0x15, 0x45
_RET_K, _RET_A = 0x06, 0x16

_NET = 0xFFF00000  # SKF_NET_OFF: loads relative to the network header
_PROTOCOL = 0xFFFFF000  # SKF_AD_OFF + SKF_AD_PROTOCOL: ntohs(skb->protocol)
_ETH_P_IP, _ETH_P_IPV6 = 0x0800, 0x86DD
_TCP, _UDP = 6, 17
_TUNNEL_PORTS = (*VXLAN_PORTS, GENEVE_PORT)


@dataclass(frozen=True)
class _Op:
    code: int
    k: int = 0
    true: str | None = None  # label of a conditional jump's (or ja's) target
    false: str | None = None  # label if the condition fails; None: the next instruction


def _mix_into_a() -> list[_Op | str]:
    """murmur3's 32-bit finaliser on A, so nearby addresses spread over the handles."""
    ops: list[_Op | str] = []
    for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35), (16, None)):
        ops += [_Op(_ST, 2), _Op(_RSH_K, shift), _Op(_TAX), _Op(_LD_MEM, 2), _Op(_XOR_X)]
        if multiplier is not None:
            ops.append(_Op(_MUL_K, multiplier))
    return ops


def _source() -> list[_Op | str]:
    """The program with labels (strings) where jumps land."""
    skip_tunnels = [_Op(_JEQ_K, port, true="addresses") for port in _TUNNEL_PORTS]
    v6_words = [_Op(_LD_W_ABS, _NET + 8), _Op(_TAX)]
    for offset in range(12, 40, 4):  # source and destination: eight words folded by XOR (symmetric)
        v6_words += [_Op(_LD_W_ABS, _NET + offset), _Op(_XOR_X), _Op(_TAX)]
    return [
        _Op(_LD_W_ABS, _PROTOCOL),
        _Op(_JEQ_K, _ETH_P_IP, true="v4"),
        _Op(_JEQ_K, _ETH_P_IPV6, true="v6"),
        _Op(_RET_K, 0),
        "v4",
        _Op(_LD_W_ABS, _NET + 12), _Op(_TAX), _Op(_LD_W_ABS, _NET + 16), _Op(_XOR_X), _Op(_ST, 0),
        _Op(_LD_H_ABS, _NET + 6), _Op(_JSET_K, 0x1FFF, true="addresses"),  # a later fragment: no ports
        _Op(_LD_B_ABS, _NET + 9), _Op(_JEQ_K, _TCP, true="ports"), _Op(_JEQ_K, _UDP, false="addresses"),
        _Op(_LD_B_ABS, _NET), _Op(_AND_K, 0x0F), _Op(_LSH_K, 2), _Op(_TAX),  # X = the IPv4 header's length
        _Op(_LD_H_IND, _NET), *skip_tunnels,
        _Op(_LD_H_IND, _NET + 2), *skip_tunnels,
        _Op(_JA, true="with ports"),
        "ports",
        _Op(_LD_B_ABS, _NET), _Op(_AND_K, 0x0F), _Op(_LSH_K, 2), _Op(_TAX),
        "with ports",
        _Op(_LD_H_IND, _NET), _Op(_ST, 1), _Op(_LD_H_IND, _NET + 2), _Op(_LDX_MEM, 1), _Op(_XOR_X),
        _Op(_MUL_K, 0x9E3779B1), _Op(_TAX), _Op(_LD_MEM, 0), _Op(_XOR_X),
        _Op(_JA, true="mix"),
        "addresses",
        _Op(_LD_MEM, 0),
        _Op(_JA, true="mix"),
        "v6",
        *v6_words[:-1],  # the last word is in A
        "mix",
        *_mix_into_a(),
        _Op(_RET_A),
    ]


def assemble(source: list[_Op | str]) -> bytes:
    """struct sock_filter[] (u16 code, u8 jt, u8 jf, u32 k each) with the labels resolved."""
    ops: list[_Op] = []
    where: dict[str, int] = {}  # label: the index of the instruction after it
    for item in source:
        if isinstance(item, str):
            where[item] = len(ops)
        else:
            ops.append(item)
    out = bytearray()
    for index, op in enumerate(ops):
        jt, jf = (0 if label is None else where[label] - index - 1 for label in (op.true, op.false))
        if op.code == _JA:  # ja jumps by k
            jt, jf, k = 0, 0, jt
        else:
            k = op.k & 0xFFFFFFFF
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise ValueError(f"jump too far at {index}: {op}")
        out += struct.pack("=HBBI", op.code, jt, jf, k)
    return bytes(out)


FANOUT_PROGRAM = assemble(_source())


def set_fanout_program(fd: int, program: bytes = FANOUT_PROGRAM) -> None:
    """Give the fanout group of socket `fd` (joined as PACKET_FANOUT_CBPF) its program.

    The socket is pcapy's: a dup of its descriptor is wrapped so closing ours leaves libpcap's open.
    """
    filters = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(filters))  # struct sock_fprog
    with socket.socket(fileno=os.dup(fd)) as sock:
        sock.setsockopt(SOL_PACKET, PACKET_FANOUT_DATA, fprog)
