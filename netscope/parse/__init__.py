"""Vectorised header parsing: a RawBatch in, a ParsedBatch of per-packet header columns out."""
