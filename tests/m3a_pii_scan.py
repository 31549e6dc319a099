"""Find buyers' personal data and secrets where they must not be: log files, database files.

The needles come from a running sandbox: the buyer names, emails, phones, address lines and postal
codes of every order the Amazon simulator generated, the ship-to parties of the M3 simulator's
orders, and the secrets the product was configured with (LWA client secret, refresh token, the M3
password as it travels in basic auth, every access token the simulator issued).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from m3amazon.sim.sandbox import M3_PASSWORD, M3_USER, Sandbox

#: Shorter values (a two-digit house number, "NY") would match by accident.
MIN_LENGTH = 6


@dataclass(frozen=True)
class Needle:
    kind: str
    value: str


def personal_data(box: Sandbox) -> list[Needle]:
    needles: list[Needle] = []
    for order in box.account.orders():
        if order.buyer is not None:
            needles += [
                Needle("buyer name", order.buyer.name or ""),
                Needle("buyer email", order.buyer.email or ""),
            ]
        address = order.ship_to
        if address is not None:
            needles += [
                Needle("ship-to name", address.name or ""),
                Needle("address line", address.line1 or ""),
                Needle("address line", address.line2 or ""),
                Needle("postal code", address.postal_code or ""),
                Needle("phone", address.phone or ""),
            ]
    return [n for n in needles if len(n.value) >= MIN_LENGTH]


def secrets(box: Sandbox) -> list[Needle]:
    account = box.account
    basic = base64.b64encode(f"{M3_USER}:{M3_PASSWORD}".encode()).decode()
    needles = [
        Needle("LWA client secret", account.client_secret),
        Needle("LWA refresh token", account.refresh_token),
        Needle("M3 basic auth", basic),
    ]
    with account.lock:
        needles += [Needle("access token", token) for token in list(account._tokens)]
    return needles


def scan(paths: Iterable[Path], needles: list[Needle]) -> list[str]:
    """Every (file, kind) where a needle was found; [] is the good answer."""
    found: list[str] = []
    for path in paths:
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue
        for needle in needles:
            if needle.value in text:
                found.append(f"{path.name}: {needle.kind} {needle.value[:3]}...")
    return sorted(set(found))
