"""What an ACME server remembers: accounts, orders, authorizations, nonces, limits."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import secrets
from typing import Any

from .validation import Identifier


class Status(StrEnum):
    """The status values RFC 8555 section 7.1.6 gives ACME objects."""

    PENDING = "pending"
    READY = "ready"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"
    DEACTIVATED = "deactivated"
    EXPIRED = "expired"
    REVOKED = "revoked"


def new_id() -> str:
    """Return a fresh, unguessable object ID for a URL."""
    return secrets.token_urlsafe(16)


def _time(value: str | None) -> datetime | None:
    """Parse an optional ISO 8601 time."""
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    """Format an optional time as ISO 8601."""
    return value.isoformat() if value else None


def _identifier(data: dict[str, str]) -> Identifier:
    """Build an identifier from its JSON form."""
    return Identifier(type=data["type"], value=data["value"])


@dataclass(kw_only=True, slots=True)
class Account:
    """An ACME account, bound through its external account key to one device."""

    account_id: str
    key: dict[str, Any]
    thumbprint: str
    certificate_id: str
    key_id: str
    contact: tuple[str, ...] = ()
    status: Status = Status.VALID
    created: datetime

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "account_id": self.account_id,
            "key": self.key,
            "thumbprint": self.thumbprint,
            "certificate_id": self.certificate_id,
            "key_id": self.key_id,
            "contact": list(self.contact),
            "status": self.status,
            "created": self.created.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Account:
        """Build from the JSON form."""
        return cls(
            account_id=data["account_id"],
            key=data["key"],
            thumbprint=data["thumbprint"],
            certificate_id=data["certificate_id"],
            key_id=data["key_id"],
            contact=tuple(data["contact"]),
            status=Status(data["status"]),
            created=datetime.fromisoformat(data["created"]),
        )


@dataclass(kw_only=True, slots=True)
class Challenge:
    """One way of proving control of an identifier."""

    challenge_id: str
    type: str
    token: str
    status: Status = Status.PENDING
    validated: datetime | None = None
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "challenge_id": self.challenge_id,
            "type": self.type,
            "token": self.token,
            "status": self.status,
            "validated": _iso(self.validated),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Challenge:
        """Build from the JSON form."""
        return cls(
            challenge_id=data["challenge_id"],
            type=data["type"],
            token=data["token"],
            status=Status(data["status"]),
            validated=_time(data["validated"]),
            error=data["error"],
        )


@dataclass(kw_only=True, slots=True)
class Authorization:
    """An account's authorization for one identifier, with its challenges."""

    authz_id: str
    account_id: str
    identifier: Identifier
    expires: datetime
    challenges: list[Challenge]
    status: Status = Status.PENDING

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "authz_id": self.authz_id,
            "account_id": self.account_id,
            "identifier": self.identifier.as_dict(),
            "expires": self.expires.isoformat(),
            "challenges": [challenge.as_dict() for challenge in self.challenges],
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Authorization:
        """Build from the JSON form."""
        return cls(
            authz_id=data["authz_id"],
            account_id=data["account_id"],
            identifier=_identifier(data["identifier"]),
            expires=datetime.fromisoformat(data["expires"]),
            challenges=[Challenge.from_dict(item) for item in data["challenges"]],
            status=Status(data["status"]),
        )

    def current_status(self, now: datetime) -> Status:
        """Return the status, expired once its time has passed."""
        if self.status in (Status.PENDING, Status.VALID) and now >= self.expires:
            return Status.EXPIRED
        return self.status


@dataclass(kw_only=True, slots=True)
class Order:
    """An account's request for one certificate."""

    order_id: str
    account_id: str
    identifiers: tuple[Identifier, ...]
    authz_ids: tuple[str, ...]
    expires: datetime
    created: datetime
    status: Status = Status.PENDING
    serial_number: int | None = None
    replaces: int | None = None
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "order_id": self.order_id,
            "account_id": self.account_id,
            "identifiers": [item.as_dict() for item in self.identifiers],
            "authz_ids": list(self.authz_ids),
            "expires": self.expires.isoformat(),
            "created": self.created.isoformat(),
            "status": self.status,
            "serial_number": (
                None if self.serial_number is None else format(self.serial_number, "x")
            ),
            "replaces": None if self.replaces is None else format(self.replaces, "x"),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Order:
        """Build from the JSON form."""
        serial = data["serial_number"]
        replaces = data["replaces"]
        return cls(
            order_id=data["order_id"],
            account_id=data["account_id"],
            identifiers=tuple(_identifier(item) for item in data["identifiers"]),
            authz_ids=tuple(data["authz_ids"]),
            expires=datetime.fromisoformat(data["expires"]),
            created=datetime.fromisoformat(data["created"]),
            status=Status(data["status"]),
            serial_number=None if serial is None else int(serial, 16),
            replaces=None if replaces is None else int(replaces, 16),
            error=data["error"],
        )


