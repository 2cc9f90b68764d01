"""Real ACME clients, certbot and lego, renew a device's certificate by themselves."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
import pytest

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.home_pki.const import (
    EVENT_CERTIFICATE_ISSUED,
    EVENT_CERTIFICATE_RENEWED,
    EVENT_CERTIFICATE_REVOKED,
)
from custom_components.home_pki.pki.inspect import serial_to_hex

from .acme_helpers import (
    DEVICE_NAME,
    add_pulling_device,
    challenge_ports,
    client_missing,
    free_port,
    run_certbot,
    run_lego,
    setup_home,
)
from .helpers import attributes_of, openssl, state_of

pytestmark = pytest.mark.usefixtures("socket_enabled")


def read_live(folder: Path) -> x509.Certificate:
    """Return the certificate certbot keeps for the device."""
    return x509.load_pem_x509_certificate(
        (folder / "config" / "live" / "nas" / "cert.pem").read_bytes()
    )


async def test_certbot_obtains_renews_and_revokes(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """A certbot in standalone http-01 mode, trusting the home CA, runs a device."""
    if (reason := client_missing("certbot")) is not None:
        pytest.skip(reason)
    entry, ca_file = await setup_home(hass, tmp_path)
    http_port = free_port()
    with challenge_ports(http_port):
        device = await add_pulling_device(hass, entry)
    certificate_id = device.certificate_id
    assert state_of(hass, certificate_id, "expires") == "unknown"

    issued = async_capture_events(hass, EVENT_CERTIFICATE_ISSUED)
    renewed = async_capture_events(hass, EVENT_CERTIFICATE_RENEWED)
    revoked = async_capture_events(hass, EVENT_CERTIFICATE_REVOKED)
    folder = tmp_path / "certbot"
    common = (
        "--server",
        device.directory_url,
        "--standalone",
        "--preferred-challenges",
        "http",
        "--http-01-port",
        str(http_port),
        "--http-01-address",
        "127.0.0.1",
    )
    result = await hass.async_add_executor_job(
        lambda: run_certbot(
            folder,
            ca_file,
            "certonly",
            *common,
            "--agree-tos",
            "-m",
            "owner@example.com",
            "--no-eff-email",
            f"--eab-kid={device.key_id}",
            f"--eab-hmac-key={device.mac_key}",
            "--cert-name",
            "nas",
            "-d",
            DEVICE_NAME,
        )
    )
    assert result.returncode == 0, result.stderr
    await hass.async_block_till_done()
    first = read_live(folder)
    assert len(issued) == 1
    assert issued[0].data["serial_number"] == serial_to_hex(first.serial_number)
    assert state_of(hass, certificate_id, "status") == "valid"
    attributes = attributes_of(hass, certificate_id, "expires")
    assert attributes["serial_number"] == serial_to_hex(first.serial_number)
    assert attributes["dns_names"] == [DEVICE_NAME]
    # An independent opinion: openssl accepts certbot's chain for the name.
    live = folder / "config" / "live" / "nas"
    root_file = tmp_path / "root.pem"
    root_file.write_text(entry.runtime_data.root_pem)
    check = openssl(
        "verify",
        "-CAfile",
        root_file,
        "-untrusted",
        live / "chain.pem",
        "-purpose",
        "sslserver",
        "-verify_hostname",
        DEVICE_NAME,
        live / "cert.pem",
    )
    assert check.returncode == 0, check.stdout + check.stderr

    result = await hass.async_add_executor_job(
        lambda: run_certbot(
            folder,
            ca_file,
            "renew",
            "--force-renewal",
            "--no-random-sleep-on-renew",
        )
    )
    assert result.returncode == 0, result.stderr
    await hass.async_block_till_done()
    second = read_live(folder)
    assert second.serial_number != first.serial_number
    assert len(renewed) == 1
    assert renewed[0].data["serial_number"] == serial_to_hex(second.serial_number)
    assert attributes_of(hass, certificate_id, "expires")["serial_number"] == (
        serial_to_hex(second.serial_number)
    )

    result = await hass.async_add_executor_job(
        lambda: run_certbot(
            folder,
            ca_file,
            "revoke",
            "--server",
            device.directory_url,
            "--cert-name",
            "nas",
            "--reason",
            "keycompromise",
            "--no-delete-after-revoke",
        )
    )
    assert result.returncode == 0, result.stderr
    await hass.async_block_till_done()
    assert len(revoked) == 1
    assert state_of(hass, certificate_id, "status") == "revoked"
    # The CRL names the serial with certbot's reason.
    crl = x509.load_der_x509_crl(entry.runtime_data.crl_der)
    entry_of = crl.get_revoked_certificate_by_serial_number(second.serial_number)
    assert entry_of is not None
    reason = entry_of.extensions.get_extension_for_class(x509.CRLReason).value
    assert reason.reason is x509.ReasonFlags.key_compromise


async def test_lego_over_tls_alpn01(hass: HomeAssistant, tmp_path: Path) -> None:
    """A lego answering tls-alpn-01 on its own port obtains and renews."""
    if (reason := client_missing("lego")) is not None:
        pytest.skip(reason)
    entry, ca_file = await setup_home(hass, tmp_path)
    tls_port = free_port()
    with challenge_ports(free_port(), tls_port):
        device = await add_pulling_device(hass, entry)
    folder = tmp_path / "lego"
    common = (
        "--server",
        device.directory_url,
        "--accept-tos",
        "--email",
        "owner@example.com",
        "--eab",
        f"--kid={device.key_id}",
        f"--hmac={device.mac_key}",
        "--domains",
        DEVICE_NAME,
        "--tls",
        "--tls.port",
        f"127.0.0.1:{tls_port}",
    )
    result = await hass.async_add_executor_job(
        lambda: run_lego(folder, ca_file, *common, "run")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    await hass.async_block_till_done()
    first = x509.load_pem_x509_certificates(
        (folder / "certificates" / f"{DEVICE_NAME}.crt").read_bytes()
    )[0]
    assert state_of(hass, device.certificate_id, "status") == "valid"
    assert attributes_of(hass, device.certificate_id, "expires")["serial_number"] == (
        serial_to_hex(first.serial_number)
    )
    result = await hass.async_add_executor_job(
        lambda: run_lego(
            folder, ca_file, *common, "renew", "--days", "365", "--no-random-sleep"
        )
    )
    assert result.returncode == 0, result.stdout + result.stderr
    await hass.async_block_till_done()
    second = x509.load_pem_x509_certificates(
        (folder / "certificates" / f"{DEVICE_NAME}.crt").read_bytes()
    )[0]
    assert second.serial_number != first.serial_number
    assert attributes_of(hass, device.certificate_id, "expires")["serial_number"] == (
        serial_to_hex(second.serial_number)
    )
