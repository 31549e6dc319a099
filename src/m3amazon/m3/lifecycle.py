"""The M3 side of an order's life after it was created, in one place for the order flow.

Each function is one idempotent step (it reads M3's state first and changes only what is still
missing) and raises only `MIError`s; the modules behind them say how:

- reading: `get_order_head`, `get_order_lines`, `find_order_number` (`m3.order_lines`, `m3.orders`);
- Amazon shipped an FBA order: `ensure_delivery_reported` (`m3.delivery`);
- Amazon cancelled: `ensure_lines_closed` (`m3.cancellation`);
- invoices to compare with Amazon's total: `list_invoices` (`m3.invoices`);
- one customer per buyer: `buyer_customer_number` (pure), `ensure_buyer_customer` (`m3.customers`);
- SKU suggestions: `list_item_candidates`, and `ensure_alias` when one is accepted (`m3.aliases`).

Creating the order is `m3.orders.ensure_customer_order`; a batch order M3 refuses raises
`BatchOrderRejected` with M3's batch status and messages.
"""

from m3amazon.m3.aliases import ensure_alias, list_item_candidates
from m3amazon.m3.cancellation import ClosedLines, ensure_lines_closed
from m3amazon.m3.customers import buyer_customer_number, ensure_buyer_customer
from m3amazon.m3.delivery import DeliveryResult, PickReporting, ReportedPick, ensure_delivery_reported
from m3amazon.m3.errors import (
    AliasConflict,
    BatchOrderRejected,
    CustomerNumberTaken,
    DeliveryShortfall,
)
from m3amazon.m3.invoices import list_invoices
from m3amazon.m3.order_lines import M3OrderHead, M3OrderLine, get_order, get_order_head, get_order_lines
from m3amazon.m3.orders import find_order_number

__all__ = [
    "AliasConflict",
    "BatchOrderRejected",
    "ClosedLines",
    "CustomerNumberTaken",
    "DeliveryResult",
    "DeliveryShortfall",
    "M3OrderHead",
    "M3OrderLine",
    "PickReporting",
    "ReportedPick",
    "buyer_customer_number",
    "ensure_alias",
    "ensure_buyer_customer",
    "ensure_delivery_reported",
    "ensure_lines_closed",
    "find_order_number",
    "get_order",
    "get_order_head",
    "get_order_lines",
    "list_invoices",
    "list_item_candidates",
]
