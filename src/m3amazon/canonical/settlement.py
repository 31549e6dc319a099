"""One line of an Amazon settlement: an amount of money with what caused it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from m3amazon.canonical.money import Money


class SettlementLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    settlement_id: str
    transaction_type: str
    amount_type: str
    amount_description: str
    amount: Money
    order_id: str | None = None
    sku: str | None = None
    quantity: int | None = None
    posted_at: datetime | None = None
    marketplace: str | None = None

    @property
    def category_key(self) -> tuple[str, str, str]:
        """The (transaction-type, amount-type, amount-description) triple that picks the GL account."""
        return (self.transaction_type, self.amount_type, self.amount_description)
