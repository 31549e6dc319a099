"""Finances v0 (event groups, events by group) and v2024-06-19 (transactions).

Every operation goes through `ApiBase.send`: the library's methods add undeclared marketplace
parameters. v0 answers numbers for money (`CurrencyAmount`); they are read exactly by
amazon.money (see translate/finances.py). Amazon excludes the last two minutes (and may miss the
last 48 hours): `PostedBefore`/`postedBefore` must be more than two minutes in the past.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, TypeVar

from sp_api.asyncio.api import Finances

from m3amazon.amazon.api._base import ApiBase
from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.amazon.models import finances as fin

P = TypeVar("P", fin.ListFinancialEventGroupsPayload, fin.ListFinancialEventsPayload, fin.TransactionsPayload)
LIST_GROUPS, LIST_EVENTS_BY_GROUP, LIST_TRANSACTIONS = (
    "listFinancialEventGroups",
    "listFinancialEventsByGroupId",
    "listTransactions",
)


class _Finances2024(ApiBase):
    library = Finances
    library_version = "2024-06-19"


class FinancesApi(ApiBase):
    library = Finances
    library_version = "v0"

    def __init__(self, gateway: AmazonGateway) -> None:
        super().__init__(gateway)
        self._v2024 = _Finances2024(gateway)

    async def event_groups(
        self,
        *,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[fin.FinancialEventGroup]:
        """The financial event groups (settlement periods) started in the window, page by page."""
        params = {
            "MaxResultsPerPage": page_size,
            "FinancialEventGroupStartedAfter": started_after,
            "FinancialEventGroupStartedBefore": started_before,
        }
        path = "/finances/v0/financialEventGroups"
        async for page in _pages(
            self, LIST_GROUPS, path, fin.ListFinancialEventGroupsPayload, params, "NextToken"
        ):
            for group in page.financial_event_group_list:
                yield group

    async def events_by_group(
        self, group_id: str, *, page_size: int = 100
    ) -> AsyncIterator[fin.FinancialEvents]:
        """The financial events of one group, one page (a FinancialEvents object) at a time."""
        path = "/finances/v0/financialEventGroups/{id}/financialEvents"
        pages = _pages(
            self,
            LIST_EVENTS_BY_GROUP,
            path,
            fin.ListFinancialEventsPayload,
            {"MaxResultsPerPage": page_size},
            "NextToken",
            path_params={"id": group_id},
        )
        async for page in pages:
            if page.financial_events is not None:
                yield page.financial_events

    async def transactions(
        self,
        *,
        posted_after: datetime | None = None,
        posted_before: datetime | None = None,
        marketplace_id: str | None = None,
        related: tuple[str, str] | None = None,
    ) -> AsyncIterator[fin.Transaction]:
        """Finances v2024-06-19 transactions, by posting window or by one related identifier
        (`("FINANCIAL_EVENT_GROUP_ID", id)` or `("ORDER_ID", id)`, the only filterable ones)."""
        if posted_after is None and related is None:
            raise ValueError("give posted_after or a related identifier")
        params = {
            "postedAfter": posted_after,
            "postedBefore": posted_before,
            "marketplaceId": marketplace_id,
            "relatedIdentifierName": related[0] if related else None,
            "relatedIdentifierValue": related[1] if related else None,
        }
        path = "/finances/2024-06-19/transactions"
        async for page in _pages(
            self._v2024, LIST_TRANSACTIONS, path, fin.TransactionsPayload, params, "nextToken"
        ):
            for transaction in page.transactions:
                yield transaction


async def _pages(
    api: ApiBase,
    operation: str,
    path: str,
    model: type[P],
    params: dict[str, Any],
    token_name: str,
    **kwargs: Any,
) -> AsyncIterator[P]:
    """Every page of a paged finance operation: the same filters again with each next token."""
    while True:
        page = await api.fetch(operation, "GET", path, model, params=params, **kwargs)
        yield page
        token = page.next_token
        if not token:
            return
        params = {**params, token_name: token}
