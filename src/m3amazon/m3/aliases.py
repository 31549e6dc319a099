"""M3 item aliases for Amazon SKUs (MMS025MI) and the item catalog the SKU matcher ranks.

`ensure_alias` is what accepting a SKU suggestion writes: the SKU as an alias of the chosen item,
looked up first (GetItem) and added only when absent (AddAlias), so accepting twice changes
nothing. A SKU that is already the alias of another item is refused (`AliasConflict`): a second
alias would make the SKU ambiguous (M3 allows one alias number on several items).

`list_item_candidates` reads the catalog for `mapping.suggestions.SkuMatcher`: items with MMS200MI
SelItem, paged by item number (`page_size` per call; the next page starts at the last item number
seen, which M3 includes again - dropped), and the aliases of the SKU category with MMS025MI
LstAliasViaCat (one call; it has no paging key), read in parallel. The result is plain data for
the caller to cache (it changes when items or aliases do).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import AliasConflict, MIError
from m3amazon.m3.orders import item_for_alias
from m3amazon.mapping.suggestions import Candidate

MMS025MI = "MMS025MI"


async def ensure_alias(client: MIClient, sku: str, itno: str, category: str, qualifier: str | None) -> bool:
    """Make `sku` an alias (category, qualifier) of item `itno`; True when this call added it."""
    existing = await item_for_alias(client, sku, category, qualifier)
    if existing == itno:
        return False
    if existing is not None:
        raise AliasConflict(sku, existing, itno)
    record = {"ALWT": category, "ALWQ": qualifier, "POPN": sku, "ITNO": itno}
    try:
        await client.execute(MMS025MI, "AddAlias", record, maxrecs=1)
    except MIError as exc:
        if exc.transient or "exist" not in exc.message.lower():
            raise
        now = await item_for_alias(client, sku, category, qualifier)  # added meanwhile
        if now != itno:
            raise AliasConflict(sku, now or "?", itno) from None
        return False
    return True


async def _items(client: MIClient, page_size: int, statuses: frozenset[str] | None) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    cursor = ""
    while True:
        rows = await client.execute("MMS200MI", "SelItem", {"FRIT": cursor or None}, maxrecs=page_size)
        fresh = [row for row in rows if row.get("ITNO") and row["ITNO"] > cursor]
        found.extend(row for row in fresh if statuses is None or row.get("STAT") in statuses)
        if len(rows) < page_size or not fresh:
            return found
        cursor = rows[-1]["ITNO"]


async def _aliases(client: MIClient, category: str, qualifier: str | None) -> dict[str, list[str]]:
    try:
        rows = await client.execute(
            MMS025MI, "LstAliasViaCat", {"ALWT": category, "ALWQ": qualifier}, maxrecs=0
        )
    except MIError as exc:
        if exc.is_not_found:
            return {}
        raise
    aliases: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.get("ITNO") and row.get("POPN"):
            aliases[row["ITNO"]].append(row["POPN"])
    return aliases


async def skus_by_item(client: MIClient, category: str, qualifier: str | None) -> dict[str, list[str]]:
    """Every item's aliases of `category` (Amazon SKUs): item number -> SKUs (LstAliasViaCat)."""
    return dict(await _aliases(client, category, qualifier))


async def list_item_candidates(
    client: MIClient,
    *,
    alias_category: str = "03",
    alias_qualifier: str | None = None,
    page_size: int = 500,
    statuses: tuple[str, ...] | None = ("20",),
) -> list[Candidate]:
    """The items a SKU could stand for (by default only those released for sale, status 20), each
    with its name and its aliases of `alias_category` (all qualifiers unless one is given)."""
    if page_size < 2:
        raise ValueError("page_size must be at least 2 (each page repeats the last item of the previous)")
    wanted = frozenset(statuses) if statuses is not None else None
    items, aliases = await asyncio.gather(
        _items(client, page_size, wanted), _aliases(client, alias_category, alias_qualifier)
    )
    return [
        Candidate(
            item_number=row["ITNO"], name=row.get("ITDS", ""), aliases=tuple(aliases.get(row["ITNO"], ()))
        )
        for row in items
    ]
