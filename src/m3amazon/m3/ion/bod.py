"""Infor OAGIS BODs: the envelope (verb, noun, BODID, sender) and the per-noun codecs.

A BOD is `<VerbNoun xmlns="http://schema.infor.com/InforOAGIS/2">` with an `ApplicationArea`
(sender logical id, creation time, BODID) and a `DataArea` holding the verb element (tenant,
accounting entity, location, action code) and one or more noun elements. `decode` turns the bytes
into the envelope plus canonical objects; `encode` does the reverse. Each noun lives in its own
module (`sales_order`, `shipment`, `invoice`, `inventory`, `item_master`) and registers a
`NounCodec` here.

Everything about M3's own element set is UNVERIFIED (Infor's InforOAGIS schemas ship with ION Desk
and are not public): the codecs follow OAGIS 9/10 element names (DocumentID/ID, ...), read
leniently (unknown elements are ignored) and write the same shapes they read, so a round trip is
exact. Any problem becomes a `BodError` with a reason code:

- BOD_TOO_LARGE, BOD_MALFORMED, BOD_FORBIDDEN_XML (DTD, entities): see `xml.parse`;
- BOD_WRONG_NAMESPACE: the root is not in Infor's OAGIS namespace;
- BOD_NOT_A_BOD: no Verb+Noun root, ApplicationArea or DataArea;
- BOD_UNKNOWN_NOUN / BOD_UNSUPPORTED_VERB: a noun or verb this product does not handle;
- BOD_INVALID: a noun that lacks what the canonical object needs (ids, quantities, amounts).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from pydantic import BaseModel, ValidationError

from m3amazon.m3.ion.xml import (
    DEFAULT_MAX_BYTES,
    NS,
    BodError,
    find,
    find_all,
    parse,
    q,
    sub,
    text,
    timestamp,
)

VERBS = ("Sync", "Process", "Acknowledge", "Get", "Show", "Load", "Update", "Confirm", "Cancel", "Notify")
#: What a Sync BOD's ActionExpression says by default (OAGIS action codes: Add, Change, Replace, Delete).
DEFAULT_ACTION = {"Sync": "Replace", "Process": "Add"}


@dataclass(frozen=True)
class NounCodec:
    """How one noun maps to canonical objects: `decode` one noun element, `encode` one object."""

    noun: str
    verbs: tuple[str, ...]
    model: type[BaseModel]
    decode: Callable[[etree._Element], Sequence[BaseModel]]
    encode: Callable[[etree._Element, list[Any]], None]
    #: The document id of an object (for BODIDs).
    document_id: Callable[[Any], str]


CODECS: dict[str, NounCodec] = {}


def register(codec: NounCodec) -> NounCodec:
    CODECS[codec.noun] = codec
    return codec


@dataclass(frozen=True)
class Envelope:
    """What every BOD says about itself (ApplicationArea and the verb element)."""

    verb: str
    noun: str
    bod_id: str | None
    sender_logical_id: str | None = None
    sender_component_id: str | None = None
    created_at: dt.datetime | None = None
    tenant_id: str | None = None
    accounting_entity: str | None = None
    location_id: str | None = None
    action_code: str | None = None

    @property
    def document_name(self) -> str:
        return self.verb + self.noun


@dataclass(frozen=True)
class DecodedBod:
    envelope: Envelope
    #: Canonical objects, in document order (one per noun element, or per line for nouns like
    #: InventoryCount whose lines are separate facts).
    documents: tuple[BaseModel, ...] = field(default=())


def read_envelope(root: etree._Element) -> tuple[Envelope, list[etree._Element]]:
    """The envelope and the noun elements of a parsed BOD (BodError when it is not a BOD)."""
    if not isinstance(root.tag, str) or not root.tag.startswith("{"):
        raise BodError("BOD_WRONG_NAMESPACE", f"the root element has no namespace; BODs use {NS}")
    namespace, _, name = root.tag[1:].partition("}")
    if namespace != NS:
        raise BodError("BOD_WRONG_NAMESPACE", f"the root element is in namespace {namespace}, not {NS}")
    verb = next((v for v in VERBS if name.startswith(v) and len(name) > len(v)), None)
    application, data = find(root, "ApplicationArea"), find(root, "DataArea")
    if verb is None or application is None or data is None:
        raise BodError(
            "BOD_NOT_A_BOD", f"<{name}> is not a BOD (Verb+Noun with ApplicationArea and DataArea)"
        )
    noun = name[len(verb) :]
    verb_element = find(data, verb)
    action = None
    if verb_element is not None:
        expression = find(verb_element, "ActionCriteria/ActionExpression")
        action = expression.get("actionCode") if expression is not None else None
    envelope = Envelope(
        verb=verb,
        noun=noun,
        bod_id=text(application, "BODID"),
        sender_logical_id=text(application, "Sender/LogicalID"),
        sender_component_id=text(application, "Sender/ComponentID"),
        created_at=timestamp(text(application, "CreationDateTime"), "CreationDateTime"),
        tenant_id=text(verb_element, "TenantID"),
        accounting_entity=text(verb_element, "AccountingEntityID"),
        location_id=text(verb_element, "LocationID"),
        action_code=action,
    )
    return envelope, find_all(data, noun)


def decode(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> DecodedBod:
    """Parse a BOD into its envelope and canonical objects, or raise BodError."""
    envelope, nouns = read_envelope(parse(data, max_bytes=max_bytes))
    codec = CODECS.get(envelope.noun)
    if codec is None:
        raise BodError(
            "BOD_UNKNOWN_NOUN", f"{envelope.document_name}: the noun {envelope.noun} is not handled"
        )
    if envelope.verb not in codec.verbs:
        raise BodError(
            "BOD_UNSUPPORTED_VERB",
            f"{envelope.document_name}: {envelope.noun} is handled with {'/'.join(codec.verbs)} only",
        )
    if not nouns:
        raise BodError("BOD_INVALID", f"{envelope.document_name} carries no {envelope.noun}")
    documents: list[BaseModel] = []
    for index, element in enumerate(nouns, start=1):
        try:
            documents.extend(codec.decode(element))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or envelope.noun
            raise BodError("BOD_INVALID", f"{envelope.noun} {index}: {where}: {first['msg']}") from None
    return DecodedBod(envelope, tuple(documents))


def bod_id(
    tenant: str,
    accounting_entity: str,
    location: str,
    document_id: str,
    noun: str,
    verb: str,
    variation: int | str | None = None,
) -> str:
    """A BODID in Infor's `infor-nid` form (research notes §4.1)."""
    suffix = f"&variationID={variation}" if variation is not None else ""
    return f"infor-nid:{tenant}:{accounting_entity}:{location}:{document_id}:?{noun}&verb={verb}{suffix}"


