"""The product catalog and marketplaces that both simulators share.

A seller's Amazon SKUs and its M3 items must agree for a scenario to mean anything, so both
simulators seed themselves from this one deterministic catalog: the same seed gives the same SKUs,
ASINs, FNSKUs, titles, M3 item numbers and prices on every machine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from m3amazon.amazon.endpoints import MARKETPLACES as AMAZON_MARKETPLACES


@dataclass(frozen=True)
class Marketplace:
    """A marketplace the simulated seller sells on: Amazon's facts plus the seller's M3 customer."""

    marketplace_id: str
    country: str
    currency: str
    name: str
    region: str
    #: The M3 customer that stands for this marketplace in the default customer policy.
    customer_number: str
    #: Settlement files of this marketplace write amounts with a decimal comma.
    decimal_comma: bool = False


def _simulated(marketplace_id: str, customer_number: str, decimal_comma: bool = False) -> Marketplace:
    info = AMAZON_MARKETPLACES[marketplace_id]
    return Marketplace(
        marketplace_id, info.country, info.currency, info.domain, info.region, customer_number, decimal_comma
    )


MARKETPLACES: dict[str, Marketplace] = {
    m.marketplace_id: m
    for m in (
        _simulated("ATVPDKIKX0DER", "AMZUS"),
        _simulated("A2EUQ1WTGCTBG2", "AMZCA"),
        _simulated("A1F83G8C2ARO7P", "AMZUK"),
        _simulated("A1PA6795UKMFR9", "AMZDE", decimal_comma=True),
        _simulated("A13V1IB3VIYZZH", "AMZFR", decimal_comma=True),
        _simulated("APJ6JRA9NG5V4", "AMZIT", decimal_comma=True),
        _simulated("A1RKKUPIHCS9HS", "AMZES", decimal_comma=True),
    )
}

_NOUNS = [
    "Ball Bearing",
    "Hex Bolt Set",
    "Drill Bit",
    "Safety Gloves",
    "LED Work Light",
    "Hose Clamp",
    "Torque Wrench",
    "Cable Ties",
    "Spirit Level",
    "Socket Set",
    "Measuring Tape",
    "Utility Knife",
    "Wood Screws",
    "Wall Anchor",
    "Sanding Discs",
    "Paint Brush",
    "Extension Cord",
    "Padlock",
]
_ADJECTIVES = ["Heavy Duty", "Stainless", "Compact", "Professional", "Galvanised", "Premium", "Mini"]
_EUR_PER = {"USD": Decimal("1.00"), "CAD": Decimal("1.37"), "GBP": Decimal("0.79"), "EUR": Decimal("0.92")}


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    asin: str
    fnsku: str
    title: str
    #: M3 item number (ITNO, at most 15 characters)
    item_number: str
    #: Unit price per currency, in the currency's minor unit precision
    prices: dict[str, Decimal] = field(hash=False)
    #: M3 item name (ITDS, at most 60 characters)
    item_name: str = ""

    def price(self, currency: str) -> Decimal:
        return self.prices[currency]


def build_catalog(size: int = 40, seed: int = 7) -> list[CatalogItem]:
    """`size` items with realistic SKUs and titles; deterministic for a given seed."""
    rng = random.Random(seed)
    items = []
    for n in range(size):
        noun = _NOUNS[n % len(_NOUNS)]
        adjective = rng.choice(_ADJECTIVES)
        size_label = rng.choice(["S", "M", "L", "10MM", "12MM", "25PK", "100PK", "6204-2RS"])
        sku = f"{noun.split()[0][:4].upper()}-{size_label}-{n:04d}"
        usd = Decimal(rng.randint(399, 19999)) / 100
        prices = {cur: (usd * rate).quantize(Decimal("0.01")) for cur, rate in _EUR_PER.items()}
        items.append(
            CatalogItem(
                sku=sku,
                asin="B0" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8)),
                fnsku="X00" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(7)),
                title=f"{adjective} {noun} {size_label}",
                item_number=f"IT{n:06d}",
                prices=prices,
                item_name=f"{noun} {size_label}"[:60],
            )
        )
    return items
