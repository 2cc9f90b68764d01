"""The fleet coordinator: one per home CA, for all of its certificates."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
import random
import shutil
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_NAME, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryError,
    HomeAssistantError,
)
from homeassistant.helpers import device_registry as dr, network
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .acme import RENEWAL_WINDOW_AFTER_REQUEST, AcmeService
from .audit import AuditLog, acting_context
from .const import (
    ATTR_CERTIFICATE_ID,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_ERROR_CLASS,
    ATTR_LATENCY_MS,
    ATTR_NOT_AFTER,
    ATTR_SERIAL_NUMBER,
    CONF_DEFAULT_VALIDITY_DAYS,
    CONF_INTERMEDIATE_VALIDITY_DAYS,
    CONF_KEY_ALGORITHM,
    CONF_MANUFACTURER,
    CONF_MODEL,
    CONF_RENEW_AT_FRACTION,
    CONF_ROOT_VALIDITY_DAYS,
    CONF_WARNING_DAYS,
    DEFAULT_RENEW_AT_FRACTION,
    DEFAULT_VALIDITY_DAYS,
    DEFAULT_WARNING_DAYS,
    DOMAIN,
    EVENT_CERTIFICATE_ISSUED,
    EVENT_CERTIFICATE_RENEWED,
    EVENT_CERTIFICATE_REVOKED,
    EVENT_RENEWAL_FAILED,
    FAILURE_WINDOW_DAYS,
    LOGGER,
    REASON_RENEWAL_OVERDUE,
    SUBENTRY_ISSUED,
    CertificateStatus,
    Renewal,
)
from .models import (
    KEY_TYPES,
    MAX_WAKEUP_DELAY,
    AuthorityView,
    CertificateView,
    ExportedCredential,
    FleetSnapshot,
    IssuedSettings,
    SignedCertificate,
    build_policy,
    changes_at,
    error_class,
    raise_validation,
    status_of,
)
from .ocsp import OcspResponder
from .pki.acme.server import IssuedCertificate
from .pki.authority import (
    Authority,
    AuthoritySettings,
    IssueRequest,
    authority_key_identifier,
    create_authority,
    new_serial_number,
    renew_intermediate,
)
from .pki.errors import PkiError
from .pki.inspect import (
    CertificateInfo,
    certificate_to_pem,
    inspect_certificate,
    issued_by,
    load_certificates,
    serial_to_hex,
)
from .pki.keys import (
    KeyAlgorithm,
    PrivateKeySigner,
    PublicKey,
    generate_private_key,
    load_private_key,
    private_key_to_pem,
)
from .pki.policy import (
    CsrRequest,
    check_csr,
    parse_ip_address,
)
from .pki.revocation import (
    RevocationReason,
    RevokedEntry,
    build_crl,
    crl_refresh_time,
    crl_to_der,
)
from .pki.schedule import days_remaining, renewal_time, renewal_window, retry_delay
from .pki.store import remove_file, write_atomic, write_private
from .pki.verify import TrustBundle
from .storage import (
    CertificateRecord,
    Generation,
    PkiData,
    PkiStore,
    RenewalOutcome,
    RevocationRecord,
    SignedRecord,
)
from .telemetry import add_outcome, clock_ms, fleet_telemetry
from .watch import Watcher

type HomePkiConfigEntry = ConfigEntry[HomePkiCoordinator]

FALLBACK_BASE_URL = "http://homeassistant.local:8123"
SERVICE_COMMON_NAME = "Home PKI ACME server"
MIN_WAKEUP_SPACING = timedelta(seconds=1)
DEPLOYED_FILES = ("key.pem", "cert.pem", "chain.pem", "fullchain.pem", "ca.pem")
_JITTER = random.SystemRandom()


class HomePkiCoordinator(DataUpdateCoordinator[FleetSnapshot]):
    """Keep the certificates of one CA, renew them and publish their state."""

    config_entry: HomePkiConfigEntry

    def __init__(self, hass: HomeAssistant, entry: HomePkiConfigEntry) -> None:
        """Prepare the coordinator of one config entry."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=None,
        )
        self.key_dir = Path(hass.config.path(".storage", DOMAIN, entry.entry_id))
        self.policy = build_policy(entry.data)
        self._store = PkiStore(hass, entry.entry_id)
        self._data: PkiData
        self._authority: Authority
        self._root_info: CertificateInfo
        self._intermediate_info: CertificateInfo
        self._infos: dict[int, CertificateInfo] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._sync_lock = asyncio.Lock()
        self._crl_der = b""
        self._crl_refresh_at: datetime | None = None
        self._unsub_wakeup: CALLBACK_TYPE | None = None
        self._views: dict[str, CertificateView] = {}
        self._changed: set[str] = set()
        self._dirty: set[str] = set()
        self._kept: dict[str, tuple[IssuedSettings, datetime]] = {}
        self._settings: dict[
            str, tuple[Mapping[str, Any], str, Mapping[str, Any], IssuedSettings]
        ] = {}
        self._certificate_listeners: defaultdict[str, list[CALLBACK_TYPE]] = (
            defaultdict(list)
        )
        self._home_trust: TrustBundle | None = None
        self._owners: dict[int, str] = {}
        self._attempts: dict[str, float] = {}
        self._authority_serials: set[int] = set()
        self.watcher = Watcher(self)
        self.ocsp = OcspResponder(self)
        self.acme = AcmeService(self)
        self.audit = AuditLog(self)

    @property
    def base_url(self) -> str:
        """Return the URL under which devices reach Home Assistant."""
        try:
            return network.get_url(self.hass, allow_cloud=False, prefer_external=False)
        except network.NoURLAvailableError:
            return FALLBACK_BASE_URL

    @property
    def public_url(self) -> str:
        """Return the URL of this CA's public material."""
        return f"{self.base_url}/api/{DOMAIN}/{self.config_entry.entry_id}"

    @property
    def ca_pem(self) -> str:
        """Return the CA chain in PEM: intermediate, then root."""
        return self._data.intermediate_pem + self._data.root_pem

    @property
    def root_der(self) -> bytes:
        """Return the root certificate in DER."""
        return self._authority.root.public_bytes(Encoding.DER)

    @property
    def intermediate_der(self) -> bytes:
        """Return the intermediate certificate in DER."""
        return self._authority.intermediate.public_bytes(Encoding.DER)

    @property
    def intermediate_pem(self) -> str:
        """Return the intermediate certificate in PEM."""
        return self._data.intermediate_pem

    @property
    def root_pem(self) -> str:
        """Return the root certificate in PEM."""
        return self._data.root_pem

    @property
    def intermediate_key_id(self) -> bytes:
        """Return the key identifier the intermediate's leaves name their issuer by."""
        identifier = authority_key_identifier(self._authority.intermediate)
        return identifier.key_identifier or b""

    def issued_by_home_ca(self, certificate: x509.Certificate) -> bool:
        """Tell whether the current intermediate signed a certificate."""
        return issued_by(certificate, self._authority.intermediate)

    @property
    def crl_der(self) -> bytes:
        """Return the current CRL in DER."""
        return self._crl_der

    @property
    def crl_number(self) -> int:
        """Return the number of the current CRL."""
        return self._data.crl_number

    @property
    def records(self) -> Mapping[str, CertificateRecord]:
        """Return the records of issued certificates by certificate ID."""
        return self._data.certificates

    @property
    def signed(self) -> Mapping[int, SignedRecord]:
        """Return the certificates signed from CSRs by serial number."""
        return self._data.signed

    @property
    def home_trust(self) -> TrustBundle:
        """Return the home CA as trust anchors for watched certificates."""
        if self._home_trust is None:
            self._home_trust = TrustBundle.from_certificates(
                (self._authority.root, self._authority.intermediate)
            )
        return self._home_trust

    def home_revocation(
        self, leaf: x509.Certificate, issuer: x509.Certificate
    ) -> bool | None:
        """Tell whether the home CA revoked a leaf; None when it did not issue it.

        An earlier certificate of the intermediate (same name, same key) counts
        as the intermediate.
        """
        intermediate = self._authority.intermediate
        if issuer != intermediate and (
            issuer.subject != intermediate.subject
            or issuer.public_key() != intermediate.public_key()
        ):
            return None
        return any(
            record.entry.serial_number == leaf.serial_number
            for record in self._data.revocations
        )

    @property
    def authority(self) -> Authority:
        """Return the bundled CA; its intermediate issues every certificate."""
        return self._authority

    def issued_and_revoked(self, serial: int) -> tuple[bool, RevokedEntry | None]:
        """Tell whether the intermediate issued a serial number, and its revocation."""
        issued = serial in self._data.serials and serial not in self._authority_serials
        revoked = next(
            (
                record.entry
                for record in self._data.revocations
                if record.entry.serial_number == serial
            ),
            None,
        )
        return issued, revoked

    @property
    def serial_count(self) -> int:
        """Return how many serial numbers this CA has used."""
        return len(self._data.serials)

    def settings(self, certificate_id: str) -> IssuedSettings:
        """Return the settings of one issued certificate, read once per change."""
        entry = self.config_entry
        subentry = entry.subentries[certificate_id]
        cached = self._settings.get(certificate_id)
        if (
            cached is not None
            and cached[0] is subentry.data
            and cached[1] is subentry.title
            and cached[2] is entry.options
        ):
            return cached[3]
        settings = IssuedSettings.from_subentry(subentry, entry)
        self._settings[certificate_id] = (
            subentry.data,
            subentry.title,
            entry.options,
            settings,
        )
        return settings

    @callback
    def async_add_certificate_listener(
        self, certificate_id: str, update_callback: CALLBACK_TYPE
    ) -> CALLBACK_TYPE:
        """Call back when one certificate's view changes; return the remover."""
        listeners = self._certificate_listeners[certificate_id]
        listeners.append(update_callback)

        @callback
        def remove() -> None:
            listeners.remove(update_callback)

        return remove

    @callback
    def async_update_listeners(self) -> None:
        """Update the CA's entities, and those of the certificates that changed."""
        super().async_update_listeners()
        changed, self._changed = self._changed, set()
        for certificate_id in changed:
            for update_callback in list(self._certificate_listeners[certificate_id]):
                update_callback()

    def _cert_dir(self, certificate_id: str) -> Path:
        """Return the folder holding one certificate's keys."""
        return self.key_dir / "certificates" / certificate_id

    async def _async_setup(self) -> None:
        """Load the CA (creating it on first start) and every certificate."""
        data = await self._store.async_load_data()
        if data is None:
            LOGGER.info("Creating home CA %s", self.config_entry.title)
            data = await self.hass.async_add_executor_job(
                self._create_authority, dt_util.utcnow()
            )
            await self._store.async_save_data(data)
        self._data = data
        try:
            await self.hass.async_add_executor_job(
                self._load_authority, self.public_url
            )
        except (OSError, PkiError) as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="authority_unreadable",
                translation_placeholders={"error": str(err)},
            ) from err
        await self._async_publish_crl(dt_util.utcnow())
        await self.watcher.async_load()
        await self.acme.async_load()
        await self.async_sync_subentries(publish=False)

    def _create_authority(self, now: datetime) -> PkiData:
        """Generate the root and intermediate and write their keys."""
        data = self.config_entry.data
        material = create_authority(
            AuthoritySettings(
                name=data[CONF_NAME],
                key_algorithm=KeyAlgorithm(data[CONF_KEY_ALGORITHM]),
                root_validity_days=data[CONF_ROOT_VALIDITY_DAYS],
                intermediate_validity_days=data[CONF_INTERMEDIATE_VALIDITY_DAYS],
                policy=self.policy,
            ),
            now,
        )
        write_private(self.key_dir / "root.key", private_key_to_pem(material.root_key))
        write_private(
            self.key_dir / "intermediate.key",
            private_key_to_pem(material.intermediate_key),
        )
        return PkiData(
            root_pem=certificate_to_pem(material.root_certificate),
            intermediate_pem=certificate_to_pem(material.intermediate_certificate),
            serials={
                material.root_certificate.serial_number,
                material.intermediate_certificate.serial_number,
            },
        )

    def _load_authority(self, base: str) -> None:
        """Read the CA certificates, the signing key and every current certificate."""
        root = load_certificates(self._data.root_pem.encode())[0]
        intermediate = load_certificates(self._data.intermediate_pem.encode())[0]
        key = load_private_key((self.key_dir / "intermediate.key").read_bytes())
        self._authority = Authority(
            root=root,
            intermediate=intermediate,
            signing_key=PrivateKeySigner(key),
            policy=self.policy,
            crl_url=f"{base}/crl",
            ocsp_url=f"{base}/ocsp",
            ca_issuers_url=f"{base}/intermediate.crt",
        )
        self._root_info = inspect_certificate(root)
        self._intermediate_info = inspect_certificate(intermediate)
        self._authority_serials = {
            root.serial_number,
            intermediate.serial_number,
            *(
                load_certificates(pem.encode())[0].serial_number
                for pem in self._data.previous_intermediates
            ),
        }
        for record in self._data.certificates.values():
            if (current := record.current) is not None:
                self._parse(current)

    def _parse(self, generation: Generation) -> CertificateInfo:
        """Parse a generation's certificate once and keep the result."""
        info = self._infos.get(generation.serial_number)
        if info is None:
            certificate = load_certificates(generation.certificate_pem.encode())[0]
            info = self._infos[generation.serial_number] = inspect_certificate(
                certificate
            )
        return info

    async def _async_update_data(self) -> FleetSnapshot:
        """Compute the state of every certificate from what is already parsed."""
        return self._snapshot(dt_util.utcnow())

    @callback
    def async_start(self) -> None:
        """Plan the first wake-up once the entities are in place."""
        self.config_entry.async_on_unload(
            self.hass.bus.async_listen_once(
                EVENT_HOMEASSISTANT_STOP, self._async_stop_timers
            )
        )
        self._schedule_wakeup(dt_util.utcnow())
        self.watcher.async_start()

    @callback
    def _async_stop_timers(self, _event: Event) -> None:
        """Stop every timer when Home Assistant stops."""
        self._cancel_wakeup()
        self.watcher.async_stop()

    async def async_shutdown(self) -> None:
        """Stop the timers along with the coordinator."""
        self._cancel_wakeup()
        await self.watcher.async_shutdown()
        await self.acme.async_shutdown()
        await self._store.async_save_pending()
        await super().async_shutdown()

    @callback
    def async_watch_updated(self) -> None:
        """Publish what the watcher found."""
        self._async_publish()

    @callback
    def _async_publish(self) -> None:
        """Push a fresh snapshot to the entities and plan the next wake-up."""
        now = dt_util.utcnow()
        self.async_set_updated_data(self._snapshot(now))
        self._schedule_wakeup(now)

    def _snapshot(self, now: datetime) -> FleetSnapshot:
        """Build the snapshot; a view is judged again only once it may differ.

        A view is kept while its record and settings are unchanged and the
        moment it may change (a day passing, a threshold, a renewal) is ahead.
        """
        options = self.config_entry.options
        warning = timedelta(days=options.get(CONF_WARNING_DAYS, DEFAULT_WARNING_DAYS))
        fraction = options.get(CONF_RENEW_AT_FRACTION, DEFAULT_RENEW_AT_FRACTION)
        views: dict[str, CertificateView] = {}
        dirty, self._dirty = self._dirty, set()
        for certificate_id, record in self._data.certificates.items():
            if certificate_id not in self.config_entry.subentries:
                continue
            settings = self.settings(certificate_id)
            old = self._views.get(certificate_id)
            kept = self._kept.get(certificate_id)
            if (
                old is None
                or certificate_id in dirty
                or kept is None
                or kept[0] is not settings
                or now >= kept[1]
            ):
                view = self._view(record, settings, now, warning, fraction)
                self._kept[certificate_id] = (settings, changes_at(view, now, warning))
                if old is not None and old == view:
                    view = old
                else:
                    self._changed.add(certificate_id)
            else:
                view = old
            views[certificate_id] = view
        self._views = dict(views)
        views.update(self.watcher.views(now, warning))
        self._changed.update(self.watcher.take_changed())
        expiring = 0
        for view in views.values():
            if view.status is not CertificateStatus.REVOKED and view.info is not None:
                remaining = view.info.not_after - now
                expiring += timedelta(0) < remaining <= warning
        horizon = now - timedelta(days=FAILURE_WINDOW_DAYS)
        return FleetSnapshot(
            authority=AuthorityView(
                root=self._root_info,
                intermediate=self._intermediate_info,
                expiring=expiring,
                revoked=len(self._data.revocations),
                renewal_failures=sum(
                    moment > horizon for moment in self._data.failure_times
                ),
                telemetry=fleet_telemetry(views.values(), self._data.outcomes, now),
            ),
            certificates=views,
        )

    def _view(
        self,
        record: CertificateRecord,
        settings: IssuedSettings,
        now: datetime,
        warning: timedelta,
        fraction: float,
    ) -> CertificateView:
        """Judge one certificate at one moment."""
        current = record.current
        info = self._infos[current.serial_number] if current else None
        reasons: list[str] = []
        if record.revocation_reason is not None:
            reasons.append(CertificateStatus.REVOKED)
        if info is not None and info.not_after <= now:
            reasons.append(CertificateStatus.EXPIRED)
        if record.failures:
            reasons.append(
                "deploy_failed" if record.deploy_pending else "renewal_failed"
            )
        next_renewal = self._next_renewal(record, settings, info, fraction)
        if (
            settings.renewal is Renewal.DEVICE_PULL
            and info is not None
            and record.revocation_reason is None
        ):
            start, end = self._pull_window(record, info, fraction)
            if now >= end:
                reasons.append(REASON_RENEWAL_OVERDUE)
            # The view changes when the window opens and when it closes.
            next_renewal = start if now < start else end if now < end else None
        if info is not None and now < info.not_after <= now + warning:
            reasons.append(CertificateStatus.EXPIRING)
        return CertificateView(
            certificate_id=record.certificate_id,
            name=settings.name,
            info=info,
            status=status_of(reasons),
            reasons=tuple(reasons),
            days_remaining=days_remaining(info.not_after, now) if info else None,
            renewal=settings.renewal,
            next_renewal=next_renewal,
            last_renewal=record.last_renewal,
        )

    @staticmethod
    def _pull_window(
        record: CertificateRecord, info: CertificateInfo, fraction: float
    ) -> tuple[datetime, datetime]:
        """Return when a device should renew a certificate it pulls."""
        if record.renew_requested_at is not None:
            return (
                record.renew_requested_at,
                record.renew_requested_at + RENEWAL_WINDOW_AFTER_REQUEST,
            )
        return renewal_window(
            not_before=info.not_before,
            not_after=info.not_after,
            renew_at_fraction=fraction,
        )

    @staticmethod
    def _next_renewal(
        record: CertificateRecord,
        settings: IssuedSettings,
        info: CertificateInfo | None,
        fraction: float,
    ) -> datetime | None:
        """Return when Home PKI will next renew a certificate by itself."""
        if record.revocation_reason is not None:
            return None
        automatic = settings.renewal is Renewal.AUTOMATIC
        if record.retry_at is not None and (
            automatic or record.deploy_pending or info is None
        ):
            return record.retry_at
        if info is None or not automatic:
            return None
        return renewal_time(
            not_before=info.not_before,
            not_after=info.not_after,
            renew_at_fraction=fraction,
            jitter=record.jitter,
        )

    def _schedule_wakeup(self, now: datetime) -> None:
        """Set one timer for the earliest moment something changes or is due."""
        self._cancel_wakeup()
        # Work still under way when the entry unloads must not arm a new timer.
        if self.hass.is_stopping or self._shutdown_requested:
            return
        moments: list[datetime] = [now + MAX_WAKEUP_DELAY]
        if self._crl_refresh_at is not None:
            moments.append(self._crl_refresh_at)
        if self._kept:
            moments.append(min(changes_at for _, changes_at in self._kept.values()))
        if (watched := self.watcher.next_change) is not None:
            moments.append(watched)
        when = max(min(moments), now + MIN_WAKEUP_SPACING)
        self._unsub_wakeup = async_track_point_in_utc_time(
            self.hass, self._async_wakeup, when
        )

    def _cancel_wakeup(self) -> None:
        """Cancel the pending timer, if any."""
        if self._unsub_wakeup is not None:
            self._unsub_wakeup()
            self._unsub_wakeup = None

    async def _async_wakeup(self, _scheduled: datetime) -> None:
        """Do what is due: renewals, retries, deployments and the CRL."""
        self._unsub_wakeup = None
        now = dt_util.utcnow()
        if self._crl_refresh_at is not None and now >= self._crl_refresh_at:
            await self._async_publish_crl(now)
        due = [
            certificate_id
            for certificate_id, view in self._views.items()
            if view.next_renewal is not None
            and view.next_renewal <= now
            and view.renewal is not Renewal.DEVICE_PULL
        ]
        renewals: list[tuple[str, bool | None]] = []
        for certificate_id in due:
            if self._data.certificates[certificate_id].deploy_pending:
                await self._async_deploy(certificate_id)
            else:
                renewals.append((certificate_id, None))
        await self._async_renew_batch(renewals)
        self._async_publish()

    async def async_sync_subentries(self, *, publish: bool = True) -> None:
        """Issue certificates for new subentries and retire removed ones.

        Runs one at a time: a run that waits on issuance must not retire a
        certificate that a later change added meanwhile.
        """
        async with self._sync_lock:
            added = self._wanted() - self._data.certificates.keys()
            for certificate_id in added:
                self._data.certificates[certificate_id] = CertificateRecord(
                    certificate_id=certificate_id, jitter=_JITTER.random()
                )
            await self._async_renew_batch(
                (certificate_id, True)
                for certificate_id in added
                if self.settings(certificate_id).renewal is not Renewal.DEVICE_PULL
            )
            await self._async_apply_changes(
                self._wanted() & self._data.certificates.keys() - added
            )
            for certificate_id in self._data.certificates.keys() - self._wanted():
                await self._async_retire(certificate_id)
            await self.watcher.async_sync()
            await self.acme.async_sync()
        if publish:
            self._async_publish()

    def _wanted(self) -> set[str]:
        """Return the IDs of the issued-certificate subentries as they are now."""
        return {
            subentry_id
            for subentry_id, subentry in self.config_entry.subentries.items()
            if subentry.subentry_type == SUBENTRY_ISSUED
        }

    async def _async_apply_changes(self, certificate_ids: Iterable[str]) -> None:
        """Bring certificates in line with their settings after a reconfigure.

        What is compared is what was really issued and deployed, not the
        previous settings, so a change is never lost to a restart.
        """
        reissue: list[tuple[str, bool | None]] = []
        devices = dr.async_get(self.hass)
        for certificate_id in certificate_ids:
            settings = self.settings(certificate_id)
            subentry = self.config_entry.subentries[certificate_id]
            manufacturer = subentry.data.get(CONF_MANUFACTURER)
            model = subentry.data.get(CONF_MODEL)
            device = devices.async_get_device(identifiers={(DOMAIN, certificate_id)})
            if device is not None and (
                device.name,
                device.manufacturer,
                device.model,
            ) != (
                settings.name,
                manufacturer,
                model,
            ):
                devices.async_update_device(
                    device.id,
                    name=settings.name,
                    manufacturer=manufacturer,
                    model=model,
                )

            record = self._data.certificates[certificate_id]
            current = record.current
            if (
                record.revocation_reason is not None
                or current is None
                or settings.renewal is Renewal.DEVICE_PULL
            ):
                continue
            info = self._infos[current.serial_number]
            new_key = info.key_type != KEY_TYPES[settings.key_algorithm]
            if new_key or (info.dns_names, info.ip_addresses) != (
                settings.dns_names,
                settings.ip_addresses,
            ):
                reissue.append((certificate_id, True if new_key else None))
            elif settings.deploy_path not in (None, record.deployed_to):
                record.deploy_pending = True
                self._dirty.add(certificate_id)
                await self._async_deploy(certificate_id)
        await self._async_renew_batch(reissue)

    async def async_renew(self, certificate_id: str, *, rekey: bool | None) -> None:
        """Renew one certificate now, raising a translated error on failure.

        A device that pulls its certificate holds its own key: it is told,
        through its renewal information, to renew now.
        """
        if self.settings(certificate_id).renewal is Renewal.DEVICE_PULL:
            record = self._data.certificates[certificate_id]
            if record.current is None:
                raise_validation("not_issued", name=self.settings(certificate_id).name)
            record.renew_requested_at = dt_util.utcnow()
            self._dirty.add(certificate_id)
            await self._store.async_save_data(self._data)
            LOGGER.info(
                "Asked %s to renew its certificate", self.settings(certificate_id).name
            )
            self._async_publish()
            return
        renewed = await self._async_renew(certificate_id, rekey=rekey)
        self._async_publish()
        if not renewed:
            record = self._data.certificates[certificate_id]
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="renewal_failed",
                translation_placeholders={
                    "name": self.settings(certificate_id).name,
                    "error": record.last_error or "",
                },
            )

    async def _async_renew(self, certificate_id: str, *, rekey: bool | None) -> bool:
        """Renew one certificate; return whether it worked."""
        return await self._async_renew_batch([(certificate_id, rekey)]) == 1

    async def _async_renew_batch(
        self, requests: Iterable[tuple[str, bool | None]]
    ) -> int:
        """Issue new generations, persist them together, then deploy and announce.

        A rekey of None means the certificate's own choice: a new key unless
        the device keeps a fixed one. A revoked key is never reused.
        """
        issued: list[tuple[str, bool, set[str]]] = []
        for certificate_id, rekey in requests:
            async with self._locks[certificate_id]:
                outcome = await self._async_issue(certificate_id, rekey)
            if outcome is not None:
                issued.append((certificate_id, *outcome))
        if not issued:
            return 0
        await self._store.async_save_data(self._data)

        for certificate_id, first, stale in issued:
            if stale:
                await self.hass.async_add_executor_job(
                    self._remove_keys, certificate_id, stale
                )
            record = self._data.certificates[certificate_id]
            settings = self.settings(certificate_id)
            info = self._infos[record.generations[-1].serial_number]
            LOGGER.info(
                "%s certificate for %s, serial %s, valid until %s",
                "Issued" if first else "Renewed",
                settings.name,
                info.serial_hex,
                info.not_after.isoformat(),
            )
            if record.deploy_pending:
                await self._async_deploy(certificate_id)
            else:
                self._announce(certificate_id)
        return len(issued)

    def _announce(self, certificate_id: str) -> None:
        """Fire the issued or renewed event once the credential is in place."""
        record = self._data.certificates[certificate_id]
        current = record.generations[-1]
        latency_ms = self._finish_attempt(certificate_id, None)
        self.fire_event(
            EVENT_CERTIFICATE_ISSUED
            if record.issued_count == 1
            else EVENT_CERTIFICATE_RENEWED,
            certificate_id,
            self.settings(certificate_id).name,
            self._infos[current.serial_number],
            extra={ATTR_LATENCY_MS: latency_ms},
        )
        self._store.async_schedule_save_data(self._data)

    def _start_attempt(self, certificate_id: str) -> None:
        """Note when an issuance or deployment attempt began."""
        self._attempts[certificate_id] = clock_ms()

    def _finish_attempt(self, certificate_id: str, failed_class: str | None) -> int:
        """Keep how an attempt ended and how long it took; return the latency."""
        started = self._attempts.pop(certificate_id, None)
        latency_ms = 0 if started is None else max(0, round(clock_ms() - started))
        self._data.outcomes = add_outcome(
            self._data.outcomes,
            RenewalOutcome(
                at=dt_util.utcnow(),
                succeeded=failed_class is None,
                latency_ms=latency_ms,
                error_class=failed_class,
            ),
        )
        return latency_ms

    async def _async_issue(
        self, certificate_id: str, rekey: bool | None
    ) -> tuple[bool, set[str]] | None:
        """Add a new generation to a record in memory; None when it failed."""
        record = self._data.certificates[certificate_id]
        settings = self.settings(certificate_id)
        first = record.current is None
        if rekey is None:
            rekey = not settings.fixed_key
        rekey = rekey or first or record.revocation_reason is not None
        self._start_attempt(certificate_id)
        now = dt_util.utcnow()
        serial = new_serial_number(self._data.serials)
        self._data.serials.add(serial)
        LOGGER.debug("Issuing serial %s for %s", serial_to_hex(serial), settings.name)
        try:
            generation = await self.hass.async_add_executor_job(
                self._issue_generation, record, settings, rekey, serial, now
            )
        except (PkiError, OSError) as err:
            await self._async_record_failure(record, settings, err, now)
            return None

        stale = self._add_generation(record, settings, generation, now, "Renewed")
        record.deploy_pending = settings.deploy_path is not None
        return first, stale

    def _add_generation(
        self,
        record: CertificateRecord,
        settings: IssuedSettings,
        generation: Generation,
        now: datetime,
        done: str,
    ) -> set[str]:
        """Make a new generation current; return key files no longer used.

        A new certificate clears earlier failures, a revocation and a request
        to renew, and draws the next renewal's jitter.
        """
        self._clear_failures(record, settings, done)
        record.generations = (*record.generations, generation)
        record.issued_count += 1
        record.last_renewal = now
        record.jitter = _JITTER.random()
        record.revocation_reason = None
        record.revoked_at = None
        record.renew_requested_at = None
        return self._prune(record, now)

    def _issue_generation(
        self,
        record: CertificateRecord,
        settings: IssuedSettings,
        rekey: bool,
        serial: int,
        now: datetime,
    ) -> Generation:
        """Make a key (or reuse the current one), sign a certificate, write the key."""
        current = record.current
        folder = self._cert_dir(record.certificate_id)
        if rekey or current is None or current.key_file is None:
            key = generate_private_key(settings.key_algorithm)
            key_file = f"{serial_to_hex(serial)}.key"
            key_pem = private_key_to_pem(key)
        else:
            key_file = current.key_file
            key = load_private_key((folder / key_file).read_bytes())
            key_pem = b""
        certificate = self._authority.issue(
            IssueRequest(
                common_name=settings.common_name,
                dns_names=settings.dns_names,
                ip_addresses=tuple(
                    parse_ip_address(address) for address in settings.ip_addresses
                ),
                public_key=key.public_key(),
                validity_days=settings.validity_days,
                serial_number=serial,
            ),
            now,
        )
        if key_pem:
            write_private(folder / key_file, key_pem)
        generation = Generation(
            serial_number=serial,
            certificate_pem=certificate_to_pem(certificate),
            issued_at=now,
            not_after=certificate.not_valid_after_utc,
            key_file=key_file,
        )
        self._infos[serial] = inspect_certificate(certificate)
        return generation

    def _prune(self, record: CertificateRecord, now: datetime) -> set[str]:
        """Drop expired earlier generations; return key files no longer used."""
        current = record.generations[-1]
        kept = [gen for gen in record.generations[:-1] if gen.not_after > now]
        dropped = [gen for gen in record.generations[:-1] if gen.not_after <= now]
        record.generations = (*kept, current)
        for generation in dropped:
            self._infos.pop(generation.serial_number, None)
        in_use = {gen.key_file for gen in record.generations}
        return {
            gen.key_file
            for gen in dropped
            if gen.key_file is not None and gen.key_file not in in_use
        }

    def _remove_keys(self, certificate_id: str, key_files: Iterable[str]) -> None:
        """Delete key files of generations that are gone."""
        for key_file in key_files:
            remove_file(self._cert_dir(certificate_id) / key_file)

    def _clear_failures(
        self, record: CertificateRecord, settings: IssuedSettings, done: str
    ) -> None:
        """Forget earlier failures of a record, saying so when there were some."""
        if record.failures:
            LOGGER.info(
                "%s the certificate for %s after %s failed attempts",
                done,
                settings.name,
                record.failures,
            )
        self._dirty.add(record.certificate_id)
        record.failures = 0
        record.last_error = None
        record.retry_at = None

    async def _async_record_failure(
        self,
        record: CertificateRecord,
        settings: IssuedSettings,
        err: Exception,
        now: datetime,
    ) -> None:
        """Count a failed attempt, back off, persist and announce it."""
        self._dirty.add(record.certificate_id)
        record.failures += 1
        record.last_error = f"{type(err).__name__}: {err}"
        record.retry_at = now + retry_delay(record.failures)
        horizon = now - timedelta(days=FAILURE_WINDOW_DAYS)
        self._data.failure_times = [
            moment for moment in self._data.failure_times if moment > horizon
        ]
        self._data.failure_times.append(now)
        failed_class = error_class(err, deploying=record.deploy_pending)
        self._finish_attempt(record.certificate_id, failed_class)
        await self._store.async_save_data(self._data)
        log = LOGGER.warning if record.failures == 1 else LOGGER.debug
        log(
            "Could not %s certificate for %s (%s); attempt %s, next at %s",
            "deploy the" if record.deploy_pending else "renew the",
            settings.name,
            record.last_error,
            record.failures,
            record.retry_at.isoformat(),
        )
        current = record.current
        self.fire_event(
            EVENT_RENEWAL_FAILED,
            record.certificate_id,
            settings.name,
            self._infos[current.serial_number] if current else None,
            error_class=failed_class,
        )

    async def _async_deploy(self, certificate_id: str) -> None:
        """Write the current credential into the device's folder, then announce it.

        The issued or renewed event waits for the files, so a follow-up action
        such as restarting a broker never runs against the old ones.
        """
        record = self._data.certificates[certificate_id]
        settings = self.settings(certificate_id)
        if certificate_id not in self._attempts:
            self._start_attempt(certificate_id)
        try:
            await self.hass.async_add_executor_job(self._deploy, record, settings)
        except OSError as err:
            await self._async_record_failure(record, settings, err, dt_util.utcnow())
            return
        self._clear_failures(record, settings, "Deployed")
        record.deploy_pending = False
        moved_from, record.deployed_to = record.deployed_to, settings.deploy_path
        await self._store.async_save_data(self._data)
        if moved_from not in (None, settings.deploy_path):
            await self.hass.async_add_executor_job(self._remove_deployed, moved_from)
        LOGGER.debug("Deployed %s to %s", settings.name, settings.deploy_path)
        self._announce(certificate_id)

    def _deploy(self, record: CertificateRecord, settings: IssuedSettings) -> None:
        """Write cert.pem, key.pem, chain.pem, fullchain.pem and ca.pem atomically."""
        current = record.current
        if current is None or current.key_file is None or settings.deploy_path is None:
            return
        folder = Path(settings.deploy_path)
        if not self.hass.config.is_allowed_path(settings.deploy_path):
            # The allowlist may have shrunk since the folder was chosen.
            raise PermissionError(f"{folder} is not in allowlist_external_dirs")
        key_pem = (
            self._cert_dir(record.certificate_id) / current.key_file
        ).read_bytes()
        chain = self._data.intermediate_pem
        # The same names as DEPLOYED_FILES, which a removal deletes again.
        write_private(folder / "key.pem", key_pem)
        write_atomic(folder / "cert.pem", current.certificate_pem.encode())
        write_atomic(folder / "chain.pem", chain.encode())
        write_atomic(
            folder / "fullchain.pem", (current.certificate_pem + chain).encode()
        )
        write_atomic(folder / "ca.pem", self._data.root_pem.encode())

    async def _async_retire(self, certificate_id: str) -> None:
        """Revoke and forget a removed certificate, its keys and its deployed files."""
        record = self._data.certificates[certificate_id]
        current = record.current
        info = self._infos[current.serial_number] if current else None
        cached = self._settings.get(certificate_id)
        name = cached[3].name if cached else certificate_id
        announce = record.revocation_reason is None and info is not None
        if announce:
            self._revoke_generations(
                record, RevocationReason.CESSATION_OF_OPERATION, dt_util.utcnow()
            )
        del self._data.certificates[certificate_id]
        self._settings.pop(certificate_id, None)
        self._kept.pop(certificate_id, None)
        for generation in record.generations:
            self._infos.pop(generation.serial_number, None)
        await self._async_publish_crl(dt_util.utcnow())
        if announce and info is not None:
            self.fire_event(EVENT_CERTIFICATE_REVOKED, certificate_id, name, info)
        await self.hass.async_add_executor_job(
            self._remove_files, certificate_id, record.deployed_to
        )
        LOGGER.info("Removed the certificate for %s and revoked what it held", name)

    def _remove_files(self, certificate_id: str, deployed_to: str | None) -> None:
        """Delete a removed certificate's keys and the files deployed for it."""
        shutil.rmtree(self._cert_dir(certificate_id), ignore_errors=True)
        if deployed_to is not None:
            self._remove_deployed(deployed_to)

    @staticmethod
    def _remove_deployed(folder: str) -> None:
        """Delete the files Home PKI wrote into a deploy folder."""
        for name in DEPLOYED_FILES:
            remove_file(Path(folder) / name)

    def _revoke_generations(
        self, record: CertificateRecord, reason: RevocationReason, now: datetime
    ) -> None:
        """Put every unexpired generation of a record on the CRL."""
        for generation in record.generations:
            if generation.not_after > now:
                self._add_revocation(
                    generation.serial_number, generation.not_after, reason, now
                )
        self._dirty.add(record.certificate_id)
        record.revocation_reason = reason
        record.revoked_at = now
        record.failures = 0
        record.retry_at = None
        record.deploy_pending = False

    def _add_revocation(
        self, serial: int, not_after: datetime, reason: RevocationReason, now: datetime
    ) -> bool:
        """Put a serial number on the CRL; return False if it is there already."""
        if any(item.entry.serial_number == serial for item in self._data.revocations):
            return False
        self._data.revocations.append(
            RevocationRecord(
                entry=RevokedEntry(serial_number=serial, revoked_at=now, reason=reason),
                not_after=not_after,
            )
        )
        return True

    async def async_revoke(self, certificate_id: str, reason: RevocationReason) -> None:
        """Revoke an issued certificate; it is never renewed automatically again."""
        async with self._locks[certificate_id]:
            record = self._data.certificates[certificate_id]
            settings = self.settings(certificate_id)
            current = record.current
            if current is None or record.revocation_reason is not None:
                raise_validation("not_revocable", name=settings.name)
            now = dt_util.utcnow()
            self._revoke_generations(record, reason, now)
            await self._async_publish_crl(now)
            info = self._infos[current.serial_number]
            LOGGER.info(
                "Revoked certificate for %s, serial %s (%s)",
                settings.name,
                info.serial_hex,
                reason,
            )
            self.fire_event(
                EVENT_CERTIFICATE_REVOKED, certificate_id, settings.name, info
            )
        self._async_publish()

    async def async_revoke_serial(self, serial: int, reason: RevocationReason) -> None:
        """Revoke a certificate that was signed from a CSR."""
        signed = self._data.signed.get(serial)
        now = dt_util.utcnow()
        if signed is None or not self._add_revocation(
            serial, signed.not_after, reason, now
        ):
            raise_validation("not_revocable", name=serial_to_hex(serial))
        await self._async_publish_crl(now)
        LOGGER.info(
            "Revoked signed certificate, serial %s (%s)", serial_to_hex(serial), reason
        )
        self.fire_event(EVENT_CERTIFICATE_REVOKED, None, signed.common_name, signed)
        self._async_publish()

    def _generation_of(
        self, serial: int
    ) -> tuple[CertificateRecord, Generation] | None:
        """Return the record and generation that hold a serial number.

        Which record holds which serial is indexed, and the index is made
        again when a serial is not in it.
        """
        found = self._find_generation(serial)
        if found is None:
            self._owners = {
                generation.serial_number: certificate_id
                for certificate_id, record in self._data.certificates.items()
                for generation in record.generations
            }
            found = self._find_generation(serial)
        return found

    def _find_generation(
        self, serial: int
    ) -> tuple[CertificateRecord, Generation] | None:
        """Look a serial up in the index of serials to records."""
        record = self._data.certificates.get(self._owners.get(serial, ""))
        if record is None:
            return None
        for generation in record.generations:
            if generation.serial_number == serial:
                return record, generation
        return None

    def _revoked_serial(self, serial: int) -> RevocationRecord | None:
        """Return the revocation of a serial number, if it was revoked."""
        for item in self._data.revocations:
            if item.entry.serial_number == serial:
                return item
        return None

    def issued_certificate(self, serial: int) -> IssuedCertificate | None:
        """Return a device certificate this CA issued, for ACME."""
        found = self._generation_of(serial)
        if found is None:
            return None
        record, generation = found
        return IssuedCertificate(
            serial_number=serial,
            certificate_id=record.certificate_id,
            chain_pem=generation.certificate_pem + self._data.intermediate_pem,
            certificate=load_certificates(generation.certificate_pem.encode())[0],
            revoked=self._revoked_serial(serial) is not None,
        )

    def suggested_window(self, serial: int) -> tuple[datetime, datetime] | None:
        """Return when a certificate's holder should renew it (RFC 9773).

        A revoked certificate, or one already renewed, is to be renewed now.
        """
        found = self._generation_of(serial)
        if found is None:
            return None
        record, generation = found
        revoked = self._revoked_serial(serial)
        if revoked is not None:
            moment = revoked.entry.revoked_at
            return moment - RENEWAL_WINDOW_AFTER_REQUEST, moment
        if generation is not record.current:
            moment = record.last_renewal or generation.issued_at
            return moment - RENEWAL_WINDOW_AFTER_REQUEST, moment
        info = self._parse(generation)
        fraction = self.config_entry.options.get(
            CONF_RENEW_AT_FRACTION, DEFAULT_RENEW_AT_FRACTION
        )
        return self._pull_window(record, info, fraction)

    async def async_issue_for_device(
        self, certificate_id: str, request: CsrRequest
    ) -> int:
        """Issue a certificate for a device's own key, as its ACME order asked.

        It becomes the device's current generation, with no key held here,
        and is announced like any other renewal.
        """
        async with self._locks[certificate_id]:
            self._start_attempt(certificate_id)
            record = self._data.certificates[certificate_id]
            settings = self.settings(certificate_id)
            now = dt_util.utcnow()
            serial = new_serial_number(self._data.serials)
            self._data.serials.add(serial)
            certificate, info = await self.hass.async_add_executor_job(
                self._issue_inspected,
                IssueRequest(
                    common_name=(
                        request.dns_names[0] if request.dns_names else settings.name
                    ),
                    dns_names=request.dns_names,
                    ip_addresses=request.ip_addresses,
                    public_key=request.public_key,
                    validity_days=settings.validity_days,
                    serial_number=serial,
                ),
                now,
            )
            self._infos[serial] = info
            generation = Generation(
                serial_number=serial,
                certificate_pem=certificate_to_pem(certificate),
                issued_at=now,
                not_after=certificate.not_valid_after_utc,
                key_file=None,
            )
            stale = self._add_generation(record, settings, generation, now, "Issued")
            await self._store.async_save_data(self._data)
        if stale:
            await self.hass.async_add_executor_job(
                self._remove_keys, certificate_id, stale
            )
        LOGGER.info(
            "%s certificate for %s over ACME, serial %s, valid until %s",
            "Issued" if record.issued_count == 1 else "Renewed",
            settings.name,
            serial_to_hex(serial),
            certificate.not_valid_after_utc.isoformat(),
        )
        self._announce(certificate_id)
        self._async_publish()
        return serial

    def _issue_inspected(
        self, request: IssueRequest, now: datetime
    ) -> tuple[x509.Certificate, CertificateInfo]:
        """Issue a certificate and read it, in one trip to the executor."""
        certificate = self._authority.issue(request, now)
        return certificate, inspect_certificate(certificate)

    async def async_revoke_by_serial(
        self, serial: int, reason: RevocationReason
    ) -> None:
        """Revoke one certificate by its serial number, whatever holds it."""
        found = self._generation_of(serial)
        if found is None:
            await self.async_revoke_serial(serial, reason)
            return
        record, generation = found
        if generation is record.current:
            await self.async_revoke(record.certificate_id, reason)
            return
        now = dt_util.utcnow()
        if not self._add_revocation(serial, generation.not_after, reason, now):
            raise_validation("not_revocable", name=serial_to_hex(serial))
        await self._async_publish_crl(now)
        settings = self.settings(record.certificate_id)
        LOGGER.info(
            "Revoked an earlier certificate of %s, serial %s (%s)",
            settings.name,
            serial_to_hex(serial),
            reason,
        )
        self.fire_event(
            EVENT_CERTIFICATE_REVOKED,
            record.certificate_id,
            settings.name,
            self._parse(generation),
        )

    async def async_issue_service_certificate(
        self, names: Iterable[str], public_key: PublicKey, validity_days: int
    ) -> x509.Certificate:
        """Issue a server certificate for one of Home PKI's own listeners."""
        dns_names: list[str] = []
        addresses: list[IPv4Address | IPv6Address] = []
        for name in names:
            try:
                addresses.append(parse_ip_address(name))
            except PkiError:
                dns_names.append(name)
        serial = new_serial_number(self._data.serials)
        self._data.serials.add(serial)
        certificate = await self.hass.async_add_executor_job(
            self._authority.issue,
            IssueRequest(
                common_name=dns_names[0] if dns_names else SERVICE_COMMON_NAME,
                dns_names=tuple(dns_names),
                ip_addresses=tuple(addresses),
                public_key=public_key,
                validity_days=validity_days,
                serial_number=serial,
                client_auth=False,
            ),
            dt_util.utcnow(),
        )
        await self._store.async_save_data(self._data)
        return certificate

    async def async_replace_intermediate(self) -> None:
        """Give the intermediate a new certificate from the root, to a later end.

        Its key stays, so what it issued before still chains to it and the one
        CRL and OCSP responder go on answering for old and new certificates
        alike. The earlier certificate is kept in the store; devices get the
        new chain with their next renewal.
        """
        now = dt_util.utcnow()
        try:
            certificate = await self.hass.async_add_executor_job(
                self._renew_intermediate, now
            )
        except (OSError, PkiError) as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="intermediate_not_replaced",
                translation_placeholders={"error": str(err)},
            ) from err
        self._data.previous_intermediates.append(self._data.intermediate_pem)
        self._data.intermediate_pem = certificate_to_pem(certificate)
        self._data.serials.add(certificate.serial_number)
        await self._store.async_save_data(self._data)
        await self.hass.async_add_executor_job(self._load_authority, self.public_url)
        self._home_trust = None
        await self._async_publish_crl(now)
        LOGGER.info(
            "Gave the intermediate of %s a new certificate, valid until %s",
            self.config_entry.title,
            certificate.not_valid_after_utc.isoformat(),
        )
        self._async_publish()

    def _renew_intermediate(self, now: datetime) -> x509.Certificate:
        """Read the root key and certify the intermediate's key again with it."""
        root_key = load_private_key((self.key_dir / "root.key").read_bytes())
        return renew_intermediate(
            root=self._authority.root,
            root_key=PrivateKeySigner(root_key),
            intermediate=self._authority.intermediate,
            validity_days=self.config_entry.data[CONF_INTERMEDIATE_VALIDITY_DAYS],
            now=now,
        )

    async def _async_publish_crl(self, now: datetime) -> None:
        """Sign a new CRL of the unexpired revoked serials and persist its number."""
        self._data.revocations = [
            item for item in self._data.revocations if item.not_after > now
        ]
        self.ocsp.invalidate()
        self._data.crl_number += 1
        crl = await self.hass.async_add_executor_job(
            lambda: build_crl(
                issuer=self._authority.intermediate,
                signing_key=self._authority.signing_key,
                entries=[item.entry for item in self._data.revocations],
                crl_number=self._data.crl_number,
                now=now,
            )
        )
        self._crl_der = crl_to_der(crl)
        self._crl_refresh_at = crl_refresh_time(crl)
        await self._store.async_save_data(self._data)
        LOGGER.debug("Published CRL number %s", self._data.crl_number)

    async def async_sign_csr(
        self, csr: str, validity_days: int | None
    ) -> SignedCertificate:
        """Check a device's CSR against the policy and sign it."""
        days = validity_days or self.config_entry.options.get(
            CONF_DEFAULT_VALIDITY_DAYS, DEFAULT_VALIDITY_DAYS
        )
        serial = new_serial_number(self._data.serials)
        self._data.serials.add(serial)
        now = dt_util.utcnow()
        certificate = await self.hass.async_add_executor_job(
            self._sign_csr, csr, days, serial, now
        )
        info = inspect_certificate(certificate)
        pem = certificate_to_pem(certificate)
        self._data.signed[serial] = SignedRecord(
            serial_number=serial,
            certificate_pem=pem,
            common_name=info.common_name,
            not_after=info.not_after,
        )
        await self._store.async_save_data(self._data)
        LOGGER.info(
            "Signed CSR for %s, serial %s, valid until %s",
            info.common_name,
            info.serial_hex,
            info.not_after.isoformat(),
        )
        self.fire_event(EVENT_CERTIFICATE_ISSUED, None, info.common_name, info)
        return SignedCertificate(
            certificate_pem=pem,
            chain_pem=self.ca_pem,
            serial_number=serial,
            not_after=info.not_after,
        )

    def _sign_csr(
        self, csr: str, validity_days: int, serial: int, now: datetime
    ) -> x509.Certificate:
        """Validate a CSR and sign it for the names it asks for."""
        request = check_csr(self.policy, csr)
        return self._authority.issue(
            IssueRequest(
                common_name=request.common_name
                or (request.dns_names or tuple(map(str, request.ip_addresses)))[0],
                dns_names=request.dns_names,
                ip_addresses=request.ip_addresses,
                public_key=request.public_key,
                validity_days=validity_days,
                serial_number=serial,
            ),
            now,
        )

    async def async_export(
        self, certificate_id: str, *, include_private_key: bool
    ) -> ExportedCredential:
        """Return the current credential of one certificate."""
        record = self._data.certificates[certificate_id]
        current = record.current
        settings = self.settings(certificate_id)
        if current is None:
            raise_validation("not_issued", name=settings.name)
        key_pem: str | None = None
        if include_private_key and current.key_file is not None:
            path = self._cert_dir(certificate_id) / current.key_file
            key_pem = (await self.hass.async_add_executor_job(path.read_bytes)).decode()
            LOGGER.info("Exported the private key of %s", settings.name)
        return ExportedCredential(
            certificate_pem=current.certificate_pem,
            chain_pem=self._data.intermediate_pem,
            root_pem=self._data.root_pem,
            private_key_pem=key_pem,
        )

    async def async_refresh_all(self, watched: Iterable[str] | None = None) -> None:
        """Retry pending deployments, check watched certificates and publish."""
        for certificate_id, record in list(self._data.certificates.items()):
            if record.deploy_pending:
                await self._async_deploy(certificate_id)
        await self.watcher.async_check_now(watched)
        self._async_publish()

    def fire_event(
        self,
        event_type: str,
        certificate_id: str | None,
        name: str | None,
        certificate: CertificateInfo | SignedRecord | None,
        *,
        error_class: str | None = None,
        extra: Mapping[str, str | bool | int | None] | None = None,
    ) -> None:
        """Fire one of Home PKI's events; never with key material."""
        data: dict[str, str | bool | int | None] = {
            ATTR_CONFIG_ENTRY_ID: self.config_entry.entry_id,
            ATTR_CERTIFICATE_ID: certificate_id,
            CONF_NAME: name,
            ATTR_SERIAL_NUMBER: (
                serial_to_hex(certificate.serial_number) if certificate else None
            ),
            ATTR_NOT_AFTER: certificate.not_after.isoformat() if certificate else None,
        }
        if error_class is not None:
            data[ATTR_ERROR_CLASS] = error_class
        if extra:
            data.update(extra)
        self.hass.bus.async_fire(event_type, data, context=acting_context())

    async def async_remove_storage(self) -> None:
        """Delete the keys, deployed files and metadata of this CA for good."""
        data = await self._store.async_load_data()
        for record in data.certificates.values() if data else ():
            await self.hass.async_add_executor_job(
                self._remove_files, record.certificate_id, record.deployed_to
            )
        await self._store.async_remove()
        await self.watcher.async_remove_storage()
        await self.acme.async_remove_storage()
        await self.hass.async_add_executor_job(shutil.rmtree, self.key_dir, True)
