"""Fixtures of the M3 edge's integration tests (defined in the support modules, importable by the tests)."""

from m3_ims_support import receiver  # noqa: F401  (the fixture)
from m3_sim_support import sim  # noqa: F401  (the fixture)
