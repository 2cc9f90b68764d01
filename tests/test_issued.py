"""Tests of issued certificates: the subentry flow, entities, renewal, deployment."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
import shutil
import stat
from types import MappingProxyType

from freezegun.api import FrozenDateTimeFactory
import pytest

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_pki.const import DOMAIN

from .conftest import add_issued
from .helpers import (
    attributes_of,
    certificate_entity,
    certificate_named,
    openssl,
    state_of,
)

KEYS = ("expires", "days_remaining", "status", "problem", "renew")


def only_certificate(entry: MockConfigEntry) -> str:
    """Return the ID of the entry's single certificate."""
    (certificate_id,) = entry.subentries
    return certificate_id


async def fetch(
    client: ClientSessionGenerator, entry: MockConfigEntry, name: str
) -> bytes:
    """Download a public document of the CA."""
    session = await client()
    response = await session.get(f"/api/home_pki/{entry.entry_id}/{name}")
    assert response.status == 200
    return await response.read()


async def move_to(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime
) -> None:
    """Move the clock and let every timer that became due run."""
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done()


async def test_issued_certificate_verifies_with_openssl(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    tmp_path: Path,
) -> None:
    """A new subentry gets a device, entities and a leaf that openssl accepts."""
    result = await add_issued(
        hass, init_integration, ip_addresses=["192.168.1.10"], manufacturer="Eclipse"
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    certificate_id = only_certificate(init_integration)

    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    assert device.name == "Mosquitto broker"
    assert device.manufacturer == "Eclipse"
    entities = er.async_entries_for_device(er.async_get(hass), device.id)
    assert sorted(entity.unique_id for entity in entities) == sorted(
        f"{certificate_id}_{key}" for key in KEYS
    )
    assert state_of(hass, certificate_id, "status") == "valid"
    assert state_of(hass, certificate_id, "problem") == "off"
    assert state_of(hass, certificate_id, "days_remaining") == "89"
    attributes = attributes_of(hass, certificate_id, "expires")
    assert attributes["dns_names"] == ["mqtt.home.arpa"]
    assert attributes["ip_addresses"] == ["192.168.1.10"]
    assert attributes["key_type"] == "EC P-256"
    assert attributes["renewal"] == "automatic"

    root = tmp_path / "root.pem"
    intermediate = tmp_path / "intermediate.pem"
    leaf = tmp_path / "leaf.pem"
    for path, name in ((root, "root.crt"), (intermediate, "intermediate.crt")):
        der = tmp_path / f"{name}.der"
        der.write_bytes(await fetch(hass_client_no_auth, init_integration, name))
        assert (
            openssl("x509", "-inform", "DER", "-in", der, "-out", path).returncode == 0
        )
    response = await hass.services.async_call(
        DOMAIN,
        "export",
        {"entity_id": certificate_entity(hass, certificate_id, "expires")},
        blocking=True,
        return_response=True,
    )
    leaf.write_text(response["certificates"][0]["certificate"])

    verified = openssl(
        "verify",
        "-purpose",
        "sslserver",
        "-CAfile",
        root,
        "-untrusted",
        intermediate,
        leaf,
    )
    assert verified.returncode == 0, verified.stderr
    text = openssl("x509", "-in", leaf, "-noout", "-text").stdout
    assert "CA:FALSE" in text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    assert "DNS:mqtt.home.arpa, IP Address:192.168.1.10" in text
    assert f"/api/home_pki/{init_integration.entry_id}/crl" in text
    serial = openssl("x509", "-in", leaf, "-noout", "-serial").stdout.strip()
    assert serial == f"serial={attributes['serial_number']}"
    assert len(attributes["serial_number"]) >= 30


@pytest.mark.parametrize(
    ("fields", "errors", "name"),
    [
        (
            {"dns_names": ["google.com"]},
            {"dns_names": "name_not_permitted"},
            "google.com",
        ),
        (
            {"dns_names": [], "ip_addresses": ["8.8.8.8"]},
            {"ip_addresses": "name_not_permitted"},
            "8.8.8.8",
        ),
        ({"dns_names": ["bad name!"]}, {"dns_names": "invalid_dns_name"}, "bad name!"),
        (
            {"ip_addresses": ["300.1.1.1"]},
            {"ip_addresses": "invalid_ip_address"},
            "300.1.1.1",
        ),
        ({"dns_names": []}, {"base": "no_names"}, ""),
        ({"name": " "}, {"name": "name_required"}, ""),
        (
            {"deploy_path": "/etc/mosquitto"},
            {"deploy_path": "deploy_path_not_allowed"},
            "",
        ),
        (
            {"deploy_path": "deploy/relative"},
            {"deploy_path": "deploy_path_not_allowed"},
            "",
        ),
    ],
)
async def test_subentry_form_errors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    fields: dict,
    errors: dict,
    name: str,
) -> None:
    """A name outside the constraints or a bad field is refused in the form."""
    result = await add_issued(hass, init_integration, **fields)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert result["description_placeholders"]["name"] == name
    assert not init_integration.subentries

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Mosquitto broker", "dns_names": ["mqtt.home.arpa"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_duplicate_certificate_name(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Two certificates of one CA cannot share a name."""
    await add_issued(hass, init_integration)
    result = await add_issued(hass, init_integration, name="MOSQUITTO BROKER")
    assert result["errors"] == {"name": "already_configured"}


