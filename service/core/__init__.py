"""The pure normalization core: no gRPC, no I/O, only the rules."""
