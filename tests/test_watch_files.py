"""Tests of watched certificate files and pasted PEM."""

from __future__ import annotations

from datetime import timedelta
import logging
from pathlib import Path
import subprocess

from freezegun.api import FrozenDateTimeFactory
import pytest

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_pki.const import DOMAIN, EVENT_CERTIFICATE_CHANGED
from custom_components.home_pki.entity import ADD_SLICE

from .conftest import CA_DATA
from .factory import ForeignAuthority, make_authority, self_signed
from .helpers import (
    add_watched,
    attributes_of,
    certificate_entity,
    certificate_named,
    state_of,
    tick,
)


@pytest.fixture(scope="module")
def garage_ca() -> ForeignAuthority:
    """Return a CA other than the home one, as a camera maker's would be."""
    return make_authority("Garage", dt_util.utcnow())


async def test_file_is_watched_and_replacement_noticed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    deploy_dir: Path,
    garage_ca: ForeignAuthority,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A PEM file shows its certificate; a replaced file fires the changed event."""
    now = dt_util.utcnow()
    first = garage_ca.issue(now, not_after=now + timedelta(days=40))
    path = deploy_dir / "fullchain.pem"
    path.write_bytes(first.chain_pem)

    result = await add_watched(
        hass,
        init_integration,
        "file",
        path=str(path),
        trust="custom",
        custom_ca=garage_ca.root_pem,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "fullchain.pem"
    certificate_id = certificate_named(init_integration, "fullchain.pem")

    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    assert device.model == "Watched certificate"
    entities = er.async_entries_for_device(er.async_get(hass), device.id)
    assert sorted(entity.unique_id.split("_", 1)[1] for entity in entities) == [
        "days_remaining",
        "expires",
        "problem",
        "status",
    ]
    assert state_of(hass, certificate_id, "status") == "valid"
    assert state_of(hass, certificate_id, "problem") == "off"
    assert state_of(hass, certificate_id, "days_remaining") == "39"
    attributes = attributes_of(hass, certificate_id, "expires")
    assert attributes["source"] == str(path)
    assert attributes["serial_number"] == format(
        first.certificate.serial_number, "X"
    ).zfill(len(attributes["serial_number"]))
    assert attributes["chain"] == [
        "CN=localhost",
        "CN=Garage Intermediate",
        "CN=Garage Root",
    ]
    assert attributes["renewal"] is None

    changed = async_capture_events(hass, EVENT_CERTIFICATE_CHANGED)
    second = garage_ca.issue(now, not_after=now + timedelta(days=90))
    path.write_bytes(second.chain_pem)
    await tick(hass, freezer, minutes=1, seconds=1)

    assert state_of(hass, certificate_id, "days_remaining") == "89"
    assert len(changed) == 1
    data = changed[0].data
    assert data["certificate_id"] == certificate_id
    assert data["name"] == "fullchain.pem"
    assert int(data["serial_number"], 16) == second.certificate.serial_number
    assert int(data["previous_serial_number"], 16) == first.certificate.serial_number
    assert data["issuer"] == data["previous_issuer"] == "CN=Garage Intermediate"
    assert data["not_after"] == second.certificate.not_valid_after_utc.isoformat()
    assert (
        data["previous_not_after"] == first.certificate.not_valid_after_utc.isoformat()
    )
    assert data["issuer_changed"] is False
    assert state_of(hass, certificate_id, "problem") == "off"

    await tick(hass, freezer, minutes=1, seconds=1)
    assert len(changed) == 1


async def test_unexpected_issuer_sets_problem_until_accepted(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    deploy_dir: Path,
    garage_ca: ForeignAuthority,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
) -> None:
    """A certificate from another issuer is a problem until someone accepts it."""
    now = dt_util.utcnow()
    other_ca = make_authority("Intruder", now)
    path = deploy_dir / "camera.pem"
    path.write_bytes(garage_ca.issue(now).chain_pem)
    bundle = garage_ca.root_pem + other_ca.root_pem
    await add_watched(
        hass,
        init_integration,
        "file",
        path=str(path),
        name="Garage camera",
        trust="custom",
        custom_ca=bundle,
    )
    certificate_id = certificate_named(init_integration, "Garage camera")
    changed = async_capture_events(hass, EVENT_CERTIFICATE_CHANGED)

    path.write_bytes(other_ca.issue(now).chain_pem)
    await tick(hass, freezer, minutes=1, seconds=1)

    assert changed[-1].data["issuer_changed"] is True
    assert changed[-1].data["issuer"] == "CN=Intruder Intermediate"
    assert state_of(hass, certificate_id, "problem") == "on"
    assert attributes_of(hass, certificate_id, "problem")["reasons"] == [
        "issuer_changed"
    ]
    assert state_of(hass, certificate_id, "status") == "valid"

    # The problem stays while nobody accepts (within the client's token life).
    await tick(hass, freezer, minutes=20)
    assert attributes_of(hass, certificate_id, "problem")["reasons"] == [
        "issuer_changed"
    ]

    issue_id = f"issuer_changed_{certificate_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "name": "Garage camera",
        "expected_issuer": "CN=Garage Intermediate",
        "issuer": "CN=Intruder Intermediate",
    }

    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    started = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    assert started.status == 200
    flow = await started.json()
    assert flow["step_id"] == "confirm"
    confirmed = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}")
    assert confirmed.status == 200
    assert (await confirmed.json())["type"] == "create_entry"
    await hass.async_block_till_done()
    assert state_of(hass, certificate_id, "problem") == "off"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None

    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN,
            "accept_certificate",
            {"entity_id": certificate_entity(hass, certificate_id, "expires")},
            blocking=True,
        )
    assert raised.value.translation_key == "no_change_to_accept"

    path.write_bytes(other_ca.issue(now).chain_pem)
    await tick(hass, freezer, minutes=1, seconds=1)
    assert changed[-1].data["issuer_changed"] is False
    assert state_of(hass, certificate_id, "problem") == "off"

    path.write_bytes(garage_ca.issue(now).chain_pem)
    await tick(hass, freezer, minutes=1, seconds=1)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    await hass.services.async_call(
        DOMAIN,
        "accept_certificate",
        {"device_id": _device_id(hass, certificate_id)},
        blocking=True,
    )
    assert state_of(hass, certificate_id, "problem") == "off"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None

    path.write_bytes(other_ca.issue(now).chain_pem)
    await tick(hass, freezer, minutes=1, seconds=1)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert hass.config_entries.async_remove_subentry(init_integration, certificate_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


def _device_id(hass: HomeAssistant, certificate_id: str) -> str:
    """Return the device ID of a certificate."""
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    return device.id


async def test_missing_file_keeps_last_certificate(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    deploy_dir: Path,
    garage_ca: ForeignAuthority,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A file that disappears keeps its last certificate and comes back."""
    now = dt_util.utcnow()
    issued = garage_ca.issue(now)
    path = deploy_dir / "nas.pem"
    path.write_bytes(issued.chain_pem)
    await add_watched(
        hass,
        init_integration,
        "file",
        path=str(path),
        name="NAS",
        trust="custom",
        custom_ca=garage_ca.root_pem,
    )
    certificate_id = certificate_named(init_integration, "NAS")
    expires = hass.states.get(certificate_entity(hass, certificate_id, "expires"))
    assert expires is not None
    seen = attributes_of(hass, certificate_id, "expires")["last_seen"]

    path.unlink()
    caplog.clear()
    await tick(hass, freezer, minutes=1, seconds=1)
    await tick(hass, freezer, minutes=1, seconds=1)

    assert state_of(hass, certificate_id, "status") == "unreachable"
    assert state_of(hass, certificate_id, "problem") == "off"
    attributes = attributes_of(hass, certificate_id, "expires")
    assert attributes["error"] == "file_missing"
    assert attributes["last_seen"] == seen
    after = hass.states.get(certificate_entity(hass, certificate_id, "expires"))
    assert after is not None
    assert after.state == expires.state
    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and "NAS" in record.getMessage()
    ]
    assert len(warnings) == 1

    path.write_bytes(issued.chain_pem)
    await tick(hass, freezer, minutes=1, seconds=1)
    assert state_of(hass, certificate_id, "status") == "valid"
    assert attributes_of(hass, certificate_id, "expires")["error"] is None
    assert any("can be read again" in record.getMessage() for record in caplog.records)


