"""The ACME server's resources (RFC 8555) and renewal information (RFC 9773).

It knows nothing of Home Assistant: what it issues, revokes and binds to comes
from an `AcmeBackend`, and what it remembers is an `AcmeState` the owner saves
when told to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from ipaddress import ip_address
import json
import logging
import time
from typing import Any, Protocol

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from josepy.jwk import JWK

from ..errors import PkiError
from ..policy import CsrRequest, normalize_dns_name
from ..revocation import RevocationReason
from .jws import (
    SIGNATURE_ALGORITHMS,
    FlattenedJws,
    b64decode,
    b64encode,
    key_to_json,
    load_account_key,
    raw_public_key,
    read_external_binding,
    thumbprint,
    verify_signature,
)
from .problems import PROBLEM_CONTENT_TYPE, AcmeProblem, Subproblem
from .state import (
    Account,
    AcmeState,
    Authorization,
    Challenge,
    NonceStore,
    Order,
    Status,
    TokenBucket,
    new_id,
)
from .validation import (
    Identifier,
    key_authorization,
    validate_http01,
    validate_tls_alpn01,
)

_LOGGER = logging.getLogger(__name__)

JOSE_CONTENT_TYPE = "application/jose+json"
PEM_CHAIN_CONTENT_TYPE = "application/pem-certificate-chain"
MAX_REQUEST_BYTES = 64 * 1024
ORDER_LIFETIME = timedelta(days=7)
AUTHORIZATION_LIFETIME = timedelta(days=30)
FINISHED_ORDER_KEPT = timedelta(days=30)
PRUNE_INTERVAL = timedelta(hours=1)
# A quick validation answers the challenge POST as valid; a slow one goes on.
VALIDATION_WAIT = 2.0
VALIDATION_TIMEOUT = 10.0
RETRY_AFTER = 1
RENEWAL_INFO_RETRY_AFTER = 6 * 3600
# Per account: requests of any kind, and new orders.
REQUEST_BURST, REQUEST_RATE = 300.0, 5.0
ORDER_BURST, ORDER_RATE = 50.0, 1 / 30
CHALLENGE_TYPES = ("http-01", "tls-alpn-01")

REVOCATION_CODES = {
    0: RevocationReason.UNSPECIFIED,
    1: RevocationReason.KEY_COMPROMISE,
    3: RevocationReason.AFFILIATION_CHANGED,
    4: RevocationReason.SUPERSEDED,
    5: RevocationReason.CESSATION_OF_OPERATION,
    9: RevocationReason.PRIVILEGE_WITHDRAWN,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class IssuedCertificate:
    """A certificate this CA issued, as ACME hands it out."""

    serial_number: int
    certificate_id: str | None
    chain_pem: str
    certificate: x509.Certificate
    revoked: bool


class AcmeBackend(Protocol):
    """What the server asks of the CA behind it."""

    def mac_key(self, key_id: str) -> bytes | None:
        """Return the MAC key of an external account key ID."""

    def bound_device(self, key_id: str) -> str | None:
        """Return the certificate ID an external account key is bound to."""

    def identifiers(self, certificate_id: str) -> frozenset[Identifier] | None:
        """Return the identifiers a device may order; None once it is gone."""

    def addresses(self, certificate_id: str) -> tuple[str, ...]:
        """Return the addresses to reach a device at, for validation."""

    def check_csr(self, csr_der: bytes) -> CsrRequest:
        """Check a CSR against the CA's policy, raising PkiError."""

    async def async_issue(
        self, certificate_id: str, request: CsrRequest, replaces: int | None
    ) -> int:
        """Issue a device's certificate for a checked CSR; return its serial."""

    def certificate(self, serial_number: int) -> IssuedCertificate | None:
        """Return a certificate this CA issued."""

    def certificate_serial(self, authority_key_id: bytes, serial: int) -> int | None:
        """Return the serial of one of this CA's certificates named by its ARI ID."""

    async def async_revoke(self, serial_number: int, reason: RevocationReason) -> None:
        """Revoke a certificate."""

    def renewal_window(self, serial_number: int) -> tuple[datetime, datetime] | None:
        """Return when the holder of a certificate should renew it."""

    def state_changed(self) -> None:
        """Ask for the state to be saved soon."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SignedRequest:
    """A request whose JWS was checked."""

    jws: FlattenedJws
    account: Account | None
    key: JWK
    url: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidationPorts:
    """Where challenges are looked for: 80 and 443, other ports only for tests."""

    http: int = 80
    tls: int = 443


def _iso(moment: datetime) -> str:
    """Format a time the way ACME objects carry it."""
    return moment.isoformat().replace("+00:00", "Z")


def normalize_identifier(data: Any) -> Identifier:
    """Read an identifier object, refusing what Home PKI cannot validate."""
    if not isinstance(data, dict) or not isinstance(data.get("value"), str):
        raise AcmeProblem(type="malformed", detail="an identifier is not an object")
    kind, value = data.get("type"), data["value"]
    if kind == "dns":
        if value.startswith("*."):
            raise AcmeProblem(
                type="rejectedIdentifier",
                detail="wildcard names need dns-01, which Home PKI does not offer",
            )
        try:
            return Identifier(type="dns", value=normalize_dns_name(value))
        except PkiError:
            raise AcmeProblem(
                type="rejectedIdentifier", detail=f"{value!r} is not a DNS name"
            ) from None
    if kind == "ip":
        try:
            return Identifier(type="ip", value=str(ip_address(value)))
        except ValueError:
            raise AcmeProblem(
                type="rejectedIdentifier", detail=f"{value!r} is not an IP address"
            ) from None
    raise AcmeProblem(
        type="unsupportedIdentifier", detail=f"identifiers of type {kind!r}"
    )


def renewal_info_id(authority_key_id: bytes, serial_number: int) -> str:
    """Return the RFC 9773 certificate ID: key identifier and serial, base64url."""
    length = max(1, (serial_number.bit_length() + 8) // 8)
    return (
        f"{b64encode(authority_key_id)}."
        f"{b64encode(serial_number.to_bytes(length, 'big'))}"
    )


def parse_renewal_info_id(value: str) -> tuple[bytes, int]:
    """Read an RFC 9773 certificate ID into a key identifier and a serial."""
    key_part, _, serial_part = value.partition(".")
    if not key_part or not serial_part:
        raise AcmeProblem(type="malformed", detail="not a certificate ID")
    serial = b64decode(serial_part, "the serial number")
    if not serial or serial[0] & 0x80:
        raise AcmeProblem(type="malformed", detail="the serial number is not positive")
    return b64decode(key_part, "the key identifier"), int.from_bytes(serial, "big")


def _certificate_ids(certificate: x509.Certificate) -> str | None:
    """Return a certificate's RFC 9773 ID, when it names its issuer's key."""
    try:
        aki = certificate.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value
    except x509.ExtensionNotFound:
        return None
    if aki.key_identifier is None:
        return None
    return renewal_info_id(aki.key_identifier, certificate.serial_number)


class AcmeServer:
    """The ACME resources of one CA, as an aiohttp application."""

    def __init__(
        self,
        backend: AcmeBackend,
        state: AcmeState,
        *,
        clock: Callable[[], datetime],
        ports: ValidationPorts | None = None,
        website: str | None = None,
    ) -> None:
        """Serve `state` for `backend`; `clock` gives the current UTC time."""
        self._backend = backend
        self.state = state
        self._clock = clock
        self._ports = ports or ValidationPorts()
        self._website = website
        self._nonces = NonceStore()
        self._request_limits: dict[str, TokenBucket] = {}
        self._order_limits: dict[str, TokenBucket] = {}
        self._validations: dict[str, asyncio.Task[None]] = {}
        self._live: dict[tuple[str, Identifier], str] = {}
        self._keys: dict[str, JWK] = {}
        self._pruned_at: datetime | None = None
        self.reindex()
        self._session_factory: Callable[[], Any] | None = None
        self.app = web.Application(
            client_max_size=MAX_REQUEST_BYTES, middlewares=[self._problems]
        )
        routes = [
            web.get("/acme/directory", self._directory),
            web.head("/acme/new-nonce", self._new_nonce),
            web.get("/acme/new-nonce", self._new_nonce, allow_head=False),
            web.post("/acme/new-account", self._new_account),
            web.post("/acme/account/{account_id}", self._account),
            web.post("/acme/account/{account_id}/orders", self._orders),
            web.post("/acme/key-change", self._key_change),
            web.post("/acme/new-order", self._new_order),
            web.post("/acme/order/{order_id}", self._order),
            web.post("/acme/order/{order_id}/finalize", self._finalize),
            web.post("/acme/authz/{authz_id}", self._authorization),
            web.post("/acme/challenge/{authz_id}/{challenge_id}", self._challenge),
            web.post("/acme/cert/{serial}", self._certificate),
            web.post("/acme/revoke-cert", self._revoke),
            web.get("/acme/renewal-info/{certificate_id}", self._renewal_info),
        ]
        self.app.add_routes(routes)

    async def async_close(self) -> None:
        """Cancel validations still running."""
        tasks = list(self._validations.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # Plumbing

    @staticmethod
    def _base(request: web.Request) -> str:
        """Return the server's URL as the client reached it."""
        return f"{request.scheme}://{request.host}/acme"

    def _headers(self, request: web.Request) -> dict[str, str]:
        """Return the headers every answer carries."""
        return {
            "Replay-Nonce": self._nonces.issue(time.monotonic()),
            "Link": f'<{self._base(request)}/directory>;rel="index"',
            "Cache-Control": "no-store",
        }

    def _json(
        self,
        request: web.Request,
        document: Mapping[str, Any],
        *,
        status: int = HTTPStatus.OK,
        location: str | None = None,
        links: tuple[str, ...] = (),
        retry_after: int | None = None,
    ) -> web.Response:
        """Answer with a JSON document."""
        headers = self._headers(request)
        if location is not None:
            headers["Location"] = location
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        response = web.Response(
            status=status,
            text=json.dumps(document),
            content_type="application/json",
            headers=headers,
        )
        for link in links:
            response.headers.add("Link", link)
        return response

    @web.middleware
    async def _problems(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Turn every refusal into a problem document with a fresh nonce."""
        try:
            return await handler(request)
        except AcmeProblem as problem:
            return self._problem(request, problem)
        except web.HTTPRequestEntityTooLarge:
            return self._problem(
                request,
                AcmeProblem(
                    type="malformed",
                    detail=f"requests are limited to {MAX_REQUEST_BYTES} bytes",
                    status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                ),
            )
        except web.HTTPException as err:
            if err.status >= 400:
                return self._problem(
                    request,
                    AcmeProblem(type="malformed", detail=err.reason, status=err.status),
                )
            raise
        except Exception:
            _LOGGER.exception("The ACME request to %s failed", request.path)
            return self._problem(
                request,
                AcmeProblem(type="serverInternal", detail="the server failed"),
            )

    def _problem(self, request: web.Request, problem: AcmeProblem) -> web.Response:
        """Answer with a problem document."""
        document = problem.as_dict()
        if problem.type == "badSignatureAlgorithm":
            document["algorithms"] = list(SIGNATURE_ALGORITHMS)
        headers = self._headers(request) | dict(problem.headers)
        return web.Response(
            status=problem.http_status,
            text=json.dumps(document),
            content_type=PROBLEM_CONTENT_TYPE,
            headers=headers,
        )

    def _limit(
        self, buckets: dict[str, TokenBucket], key: str, burst: float, rate: float
    ) -> None:
        """Refuse a request over an account's rate limit."""
        now = time.monotonic()
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = TokenBucket(burst, rate, now)
        wait = bucket.take(now)
        if wait:
            seconds = max(1, round(wait))
            raise AcmeProblem(
                type="rateLimited",
                detail=f"too many requests from this account; retry in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    async def _signed(
        self,
        request: web.Request,
        *,
        by_key: bool = False,
        any_key: bool = False,
        key_only: bool = False,
    ) -> SignedRequest:
        """Check a POST's JWS: format, URL, nonce, key and signature.

        `by_key` allows a request signed with a key instead of an account
        (new accounts, revocation with the certificate's key); `any_key`
        also allows keys that belong to no account; `key_only` refuses a kid
        (a new account is always asked for with its key).
        """
        if request.content_type != JOSE_CONTENT_TYPE:
            raise AcmeProblem(
                type="malformed",
                detail=f"the content type must be {JOSE_CONTENT_TYPE}",
                status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            )
        jws = FlattenedJws.parse(await request.read())
        url = f"{request.scheme}://{request.host}{request.path}"
        if jws.string("url") != url:
            raise AcmeProblem(
                type="unauthorized", detail="the url header is not this URL"
            )
        nonce = jws.string("nonce")
        if nonce is None or not self._nonces.consume(nonce, time.monotonic()):
            raise AcmeProblem(type="badNonce", detail="the nonce is unknown or used")
        has_jwk, kid = "jwk" in jws.header, jws.string("kid")
        if has_jwk == (kid is not None):
            raise AcmeProblem(
                type="malformed", detail="a request carries either jwk or kid"
            )
        account: Account | None
        if kid is not None and key_only:
            raise AcmeProblem(
                type="malformed", detail="a new account is asked for with its jwk"
            )
        if kid is not None:
            account = self._account_for_kid(request, kid)
            key = self._keys.get(account.thumbprint) or load_account_key(account.key)
            self._keys[account.thumbprint] = key
        else:
            if not by_key:
                raise AcmeProblem(
                    type="malformed", detail="this request must be signed by an account"
                )
            key = load_account_key(jws.header["jwk"])
            account = self.state.account_by_thumbprint(thumbprint(key))
            if (
                account is not None
                and account.status is not Status.VALID
                and not any_key
            ):
                raise AcmeProblem(
                    type="unauthorized", detail=f"the account is {account.status}"
                )
        verify_signature(jws, key)
        if account is not None:
            self._limit(
                self._request_limits, account.account_id, REQUEST_BURST, REQUEST_RATE
            )
        return SignedRequest(jws=jws, account=account, key=key, url=url)

    def _account_for_kid(self, request: web.Request, kid: str) -> Account:
        """Return the valid account a kid names."""
        prefix = f"{self._base(request)}/account/"
        account = (
            self.state.accounts.get(kid.removeprefix(prefix))
            if kid.startswith(prefix)
            else None
        )
        if account is None:
            raise AcmeProblem(type="accountDoesNotExist", detail="no such account")
        if account.status is not Status.VALID:
            raise AcmeProblem(
                type="unauthorized", detail=f"the account is {account.status}"
            )
        return account

    @staticmethod
    def _require_account(signed: SignedRequest) -> Account:
        """Return the account that signed a request."""
        if signed.account is None:  # pragma: no cover - _signed ensures it
            raise AcmeProblem(type="accountDoesNotExist", detail="no such account")
        return signed.account

    @staticmethod
    def _empty_payload(signed: SignedRequest) -> None:
        """Refuse a POST-as-GET that carries a payload."""
        if signed.jws.payload_b64:
            raise AcmeProblem(type="malformed", detail="expected a POST-as-GET")

    # Directory and nonces

    async def _directory(self, request: web.Request) -> web.Response:
        """Return the directory of resources."""
        base = self._base(request)
        meta: dict[str, Any] = {"externalAccountRequired": True}
        if self._website:
            meta["website"] = self._website
        document = {
            "newNonce": f"{base}/new-nonce",
            "newAccount": f"{base}/new-account",
            "newOrder": f"{base}/new-order",
            "revokeCert": f"{base}/revoke-cert",
            "keyChange": f"{base}/key-change",
            "renewalInfo": f"{base}/renewal-info",
            "meta": meta,
        }
        return web.Response(
            text=json.dumps(document),
            content_type="application/json",
            headers={"Cache-Control": "max-age=3600"},
        )

    async def _new_nonce(self, request: web.Request) -> web.Response:
        """Hand out a nonce: 200 for HEAD, 204 for GET."""
        status = HTTPStatus.OK if request.method == "HEAD" else HTTPStatus.NO_CONTENT
        return web.Response(status=status, headers=self._headers(request))

    # Accounts

    def _account_url(self, request: web.Request, account: Account) -> str:
        """Return an account's URL."""
        return f"{self._base(request)}/account/{account.account_id}"

    def _account_document(
        self, request: web.Request, account: Account
    ) -> dict[str, Any]:
        """Return an account object."""
        return {
            "status": account.status,
            "contact": list(account.contact),
            "orders": f"{self._account_url(request, account)}/orders",
        }

    @staticmethod
    def _contact(payload: Mapping[str, Any]) -> tuple[str, ...]:
        """Read and check an account's contact URLs."""
        contact = payload.get("contact", [])
        if not isinstance(contact, list) or not all(
            isinstance(item, str) for item in contact
        ):
            raise AcmeProblem(type="malformed", detail="contact must be a list of URLs")
        for item in contact:
            if not item.startswith("mailto:"):
                raise AcmeProblem(
                    type="unsupportedContact", detail="only mailto: contacts"
                )
            address = item.removeprefix("mailto:")
            if "@" not in address or "," in address or "?" in address:
                raise AcmeProblem(
                    type="invalidContact", detail=f"{item!r} is not one address"
                )
        return tuple(contact)

    async def _new_account(self, request: web.Request) -> web.Response:
        """Create an account bound to a device, or find the existing one."""
        signed = await self._signed(request, by_key=True, key_only=True)
        payload = signed.jws.payload_object()
        if signed.account is not None:
            return self._json(
                request,
                self._account_document(request, signed.account),
                location=self._account_url(request, signed.account),
            )
        if payload.get("onlyReturnExisting") is True:
            raise AcmeProblem(
                type="accountDoesNotExist", detail="no account uses this key"
            )
        binding = payload.get("externalAccountBinding")
        if binding is None:
            raise AcmeProblem(
                type="externalAccountRequired",
                detail="Home PKI binds every account to a device: give its EAB key ID and MAC key",
            )
        bound = read_external_binding(
            binding, signed.url, signed.key, self._backend.mac_key
        )
        certificate_id = self._backend.bound_device(bound.key_id)
        if certificate_id is None:
            raise AcmeProblem(
                type="unauthorized", detail="the EAB key belongs to no device"
            )
        account = Account(
            account_id=new_id(),
            key=key_to_json(signed.key),
            thumbprint=thumbprint(signed.key),
            certificate_id=certificate_id,
            key_id=bound.key_id,
            contact=self._contact(payload),
            created=self._clock(),
        )
        self.state.accounts[account.account_id] = account
        self._backend.state_changed()
        _LOGGER.info(
            "New ACME account %s for device %s", account.account_id, certificate_id
        )
        return self._json(
            request,
            self._account_document(request, account),
            status=HTTPStatus.CREATED,
            location=self._account_url(request, account),
        )

    def _own_account(self, request: web.Request, signed: SignedRequest) -> Account:
        """Return the signer's account when it is the one in the URL."""
        account = self._require_account(signed)
        if request.match_info["account_id"] != account.account_id:
            raise AcmeProblem(type="unauthorized", detail="this is another account")
        return account

    async def _account(self, request: web.Request) -> web.Response:
        """Read, update or deactivate an account."""
        signed = await self._signed(request)
        account = self._own_account(request, signed)
        if signed.jws.payload_b64:
            payload = signed.jws.payload_object()
            if "contact" in payload:
                account.contact = self._contact(payload)
                self._backend.state_changed()
            status = payload.get("status")
            if status == Status.DEACTIVATED:
                account.status = Status.DEACTIVATED
                self._backend.state_changed()
                _LOGGER.info("ACME account %s deactivated", account.account_id)
            elif status not in (None, Status.VALID):
                raise AcmeProblem(
                    type="malformed", detail="an account can only be deactivated"
                )
        return self._json(request, self._account_document(request, account))

    async def _orders(self, request: web.Request) -> web.Response:
        """List an account's orders that are not finished badly."""
        signed = await self._signed(request)
        account = self._own_account(request, signed)
        self._empty_payload(signed)
        now = self._clock()
        orders = [
            self._order_url(request, order)
            for order in self.state.orders.values()
            if order.account_id == account.account_id
            and self._order_status(order, now) is not Status.INVALID
        ]
        return self._json(request, {"orders": orders})

    async def _key_change(self, request: web.Request) -> web.Response:
        """Move an account to a new key (RFC 8555 section 7.3.5)."""
        signed = await self._signed(request)
        account = self._require_account(signed)
        inner = FlattenedJws.parse(signed.jws.payload, "the inner JWS")
        if "jwk" not in inner.header or "kid" in inner.header:
            raise AcmeProblem(type="malformed", detail="the inner JWS must carry jwk")
        if "nonce" in inner.header:
            raise AcmeProblem(type="malformed", detail="the inner JWS carries a nonce")
        if inner.string("url") != signed.url:
            raise AcmeProblem(
                type="malformed", detail="the inner JWS is for another URL"
            )
        new_key = load_account_key(inner.header["jwk"])
        verify_signature(inner, new_key)
        payload = inner.payload_object()
        if payload.get("account") != self._account_url(request, account):
            raise AcmeProblem(
                type="malformed", detail="the inner JWS names another account"
            )
        try:
            old_key = load_account_key(payload.get("oldKey"))
        except AcmeProblem:
            raise AcmeProblem(type="malformed", detail="oldKey is not a key") from None
        if thumbprint(old_key) != account.thumbprint:
            raise AcmeProblem(
                type="malformed", detail="oldKey is not the account's key"
            )
        other = self.state.account_by_thumbprint(thumbprint(new_key))
        if other is not None:
            raise AcmeProblem(
                type="malformed",
                detail="another account uses the new key",
                status=HTTPStatus.CONFLICT,
                headers={"Location": self._account_url(request, other)},
            )
        account.key = key_to_json(new_key)
        account.thumbprint = thumbprint(new_key)
        self._backend.state_changed()
        _LOGGER.info("ACME account %s changed its key", account.account_id)
        return self._json(request, self._account_document(request, account))

    # Orders

    def _order_url(self, request: web.Request, order: Order) -> str:
        """Return an order's URL."""
        return f"{self._base(request)}/order/{order.order_id}"

    def _order_status(self, order: Order, now: datetime) -> Status:
        """Return an order's status, following its authorizations."""
        if order.status is not Status.PENDING:
            return order.status
        if now >= order.expires:
            return Status.INVALID
        statuses = [
            self.state.authorizations[authz_id].current_status(now)
            for authz_id in order.authz_ids
            if authz_id in self.state.authorizations
        ]
        if len(statuses) != len(order.authz_ids) or any(
            status not in (Status.PENDING, Status.VALID) for status in statuses
        ):
            return Status.INVALID
        if all(status is Status.VALID for status in statuses):
            return Status.READY
        return Status.PENDING

    def _order_document(self, request: web.Request, order: Order) -> dict[str, Any]:
        """Return an order object."""
        base = self._base(request)
        now = self._clock()
        status = self._order_status(order, now)
        document: dict[str, Any] = {
            "status": status,
            "expires": _iso(order.expires),
            "identifiers": [item.as_dict() for item in order.identifiers],
            "authorizations": [
                f"{base}/authz/{authz_id}" for authz_id in order.authz_ids
            ],
            "finalize": f"{self._order_url(request, order)}/finalize",
        }
        if order.serial_number is not None and status is Status.VALID:
            document["certificate"] = f"{base}/cert/{order.serial_number:x}"
        if order.replaces is not None:
            issued = self._backend.certificate(order.replaces)
            if issued is not None and (ari := _certificate_ids(issued.certificate)):
                document["replaces"] = ari
        if order.error is not None:
            document["error"] = order.error
        elif status is Status.INVALID:
            document["error"] = AcmeProblem(
                type="unauthorized", detail="an authorization failed or expired"
            ).as_dict()
        return document

    def _replaced_serial(self, account: Account, value: Any) -> int:
        """Read a newOrder's replaces field: a certificate of this device, once."""
        if not isinstance(value, str):
            raise AcmeProblem(type="malformed", detail="replaces is a certificate ID")
        authority_key_id, serial = parse_renewal_info_id(value)
        found = self._backend.certificate_serial(authority_key_id, serial)
        issued = None if found is None else self._backend.certificate(found)
        if issued is None or issued.certificate_id != account.certificate_id:
            raise AcmeProblem(
                type="malformed",
                detail="replaces names no certificate of this device",
            )
        for order in self.state.orders.values():
            if order.replaces == serial and order.status is not Status.INVALID:
                raise AcmeProblem(
                    type="alreadyReplaced",
                    detail="an order already replaces that certificate",
                )
        return serial

    async def _new_order(self, request: web.Request) -> web.Response:
        """Start an order for names of the account's device."""
        signed = await self._signed(request)
        account = self._require_account(signed)
        payload = signed.jws.payload_object()
        raw = payload.get("identifiers")
        if not isinstance(raw, list) or not raw:
            raise AcmeProblem(type="malformed", detail="an order needs identifiers")
        if payload.get("notBefore") or payload.get("notAfter"):
            raise AcmeProblem(
                type="malformed",
                detail="notBefore and notAfter are set by the device's validity",
            )
        identifiers = tuple(dict.fromkeys(normalize_identifier(item) for item in raw))
        allowed = self._backend.identifiers(account.certificate_id)
        if allowed is None:
            raise AcmeProblem(
                type="unauthorized", detail="the device of this account is gone"
            )
        refused = [item for item in identifiers if item not in allowed]
        if refused:
            raise AcmeProblem(
                type="rejectedIdentifier",
                detail="the device's inventory does not list "
                + ", ".join(item.value for item in refused),
                subproblems=[
                    Subproblem(
                        type="rejectedIdentifier",
                        detail=f"{item.value} is not a name of this device",
                        identifier=item.as_dict(),
                    )
                    for item in refused
                ],
            )
        replaces = (
            self._replaced_serial(account, payload["replaces"])
            if payload.get("replaces") is not None
            else None
        )
        # Per device, not per account: a device may hold several accounts.
        self._limit(self._order_limits, account.certificate_id, ORDER_BURST, ORDER_RATE)
        now = self._clock()
        if self._pruned_at is None or now >= self._pruned_at + PRUNE_INTERVAL:
            self._pruned_at = now
            if self.state.prune(now, FINISHED_ORDER_KEPT):
                self.reindex()
                self._backend.state_changed()
        authorizations = [
            self._authorization_for(account, item, now) for item in identifiers
        ]
        order = Order(
            order_id=new_id(),
            account_id=account.account_id,
            identifiers=identifiers,
            authz_ids=tuple(authz.authz_id for authz in authorizations),
            # An order lives no longer than the authorizations it reuses.
            expires=min(
                now + ORDER_LIFETIME, *(authz.expires for authz in authorizations)
            ),
            created=now,
            replaces=replaces,
        )
        self.state.orders[order.order_id] = order
        self._backend.state_changed()
        return self._json(
            request,
            self._order_document(request, order),
            status=HTTPStatus.CREATED,
            location=self._order_url(request, order),
        )

    def _authorization_for(
        self, account: Account, identifier: Identifier, now: datetime
    ) -> Authorization:
        """Reuse the account's live authorization of an identifier, or make one.

        A valid one is reused while it outlives a new order; a pending one as
        long as it lasts.
        """
        key = (account.account_id, identifier)
        known = self.state.authorizations.get(self._live.get(key, ""))
        if known is not None:
            status = known.current_status(now)
            if status is Status.PENDING or (
                status is Status.VALID and known.expires >= now + ORDER_LIFETIME
            ):
                return known
        authz = Authorization(
            authz_id=new_id(),
            account_id=account.account_id,
            identifier=identifier,
            expires=now + ORDER_LIFETIME,
            challenges=[
                Challenge(challenge_id=new_id(), type=kind, token=new_id())
                for kind in CHALLENGE_TYPES
            ],
        )
        self.state.authorizations[authz.authz_id] = authz
        self._live[key] = authz.authz_id
        return authz

    def reindex(self) -> None:
        """Index the newest authorization of each account and identifier."""
        self._live = {
            (authz.account_id, authz.identifier): authz.authz_id
            for authz in self.state.authorizations.values()
        }

    def _own_order(self, request: web.Request, account: Account) -> Order:
        """Return the order in the URL when it is the account's."""
        order = self.state.orders.get(request.match_info["order_id"])
        if order is None:
            raise AcmeProblem(
                type="malformed", detail="no such order", status=HTTPStatus.NOT_FOUND
            )
        if order.account_id != account.account_id:
            raise AcmeProblem(
                type="unauthorized", detail="this is another account's order"
            )
        return order

    async def _order(self, request: web.Request) -> web.Response:
        """Return an order."""
        signed = await self._signed(request)
        order = self._own_order(request, self._require_account(signed))
        self._empty_payload(signed)
        return self._json(request, self._order_document(request, order))

    async def _finalize(self, request: web.Request) -> web.Response:
        """Check the CSR of a ready order and issue its certificate."""
        signed = await self._signed(request)
        account = self._require_account(signed)
        order = self._own_order(request, account)
        status = self._order_status(order, self._clock())
        if status is not Status.READY:
            if status in (Status.VALID, Status.PROCESSING):
                raise AcmeProblem(
                    type="orderNotReady", detail=f"the order is already {status}"
                )
            raise AcmeProblem(type="orderNotReady", detail=f"the order is {status}")
        payload = signed.jws.payload_object()
        csr_der = b64decode(payload.get("csr"), "the csr")
        try:
            # Its signature is checked: crypto runs off the event loop.
            checked = await asyncio.get_running_loop().run_in_executor(
                None, self._backend.check_csr, csr_der
            )
        except PkiError as err:
            raise AcmeProblem(
                type="badCSR", detail=f"{err.reason}: {err.detail}"
            ) from None
        asked = {Identifier(type="dns", value=name) for name in checked.dns_names} | {
            Identifier(type="ip", value=str(address))
            for address in checked.ip_addresses
        }
        if asked != set(order.identifiers):
            raise AcmeProblem(
                type="badCSR",
                detail="the CSR must ask for exactly the order's identifiers",
            )
        order.status = Status.PROCESSING
        try:
            serial = await self._backend.async_issue(
                account.certificate_id, checked, order.replaces
            )
        except PkiError as err:
            order.status = Status.INVALID
            order.error = AcmeProblem(type="badCSR", detail=err.detail).as_dict()
            self._backend.state_changed()
            raise AcmeProblem(
                type="badCSR", detail=f"{err.reason}: {err.detail}"
            ) from None
        except Exception:
            order.status = Status.PENDING
            raise
        order.status = Status.VALID
        order.serial_number = serial
        self._backend.state_changed()
        return self._json(
            request,
            self._order_document(request, order),
            location=self._order_url(request, order),
        )

    # Authorizations and challenges

    def _own_authorization(self, account: Account, authz_id: str) -> Authorization:
        """Return an authorization of the account."""
        authz = self.state.authorizations.get(authz_id)
        if authz is None:
            raise AcmeProblem(
                type="malformed",
                detail="no such authorization",
                status=HTTPStatus.NOT_FOUND,
            )
        if authz.account_id != account.account_id:
            raise AcmeProblem(
                type="unauthorized", detail="this is another account's authorization"
            )
        return authz

    def _challenge_document(
        self, request: web.Request, authz_id: str, challenge: Challenge
    ) -> dict[str, Any]:
        """Return a challenge object."""
        document: dict[str, Any] = {
            "type": challenge.type,
            "url": (
                f"{self._base(request)}/challenge/{authz_id}/{challenge.challenge_id}"
            ),
            "status": challenge.status,
            "token": challenge.token,
        }
        if challenge.validated is not None:
            document["validated"] = _iso(challenge.validated)
        if challenge.error is not None:
            document["error"] = challenge.error
        return document

    def _authorization_document(
        self, request: web.Request, authz: Authorization
    ) -> dict[str, Any]:
        """Return an authorization object."""
        status = authz.current_status(self._clock())
        challenges = authz.challenges
        if status is Status.VALID:
            challenges = [item for item in challenges if item.status is Status.VALID]
        return {
            "identifier": authz.identifier.as_dict(),
            "status": status,
            "expires": _iso(authz.expires),
            "challenges": [
                self._challenge_document(request, authz.authz_id, item)
                for item in challenges
            ],
        }

    async def _authorization(self, request: web.Request) -> web.Response:
        """Return or deactivate an authorization."""
        signed = await self._signed(request)
        account = self._require_account(signed)
        authz = self._own_authorization(account, request.match_info["authz_id"])
        if signed.jws.payload_b64:
            payload = signed.jws.payload_object()
            if payload.get("status") != Status.DEACTIVATED:
                raise AcmeProblem(
                    type="malformed", detail="an authorization can only be deactivated"
                )
            authz.status = Status.DEACTIVATED
            self._backend.state_changed()
        retry = RETRY_AFTER if authz.status is Status.PENDING else None
        return self._json(
            request, self._authorization_document(request, authz), retry_after=retry
        )

    def _find_challenge(
        self, account: Account, authz_id: str, challenge_id: str
    ) -> tuple[Authorization, Challenge]:
        """Return a challenge of the account with its authorization."""
        authz = self._own_authorization(account, authz_id)
        for challenge in authz.challenges:
            if challenge.challenge_id == challenge_id:
                return authz, challenge
        raise AcmeProblem(
            type="malformed", detail="no such challenge", status=HTTPStatus.NOT_FOUND
        )

    async def _challenge(self, request: web.Request) -> web.Response:
        """Start validating a challenge, waiting a moment for a quick answer."""
        signed = await self._signed(request)
        account = self._require_account(signed)
        authz, challenge = self._find_challenge(
            account, request.match_info["authz_id"], request.match_info["challenge_id"]
        )
        if signed.jws.payload_b64:
            signed.jws.payload_object()
            if (
                challenge.status is Status.PENDING
                and authz.current_status(self._clock()) is Status.PENDING
            ):
                challenge.status = Status.PROCESSING
                task = asyncio.create_task(
                    self._async_validate(account, authz, challenge),
                    name=f"acme validation {challenge.challenge_id}",
                )
                self._validations[challenge.challenge_id] = task
                task.add_done_callback(
                    lambda _: self._validations.pop(challenge.challenge_id, None)
                )
            running = self._validations.get(challenge.challenge_id)
            if running is not None:
                await asyncio.wait({running}, timeout=VALIDATION_WAIT)
        retry = RETRY_AFTER if challenge.status is Status.PROCESSING else None
        return self._json(
            request,
            self._challenge_document(request, authz.authz_id, challenge),
            links=(f'<{self._base(request)}/authz/{authz.authz_id}>;rel="up"',),
            retry_after=retry,
        )

    async def _async_validate(
        self, account: Account, authz: Authorization, challenge: Challenge
    ) -> None:
        """Connect to the device and check its answer to a challenge."""
        authorization = key_authorization(challenge.token, account.thumbprint)
        addresses = self._backend.addresses(account.certificate_id)
        try:
            if challenge.type == "http-01":
                await validate_http01(
                    authz.identifier,
                    challenge.token,
                    authorization,
                    addresses=addresses,
                    port=self._ports.http,
                    timeout=VALIDATION_TIMEOUT,
                )
            else:
                await validate_tls_alpn01(
                    authz.identifier,
                    authorization,
                    addresses=addresses,
                    port=self._ports.tls,
                    timeout=VALIDATION_TIMEOUT,
                )
        except AcmeProblem as problem:
            challenge.status = Status.INVALID
            challenge.error = problem.as_dict()
            authz.status = Status.INVALID
            _LOGGER.info(
                "ACME %s validation of %s failed: %s",
                challenge.type,
                authz.identifier.value,
                problem.detail,
            )
        else:
            now = self._clock()
            challenge.status = Status.VALID
            challenge.validated = now
            authz.status = Status.VALID
            authz.expires = now + AUTHORIZATION_LIFETIME
        self._backend.state_changed()

    # Certificates

    async def _certificate(self, request: web.Request) -> web.Response:
        """Return a certificate with its chain to the account that ordered it."""
        signed = await self._signed(request)
        account = self._require_account(signed)
        self._empty_payload(signed)
        try:
            serial = int(request.match_info["serial"], 16)
        except ValueError:
            serial = -1
        issued = self._backend.certificate(serial) if serial > 0 else None
        if issued is None:
            raise AcmeProblem(
                type="malformed",
                detail="no such certificate",
                status=HTTPStatus.NOT_FOUND,
            )
        if issued.certificate_id != account.certificate_id:
            raise AcmeProblem(
                type="unauthorized", detail="another device's certificate"
            )
        return web.Response(
            text=issued.chain_pem,
            content_type=PEM_CHAIN_CONTENT_TYPE,
            headers=self._headers(request),
        )

    async def _revoke(self, request: web.Request) -> web.Response:
        """Revoke a certificate, asked by its device's account or with its key."""
        signed = await self._signed(request, by_key=True, any_key=True)
        payload = signed.jws.payload_object()
        try:
            certificate = x509.load_der_x509_certificate(
                b64decode(payload.get("certificate"), "the certificate")
            )
        except ValueError:
            raise AcmeProblem(
                type="malformed", detail="the certificate is unreadable"
            ) from None
        issued = self._backend.certificate(certificate.serial_number)
        if issued is None or issued.certificate != certificate:
            raise AcmeProblem(
                type="malformed", detail="Home PKI did not issue this certificate"
            )
        code = payload.get("reason", 0)
        reason = REVOCATION_CODES.get(code) if isinstance(code, int) else None
        if reason is None:
            raise AcmeProblem(
                type="badRevocationReason",
                detail=f"reason {code!r} is not one of {sorted(REVOCATION_CODES)}",
            )
        if "kid" in signed.jws.header:
            account = self._require_account(signed)
            if account.certificate_id != issued.certificate_id:
                raise AcmeProblem(
                    type="unauthorized", detail="the account is not this device's"
                )
        elif _public_bytes(signed.key) != certificate.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        ):
            raise AcmeProblem(
                type="unauthorized",
                detail="sign with the device's account or the certificate's key",
            )
        if issued.revoked:
            raise AcmeProblem(type="alreadyRevoked", detail="it is already revoked")
        await self._backend.async_revoke(certificate.serial_number, reason)
        return web.Response(status=HTTPStatus.OK, headers=self._headers(request))

    async def _renewal_info(self, request: web.Request) -> web.Response:
        """Tell a device when to renew a certificate (RFC 9773)."""
        authority_key_id, serial = parse_renewal_info_id(
            request.match_info["certificate_id"]
        )
        found = self._backend.certificate_serial(authority_key_id, serial)
        window = None if found is None else self._backend.renewal_window(found)
        if window is None:
            raise AcmeProblem(
                type="malformed",
                detail="no such certificate",
                status=HTTPStatus.NOT_FOUND,
            )
        start, end = window
        return web.Response(
            text=json.dumps(
                {"suggestedWindow": {"start": _iso(start), "end": _iso(end)}}
            ),
            content_type="application/json",
            headers={"Retry-After": str(RENEWAL_INFO_RETRY_AFTER)},
        )


def _public_bytes(key: JWK) -> bytes:
    """Return the DER SubjectPublicKeyInfo of a JWK."""
    public: Any = raw_public_key(key)
    return bytes(public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
