"""Seller-fulfilled (MFN) quantity -> Listings Items `patchListingsItem` body. Pure.

The patch uses JSON Patch `merge` on `/attributes/fulfillment_availability` with the selector
`fulfillment_channel_code: DEFAULT`: unlike `replace`, it keeps the entry's other fields (lead time,
restock date) that the seller may have set in Seller Central (research §9).
"""

from __future__ import annotations

from m3amazon.amazon.models.listings import MFN_CHANNEL, ListingsItemPatchRequest, PatchOperation

QUANTITY_PATH = "/attributes/fulfillment_availability"


def quantity_value(quantity: int) -> list[dict[str, object]]:
    if quantity < 0:
        raise ValueError(f"a listing quantity cannot be negative ({quantity})")
    return [{"fulfillment_channel_code": MFN_CHANNEL, "quantity": quantity}]


def quantity_patch(quantity: int, product_type: str) -> ListingsItemPatchRequest:
    """The patch that sets the MFN quantity of a listing of `product_type` to `quantity`."""
    return ListingsItemPatchRequest(
        product_type=product_type,
        patches=[PatchOperation(op="merge", path=QUANTITY_PATH, value=quantity_value(quantity))],
    )
