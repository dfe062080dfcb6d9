"""The alert record every detector emits and every output (screen, JSONL, headless) reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Alert:
    """One anomaly, stamped with the packet time that triggered it.

    `kind` is always the snake_case name (`syn_flood`, `port_scan`): the reference writes
    `SynFlood` in some outputs and `syn_flood` in others, which breaks anyone grepping.
    """

    ts: float
    kind: str
    description: str
    hosts: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, object]:
        """The reference's alert JSONL schema (§4.4), plus the hosts involved."""
        return {"ts": self.ts, "kind": self.kind, "description": self.description, "hosts": list(self.hosts)}
