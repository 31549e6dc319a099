"""Fixtures of the M3 edge's integration tests (defined in m3_sim_support, importable by the tests)."""

from m3_sim_support import sim  # noqa: F401  (the fixture)
