"""An M3 order as Amazon must ship it (MCF): open lines, SKUs, address; and what Amazon could not ship."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from m3amazon.canonical import (
    Address,
    FulfillmentLineProgress,
    FulfillmentProgress,
    FulfillmentStatus,
    ShippingSpeed,
)
from m3amazon.flows.mcf import _shortfall
from m3amazon.m3.mcf_orders import M3McfOrder, Problem, address_from, to_fulfillment_request
from m3amazon.m3.order_lines import M3OrderHead, M3OrderLine

ADDRESS = Address(name="Jane Doe", line1="1 Pine St", city="Seattle", postal_code="98101", country_code="US")


def _line(ponr: int, itno: str, ordered: str, delivered: str = "0", status: str = "44") -> M3OrderLine:
    return M3OrderLine(
        line_number=ponr,
        item_number=itno,
        ordered=Decimal(ordered),
        delivered=Decimal(delivered),
        status=status,
    )


def _order(
    *lines: M3OrderLine, ship_to: Address | None = ADDRESS, skus: dict[str, str] | None = None
) -> M3McfOrder:
    head = M3OrderHead(
        order_number="1000000042",
        customer="WEBSHOP",
        cuor="WEB-77",
        order_type="MCF",
        warehouse="FBA",
        lowest_status="44",
        highest_status="44",
    )
    return M3McfOrder(head=head, lines=lines, ship_to=ship_to, skus=skus or {"IT1": "SKU-1", "IT2": "SKU-2"})


def _plan(order: M3McfOrder) -> object:
    return to_fulfillment_request(order, prefix="M3-", speed=ShippingSpeed.EXPEDITED)


def test_open_lines_become_the_request_keyed_by_the_m3_order_number() -> None:
    order = _order(
        _line(1, "IT1", "3"),
        _line(2, "IT2", "2", delivered="2", status="66"),
        _line(3, "IT2", "1", status="99"),
    )
    request = _plan(order)
    assert not isinstance(request, Problem)
    assert request.request_id == "M3-1000000042"
    assert request.displayable_order_id == "WEB-77"  # what the buyer knows from the web shop
    assert request.speed is ShippingSpeed.EXPEDITED
    assert [(line.line_id, line.sku, line.quantity) for line in request.lines] == [("1", "SKU-1", 3)]


def test_an_item_without_a_sku_alias_an_incomplete_address_or_a_fraction_is_a_problem() -> None:
    no_sku = _plan(_order(_line(1, "IT9", "1")))
    assert isinstance(no_sku, Problem) and no_sku.reason_code == "MCF_NO_SKU" and "IT9" in no_sku.message
    no_address = _plan(_order(_line(1, "IT1", "1"), ship_to=None))
    assert isinstance(no_address, Problem) and no_address.reason_code == "MCF_ADDRESS_INCOMPLETE"
    fraction = _plan(_order(_line(1, "IT1", "1.5")))
    assert isinstance(fraction, Problem) and fraction.reason_code == "MCF_FRACTIONAL_QUANTITY"
    nothing = _plan(_order(_line(1, "IT1", "1", delivered="1", status="77")))
    assert isinstance(nothing, Problem) and nothing.reason_code == "MCF_NO_OPEN_LINES"


def test_an_order_whose_lines_were_all_closed_undelivered_is_cancelled() -> None:
    assert _order(_line(1, "IT1", "0", status="99"), _line(2, "IT2", "1", status="90")).cancelled
    assert not _order(_line(1, "IT1", "1", delivered="1", status="99")).cancelled
    assert not _order(_line(1, "IT1", "1")).cancelled


def test_getaddress_fields_become_the_delivery_address() -> None:
    address = address_from(
        {
            "CUNM": "Jane",
            "CUA1": "1 Pine",
            "CUA3": "Floor 2",
            "CUA4": "Suite 9",
            "TOWN": "Seattle",
            "PONO": "98101",
            "ECAR": "WA",
            "CSCD": "US",
            "PHNO": "555",
        }
    )
    assert address is not None
    assert (address.line3, address.state, address.phone) == ("Floor 2 Suite 9", "WA", "555")
    assert address_from({"CUNM": "Jane"}) is None  # no country: no address


def _progress(status: FulfillmentStatus, *lines: FulfillmentLineProgress) -> FulfillmentProgress:
    return FulfillmentProgress(
        request_id="M3-1000000042",
        status=status,
        status_updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        lines=lines,
    )


def test_what_amazon_did_not_ship_is_named_with_its_lines() -> None:
    order = _order(_line(1, "IT1", "3"), _line(2, "IT2", "2"))
    unfulfillable = _shortfall(
        order,
        _progress(
            FulfillmentStatus.UNFULFILLABLE,
            FulfillmentLineProgress(line_id="1", sku="SKU-1", quantity=3, unfulfillable=3),
        ),
    )
    assert unfulfillable is not None and unfulfillable.reason_code == "MCF_UNFULFILLABLE"
    assert "line 1 (SKU-1): 3 of 3" in unfulfillable.message and "closed" in unfulfillable.message
    partial = _shortfall(
        order,
        _progress(
            FulfillmentStatus.COMPLETE_PARTIALLED,
            FulfillmentLineProgress(line_id="1", sku="SKU-1", quantity=3),
            FulfillmentLineProgress(line_id="2", sku="SKU-2", quantity=2, unfulfillable=1),
        ),
    )
    assert (
        partial is not None
        and partial.reason_code == "MCF_PARTIAL"
        and "line 2 (SKU-2): 1 of 2" in partial.message
    )
    assert _shortfall(order, _progress(FulfillmentStatus.COMPLETE)) is None
    assert _shortfall(order, _progress(FulfillmentStatus.PLANNING)) is None


def test_a_line_closed_in_m3_that_amazon_still_ships_is_a_partial_cancellation() -> None:
    order = _order(_line(1, "IT1", "3"), _line(2, "IT2", "0", status="99"))
    progress = _progress(
        FulfillmentStatus.PLANNING,
        FulfillmentLineProgress(line_id="1", sku="SKU-1", quantity=3),
        FulfillmentLineProgress(line_id="2", sku="SKU-2", quantity=2),
    )
    found = _shortfall(order, progress)
    assert found is not None and found.reason_code == "MCF_PARTIAL_CANCEL" and "line(s) 2" in found.message
