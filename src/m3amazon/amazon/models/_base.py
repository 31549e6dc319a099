"""Base classes of the typed SP-API models.

Why tolerant: Amazon adds fields and enum values without a version bump, so every model keeps
unknown fields (`extra="allow"`) and types enum-like fields as plain strings; the translation
decides what an unknown value means. Python names are snake_case; the wire names are the model's
spelling: camelCase for the newer APIs (`AmazonModel`), PascalCase for the v0-style APIs such as
Finances v0 (`PascalModel`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel, to_pascal


class AmazonModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_json(self) -> dict[str, Any]:
        """The wire form (model spelling, unset fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class PascalModel(AmazonModel):
    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="allow")
