"""Typed models of the SP-API documents the product reads (tolerant of fields Amazon adds)."""
