"""The GL table: which M3 account and dimensions each kind of settlement money is posted to.

Every settlement line is classified by Amazon's triple transaction-type / amount-type /
amount-description (research §11.4). A rule matches a triple, written `Order/ItemPrice/Principal`,
where each part may use wildcards (`*`, `?`, fnmatch-style, case-sensitive), and names the M3
account (AIT1), up to six further dimensions (AIT2..AIT7), the VAT code (VTCD) and the account's
normal side (`sign`). Of the rules that match, the most specific wins (the most literal parts, then
the most literal characters: `*/ItemFees/FBA*` before `*/ItemFees/*`; on a tie, the one listed
first); the rules of the settlement's marketplace (by marketplace id or
name, e.g. `Amazon.de`) are tried before the general ones.

`sign` never changes what is posted - the GL amount of a line is always the settlement amount
reversed (money Amazon pays the seller is credited to its account, money Amazon keeps is debited),
so every journal balances against the clearing account and the clearing account receives exactly
the deposit. `sign` says which side is normal for the account (`credit` for income and VAT,
`debit` for fees); the reconciliation report shows categorised totals in that sign (sales as a
positive credit, fees as a positive debit).

The table is validated when a worker starts (lengths from the MI field table: AIT1..AIT7 10
characters, VTCD 2 digits, the GLS840MI interface 15).
"""

from __future__ import annotations

from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from m3amazon.amazon.settlement_file import Aggregation

Triple = tuple[str, str, str]
_WILDCARDS = set("*?[")


class Counterpart(BaseModel):
    """An M3 account with its dimensions: the clearing and rounding accounts, and every rule's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: M3 account (AIT1)
    account: str = Field(min_length=1, max_length=10)
    #: further accounting dimensions AIT2..AIT7 (cost centre, ...), in order; "" leaves one empty
    dimensions: tuple[str, ...] = Field(default=(), max_length=6)

    @field_validator("dimensions")
    @classmethod
    def _dimension_lengths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for n, dim in enumerate(value, start=2):
            if len(dim) > 10:
                raise ValueError(f"dimension AIT{n} {dim!r} is longer than M3's 10 characters")
        return value

    @property
    def ait(self) -> tuple[str, ...]:
        """AIT1..AITn (trailing empty dimensions dropped)."""
        dims = list(self.dimensions)
        while dims and not dims[-1]:
            dims.pop()
        return (self.account, *dims)


class GLRule(Counterpart):
    """One row of the GL table: a triple pattern and where its money goes."""

    #: transaction-type/amount-type/amount-description, each part a literal or a wildcard pattern
    match: str
    #: the account's normal side (see the module docstring); never changes the posted amount
    sign: Literal["credit", "debit"] = "credit"
    #: M3 VAT code (VTCD, 0-99) on the line, if any
    vat_code: int | None = Field(default=None, ge=0, le=99)
    #: voucher text for the line (the triple when left out); M3 keeps 40 characters with the key
    text: str | None = Field(default=None, max_length=24)

    @field_validator("match")
    @classmethod
    def _three_parts(cls, value: str) -> str:
        parts = value.split("/", 2)
        if len(parts) != 3 or any(not p.strip() for p in parts):
            raise ValueError(
                f"match {value!r} must be transaction-type/amount-type/amount-description "
                "(use * for any value of a part)"
            )
        return value

    @property
    def parts(self) -> Triple:
        a, b, c = self.match.split("/", 2)
        return (a.strip(), b.strip(), c.strip())

    @property
    def specificity(self) -> tuple[int, int]:
        """(literal parts, literal characters): `Order/ItemFees/Commission` before `*/ItemFees/FBA*`
        before `*/ItemFees/*`."""
        literal = sum(1 for part in self.parts if not (_WILDCARDS & set(part)))
        return literal, sum(1 for part in self.parts for ch in part if ch not in _WILDCARDS)

    def matches(self, triple: Triple) -> bool:
        return all(fnmatchcase(value, pattern) for value, pattern in zip(triple, self.parts, strict=True))


class GLMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The Amazon clearing account: receives each settlement's deposit (balances every journal)
    clearing: Counterpart = Counterpart(account="1580")
    #: Where rounding residue from currency conversion goes
    rounding: Counterpart = Counterpart(account="7990")
    #: How settlement rows are summed into GL lines: category, day, order or line
    aggregation: Aggregation = Aggregation.CATEGORY
    #: GLS840MI interface (INTN) the batches are entered under
    interface: str = Field(default="AMZSETTLE", min_length=1, max_length=15)
    #: Prefix of the batch keys (KEY1 = prefix + settlement id + period number, at most 15)
    key_prefix: str = Field(default="A", max_length=2)
    #: The division's local currency; when a settlement is in another, amounts are converted
    #: (CUAM keeps the settlement amount). Empty: post in the settlement's currency.
    local_currency: str | None = Field(default=None, min_length=3, max_length=3)
    #: Where conversion rates come from: this table (`rates`) or M3 (CRS055MI)
    rate_source: Literal["config", "m3"] = "config"
    #: Settlement currency -> units of local currency per unit (rate_source config)
    rates: dict[str, Decimal] = Field(default_factory=dict)
    #: M3 exchange rate type (CRTP) for rate_source m3
    rate_type: int = Field(default=1, ge=0, le=99)
    rules: tuple[GLRule, ...] = ()
    #: marketplace id or name -> rules tried before the general ones
    marketplaces: dict[str, tuple[GLRule, ...]] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _positive_rates(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, rate in value.items():
            if rate <= 0:
                raise ValueError(f"rate for {currency} must be positive, not {rate}")
        return value

    @model_validator(mode="after")
    def _unique_matches(self) -> GLMapping:
        for where, rules in (
            ("rules", self.rules),
            *((f"marketplaces.{m}", r) for m, r in self.marketplaces.items()),
        ):
            seen: set[str] = set()
            for rule in rules:
                if rule.match in seen:
                    raise ValueError(f"{where}: {rule.match!r} is listed twice")
                seen.add(rule.match)
        return self

    def rule_for(self, triple: Triple, marketplace: str | None = None) -> GLRule | None:
        """The rule for a triple (marketplace rules first, then the general ones), or None."""
        for rules in (self._marketplace_rules(marketplace), self.rules):
            best: GLRule | None = None
            for rule in rules:
                if rule.matches(triple) and (best is None or rule.specificity > best.specificity):
                    best = rule
            if best is not None:
                return best
        return None

    def _marketplace_rules(self, marketplace: str | None) -> tuple[GLRule, ...]:
        if not marketplace:
            return ()
        wanted = marketplace.strip().lower()
        for name, rules in self.marketplaces.items():
            if name.strip().lower() == wanted:
                return rules
        from m3amazon.amazon.endpoints import MARKETPLACES  # name <-> id of the same marketplace

        for info in MARKETPLACES.values():
            if wanted in (info.marketplace_id.lower(), info.domain.lower()):
                for name, rules in self.marketplaces.items():
                    if name.strip().lower() in (info.marketplace_id.lower(), info.domain.lower()):
                        return rules
        return ()
