"""Pure translations of the SP-API operations beyond order reading (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.models import finances as fin
from m3amazon.amazon.models import fulfillment_2020 as mcf
from m3amazon.amazon.models.feeds import ProcessingReport
from m3amazon.amazon.models.inventory import InventorySummary
from m3amazon.amazon.translate import finances, fulfillment, inventory, orders_v0
from m3amazon.amazon.translate.feeds import QuantityUpdate, quantity_feed, quantity_results
from m3amazon.amazon.translate.listings import quantity_patch
from m3amazon.canonical import (
    Address,
    FulfillmentLine,
    FulfillmentRequest,
    FulfillmentStatus,
    Money,
    Package,
    Shipment,
    ShipmentLine,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _shipment(*packages: Package, line_id: str | None = "111") -> Shipment:
    return Shipment(
        shipment_id="DLV-0042",
        order_id="111-1234567-1234567",
        source="m3",
        shipped_at=NOW,
        lines=(ShipmentLine(line_id=line_id, sku="SKU-1", quantity=2),),
        packages=packages,
    )


def test_confirm_shipment_body_for_a_known_carrier() -> None:
    body = orders_v0.confirm_shipment_request(
        _shipment(Package(carrier="ups", tracking_number="1Z9")), "ATVPDKIKX0DER"
    )
    wire = body.to_json()
    assert wire["marketplaceId"] == "ATVPDKIKX0DER"
    detail = wire["packageDetail"]
    assert detail["carrierCode"] == "UPS" and "carrierName" not in detail
    assert detail["orderItems"] == [{"orderItemId": "111", "quantity": 2}]
    assert detail["packageReferenceId"].isdigit() and int(detail["packageReferenceId"]) > 0
    again = orders_v0.confirm_shipment_request(_shipment(Package(carrier="UPS", tracking_number="1Z9")), "X")
    assert again.package_detail.package_reference_id == detail["packageReferenceId"]  # stable for retries


def test_an_unknown_carrier_goes_as_other_with_its_name() -> None:
    detail = orders_v0.confirm_shipment_request(
        _shipment(Package(carrier="Bring Express", tracking_number="B1")), "A1PA6795UKMFR9"
    ).package_detail
    assert (detail.carrier_code, detail.carrier_name) == ("Other", "Bring Express")


@pytest.mark.parametrize(
    ("shipment", "reason"),
    [
        (_shipment(), "SHIPMENT_PACKAGE_COUNT"),
        (_shipment(Package(carrier="UPS"), Package(carrier="UPS")), "SHIPMENT_PACKAGE_COUNT"),
        (_shipment(Package(carrier="UPS")), "SHIPMENT_WITHOUT_TRACKING"),
        (_shipment(Package(tracking_number="1")), "SHIPMENT_WITHOUT_CARRIER"),
        (
            _shipment(Package(carrier="UPS", tracking_number="1"), line_id=None),
            "SHIPMENT_LINE_WITHOUT_ITEM_ID",
        ),
    ],
)
def test_unconfirmable_shipments_are_translation_errors(shipment: Shipment, reason: str) -> None:
    with pytest.raises(AmazonTranslationError) as caught:
        orders_v0.confirm_shipment_request(shipment, "ATVPDKIKX0DER")
    assert caught.value.reason == reason and caught.value.order_id == shipment.order_id


def test_numeric_shipment_ids_are_their_own_package_reference() -> None:
    assert orders_v0.package_reference("000123") == "123"
    assert orders_v0.package_reference("DLV-1") != orders_v0.package_reference("DLV-2")


REQUEST = FulfillmentRequest(
    request_id="M3-CO-0001",
    displayable_order_id="CO0001",
    m3_order_number="0000001234",
    ship_to=Address(
        name="Ada Lovelace", line1="1 Main St", city="London", postal_code="SW1A 1AA", country_code="GB"
    ),
    lines=(
        FulfillmentLine(line_id="1", sku="SKU-1", quantity=2, declared_unit_value=Money("19.999", "GBP")),
        FulfillmentLine(line_id="2", sku="SKU-2", quantity=1),
    ),
)


def test_fulfillment_request_becomes_a_create_request() -> None:
    body = fulfillment.create_request(REQUEST, marketplace_id="A1F83G8C2ARO7P", ordered_at=NOW).to_json()
    assert body["sellerFulfillmentOrderId"] == "M3-CO-0001"
    assert body["displayableOrderComment"] == "Order 0000001234"
    assert body["shippingSpeedCategory"] == "Standard" and body["fulfillmentAction"] == "Ship"
    assert body["destinationAddress"]["addressLine1"] == "1 Main St"
    assert body["items"][0]["perUnitDeclaredValue"] == {"currencyCode": "GBP", "value": "20.00"}
    assert "perUnitDeclaredValue" not in body["items"][1]
    preview = fulfillment.preview_request(REQUEST, marketplace_id=None).to_json()
    assert preview["shippingSpeedCategories"] == ["Standard"] and len(preview["items"]) == 2


def test_an_address_without_a_street_cannot_be_shipped() -> None:
    request = REQUEST.model_copy(update={"ship_to": Address(name="A", postal_code="1", country_code="GB")})
    with pytest.raises(AmazonTranslationError) as caught:
        fulfillment.create_request(request, marketplace_id=None, ordered_at=NOW)
    assert caught.value.reason == "ADDRESS_INCOMPLETE"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Received", FulfillmentStatus.RECEIVED),
        ("CompletePartialled", FulfillmentStatus.COMPLETE_PARTIALLED),
        ("complete", FulfillmentStatus.COMPLETE),
        ("UNFULFILLABLE", FulfillmentStatus.UNFULFILLABLE),
    ],
)
def test_mcf_statuses_map_whatever_their_spelling(value: str, expected: FulfillmentStatus) -> None:
    assert fulfillment.status(value) is expected


def test_unknown_mcf_status_is_an_error() -> None:
    with pytest.raises(AmazonTranslationError):
        fulfillment.status("Teleported")


def _order_result(shipment_status: str) -> mcf.GetFulfillmentOrderResult:
    address = {"name": "A", "addressLine1": "1 St", "postalCode": "1", "countryCode": "US"}
    return mcf.GetFulfillmentOrderResult.model_validate(
        {
            "fulfillmentOrder": {
                "sellerFulfillmentOrderId": "M3-1",
                "marketplaceId": "ATVPDKIKX0DER",
                "displayableOrderId": "M3-1",
                "displayableOrderDate": "2026-03-01T00:00:00Z",
                "displayableOrderComment": "c",
                "shippingSpeedCategory": "Standard",
                "destinationAddress": address,
                "receivedDate": "2026-03-01T00:00:00Z",
                "fulfillmentOrderStatus": "Complete",
                "statusUpdatedDate": "2026-03-02T00:00:00Z",
            },
            "fulfillmentOrderItems": [
                {
                    "sellerSku": "S",
                    "sellerFulfillmentOrderItemId": "1",
                    "quantity": 3,
                    "cancelledQuantity": 0,
                    "unfulfillableQuantity": 1,
                }
            ],
            "fulfillmentShipments": [
                {
                    "amazonShipmentId": "D1",
                    "fulfillmentCenterId": "SEA8",
                    "fulfillmentShipmentStatus": shipment_status,
                    "shippingDate": "2026-03-02T00:00:00Z",
                    "fulfillmentShipmentItem": [
                        {"sellerSku": "S", "sellerFulfillmentOrderItemId": "1", "quantity": 2}
                    ],
                    "fulfillmentShipmentPackage": [
                        {"packageNumber": 1, "carrierCode": "UPS", "trackingNumber": "1Z"}
                    ],
                }
            ],
            "returnItems": [],
            "returnAuthorizations": [],
        }
    )


def test_shipped_mcf_shipments_become_canonical_shipments() -> None:
    progress = fulfillment.progress(_order_result("SHIPPED"))
    assert progress.status is FulfillmentStatus.COMPLETE and progress.lines[0].unfulfillable == 1
    (shipment,) = progress.shipments
    assert (shipment.shipment_id, shipment.source, shipment.order_id) == ("D1", "mcf", "M3-1")
    assert shipment.lines[0].quantity == 2 and shipment.packages[0].tracking_number == "1Z"
    assert fulfillment.progress(_order_result("PENDING")).shipments == ()


def test_preview_fees_are_summed_exactly() -> None:
    preview = mcf.FulfillmentPreview.model_validate(
        {
            "shippingSpeedCategory": "Standard",
            "isFulfillable": True,
            "isCODCapable": False,
            "marketplaceId": "ATVPDKIKX0DER",
            "estimatedFees": [
                {"name": "FBAPerUnitFulfillmentFee", "amount": {"currencyCode": "USD", "value": "6.44"}},
                {"name": "FBAPerOrderFulfillmentFee", "amount": {"currencyCode": "USD", "value": "1.00"}},
            ],
        }
    )
    assert fulfillment.preview_fees(preview) == Money("7.44", "USD")


def test_inventory_summary_with_details_becomes_a_position() -> None:
    summary = InventorySummary.model_validate(
        {
            "sellerSku": "S",
            "asin": "B0",
            "inventoryDetails": {
                "fulfillableQuantity": 7,
                "inboundWorkingQuantity": 1,
                "inboundShippedQuantity": 2,
                "inboundReceivingQuantity": 3,
                "reservedQuantity": {"totalReservedQuantity": 4},
            },
            "totalQuantity": 20,
        }
    )
    found = inventory.position(summary, marketplace_id="ATVPDKIKX0DER", as_of=NOW)
    assert (found.on_hand, found.reserved, found.inbound, found.available) == (11, 4, 6, 7)
    assert found.location == "ATVPDKIKX0DER" and found.source == "fba"
    bare = inventory.position(
        InventorySummary(seller_sku="S", total_quantity=9), marketplace_id="X", as_of=NOW
    )
    assert bare.on_hand == Decimal(9) and bare.as_of == NOW
    with pytest.raises(AmazonTranslationError):
        inventory.position(InventorySummary(asin="B0"), marketplace_id="X", as_of=NOW)


def test_quantity_patch_merges_the_default_channel() -> None:
    body = quantity_patch(12, "HARDWARE").to_json()
    assert body == {
        "productType": "HARDWARE",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 12}],
            }
        ],
    }
    with pytest.raises(ValueError):
        quantity_patch(-1, "HARDWARE")


def test_quantity_feed_and_its_results() -> None:
    updates = [QuantityUpdate("A", 1, "HARDWARE"), QuantityUpdate("B", 0, "HARDWARE")]
    feed = quantity_feed("SELLER", updates)
    assert feed["header"] == {"sellerId": "SELLER", "version": "2.0"}
    assert [m["messageId"] for m in feed["messages"]] == [1, 2]
    report = ProcessingReport.model_validate(
        {
            "header": {"sellerId": "SELLER", "version": "2.0", "feedId": "9"},
            "issues": [
                {"messageId": 2, "sku": "B", "code": "1", "severity": "ERROR", "message": "no"},
                {"messageId": 1, "sku": "A", "code": "2", "severity": "WARNING", "message": "hm"},
            ],
            "summary": {
                "errors": 1,
                "warnings": 1,
                "messagesProcessed": 2,
                "messagesAccepted": 1,
                "messagesInvalid": 1,
            },
        }
    )
    results = quantity_results(report, updates)
    assert [(r.sku, r.accepted, len(r.issues)) for r in results] == [("A", True, 1), ("B", False, 1)]
    with pytest.raises(ValueError):
        quantity_feed("SELLER", [])


def test_v0_financial_events_become_settlement_lines() -> None:
    events = fin.FinancialEvents.model_validate(
        {
            "ShipmentEventList": [
                {
                    "AmazonOrderId": "111-1",
                    "PostedDate": "2026-03-01T00:00:00Z",
                    "MarketplaceName": "Amazon.com",
                    "ShipmentItemList": [
                        {
                            "SellerSKU": "S",
                            "QuantityShipped": 2,
                            "ItemChargeList": [
                                {
                                    "ChargeType": "Principal",
                                    "ChargeAmount": {"CurrencyCode": "USD", "CurrencyAmount": 20.1},
                                }
                            ],
                            "ItemFeeList": [
                                {
                                    "FeeType": "Commission",
                                    "FeeAmount": {"CurrencyCode": "USD", "CurrencyAmount": -3.02},
                                }
                            ],
                        }
                    ],
                }
            ],
            "RefundEventList": [
                {
                    "AmazonOrderId": "111-1",
                    "ShipmentItemAdjustmentList": [
                        {
                            "SellerSKU": "S",
                            "ItemChargeAdjustmentList": [
                                {
                                    "ChargeType": "Principal",
                                    "ChargeAmount": {"CurrencyCode": "USD", "CurrencyAmount": -20.1},
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    )
    lines = finances.lines_from_events("G1", events)
    assert [(x.transaction_type, x.amount_type, x.amount_description, x.amount) for x in lines] == [
        ("Order", "ItemPrice", "Principal", Money("20.10", "USD")),
        ("Order", "ItemFees", "Commission", Money("-3.02", "USD")),
        ("Refund", "ItemPrice", "Principal", Money("-20.10", "USD")),
    ]
    assert all(x.settlement_id == "G1" for x in lines)


def test_2024_transactions_become_settlement_lines_from_their_leaves() -> None:
    transaction = fin.Transaction.model_validate(
        {
            "transactionType": "Shipment",
            "relatedIdentifiers": [
                {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": "111-1"},
                {"relatedIdentifierName": "SETTLEMENT_ID", "relatedIdentifierValue": "S9"},
            ],
            "totalAmount": {"currencyCode": "EUR", "currencyAmount": 10},
            "breakdowns": [
                {
                    "breakdownType": "ProductCharges",
                    "breakdownAmount": {"currencyCode": "EUR", "currencyAmount": 12.5},
                    "breakdowns": [
                        {
                            "breakdownType": "Principal",
                            "breakdownAmount": {"currencyCode": "EUR", "currencyAmount": 12.5},
                        }
                    ],
                },
                {
                    "breakdownType": "AmazonFees",
                    "breakdownAmount": {"currencyCode": "EUR", "currencyAmount": -2.5},
                },
            ],
        }
    )
    lines = finances.lines_from_transactions(
        [transaction, transaction.model_copy(update={"breakdowns": None})]
    )
    assert [(x.settlement_id, x.amount_type, x.amount_description, x.amount) for x in lines] == [
        ("S9", "ProductCharges", "Principal", Money("12.5", "EUR")),
        ("S9", "AmazonFees", "AmazonFees", Money("-2.5", "EUR")),
        ("S9", "Total", "Total", Money("10", "EUR")),
    ]
    assert lines[0].order_id == "111-1"
