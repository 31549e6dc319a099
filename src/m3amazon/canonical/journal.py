"""General-ledger postings: balanced journals ready for M3 (GLS840MI)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from m3amazon.canonical.money import Money


class JournalLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: M3 accounting dimensions AIT1 (account) .. AIT7
    dimensions: tuple[str, ...] = Field(min_length=1, max_length=7)
    amount: Money = Field(description="Positive = debit, negative = credit")
    text: str | None = Field(default=None, max_length=40)
    vat_code: str | None = None

    @property
    def account(self) -> str:
        return self.dimensions[0]


class JournalPosting(BaseModel):
    """A voucher: lines in one currency on one accounting date that sum to zero."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="Idempotency key, e.g. the settlement id and period")
    accounting_date: date
    currency: str
    description: str = Field(max_length=40)
    lines: tuple[JournalLine, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _balanced(self) -> JournalPosting:
        total = Money.sum((line.amount for line in self.lines), self.currency)
        if not total.is_zero:
            raise ValueError(f"journal {self.key} does not balance: residue {total}")
        return self

    @property
    def debits(self) -> Money:
        return Money.sum((x.amount for x in self.lines if x.amount.amount > 0), self.currency)