async def test_pasted_chain_is_judged_like_a_served_one(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
) -> None:
    """A pasted leaf without its intermediate is completed from the trust bundle."""
    now = dt_util.utcnow()
    issued = garage_ca.issue(now, send_intermediate=False)
    bundle = garage_ca.root_pem + garage_ca.intermediate_pem
    await add_watched(
        hass,
        init_integration,
        "file",
        pem=issued.chain_pem.decode(),
        trust="custom",
        custom_ca=bundle,
    )
    certificate_id = certificate_named(init_integration, "localhost")
    assert state_of(hass, certificate_id, "status") == "valid"
    assert attributes_of(hass, certificate_id, "problem")["reasons"] == [
        "missing_intermediate"
    ]
    assert attributes_of(hass, certificate_id, "expires")["source"] == "pasted PEM"

    router = self_signed(now, names=("router.lan",), addresses=())
    await add_watched(hass, init_integration, "file", pem=router.chain_pem.decode())
    router_id = certificate_named(init_integration, "router.lan")
    assert state_of(hass, router_id, "status") == "invalid_chain"
    assert "self_signed" in attributes_of(hass, router_id, "problem")["reasons"]

    pinned = self_signed(now, names=("printer.lan",), addresses=())
    await add_watched(
        hass,
        init_integration,
        "file",
        pem=pinned.chain_pem.decode(),
        name="Router pinned",
        trust="custom",
        custom_ca=pinned.chain_pem.decode(),
    )
    pinned_id = certificate_named(init_integration, "Router pinned")
    assert state_of(hass, pinned_id, "status") == "valid"


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({}, {"base": "path_or_pem"}),
        ({"path": "/etc/ssl/x.pem", "pem": "x"}, {"base": "path_or_pem"}),
        ({"path": "/etc/hostname"}, {"path": "path_not_allowed"}),
        ({"path": "relative.pem"}, {"path": "path_not_allowed"}),
        ({"pem": "not a certificate"}, {"pem": "invalid_pem"}),
        (
            {"pem": "x", "trust": "custom"},
            {"custom_ca": "custom_ca_required", "pem": "invalid_pem"},
        ),
        (
            {"pem": "x", "trust": "custom", "custom_ca": "garbage"},
            {"custom_ca": "invalid_pem", "pem": "invalid_pem"},
        ),
    ],
)
async def test_file_form_errors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    fields: dict[str, str],
    errors: dict[str, str],
) -> None:
    """Each wrong file field is a translated form error and creates nothing."""
    result = await add_watched(hass, init_integration, "file", **fields)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert not init_integration.subentries


