"""The simulated Login with Amazon token endpoint (POST /auth/o2/token).

It checks what LWA checks (grant type, client id and secret, refresh token, scope) and answers in
LWA's OAuth 2.0 shapes, so the product's token provider is exercised against the real protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from m3amazon.sim.amazon.state import SellerAccount

GRANTLESS_SCOPES = {
    "sellingpartnerapi::notifications",
    "sellingpartnerapi::migration",
    "sellingpartnerapi::client_credential:rotation",
}


def lwa_exchange(account: SellerAccount, form: Mapping[str, str]) -> JSONResponse:
    """LWA's token endpoint: validate the grant, issue a bearer token valid for the account's TTL."""

    def error(status: int, code: str, description: str) -> JSONResponse:
        return JSONResponse({"error": code, "error_description": description}, status)

    grant = form.get("grant_type")
    if not grant or not form.get("client_id"):
        return error(
            400, "invalid_request", "The request is missing a required parameter : grant_type or client_id"
        )
    if form.get("client_id") != account.client_id or form.get("client_secret") != account.client_secret:
        return error(401, "invalid_client", "Client authentication failed")
    body: dict[str, Any] = {"token_type": "bearer"}
    if grant == "refresh_token":
        if not form.get("refresh_token"):
            return error(
                400, "invalid_request", "The request is missing a required parameter : refresh_token"
            )
        if form["refresh_token"] != account.refresh_token:
            return error(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
        body["refresh_token"] = account.refresh_token
    elif grant == "client_credentials":
        if form.get("scope") not in GRANTLESS_SCOPES:
            return error(400, "invalid_scope", "An unknown scope was requested")
    else:
        return error(
            400, "unsupported_grant_type", f"The authorization grant type is not supported: {grant[:40]}"
        )
    token, ttl = account.issue_token(grant, form.get("scope") if grant == "client_credentials" else None)
    return JSONResponse({"access_token": token, **body, "expires_in": ttl})
