"""Customer invoices: what M3 billed for an order (OIS350 / Sync Invoice), in canonical form.

Why a type of its own: the invoicing flow reconciles what M3 invoiced with what Amazon paid, so it
needs the invoice number, the order it belongs to and exact amounts per line, whatever the source
(an MI read or a BOD). Amounts are Money; quantities Decimal (M3 quantities may be fractional).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from m3amazon.canonical.money import Money


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: The marketplace's line id (Amazon orderItemId, M3's line CUOR) when known, else M3's line number.
    line_id: str | None = None
    item_number: str | None = None
    sku: str | None = None
    quantity: Decimal = Field(gt=0)
    #: Net amount of the line (quantity x price, after discounts, before tax).
    net_amount: Money


class Invoice(BaseModel):
    """One invoice of the seller to a customer. `invoice_number` is the natural key (with the year)."""

    model_config = ConfigDict(frozen=True)

    invoice_number: str
    issued_on: date
    currency: str
    #: The marketplace order this invoice bills (M3's CUOR: the Amazon order id), when known.
    order_id: str | None = None
    #: The seller's own order number (M3 ORNO).
    seller_order_number: str | None = None
    customer_number: str | None = None
    delivery_number: str | None = None
    due_on: date | None = None
    lines: tuple[InvoiceLine, ...] = ()
    net_total: Money
    tax_total: Money | None = None
    total: Money

    @model_validator(mode="after")
    def _consistent(self) -> Invoice:
        amounts = [self.net_total, self.total, *([self.tax_total] if self.tax_total else [])]
        amounts.extend(line.net_amount for line in self.lines)
        if any(amount.currency != self.currency for amount in amounts):
            raise ValueError(f"invoice {self.invoice_number} mixes currencies")
        if self.lines:
            lines_total = Money.sum((line.net_amount for line in self.lines), self.currency)
            if lines_total != self.net_total:
                raise ValueError(
                    f"invoice {self.invoice_number}: lines add up to {lines_total},"
                    f" net total is {self.net_total}"
                )
        return self
