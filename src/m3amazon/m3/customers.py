"""One M3 customer per Amazon buyer (the `per_buyer` customer policy), found or created once.

The customer number is derived from the buyer, so that the same buyer always gets the same number
and the order flow can name it without a look-up (`buyer_customer_number`, pure):

- the buyer key is the buyer's e-mail (Amazon's anonymised relay address, stable per buyer and
  seller), lower-cased; without one, the name (case and spacing ignored), postal code and country
  of the delivery address;
- the number is `prefix` + the key's SHA-256 in base 36, cut to CUNO's 10 characters. With a
  prefix of 2 characters that is 36^8 (2.8 * 10^12) numbers: among a million buyers a new one
  collides with an existing number with a chance of about 1 in 3 million. A collision is detected
  (the existing customer's e-mail, or name and postal code, differ) and raised as
  `CustomerNumberTaken`, never merged into someone else's customer.

`ensure_buyer_customer` reads the customer first (CRS610MI GetBasicData) and adds it from the
template (CRS610MI Add, CUTM required) only when absent: a repeated run, or one after a lost
answer, finds it. Name and address are fitted to CRS610MI's field lengths with the translation's
rules; on the customer record text that does not fit is cut (the order's own delivery address
carries the full text). Personal data never reaches a log line: only the customer number does,
and the record is sent in a bulk POST's body rather than a GET's URL (httpx logs URLs at INFO).
"""

from __future__ import annotations

import hashlib
import logging

from m3amazon.canonical import Address, Party
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import CustomerNumberTaken, MIError, MIValidationError
from m3amazon.m3.orders import get_customer
from m3amazon.m3.translate import fit_address

log = logging.getLogger(__name__)

CRS610MI = "CRS610MI"
#: CUNO's length in CRS610MI.
CUSTOMER_NUMBER_LENGTH = 10
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _words(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def buyer_key(buyer: Party | None, address: Address | None) -> str | None:
    """The stable identity of a buyer, or None when nothing identifies them."""
    email = (buyer.email if buyer else None) or ""
    if email.strip():
        return "email:" + email.strip().lower()
    name = _words((buyer.name if buyer else None) or (address.name if address else None))
    if name and address is not None and address.postal_code:
        postal = "".join(address.postal_code.split()).upper()
        return f"name:{name}|{postal}|{address.country_code}"
    return None


def buyer_customer_number(buyer: Party | None, address: Address | None, prefix: str) -> str | None:
    """The M3 customer number for this buyer (pure), or None when the buyer cannot be identified."""
    key = buyer_key(buyer, address)
    prefix = prefix.strip().upper()
    width = CUSTOMER_NUMBER_LENGTH - len(prefix)
    if key is None or width < 4:
        return None
    value = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest(), "big")
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits.append(_BASE36[digit])
    return prefix + "".join(digits)


def customer_record(buyer: Party | None, address: Address, *, template: str, number: str) -> dict[str, str]:
    """The CRS610MI Add record for a buyer (pure; fitted to the transaction's field lengths)."""
    named = address.model_copy(
        update={
            "name": (buyer.name if buyer and buyer.name else None) or address.name,
            "company": (buyer.company if buyer and buyer.company else None) or address.company,
        }
    )
    fitted, _ = fit_address(named, allow_truncation=True, program=CRS610MI, transaction="Add")
    record = {"CUTM": template, "CUNO": number, **fitted}
    if not record.get("CUNM"):
        record["CUNM"] = number
    if not record.get("CUA1"):  # M3 requires a first address line
        record["CUA1"] = record.get("TOWN") or address.country_code
    email = (buyer.email if buyer else None) or ""
    if email.strip() and len(email.strip()) <= 50:
        record["MAIL"] = email.strip().lower()
    return record


def _same_buyer(existing: dict[str, str], record: dict[str, str]) -> bool:
    if record.get("MAIL"):
        return existing.get("MAIL", "").strip().lower() == record["MAIL"]
    return (
        _words(existing.get("CUNM")) == _words(record.get("CUNM"))
        and "".join(existing.get("PONO", "").split()).upper()
        == "".join(record.get("PONO", "").split()).upper()
    )


async def ensure_buyer_customer(
    client: MIClient, buyer: Party, address: Address, *, template: str, prefix: str
) -> str:
    """The buyer's M3 customer number; the customer is created from `template` when M3 has none."""
    number = buyer_customer_number(buyer, address, prefix)
    if number is None:
        raise MIValidationError(
            CRS610MI, "Add", "CUNO", "the buyer has no e-mail and no name with a postal code to identify them"
        )
    record = customer_record(buyer, address, template=template, number=number)
    existing = await get_customer(client, number)
    if existing is None:
        try:
            # A bulk POST, not a GET: the buyer's name and address travel in the body, never in a
            # URL that HTTP libraries, proxies and access logs write down.
            (added,) = await client.bulk(CRS610MI, [("Add", record)], maxrecs=1)
            if added.error is not None:
                raise added.error
            log.info("created M3 customer %s for a new buyer", number)
            return number
        except MIError as exc:
            if exc.transient or "exist" not in exc.message.lower():
                raise
            existing = await get_customer(client, number)  # created meanwhile (or by a lost answer)
            if existing is None:
                raise
    if not _same_buyer(existing, record):
        raise CustomerNumberTaken(number)
    return number
