"""What every SP-API module shares: one library client, the gateway's one call path, typed answers.

Why the modules send through the library client's `_request` with `add_marketplace=False` instead
of its per-operation methods: those methods add the default marketplace to every request in which
they do not find a marketplace key of their own (four undeclared query parameters on a GET, two
undeclared body fields on a POST or PUT), fetch grantless tokens with the library's own LWA client,
and download documents themselves. The SP-API models do not allow any of that, and our conformance
tests check every request against them. `_request` is the same code path the per-operation methods
end in (headers, JSON body, our transport, our token), only without those additions. Where a
library method sends exactly the model's request, the modules call it (see each module).

Typed parsing happens inside the call (see `ApiBase.send`): a 200 whose body does not fit the model
(Amazon cut the body short, a proxy answered) raises `Unavailable("MalformedResponse")`, which the
gateway retries like a 503 before giving up.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, RootModel, ValidationError
from sp_api.base import ApiResponse

from m3amazon.amazon.errors import Unavailable

if TYPE_CHECKING:
    from m3amazon.amazon.gateway import AmazonGateway

M = TypeVar("M", bound=BaseModel)


def iso(moment: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 with a 'Z' (the SP-API's date-time format)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime (UTC)")
    return moment.isoformat().replace("+00:00", "Z")


def query(values: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters as the models declare them: None left out, arrays comma-separated
    (Swagger 2.0's default collectionFormat), booleans lower case, datetimes ISO 8601."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, datetime):
            value = iso(value)
        elif isinstance(value, list | tuple | set | frozenset):
            value = ",".join(str(v) for v in value)
        out[name] = value
    return out


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "the document"
    return f"{where}: {error.get('msg', 'invalid')}"


class ApiBase:
    """One SP-API (one model file) on top of the gateway. Subclasses name the library class."""

    #: The python-amazon-sp-api class whose client this API reuses (one per gateway).
    library: ClassVar[type]
    #: The `version` argument of that class, when it has several.
    library_version: ClassVar[str | None] = None

    def __init__(self, gateway: AmazonGateway) -> None:
        self.gateway = gateway
        self.client = gateway.library_client(self.library, self.library_version)

    @property
    def seller_id(self) -> str:
        if not self.gateway.settings.seller_id:
            raise ValueError("amazon.seller_id must be set for this operation")
        return self.gateway.settings.seller_id

    def marketplaces(self, given: list[str] | tuple[str, ...] | None = None) -> list[str]:
        chosen = list(given or self.gateway.settings.marketplaces)
        if not chosen:
            raise ValueError("no marketplace given and amazon.marketplaces is empty")
        return chosen

    async def call(self, operation: str, invoke: Callable[[], Awaitable[ApiResponse]]) -> ApiResponse:
        """The gateway's one call path (retries, token, governor)."""
        return await self.gateway._call(operation, invoke)

    async def send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        model: type[M] | None = None,
    ) -> tuple[ApiResponse, M | None]:
        """One request in the model's shape, through the library client; with `model`, the answer's
        payload parsed into it (a body that does not fit is retried as MalformedResponse)."""
        url_path = path.format(**{k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
        parsed: list[M] = []

        async def invoke() -> ApiResponse:
            query_params: dict[str, Any] = {**query(params or {})}
            data: dict[str, Any] | None = None
            if body is not None:
                # A JSON round trip turns Decimals and datetimes into what the library can dump.
                data = json.loads(json.dumps(body, default=str))
                data["method"] = method
            else:
                query_params["method"] = method
            response = await self.client._request(
                url_path, params=query_params, data=data, add_marketplace=False
            )
            if model is not None:
                parsed.append(self._parse(operation, model, response))
            return response

        response = await self.call(operation, invoke)
        return response, (parsed[-1] if parsed else None)

    async def fetch(self, operation: str, method: str, path: str, model: type[M], **kwargs: Any) -> M:
        """`send` for operations whose answer must fit `model`."""
        _, parsed = await self.send(operation, method, path, model=model, **kwargs)
        assert parsed is not None
        return parsed

    @staticmethod
    def _parse(operation: str, model: type[M], response: ApiResponse) -> M:
        payload: Any = response.payload
        if isinstance(model, type) and issubclass(model, RootModel) and payload == {}:
            payload = []  # the library turns an empty `payload` list into {}
        if not isinstance(payload, dict | list):
            raise Unavailable(
                200, "MalformedResponse", f"{operation} answered without a JSON document", operation
            )
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise Unavailable(
                200,
                "MalformedResponse",
                f"{operation} answered a body that does not fit the model ({first_error(exc)})",
                operation,
            ) from None
