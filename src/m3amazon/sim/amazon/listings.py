"""Simulated listings: one per catalog SKU and marketplace, with the seller-fulfilled quantity.

`apply_patches` is the one place that changes a listing, used by patchListingsItem and by the
JSON_LISTINGS_FEED processing alike, so both answer with the same issues. It follows the Listings
Items model's rules: the product type must be the listing's; only top-level attributes can be
patched (`/attributes/<name>`); `merge` needs the selector `fulfillment_channel_code`; quantities
are whole numbers from 0. With `validate_only` (mode=VALIDATION_PREVIEW) nothing is stored and the
status is VALID or INVALID instead of ACCEPTED or INVALID.

Guarded by the account's lock (see state.py).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.sim.amazon.params import iso
from m3amazon.sim.catalog import CatalogItem

MFN_CHANNEL = "DEFAULT"
QUANTITY_ATTRIBUTE = "fulfillment_availability"
_PRODUCT_TYPES = {
    "Drill": "POWER_DRILLS",
    "Wrench": "WRENCH",
    "Gloves": "SAFETY_GLOVE",
    "Light": "WORK_LIGHT",
}


def product_type_for(item: CatalogItem) -> str:
    for word, product_type in _PRODUCT_TYPES.items():
        if word in item.title:
            return product_type
    return "HARDWARE"


@dataclass
class Listing:
    sku: str
    marketplace_id: str
    item: CatalogItem
    product_type: str
    created: datetime
    updated: datetime
    attributes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def mfn_quantity(self) -> int | None:
        for entry in self.attributes.get(QUANTITY_ATTRIBUTE, []):
            if entry.get("fulfillment_channel_code") == MFN_CHANNEL:
                quantity = entry.get("quantity")
                return int(quantity) if isinstance(quantity, int) else None
        return None


@dataclass(frozen=True)
class PatchOutcome:
    status: str
    submission_id: str
    issues: list[dict[str, Any]]
    #: (old, new) MFN quantity when it changed and was stored.
    quantity_change: tuple[int | None, int] | None = None


def issue(
    code: str, message: str, attribute: str | None = None, category: str = "INVALID_ATTRIBUTE"
) -> dict[str, Any]:
    found: dict[str, Any] = {"code": code, "message": message, "severity": "ERROR", "categories": [category]}
    if attribute:
        found["attributeNames"] = [attribute]
    return found


class ListingsBook:
    """Every catalog item listed in every marketplace, with a seeded MFN quantity."""

    def __init__(self, catalog: Sequence[CatalogItem], marketplaces: Iterable[str], *, seed: int = 7) -> None:
        rng = random.Random(seed * 17 + 3)
        now = datetime.now(UTC).replace(microsecond=0)
        self.listings: dict[tuple[str, str], Listing] = {}
        for marketplace in marketplaces:
            for item in catalog:
                listing = Listing(item.sku, marketplace, item, product_type_for(item), now, now)
                listing.attributes[QUANTITY_ATTRIBUTE] = [
                    {"fulfillment_channel_code": MFN_CHANNEL, "quantity": rng.choice([0, 3, 10, 25, 100])}
                ]
                listing.attributes["item_name"] = [{"value": item.title, "marketplace_id": marketplace}]
                self.listings[(item.sku, marketplace)] = listing

    def get(self, sku: str, marketplace: str) -> Listing | None:
        return self.listings.get((sku, marketplace))

    def apply_patches(
        self,
        listing: Listing,
        product_type: str,
        patches: Any,
        now: datetime,
        *,
        validate_only: bool = False,
    ) -> PatchOutcome:
        issues: list[dict[str, Any]] = []
        if product_type != listing.product_type:
            issues.append(
                issue(
                    "4000001",
                    f"The product type {product_type!r} does not match the listing's product type "
                    f"{listing.product_type!r}.",
                    category="INVALID_PRODUCT_TYPE",
                )
            )
        attributes = {k: [dict(v) for v in values] for k, values in listing.attributes.items()}
        if not isinstance(patches, list) or not patches:
            issues.append(issue("4000002", "patches must be a non-empty array."))
            patches = []
        for patch in patches:
            problem = _apply(attributes, patch)
            if problem is not None:
                issues.append(problem)
        submission = str(uuid.uuid4())
        if issues:
            return PatchOutcome("INVALID", submission, issues)
        if validate_only:
            return PatchOutcome("VALID", submission, [])
        before = listing.mfn_quantity
        listing.attributes = attributes
        listing.updated = now
        after = listing.mfn_quantity
        change = (before, after) if after is not None and after != before else None
        return PatchOutcome("ACCEPTED", submission, [], change)


def _apply(attributes: dict[str, list[dict[str, Any]]], patch: Any) -> dict[str, Any] | None:
    """Apply one JSON Patch operation to `attributes`; the issue when it cannot be applied."""
    if not isinstance(patch, dict) or patch.get("op") not in ("add", "replace", "merge", "delete"):
        return issue("4000003", "Each patch needs an op: add, replace, merge or delete.")
    path = patch.get("path")
    if not isinstance(path, str) or not path.startswith("/attributes/"):
        return issue("4000004", f"Unsupported patch path {str(path)[:60]!r}.")
    name = path.removeprefix("/attributes/")
    if not name or "/" in name:
        return issue("4000005", "Only top-level listings item attributes can be patched.", name)
    op, value = patch["op"], patch.get("value")
    if op != "delete" and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
        return issue("4000006", f"The value of {name} must be an array of objects.", name)
    if name == QUANTITY_ATTRIBUTE and op != "delete":
        for entry in value or []:
            quantity = entry.get("quantity")
            if not entry.get("fulfillment_channel_code"):
                return issue(
                    "4000007", "fulfillment_channel_code is required in fulfillment_availability.", name
                )
            if quantity is not None and (
                isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0
            ):
                return issue("4000008", "quantity must be a whole number of at least 0.", name)
    if op in ("add", "replace"):
        attributes[name] = [dict(v) for v in value or []]
    elif op == "merge":
        current = attributes.setdefault(name, [])
        for entry in value or []:
            selector = entry.get("fulfillment_channel_code") or entry.get("marketplace_id")
            match = next(
                (
                    c
                    for c in current
                    if selector and selector in (c.get("fulfillment_channel_code"), c.get("marketplace_id"))
                ),
                None,
            )
            if match is None:
                current.append(dict(entry))
            else:
                match.update(entry)
    else:
        codes = {v.get("fulfillment_channel_code") for v in value or [] if isinstance(v, dict)}
        if codes and name in attributes:
            attributes[name] = [c for c in attributes[name] if c.get("fulfillment_channel_code") not in codes]
        else:
            attributes.pop(name, None)
    return None


def render_item(listings: Sequence[Listing], included: Iterable[str]) -> dict[str, Any]:
    """The `Item` of getListingsItem for one SKU in the requested marketplaces."""
    wanted = set(included)
    first = listings[0]
    item: dict[str, Any] = {"sku": first.sku}
    if "summaries" in wanted:
        item["summaries"] = [
            {
                "marketplaceId": listing.marketplace_id,
                "asin": listing.item.asin,
                "productType": listing.product_type,
                "conditionType": "new_new",
                "status": ["BUYABLE", "DISCOVERABLE"],
                "fnSku": listing.item.fnsku,
                "itemName": listing.item.title,
                "createdDate": iso(listing.created),
                "lastUpdatedDate": iso(listing.updated),
            }
            for listing in listings
        ]
    if "attributes" in wanted:
        item["attributes"] = {name: [dict(v) for v in values] for name, values in first.attributes.items()}
    if "issues" in wanted:
        item["issues"] = []
    if "offers" in wanted:
        offers = []
        for listing in listings:
            currency = MARKETPLACES[listing.marketplace_id].currency
            offers.append(
                {
                    "marketplaceId": listing.marketplace_id,
                    "offerType": "B2C",
                    "price": {"currencyCode": currency, "amount": str(listing.item.price(currency))},
                }
            )
        item["offers"] = offers
    if "fulfillmentAvailability" in wanted:
        item["fulfillmentAvailability"] = [
            {"fulfillmentChannelCode": entry["fulfillment_channel_code"], "quantity": entry["quantity"]}
            for entry in first.attributes.get(QUANTITY_ATTRIBUTE, [])
            if isinstance(entry.get("quantity"), int) and entry.get("fulfillment_channel_code")
        ]
    if "productTypes" in wanted:
        item["productTypes"] = [
            {"marketplaceId": listing.marketplace_id, "productType": listing.product_type}
            for listing in listings
        ]
    return item
