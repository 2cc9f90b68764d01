"""The home's ACME server: its own TLS listener, device credentials and state."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address
import json
from pathlib import Path
import secrets
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from cryptography import x509

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import network
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ACME_KEY_ID,
    CONF_ACME_NAMES,
    CONF_ACME_PORT,
    CONF_DEFAULT_VALIDITY_DAYS,
    CONF_RENEW_AT_FRACTION,
    CONF_RENEWAL,
    DEFAULT_ACME_PORT,
    DEFAULT_RENEW_AT_FRACTION,
    DEFAULT_VALIDITY_DAYS,
    DOMAIN,
    LOGGER,
    SUBENTRY_ISSUED,
    Renewal,
)
from .pki.acme.jws import b64decode, b64encode
from .pki.acme.server import AcmeServer, IssuedCertificate, ValidationPorts
from .pki.acme.state import AcmeState
from .pki.acme.validation import Identifier
from .pki.errors import PkiError
from .pki.inspect import certificate_to_pem, inspect_certificate, load_certificates
from .pki.keys import KeyAlgorithm, generate_private_key, private_key_to_pem
from .pki.policy import CsrRequest, check_csr, permitted_host
from .pki.revocation import RevocationReason
from .pki.schedule import renewal_time
from .pki.store import write_atomic, write_private

if TYPE_CHECKING:
    from .coordinator import HomePkiCoordinator

ACME_STORAGE_VERSION = 1
ACME_SAVE_DELAY = 5
# Where devices answer challenges; a test may point them elsewhere.
VALIDATION_PORTS = ValidationPorts()
MAC_KEY_BYTES = 32
FALLBACK_NAME = "homeassistant.local"
LISTENER_RETRY = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class AcmeCredentials:
    """What a device's ACME client needs: the directory and its EAB key."""

    directory_url: str
    key_id: str
    mac_key: str


class AcmeStore(Store[dict[str, Any]]):
    """The accounts, orders and authorizations of one CA's ACME server."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Keep them under the entry's ID."""
        super().__init__(
            hass, ACME_STORAGE_VERSION, f"{DOMAIN}.{entry_id}.acme", private=True
        )


def default_names(hass: HomeAssistant) -> list[str]:
    """Return the names Home Assistant is reached at on the home network."""
    names: list[str] = []
    for prefer_external in (False, True):
        try:
            url = network.get_url(
                hass, allow_cloud=False, prefer_external=prefer_external
            )
        except network.NoURLAvailableError:
            continue
        if (host := urlsplit(url).hostname) and host not in names:
            names.append(host)
    if FALLBACK_NAME not in names:
        names.append(FALLBACK_NAME)
    return names


