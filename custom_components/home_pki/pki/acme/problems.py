"""ACME problem documents (RFC 7807 as RFC 8555 section 6.7 uses them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

ERROR_NAMESPACE = "urn:ietf:params:acme:error:"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# The status each error type answers with when the caller names none.
_STATUS = {
    "accountDoesNotExist": HTTPStatus.BAD_REQUEST,
    "alreadyReplaced": HTTPStatus.CONFLICT,
    "alreadyRevoked": HTTPStatus.BAD_REQUEST,
    "badCSR": HTTPStatus.BAD_REQUEST,
    "badNonce": HTTPStatus.BAD_REQUEST,
    "badPublicKey": HTTPStatus.BAD_REQUEST,
    "badRevocationReason": HTTPStatus.BAD_REQUEST,
    "badSignatureAlgorithm": HTTPStatus.BAD_REQUEST,
    "caa": HTTPStatus.FORBIDDEN,
    "connection": HTTPStatus.BAD_REQUEST,
    "dns": HTTPStatus.BAD_REQUEST,
    "externalAccountRequired": HTTPStatus.UNAUTHORIZED,
    "incorrectResponse": HTTPStatus.BAD_REQUEST,
    "invalidContact": HTTPStatus.BAD_REQUEST,
    "malformed": HTTPStatus.BAD_REQUEST,
    "orderNotReady": HTTPStatus.FORBIDDEN,
    "rateLimited": HTTPStatus.TOO_MANY_REQUESTS,
    "rejectedIdentifier": HTTPStatus.BAD_REQUEST,
    "serverInternal": HTTPStatus.INTERNAL_SERVER_ERROR,
    "tls": HTTPStatus.BAD_REQUEST,
    "unauthorized": HTTPStatus.FORBIDDEN,
    "unsupportedContact": HTTPStatus.BAD_REQUEST,
    "unsupportedIdentifier": HTTPStatus.BAD_REQUEST,
    "userActionRequired": HTTPStatus.FORBIDDEN,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Subproblem:
    """A problem with one identifier of a request that names several."""

    type: str
    detail: str
    identifier: Mapping[str, str]

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "type": ERROR_NAMESPACE + self.type,
            "detail": self.detail,
            "identifier": dict(self.identifier),
        }


@dataclass(eq=False, kw_only=True)
class AcmeProblem(Exception):  # noqa: N818  (RFC 7807 calls it a problem)
    """An error answered to an ACME client as a problem document.

    `type` is the last part of the ACME error URN, such as `badNonce`.
    """

    type: str
    detail: str
    status: int | None = None
    subproblems: Sequence[Subproblem] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Make the problem readable as an exception too."""
        super().__init__(f"{self.type}: {self.detail}")

    @property
    def http_status(self) -> int:
        """Return the HTTP status the problem is answered with."""
        if self.status is not None:
            return self.status
        return int(_STATUS.get(self.type, HTTPStatus.BAD_REQUEST))

    def as_dict(self) -> dict[str, Any]:
        """Return the problem document."""
        document: dict[str, Any] = {
            "type": ERROR_NAMESPACE + self.type,
            "detail": self.detail,
            "status": self.http_status,
        }
        if self.subproblems:
            document["subproblems"] = [item.as_dict() for item in self.subproblems]
        return document