@dataclass(kw_only=True, slots=True)
class AcmeState:
    """Every account, order and authorization of one ACME server."""

    accounts: dict[str, Account] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    authorizations: dict[str, Authorization] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "accounts": [item.as_dict() for item in self.accounts.values()],
            "orders": [item.as_dict() for item in self.orders.values()],
            "authorizations": [item.as_dict() for item in self.authorizations.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AcmeState:
        """Build from the JSON form."""
        accounts = map(Account.from_dict, data.get("accounts", ()))
        orders = map(Order.from_dict, data.get("orders", ()))
        authorizations = map(Authorization.from_dict, data.get("authorizations", ()))
        return cls(
            accounts={item.account_id: item for item in accounts},
            orders={item.order_id: item for item in orders},
            authorizations={item.authz_id: item for item in authorizations},
        )

    def account_by_thumbprint(self, thumbprint: str) -> Account | None:
        """Return the account that uses a key."""
        for account in self.accounts.values():
            if account.thumbprint == thumbprint:
                return account
        return None

    def forget_devices(self, kept: set[str]) -> bool:
        """Drop the accounts of devices no longer kept, with their orders."""
        gone = {
            account_id
            for account_id, account in self.accounts.items()
            if account.certificate_id not in kept
        }
        if not gone:
            return False
        for account_id in gone:
            del self.accounts[account_id]
        self.orders = {
            key: order
            for key, order in self.orders.items()
            if order.account_id not in gone
        }
        self.authorizations = {
            key: authz
            for key, authz in self.authorizations.items()
            if authz.account_id not in gone
        }
        return True

    def prune(self, now: datetime, keep: timedelta) -> bool:
        """Forget expired orders and authorizations; return whether any went."""
        gone_orders = [
            order_id
            for order_id, order in self.orders.items()
            if now >= order.expires
            and (order.status is not Status.VALID or now >= order.created + keep)
        ]
        for order_id in gone_orders:
            del self.orders[order_id]
        used = {
            authz_id for order in self.orders.values() for authz_id in order.authz_ids
        }
        gone_authz = [
            authz_id
            for authz_id, authz in self.authorizations.items()
            if authz_id not in used and now >= authz.expires
        ]
        for authz_id in gone_authz:
            del self.authorizations[authz_id]
        return bool(gone_orders or gone_authz)


class NonceStore:
    """Single-use nonces, the newest few thousand, each for a limited time."""

    def __init__(self, *, capacity: int = 10_000, lifetime: float = 3600.0) -> None:
        """Keep at most `capacity` nonces, each valid `lifetime` seconds."""
        self._capacity = capacity
        self._lifetime = lifetime
        self._nonces: OrderedDict[str, float] = OrderedDict()

    def issue(self, now: float) -> str:
        """Return a fresh nonce."""
        nonce = secrets.token_urlsafe(16)
        self._nonces[nonce] = now + self._lifetime
        while len(self._nonces) > self._capacity:
            self._nonces.popitem(last=False)
        return nonce

    def consume(self, nonce: str, now: float) -> bool:
        """Use a nonce up; return whether it was valid."""
        expires = self._nonces.pop(nonce, None)
        return expires is not None and now < expires


class TokenBucket:
    """A rate limit: `capacity` at once, refilled at `rate` per second."""

    __slots__ = ("_capacity", "_rate", "_stamp", "_tokens")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        """Start full."""
        self._capacity = capacity
        self._rate = rate
        self._tokens = capacity
        self._stamp = now

    def take(self, now: float) -> float:
        """Take one token; return 0, or the seconds to wait when there is none."""
        self._tokens = min(
            self._capacity, self._tokens + (now - self._stamp) * self._rate
        )
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate
