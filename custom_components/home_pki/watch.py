"""Watch the certificates Home PKI did not issue: TLS endpoints, files and PEM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import os
from pathlib import Path
import ssl
from typing import TYPE_CHECKING, Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_HOST, CONF_PATH, CONF_PORT
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .const import (
    ATTR_FINGERPRINT,
    ATTR_ISSUER,
    ATTR_ISSUER_CHANGED,
    ATTR_PREVIOUS_FINGERPRINT,
    ATTR_PREVIOUS_ISSUER,
    ATTR_PREVIOUS_NOT_AFTER,
    ATTR_PREVIOUS_SERIAL_NUMBER,
    CONF_CHECK_HOSTNAME,
    CONF_CHECK_REVOCATION,
    CONF_CUSTOM_CA,
    CONF_PEM,
    CONF_SCAN_INTERVAL_MINUTES,
    CONF_SERVER_NAME,
    CONF_TLS_MODE,
    CONF_TRUST,
    DEFAULT_PORT,
    DEFAULT_SCAN_INTERVAL_MINUTES,
    DOMAIN,
    EVENT_CERTIFICATE_CHANGED,
    LOGGER,
    SUBENTRY_ENDPOINT,
    WATCHED_KINDS,
    CertificateStatus,
    Trust,
)
from .models import CertificateView, changes_at, raise_validation, status_of
from .pki.errors import PkiError
from .pki.inspect import (
    CertificateInfo,
    certificates_to_pem,
    inspect_certificate,
    load_certificates,
)
from .pki.policy import FINDING_LIFETIME_TOO_LONG
from .pki.probe import ProbeError, TlsMode, probe_context, probe_endpoint
from .pki.revocation import (
    RevocationAnswer,
    RevocationStatus,
    build_ocsp_request,
    crl_answer,
    crl_urls,
    ocsp_urls,
    read_crl,
    read_ocsp_response,
)
from .pki.schedule import days_remaining
from .pki.verify import Assessment, TrustBundle, assess_chain, system_trust
from .storage import WatchRecord, WatchStore

if TYPE_CHECKING:
    from .coordinator import HomePkiCoordinator

PROBE_TIMEOUT = 10.0
FETCH_TIMEOUT = 10.0
MAX_FETCH_BYTES = 16 * 1024 * 1024
MAX_FILE_BYTES = 1024 * 1024
MAX_CONCURRENT_CHECKS = 32
FILE_CHECK_INTERVAL = timedelta(minutes=1)
PASTED_CHECK_INTERVAL = timedelta(hours=1)
REASSESS_INTERVAL = timedelta(hours=1)
ISSUER_CACHE_TIME = timedelta(hours=24)
FAILED_FETCH_CACHE_TIME = timedelta(minutes=15)
DEFAULT_ANSWER_TIME = timedelta(hours=1)
MIN_ANSWER_TIME = timedelta(minutes=5)
MIN_TIMER_SPACING = timedelta(seconds=1)
PUBLISH_SPACING = 1.0

REASON_REVOKED = "revoked"
REASON_REVOCATION_UNKNOWN = "revocation_unknown"
REASON_ISSUER_CHANGED = "issuer_changed"
# Findings that follow from the clock alone are judged when the view is made,
# not when the certificate was last looked at.
_TIME_FINDINGS = frozenset({"expired", "not_yet_valid"})

type IssuerIdentity = tuple[str, str | None]


class WatchReadError(Exception):
    """Signal a watched file that could not be read as certificates."""

    def __init__(self, reason: str, detail: str) -> None:
        """Keep the stable reason key and a short detail."""
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class FetchError(Exception):
    """Signal a revocation or issuer URL that gave no usable answer."""


@dataclass(frozen=True, kw_only=True, slots=True)
class WatchSettings:
    """What the homeowner asked for one watched certificate."""

    kind: str
    name: str
    host: str | None = None
    port: int = DEFAULT_PORT
    server_name: str | None = None
    tls_mode: TlsMode = TlsMode.IMPLICIT
    path: str | None = None
    pem: str | None = None
    trust: Trust = Trust.SYSTEM
    custom_ca: str | None = None
    check_hostname: bool = False
    check_revocation: bool = False
    interval: timedelta = timedelta(minutes=DEFAULT_SCAN_INTERVAL_MINUTES)

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> WatchSettings:
        """Read the settings of an endpoint or file subentry."""
        data = subentry.data
        kind = subentry.subentry_type
        if kind == SUBENTRY_ENDPOINT:
            interval = timedelta(
                minutes=data.get(
                    CONF_SCAN_INTERVAL_MINUTES, DEFAULT_SCAN_INTERVAL_MINUTES
                )
            )
        elif data.get(CONF_PATH):
            interval = FILE_CHECK_INTERVAL
        else:
            interval = PASTED_CHECK_INTERVAL
        return cls(
            kind=kind,
            name=subentry.title,
            host=data.get(CONF_HOST),
            port=int(data.get(CONF_PORT, DEFAULT_PORT)),
            server_name=data.get(CONF_SERVER_NAME) or None,
            tls_mode=TlsMode(data.get(CONF_TLS_MODE, TlsMode.IMPLICIT)),
            path=data.get(CONF_PATH) or None,
            pem=data.get(CONF_PEM) or None,
            trust=Trust(data.get(CONF_TRUST, Trust.SYSTEM)),
            custom_ca=data.get(CONF_CUSTOM_CA) or None,
            check_hostname=bool(data.get(CONF_CHECK_HOSTNAME, False)),
            check_revocation=bool(data.get(CONF_CHECK_REVOCATION, False)),
            interval=interval,
        )

    @property
    def source(self) -> str:
        """Return where the certificate is read from, for people."""
        if self.kind == SUBENTRY_ENDPOINT:
            return f"{host_for_url(self.host or '')}:{self.port}"
        return self.path or "pasted PEM"

    @property
    def sni(self) -> str | None:
        """Return the server name to ask for; the probe sends none for an address."""
        return self.server_name or self.host

    @property
    def hostname(self) -> str | None:
        """Return the name the certificate must be valid for, when checked."""
        if self.kind != SUBENTRY_ENDPOINT or not self.check_hostname:
            return None
        return self.server_name or self.host


def host_for_url(host: str) -> str:
    """Return a host as it appears before a port: IPv6 in brackets."""
    return f"[{host}]" if ":" in host else host


@dataclass(kw_only=True, slots=True)
class WatchState:
    """What is known now of one watched certificate, beyond its record."""

    settings: WatchSettings
    record: WatchRecord
    chain_der: tuple[bytes, ...] = ()
    info: CertificateInfo | None = None
    identity: IssuerIdentity | None = None
    file_signature: tuple[int, int, int] | None = None
    next_check: datetime = field(default_factory=dt_util.utcnow)
    assessed_at: datetime | None = None
    failure_logged: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Judgement:
    """A chain read and judged in the executor."""

    chain_der: tuple[bytes, ...]
    chain_pem: str
    info: CertificateInfo
    identity: IssuerIdentity
    assessment: Assessment


def issuer_identity(certificate: x509.Certificate) -> IssuerIdentity:
    """Return the issuer's name and key identifier, which a renewal keeps."""
    try:
        extension = certificate.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        )
    except (x509.ExtensionNotFound, ValueError):
        key_id = None
    else:
        raw = extension.value.key_identifier
        key_id = raw.hex(":").upper() if raw else None
    return certificate.issuer.rfc4514_string(), key_id


