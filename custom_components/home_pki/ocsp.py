"""The OCSP responder of one home CA, with its cache of signed answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
import hashlib
from typing import TYPE_CHECKING

from cryptography.x509 import ocsp

from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from .const import LOGGER
from .pki.errors import OcspRequestError
from .pki.inspect import serial_to_hex
from .pki.revocation import (
    OCSP_LIFETIME,
    ocsp_error_response,
    read_ocsp_request,
    sign_ocsp_response,
    unsuccessful_ocsp_response,
)

if TYPE_CHECKING:
    from .coordinator import HomePkiCoordinator

# A signed answer is reused for this long, then signed afresh; clients are told
# to come back after it, well before the answer's nextUpdate.
OCSP_REFRESH = timedelta(hours=1)
# A request about one certificate is about a hundred bytes, a signed one a few
# kilobytes with its certificates.
MAX_REQUEST_SIZE = 16 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class OcspReply:
    """An encoded OCSP response and, when clients may keep it, for how long."""

    body: bytes
    this_update: datetime | None = None
    next_update: datetime | None = None
    fresh_until: datetime | None = None
    etag: str | None = None

    @classmethod
    def signed(cls, body: bytes, now: datetime) -> OcspReply:
        """Describe a response signed now, valid for OCSP_LIFETIME."""
        return cls(
            body=body,
            this_update=now,
            next_update=now + OCSP_LIFETIME,
            fresh_until=now + OCSP_REFRESH,
            etag=hashlib.sha256(body).hexdigest()[:32],
        )

    def is_fresh(self, now: datetime) -> bool:
        """Tell whether the responder would still give this same answer now."""
        return self.fresh_until is not None and now < self.fresh_until

    def max_age(self, now: datetime) -> int | None:
        """Return how many seconds an HTTP cache may keep it; None for not at all."""
        if self.fresh_until is None:
            return None
        return max(0, int((self.fresh_until - now).total_seconds()))


def try_later() -> OcspReply:
    """Return the answer of a CA that cannot answer right now (RFC 6960 §2.3)."""
    return OcspReply(body=unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.TRY_LATER))


class OcspResponder:
    """Answer OCSP requests about the certificates the intermediate issued.

    The intermediate signs the answers itself, so a client needs no more than
    the chain it already has. An answer without a nonce is kept per serial
    number and CertID hash, and reused until OCSP_REFRESH has passed or a
    revocation clears the cache; an answer to a request with a nonce is signed
    for that request alone. Only serial numbers this CA used are kept, so a
    stream of made-up serial numbers cannot fill the cache.
    """

    def __init__(self, coordinator: HomePkiCoordinator) -> None:
        """Prepare the responder of one coordinator's CA."""
        self._coordinator = coordinator
        self._cache: dict[tuple[int, str], OcspReply] = {}
        self._epoch = 0

    @callback
    def invalidate(self) -> None:
        """Forget every signed answer, after a change to the revocations."""
        self._cache.clear()
        self._epoch += 1

    async def async_answer(self, request: bytes) -> OcspReply:
        """Answer one DER request, from the cache when a fresh answer is there."""
        authority = self._coordinator.authority
        try:
            query = read_ocsp_request(request, issuer=authority.intermediate)
        except OcspRequestError as error:
            LOGGER.debug("Refused an OCSP request: %s", error)
            return OcspReply(body=ocsp_error_response(error))

        now = dt_util.utcnow().replace(microsecond=0)
        key = (query.serial_number, query.hash_algorithm.name)
        cached = self._cache.get(key)
        if query.nonce is None and cached is not None and cached.is_fresh(now):
            return cached

        issued, revoked = self._coordinator.issued_and_revoked(query.serial_number)
        epoch = self._epoch
        body = await self._coordinator.hass.async_add_executor_job(
            partial(
                sign_ocsp_response,
                query,
                issuer=authority.intermediate,
                signing_key=authority.signing_key,
                revoked=revoked,
                issued=issued,
                now=now,
                lifetime=OCSP_LIFETIME,
            )
        )
        LOGGER.debug(
            "Signed an OCSP answer for serial %s: %s",
            serial_to_hex(query.serial_number),
            _status(issued, revoked is not None),
        )
        if query.nonce is not None:
            return OcspReply(body=body)
        reply = OcspReply.signed(body, now)
        # A revocation while the answer was being signed makes it stale at once.
        if issued and epoch == self._epoch:
            self._cache[key] = reply
        return reply


def _status(issued: bool, revoked: bool) -> str:
    """Name an answer's certificate status for the log."""
    if revoked:
        return "revoked"
    return "good" if issued else "unknown"
