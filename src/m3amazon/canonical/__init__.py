"""The canonical data model: what flows reason about, independent of Amazon's and M3's shapes. No I/O."""

from m3amazon.canonical.events import (
    AmazonEvent,
    FeedProcessed,
    FulfillmentOrderStatusChanged,
    InventoryChanged,
    ListingQuantityChanged,
    OrderChanged,
    OutboundShipmentStatusChanged,
    ReportProcessed,
)
from m3amazon.canonical.fulfillment import (
    FulfillmentLine,
    FulfillmentLineProgress,
    FulfillmentProgress,
    FulfillmentRequest,
    FulfillmentStatus,
    ShippingSpeed,
)
from m3amazon.canonical.inventory import InventoryAdjustment, InventoryPosition
from m3amazon.canonical.invoice import Invoice, InvoiceLine
from m3amazon.canonical.item import Item
from m3amazon.canonical.journal import JournalLine, JournalPosting
from m3amazon.canonical.money import CurrencyMismatch, Money
from m3amazon.canonical.order import FulfillmentChannel, Order, OrderLine, OrderStatus
from m3amazon.canonical.party import Address, AddressType, Party
from m3amazon.canonical.pii import masked
from m3amazon.canonical.settlement import SettlementLine
from m3amazon.canonical.shipment import Package, Shipment, ShipmentLine

__all__ = [
    "Address",
    "AddressType",
    "AmazonEvent",
    "CurrencyMismatch",
    "FeedProcessed",
    "FulfillmentChannel",
    "FulfillmentLine",
    "FulfillmentLineProgress",
    "FulfillmentOrderStatusChanged",
    "FulfillmentProgress",
    "FulfillmentRequest",
    "FulfillmentStatus",
    "InventoryAdjustment",
    "InventoryChanged",
    "InventoryPosition",
    "Invoice",
    "InvoiceLine",
    "Item",
    "JournalLine",
    "JournalPosting",
    "ListingQuantityChanged",
    "Money",
    "Order",
    "OrderChanged",
    "OrderLine",
    "OrderStatus",
    "OutboundShipmentStatusChanged",
    "Package",
    "Party",
    "ReportProcessed",
    "SettlementLine",
    "Shipment",
    "ShipmentLine",
    "ShippingSpeed",
    "masked",
]
