"""Realistic simulated Amazon orders for demos, tests and benchmarks.

Why this much realism: the order flow must survive what real buyers type. The generator therefore
mixes countries that each marketplace ships to (Amazon.de also delivers to Poland, Amazon.es to
Portugal), non-ASCII names and places (Müller, Łódź, São), names and address lines longer than M3's
36-character fields, phone numbers in local formats, business buyers with PO numbers, multi-line
orders, AFN and MFN, shipping, taxes and promotions. Prices come from the shared catalog in the
marketplace currency, so the M3 simulator's items agree. Same seed, same orders (given `now`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.canonical import (
    Address,
    AddressType,
    FulfillmentChannel,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Party,
)
from m3amazon.sim.amazon.state import SellerAccount


@dataclass(frozen=True)
class _Place:
    country: str
    city: str
    postal: str
    street: str
    state: str | None = None
    district: str | None = None


_NAMES = {
    "US": [
        "John Smith",
        "María José García-Hernández",
        "Emily O'Brien",
        "DeShawn Washington",
        "Nguyễn Thị Minh Khai",
        "Christopher Alexander Montgomery-Whitfield III",
    ],
    "CA": ["Marie-Ève Tremblay", "Liam MacDonald", "Chloé Bouchard-Gagnon", "Raj Patel"],
    "GB": ["Siobhán O'Connor", "James Whitaker", "Priya Ramakrishnan", "Zoë Fairbanks-Hughes"],
    "DE": [
        "Jürgen Müller",
        "Anna-Lena Schäfer",
        "Maximilian Alexander von Hohenzollern-Sigmaringen",
        "Özlem Yılmaz",
        "Klaus Weiß",
    ],
    "PL": ["Łukasz Wójcik", "Małgorzata Szczepańska-Brzęczyszczykiewicz", "Paweł Żółtowski"],
    "FR": ["Anaïs Lefèvre", "François Dubois", "Hélène de La Rochefoucauld-Montbéliard"],
    "IT": ["Niccolò Rossi", "Giulia Bianchi", "Maria Assunta Del Vecchio Santangelo"],
    "ES": ["José Martínez Núñez", "Begoña Ibáñez", "Íñigo Etxeberria Goikoetxea"],
    "PT": ["João São Bento", "Conceição Araújo Magalhães"],
}
_PLACES = {
    "US": [
        _Place("US", "Seattle", "98101", "{n} Pine Street", "WA"),
        _Place("US", "Austin", "78701", "{n} Congress Avenue", "TX"),
        _Place("US", "New York", "10001", "{n} West 34th Street", "NY"),
    ],
    "CA": [
        _Place("CA", "Montréal", "H2X 1Y4", "{n} rue Sainte-Catherine Ouest", "QC"),
        _Place("CA", "Toronto", "M5V 2T6", "{n} King Street West", "ON"),
    ],
    "GB": [
        _Place("GB", "London", "SW1A 1AA", "{n} Buckingham Palace Road", "Greater London"),
        _Place("GB", "Manchester", "M1 1AE", "{n} Market Street", "Greater Manchester"),
    ],
    "DE": [
        _Place("DE", "München", "80331", "Maximilianstraße {n}", "Bayern"),
        _Place("DE", "Köln", "50667", "Hohe Straße {n}", "Nordrhein-Westfalen"),
        _Place("DE", "Düsseldorf", "40213", "Königsallee {n}", "Nordrhein-Westfalen"),
    ],
    "PL": [
        _Place("PL", "Łódź", "90-926", "ul. Piotrkowska {n}", "łódzkie"),
        _Place("PL", "Kraków", "31-042", "ul. Floriańska {n}", "małopolskie"),
    ],
    "FR": [
        _Place("FR", "Paris", "75008", "{n} rue du Faubourg Saint-Honoré"),
        _Place("FR", "Lyon", "69002", "{n} rue de la République"),
    ],
    "IT": [
        _Place("IT", "Milano", "20121", "Via Alessandro Manzoni {n}", "MI"),
        _Place("IT", "Roma", "00187", "Via del Corso {n}", "RM"),
    ],
    "ES": [
        _Place("ES", "Madrid", "28013", "Calle Gran Vía {n}", "Madrid"),
        _Place("ES", "A Coruña", "15003", "Rúa Real {n}", "A Coruña"),
    ],
    "PT": [
        _Place("PT", "Lisboa", "1200-820", "Rua de São Bento {n}", "Lisboa"),
        _Place("PT", "Porto", "4000-322", "Rua de Santa Catarina {n}", "Porto"),
    ],
}
#: Where each marketplace's buyers live (home country first, then cross-border deliveries).
_DESTINATIONS = {
    "US": ["US"],
    "CA": ["CA"],
    "GB": ["GB"],
    "DE": ["DE", "DE", "PL"],
    "FR": ["FR"],
    "IT": ["IT"],
    "ES": ["ES", "ES", "PT"],
}
_PHONES = {
    "US": "+1 206-555-{a:04d}",
    "CA": "+1 514-555-{a:04d}",
    "GB": "+44 20 7946 {a:04d}",
    "DE": "+49 89 {a:04d}{b:03d}",
    "PL": "+48 42 {b:03d} {a:04d}",
    "FR": "+33 1 42 {b:03d} {a:04d}",
    "IT": "+39 02 {b:03d} {a:04d}",
    "ES": "+34 91 {b:03d} {a:04d}",
    "PT": "+351 21 {b:03d} {a:04d}",
}
_LONG_LINES = [
    "Apartment 4B, Building C, Riverside Business Park",
    "c/o Hinterhaus, 3. Obergeschoss links, Tür 12",
    "Residenza Le Terrazze, Scala B, Interno 14, Piano 3",
]
_COMPANIES = [
    "Acme Industrial Supplies Ltd",
    "Müller & Söhne Maschinenbau GmbH",
    "Ferretería Núñez S.L.",
    "Łódzkie Zakłady Techniczne Sp. z o.o.",
    "Atelier Lefèvre SARL",
]
#: Order-id prefixes per marketplace country (Amazon's 3-7-7 ids start with a site-typical group).
_ID_PREFIX = {
    "US": (111, 112, 113, 114),
    "CA": (701, 702),
    "GB": (202, 203, 204, 205, 206),
    "DE": (302, 303, 304, 305, 306),
    "FR": (402, 403, 404),
    "IT": (405, 406, 407),
    "ES": (407, 408),
}
_TAX_RATE = {
    "US": Decimal("0.0725"),
    "CA": Decimal("0.13"),
    "GB": Decimal("0.20"),
    "DE": Decimal("0.19"),
    "FR": Decimal("0.20"),
    "IT": Decimal("0.22"),
    "ES": Decimal("0.21"),
}
_SERVICE_LEVELS = ["STANDARD", "STANDARD", "STANDARD", "EXPEDITED", "SECOND_DAY", "NEXT_DAY"]


def _order_id(rng: random.Random, country: str, taken: set[str]) -> str:
    while True:
        prefix = rng.choice(_ID_PREFIX.get(country, (111,)))
        candidate = f"{prefix:03d}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
        if candidate not in taken:
            return candidate


def _address(
    rng: random.Random, country: str, name: str, fba: bool, company: str | None, unfit: bool = False
) -> Address:
    """A delivery address. Long ones are common, but by default they still fit M3's four lines of
    36 characters once wrapped; `unfit` makes one that cannot (for incident scenarios)."""
    place = rng.choice(_PLACES[country])
    long_line = rng.choice(_LONG_LINES)
    # A company name already takes a line: then no long second line, so the address stays fittable.
    line2 = rng.choice([None, None, None, None if company else long_line, f"Floor {rng.randint(1, 9)}"])
    line3 = None
    if unfit:
        company = company or rng.choice(_COMPANIES)
        line2, line3 = long_line, " ".join(_LONG_LINES)
    phone = None if fba else _PHONES[country].format(a=rng.randrange(10**4), b=rng.randrange(10**3))
    return Address(
        name=name,
        company=company,
        line1=place.street.format(n=rng.randint(1, 250)),
        line2=line2,
        line3=line3,
        city=place.city,
        district=place.district,
        state=place.state,
        postal_code=place.postal,
        country_code=place.country,
        phone=phone,
        address_type=AddressType.COMMERCIAL if company else AddressType.RESIDENTIAL,
    )


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount, currency).rounded()


def _lines(
    rng: random.Random, account: SellerAccount, currency: str, country: str, mfn: bool, max_lines: int
) -> tuple[OrderLine, ...]:
    count = max(1, min(max_lines, len(account.catalog), rng.choice([1, 1, 1, 2, 2, 3, 4])))
    items = rng.sample(account.catalog, count)
    lines = []
    for index, item in enumerate(items):
        quantity = rng.choice([1, 1, 1, 2, 3])
        unit = Money(item.price(currency), currency)
        shipping = _money(Decimal("4.99"), currency) if mfn and index == 0 else None
        rate = _TAX_RATE.get(country, Decimal("0.20"))
        discount = _money(unit.amount * Decimal("0.10"), currency) if rng.random() < 0.15 else None
        lines.append(
            OrderLine(
                line_id=f"{rng.randrange(10**13, 10**14)}",
                sku=item.sku,
                asin=item.asin,
                title=item.title,
                quantity=quantity,
                unit_price=unit,
                tax=_money(unit.amount * quantity * rate, currency),
                shipping=shipping,
                shipping_tax=_money(shipping.amount * rate, currency) if shipping else None,
                promotion_discount=discount,
            )
        )
    return tuple(lines)


def _total(lines: tuple[OrderLine, ...], currency: str) -> Money:
    total = Money.zero(currency)
    for line in lines:
        for part in (line.tax, line.shipping, line.shipping_tax, line.gift_wrap):
            total = total + part if part is not None else total
        total = total + line.line_amount
        if line.promotion_discount is not None:
            total = total - line.promotion_discount
    return total


def generate_orders(
    account: SellerAccount,
    n: int,
    *,
    seed: int,
    marketplaces: list[str] | None = None,
    afn_share: float = 0.3,
    max_lines: int = 3,
    pending_share: float = 0.0,
    unfit_address_share: float = 0.0,
    now: datetime | None = None,
) -> list[str]:
    """Create `n` orders in `account` and return their ids (in creation order).

    Orders are created between 5 minutes and 2 days before `now`, so that a searchOrders call with
    Amazon's two-minute lag finds them at once. A share `unfit_address_share` of the orders get a
    delivery address too long for M3 (the order flow must turn them into incidents).
    """
    rng = random.Random(seed)
    markets = marketplaces or list(account.marketplaces)
    for marketplace_id in markets:
        currency = MARKETPLACES[marketplace_id].currency
        if account.catalog and currency not in account.catalog[0].prices:
            raise ValueError(
                f"the simulator's catalog has no {currency} prices for marketplace {marketplace_id}"
            )
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    taken = {o.order_id for o in account.orders()}
    ids: list[str] = []
    for _ in range(n):
        market = MARKETPLACES[rng.choice(markets)]
        afn = rng.random() < afn_share
        status = OrderStatus.PENDING if rng.random() < pending_share else OrderStatus.UNSHIPPED
        destination = rng.choice(_DESTINATIONS.get(market.country, [market.country]))
        name = rng.choice(_NAMES[destination])
        business = rng.random() < 0.15
        company = rng.choice(_COMPANIES) if business else None
        lines = _lines(rng, account, market.currency, market.country, not afn, max_lines)
        created = now - timedelta(seconds=rng.randint(300, 2 * 86400))
        order_id = _order_id(rng, market.country, taken)
        taken.add(order_id)
        order = Order(
            order_id=order_id,
            marketplace_id=market.marketplace_id,
            seller_id=account.seller_id,
            status=status,
            channel=FulfillmentChannel.AMAZON if afn else FulfillmentChannel.MERCHANT,
            created_at=created,
            updated_at=min(created + timedelta(seconds=rng.randint(0, 240)), now - timedelta(minutes=3)),
            currency=market.currency,
            lines=lines,
            buyer=Party(
                name=name,
                # Amazon gives the (anonymised) buyer email for seller-fulfilled orders only.
                email=None if afn else f"{rng.randrange(16**12):012x}@marketplace.{market.domain.lower()}",
                company=company,
                purchase_order_number=f"PO-{rng.randint(10000, 99999)}" if business else None,
            ),
            ship_to=_address(
                rng,
                destination,
                name,
                afn,
                company,
                unfit=unfit_address_share > 0 and rng.random() < unfit_address_share,
            ),
            order_total=_total(lines, market.currency),
            service_level=rng.choice(_SERVICE_LEVELS),
            is_business=business,
            is_prime=afn and rng.random() < 0.7,
        )
        account.add_order(order)
        ids.append(order_id)
    return ids
