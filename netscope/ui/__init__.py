"""The Textual screen: reads engine snapshots through an EngineLink, never capture code."""

from netscope.ui.app import NetscopeApp, run_tui

__all__ = ["NetscopeApp", "run_tui"]
