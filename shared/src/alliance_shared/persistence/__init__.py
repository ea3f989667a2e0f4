"""MongoDB access: client factory, index bootstrap, optimistic concurrency."""
