"""The handshake RTT of each connection, computed the way tshark computes tcp.analysis.initial_rtt.

tshark remembers the latest SYN (without ACK) and, at the first later packet that has ACK
but not SYN, fixes the initial RTT as the time between the two; a zero difference does
not count. That equals SYN -> SYN-ACK plus SYN-ACK -> ACK when the connection has a full
handshake, which is the only case where it is exported (`rtt_handshake_ms`, null
otherwise): the ACK must come from the SYN's side after a SYN-ACK from the other side.
The value, exported or not, is also tshark's out-of-order window for the flow.
"""

from __future__ import annotations

import numpy as np

from netscope.analysis.tcp_grouped import group_ends, group_starts, latest, start_index
from netscope.analysis.tcp_walk import Walk

DEFAULT_WINDOW_US = 3_000  # tshark's out-of-order window before the initial RTT is known


def settle_handshakes(walk: Walk) -> np.ndarray:
    """Fill the handshake fields of `walk.state`; returns each packet's out-of-order window (µs).

    Only flows whose initial RTT is still unknown are looked at: for the others nothing
    can change any more.
    """
    p, carried, state = walk.packets, walk.carried, walk.state
    open_flow = ~carried.has_first_rtt[p.group]
    window = np.where(open_flow, DEFAULT_WINDOW_US, carried.first_rtt_us[p.group])
    if not open_flow.any():
        return window
    pick = np.flatnonzero(open_flow)
    group, ts, direction = p.group[pick], p.ts_us[pick], p.direction[pick]
    syn, is_ack = walk.syn[pick], walk.is_ack[pick]
    first = start_index(group_starts(group))
    pure_syn = syn & ~is_ack
    syn_at = latest(pure_syn, first)
    in_batch = syn_at >= 0
    at = np.maximum(syn_at, 0)
    has_syn = in_batch | carried.has_syn[group]
    syn_us = np.where(in_batch, ts[at], carried.syn_us[group])
    syn_dir = np.where(in_batch, direction[at], carried.syn_dir[group])
    answer_a = latest(syn & is_ack & (direction == 0), first)
    answer_b = latest(syn & is_ack & (direction == 1), first)
    answer = np.where(syn_dir == 0, answer_b, answer_a)  # latest SYN-ACK from the SYN's peer
    answered = np.where(in_batch, answer > syn_at, carried.synack_seen[group] | (answer >= 0))

    closing = is_ack & ~syn & has_syn & (ts != syn_us)
    candidates = np.flatnonzero(closing)
    chosen = candidates[group_starts(group[candidates])]  # first candidate of each flow
    settled = group[chosen]
    state.has_first_rtt[settled] = True
    state.first_rtt_us[settled] = ts[chosen] - syn_us[chosen]
    state.handshake_full[settled] = answered[chosen] & (direction[chosen] == syn_dir[chosen])

    last = group_ends(group_starts(group))
    ends = group[last]
    state.has_syn[ends] = has_syn[last]
    state.syn_us[ends] = syn_us[last]
    state.syn_dir[ends] = syn_dir[last]
    state.synack_seen[ends] = answered[last]

    settled_at = np.full(p.groups, np.iinfo(np.int64).max)
    settled_at[settled] = chosen
    known = settled_at[group] < np.arange(pick.shape[0])
    window[pick[known]] = state.first_rtt_us[group[known]]
    return window
