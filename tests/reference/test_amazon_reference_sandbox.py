"""The models' `x-amzn-api-sandbox` static examples, for every operation the simulator serves
beyond Orders v2026-01-01 (whose examples test_amazon_reference_orders.py replays).

- Every success example parses through our typed model the way the client parses a live answer
  (the library's ApiResponse, then `ApiBase._parse`), and through our translation where there is
  one; every error example becomes the typed error its status stands for.
- Where it makes sense, the simulator answers the example's request with the example's status and
  a body of the same schema. It does not make sense where the sandbox keys its answer on magic
  values (a feed id "feedId1" that no createFeed ever returned, a 400 for a request Amazon
  accepts, a retired feed type): those cases are listed in SKIPPED with the reason.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from amazon_reference import by_operation_id, reference_dir, response_validator, sandbox_cases
from pydantic import BaseModel
from sp_api.base import ApiResponse

from m3amazon.amazon.api._base import ApiBase
from m3amazon.amazon.api.notifications import _Destinations
from m3amazon.amazon.errors import AmazonApiError, BadRequest, error_from_response
from m3amazon.amazon.models import feeds, finances, listings, notifications_api, reports
from m3amazon.amazon.translate import finances as translate_finances
from m3amazon.canonical import (
    FulfillmentChannel,
    Money,
    Order,
    OrderLine,
    OrderStatus,
)
from m3amazon.sim.amazon.app import create_app
from m3amazon.sim.amazon.state import SellerAccount

pytestmark = pytest.mark.reference

#: operationId -> (model file, typed model of the payload, translation check or None)
PARSERS: dict[str, tuple[str, type[BaseModel], Callable[[Any], None] | None]] = {
    "getListingsItem": ("listingsItems_2021-08-01.json", listings.Item, lambda item: item.mfn_quantity()),
    "patchListingsItem": ("listingsItems_2021-08-01.json", listings.ListingsItemSubmissionResponse, None),
    "createFeedDocument": ("feeds_2021-06-30.json", feeds.CreateFeedDocumentResponse, None),
    "createFeed": ("feeds_2021-06-30.json", feeds.CreateFeedResponse, None),
    "getFeed": ("feeds_2021-06-30.json", feeds.Feed, None),
    "getFeedDocument": ("feeds_2021-06-30.json", feeds.FeedDocument, None),
    "createReport": ("reports_2021-06-30.json", reports.CreateReportResponse, None),
    "getReports": ("reports_2021-06-30.json", reports.GetReportsResponse, None),
    "getReport": ("reports_2021-06-30.json", reports.Report, None),
    "getReportDocument": ("reports_2021-06-30.json", reports.ReportDocument, None),
    "listFinancialEventGroups": (
        "financesV0.json",
        finances.ListFinancialEventGroupsPayload,
        lambda page: [translate_finances.group_total(g) for g in page.financial_event_group_list],
    ),
    "listFinancialEventsByGroupId": (
        "financesV0.json",
        finances.ListFinancialEventsPayload,
        lambda page: translate_finances.lines_from_events("G", page.financial_events),
    ),
    "listTransactions": (
        "finances_2024-06-19.json",
        finances.TransactionsPayload,
        lambda page: translate_finances.lines_from_transactions(page.transactions),
    ),
    "getDestinations": ("notifications.json", _Destinations, None),
    "createDestination": ("notifications.json", notifications_api.Destination, None),
    "getSubscription": ("notifications.json", notifications_api.Subscription, None),
    "createSubscription": ("notifications.json", notifications_api.Subscription, None),
}
NO_BODY = {"confirmShipment", "deleteSubscriptionById"}


def _cases(operation_id: str, model_file: str) -> list[tuple[int, dict[str, Any], Any]]:
    return sandbox_cases(by_operation_id(operation_id, model_file))


@pytest.mark.parametrize("operation_id", sorted(PARSERS))
def test_sandbox_answers_parse_through_our_models(operation_id: str) -> None:
    reference_dir()
    model_file, model, translation = PARSERS[operation_id]
    cases = _cases(operation_id, model_file)
    assert cases, f"{operation_id} has no static examples"
    for status, _, body in cases:
        if status >= 400:
            error = error_from_response(status, json.dumps(body), {}, operation_id)
            assert isinstance(error, BadRequest) and error.code == body["errors"][0]["code"]
            continue
        parsed = ApiBase._parse(operation_id, model, ApiResponse(**body, headers={}))
        if translation is not None:
            translation(parsed)


@pytest.mark.parametrize("operation_id", sorted(NO_BODY))
def test_sandbox_answers_without_body_need_none(operation_id: str) -> None:
    model_file = "ordersV0.json" if operation_id == "confirmShipment" else "notifications.json"
    for status, _, body in _cases(operation_id, model_file):
        if status < 300:
            assert not body
        else:
            assert isinstance(error_from_response(status, json.dumps(body), {}, operation_id), AmazonApiError)


# -- the simulator answers the example requests --------------------------------------------------
#: (operationId, status) -> why the simulator does not answer that example request alike.
SKIPPED = {
    ("getListingsItem", 200): "the example request names no SKU",
    ("getListingsItem", 400): "an unknown SKU is 404 at Amazon; 'BadSKU' is a sandbox trigger",
    ("patchListingsItem", 200): "the examples name no SKU or sandbox-only SKUs (VALIDATION_VALID)",
    ("patchListingsItem", 400): "an unknown SKU is 404 at Amazon; 'BadSKU' is a sandbox trigger",
    ("createFeed", 202): "POST_PRODUCT_DATA was retired in July 2025 (research §1.5)",
    ("getFeed", 200): "feedId1 was never created",
    ("getFeedDocument", 200): "the document was never created",
    ("getReport", 200): "ID323 was never created",
    ("getReportDocument", 200): "the document was never created",
    ("listFinancialEventGroups", 400): "Amazon accepts a request without dates",
    ("listFinancialEventsByGroupId", 200): "event group 485734534857 does not exist",
    ("listTransactions", 200): "the example's nextToken was never issued",
    ("createDestination", 200): "the example request has no body",
    ("getSubscription", 200): "the example request names no notification type",
    ("createSubscription", 200): "the example request has no body",
    ("deleteSubscriptionById", 200): "the example request names no subscription",
}
SERVED_WITH_EXAMPLES = sorted({*PARSERS, *NO_BODY})
GRANTLESS = {"getDestinations", "createDestination", "deleteSubscriptionById"}
EXAMPLE_ORDER = "902-1106328-1059050"


def _account() -> SellerAccount:
    account = SellerAccount(marketplaces=["ATVPDKIKX0DER", "A1PA6795UKMFR9"])
    item = account.catalog[0]
    unit = Money(item.price("USD"), "USD")
    now = datetime.now(UTC).replace(microsecond=0)
    account.add_order(  # the order of confirmShipment's examples, seller-fulfilled and unshipped
        Order(
            order_id=EXAMPLE_ORDER,
            marketplace_id="ATVPDKIKX0DER",
            status=OrderStatus.UNSHIPPED,
            channel=FulfillmentChannel.MERCHANT,
            created_at=now,
            updated_at=now,
            currency="USD",
            lines=(OrderLine(line_id="79039765272157", sku=item.sku, quantity=1, unit_price=unit),),
        )
    )
    return account


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    reference_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    account = _account()
    with TestClient(create_app(account, rate_limits=False)) as test_client:
        test_client.account = account  # type: ignore[attr-defined]
        yield test_client


def _token(client: Any, grantless: bool) -> str:
    account = client.account
    form = {"client_id": account.client_id, "client_secret": account.client_secret}
    if grantless:
        form |= {"grant_type": "client_credentials", "scope": "sellingpartnerapi::notifications"}
    else:
        form |= {"grant_type": "refresh_token", "refresh_token": account.refresh_token}
    return str(client.post("/auth/o2/token", data=form).json()["access_token"])


def _send(client: Any, operation_id: str, model_file: str, parameters: dict[str, Any]) -> Any:
    op = by_operation_id(operation_id, model_file)
    declared = op.parameters()
    path, query, body = op.template, {}, None
    for name, spec in parameters.items():
        value = spec.get("value") if isinstance(spec, dict) else None
        # The sandbox names the body parameter "body" whatever the model calls it.
        where = "body" if name == "body" else declared[name]["in"]
        if where == "path":
            path = path.replace("{" + name + "}", str(value))
        elif where == "query":
            query[name] = ",".join(map(str, value)) if isinstance(value, list) else value
        elif where == "body":
            body = value
    headers = {"x-amz-access-token": _token(client, operation_id in GRANTLESS)}
    content = (
        json.dumps(body).encode() if body is not None else (b"{}" if op.method in ("POST", "PUT") else None)
    )
    return client.request(op.method, path, params=query, content=content, headers=headers)


@pytest.mark.parametrize("operation_id", SERVED_WITH_EXAMPLES)
def test_simulator_answers_example_requests_alike(client: Any, operation_id: str) -> None:
    model_file = (
        PARSERS[operation_id][0]
        if operation_id in PARSERS
        else ("ordersV0.json" if operation_id == "confirmShipment" else "notifications.json")
    )
    replayed = 0
    for status, parameters, example in _cases(operation_id, model_file):
        if (operation_id, status) in SKIPPED:
            continue
        answer = _send(client, operation_id, model_file, parameters)
        assert answer.status_code == status, (
            f"{operation_id} {parameters}: {answer.status_code} {answer.text[:300]}"
        )
        check = response_validator(model_file, operation_id, status)
        if check is not None:
            errors = list(check.iter_errors(answer.json()))
            assert not errors, f"{operation_id}: {errors[0].message}"
            # Same top-level blocks as the example (a next-page token only when there is a page).
            assert set(example) - {"nextToken"} <= set(answer.json()), (
                f"{operation_id}: {sorted(answer.json())}"
            )
        replayed += 1
    skipped = {s for (op, s) in SKIPPED if op == operation_id}
    assert replayed or skipped, f"{operation_id}: nothing replayed"