async def test_automatic_renewal_updates_every_entity(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    deploy_dir: Path,
) -> None:
    """At the renewal point a new serial is issued, deployed and shown."""
    renewed = async_capture_events(hass, "home_pki_certificate_renewed")
    await add_issued(hass, init_integration, deploy_path=str(deploy_dir / "mqtt"))
    certificate_id = only_certificate(init_integration)
    before = attributes_of(hass, certificate_id, "expires")
    expires_before = state_of(hass, certificate_id, "expires")
    next_renewal = datetime.fromisoformat(before["next_renewal"])
    issued = datetime.fromisoformat(before["not_before"]) + timedelta(minutes=5)
    lifetime = timedelta(days=90)
    assert issued + lifetime * 0.62 <= next_renewal <= issued + lifetime * 0.67

    await move_to(hass, freezer, next_renewal - timedelta(seconds=5))
    assert (
        attributes_of(hass, certificate_id, "expires")["serial_number"]
        == before["serial_number"]
    )

    await move_to(hass, freezer, next_renewal + timedelta(seconds=1))
    after = attributes_of(hass, certificate_id, "expires")
    assert after["serial_number"] != before["serial_number"]
    assert after["fingerprint_sha256"] != before["fingerprint_sha256"]
    assert state_of(hass, certificate_id, "expires") > expires_before
    assert state_of(hass, certificate_id, "days_remaining") == "89"
    assert state_of(hass, certificate_id, "status") == "valid"
    assert datetime.fromisoformat(after["last_renewal"]) >= next_renewal
    assert datetime.fromisoformat(after["next_renewal"]) > next_renewal + timedelta(
        days=50
    )
    assert [event.data["serial_number"] for event in renewed] == [
        after["serial_number"]
    ]
    assert set(renewed[0].data) == {
        "config_entry_id",
        "certificate_id",
        "name",
        "serial_number",
        "not_after",
        "latency_ms",
    }
    deployed = openssl(
        "x509", "-in", deploy_dir / "mqtt" / "cert.pem", "-noout", "-serial"
    )
    assert deployed.stdout.strip() == f"serial={after['serial_number']}"


