"""Configurable mapping tables (customers, items, addresses), loaded from YAML and validated."""

from m3amazon.mapping.tables import MappingError, Mappings, load_mappings

__all__ = ["MappingError", "Mappings", "load_mappings"]
