"""The ACME server as part of the home: credentials, listener, restarts, limits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import socket
import ssl
from unittest.mock import patch

from acme import messages
from cryptography import x509
from freezegun.api import FrozenDateTimeFactory
import pytest

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import (
    MockUser,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_pki.const import DOMAIN
from custom_components.home_pki.pki.errors import PkiError

from .acme_helpers import (
    Client,
    Device,
    add_pulling_device,
    challenge_ports,
    challenge_server,
    close_sessions,
    free_port,
    setup_home,
)
from .conftest import add_issued
from .helpers import state_of

pytestmark = pytest.mark.usefixtures("socket_enabled")


def device_id(hass: HomeAssistant, certificate_id: str) -> str:
    """Return the device of a certificate."""
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    return device.id


def served_certificate(port: int) -> x509.Certificate:
    """Return the certificate the listener presents on loopback."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # TLS 1.2 sends no session tickets after the handshake, so closing at
    # once resets nothing the server would report.
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def listening(port: int) -> bool:
    """Tell whether something accepts connections on a loopback port."""
    try:
        # A full handshake: a bare connection would leave a reset the
        # server's loop reports in debug mode.
        served_certificate(port)
    except OSError:
        return False
    return True


async def test_listener_follows_devices_that_pull(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Nothing listens until a device pulls; the last one gone stops it."""
    entry, _ = await setup_home(hass, tmp_path)
    port = entry.options["acme_port"]
    assert not await hass.async_add_executor_job(listening, port)
    await add_issued(hass, entry, name="Broker")
    assert not await hass.async_add_executor_job(listening, port)
    device = await add_pulling_device(hass, entry)
    assert await hass.async_add_executor_job(listening, port)
    served = await hass.async_add_executor_job(served_certificate, port)
    san = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(item) for item in san.get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1"
    ]
    assert entry.runtime_data.issued_by_home_ca(served)
    hass.config_entries.async_remove_subentry(entry, device.certificate_id)
    await hass.async_block_till_done()
    assert not await hass.async_add_executor_job(listening, port)


async def test_changed_options_move_the_listener(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A new acme_port takes effect at once, and the old port is closed."""
    entry, _ = await setup_home(hass, tmp_path)
    await add_pulling_device(hass, entry)
    old_port = entry.options["acme_port"]
    new_port = free_port()
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "acme_port": new_port}
    )
    await hass.async_block_till_done()
    assert await hass.async_add_executor_job(listening, new_port)
    assert not await hass.async_add_executor_job(listening, old_port)


