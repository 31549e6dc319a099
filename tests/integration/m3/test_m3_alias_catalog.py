"""Accepting a SKU suggestion writes an alias once; the SKU matcher's catalog is read page by page."""

from __future__ import annotations

import pytest
from m3_sim_support import UNKNOWN_SKUS, Sim, run_with_client

from m3amazon.m3 import lifecycle
from m3amazon.m3.client import MIClient
from m3amazon.m3.orders import item_for_alias
from m3amazon.mapping.suggestions import SkuMatcher


def test_an_alias_is_added_once_and_then_resolves_the_sku(sim: Sim) -> None:
    item = sim.catalog[3].item_number

    async def scenario(client: MIClient) -> tuple:
        added = await lifecycle.ensure_alias(client, UNKNOWN_SKUS[0], item, "03", "AMZN")
        again = await lifecycle.ensure_alias(client, UNKNOWN_SKUS[0], item, "03", "AMZN")
        return added, again, await item_for_alias(client, UNKNOWN_SKUS[0], "03", "AMZN")

    added, again, resolved = run_with_client(sim, scenario)
    assert (added, again, resolved) == (True, False, item)
    assert sim.stats()["calls"]["MMS025MI/AddAlias"] == 1


def test_a_sku_that_is_another_items_alias_is_not_made_ambiguous(sim: Sim) -> None:
    taken = sim.catalog[0]

    async def scenario(client: MIClient) -> None:
        await lifecycle.ensure_alias(client, taken.sku, sim.catalog[1].item_number, "03", "AMZN")

    with pytest.raises(lifecycle.AliasConflict) as caught:
        run_with_client(sim, scenario)
    assert caught.value.existing_item == taken.item_number and "MMS025" in str(caught.value)
    assert "MMS025MI/AddAlias" not in sim.stats()["calls"]


def test_the_catalog_comes_in_pages_with_names_and_aliases(sim: Sim) -> None:
    sim.store.set_item_status(sim.catalog[5].item_number, "90")  # not for sale: no candidate

    async def scenario(client: MIClient) -> tuple:
        paged = await lifecycle.list_item_candidates(client, page_size=3)
        whole = await lifecycle.list_item_candidates(client, page_size=1000, statuses=None)
        return paged, whole

    paged, whole = run_with_client(sim, scenario)
    known = [entry for entry in sim.catalog if entry.sku not in UNKNOWN_SKUS]
    by_item = {candidate.item_number: candidate for candidate in paged}
    assert len(by_item) == len(paged)  # no item twice across page boundaries
    assert sim.catalog[5].item_number not in by_item
    for entry in known:
        if entry is sim.catalog[5]:
            continue
        assert by_item[entry.item_number].aliases == (entry.sku,)
        assert by_item[entry.item_number].name == (entry.item_name or entry.title)[:60]
    assert {"SRV-SHIPPING", "SRV-GIFTWRAP", "SRV-TAX"} <= set(by_item)  # service items are items too
    assert len(whole) == len(paged) + 1
    assert sim.stats()["calls"]["MMS200MI/SelItem"] >= len(whole) // 3
    top = SkuMatcher(paged).suggest(known[0].sku.lower(), None)
    assert top and top[0].item_number == known[0].item_number
