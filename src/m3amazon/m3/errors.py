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
