"""Value types of Home PKI: settings, views, results and the rules that judge them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import socket
from typing import Any, NoReturn

import aiohttp

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.exceptions import ServiceValidationError

from .const import (
    CONF_DEFAULT_VALIDITY_DAYS,
    CONF_DEPLOY_PATH,
    CONF_DNS_NAMES,
    CONF_FIXED_KEY,
    CONF_IP_ADDRESSES,
    CONF_KEY_ALGORITHM,
    CONF_PERMITTED_DNS_DOMAINS,
    CONF_PERMITTED_IP_RANGES,
    CONF_RENEWAL,
    CONF_VALIDITY_DAYS,
    DEFAULT_VALIDITY_DAYS,
    DOMAIN,
    SUBENTRY_ISSUED,
    CertificateStatus,
    Renewal,
)
from .pki.acme.problems import AcmeProblem
from .pki.errors import (
    AuthorityExpiredError,
    ChainError,
    InvalidCertificateError,
    InvalidKeyError,
    PkiError,
    RevocationCheckError,
)
from .pki.inspect import CertificateInfo
from .pki.keys import KeyAlgorithm
from .pki.policy import Policy, normalize_domain, parse_ip_ranges

MAX_WAKEUP_DELAY = timedelta(hours=6)

KEY_TYPES = {
    KeyAlgorithm.EC_P256: "EC P-256",
    KeyAlgorithm.EC_P384: "EC P-384",
    KeyAlgorithm.RSA_2048: "RSA 2048",
    KeyAlgorithm.RSA_3072: "RSA 3072",
    KeyAlgorithm.ED25519: "Ed25519",
}


def build_policy(data: Mapping[str, Any]) -> Policy:
    """Return the issuance policy of a CA from its config entry data."""
    return Policy(
        permitted_dns_domains=tuple(
            normalize_domain(domain) for domain in data[CONF_PERMITTED_DNS_DOMAINS]
        ),
        permitted_ip_ranges=parse_ip_ranges(data[CONF_PERMITTED_IP_RANGES]),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class IssuedSettings:
    """What the homeowner asked for one issued certificate."""

    name: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    key_algorithm: KeyAlgorithm
    validity_days: int
    renewal: Renewal
    fixed_key: bool
    deploy_path: str | None

    @classmethod
    def from_subentry(
        cls, subentry: ConfigSubentry, entry: ConfigEntry
    ) -> IssuedSettings:
        """Read the settings of an issued-certificate subentry."""
        data = subentry.data
        validity = entry.options.get(CONF_DEFAULT_VALIDITY_DAYS, DEFAULT_VALIDITY_DAYS)
        return cls(
            name=subentry.title,
            dns_names=tuple(data.get(CONF_DNS_NAMES, ())),
            ip_addresses=tuple(data.get(CONF_IP_ADDRESSES, ())),
            key_algorithm=KeyAlgorithm(
                data.get(CONF_KEY_ALGORITHM) or entry.data[CONF_KEY_ALGORITHM]
            ),
            validity_days=int(data.get(CONF_VALIDITY_DAYS) or validity),
            renewal=Renewal(data.get(CONF_RENEWAL, Renewal.AUTOMATIC)),
            fixed_key=bool(data.get(CONF_FIXED_KEY, False)),
            deploy_path=data.get(CONF_DEPLOY_PATH) or None,
        )

    @property
    def common_name(self) -> str:
        """Return the subject common name: the device's first DNS name, or its name."""
        # An address in the common name would be read as a DNS name, which
        # the root's name constraints refuse; a device with only addresses
        # gets its own name there instead.
        return self.dns_names[0] if self.dns_names else self.name


@dataclass(frozen=True, kw_only=True, slots=True)
class CertificateView:
    """What the entities of one certificate show, at one moment."""

    certificate_id: str
    name: str
    info: CertificateInfo | None
    status: CertificateStatus
    reasons: tuple[str, ...]
    days_remaining: int | None
    renewal: Renewal | None
    next_renewal: datetime | None
    last_renewal: datetime | None
    kind: str = SUBENTRY_ISSUED
    source: str | None = None
    last_seen: datetime | None = None
    error: str | None = None
    chain: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class FleetTelemetry:
    """How the certificates of a home fare, as figures for the CA device."""

    by_status: Mapping[str, int] = field(default_factory=dict)
    success_rate: float | None = None
    median_latency_ms: float | None = None
    failures_by_class: Mapping[str, int] = field(default_factory=dict)
    next_expiry: CertificateView | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AuthorityView:
    """What the CA device shows."""

    root: CertificateInfo
    intermediate: CertificateInfo
    expiring: int
    revoked: int
    renewal_failures: int
    telemetry: FleetTelemetry = field(default_factory=FleetTelemetry)


