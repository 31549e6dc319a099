"""Pure translation between Amazon's documents and the canonical model (no I/O)."""
