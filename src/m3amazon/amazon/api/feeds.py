"""Feeds v2021-06-30: submit a JSON_LISTINGS_FEED and read its processing report.

The flow (research §9): createFeedDocument -> PUT the document to the pre-signed URL -> createFeed
-> (FEED_PROCESSING_FINISHED or getFeed until DONE/CANCELLED/FATAL) -> getFeedDocument on
`resultFeedDocumentId` -> download (gunzip when GZIP) -> parse the processing report.
The library's `create_feed_document` uploads with its own HTTP call and `get_feed_document`
downloads at once, so these operations go through `ApiBase.send`; documents move through
`DocumentTransfer` (plain HTTPS, no SP-API token). A refused (expired) result URL is fetched anew
once.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError
from sp_api.asyncio.api import Feeds

from m3amazon.amazon.api._base import ApiBase, first_error
from m3amazon.amazon.api.documents import DocumentExpired, DocumentTransfer
from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.amazon.models.feeds import (
    JSON_CONTENT_TYPE,
    JSON_LISTINGS_FEED,
    CreateFeedDocumentResponse,
    CreateFeedResponse,
    Feed,
    FeedDocument,
    ProcessingReport,
)
from m3amazon.amazon.translate.feeds import QuantityResult, QuantityUpdate, quantity_feed, quantity_results

CREATE_FEED_DOCUMENT, CREATE_FEED, GET_FEED, GET_FEED_DOCUMENT = (
    "createFeedDocument",
    "createFeed",
    "getFeed",
    "getFeedDocument",
)
BASE = "/feeds/2021-06-30"


class FeedsApi(ApiBase):
    library = Feeds
    library_version = "2021-06-30"

    def __init__(self, gateway: AmazonGateway, documents: DocumentTransfer | None = None) -> None:
        super().__init__(gateway)
        self.documents = documents or DocumentTransfer(self.client._transport._client)

    async def create_feed_document(self, content_type: str) -> CreateFeedDocumentResponse:
        return await self.fetch(
            CREATE_FEED_DOCUMENT,
            "POST",
            BASE + "/documents",
            CreateFeedDocumentResponse,
            body={"contentType": content_type},
        )

    async def create_feed(
        self, feed_type: str, document_id: str, *, marketplace_ids: Sequence[str] | None = None
    ) -> str:
        body = {
            "feedType": feed_type,
            "marketplaceIds": self.marketplaces(list(marketplace_ids or ())),
            "inputFeedDocumentId": document_id,
        }
        created = await self.fetch(CREATE_FEED, "POST", BASE + "/feeds", CreateFeedResponse, body=body)
        return created.feed_id

    async def get_feed(self, feed_id: str) -> Feed:
        return await self.fetch(
            GET_FEED, "GET", BASE + "/feeds/{feedId}", Feed, path_params={"feedId": feed_id}
        )

    async def get_feed_document(self, document_id: str) -> FeedDocument:
        return await self.fetch(
            GET_FEED_DOCUMENT,
            "GET",
            BASE + "/documents/{id}",
            FeedDocument,
            path_params={"id": document_id},
        )

    async def submit(
        self,
        feed_type: str,
        content: bytes,
        content_type: str,
        *,
        marketplace_ids: Sequence[str] | None = None,
    ) -> str:
        """Create the document, upload `content`, create the feed; returns the feed id."""
        document = await self.create_feed_document(content_type)
        await self.documents.upload(document.url, content, content_type)
        return await self.create_feed(feed_type, document.feed_document_id, marketplace_ids=marketplace_ids)

    async def submit_quantities(
        self, updates: Sequence[QuantityUpdate], *, marketplace_ids: Sequence[str] | None = None
    ) -> str:
        """One JSON_LISTINGS_FEED setting the MFN quantity of every update; returns the feed id."""
        document = quantity_feed(self.seller_id, updates)
        content = json.dumps(document, ensure_ascii=False).encode("utf-8")
        return await self.submit(
            JSON_LISTINGS_FEED, content, JSON_CONTENT_TYPE, marketplace_ids=marketplace_ids
        )

    async def result_text(self, feed: Feed) -> str:
        """The result document of a finished feed, as text."""
        if not feed.result_feed_document_id:
            raise AmazonTranslationError(
                "FEED_WITHOUT_RESULT",
                f"feed {feed.feed_id} is {feed.processing_status} without a result document",
            )
        return await _download(self.get_feed_document, self.documents, feed.result_feed_document_id)

    async def processing_report(self, feed: Feed) -> ProcessingReport:
        """The JSON_LISTINGS_FEED processing report of a finished feed."""
        text = await self.result_text(feed)
        try:
            return ProcessingReport.model_validate_json(text)
        except ValidationError as exc:
            raise AmazonTranslationError(
                "INVALID_PROCESSING_REPORT", f"feed {feed.feed_id}: {first_error(exc)}"
            ) from None

    async def quantity_results(
        self, feed_id: str, updates: Sequence[QuantityUpdate]
    ) -> list[QuantityResult] | None:
        """Per-SKU results of a quantity feed, or None while Amazon is still processing it."""
        feed = await self.get_feed(feed_id)
        if not feed.finished:
            return None
        return quantity_results(await self.processing_report(feed), updates)


async def _download(
    get_document: Callable[[str], Awaitable[Any]], documents: DocumentTransfer, document_id: str
) -> str:
    """Fetch a document's URL and its text; a refused (expired) URL is fetched anew once."""
    for attempt in (1, 2):
        document = await get_document(document_id)
        try:
            text, _ = await documents.download_text(document.url, compression=document.compression_algorithm)
            return text
        except DocumentExpired:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
