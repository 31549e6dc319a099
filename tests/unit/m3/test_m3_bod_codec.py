"""The BOD codec: every noun round-trips through XML exactly; envelopes and errors are read right."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from m3a_bod_samples import NOW, adjustment, invoice, items, order, positions, shipment
from m3amazon.canonical import InventoryPosition, Money, Order, OrderLine
from m3amazon.m3.ion import bod
from m3amazon.m3.ion.xml import NS, BodError


@pytest.mark.parametrize(
    ("verb", "documents", "name"),
    [
        ("Sync", [order()], "SyncSalesOrder"),
        ("Process", [order()], "ProcessSalesOrder"),
        ("Sync", [shipment()], "SyncShipment"),
        ("Sync", [invoice()], "SyncInvoice"),
        ("Sync", positions(), "SyncInventoryCount"),
        ("Sync", [adjustment()], "SyncInventoryAdjustment"),
        ("Process", [adjustment()], "ProcessInventoryAdjustment"),
        ("Sync", items(), "SyncItemMaster"),
    ],
)
def test_every_noun_round_trips(verb: str, documents: list, name: str) -> None:
    data = bod.encode(verb, documents, sender_logical_id="lid://infor.m3.m3", tenant_id="ACME_PRD",
                      accounting_entity="100_AAA")  # fmt: skip
    decoded = bod.decode(data)
    assert decoded.envelope.document_name == name
    assert decoded.envelope.tenant_id == "ACME_PRD" and decoded.envelope.accounting_entity == "100_AAA"
    assert decoded.envelope.bod_id and decoded.envelope.bod_id.startswith("infor-nid:ACME_PRD:100_AAA:")
    assert list(decoded.documents) == documents


def test_the_envelope_follows_infor_oagis() -> None:
    data = bod.encode(
        "Sync", shipment(), sender_logical_id="lid://infor.m3.m3", bod_id_value="B-1", created_at=NOW
    )
    root = etree.fromstring(data)
    assert root.tag == f"{{{NS}}}SyncShipment" and root.get("releaseID")
    ns = {"o": NS}
    assert root.findtext("o:ApplicationArea/o:Sender/o:LogicalID", namespaces=ns) == "lid://infor.m3.m3"
    assert root.findtext("o:ApplicationArea/o:CreationDateTime", namespaces=ns) == "2026-03-01T12:30:00Z"
    assert root.findtext("o:ApplicationArea/o:BODID", namespaces=ns) == "B-1"
    action = root.find("o:DataArea/o:Sync/o:ActionCriteria/o:ActionExpression", namespaces=ns)
    assert action is not None and action.get("actionCode") == "Replace"
    assert (
        root.find("o:DataArea/o:Shipment/o:ShipmentHeader/o:DocumentID/o:ID", namespaces=ns).text == "3000001"
    )


def test_personal_data_stays_in_the_document_and_out_of_reprs() -> None:
    decoded = bod.decode(bod.encode("Sync", order(), sender_logical_id="lid://x"))
    (document,) = decoded.documents
    assert isinstance(document, Order) and document.ship_to is not None
    assert document.ship_to.line1 == "1 Main Street" and "1 Main Street" not in repr(document)


def test_a_foreign_bod_with_extra_elements_is_read_leniently() -> None:
    data = f"""<SyncShipment xmlns="{NS}" releaseID="9.2"><ApplicationArea>
      <Sender><LogicalID>lid://infor.m3.m3</LogicalID></Sender><CreationDateTime>2026-03-01T10:00:00</CreationDateTime>
      <BODID>infor-nid:T:1:: 42:?Shipment&amp;verb=Sync</BODID></ApplicationArea>
      <DataArea><Sync><TenantID>T</TenantID></Sync><Shipment><ShipmentHeader><DocumentID><ID>42</ID></DocumentID>
      <ActualShipDateTime>2026-03-01T10:00:00Z</ActualShipDateTime><Unknown>kept out</Unknown>
      </ShipmentHeader>
      <ShipmentItem><ItemID><ID>IT1</ID></ItemID><ShippedQuantity unitCode="EA">3</ShippedQuantity>
      <SalesOrderReference><DocumentID><ID>111-1</ID></DocumentID><LineNumber>1</LineNumber></SalesOrderReference>
      </ShipmentItem></Shipment></DataArea></SyncShipment>""".encode()
    decoded = bod.decode(data)
    (shipment_read,) = decoded.documents
    assert decoded.envelope.created_at == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    assert shipment_read.order_id == "111-1" and shipment_read.lines[0].sku == "IT1"
    assert shipment_read.lines[0].quantity == 3 and shipment_read.source == "m3"


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (f'<SyncFoo xmlns="{NS}"><ApplicationArea/><DataArea><Foo/></DataArea></SyncFoo>',
         "BOD_UNKNOWN_NOUN"),
        (f'<ProcessShipment xmlns="{NS}"><ApplicationArea/><DataArea><Shipment/></DataArea>'
         "</ProcessShipment>", "BOD_UNSUPPORTED_VERB"),
        (f'<SyncShipment xmlns="{NS}"><DataArea/></SyncShipment>', "BOD_NOT_A_BOD"),
        (f'<Shipment xmlns="{NS}"><ApplicationArea/><DataArea/></Shipment>', "BOD_NOT_A_BOD"),
        (f'<SyncShipment xmlns="{NS}"><ApplicationArea/><DataArea/></SyncShipment>', "BOD_INVALID"),
        ('<SyncShipment><ApplicationArea/><DataArea/></SyncShipment>', "BOD_WRONG_NAMESPACE"),
    ],
)  # fmt: skip
def test_documents_that_are_not_usable_bods_name_the_reason(xml: str, reason: str) -> None:
    with pytest.raises(BodError) as caught:
        bod.decode(xml.encode())
    assert caught.value.reason_code == reason


def _replace(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        (b'<Quantity unitCode="EA">2</Quantity>', b'<Quantity unitCode="EA">two</Quantity>', "Quantity"),
        (b'<Amount currencyID="USD">10.50</Amount>', b"<Amount>10.50</Amount>", "currencyID"),
        (b'<Amount currencyID="USD">10.50</Amount>', b'<Amount currencyID="QQQ">10.50</Amount>', "ISO 4217"),
        (b"<LineNumber>40000000001</LineNumber>", b"", "LineNumber"),
        (b"<CountryCode>US</CountryCode>", b"<CountryCode>ZZ</CountryCode>", "country"),
    ],
)
def test_invalid_content_is_bod_invalid_with_a_sentence(old: bytes, new: bytes, fragment: str) -> None:
    data = _replace(bod.encode("Sync", order(), sender_logical_id="lid://x"), old, new)
    with pytest.raises(BodError) as caught:
        bod.decode(data)
    assert caught.value.reason_code == "BOD_INVALID" and fragment in caught.value.message


def test_an_invoice_whose_lines_do_not_add_up_is_invalid() -> None:
    data = _replace(bod.encode("Sync", invoice(), sender_logical_id="lid://x"), b">20.00<", b">21.00<")
    with pytest.raises(BodError, match="lines add up"):
        bod.decode(data)


def test_encoding_refuses_a_verb_the_noun_does_not_take() -> None:
    with pytest.raises(ValueError, match="Sync"):
        bod.encode("Process", shipment(), sender_logical_id="lid://x")


_amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters="<>&"), min_size=1,
                max_size=20).map(str.strip).filter(bool)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(_amounts, min_size=1, max_size=4),
    quantities=st.lists(st.integers(min_value=0, max_value=999), min_size=4, max_size=4),
    sku=_text,
    currency=st.sampled_from(["USD", "EUR", "JPY", "GBP"]),
)
def test_sales_orders_round_trip_for_any_amounts(
    prices: list, quantities: list, sku: str, currency: str
) -> None:
    lines = tuple(
        OrderLine(line_id=str(n), sku=f"{sku}-{n}", quantity=quantities[n], unit_price=Money(price, currency))
        for n, price in enumerate(prices)
    )
    original = order().model_copy(
        update={"lines": lines, "currency": currency, "order_total": None, "buyer": None}
    )
    (decoded,) = bod.decode(bod.encode("Process", original, sender_logical_id="lid://x")).documents
    assert decoded == original


@settings(max_examples=40, deadline=None)
@given(on_hand=st.decimals(min_value=0, max_value=10**9, places=3), location=_text)
def test_inventory_positions_round_trip(on_hand: Decimal, location: str) -> None:
    position = InventoryPosition(
        item_number="IT1", location=location, on_hand=on_hand, as_of=NOW, source="m3"
    )
    (decoded,) = bod.decode(bod.encode("Sync", [position], sender_logical_id="lid://x")).documents
    assert decoded == position
