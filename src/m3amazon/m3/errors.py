"""Errors of the M3 edge, classified so that callers know whether trying again can help.

Every failure of an MI call becomes an `MIError` carrying what M3 said (program, transaction,
code, field, error type, message). The one question a caller (a durable workflow step, the order
flow, an operator replaying an incident) must answer is "retry or open an incident?", so the
classification is a plain attribute, `transient`:

- business answers from M3 (unknown customer, item not active, field too long) are not transient:
  the same request will fail the same way, it needs a person or a mapping change;
- timeouts, HTTP 5xx/429 and dropped connections are transient (`MITransportError`);
- problems found before anything is sent are `MIValidationError`, worded for the person who has to
  fix the data ("field CUA1 is 41 characters, M3 allows 36").
"""

from __future__ import annotations

import re

#: Message fragments M3 uses when a keyed record is missing. M3's message ids differ by program
#: (e.g. WCU0203-style ids); the text is the stable part. UNVERIFIED beyond the samples seen.
_NOT_FOUND = re.compile(r"does not exist|not found|no record|record not exist", re.IGNORECASE)


class MIError(Exception):
    """An MI transaction (or the HTTP call carrying it) did not succeed."""

    def __init__(
        self,
        message: str,
        *,
        program: str = "",
        transaction: str = "",
        code: str | None = None,
        field: str | None = None,
        error_type: str | None = None,
        transient: bool = False,
    ) -> None:
        self.program = program
        self.transaction = transaction
        self.code = code or None
        self.field = field or None
        self.error_type = error_type or None
        self.message = " ".join(message.split())
        self.transient = transient
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.program}/{self.transaction}" if self.program else "M3"
        details = ", ".join(
            f"{label} {value}"
            for label, value in (("code", self.code), ("field", self.field), ("type", self.error_type))
            if value
        )
        return f"{where}: {self.message}" + (f" ({details})" if details else "")

    @property
    def is_not_found(self) -> bool:
        """M3 says the keyed record does not exist (a normal answer for Get transactions)."""
        business = self.error_type in (None, "ServerReturnedNOK")
        return business and not self.transient and bool(_NOT_FOUND.search(self.message))

    def about(self, what: str) -> MIError:
        """The same error, its message saying what it concerns ("line 2: Item ... does not exist")."""
        return MIError(
            f"{what}: {self.message}",
            program=self.program,
            transaction=self.transaction,
            code=self.code,
            field=self.field,
            error_type=self.error_type,
            transient=self.transient,
        )

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by state: durable steps checkpoint errors, and subclasses take other arguments."""
        return (_restore, (type(self), dict(self.__dict__)))

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly form for incidents and logs (M3 messages carry no secrets)."""
        return {
            "program": self.program,
            "transaction": self.transaction,
            "code": self.code,
            "field": self.field,
            "error_type": self.error_type,
            "message": self.message,
            "transient": self.transient,
        }


class MIValidationError(MIError):
    """The record was refused locally, against the MI field table, before any HTTP call."""

    def __init__(self, program: str, transaction: str, field: str | None, reason: str) -> None:
        super().__init__(
            reason,
            program=program,
            transaction=transaction,
            field=field,
            error_type="LocalValidation",
            transient=False,
        )

    def _describe(self) -> str:
        return f"{self.program}/{self.transaction}: {self.message}"


class MITransportError(MIError):
    """The call failed on the way (timeout, 5xx, 429, connection reset); trying again may help.

    `maybe_processed` is False only when M3 certainly did not run the request (the connection was
    never made, or M3 said it was throttled). A write whose outcome is unknown must not be sent
    again blindly: the caller looks the object up by its natural key first.
    """

    def __init__(
        self,
        message: str,
        *,
        program: str = "",
        transaction: str = "",
        status: int | None = None,
        maybe_processed: bool = True,
    ) -> None:
        self.status = status
        self.maybe_processed = maybe_processed
        super().__init__(
            message,
            program=program,
            transaction=transaction,
            code=str(status) if status is not None else None,
            error_type="Transport",
            transient=True,
        )


def _restore(cls: type[MIError], state: dict[str, object]) -> MIError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._describe())
    return error


class BatchOrderRejected(MIError):
    """M3 did not turn a batch order into a customer order; `messages` say why, in M3's words.

    `batch_status` is the OIS275 batch status (15 = error in the order head; 20-55 other rejections,
    90 = created), `messages` every message of OIS100MI LstErrMsgOrder for the batch (plus the
    refusal that stopped entry, when a line or charge was refused), so that the incident an
    operator sees says what to fix in M3 or in the mapping.
    """

    def __init__(
        self,
        batch_order_number: str,
        batch_status: str | None,
        messages: list[str],
        *,
        cause: MIError | None = None,
    ) -> None:
        self.batch_order_number = batch_order_number
        self.batch_status = batch_status
        self.messages = list(messages)
        status = f"batch status {batch_status}" if batch_status else "batch status unknown"
        reasons = "; ".join(self.messages) or (cause.message if cause else "no reason given")
        super().__init__(
            f"M3 rejected batch order {batch_order_number} ({status}): {reasons}",
            program=cause.program if cause else "OIS100MI",
            transaction=cause.transaction if cause else "Confirm",
            code=(cause.code if cause else None) or batch_status,
            field=cause.field if cause else None,
            error_type=(cause.error_type if cause else None) or "BatchRejected",
        )

    def to_dict(self) -> dict[str, object]:
        return {
            **super().to_dict(),
            "batch_order_number": self.batch_order_number,
            "batch_status": self.batch_status,
            "messages": self.messages,
        }


class DeliveryShortfall(MIError):
    """M3 could not be brought up to what Amazon shipped for some lines (`problems`, one sentence
    each); what could be reported was reported (`reported`), so a retry only adds the rest."""

    def __init__(self, order_number: str, problems: list[str], reported: tuple[object, ...] = ()) -> None:
        self.order_number = order_number
        self.problems = list(problems)
        self.reported = reported
        super().__init__(
            f"order {order_number}: " + "; ".join(self.problems),
            program="MHS850MI",
            transaction="AddCOPick",
            error_type="DeliveryShortfall",
        )


class CustomerNumberTaken(MIError):
    """The customer number derived for a buyer already belongs to someone else (a hash collision)."""

    def __init__(self, customer_number: str) -> None:
        self.customer_number = customer_number
        super().__init__(
            f"customer {customer_number}, derived for this buyer, already exists in M3 for another buyer;"
            " create the buyer's customer by hand or change customers.buyer_prefix",
            program="CRS610MI",
            transaction="Add",
            field="CUNO",
            error_type="CustomerNumberTaken",
        )


class AliasConflict(MIError):
    """The SKU is already an alias of another item; a second one would make it ambiguous."""

    def __init__(self, sku: str, existing_item: str, wanted_item: str) -> None:
        self.sku = sku
        self.existing_item = existing_item
        self.wanted_item = wanted_item
        super().__init__(
            f"SKU {sku} is already an alias of item {existing_item}, not of {wanted_item};"
            " remove that alias in MMS025 first",
            program="MMS025MI",
            transaction="AddAlias",
            field="POPN",
            error_type="AliasConflict",
        )
