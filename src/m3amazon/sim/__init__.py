"""Simulators of Amazon and M3 that speak the real protocols on loopback (demo, tests, benchmarks)."""