async def test_days_remaining_counts_down(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Days remaining follows the clock; a manual certificate expires and goes negative."""
    await add_issued(hass, init_integration, renewal="manual", validity_days=20)
    certificate_id = only_certificate(init_integration)
    assert attributes_of(hass, certificate_id, "expires")["next_renewal"] is None
    not_after = dt_util.parse_datetime(state_of(hass, certificate_id, "expires"))
    assert not_after is not None

    await move_to(hass, freezer, dt_util.utcnow() + timedelta(days=3, minutes=1))
    assert state_of(hass, certificate_id, "days_remaining") == "16"
    assert state_of(hass, certificate_id, "status") == "valid"

    await move_to(hass, freezer, dt_util.utcnow() + timedelta(days=3))
    assert state_of(hass, certificate_id, "days_remaining") == "13"
    assert state_of(hass, certificate_id, "status") == "expiring"
    assert hass.states.get("sensor.home_ca_certificates_expiring").state == "1"
    assert attributes_of(hass, certificate_id, "problem")["reasons"] == ["expiring"]

    await move_to(hass, freezer, not_after + timedelta(hours=1))
    assert state_of(hass, certificate_id, "status") == "expired"
    assert state_of(hass, certificate_id, "days_remaining") == "-1"
    assert state_of(hass, certificate_id, "problem") == "on"

    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": certificate_entity(hass, certificate_id, "renew")},
        blocking=True,
    )
    assert state_of(hass, certificate_id, "status") == "valid"
    renewed_until = dt_util.parse_datetime(state_of(hass, certificate_id, "expires"))
    assert renewed_until is not None
    assert renewed_until - dt_util.utcnow() <= timedelta(days=20)
    assert state_of(hass, certificate_id, "days_remaining") == str(
        (renewed_until - dt_util.utcnow()).days
    )


async def test_failing_renewal_backs_off(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A renewal that cannot write its key retries at 1, 2, 4 minutes, then recovers."""
    failed = async_capture_events(hass, "home_pki_renewal_failed")
    await add_issued(hass, init_integration)
    certificate_id = only_certificate(init_integration)
    first_serial = attributes_of(hass, certificate_id, "expires")["serial_number"]
    folder = tmp_path / ".storage" / DOMAIN / init_integration.entry_id / "certificates"
    shutil.rmtree(folder / certificate_id)
    (folder / certificate_id).write_text("in the way")

    moment = datetime.fromisoformat(
        attributes_of(hass, certificate_id, "expires")["next_renewal"]
    )
    for attempt, delay in enumerate((1, 2, 4), start=1):
        await move_to(hass, freezer, moment + timedelta(seconds=1))
        assert len(failed) == attempt
        assert state_of(hass, certificate_id, "status") == "renewal_failed"
        assert attributes_of(hass, certificate_id, "problem")["reasons"] == [
            "renewal_failed"
        ]
        retry = datetime.fromisoformat(
            attributes_of(hass, certificate_id, "expires")["next_renewal"]
        )
        assert retry - dt_util.utcnow() == pytest.approx(
            timedelta(minutes=delay), abs=timedelta(seconds=2)
        )
        moment = retry
    assert failed[0].data["error_class"] == "ca"
    assert failed[0].data["serial_number"] == first_serial
    assert hass.states.get("sensor.home_ca_renewal_failures_7_days").state == "3"

    warnings = [
        record
        for record in caplog.records
        if record.name == "custom_components.home_pki" and record.levelname == "WARNING"
    ]
    assert len(warnings) == 1
    assert "Mosquitto broker" in warnings[0].getMessage()

    (folder / certificate_id).unlink()
    await move_to(hass, freezer, moment + timedelta(seconds=1))
    assert "after 3 failed attempts" in caplog.text
    assert state_of(hass, certificate_id, "status") == "valid"
    assert (
        attributes_of(hass, certificate_id, "expires")["serial_number"] != first_serial
    )


async def test_deployed_files(
    hass: HomeAssistant, init_integration: MockConfigEntry, deploy_dir: Path
) -> None:
    """Deployed files exist, the key is 0600, and they match the current certificate."""
    target = deploy_dir / "mosquitto"
    await add_issued(hass, init_integration, deploy_path=str(target))
    certificate_id = only_certificate(init_integration)
    serial = attributes_of(hass, certificate_id, "expires")["serial_number"]

    assert sorted(path.name for path in target.iterdir()) == [
        "ca.pem",
        "cert.pem",
        "chain.pem",
        "fullchain.pem",
        "key.pem",
    ]
    assert stat.S_IMODE((target / "key.pem").stat().st_mode) == 0o600
    assert (
        openssl("x509", "-in", target / "cert.pem", "-noout", "-serial").stdout.strip()
        == f"serial={serial}"
    )
    certificate_key = openssl(
        "x509", "-in", target / "cert.pem", "-noout", "-pubkey"
    ).stdout
    private_key = openssl("pkey", "-in", target / "key.pem", "-pubout").stdout
    assert certificate_key == private_key
    verified = openssl(
        "verify",
        "-CAfile",
        target / "ca.pem",
        "-untrusted",
        target / "chain.pem",
        target / "cert.pem",
    )
    assert verified.returncode == 0, verified.stderr
    assert (target / "fullchain.pem").read_text() == (
        (target / "cert.pem").read_text() + (target / "chain.pem").read_text()
    )


async def test_failed_deployment_is_retried(
    hass: HomeAssistant, init_integration: MockConfigEntry, deploy_dir: Path
) -> None:
    """A folder that cannot be written shows deploy_failed until refresh succeeds."""
    issued = async_capture_events(hass, "home_pki_certificate_issued")
    blocked = deploy_dir / "blocked"
    blocked.write_text("a file, not a folder")
    await add_issued(hass, init_integration, deploy_path=str(blocked))
    assert issued == []
    certificate_id = only_certificate(init_integration)
    assert state_of(hass, certificate_id, "status") == "renewal_failed"
    assert attributes_of(hass, certificate_id, "problem")["reasons"] == [
        "deploy_failed"
    ]

    blocked.unlink()
    await hass.services.async_call(DOMAIN, "refresh", {}, blocking=True)
    assert state_of(hass, certificate_id, "status") == "valid"
    assert (blocked / "cert.pem").is_file()
    assert len(issued) == 1


async def test_fixed_key_is_kept(
    hass: HomeAssistant, init_integration: MockConfigEntry, deploy_dir: Path
) -> None:
    """A device with a fixed key keeps its key when the button renews it."""
    target = deploy_dir / "camera"
    await add_issued(hass, init_integration, fixed_key=True, deploy_path=str(target))
    certificate_id = only_certificate(init_integration)
    key_before = (target / "key.pem").read_bytes()
    serial_before = attributes_of(hass, certificate_id, "expires")["serial_number"]

    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": certificate_entity(hass, certificate_id, "renew")},
        blocking=True,
    )
    assert (
        attributes_of(hass, certificate_id, "expires")["serial_number"] != serial_before
    )
    assert (target / "key.pem").read_bytes() == key_before


