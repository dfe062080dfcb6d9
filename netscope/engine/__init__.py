"""Drives capture -> parse -> flow/analysis and publishes a snapshot every tick."""
