"""Sharded pipeline: flows split across worker processes by a symmetric hash of their endpoints."""
