"""Safe XML for BODs: one hardened lxml parser, a size limit, and small element helpers.

BODs come from outside (ION, or anything that can reach our IMS endpoint), so the parser never
loads a DTD, never resolves entities and never touches the network; a document that carries a
DOCTYPE or entity declarations at all is refused (that is where XXE and "billion laughs" live),
and so is one above the size limit, before lxml sees it. `huge_tree=False` keeps libxml2's own
limits on depth and text size.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from lxml import etree

from m3amazon.canonical import Money

#: Infor's OAGIS namespace (research notes §4.1).
NS = "http://schema.infor.com/InforOAGIS/2"
#: Largest BOD accepted by default (a SyncItemMaster of a big catalog fits; 50 MB does not).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class BodError(Exception):
    """A BOD that cannot be used, with a reason code for incidents and a sentence for people."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message

    #: Problems with the document itself (not XML, hostile, not a BOD): the sender must fix it.
    @property
    def is_rejection(self) -> bool:
        return self.reason_code in REJECTED


#: Reason codes that make the IMS endpoint answer 4xx (the rest are accepted as incidents).
REJECTED = frozenset(
    {"BOD_TOO_LARGE", "BOD_MALFORMED", "BOD_FORBIDDEN_XML", "BOD_WRONG_NAMESPACE", "BOD_NOT_A_BOD"}
)


def _parser() -> etree.XMLParser:
    # A new parser per document: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """The document's root element, or BodError (too large, not well-formed, DTD or entities)."""
    if len(data) > max_bytes:
        raise BodError(
            "BOD_TOO_LARGE", f"the document is {len(data)} bytes; at most {max_bytes} are accepted"
        )
    if _DECLARATION.search(data):
        raise BodError("BOD_FORBIDDEN_XML", "the document declares a DTD or entities, which BODs never need")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise BodError("BOD_MALFORMED", f"the document is not well-formed XML: {exc}") from None
    except ValueError as exc:  # e.g. an encoding declaration lxml refuses
        raise BodError("BOD_MALFORMED", f"the document cannot be read as XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise BodError("BOD_FORBIDDEN_XML", "the document declares a DTD, which BODs never need")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise BodError("BOD_FORBIDDEN_XML", "the document uses entity references, which BODs never need")
    return root


# -- reading --------------------------------------------------------------------------------


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _path(path: str) -> str:
    return "/".join(q(name) for name in path.split("/"))


def find(parent: etree._Element | None, path: str) -> etree._Element | None:
    """The first element at `path` ("A/B/C", names in the OAGIS namespace), or None."""
    return None if parent is None else parent.find(_path(path))


def find_all(parent: etree._Element | None, path: str) -> list[etree._Element]:
    """Every element at `path`, through every matching intermediate element."""
    return [] if parent is None else list(parent.findall(_path(path)))


#: What XML itself counts as white space (str.split would also split on NEL, NBSP, ...).
XML_SPACE = " \t\r\n"


def clean(value: str | None) -> str | None:
    """Element text without the XML white space around it (None when nothing is left)."""
    if value is None:
        return None
    return value.strip(XML_SPACE) or None


def text(parent: etree._Element | None, path: str) -> str | None:
    node = find(parent, path)
    return None if node is None else clean(node.text)


def required(parent: etree._Element, path: str, where: str) -> str:
    value = text(parent, path)
    if value is None:
        raise BodError("BOD_INVALID", f"{where}: {path} is missing")
    return value


def decimal(value: str, what: str) -> Decimal:
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise BodError("BOD_INVALID", f"{what} is not a number: {value[:40]!r}") from None
    if not result.is_finite():
        raise BodError("BOD_INVALID", f"{what} is not a finite number")
    return result


def money(parent: etree._Element | None, path: str, where: str) -> Money | None:
    """An amount element with its `currencyID`, as Money (None when absent)."""
    node = find(parent, path)
    if node is None or not (node.text or "").strip():
        return None
    currency = node.get("currencyID")
    if not currency:
        raise BodError("BOD_INVALID", f"{where}: {path} has no currencyID")
    try:
        return Money(decimal(node.text.strip(), f"{where}: {path}"), currency)
    except ValueError as exc:
        raise BodError("BOD_INVALID", f"{where}: {path}: {exc}") from None


def timestamp(value: str | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BodError("BOD_INVALID", f"{what} is not an ISO 8601 date-time: {value[:40]!r}") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def day(value: str | None, what: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise BodError("BOD_INVALID", f"{what} is not an ISO 8601 date: {value[:40]!r}") from None


# -- writing --------------------------------------------------------------------------------


def sub(
    parent: etree._Element, tag: str, value: object = None, /, **attributes: str | None
) -> etree._Element:
    """Append <tag> (in the OAGIS namespace) with `value` as text; None attributes are left out."""
    node = etree.SubElement(parent, q(tag), {k: v for k, v in attributes.items() if v is not None})
    if value is not None:
        node.text = format_value(value)
    return node


def sub_path(
    parent: etree._Element, path: str, value: object = None, /, **attributes: str | None
) -> etree._Element:
    """Append the chain of elements in `path`; the value and attributes go on the last one."""
    names = path.split("/")
    node = parent
    for name in names[:-1]:
        node = sub(node, name)
    return sub(node, names[-1], value, **attributes)


def optional(parent: etree._Element, path: str, value: object, /, **attributes: str | None) -> None:
    if value is not None and value != "":
        sub_path(parent, path, value, **attributes)


def amount(parent: etree._Element, path: str, value: Money | None) -> None:
    if value is not None:
        sub_path(parent, path, value.amount, currencyID=value.currency)


def format_value(value: object) -> str:
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return stamp.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
