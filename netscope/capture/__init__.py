"""Packet sources: libpcap live handles and capture files, delivered as RawBatch objects."""
