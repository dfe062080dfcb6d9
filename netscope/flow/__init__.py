"""Bidirectional TCP/UDP flow tracking over numpy column tables."""