def chain_to_der(certificates: Iterable[x509.Certificate]) -> tuple[bytes, ...]:
    """Encode certificates as DER, in order."""
    return tuple(certificate.public_bytes(Encoding.DER) for certificate in certificates)


def load_issuer_certificates(data: bytes) -> tuple[x509.Certificate, ...]:
    """Read what an AIA caIssuers URL serves: DER, PEM or a PKCS #7 bundle."""
    try:
        return tuple(load_certificates(data))
    except PkiError:
        pass
    try:
        return tuple(pkcs7.load_der_pkcs7_certificates(data))
    except ValueError:
        return ()


def read_watched_file(
    path: str, known: tuple[int, int, int] | None
) -> tuple[tuple[int, int, int], tuple[bytes, ...] | None]:
    """Return a file's signature and its certificates, or None when unchanged."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise WatchReadError("file_missing", path) from None
    except OSError as err:
        raise WatchReadError("file_unreadable", err.strerror or str(err)) from None
    signature = (status.st_mtime_ns, status.st_size, status.st_ino)
    if signature == known:
        return signature, None
    if status.st_size > MAX_FILE_BYTES:
        raise WatchReadError("file_invalid", "larger than 1 MiB")
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise WatchReadError("file_unreadable", err.strerror or str(err)) from None
    try:
        return signature, chain_to_der(load_certificates(data))
    except PkiError:
        raise WatchReadError("file_invalid", "no readable certificate") from None


class Watcher:
    """Check the watched certificates of one entry, each on its own interval.

    Probes run concurrently with a bound, in background tasks, so neither the
    start of Home Assistant nor its loop waits on a slow or absent host. What
    was last seen is kept in a store, so a restart shows it at once.
    """

    def __init__(self, coordinator: HomePkiCoordinator) -> None:
        """Prepare the watcher of one coordinator."""
        self._coordinator = coordinator
        self._hass: HomeAssistant = coordinator.hass
        self._entry = coordinator.config_entry
        self._store = WatchStore(self._hass, self._entry.entry_id)
        self._records: dict[str, WatchRecord] = {}
        self._states: dict[str, WatchState] = {}
        self._settings: dict[str, tuple[Mapping[str, Any], str, WatchSettings]] = {}
        self._views: dict[str, CertificateView] = {}
        self._kept: dict[str, datetime] = {}
        self._dirty: set[str] = set()
        self._changed: set[str] = set()
        self._running: set[str] = set()
        self._context: ssl.SSLContext | None = None
        self._bundles: dict[str | None, TrustBundle] = {}
        self._issuers: dict[str, tuple[datetime, tuple[x509.Certificate, ...]]] = {}
        self._answers: dict[tuple[bytes, int], tuple[datetime, RevocationAnswer]] = {}
        self._crls: dict[
            str, tuple[datetime, x509.CertificateRevocationList | None]
        ] = {}
        self._semaphore = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._last_publish = 0.0

    def __contains__(self, certificate_id: object) -> bool:
        """Tell whether a certificate ID is one this watcher watches."""
        return certificate_id in self._states

    @property
    def records(self) -> Mapping[str, WatchRecord]:
        """Return the records of watched certificates by certificate ID."""
        return self._records

    def settings(self, certificate_id: str) -> WatchSettings:
        """Return the settings of one watched certificate, read once per change."""
        subentry = self._entry.subentries[certificate_id]
        cached = self._settings.get(certificate_id)
        if (
            cached is not None
            and cached[0] is subentry.data
            and cached[1] is subentry.title
        ):
            return cached[2]
        settings = WatchSettings.from_subentry(subentry)
        self._settings[certificate_id] = (subentry.data, subentry.title, settings)
        return settings

    def _wanted(self) -> set[str]:
        """Return the IDs of the endpoint and file subentries as they are now."""
        return {
            subentry_id
            for subentry_id, subentry in self._entry.subentries.items()
            if subentry.subentry_type in WATCHED_KINDS
        }

    async def async_load(self) -> None:
        """Read what was last seen of every watched certificate."""
        self._records = await self._store.async_load_records()
        wanted = self._wanted()
        for certificate_id in self._records.keys() - wanted:
            del self._records[certificate_id]
        stored = {
            certificate_id: record.chain_pem
            for certificate_id, record in self._records.items()
            if record.chain_pem
        }
        parsed = await self._hass.async_add_executor_job(_parse_stored, stored)
        now = dt_util.utcnow()
        for certificate_id in wanted:
            state = self._add_state(certificate_id, now)
            if (seen := parsed.get(certificate_id)) is not None:
                state.chain_der, state.info, state.identity = seen
            # An outage that began before the restart was already logged.
            state.failure_logged = state.record.error is not None
            self._sync_issue(certificate_id, state, None)
            last = state.record.last_checked
            if last is not None:
                state.next_check = last + state.settings.interval

    def _add_state(self, certificate_id: str, now: datetime) -> WatchState:
        """Start following one watched certificate."""
        record = self._records.setdefault(
            certificate_id, WatchRecord(certificate_id=certificate_id)
        )
        state = self._states[certificate_id] = WatchState(
            settings=self.settings(certificate_id), record=record, next_check=now
        )
        self._dirty.add(certificate_id)
        return state

    @callback
    def async_start(self) -> None:
        """Check what is due now, in the background, and plan the rest."""
        self._check_due()

    @callback
    def async_stop(self) -> None:
        """Stop planning checks."""
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None

    async def async_shutdown(self) -> None:
        """Stop planning checks and write what was seen now."""
        self.async_stop()
        await self._store.async_save_records(self._records)

    async def async_sync(self) -> None:
        """Follow added, changed and removed endpoint and file subentries."""
        wanted = self._wanted()
        now = dt_util.utcnow()
        fresh: list[str] = []
        for certificate_id in wanted - self._states.keys():
            self._add_state(certificate_id, now)
            fresh.append(certificate_id)
        for certificate_id in wanted & self._states.keys():
            state = self._states[certificate_id]
            settings = self.settings(certificate_id)
            if settings is state.settings:
                continue
            if _reading_changed(state, settings):
                state.assessed_at = None
                state.file_signature = None
                state.chain_der = ()
                fresh.append(certificate_id)
            state.settings = settings
            self._dirty.add(certificate_id)
        for certificate_id in self._states.keys() - wanted:
            del self._states[certificate_id]
            ir.async_delete_issue(self._hass, DOMAIN, _issue_id(certificate_id))
            self._records.pop(certificate_id, None)
            self._settings.pop(certificate_id, None)
            self._views.pop(certificate_id, None)
            self._kept.pop(certificate_id, None)
        if fresh:
            self._store.async_schedule_save(self._records)
            self._start_checks(fresh)

    def views(self, now: datetime, warning: timedelta) -> Mapping[str, CertificateView]:
        """Return the views of watched certificates, judged again only if due."""
        dirty, self._dirty = self._dirty, set()
        for certificate_id, state in self._states.items():
            if state.info is None and state.record.error is None:
                continue
            old = self._views.get(certificate_id)
            kept = self._kept.get(certificate_id)
            if old is not None and certificate_id not in dirty and kept and now < kept:
                continue
            view = self._view(state, now, warning)
            self._kept[certificate_id] = changes_at(view, now, warning)
            if view != old:
                self._views[certificate_id] = view
                self._changed.add(certificate_id)
        return self._views

    def take_changed(self) -> set[str]:
        """Return the certificates whose view changed since the last call."""
        changed, self._changed = self._changed, set()
        return changed

    @property
    def next_change(self) -> datetime | None:
        """Return the first moment a watched view may change by time alone."""
        return min(self._kept.values(), default=None)

    def _view(
        self, state: WatchState, now: datetime, warning: timedelta
    ) -> CertificateView:
        """Judge one watched certificate at one moment."""
        record = state.record
        info = state.info
        reasons: list[str] = []
        if REASON_REVOKED in record.findings:
            reasons.append(REASON_REVOKED)
        if info is not None and info.not_after <= now:
            reasons.append(CertificateStatus.EXPIRED)
        elif info is not None and now < info.not_before:
            reasons.append("not_yet_valid")
        reasons.extend(record.findings)
        if record.issuer_changed:
            reasons.append(REASON_ISSUER_CHANGED)
        if info is not None and now < info.not_after <= now + warning:
            reasons.append(CertificateStatus.EXPIRING)
        unique = tuple(dict.fromkeys(reasons))
        settings = state.settings
        return CertificateView(
            certificate_id=record.certificate_id,
            name=settings.name,
            info=info,
            status=CertificateStatus.UNREACHABLE if record.error else status_of(unique),
            reasons=unique,
            days_remaining=_days_remaining(info, now),
            renewal=None,
            next_renewal=None,
            last_renewal=None,
            kind=settings.kind,
            source=settings.source,
            last_seen=record.last_seen,
            error=record.error,
            chain=record.path,
        )

    def _check_due(self) -> None:
        """Start the checks that are due and set the timer for the next one."""
        self.async_stop()
        now = dt_util.utcnow()
        due = [
            certificate_id
            for certificate_id, state in self._states.items()
            if state.next_check <= now and certificate_id not in self._running
        ]
        if due:
            self._start_checks(due)
        self._schedule(now)

    def _schedule(self, now: datetime) -> None:
        """Set one timer for the earliest check still to come."""
        if self._hass.is_stopping:
            return
        upcoming = [
            state.next_check
            for certificate_id, state in self._states.items()
            if certificate_id not in self._running
        ]
        if not upcoming:
            return
        when = max(min(upcoming), now + MIN_TIMER_SPACING)
        self._unsub_timer = async_track_point_in_utc_time(
            self._hass, self._async_timer, when
        )

    async def _async_timer(self, _now: datetime) -> None:
        """Run the checks that came due."""
        self._unsub_timer = None
        self._check_due()

    def _start_checks(self, certificate_ids: Sequence[str]) -> None:
        """Check certificates in a background task."""
        self._running.update(certificate_ids)
        self._entry.async_create_background_task(
            self._hass,
            self._async_check_batch(certificate_ids),
            f"home_pki check {self._entry.title}",
        )

    async def async_check_now(
        self, certificate_ids: Iterable[str] | None = None
    ) -> None:
        """Read and judge certificates now, every watched one by default, and wait."""
        wanted = list(self._states if certificate_ids is None else certificate_ids)
        for certificate_id in wanted:
            self._states[certificate_id].assessed_at = None
        self._running.update(wanted)
        await self._async_check_batch(wanted)

    async def _async_check_batch(self, certificate_ids: Sequence[str]) -> None:
        """Check certificates concurrently, within the bound, then publish."""
        try:
            await asyncio.gather(
                *(
                    self._async_check_bounded(certificate_id)
                    for certificate_id in certificate_ids
                )
            )
        finally:
            self._running.difference_update(certificate_ids)
        self._publish(force=True)
        self.async_stop()
        self._schedule(dt_util.utcnow())

    async def _async_check_bounded(self, certificate_id: str) -> None:
        """Check one certificate once a slot is free."""
        async with self._semaphore:
            state = self._states.get(certificate_id)
            if state is not None:
                await self._async_check(certificate_id, state)
        self._publish(force=False)

    def _publish(self, *, force: bool) -> None:
        """Push fresh views, at most about once a second while checks run."""
        loop_time = self._hass.loop.time()
        if force or loop_time - self._last_publish >= PUBLISH_SPACING:
            self._last_publish = loop_time
            self._coordinator.async_watch_updated()

    async def _async_check(self, certificate_id: str, state: WatchState) -> None:
        """Read one certificate again and judge it if it changed."""
        settings = state.settings
        now = dt_util.utcnow()
        state.next_check = now + settings.interval
        state.record.last_checked = now
        try:
            chain_der = await self._async_read(state)
        except ProbeError as err:
            self._failed(certificate_id, state, err.failure.value, err.detail)
            return
        except WatchReadError as err:
            self._failed(certificate_id, state, err.reason, err.detail)
            return
        if state is not self._states.get(certificate_id):
            return
        fresh = chain_der is not None and chain_der != state.chain_der
        stale = (
            state.assessed_at is None or now >= state.assessed_at + REASSESS_INTERVAL
        )
        if (fresh or stale) and not await self._async_judge(
            certificate_id, state, chain_der or state.chain_der, now
        ):
            return
        self._reached(certificate_id, state, now)

    async def _async_read(self, state: WatchState) -> tuple[bytes, ...] | None:
        """Return the chain as now presented, or None when a file is unchanged."""
        settings = state.settings
        if settings.kind == SUBENTRY_ENDPOINT:
            if self._context is None:
                self._context = await self._hass.async_add_executor_job(probe_context)
            result = await probe_endpoint(
                settings.host or "",
                settings.port,
                server_name=settings.sni,
                mode=settings.tls_mode,
                timeout=PROBE_TIMEOUT,
                context=self._context,
            )
            return result.chain
        if settings.path is not None:
            signature, chain = await self._hass.async_add_executor_job(
                read_watched_file, settings.path, state.file_signature
            )
            state.file_signature = signature
            return chain
        if state.chain_der:
            return None
        try:
            return chain_to_der(load_certificates(settings.pem or ""))
        except PkiError as err:
            raise WatchReadError("file_invalid", err.detail) from None

    async def _async_judge(
        self,
        certificate_id: str,
        state: WatchState,
        chain_der: tuple[bytes, ...],
        now: datetime,
    ) -> bool:
        """Verify a chain, check its revocation and notice a new certificate.

        Return whether the chain could be judged at all.
        """
        if not chain_der:
            return False
        settings = state.settings
        trust = await self._async_trust(settings)
        judge = self._judge_in_executor(settings, trust, now)
        judgement = await self._hass.async_add_executor_job(judge, chain_der, ())
        if judgement is None:
            self._failed(certificate_id, state, "file_invalid", "unreadable chain")
            return False
        missing = judgement.assessment.missing_issuer_urls
        if missing and (extra := await self._async_issuers(missing, now)):
            retry = await self._hass.async_add_executor_job(judge, chain_der, extra)
            judgement = retry or judgement
        assessment = judgement.assessment
        findings = [
            reason for reason in assessment.reasons if reason not in _TIME_FINDINGS
        ]
        # A server's certificate is a leaf whatever its basic constraints say,
        # as many appliances mark their self-made certificate as a CA.
        if (
            settings.kind == SUBENTRY_ENDPOINT
            and judgement.info.is_ca
            and judgement.info.lifetime
            > timedelta(days=self._coordinator.policy.max_validity_days)
        ):
            findings.append(FINDING_LIFETIME_TOO_LONG)
        # A self-signed certificate names no one who could revoke it.
        if settings.check_revocation and not judgement.info.self_signed:
            leaf = assessment.path[0] if assessment.path else None
            if leaf is not None:
                findings.extend(
                    await self._async_revocation(leaf, assessment.issuer, now)
                )
        if state is not self._states.get(certificate_id):
            return False
        self._notice_change(certificate_id, state, judgement)
        record = state.record
        record.chain_pem = judgement.chain_pem
        record.findings = tuple(dict.fromkeys(findings))
        record.verifier_detail = assessment.detail
        record.path = tuple(
            certificate.subject.rfc4514_string() for certificate in assessment.path
        )
        state.chain_der = judgement.chain_der
        state.info = judgement.info
        state.identity = judgement.identity
        state.assessed_at = now
        self._dirty.add(certificate_id)
        LOGGER.debug(
            "Checked %s: %s", settings.name, ", ".join(record.findings) or "ok"
        )
        return True

    def _judge_in_executor(
        self, settings: WatchSettings, trust: TrustBundle, now: datetime
    ) -> Callable[[tuple[bytes, ...], Sequence[x509.Certificate]], Judgement | None]:
        """Return the blocking judgement of a chain with these settings."""
        policy = self._coordinator.policy

        def judge(
            chain_der: tuple[bytes, ...], extra: Sequence[x509.Certificate]
        ) -> Judgement | None:
            try:
                presented = [x509.load_der_x509_certificate(der) for der in chain_der]
                info = inspect_certificate(presented[0])
            except (ValueError, PkiError):
                return None
            assessment = assess_chain(
                presented,
                trust=trust,
                now=now,
                hostname=settings.hostname,
                policy=policy,
                extra_intermediates=extra,
            )
            return Judgement(
                chain_der=chain_der,
                chain_pem=certificates_to_pem(presented),
                info=info,
                identity=issuer_identity(presented[0]),
                assessment=assessment,
            )

        return judge

    async def _async_trust(self, settings: WatchSettings) -> TrustBundle:
        """Return the trust anchors a certificate's chain must lead to."""
        if settings.trust is Trust.HOME_CA:
            return self._coordinator.home_trust
        key = settings.custom_ca if settings.trust is Trust.CUSTOM else None
        bundle = self._bundles.get(key)
        if bundle is None:
            if key is None:
                bundle = await self._hass.async_add_executor_job(system_trust)
            else:
                bundle = await self._hass.async_add_executor_job(_custom_trust, key)
            self._bundles[key] = bundle
        return bundle

    def _notice_change(
        self, certificate_id: str, state: WatchState, judgement: Judgement
    ) -> None:
        """Fire the changed event for a new certificate; flag a foreign issuer."""
        record = state.record
        previous = state.info
        if record.expected_issuer is None:
            record.expected_issuer, record.expected_issuer_key = judgement.identity
        if (
            previous is None
            or previous.fingerprint_sha256 == judgement.info.fingerprint_sha256
        ):
            return
        expected = (record.expected_issuer, record.expected_issuer_key)
        record.issuer_changed = judgement.identity != expected
        info = judgement.info
        self._sync_issue(certificate_id, state, info.issuer)
        LOGGER.info(
            "The certificate of %s changed: serial %s, issuer %s",
            state.settings.name,
            info.serial_hex,
            info.issuer,
        )
        self._coordinator.fire_event(
            EVENT_CERTIFICATE_CHANGED,
            certificate_id,
            state.settings.name,
            info,
            extra={
                ATTR_ISSUER: info.issuer,
                ATTR_FINGERPRINT: info.fingerprint_sha256,
                ATTR_PREVIOUS_SERIAL_NUMBER: previous.serial_hex,
                ATTR_PREVIOUS_ISSUER: previous.issuer,
                ATTR_PREVIOUS_NOT_AFTER: previous.not_after.isoformat(),
                ATTR_PREVIOUS_FINGERPRINT: previous.fingerprint_sha256,
                ATTR_ISSUER_CHANGED: record.issuer_changed,
            },
        )

    def _failed(
        self, certificate_id: str, state: WatchState, error: str, detail: str
    ) -> None:
        """Keep the last certificate seen and mark it unreachable, logging once."""
        if state is not self._states.get(certificate_id):
            return
        record = state.record
        if not state.failure_logged:
            LOGGER.warning(
                "Cannot read the certificate of %s (%s): %s",
                state.settings.name,
                error,
                detail,
            )
            state.failure_logged = True
        if record.error != error:
            record.error = error
            self._dirty.add(certificate_id)
        self._store.async_schedule_save(self._records)

    def _reached(self, certificate_id: str, state: WatchState, now: datetime) -> None:
        """Record a successful read, logging the end of an outage."""
        if state is not self._states.get(certificate_id):
            return
        record = state.record
        if record.error is not None:
            LOGGER.info("The certificate of %s can be read again", state.settings.name)
            record.error = None
        state.failure_logged = False
        record.last_seen = now
        self._dirty.add(certificate_id)
        self._store.async_schedule_save(self._records)

    async def _async_revocation(
        self,
        leaf: x509.Certificate,
        issuer: x509.Certificate | None,
        now: datetime,
    ) -> list[str]:
        """Return the revocation finding of a leaf: revoked, unknown or none."""
        home = (
            None if issuer is None else self._coordinator.home_revocation(leaf, issuer)
        )
        if home is None and not (ocsp_urls(leaf) or crl_urls(leaf)):
            return []
        if issuer is None:
            return [REASON_REVOCATION_UNKNOWN]
        if home is not None:
            return [REASON_REVOKED] if home else []
        key = (issuer.fingerprint(hashes.SHA256()), leaf.serial_number)
        cached = self._answers.get(key)
        if cached is not None and now < cached[0]:
            answer = cached[1]
        else:
            answer = await self._async_ask(leaf, issuer, now)
            self._answers[key] = (_answer_until(answer, now), answer)
        if answer.status is RevocationStatus.REVOKED:
            return [REASON_REVOKED]
        if answer.status is RevocationStatus.UNKNOWN:
            return [REASON_REVOCATION_UNKNOWN]
        return []

    async def _async_ask(
        self, leaf: x509.Certificate, issuer: x509.Certificate, now: datetime
    ) -> RevocationAnswer:
        """Ask the OCSP responders, then the CRLs, until one answers."""
        for url in ocsp_urls(leaf):
            try:
                data = await self._async_fetch(url, build_ocsp_request(leaf, issuer))
            except FetchError as err:
                LOGGER.debug("OCSP responder %s gave no answer: %s", url, err)
                continue
            answer = await self._hass.async_add_executor_job(
                _read_ocsp, data, leaf, issuer, now
            )
            if answer.status is not RevocationStatus.UNKNOWN:
                return answer
        for url in crl_urls(leaf):
            crl = await self._async_crl(url, issuer, now)
            if crl is not None:
                return crl_answer(crl, leaf, now)
        return RevocationAnswer(
            status=RevocationStatus.UNKNOWN,
            source="none",
            reason=None,
            revoked_at=None,
            next_update=None,
            detail="no responder answered",
        )

    async def _async_crl(
        self, url: str, issuer: x509.Certificate, now: datetime
    ) -> x509.CertificateRevocationList | None:
        """Return the CRL at a URL, fetched again once its next update passed."""
        cached = self._crls.get(url)
        if cached is not None and now < cached[0]:
            return cached[1]
        crl: x509.CertificateRevocationList | None
        try:
            data = await self._async_fetch(url, None)
            crl = await self._hass.async_add_executor_job(_read_crl, data, issuer, now)
        except (FetchError, PkiError) as err:
            LOGGER.debug("CRL %s is not usable: %s", url, err)
            crl = None
        until = now + FAILED_FETCH_CACHE_TIME
        if crl is not None and crl.next_update_utc is not None:
            until = max(crl.next_update_utc, now + MIN_ANSWER_TIME)
        self._crls[url] = (until, crl)
        return crl

    async def _async_issuers(
        self, urls: Iterable[str], now: datetime
    ) -> tuple[x509.Certificate, ...]:
        """Fetch issuer certificates a server did not send, from its AIA URLs."""
        found: list[x509.Certificate] = []
        for url in urls:
            cached = self._issuers.get(url)
            if cached is None or now >= cached[0]:
                try:
                    data = await self._async_fetch(url, None)
                except FetchError as err:
                    LOGGER.debug("Issuer certificate %s not fetched: %s", url, err)
                    cached = (now + FAILED_FETCH_CACHE_TIME, ())
                else:
                    certificates = await self._hass.async_add_executor_job(
                        load_issuer_certificates, data
                    )
                    cached = (now + ISSUER_CACHE_TIME, certificates)
                self._issuers[url] = cached
            found.extend(cached[1])
        return tuple(found)

    async def _async_fetch(self, url: str, ocsp_request: bytes | None) -> bytes:
        """Fetch a URL (POST an OCSP request when given) within the limits."""
        if not url.startswith(("http://", "https://")):
            raise FetchError(f"unsupported URL {url}")
        session = async_get_clientsession(self._hass)
        try:
            async with asyncio.timeout(FETCH_TIMEOUT):
                if ocsp_request is None:
                    response = await session.get(url)
                else:
                    response = await session.post(
                        url,
                        data=ocsp_request,
                        headers={"Content-Type": "application/ocsp-request"},
                    )
                async with response:
                    response.raise_for_status()
                    data = await response.content.read(MAX_FETCH_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise FetchError(str(err) or type(err).__name__) from None
        if len(data) > MAX_FETCH_BYTES:
            raise FetchError("answer too large")
        return data

    async def async_accept(self, certificate_id: str) -> None:
        """Take the current certificate's issuer as the expected one from now on."""
        state = self._states[certificate_id]
        record = state.record
        if not record.issuer_changed or state.identity is None:
            raise_validation("no_change_to_accept", name=state.settings.name)
        record.expected_issuer, record.expected_issuer_key = state.identity
        record.issuer_changed = False
        self._sync_issue(certificate_id, state, None)
        LOGGER.info("Accepted the new issuer of %s", state.settings.name)
        self._dirty.add(certificate_id)
        self._store.async_schedule_save(self._records)
        self._coordinator.async_watch_updated()

    def _sync_issue(
        self, certificate_id: str, state: WatchState, issuer: str | None
    ) -> None:
        """Raise a repair issue while a new issuer waits to be accepted."""
        record = state.record
        if not record.issuer_changed:
            ir.async_delete_issue(self._hass, DOMAIN, _issue_id(certificate_id))
            return
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            _issue_id(certificate_id),
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key="issuer_changed",
            translation_placeholders={
                "name": state.settings.name,
                "expected_issuer": record.expected_issuer or "",
                "issuer": issuer or (state.info.issuer if state.info else ""),
            },
            data={
                "entry_id": self._entry.entry_id,
                "certificate_id": certificate_id,
            },
        )

    async def async_remove_storage(self) -> None:
        """Delete what was seen of the watched certificates, and their issues."""
        for certificate_id in await self._store.async_load_records():
            ir.async_delete_issue(self._hass, DOMAIN, _issue_id(certificate_id))
        await self._store.async_remove()


