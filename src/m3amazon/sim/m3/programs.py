"""MI transactions of the M3 simulator: the MI layer in front of the handler modules.

Strictness is the point: a test that passes here should pass against M3, so every transaction
takes and returns only the fields of the MI field table, refuses unknown, too long or missing
fields the way the MI layer does, and then runs the transaction's business rules (handlers in
`masterdata`, `orders`, `stock`, `deliveries`, `invoicing`, `ledger`). Each transaction is one
SQLite transaction; the events it leaves are published after it committed.
"""

from __future__ import annotations

import re

from m3amazon.m3.fields import CONTROL_FIELDS, FieldTable
from m3amazon.sim.m3 import (  # noqa: F401  (register handlers)
    deliveries,
    invoicing,
    ledger,
    masterdata,
    orders,
    sales_orders,
    stock,
)
from m3amazon.sim.m3.mi import HANDLERS, Call, Row, SimMIError, served_transactions
from m3amazon.sim.m3.orders import parse_search_query
from m3amazon.sim.m3.store import SimStore

__all__ = [
    "Call",
    "SimMIError",
    "check_fields",
    "parse_search_query",
    "run_transaction",
    "served_transactions",
]

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


# -- the MI layer -----------------------------------------------------------------------------


def check_fields(
    table: FieldTable,
    program: str,
    transaction: str,
    record: dict[str, str],
    control: dict[str, str] | None = None,
) -> dict[str, str]:
    """The record as M3's MI layer accepts it (blanks dropped), or the MI-layer error.

    `control` holds the call's `cono`/`divi`: they satisfy a transaction's required CONO/DIVI.
    """
    if not table.has(program, transaction) or (program, transaction) not in HANDLERS:
        raise SimMIError(
            f"Transaction {transaction} of program {program} is not available",
            code="XTR0001",
            error_type="TransactionNotFound",
        )
    fields = table.input_fields(program, transaction)
    given = {name: value for name, value in record.items() if value.strip() != ""}
    for name, value in given.items():
        spec = fields.get(name)
        if spec is None:
            raise SimMIError(
                f"Field {name} is not an input field of {transaction}", code="XFL0001", field=name
            )
        size = len(value)
        if spec.type == "number":
            if not _NUMBER.match(value.strip()):
                raise SimMIError(f"Field {name} must be numeric", code="XFL0004", field=name)
            size = sum(ch.isdigit() for ch in value)
        if spec.length is not None and size > spec.length:
            raise SimMIError(
                f"Input field {name} is too long, max length {spec.length}",
                code="XFL0002",
                field=name,
                error_type="InputFieldTooLong",
            )
    for name, spec in fields.items():
        if spec.required and name not in given and not (name in CONTROL_FIELDS and (control or {}).get(name)):
            raise SimMIError(
                f"Mandatory input field {name} is missing",
                code="XFL0003",
                field=name,
                error_type="MandatoryInputFieldNotFound",
            )
    return {name: value.rstrip() for name, value in given.items()}


def run_transaction(
    store: SimStore,
    table: FieldTable,
    program: str,
    transaction: str,
    record: dict[str, str],
    *,
    user: str,
    maxrecs: int = 0,
    cono: str = "100",
    divi: str = "AAA",
    invoice_on_delivery: bool = True,
) -> list[Row]:
    """Run one MI transaction against the store; rows as M3 returns them, or SimMIError."""
    store.count_call(program, transaction)
    given = check_fields(table, program, transaction, record, {"CONO": cono, "DIVI": divi})
    call = Call(user, cono=cono, divi=divi or "AAA", invoice_on_delivery=invoice_on_delivery)
    try:
        with store.transaction() as db:
            rows = HANDLERS[(program, transaction)](db, given, call)
    except SimMIError as exc:
        if exc.keep is not None:
            with store.transaction() as db:
                exc.keep(db, exc)
        raise
    store.publish(call.events)
    return rows[:maxrecs] if maxrecs > 0 else rows
