"""Feeds v2021-06-30 (createFeedDocument, createFeed, getFeed, getFeedDocument) and the document
storage behind the pre-signed URLs (`/_docs/{id}`: PUT to upload, GET to download).

The document routes are not SP-API operations: no token, no usage plan; they check the URL's
signature and expiry (documents.py) and answer in S3's XML error shape. A download may be cut short
by the `truncate_share` fault (the body ends early with a matching Content-Length, as a proxy that
dropped the connection would leave it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from m3amazon.sim.amazon import lifecycle
from m3amazon.sim.amazon.documents import Document, DocumentError
from m3amazon.sim.amazon.params import Params, SpApiError, bad
from m3amazon.sim.amazon.simulator import AmazonSimulator

BASE = "/feeds/2021-06-30"


def document_answer(
    sim: AmazonSimulator, request: Request, key: str, document_id: str, known: Iterable[str | None]
) -> dict[str, Any]:
    """The FeedDocument / ReportDocument object (`key` names the id field): the id, a fresh
    download URL, and GZIP when the document is compressed. An id Amazon never issued is 400
    "Invalid input", as the sandbox answers it."""
    document = sim.account.documents.get(document_id)
    if document_id not in set(known) or document is None or document.content is None:
        raise bad("Invalid input", f"Unknown {key} {document_id[:60]}.")
    answer = {
        key: document_id,
        "url": sim.account.documents.url(str(request.base_url), document, "GET", time_scale=sim.time_scale),
    }
    if document.compression:
        answer["compressionAlgorithm"] = document.compression
    return answer


def _authorised(sim: AmazonSimulator, request: Request, document_id: str, method: str) -> Document:
    with sim.account.lock:
        return sim.account.documents.authorise(
            document_id,
            method,
            request.query_params.get("X-Sim-Expires"),
            request.query_params.get("X-Sim-Signature"),
        )


def router(sim: AmazonSimulator) -> APIRouter:
    routes = APIRouter()
    account = sim.account

    @routes.post(BASE + "/documents")
    async def create_feed_document(request: Request) -> Response:
        def run(body: Any) -> dict[str, Any]:
            if (
                not isinstance(body, dict)
                or not isinstance(body.get("contentType"), str)
                or not body["contentType"]
            ):
                raise SpApiError(400, "InvalidInput", "Invalid input", "contentType is required.")
            document = account.documents.new_upload(body["contentType"])
            url = account.documents.url(str(request.base_url), document, "PUT", time_scale=sim.time_scale)
            return {"feedDocumentId": document.document_id, "url": url}

        return await sim.serve(request, "createFeedDocument", run, status=201, with_body=True)

    @routes.post(BASE + "/feeds")
    async def create_feed(request: Request) -> Response:
        return await sim.serve(
            request,
            "createFeed",
            lambda body: {"feedId": lifecycle.create_feed(account, body, sim.now())},
            status=202,
            with_body=True,
        )

    @routes.get(BASE + "/feeds/{feedId}")
    async def get_feed(feedId: str, request: Request) -> Response:
        def run() -> dict[str, Any]:
            Params(request.query_params.multi_items(), ())
            feed = account.feeds.get(feedId)
            if feed is None:
                raise bad("Invalid input", f"Unknown feedId {feedId[:40]}.")
            return feed.render()

        return await sim.serve(request, "getFeed", run)

    @routes.get(BASE + "/documents/{feedDocumentId}")
    async def get_feed_document(feedDocumentId: str, request: Request) -> Response:
        def run() -> dict[str, Any]:
            Params(request.query_params.multi_items(), ())
            known = (f.result_document_id for f in account.feeds.feeds.values())
            return document_answer(sim, request, "feedDocumentId", feedDocumentId, known)

        return await sim.serve(request, "getFeedDocument", run)

    @routes.put("/_docs/{document_id}")
    async def upload(document_id: str, request: Request) -> Response:
        content = await request.body()
        try:
            document = _authorised(sim, request, document_id, "PUT")
            with account.lock:
                account.documents.store(document, content, request.headers.get("content-type"))
        except DocumentError as exc:
            return Response(exc.xml(), exc.status, media_type="application/xml")
        return Response(status_code=200)

    @routes.get("/_docs/{document_id}")
    async def download(document_id: str, request: Request) -> Response:
        try:
            document = _authorised(sim, request, document_id, "GET")
        except DocumentError as exc:
            return Response(exc.xml(), exc.status, media_type="application/xml")
        content = document.content or b""
        if sim.faults.truncate():
            content = content[: max(1, len(content) // 2)]
        media = "application/octet-stream" if document.compression else document.content_type
        return Response(content, 200, media_type=media)

    return routes