def _issue_id(certificate_id: str) -> str:
    """Return the ID of the repair issue of a certificate's changed issuer."""
    return f"issuer_changed_{certificate_id}"


def _reading_changed(state: WatchState, settings: WatchSettings) -> bool:
    """Tell whether new settings need the certificate read and judged again."""
    return replace(state.settings, name=settings.name) != settings


def _days_remaining(info: CertificateInfo | None, now: datetime) -> int | None:
    """Return whole days left, negative once expired."""
    return days_remaining(info.not_after, now) if info is not None else None


def _answer_until(answer: RevocationAnswer, now: datetime) -> datetime:
    """Return how long a revocation answer may be used."""
    if answer.status is RevocationStatus.UNKNOWN:
        return now + FAILED_FETCH_CACHE_TIME
    if answer.next_update is None:
        return now + DEFAULT_ANSWER_TIME
    return max(answer.next_update, now + MIN_ANSWER_TIME)


def _parse_stored(
    stored: Mapping[str, str],
) -> dict[str, tuple[tuple[bytes, ...], CertificateInfo, IssuerIdentity]]:
    """Parse the chains last seen, skipping any that no longer read."""
    parsed: dict[str, tuple[tuple[bytes, ...], CertificateInfo, IssuerIdentity]] = {}
    for certificate_id, pem in stored.items():
        try:
            certificates = load_certificates(pem)
            info = inspect_certificate(certificates[0])
        except PkiError:
            continue
        parsed[certificate_id] = (
            chain_to_der(certificates),
            info,
            issuer_identity(certificates[0]),
        )
    return parsed


def _custom_trust(pem: str) -> TrustBundle:
    """Read a pasted bundle of trusted certificates."""
    return TrustBundle.from_certificates(load_certificates(pem))


def _read_ocsp(
    data: bytes, leaf: x509.Certificate, issuer: x509.Certificate, now: datetime
) -> RevocationAnswer:
    """Read an OCSP answer about a leaf."""
    return read_ocsp_response(data, certificate=leaf, issuer=issuer, now=now)


def _read_crl(
    data: bytes, issuer: x509.Certificate, now: datetime
) -> x509.CertificateRevocationList:
    """Read and verify a CRL from its issuer."""
    return read_crl(data, issuer=issuer, now=now)