async def test_revoked_certificate_is_never_renewed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After revocation, the renewal point passes without a new certificate."""
    await add_issued(hass, init_integration)
    certificate_id = only_certificate(init_integration)
    before = attributes_of(hass, certificate_id, "expires")
    await hass.services.async_call(
        DOMAIN,
        "revoke",
        {
            "entity_id": certificate_entity(hass, certificate_id, "status"),
            "reason": "key_compromise",
        },
        blocking=True,
    )
    assert attributes_of(hass, certificate_id, "expires")["next_renewal"] is None

    await move_to(
        hass,
        freezer,
        datetime.fromisoformat(before["next_renewal"]) + timedelta(days=1),
    )
    assert (
        attributes_of(hass, certificate_id, "expires")["serial_number"]
        == before["serial_number"]
    )
    assert state_of(hass, certificate_id, "status") == "revoked"
    assert attributes_of(hass, certificate_id, "problem")["reasons"] == ["revoked"]
    assert hass.states.get("sensor.home_ca_certificates_revoked").state == "1"


async def test_removing_a_certificate_revokes_it(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    tmp_path: Path,
) -> None:
    """Deleting a subentry removes its device, revokes it and deletes its keys."""
    revoked: list[Event] = async_capture_events(hass, "home_pki_certificate_revoked")
    target = tmp_path / "deploy" / "mqtt"
    await add_issued(hass, init_integration, deploy_path=str(target))
    assert (target / "key.pem").is_file()
    certificate_id = only_certificate(init_integration)
    serial = attributes_of(hass, certificate_id, "expires")["serial_number"]
    keys = tmp_path / ".storage" / DOMAIN / init_integration.entry_id / "certificates"
    assert (keys / certificate_id / f"{serial}.key").is_file()

    assert hass.config_entries.async_remove_subentry(init_integration, certificate_id)
    await hass.async_block_till_done()

    assert (
        dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
        is None
    )
    assert not (keys / certificate_id).exists()
    assert list(target.iterdir()) == []
    assert [event.data["serial_number"] for event in revoked] == [serial]
    assert revoked[0].data["name"] == "Mosquitto broker"
    crl = tmp_path / "crl.der"
    crl.write_bytes(await fetch(hass_client_no_auth, init_integration, "crl"))
    text = openssl("crl", "-inform", "DER", "-in", crl, "-noout", "-text").stdout
    assert f"Serial Number: {serial}" in text
    assert "Cessation Of Operation" in text


async def reconfigure(
    hass: HomeAssistant, entry: MockConfigEntry, certificate_id: str, **changes: object
) -> dict:
    """Run the reconfigure flow of a certificate with some fields changed."""
    result = await entry.start_subentry_reconfigure_flow(hass, "issued", certificate_id)
    assert result["type"] is FlowResultType.FORM
    subentry = entry.subentries[certificate_id]
    user_input = {"name": subentry.title, **subentry.data, **changes}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], user_input
    )
    await hass.async_block_till_done()
    return dict(result)


async def test_reconfigure_reissues_for_new_names(
    hass: HomeAssistant, init_integration: MockConfigEntry, deploy_dir: Path
) -> None:
    """New names or key type issue a new certificate; a rename follows the device."""
    await add_issued(hass, init_integration)
    await add_issued(
        hass, init_integration, name="Frigate", dns_names=["nvr.home.arpa"]
    )
    certificate_id = certificate_named(init_integration, "Mosquitto broker")
    first = attributes_of(hass, certificate_id, "expires")

    result = await reconfigure(
        hass,
        init_integration,
        certificate_id,
        name="Broker",
        dns_names=["mqtt.home.arpa", "broker.lan"],
        key_algorithm="rsa_2048",
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    second = attributes_of(hass, certificate_id, "expires")
    assert second["serial_number"] != first["serial_number"]
    assert second["dns_names"] == ["mqtt.home.arpa", "broker.lan"]
    assert second["key_type"] == "RSA 2048"
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    assert device.name == "Broker"

    target = deploy_dir / "broker"
    await reconfigure(hass, init_integration, certificate_id, deploy_path=str(target))
    assert (
        attributes_of(hass, certificate_id, "expires")["serial_number"]
        == second["serial_number"]
    )
    served = openssl("x509", "-in", target / "cert.pem", "-noout", "-serial").stdout
    assert served.strip() == f"serial={second['serial_number']}"

    moved = deploy_dir / "moved"
    await reconfigure(hass, init_integration, certificate_id, deploy_path=str(moved))
    assert (moved / "cert.pem").is_file()
    assert list(target.iterdir()) == []

    result = await reconfigure(hass, init_integration, certificate_id, name="frigate")
    assert result["errors"] == {"name": "already_configured"}
    result = await reconfigure(
        hass, init_integration, certificate_id, dns_names=["mqtt.example.com"]
    )
    assert result["errors"] == {"dns_names": "name_not_permitted"}


async def test_unchanged_refresh_writes_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A refresh that changes nothing writes no certificate state."""
    await add_issued(hass, init_integration)
    certificate_id = only_certificate(init_integration)
    entity_ids = {certificate_entity(hass, certificate_id, key) for key in KEYS}
    touched: list[str] = []

    @callback
    def _record(event: Event) -> None:
        touched.append(event.data["entity_id"])

    @callback
    def _any(_data: object) -> bool:
        return True

    for event_type in ("state_reported", "state_changed"):
        hass.bus.async_listen(event_type, _record, event_filter=_any)
    await hass.services.async_call(DOMAIN, "refresh", {}, blocking=True)
    assert "sensor.home_ca_root_expires" in touched
    assert not set(touched) & entity_ids