async def test_file_form_reads_the_file(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    deploy_dir: Path,
    garage_ca: ForeignAuthority,
) -> None:
    """A missing or unreadable file is refused; the same file twice too."""
    missing = await add_watched(
        hass, init_integration, "file", path=str(deploy_dir / "none.pem")
    )
    assert missing["errors"] == {"path": "file_missing"}
    junk = deploy_dir / "junk.pem"
    junk.write_text("hello")
    invalid = await add_watched(hass, init_integration, "file", path=str(junk))
    assert invalid["errors"] == {"path": "file_invalid"}

    good = deploy_dir / "good.pem"
    good.write_bytes(garage_ca.issue(dt_util.utcnow()).chain_pem)
    first = await add_watched(hass, init_integration, "file", path=str(good))
    assert first["type"] is FlowResultType.CREATE_ENTRY
    again = await add_watched(hass, init_integration, "file", path=str(good))
    assert again["errors"] == {"base": "already_configured"}


@pytest.fixture
def old_camera_pem(tmp_path: Path) -> str:
    """Return an old camera's certificate: RSA 1024, SHA-1, ten years."""
    # cryptography refuses to sign with SHA-1; openssl still can.
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:1024",
            "-sha1",
            "-days",
            "3650",
            "-nodes",
            "-subj",
            "/CN=old-camera.lan",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
            str(tmp_path / "old.key"),
            "-out",
            str(tmp_path / "old.pem"),
        ],
        capture_output=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return (tmp_path / "old.pem").read_text()


async def test_policy_is_applied_to_watched_certificates(
    hass: HomeAssistant, init_integration: MockConfigEntry, old_camera_pem: str
) -> None:
    """A weak key, a SHA-1 signature and a long life break the CA's policy."""
    pem = old_camera_pem
    await add_watched(
        hass, init_integration, "file", pem=pem, trust="custom", custom_ca=pem
    )
    certificate_id = certificate_named(init_integration, "old-camera.lan")
    assert state_of(hass, certificate_id, "status") == "policy_violation"
    assert attributes_of(hass, certificate_id, "problem")["reasons"] == [
        "weak_key",
        "sha1_signature",
        "lifetime_too_long",
    ]
    attributes = attributes_of(hass, certificate_id, "expires")
    assert attributes["key_type"] == "RSA 1024"
    assert attributes["signature_algorithm"] == "sha1WithRSAEncryption"


async def test_many_watched_certificates_appear_at_start(
    hass: HomeAssistant, garage_ca: ForeignAuthority
) -> None:
    """A home with more certificates than one slice gets every entity at start."""
    pem = garage_ca.issue(dt_util.utcnow()).chain_pem.decode()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        data=dict(CA_DATA),
        unique_id="home",
        subentries_data=[
            {
                "subentry_type": "file",
                "title": f"Device {number}",
                "unique_id": f"device-{number}",
                "data": {
                    "pem": pem,
                    "trust": "custom",
                    "custom_ca": garage_ca.root_pem,
                },
            }
            for number in range(3 * ADD_SLICE + 1)
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    statuses = [
        state_of(hass, certificate_id, "status") for certificate_id in entry.subentries
    ]
    assert statuses == ["valid"] * (3 * ADD_SLICE + 1)
    assert len(hass.states.async_entity_ids("binary_sensor")) == 3 * ADD_SLICE + 1
    assert not hass.states.async_entity_ids("button")


async def test_reconfigured_paste_is_read_again(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
) -> None:
    """Pasting another certificate in the reconfigure step shows it at once."""
    now = dt_util.utcnow()
    first = garage_ca.issue(now)
    await add_watched(
        hass,
        init_integration,
        "file",
        pem=first.chain_pem.decode(),
        name="Hub",
        trust="custom",
        custom_ca=garage_ca.root_pem,
    )
    certificate_id = certificate_named(init_integration, "Hub")
    second = garage_ca.issue(now, not_after=now + timedelta(days=120))
    result = await init_integration.start_subentry_reconfigure_flow(
        hass, "file", certificate_id
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Hub",
            "pem": second.chain_pem.decode(),
            "trust": "custom",
            "custom_ca": garage_ca.root_pem,
        },
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["reason"] == "reconfigure_successful"
    serial = attributes_of(hass, certificate_id, "expires")["serial_number"]
    assert int(serial, 16) == second.certificate.serial_number
    assert state_of(hass, certificate_id, "days_remaining") == "119"
