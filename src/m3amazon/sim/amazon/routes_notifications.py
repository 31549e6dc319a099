"""Notifications v1: getDestinations and createDestination (grantless), getSubscription,
createSubscription, deleteSubscriptionById (grantless), on the simulated setup (subscriptions.py).
v0-style answers: `{"payload": ...}`; delete answers an empty object.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from m3amazon.sim.amazon.params import Params
from m3amazon.sim.amazon.simulator import AmazonSimulator

BASE = "/notifications/v1"


def router(sim: AmazonSimulator) -> APIRouter:
    routes = APIRouter()
    setup = sim.account.notification_setup

    @routes.get(BASE + "/destinations")
    async def destinations(request: Request) -> Response:
        def run() -> dict[str, Any]:
            Params(request.query_params.multi_items(), ())
            return {"payload": [d.render() for d in setup.destinations.values()]}

        return await sim.serve(request, "getDestinations", run, grantless=True)

    @routes.post(BASE + "/destinations")
    async def create_destination(request: Request) -> Response:
        return await sim.serve(
            request,
            "createDestination",
            lambda body: {"payload": setup.create_destination(body).render()},
            grantless=True,
            with_body=True,
        )

    @routes.get(BASE + "/subscriptions/{notificationType}")
    async def subscription(notificationType: str, request: Request) -> Response:
        def run() -> dict[str, Any]:
            params = Params(request.query_params.multi_items(), ("payloadVersion",))
            return {"payload": setup.subscription(notificationType, params.get("payloadVersion")).render()}

        return await sim.serve(request, "getSubscription", run)

    @routes.post(BASE + "/subscriptions/{notificationType}")
    async def create_subscription(notificationType: str, request: Request) -> Response:
        return await sim.serve(
            request,
            "createSubscription",
            lambda body: {"payload": setup.create_subscription(notificationType, body).render()},
            with_body=True,
        )

    @routes.delete(BASE + "/subscriptions/{notificationType}/{subscriptionId}")
    async def delete_subscription(notificationType: str, subscriptionId: str, request: Request) -> Response:
        def run() -> dict[str, Any]:
            setup.delete_subscription(notificationType, subscriptionId)
            return {}

        return await sim.serve(request, "deleteSubscriptionById", run, grantless=True)

    return routes
