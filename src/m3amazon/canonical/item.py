"""Items (M3 item master, Sync ItemMaster): the seller's products as M3 knows them.

Small on purpose: the integration needs to know whether an item can be sold (status 20), its unit
and which aliases (Amazon SKUs, GTINs) point at it; everything else stays in M3.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Item(BaseModel):
    model_config = ConfigDict(frozen=True)

    item_number: str = Field(min_length=1)
    name: str | None = None
    description: str | None = None
    #: M3 item status (MMS001 STAT); "20" means released for sale.
    status: str | None = None
    unit_of_measure: str | None = None
    gtin: str | None = None
    #: Alias numbers (MMS025) such as Amazon SellerSKUs.
    aliases: tuple[str, ...] = ()

    @property
    def sellable(self) -> bool:
        return self.status == "20"
