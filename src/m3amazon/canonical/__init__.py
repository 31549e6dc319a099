"""The canonical data model: what flows reason about, independent of Amazon's and M3's shapes. No I/O."""

from m3amazon.canonical.events import OrderChanged
from m3amazon.canonical.fulfillment import FulfillmentLine, FulfillmentRequest, ShippingSpeed
from m3amazon.canonical.inventory import InventoryPosition
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
    "CurrencyMismatch",
    "FulfillmentChannel",
    "FulfillmentLine",
    "FulfillmentRequest",
    "InventoryPosition",
    "JournalLine",
    "JournalPosting",
    "Money",
    "Order",
    "OrderChanged",
    "OrderLine",
    "OrderStatus",
    "Package",
    "Party",
    "SettlementLine",
    "Shipment",
    "ShipmentLine",
    "ShippingSpeed",
    "masked",
]