def encode(
    verb: str,
    documents: BaseModel | Sequence[BaseModel],
    *,
    sender_logical_id: str,
    tenant_id: str = "infor",
    accounting_entity: str = "",
    location_id: str = "",
    component_id: str = "m3amazon",
    action_code: str | None = None,
    bod_id_value: str | None = None,
    created_at: dt.datetime | None = None,
) -> bytes:
    """A BOD carrying `documents` (canonical objects of one noun), as UTF-8 bytes."""
    items = [documents] if isinstance(documents, BaseModel) else list(documents)
    if not items:
        raise ValueError("a BOD needs at least one document")
    codec = next((c for c in CODECS.values() if isinstance(items[0], c.model)), None)
    if codec is None:
        raise ValueError(f"no BOD noun for {type(items[0]).__name__}")
    if verb not in codec.verbs:
        raise ValueError(f"{codec.noun} is sent with {'/'.join(codec.verbs)}, not {verb}")
    root = etree.Element(q(verb + codec.noun), nsmap={None: NS}, releaseID="9.2", versionID="2.14.0")
    application = sub(root, "ApplicationArea")
    sender = sub(application, "Sender")
    sub(sender, "LogicalID", sender_logical_id)
    sub(sender, "ComponentID", component_id)
    sub(sender, "ConfirmationCode", "OnError")
    sub(application, "CreationDateTime", created_at or dt.datetime.now(dt.UTC))
    document_id = codec.document_id(items[0])
    sub(
        application,
        "BODID",
        bod_id_value
        or bod_id(
            tenant_id, accounting_entity, location_id, document_id, codec.noun, verb, uuid.uuid4().hex[:12]
        ),
    )
    data = sub(root, "DataArea")
    verb_element = sub(data, verb)
    sub(verb_element, "TenantID", tenant_id)
    if accounting_entity:
        sub(verb_element, "AccountingEntityID", accounting_entity)
    if location_id:
        sub(verb_element, "LocationID", location_id)
    criteria = sub(verb_element, "ActionCriteria")
    sub(criteria, "ActionExpression", actionCode=action_code or DEFAULT_ACTION.get(verb, "Replace"))
    codec.encode(data, items)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _load_nouns() -> None:
    # The noun modules register themselves; importing them here keeps `decode` complete.
    from m3amazon.m3.ion import inventory, invoice, item_master, sales_order, shipment  # noqa: F401


_load_nouns()
