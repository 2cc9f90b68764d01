"""Persistent metadata of one home CA: certificates, serials and revocations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .pki.revocation import RevocationReason, RevokedEntry

STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 3
WATCH_STORAGE_VERSION = 1
WATCH_STORAGE_MINOR_VERSION = 1
WATCH_SAVE_DELAY = 10
OUTCOME_SAVE_DELAY = 10


def _time(value: str | None) -> datetime | None:
    """Parse an optional ISO 8601 time."""
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    """Format an optional time as ISO 8601."""
    return value.isoformat() if value else None


@dataclass(frozen=True, kw_only=True, slots=True)
class Generation:
    """One certificate issued for a record, with the file holding its key."""

    serial_number: int
    certificate_pem: str
    issued_at: datetime
    not_after: datetime
    key_file: str | None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "serial_number": format(self.serial_number, "x"),
            "certificate_pem": self.certificate_pem,
            "issued_at": self.issued_at.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key_file": self.key_file,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Generation:
        """Build from the JSON form."""
        return cls(
            serial_number=int(data["serial_number"], 16),
            certificate_pem=data["certificate_pem"],
            issued_at=datetime.fromisoformat(data["issued_at"]),
            not_after=datetime.fromisoformat(data["not_after"]),
            key_file=data["key_file"],
        )


@dataclass(kw_only=True, slots=True)
class CertificateRecord:
    """What Home PKI remembers of one issued certificate and its renewals.

    Its JSON form is kept until a field is assigned, so saving a large home
    turns only the changed records into JSON again. Generations are a tuple
    for that reason: a new one is added by assignment, never in place.
    """

    certificate_id: str
    jitter: float
    generations: tuple[Generation, ...] = ()
    issued_count: int = 0
    failures: int = 0
    last_error: str | None = None
    retry_at: datetime | None = None
    last_renewal: datetime | None = None
    deploy_pending: bool = False
    deployed_to: str | None = None
    revocation_reason: RevocationReason | None = None
    revoked_at: datetime | None = None
    renew_requested_at: datetime | None = None
    _json: dict[str, Any] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __setattr__(self, name: str, value: Any) -> None:
        """Set a field and forget the JSON form it made stale."""
        object.__setattr__(self, name, value)
        if name != "_json":
            object.__setattr__(self, "_json", None)

    @property
    def current(self) -> Generation | None:
        """Return the generation in use, if one was issued."""
        return self.generations[-1] if self.generations else None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form, made again only after a change."""
        if self._json is None:
            self._json = self._make_dict()
        return self._json

    def _make_dict(self) -> dict[str, Any]:
        """Turn the record into its JSON form."""
        return {
            "certificate_id": self.certificate_id,
            "jitter": self.jitter,
            "generations": [generation.as_dict() for generation in self.generations],
            "issued_count": self.issued_count,
            "failures": self.failures,
            "last_error": self.last_error,
            "retry_at": _iso(self.retry_at),
            "last_renewal": _iso(self.last_renewal),
            "deploy_pending": self.deploy_pending,
            "deployed_to": self.deployed_to,
            "revocation_reason": self.revocation_reason,
            "revoked_at": _iso(self.revoked_at),
            "renew_requested_at": _iso(self.renew_requested_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CertificateRecord:
        """Build from the JSON form."""
        reason = data["revocation_reason"]
        return cls(
            certificate_id=data["certificate_id"],
            jitter=data["jitter"],
            generations=tuple(map(Generation.from_dict, data["generations"])),
            issued_count=data["issued_count"],
            failures=data["failures"],
            last_error=data["last_error"],
            retry_at=_time(data["retry_at"]),
            last_renewal=_time(data["last_renewal"]),
            deploy_pending=data["deploy_pending"],
            deployed_to=data["deployed_to"],
            revocation_reason=RevocationReason(reason) if reason else None,
            revoked_at=_time(data["revoked_at"]),
            renew_requested_at=_time(data.get("renew_requested_at")),
        )


@dataclass(kw_only=True, slots=True)
class RevocationRecord:
    """A revoked serial number, kept on the CRL until its certificate expires."""

    entry: RevokedEntry
    not_after: datetime

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "serial_number": format(self.entry.serial_number, "x"),
            "revoked_at": self.entry.revoked_at.isoformat(),
            "reason": self.entry.reason,
            "not_after": self.not_after.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RevocationRecord:
        """Build from the JSON form."""
        return cls(
            entry=RevokedEntry(
                serial_number=int(data["serial_number"], 16),
                revoked_at=datetime.fromisoformat(data["revoked_at"]),
                reason=RevocationReason(data["reason"]),
            ),
            not_after=datetime.fromisoformat(data["not_after"]),
        )


@dataclass(kw_only=True, slots=True)
class SignedRecord:
    """A certificate signed from a device's own CSR."""

    serial_number: int
    certificate_pem: str
    common_name: str | None
    not_after: datetime

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "serial_number": format(self.serial_number, "x"),
            "certificate_pem": self.certificate_pem,
            "common_name": self.common_name,
            "not_after": self.not_after.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedRecord:
        """Build from the JSON form."""
        return cls(
            serial_number=int(data["serial_number"], 16),
            certificate_pem=data["certificate_pem"],
            common_name=data["common_name"],
            not_after=datetime.fromisoformat(data["not_after"]),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RenewalOutcome:
    """One issuance or deployment attempt: when, whether it worked, how long."""

    at: datetime
    succeeded: bool
    latency_ms: int
    error_class: str | None = None

    def as_list(self) -> list[Any]:
        """Return the compact JSON form."""
        return [self.at.isoformat(), self.succeeded, self.latency_ms, self.error_class]

    @classmethod
    def from_list(cls, data: list[Any]) -> RenewalOutcome:
        """Build from the compact JSON form."""
        at, succeeded, latency_ms, error_class = data
        return cls(
            at=datetime.fromisoformat(at),
            succeeded=succeeded,
            latency_ms=latency_ms,
            error_class=error_class,
        )


@dataclass(kw_only=True, slots=True)
class PkiData:
    """Everything Home PKI persists for one CA, keys excepted."""

    root_pem: str
    intermediate_pem: str
    crl_number: int = 0
    serials: set[int] = field(default_factory=set)
    certificates: dict[str, CertificateRecord] = field(default_factory=dict)
    revocations: list[RevocationRecord] = field(default_factory=list)
    signed: dict[int, SignedRecord] = field(default_factory=dict)
    failure_times: list[datetime] = field(default_factory=list)
    outcomes: list[RenewalOutcome] = field(default_factory=list)
    previous_intermediates: list[str] = field(default_factory=list)
    _serials_json: list[str] = field(default_factory=list, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        # Serial numbers are only ever added, never removed or replaced, so an
        # unchanged count means an unchanged registry.
        if len(self._serials_json) != len(self.serials):
            self._serials_json = sorted(format(serial, "x") for serial in self.serials)
        return {
            "root_pem": self.root_pem,
            "intermediate_pem": self.intermediate_pem,
            "crl_number": self.crl_number,
            "serials": self._serials_json,
            "certificates": [record.as_dict() for record in self.certificates.values()],
            "revocations": [record.as_dict() for record in self.revocations],
            "signed": [record.as_dict() for record in self.signed.values()],
            "failure_times": [moment.isoformat() for moment in self.failure_times],
            "outcomes": [outcome.as_list() for outcome in self.outcomes],
            "previous_intermediates": self.previous_intermediates,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PkiData:
        """Build from the JSON form."""
        certificates = map(CertificateRecord.from_dict, data["certificates"])
        signed = map(SignedRecord.from_dict, data["signed"])
        return cls(
            root_pem=data["root_pem"],
            intermediate_pem=data["intermediate_pem"],
            crl_number=data["crl_number"],
            serials={int(serial, 16) for serial in data["serials"]},
            certificates={record.certificate_id: record for record in certificates},
            revocations=[
                RevocationRecord.from_dict(item) for item in data["revocations"]
            ],
            signed={record.serial_number: record for record in signed},
            failure_times=[
                datetime.fromisoformat(item) for item in data["failure_times"]
            ],
            outcomes=[
                RenewalOutcome.from_list(item) for item in data.get("outcomes", ())
            ],
            previous_intermediates=list(data.get("previous_intermediates", ())),
        )


class HomePkiStore(Store[dict[str, Any]]):
    """A versioned Store of Home PKI that refuses data of a newer version."""

    async def _async_migrate_func(
        self,
        old_major_version: int,
        old_minor_version: int,
        old_data: dict[str, Any],
    ) -> dict[str, Any]:
        """Bring data written by an older version up to the current layout."""
        if old_major_version > self.version:
            raise NotImplementedError
        return old_data


class PkiStore(HomePkiStore):
    """The versioned Store of one CA's metadata."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Open the store of one config entry."""
        super().__init__(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry_id}",
            minor_version=STORAGE_MINOR_VERSION,
            atomic_writes=True,
        )
        self._pending: PkiData | None = None

    async def async_load_data(self) -> PkiData | None:
        """Load the metadata, or None when the CA was never created."""
        raw = await self.async_load()
        return PkiData.from_dict(raw) if raw else None

    async def async_save_data(self, data: PkiData) -> None:
        """Write the metadata to disk now."""
        self._pending = None
        await self.async_save(data.as_dict())

    @callback
    def async_schedule_save_data(self, data: PkiData) -> None:
        """Write the metadata soon, for what may wait (a renewal's figures)."""
        self._pending = data
        self.async_delay_save(data.as_dict, OUTCOME_SAVE_DELAY)

    async def async_save_pending(self) -> None:
        """Write now what waits to be written, before the store is let go."""
        if self._pending is not None:
            await self.async_save_data(self._pending)


@dataclass(kw_only=True, slots=True)
class WatchRecord:
    """What Home PKI remembers of a certificate it watches but did not issue."""

    certificate_id: str
    chain_pem: str | None = None
    findings: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    expected_issuer: str | None = None
    expected_issuer_key: str | None = None
    issuer_changed: bool = False
    last_seen: datetime | None = None
    last_checked: datetime | None = None
    error: str | None = None
    verifier_detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "certificate_id": self.certificate_id,
            "chain_pem": self.chain_pem,
            "verifier_detail": self.verifier_detail,
            "findings": list(self.findings),
            "path": list(self.path),
            "expected_issuer": self.expected_issuer,
            "expected_issuer_key": self.expected_issuer_key,
            "issuer_changed": self.issuer_changed,
            "last_seen": _iso(self.last_seen),
            "last_checked": _iso(self.last_checked),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WatchRecord:
        """Build from the JSON form."""
        return cls(
            certificate_id=data["certificate_id"],
            chain_pem=data["chain_pem"],
            findings=tuple(data["findings"]),
            path=tuple(data["path"]),
            expected_issuer=data["expected_issuer"],
            expected_issuer_key=data["expected_issuer_key"],
            issuer_changed=data["issuer_changed"],
            last_seen=_time(data["last_seen"]),
            last_checked=_time(data["last_checked"]),
            error=data["error"],
            verifier_detail=data.get("verifier_detail"),
        )


def _watch_data(records: Mapping[str, WatchRecord]) -> dict[str, Any]:
    """Return the JSON form of the watch records."""
    return {"watched": [record.as_dict() for record in records.values()]}


class WatchStore(HomePkiStore):
    """The versioned Store of the certificates one entry watches.

    It is apart from the CA's own store because what it holds can be seen
    again: it is saved with a delay, never on the path of an issuance.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Open the watch store of one config entry."""
        super().__init__(
            hass,
            WATCH_STORAGE_VERSION,
            f"{DOMAIN}.{entry_id}.watched",
            minor_version=WATCH_STORAGE_MINOR_VERSION,
            atomic_writes=True,
        )

    async def async_load_records(self) -> dict[str, WatchRecord]:
        """Load the records by certificate ID; none on a first start."""
        raw = await self.async_load()
        records = map(WatchRecord.from_dict, raw["watched"] if raw else ())
        return {record.certificate_id: record for record in records}

    @callback
    def async_schedule_save(self, records: Mapping[str, WatchRecord]) -> None:
        """Save the records soon, once for a burst of changes."""
        self.async_delay_save(lambda: _watch_data(records), WATCH_SAVE_DELAY)

    async def async_save_records(self, records: Mapping[str, WatchRecord]) -> None:
        """Save the records now."""
        await self.async_save(_watch_data(records))
