"""The TCP state machine (reference §3.4, closing fixed per §12) applied to a batch at once.

Sequentially, every packet of a flow moves its state by these rules, first match wins:
  1. RST                    -> reset
  2. SYN without ACK        -> syn_sent; clears the FIN mask; sets the client if unset
  3. SYN+ACK                -> syn_ack
  4. FIN                    -> FIN mask |= sender; closed once both sides sent one, else fin_wait
  5. ACK only               -> established, unless reset, closed or fin_wait
  6. anything else          -> unchanged
Rules 1-3 set the state whatever came before, so per flow only the packets after the last
of them can matter, and those (FIN, ACK, other) summarise to "was there a FIN after it, an
ACK after it, and which sides sent FINs since the last pure SYN". That turns the sequence
into a few scatter reductions per batch with the same result as the packet-by-packet walk.
"""

from __future__ import annotations

import numpy as np

from netscope.flow.records import Client, TcpState
from netscope.parse.columns import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN

FIN_FROM_A = 1
FIN_FROM_B = 2
FIN_BOTH = FIN_FROM_A | FIN_FROM_B
# Plain ints: enum attribute lookups cost more than the numpy calls they feed on small batches.
SYN_SENT, SYN_ACK, ESTABLISHED = int(TcpState.SYN_SENT), int(TcpState.SYN_ACK), int(TcpState.ESTABLISHED)
FIN_WAIT, CLOSED, RESET = int(TcpState.FIN_WAIT), int(TcpState.CLOSED), int(TcpState.RESET)
NO_CLIENT, CLIENT_A, CLIENT_B = int(Client.NONE), int(Client.A_TO_B), int(Client.B_TO_A)


def advance(state: np.ndarray, fin_mask: np.ndarray, client: np.ndarray, group: np.ndarray,
            a_to_b: np.ndarray, flags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New (state, fin_mask, client) per flow after its packets of this batch.

    state/fin_mask/client hold each flow's values before the batch (one entry per group);
    group, a_to_b and flags have one entry per packet, in packet order. Flags must be 0 for
    packets that are not TCP, which then leave their flow untouched.
    """
    if not flags.any():
        return state, fin_mask, client
    groups = state.shape[0]
    order = np.arange(flags.shape[0])
    rst = (flags & TCP_RST) != 0
    syn = ((flags & TCP_SYN) != 0) & ~rst
    ack = (flags & TCP_ACK) != 0
    fin = ((flags & TCP_FIN) != 0) & ~syn & ~rst
    pure_syn = syn & ~ack
    ack_only = ack & ~syn & ~rst & ~fin

    def last_of(events: np.ndarray) -> np.ndarray:
        # Scattered over the event packets only: RST, SYN and FIN are rare, so this is mostly tiny.
        at = np.flatnonzero(events)
        out = np.full(groups, -1, dtype=np.int64)
        np.maximum.at(out, group[at], at)
        return out

    absolute = rst | syn
    last_absolute = last_of(absolute)
    last_pure_syn = last_of(pure_syn)
    last_fin = last_of(fin)
    # ACK-only packets are most packets: whether one follows the last RST/SYN is a plain
    # scatter of True, where a scattered maximum of their positions would cost a ufunc.at.
    acked_since = np.zeros(groups, dtype=bool)
    acked_since[group[ack_only & (order > last_absolute[group])]] = True

    absolute_state = np.where(rst, RESET, np.where(ack, SYN_ACK, SYN_SENT))
    has_absolute = last_absolute >= 0
    base = state.copy()
    base[has_absolute] = absolute_state[last_absolute[has_absolute]]

    fin_bits = np.where(a_to_b, FIN_FROM_A, FIN_FROM_B).astype(np.uint8)
    counted = fin & (order > last_pure_syn[group])
    fins_since_syn = np.zeros(groups, dtype=np.uint8)
    np.bitwise_or.at(fins_since_syn, group[counted], fin_bits[counted])
    new_mask = np.where(last_pure_syn >= 0, 0, fin_mask).astype(np.uint8) | fins_since_syn

    closing = (base == RESET) | (base == CLOSED) | (base == FIN_WAIT)
    new_state = np.where(acked_since & ~closing, ESTABLISHED, base)
    fin_state = np.where(new_mask == FIN_BOTH, CLOSED, FIN_WAIT)
    new_state = np.where(last_fin > last_absolute, fin_state, new_state).astype(np.uint8)

    first_pure_syn = np.full(groups, order.shape[0], dtype=np.int64)
    np.minimum.at(first_pure_syn, group[pure_syn], order[pure_syn])
    sets_client = (client == NO_CLIENT) & (first_pure_syn < order.shape[0])
    new_client = client.copy()
    new_client[sets_client] = np.where(a_to_b[first_pure_syn[sets_client]], CLIENT_A, CLIENT_B)
    return new_state, new_mask, new_client
