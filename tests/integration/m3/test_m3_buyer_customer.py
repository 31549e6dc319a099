"""One M3 customer per buyer over loopback: created once, found again, never someone else's."""

from __future__ import annotations

import logging

import pytest
from m3_sim_support import Sim, run_with_client

from m3amazon.canonical import Address, Party
from m3amazon.m3 import lifecycle
from m3amazon.m3.client import MIClient
from m3amazon.m3.customers import buyer_customer_number, customer_record
from m3amazon.m3.errors import MIError
from m3amazon.m3.orders import get_customer

BUYER = Party(name="Jane Roe", email="7xk2lq9h4fz1@marketplace.amazon.com")
ADDRESS = Address(
    name="Jane Roe", line1="1 Main Street", city="Seattle", state="WA", postal_code="98101", country_code="US"
)


def test_a_buyer_is_created_once_from_the_template(sim: Sim, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario(client: MIClient) -> tuple:
        first = await lifecycle.ensure_buyer_customer(client, BUYER, ADDRESS, template="AMZUS", prefix="AZ")
        second = await lifecycle.ensure_buyer_customer(client, BUYER, ADDRESS, template="AMZUS", prefix="AZ")
        return first, second, await get_customer(client, first)

    first, second, stored = run_with_client(sim, scenario)
    assert first == second == buyer_customer_number(BUYER, ADDRESS, "AZ")
    assert sim.stats()["calls"]["CRS610MI/Add"] == 1
    assert stored is not None and stored["CUNM"] == "Jane Roe" and stored["TOWN"] == "Seattle"
    assert stored["MAIL"] == BUYER.email and stored["CUCD"] == "USD"  # the template's currency
    logged = caplog.text
    assert first in logged and "Jane" not in logged and "7xk2lq9h4fz1" not in logged and "Main" not in logged


def test_a_customer_added_by_an_earlier_lost_answer_is_found_not_added_again(sim: Sim) -> None:
    number = buyer_customer_number(BUYER, ADDRESS, "AZ")
    assert number is not None
    record = customer_record(BUYER, ADDRESS, template="AMZUS", number=number)
    run_with_client(sim, lambda client: client.execute("CRS610MI", "Add", record))
    found = run_with_client(
        sim,
        lambda client: lifecycle.ensure_buyer_customer(client, BUYER, ADDRESS, template="AMZUS", prefix="AZ"),
    )
    assert found == number and sim.stats()["calls"]["CRS610MI/Add"] == 1


def test_a_number_taken_by_another_buyer_is_refused_not_shared(sim: Sim) -> None:
    number = buyer_customer_number(BUYER, ADDRESS, "AZ")
    assert number is not None
    other = customer_record(
        Party(name="Someone Else", email="other@example.com"), ADDRESS, template="AMZUS", number=number
    )
    run_with_client(sim, lambda client: client.execute("CRS610MI", "Add", other))

    async def scenario(client: MIClient) -> None:
        await lifecycle.ensure_buyer_customer(client, BUYER, ADDRESS, template="AMZUS", prefix="AZ")

    with pytest.raises(lifecycle.CustomerNumberTaken) as caught:
        run_with_client(sim, scenario)
    assert caught.value.customer_number == number and not caught.value.transient


def test_without_email_the_name_and_postal_code_identify_the_buyer(sim: Sim) -> None:
    buyer = Party(name="Max Mustermann")
    munich = Address(
        name="Max Mustermann", line1="Marienplatz 1", city="München", postal_code="80331", country_code="DE"
    )

    async def scenario(client: MIClient) -> tuple:
        first = await lifecycle.ensure_buyer_customer(client, buyer, munich, template="AMZDE", prefix="AZ")
        again = await lifecycle.ensure_buyer_customer(client, buyer, munich, template="AMZDE", prefix="AZ")
        return first, again

    first, again = run_with_client(sim, scenario)
    assert first == again and sim.stats()["calls"]["CRS610MI/Add"] == 1


def test_a_template_m3_does_not_know_is_m3s_error(sim: Sim) -> None:
    async def scenario(client: MIClient) -> None:
        await lifecycle.ensure_buyer_customer(client, BUYER, ADDRESS, template="NOSUCH", prefix="AZ")

    with pytest.raises(MIError) as caught:
        run_with_client(sim, scenario)
    assert "NOSUCH" in str(caught.value) and caught.value.field == "CUTM" and not caught.value.transient