async def test_deployment_retry_runs_on_its_own(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    deploy_dir: Path,
) -> None:
    """A failed deployment is retried by the timer once its folder can be written."""
    renewed = async_capture_events(hass, "home_pki_certificate_issued")
    blocked = deploy_dir / "late"
    blocked.write_text("in the way")
    await add_issued(hass, init_integration, deploy_path=str(blocked), renewal="manual")
    certificate_id = only_certificate(init_integration)
    retry = datetime.fromisoformat(
        attributes_of(hass, certificate_id, "expires")["next_renewal"]
    )
    blocked.unlink()

    await move_to(hass, freezer, retry + timedelta(seconds=1))
    assert state_of(hass, certificate_id, "status") == "valid"
    assert (blocked / "key.pem").is_file()
    assert len(renewed) == 1
    assert attributes_of(hass, certificate_id, "expires")["next_renewal"] is None


async def test_no_certificate_outlives_the_intermediate(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Near the intermediate's end certificates shorten; after it, renewal fails."""
    failed = async_capture_events(hass, "home_pki_renewal_failed")
    await add_issued(hass, init_integration, renewal="manual")
    certificate_id = only_certificate(init_integration)
    intermediate_end = dt_util.parse_datetime(
        hass.states.get("sensor.home_ca_intermediate_expires").state
    )
    assert intermediate_end is not None
    renew = {"entity_id": certificate_entity(hass, certificate_id, "renew")}

    await move_to(hass, freezer, intermediate_end - timedelta(days=10))
    await hass.services.async_call("button", "press", renew, blocking=True)
    assert state_of(hass, certificate_id, "expires") == intermediate_end.isoformat()

    await move_to(hass, freezer, intermediate_end + timedelta(days=1))
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call("button", "press", renew, blocking=True)
    assert err.value.translation_key == "renewal_failed"
    assert failed[-1].data["error_class"] == "ca"
    assert state_of(hass, certificate_id, "status") == "expired"
    assert attributes_of(hass, certificate_id, "problem")["reasons"] == [
        "expired",
        "renewal_failed",
    ]
    assert attributes_of(hass, certificate_id, "expires")["next_renewal"] is None


async def test_via_device(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A certificate's device can hang off the hub it talks through."""
    registry = dr.async_get(hass)
    hub = registry.async_get_device(identifiers={(DOMAIN, init_integration.entry_id)})
    assert hub is not None
    await add_issued(hass, init_integration, via_device=hub.id, model="Broker")
    certificate_id = only_certificate(init_integration)
    device = registry.async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    assert device.via_device_id == hub.id
    assert device.model == "Broker"


async def test_certificates_added_together(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Two certificates added at the same moment both get issued and stay valid."""
    for name in ("Camera one", "Camera two"):
        hass.config_entries.async_add_subentry(
            init_integration,
            ConfigSubentry(
                data=MappingProxyType(
                    {"dns_names": [f"{name.split()[1]}.cam.home.arpa"]}
                ),
                subentry_type="issued",
                title=name,
                unique_id=name.casefold(),
            ),
        )
    await hass.async_block_till_done()

    assert len(init_integration.subentries) == 2
    for certificate_id in init_integration.subentries:
        assert state_of(hass, certificate_id, "status") == "valid"
    assert hass.states.get("sensor.home_ca_certificates_revoked").state == "0"


async def test_deploy_respects_a_shrunk_allowlist(
    hass: HomeAssistant, init_integration: MockConfigEntry, deploy_dir: Path
) -> None:
    """A folder dropped from allowlist_external_dirs is no longer written."""
    target = deploy_dir / "nvr"
    await add_issued(hass, init_integration, deploy_path=str(target))
    certificate_id = only_certificate(init_integration)
    written = (target / "cert.pem").read_text()
    hass.config.allowlist_external_dirs = set()

    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": certificate_entity(hass, certificate_id, "renew")},
        blocking=True,
    )
    assert (target / "cert.pem").read_text() == written
    assert attributes_of(hass, certificate_id, "problem")["reasons"] == [
        "deploy_failed"
    ]


async def test_earlier_keys_are_kept_until_their_certificates_expire(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    """A renewed certificate's key stays for rollback until that certificate ends."""
    await add_issued(hass, init_integration, renewal="manual", validity_days=10)
    certificate_id = only_certificate(init_integration)
    keys = tmp_path / ".storage" / DOMAIN / init_integration.entry_id / "certificates"
    renew = {"entity_id": certificate_entity(hass, certificate_id, "renew")}
    first = attributes_of(hass, certificate_id, "expires")["serial_number"]

    await hass.services.async_call("button", "press", renew, blocking=True)
    second = attributes_of(hass, certificate_id, "expires")["serial_number"]
    assert {path.stem for path in (keys / certificate_id).iterdir()} == {first, second}

    await move_to(hass, freezer, dt_util.utcnow() + timedelta(days=11))
    await hass.services.async_call("button", "press", renew, blocking=True)
    third = attributes_of(hass, certificate_id, "expires")["serial_number"]
    assert {path.stem for path in (keys / certificate_id).iterdir()} == {third}