class AcmeService:
    """The ACME server of one CA, listening while a device pulls its certificate."""

    def __init__(self, coordinator: HomePkiCoordinator) -> None:
        """Prepare the service; nothing listens yet."""
        self._coordinator = coordinator
        self._hass = coordinator.hass
        self._folder = coordinator.key_dir / "acme"
        self._store = AcmeStore(coordinator.hass, coordinator.config_entry.entry_id)
        self._mac_keys: dict[str, bytes] = {}
        self._server: AcmeServer | None = None
        self._runner: web.AppRunner | None = None
        self._context: ssl.SSLContext | None = None
        self._listening: tuple[int, tuple[str, ...]] | None = None
        self._unsub_renewal: CALLBACK_TYPE | None = None
        self.state = AcmeState()

    # Credentials

    @property
    def _keys_file(self) -> Path:
        """Return the file of the EAB MAC keys (0600)."""
        return self._folder / "eab_keys.json"

    def _read_keys(self) -> dict[str, bytes]:
        """Read the MAC keys (executor)."""
        try:
            raw = json.loads(self._keys_file.read_bytes())
        except FileNotFoundError:
            return {}
        return {key_id: b64decode(value, "a MAC key") for key_id, value in raw.items()}

    def _write_keys(self, keys: dict[str, bytes]) -> None:
        """Write the MAC keys (executor)."""
        data = {key_id: b64encode(value) for key_id, value in keys.items()}
        write_private(self._keys_file, json.dumps(data).encode())

    async def async_new_credentials(self) -> AcmeCredentials:
        """Make an EAB key for a device; it binds once a subentry names it."""
        key_id = _command_line_safe(lambda: secrets.token_urlsafe(12))
        mac_key = _command_line_safe(lambda: secrets.token_bytes(MAC_KEY_BYTES))
        self._mac_keys[key_id] = mac_key
        await self._hass.async_add_executor_job(self._write_keys, dict(self._mac_keys))
        return AcmeCredentials(
            directory_url=self.directory_url, key_id=key_id, mac_key=b64encode(mac_key)
        )

    async def async_rotate(self, certificate_id: str) -> AcmeCredentials:
        """Give a device new EAB credentials; its existing accounts stay bound."""
        entry = self._coordinator.config_entry
        subentry = entry.subentries[certificate_id]
        credentials = await self.async_new_credentials()
        old = subentry.data.get(CONF_ACME_KEY_ID)
        self._hass.config_entries.async_update_subentry(
            entry,
            subentry,
            data={**subentry.data, CONF_ACME_KEY_ID: credentials.key_id},
        )
        if old in self._mac_keys:
            del self._mac_keys[old]
            await self._hass.async_add_executor_job(
                self._write_keys, dict(self._mac_keys)
            )
        LOGGER.info("New ACME credentials for %s", subentry.title)
        return credentials

    @property
    def directory_url(self) -> str:
        """Return the URL devices find the ACME directory at."""
        names = self._names()
        host = names[0] if names else FALLBACK_NAME
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self._port()}/acme/directory"

    def _port(self) -> int:
        """Return the listener's port."""
        return int(
            self._coordinator.config_entry.options.get(
                CONF_ACME_PORT, DEFAULT_ACME_PORT
            )
        )

    def _names(self) -> list[str]:
        """Return the listener's names that the CA's policy permits."""
        options = self._coordinator.config_entry.options
        wanted = options.get(CONF_ACME_NAMES) or default_names(self._hass)
        policy = self._coordinator.policy
        names: list[str] = []
        for value in wanted:
            with suppress(PkiError):
                names.append(permitted_host(policy, value))
        return list(dict.fromkeys(names))

    # Lifecycle

    def _device_pull(self) -> dict[str, str]:
        """Return the devices that pull their certificates, by EAB key ID."""
        bound: dict[str, str] = {}
        for subentry_id, subentry in self._coordinator.config_entry.subentries.items():
            if _pulls(subentry) and (key_id := subentry.data.get(CONF_ACME_KEY_ID)):
                bound[key_id] = subentry_id
        return bound

    async def async_load(self) -> None:
        """Read the accounts and the MAC keys."""
        data = await self._store.async_load()
        if data is not None:
            self.state = AcmeState.from_dict(data)
        self._mac_keys = await self._hass.async_add_executor_job(self._read_keys)

    async def async_sync(self) -> None:
        """Listen while some device pulls its certificate; follow the options.

        The accounts of removed devices are forgotten.
        """
        if self.state.forget_devices(set(self._coordinator.config_entry.subentries)):
            if self._server is not None:
                self._server.reindex()
            self.state_changed()
        wanted = any(map(_pulls, self._coordinator.config_entry.subentries.values()))
        if not wanted:
            await self._async_stop_listening()
            return
        target = (self._port(), tuple(self._names()))
        if self._listening == target:
            return
        await self._async_stop_listening()
        await self._async_listen(*target)

    async def _async_listen(self, port: int, names: tuple[str, ...]) -> None:
        """Start the TLS listener with a certificate for its names."""
        if not names:
            LOGGER.error(
                "The ACME server has no name the CA may issue for; set acme_names"
            )
            return
        try:
            await self._async_ensure_certificate(names)
        except (PkiError, OSError, ssl.SSLError) as err:
            LOGGER.error("The ACME server has no certificate to listen with: %s", err)
            return
        server = AcmeServer(
            self,
            self.state,
            clock=dt_util.utcnow,
            ports=VALIDATION_PORTS,
        )
        runner = web.AppRunner(server.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, port=port, ssl_context=self._context)
        try:
            await site.start()
        except OSError as err:
            await runner.cleanup()
            await server.async_close()
            LOGGER.error("The ACME server cannot listen on port %s: %s", port, err)
            return
        self._server, self._runner = server, runner
        self._listening = (port, names)
        LOGGER.info("ACME server listening at %s", self.directory_url)

    async def _async_stop_listening(self) -> None:
        """Stop the listener, if it runs."""
        self._cancel_renewal()
        runner, self._runner = self._runner, None
        server, self._server = self._server, None
        self._listening = None
        if server is not None:
            await server.async_close()
        if runner is not None:
            # Devices' idle keep-alive connections end at once: a TLS close
            # would wait on each peer for up to half a minute.
            if runner.server is not None:
                for connection in runner.server.connections:
                    if connection.transport is not None:
                        connection.transport.abort()
            await runner.cleanup()
            LOGGER.debug("ACME server stopped")

    async def async_shutdown(self) -> None:
        """Stop listening and save what the server knows."""
        await self._async_stop_listening()
        await self._store.async_save(self.state.as_dict())

    async def async_remove_storage(self) -> None:
        """Forget the accounts of a removed CA."""
        await self._store.async_remove()

    def diagnostics(self) -> dict[str, Any]:
        """Describe the server and its accounts, without keys or contacts."""
        orders: dict[str, int] = {}
        for order in self.state.orders.values():
            orders[order.account_id] = orders.get(order.account_id, 0) + 1
        return {
            "listening": None
            if self._listening is None
            else {"port": self._listening[0], "names": list(self._listening[1])},
            "devices_with_credentials": len(self._device_pull()),
            "accounts": [
                {
                    "certificate_id": account.certificate_id,
                    "status": account.status,
                    "created": account.created.isoformat(),
                    "orders": orders.get(account.account_id, 0),
                }
                for account in self.state.accounts.values()
            ],
        }

    def state_changed(self) -> None:
        """Save the state soon."""
        self._store.async_delay_save(self.state.as_dict, ACME_SAVE_DELAY)

    # The listener's certificate

    def _read_certificate(self) -> tuple[x509.Certificate, set[str]] | None:
        """Read the listener's certificate and the names it carries (executor)."""
        try:
            certificate = load_certificates((self._folder / "server.pem").read_bytes())[
                0
            ]
        except (FileNotFoundError, PkiError):
            return None
        info = inspect_certificate(certificate)
        return certificate, {*info.dns_names, *info.ip_addresses}

    def _renewal_due(self, certificate: x509.Certificate) -> datetime:
        """Return when the listener's certificate renews, like any other."""
        fraction = self._coordinator.config_entry.options.get(
            CONF_RENEW_AT_FRACTION, DEFAULT_RENEW_AT_FRACTION
        )
        return renewal_time(
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            renew_at_fraction=fraction,
            jitter=0.0,
        )

    async def _async_ensure_certificate(self, names: tuple[str, ...]) -> None:
        """Issue the listener's certificate when it is missing, stale or due."""
        found = await self._hass.async_add_executor_job(self._read_certificate)
        now = dt_util.utcnow()
        if (
            found is None
            or found[1] != set(names)
            or now >= self._renewal_due(found[0])
            or not self._coordinator.issued_by_home_ca(found[0])
        ):
            certificate = await self._async_issue_certificate(names)
        else:
            certificate = found[0]
        if self._context is None:
            # A plain server context: devices are not asked for certificates,
            # so no trust store is loaded.
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        await self._hass.async_add_executor_job(
            self._context.load_cert_chain,
            self._folder / "fullchain.pem",
            self._folder / "server.key",
        )
        self._cancel_renewal()
        self._unsub_renewal = async_track_point_in_utc_time(
            self._hass, self._async_renew_certificate, self._renewal_due(certificate)
        )

    async def _async_issue_certificate(
        self, names: tuple[str, ...]
    ) -> x509.Certificate:
        """Issue the listener a certificate for its names and write its files."""
        days = self._coordinator.config_entry.options.get(
            CONF_DEFAULT_VALIDITY_DAYS, DEFAULT_VALIDITY_DAYS
        )
        key = await self._hass.async_add_executor_job(
            generate_private_key, KeyAlgorithm.EC_P256
        )
        certificate = await self._coordinator.async_issue_service_certificate(
            names, key.public_key(), days
        )
        pem = certificate_to_pem(certificate)
        chain = self._coordinator.intermediate_pem

        def write() -> None:
            write_private(self._folder / "server.key", private_key_to_pem(key))
            write_atomic(self._folder / "server.pem", pem.encode())
            write_atomic(self._folder / "fullchain.pem", (pem + chain).encode())

        await self._hass.async_add_executor_job(write)
        LOGGER.info("Issued the ACME server's certificate for %s", ", ".join(names))
        return certificate

    async def _async_renew_certificate(self, _now: datetime) -> None:
        """Renew the listener's certificate; new connections get the new one."""
        self._unsub_renewal = None
        if self._listening is None:
            return
        try:
            await self._async_ensure_certificate(self._listening[1])
        except (PkiError, OSError, ssl.SSLError) as err:
            # The current certificate keeps serving; try again later.
            LOGGER.warning("Could not renew the ACME server's certificate: %s", err)
            self._unsub_renewal = async_track_point_in_utc_time(
                self._hass,
                self._async_renew_certificate,
                dt_util.utcnow() + LISTENER_RETRY,
            )

    def _cancel_renewal(self) -> None:
        """Cancel the renewal timer."""
        if self._unsub_renewal is not None:
            self._unsub_renewal()
            self._unsub_renewal = None

    # What the ACME server asks of the CA

    def mac_key(self, key_id: str) -> bytes | None:
        """Return the MAC key of a key ID that a device holds."""
        if key_id not in self._device_pull():
            return None
        return self._mac_keys.get(key_id)

    def bound_device(self, key_id: str) -> str | None:
        """Return the certificate ID a key ID is bound to."""
        return self._device_pull().get(key_id)

    def _pulling(self, certificate_id: str) -> bool:
        """Tell whether a certificate still pulls over ACME."""
        subentry = self._coordinator.config_entry.subentries.get(certificate_id)
        return subentry is not None and _pulls(subentry)

    def identifiers(self, certificate_id: str) -> frozenset[Identifier] | None:
        """Return the names of a device, as ACME identifiers."""
        if not self._pulling(certificate_id):
            return None
        settings = self._coordinator.settings(certificate_id)
        return frozenset(
            {Identifier(type="dns", value=name) for name in settings.dns_names}
            | {
                Identifier(type="ip", value=str(ip_address(address)))
                for address in settings.ip_addresses
            }
        )

    def addresses(self, certificate_id: str) -> tuple[str, ...]:
        """Return the addresses the inventory gives a device."""
        if not self._pulling(certificate_id):
            return ()
        return self._coordinator.settings(certificate_id).ip_addresses

    def check_csr(self, csr_der: bytes) -> CsrRequest:
        """Check a CSR against the CA's policy."""
        return check_csr(self._coordinator.policy, csr_der)

    async def async_issue(
        self, certificate_id: str, request: CsrRequest, replaces: int | None
    ) -> int:
        """Issue a device's certificate from its CSR."""
        if not self._pulling(certificate_id):
            raise PkiError("the device no longer pulls its certificate")
        return await self._coordinator.async_issue_for_device(certificate_id, request)

    def certificate(self, serial_number: int) -> IssuedCertificate | None:
        """Return one of the CA's device certificates."""
        return self._coordinator.issued_certificate(serial_number)

    def certificate_serial(self, authority_key_id: bytes, serial: int) -> int | None:
        """Return the serial an ARI certificate ID names, if this CA issued it."""
        if authority_key_id != self._coordinator.intermediate_key_id:
            return None
        return serial if self.certificate(serial) is not None else None

    async def async_revoke(self, serial_number: int, reason: RevocationReason) -> None:
        """Revoke a certificate a device or its account asked to revoke."""
        await self._coordinator.async_revoke_by_serial(serial_number, reason)

    def renewal_window(self, serial_number: int) -> tuple[datetime, datetime] | None:
        """Return when a certificate should be renewed."""
        return self._coordinator.suggested_window(serial_number)


def _command_line_safe[T: (str, bytes)](draw: Callable[[], T]) -> T:
    """Draw a credential until it cannot be taken for a command-line option.

    certbot and lego would read a value starting with "-" as an option.
    """
    while True:
        value = draw()
        text = value if isinstance(value, str) else b64encode(value)
        if not text.startswith(("-", "_")):
            return value


def _pulls(subentry: ConfigSubentry) -> bool:
    """Tell whether a subentry is a certificate its device pulls over ACME."""
    return (
        subentry.subentry_type == SUBENTRY_ISSUED
        and subentry.data.get(CONF_RENEWAL) == Renewal.DEVICE_PULL
    )


RENEWAL_WINDOW_AFTER_REQUEST = timedelta(days=1)