async def test_port_in_use_is_logged(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A taken port is an error in the log; the CA goes on working."""
    entry, _ = await setup_home(hass, tmp_path)
    port = entry.options["acme_port"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        await add_pulling_device(hass, entry)
    assert f"cannot listen on port {port}" in caplog.text
    assert entry.runtime_data.acme.diagnostics()["listening"] is None


async def test_listener_certificate_renews(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """The listener's own certificate renews at the same point as any other."""
    entry, _ = await setup_home(hass, tmp_path)
    await add_pulling_device(hass, entry)
    port = entry.options["acme_port"]
    first = await hass.async_add_executor_job(served_certificate, port)
    lifetime = first.not_valid_after_utc - first.not_valid_before_utc
    freezer.move_to(first.not_valid_before_utc + lifetime * 0.68)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    second = await hass.async_add_executor_job(served_certificate, port)
    assert second.serial_number != first.serial_number


async def test_listener_certificate_failures(
    hass: HomeAssistant,
    tmp_path: Path,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No certificate, no listener; a failed renewal keeps the old one serving."""
    entry, _ = await setup_home(hass, tmp_path)
    coordinator = entry.runtime_data
    with patch.object(
        coordinator,
        "async_issue_service_certificate",
        side_effect=PkiError("signing failed"),
    ):
        await add_pulling_device(hass, entry)
    assert "no certificate to listen with" in caplog.text
    assert coordinator.acme.diagnostics()["listening"] is None

    await coordinator.acme.async_sync()
    port = entry.options["acme_port"]
    first = await hass.async_add_executor_job(served_certificate, port)
    lifetime = first.not_valid_after_utc - first.not_valid_before_utc
    with patch.object(
        coordinator,
        "async_issue_service_certificate",
        side_effect=PkiError("signing failed"),
    ):
        freezer.move_to(first.not_valid_before_utc + lifetime * 0.68)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert "Could not renew the ACME server's certificate" in caplog.text
    served = await hass.async_add_executor_job(served_certificate, port)
    assert served.serial_number == first.serial_number
    freezer.tick(timedelta(hours=1, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    renewed = await hass.async_add_executor_job(served_certificate, port)
    assert renewed.serial_number != first.serial_number


async def test_accounts_survive_a_restart(hass: HomeAssistant, tmp_path: Path) -> None:
    """After a reload the same account orders again, without new credentials."""
    entry, ca_file = await setup_home(hass, tmp_path)
    async with challenge_server() as server:
        with challenge_ports(server.port):
            device = await add_pulling_device(hass, entry)
            acme = await hass.async_add_executor_job(Client, device, ca_file)
            await hass.async_add_executor_job(acme.register)
            await hass.async_add_executor_job(acme.obtain, server)
            await hass.async_add_executor_job(close_sessions)
            assert await hass.config_entries.async_reload(entry.entry_id)
            await hass.async_block_till_done()
            again = await hass.async_add_executor_job(Client, device, ca_file, acme.key)
            again.acme.net.account = acme.acme.net.account
            order = await hass.async_add_executor_job(again.obtain, server)
            await hass.async_add_executor_job(close_sessions)
    assert "BEGIN CERTIFICATE" in order.fullchain_pem
    await hass.async_block_till_done()
    assert state_of(hass, device.certificate_id, "status") == "valid"
    (account,) = entry.runtime_data.acme.diagnostics()["accounts"]
    assert account["orders"] == 2


async def test_rotate_credentials(
    hass: HomeAssistant,
    tmp_path: Path,
    hass_admin_user: MockUser,
    hass_read_only_user: MockUser,
) -> None:
    """Rotating gives new credentials; the old key ID makes no more accounts."""
    entry, ca_file = await setup_home(hass, tmp_path)
    device = await add_pulling_device(hass, entry)
    target = {"device_id": device_id(hass, device.certificate_id)}
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "rotate_acme_credentials",
            target,
            blocking=True,
            return_response=True,
            context=Context(user_id=hass_read_only_user.id),
        )
    response = await hass.services.async_call(
        DOMAIN,
        "rotate_acme_credentials",
        target,
        blocking=True,
        return_response=True,
        context=Context(user_id=hass_admin_user.id),
    )
    assert response is not None
    (rotated,) = response["devices"]
    assert rotated["name"] == "NAS"
    assert rotated["directory_url"] == device.directory_url
    assert rotated["eab_key_id"] != device.key_id
    old = await hass.async_add_executor_job(Client, device, ca_file)
    with pytest.raises(messages.Error) as caught:
        await hass.async_add_executor_job(old.register)
    assert caught.value.typ.endswith(":unauthorized")
    fresh = Device(
        certificate_id=device.certificate_id,
        directory_url=rotated["directory_url"],
        key_id=rotated["eab_key_id"],
        mac_key=rotated["eab_hmac_key"],
    )
    new = await hass.async_add_executor_job(Client, fresh, ca_file)
    registration = await hass.async_add_executor_job(new.register)
    assert registration.body.status == "valid"
    await hass.async_add_executor_job(close_sessions)

    await add_issued(hass, entry, name="Broker")
    (broker,) = (
        sub.subentry_id for sub in entry.subentries.values() if sub.title == "Broker"
    )
    with pytest.raises(ServiceValidationError) as error:
        await hass.services.async_call(
            DOMAIN,
            "rotate_acme_credentials",
            {"device_id": device_id(hass, broker)},
            blocking=True,
            return_response=True,
        )
    assert error.value.translation_key == "not_device_pull"


async def test_rate_limit(hass: HomeAssistant, tmp_path: Path) -> None:
    """Past its burst an account is rateLimited, with Retry-After."""
    entry, ca_file = await setup_home(hass, tmp_path)
    with patch("custom_components.home_pki.pki.acme.server.ORDER_BURST", 2.0):
        device = await add_pulling_device(hass, entry)
        acme = await hass.async_add_executor_job(Client, device, ca_file)
        await hass.async_add_executor_job(acme.register)
        await hass.async_add_executor_job(acme.order)
        await hass.async_add_executor_job(acme.order)
        with pytest.raises(messages.Error) as caught:
            await hass.async_add_executor_job(acme.order)
    assert caught.value.typ.endswith(":rateLimited")
    await hass.async_add_executor_job(close_sessions)


async def test_diagnostics_hide_credentials(
    hass: HomeAssistant, tmp_path: Path, hass_client: ClientSessionGenerator
) -> None:
    """Diagnostics tell the listener and accounts, never the EAB key."""
    entry, _ = await setup_home(hass, tmp_path)
    device = await add_pulling_device(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = str(diagnostics)
    assert device.mac_key not in text
    assert device.key_id not in text
    assert diagnostics["acme"]["listening"]["port"] == entry.options["acme_port"]
    assert diagnostics["acme"]["devices_with_credentials"] == 1


async def test_device_pull_waits_for_its_device(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """A device that pulls gets no certificate from Home PKI itself."""
    entry, _ = await setup_home(hass, tmp_path)
    device = await add_pulling_device(hass, entry)
    freezer.tick(timedelta(days=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state_of(hass, device.certificate_id, "expires") == "unknown"
    assert state_of(hass, device.certificate_id, "status") == "unknown"
    assert state_of(hass, device.certificate_id, "problem") == "off"
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            "renew",
            {"device_id": device_id(hass, device.certificate_id)},
            blocking=True,
        )
