"""Revocation: reasons, revoked entries and certificate revocation lists."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .authority import authority_key_identifier
from .keys import SigningKey

CRL_LIFETIME = timedelta(days=7)
CRL_REFRESH_MARGIN = timedelta(days=2)


class RevocationReason(StrEnum):
    """Why a certificate was revoked, as RFC 5280 §5.3.1 names the reasons."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"
    PRIVILEGE_WITHDRAWN = "privilege_withdrawn"

    def to_flag(self) -> x509.ReasonFlags | None:
        """Return the CRL reason code, or None when the reason is unspecified."""
        # RFC 5280 §5.3.1: the reasonCode should be absent rather than unspecified.
        if self is RevocationReason.UNSPECIFIED:
            return None
        return _REASON_FLAGS[self]


_REASON_FLAGS = {
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class RevokedEntry:
    """One revoked certificate, as a CRL lists it."""

    serial_number: int
    revoked_at: datetime
    reason: RevocationReason


def build_crl(
    *,
    issuer: x509.Certificate,
    signing_key: SigningKey,
    entries: Iterable[RevokedEntry],
    crl_number: int,
    now: datetime,
    lifetime: timedelta = CRL_LIFETIME,
) -> x509.CertificateRevocationList:
    """Sign a CRL of the given entries, valid for lifetime from now."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now)
        .next_update(now + lifetime)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(authority_key_identifier(issuer), critical=False)
    )
    for entry in entries:
        builder = builder.add_revoked_certificate(_revoked_certificate(entry))
    return signing_key.sign_crl(builder)


def _revoked_certificate(entry: RevokedEntry) -> x509.RevokedCertificate:
    """Build one CRL entry, with its reason code where there is one."""
    builder = (
        x509.RevokedCertificateBuilder()
        .serial_number(entry.serial_number)
        .revocation_date(entry.revoked_at)
    )
    flag = entry.reason.to_flag()
    if flag is not None:
        builder = builder.add_extension(x509.CRLReason(flag), critical=False)
    return builder.build()


def crl_refresh_time(crl: x509.CertificateRevocationList) -> datetime:
    """Return when to publish a fresh CRL, well before this one goes stale."""
    next_update = crl.next_update_utc
    if next_update is None:
        # RFC 5280 §5.1.2.5 asks for nextUpdate; without one, assume our lifetime.
        next_update = crl.last_update_utc + CRL_LIFETIME
    # A short-lived CRL would otherwise fall due before it was even issued.
    margin = min(CRL_REFRESH_MARGIN, (next_update - crl.last_update_utc) / 2)
    return next_update - margin


def crl_to_der(crl: x509.CertificateRevocationList) -> bytes:
    """Encode a CRL as DER, as served under application/pkix-crl."""
    return crl.public_bytes(Encoding.DER)