@dataclass(frozen=True, kw_only=True, slots=True)
class FleetSnapshot:
    """The state of a whole CA and its certificates at one moment."""

    authority: AuthorityView
    certificates: Mapping[str, CertificateView]


@dataclass(frozen=True, kw_only=True, slots=True)
class SignedCertificate:
    """A certificate signed from a CSR, as the sign_csr action returns it."""

    certificate_pem: str
    chain_pem: str
    serial_number: int
    not_after: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportedCredential:
    """The PEM material of one certificate, as the export action returns it."""

    certificate_pem: str
    chain_pem: str
    root_pem: str
    private_key_pem: str | None


ERROR_NETWORK = "network"
ERROR_POLICY = "policy"
ERROR_CHAIN = "chain"
ERROR_CA = "ca"
ERROR_DEVICE = "device"
ERROR_CLASSES = (ERROR_NETWORK, ERROR_POLICY, ERROR_CHAIN, ERROR_CA, ERROR_DEVICE)


def error_class(err: Exception, *, deploying: bool = False) -> str:
    """Return the class of a renewal error: where the fix has to be made.

    A file that cannot be written is the device's when it is the deploy
    folder, and the CA's when it is Home PKI's own storage.
    """
    if isinstance(
        err,
        TimeoutError
        | ConnectionError
        | socket.gaierror
        | aiohttp.ClientError
        | AcmeProblem
        | RevocationCheckError,
    ):
        return ERROR_NETWORK
    if isinstance(err, ChainError | InvalidCertificateError):
        return ERROR_CHAIN
    if isinstance(err, AuthorityExpiredError | InvalidKeyError):
        return ERROR_CA
    if isinstance(err, PkiError):
        return ERROR_POLICY
    return ERROR_DEVICE if deploying else ERROR_CA


def changes_at(view: CertificateView, now: datetime, warning: timedelta) -> datetime:
    """Return the first moment a certificate's view may differ from this one."""
    moments = [now + MAX_WAKEUP_DELAY]
    if view.next_renewal is not None:
        moments.append(view.next_renewal)
    if view.info is not None and view.days_remaining is not None:
        not_after = view.info.not_after
        # Days remaining drops once less than this many whole days are left.
        moments.append(
            not_after - timedelta(days=view.days_remaining) + timedelta(microseconds=1)
        )
        moments.extend(
            moment
            for moment in (view.info.not_before, not_after - warning, not_after)
            if moment > now
        )
    return min(moments)


# Reasons not listed here (a chain completed from the bundle, an unanswered
# revocation check, a changed issuer) turn the problem sensor on but leave the
# certificate itself valid.
_STATUS_ORDER: tuple[tuple[frozenset[str], CertificateStatus], ...] = (
    (frozenset({"revoked"}), CertificateStatus.REVOKED),
    (frozenset({"expired"}), CertificateStatus.EXPIRED),
    (
        frozenset({"renewal_failed", "deploy_failed", "renewal_overdue"}),
        CertificateStatus.RENEWAL_FAILED,
    ),
    (
        frozenset(
            {
                "not_yet_valid",
                "hostname_mismatch",
                "unknown_issuer",
                "self_signed",
                "untrusted_chain",
            }
        ),
        CertificateStatus.INVALID_CHAIN,
    ),
    (
        frozenset({"weak_key", "sha1_signature", "lifetime_too_long"}),
        CertificateStatus.POLICY_VIOLATION,
    ),
    (frozenset({"expiring"}), CertificateStatus.EXPIRING),
)


def status_of(reasons: Iterable[str]) -> CertificateStatus:
    """Return the most severe status among the reasons."""
    given = set(reasons)
    for group, status in _STATUS_ORDER:
        if given & group:
            return status
    return CertificateStatus.VALID


def raise_validation(key: str, **placeholders: str) -> NoReturn:
    """Raise a translated validation error."""
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )
