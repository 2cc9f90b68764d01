"""Tests of the actions: renew, revoke, sign_csr, export and refresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeassistant.auth.models import User
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_pki.const import DOMAIN

from .conftest import add_issued
from .helpers import attributes_of, certificate_entity, openssl, state_of


def make_csr(
    tmp_path: Path, subject: str, *key_options: str, san: str | None = None
) -> str:
    """Make a key and a CSR with the openssl command line; return the CSR."""
    key = tmp_path / "device.key"
    csr = tmp_path / "device.csr"
    args = ["req", "-new", "-nodes", "-newkey", *key_options, "-keyout", key]
    args += ["-out", csr, "-subj", subject]
    if san:
        args += ["-addext", f"subjectAltName={san}"]
    result = openssl(*args)
    assert result.returncode == 0, result.stderr
    return csr.read_text()


@pytest.fixture
async def certificate_id(hass: HomeAssistant, init_integration: MockConfigEntry) -> str:
    """Add one issued certificate and return its ID."""
    await add_issued(hass, init_integration)
    (subentry_id,) = init_integration.subentries
    return subentry_id


async def call(
    hass: HomeAssistant, service: str, data: dict, *, user: User | None = None
) -> dict | None:
    """Call a Home PKI action, as a given user when one is given."""
    response = service in {"sign_csr", "export"}
    return await hass.services.async_call(
        DOMAIN,
        service,
        data,
        blocking=True,
        return_response=response,
        context=Context(user_id=user.id) if user else None,
    )


async def test_renew_by_device_and_rekey(
    hass: HomeAssistant, certificate_id: str
) -> None:
    """Renew targets a device; rekey false keeps the key."""
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    first = attributes_of(hass, certificate_id, "expires")
    exported = await call(
        hass, "export", {"device_id": device.id, "include_private_key": True}
    )
    first_key = exported["certificates"][0]["private_key"]

    await call(hass, "renew", {"device_id": device.id, "rekey": False})
    second = attributes_of(hass, certificate_id, "expires")
    exported = await call(
        hass, "export", {"device_id": device.id, "include_private_key": True}
    )
    assert second["serial_number"] != first["serial_number"]
    assert exported["certificates"][0]["private_key"] == first_key

    await call(hass, "renew", {"device_id": device.id})
    exported = await call(
        hass, "export", {"device_id": device.id, "include_private_key": True}
    )
    assert exported["certificates"][0]["private_key"] != first_key


async def test_revoke_lists_serial_in_verified_crl(
    hass: HomeAssistant,
    certificate_id: str,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    tmp_path: Path,
) -> None:
    """A revoked serial appears with its reason in a CRL that openssl verifies."""
    revoked = async_capture_events(hass, "home_pki_certificate_revoked")
    serial = attributes_of(hass, certificate_id, "expires")["serial_number"]
    await call(
        hass,
        "revoke",
        {
            "entity_id": certificate_entity(hass, certificate_id, "expires"),
            "reason": "key_compromise",
        },
    )
    assert state_of(hass, certificate_id, "status") == "revoked"
    assert [event.data["serial_number"] for event in revoked] == [serial]

    client = await hass_client_no_auth()
    base = f"/api/home_pki/{init_integration.entry_id}"
    response = await client.get(f"{base}/crl")
    assert response.status == 200
    assert response.content_type == "application/pkix-crl"
    (tmp_path / "crl.der").write_bytes(await response.read())
    chain = await (await client.get(f"{base}/ca.pem")).text()
    (tmp_path / "ca.pem").write_text(chain)
    result = openssl(
        "crl",
        "-inform",
        "DER",
        "-in",
        tmp_path / "crl.der",
        "-CAfile",
        tmp_path / "ca.pem",
        "-verify",
        "-noout",
        "-text",
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stderr + result.stdout
    assert f"Serial Number: {serial}" in result.stdout
    assert "Key Compromise" in result.stdout
    assert "X509v3 CRL Number" in result.stdout

    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "revoke",
            {"entity_id": certificate_entity(hass, certificate_id, "expires")},
        )
    assert err.value.translation_key == "not_revocable"


async def test_sign_csr_returns_verifiable_chain(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """A good CSR is signed for its names, with a chain that verifies."""
    issued = async_capture_events(hass, "home_pki_certificate_issued")
    csr = make_csr(
        tmp_path,
        "/CN=esp32.home.arpa",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        san="DNS:esp32.home.arpa,IP:192.168.1.50",
    )
    response = await call(
        hass,
        "sign_csr",
        {"config_entry_id": init_integration.entry_id, "csr": csr, "validity_days": 30},
    )
    (tmp_path / "leaf.pem").write_text(response["certificate"])
    (tmp_path / "chain.pem").write_text(response["chain"])
    result = openssl(
        "verify",
        "-purpose",
        "sslclient",
        "-CAfile",
        tmp_path / "chain.pem",
        tmp_path / "leaf.pem",
    )
    assert result.returncode == 0, result.stderr
    text = openssl(
        "x509", "-in", tmp_path / "leaf.pem", "-noout", "-text", "-serial"
    ).stdout
    assert "DNS:esp32.home.arpa, IP Address:192.168.1.50" in text
    assert f"serial={response['serial_number']}" in text
    assert response["not_after"]
    assert issued[-1].data["serial_number"] == response["serial_number"]

    await call(
        hass,
        "revoke",
        {
            "config_entry_id": init_integration.entry_id,
            "serial_number": response["serial_number"],
            "reason": "cessation_of_operation",
        },
    )
    assert hass.states.get("sensor.home_ca_certificates_revoked").state == "1"
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "revoke",
            {
                "config_entry_id": init_integration.entry_id,
                "serial_number": response["serial_number"],
            },
        )
    assert err.value.translation_key == "not_revocable"


@pytest.mark.parametrize(
    ("subject", "key_options", "san", "translation_key"),
    [
        (
            "/CN=google.com",
            ("ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            None,
            "name_not_permitted",
        ),
        (
            "/CN=nas.home.arpa",
            ("ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            "IP:8.8.8.8",
            "name_not_permitted",
        ),
        ("/CN=weak.home.arpa", ("rsa:1024",), None, "weak_key"),
        (
            "/O=No names",
            ("ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            None,
            "invalid_name",
        ),
    ],
)
async def test_sign_csr_refuses_policy_violations(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    tmp_path: Path,
    subject: str,
    key_options: tuple[str, ...],
    san: str | None,
    translation_key: str,
) -> None:
    """CSRs outside the policy get a translated validation error."""
    csr = make_csr(tmp_path, subject, *key_options, san=san)
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass, "sign_csr", {"config_entry_id": init_integration.entry_id, "csr": csr}
        )
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == translation_key


async def test_sign_csr_refuses_broken_requests(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """Garbage, a tampered signature and an unknown CA are refused."""
    entry_id = init_integration.entry_id
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "sign_csr", {"config_entry_id": entry_id, "csr": "not a csr"})
    assert err.value.translation_key == "invalid_csr"

    csr = make_csr(
        tmp_path, "/CN=cam.home.arpa", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"
    )
    der = tmp_path / "device.der"
    openssl("req", "-in", tmp_path / "device.csr", "-outform", "DER", "-out", der)
    tampered = bytearray(der.read_bytes())
    tampered[-5] ^= 0x01
    der.write_bytes(bytes(tampered))
    pem = openssl("req", "-inform", "DER", "-in", der).stdout
    assert pem.startswith("-----BEGIN CERTIFICATE REQUEST-----")
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "sign_csr", {"config_entry_id": entry_id, "csr": pem})
    assert err.value.translation_key == "csr_signature_invalid"

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "sign_csr", {"config_entry_id": "missing", "csr": csr})
    assert err.value.translation_key == "unknown_config_entry"


async def test_admin_actions_refuse_other_users(
    hass: HomeAssistant,
    certificate_id: str,
    init_integration: MockConfigEntry,
    hass_read_only_user: User,
    hass_admin_user: User,
    tmp_path: Path,
) -> None:
    """A non-admin user may renew but not revoke, sign or export."""
    target = {"entity_id": certificate_entity(hass, certificate_id, "expires")}
    csr = make_csr(
        tmp_path, "/CN=cam.home.arpa", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"
    )
    for service, data in (
        ("revoke", target),
        ("export", target | {"include_private_key": True}),
        ("sign_csr", {"config_entry_id": init_integration.entry_id, "csr": csr}),
    ):
        with pytest.raises(Unauthorized):
            await call(hass, service, data, user=hass_read_only_user)
    assert state_of(hass, certificate_id, "status") == "valid"

    exported = await call(hass, "export", target, user=hass_admin_user)
    assert "private_key" not in exported["certificates"][0]
    assert exported["certificates"][0]["fullchain"].count("BEGIN CERTIFICATE") == 2
    assert exported["certificates"][0]["root"].count("BEGIN CERTIFICATE") == 1
    await call(hass, "renew", target, user=hass_read_only_user)


async def test_unknown_targets_are_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Targeting nothing Home PKI issued is a translated error."""
    for service in ("renew", "revoke", "export"):
        with pytest.raises(ServiceValidationError) as err:
            await call(hass, service, {"entity_id": "sensor.home_ca_root_expires"})
        assert err.value.translation_key == "no_certificate_targeted"
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "revoke",
            {"entity_id": "sensor.home_ca_root_expires", "serial_number": "zz"},
        )
    assert err.value.translation_key == "config_entry_required"
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "revoke",
            {"config_entry_id": init_integration.entry_id, "serial_number": "not hex"},
        )
    assert err.value.translation_key == "invalid_serial_number"


async def test_refresh_by_target(hass: HomeAssistant, certificate_id: str) -> None:
    """Refresh accepts a certificate target and keeps the state."""
    await call(
        hass,
        "refresh",
        {"entity_id": certificate_entity(hass, certificate_id, "status")},
    )
    assert state_of(hass, certificate_id, "status") == "valid"


async def test_actions_on_an_unloaded_entry(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """An unloaded CA cannot sign."""
    await hass.config_entries.async_unload(init_integration.entry_id)
    csr = make_csr(
        tmp_path, "/CN=cam.home.arpa", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"
    )
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass, "sign_csr", {"config_entry_id": init_integration.entry_id, "csr": csr}
        )
    assert err.value.translation_key == "config_entry_not_loaded"
