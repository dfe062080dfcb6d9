"""Packet sources: libpcap live handles and capture files, delivered as RawBatch objects.

`offline.FileSource` replays a pcap/pcapng file, `live.LiveSource` reads an interface; both
offer `batches(stop)`, `linktype`, `wirelen_estimated` and `close()` (`source.PacketSource`).
Failures are `errors.CaptureError`, whose text is ready to print. Nothing is re-exported here,
so importing the batch contract does not pull in libpcap.
"""
