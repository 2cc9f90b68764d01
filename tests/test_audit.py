"""Tests of the audit trail: what it records, by whom, and how it is verified."""

from __future__ import annotations

from datetime import datetime, timedelta
import hashlib
import json
from pathlib import Path
import shutil
import stat
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from freezegun.api import FrozenDateTimeFactory
import pytest

from homeassistant.auth.models import User
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, Unauthorized
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.home_pki.const import DOMAIN

from .conftest import KEY_MARKER, add_issued
from .helpers import attributes_of, certificate_entity, certificate_named

GENESIS = "0" * 64


def trail_path(hass: HomeAssistant, entry: MockConfigEntry) -> Path:
    """Return the audit trail file of a CA."""
    return Path(hass.config.path(DOMAIN, "audit", f"{entry.entry_id}.jsonl"))


def trail(hass: HomeAssistant, entry: MockConfigEntry) -> list[dict[str, Any]]:
    """Return the lines of a CA's audit trail, parsed."""
    return [
        json.loads(line) for line in trail_path(hass, entry).read_bytes().splitlines()
    ]


def actions(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    """Return what each line of a CA's audit trail says happened."""
    return [line["action"] for line in trail(hass, entry)]


def assert_chained(path: Path) -> None:
    """Check by hand that each line holds the SHA-256 of the one before it."""
    previous = GENESIS
    for line in path.read_bytes().splitlines():
        assert json.loads(line)["previous"] == previous
        previous = hashlib.sha256(line).hexdigest()


async def verify(
    hass: HomeAssistant, entry: MockConfigEntry, context: Context | None = None
) -> dict[str, Any]:
    """Call verify_audit_log for a CA and return its answer."""
    response = await hass.services.async_call(
        DOMAIN,
        "verify_audit_log",
        {"config_entry_id": entry.entry_id},
        blocking=True,
        return_response=True,
        context=context,
    )
    assert response is not None
    return dict(response)


async def renew(
    hass: HomeAssistant, certificate_id: str, context: Context | None = None
) -> None:
    """Renew a certificate through the renew action."""
    await hass.services.async_call(
        DOMAIN,
        "renew",
        {"entity_id": certificate_entity(hass, certificate_id, "expires")},
        blocking=True,
        context=context,
    )
    await hass.async_block_till_done()


@pytest.fixture
async def broker(hass: HomeAssistant, init_integration: MockConfigEntry) -> str:
    """Add the Mosquitto broker's certificate and return its ID."""
    await add_issued(hass, init_integration)
    return certificate_named(init_integration, "Mosquitto broker")


async def test_trail_says_who_did_what(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: str,
    hass_admin_user: User,
) -> None:
    """Each thing done lands as one chained line, with who did it."""
    admin = Context(user_id=hass_admin_user.id)
    await renew(hass, broker, admin)
    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": certificate_entity(hass, broker, "renew")},
        blocking=True,
        context=admin,
    )
    await renew(hass, broker, Context(parent_id="01JQAUTOMATIONTRIGGER"))
    exported = await hass.services.async_call(
        DOMAIN,
        "export",
        {
            "entity_id": certificate_entity(hass, broker, "expires"),
            "include_private_key": True,
        },
        blocking=True,
        return_response=True,
        context=admin,
    )
    await hass.services.async_call(
        DOMAIN,
        "revoke",
        {
            "entity_id": certificate_entity(hass, broker, "expires"),
            "reason": "key_compromise",
        },
        blocking=True,
        context=admin,
    )
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {"default_validity_days": 30}
    )
    await hass.async_block_till_done()

    lines = trail(hass, init_integration)
    assert [line["action"] for line in lines] == [
        "certificate_added",
        "issued",
        "renewed",
        "renewed",
        "renewed",
        "key_exported",
        "revoked",
        "options_changed",
    ]
    me = {"kind": "user", "id": hass_admin_user.id, "name": hass_admin_user.name}
    assert [line["who"] for line in lines] == [
        {"kind": "home_pki", "id": None, "name": None},
        {"kind": "home_pki", "id": None, "name": None},
        me,
        me,
        {"kind": "automation", "id": None, "name": None},
        me,
        me,
        {"kind": "home_pki", "id": None, "name": None},
    ]
    assert all(line["outcome"] == "ok" for line in lines)
    assert {line["certificate_id"] for line in lines[:7]} == {broker}
    assert {line["name"] for line in lines[:7]} == {"Mosquitto broker"}
    assert lines[0]["detail"] == "issued"
    assert lines[0]["changes"]["dns_names"] == {"from": None, "to": ["mqtt.home.arpa"]}
    assert len({line["serial_number"] for line in lines[1:5]}) == 4
    assert lines[5]["serial_number"] == lines[4]["serial_number"]
    assert lines[6]["serial_number"] == lines[4]["serial_number"]
    assert lines[6]["detail"] == "key_compromise"
    assert lines[7]["changes"]["default_validity_days"] == {"from": None, "to": 30}
    assert lines[7]["time"].endswith("+00:00")
    assert_chained(trail_path(hass, init_integration))

    assert await verify(hass, init_integration) == {
        "intact": True,
        "lines": 8,
        "first_broken_line": None,
        "reason": None,
    }

    content = trail_path(hass, init_integration).read_text()
    assert exported is not None
    key_pem = exported["certificates"][0]["private_key"]
    key_body = "".join(key_pem.splitlines()[1:-1])
    assert KEY_MARKER not in content
    assert key_body[:40] not in content
    assert stat.S_IMODE(trail_path(hass, init_integration).stat().st_mode) == 0o600


async def test_automation_is_named(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: str
) -> None:
    """A renewal an automation asked for names that automation."""
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "renew_broker",
                "alias": "Renew the broker",
                "triggers": {"trigger": "event", "event_type": "broker_restarted"},
                "actions": {
                    "action": "button.press",
                    "target": {"entity_id": certificate_entity(hass, broker, "renew")},
                },
            }
        },
    )
    hass.bus.async_fire("broker_restarted")
    await hass.async_block_till_done()

    last = trail(hass, init_integration)[-1]
    assert last["action"] == "renewed"
    assert last["who"] == {
        "kind": "automation",
        "id": "automation.renew_the_broker",
        "name": "Renew the broker",
    }


async def test_timer_renewal_is_home_pki(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: str,
    hass_admin_user: User,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A renewal the timer runs is Home PKI's, though a user's action planned it."""
    await renew(hass, broker, Context(user_id=hass_admin_user.id))
    moment = datetime.fromisoformat(
        attributes_of(hass, broker, "expires")["next_renewal"]
    ) + timedelta(seconds=1)
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done()

    lines = trail(hass, init_integration)[-2:]
    assert [line["action"] for line in lines] == ["renewed", "renewed"]
    assert [line["who"]["kind"] for line in lines] == ["user", "home_pki"]


async def test_failed_renewal_and_signed_csr(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: str,
    tmp_path: Path,
) -> None:
    """A failure is recorded as failed with its class; a signed CSR has its own action."""
    folder = tmp_path / ".storage" / DOMAIN / init_integration.entry_id / "certificates"
    failures = async_capture_events(hass, "home_pki_renewal_failed")
    shutil.rmtree(folder / broker)
    (folder / broker).write_text("in the way")
    with pytest.raises(HomeAssistantError):
        await renew(hass, broker)
    await hass.async_block_till_done()

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "esp32")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("esp32.home.arpa")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    signed = await hass.services.async_call(
        DOMAIN,
        "sign_csr",
        {
            "config_entry_id": init_integration.entry_id,
            "csr": csr.public_bytes(serialization.Encoding.PEM).decode(),
        },
        blocking=True,
        return_response=True,
    )
    await hass.async_block_till_done()
    assert signed is not None

    failed, csr_line = trail(hass, init_integration)[-2:]
    assert failed["action"] == "renewal_failed"
    assert failed["outcome"] == "failed"
    assert failed["detail"] == failures[0].data["error_class"]
    assert csr_line["action"] == "signed_csr"
    assert csr_line["certificate_id"] is None
    assert csr_line["name"] == "esp32"
    assert csr_line["serial_number"] == signed["serial_number"]


async def test_certificate_changed_and_removed(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: str
) -> None:
    """Reconfiguring and removing a certificate are recorded before what follows."""
    subentry = init_integration.subentries[broker]
    hass.config_entries.async_update_subentry(
        init_integration,
        subentry,
        data={**subentry.data, "dns_names": ["broker.home.arpa"]},
    )
    await hass.async_block_till_done()
    hass.config_entries.async_remove_subentry(init_integration, broker)
    await hass.async_block_till_done()

    lines = trail(hass, init_integration)
    assert [line["action"] for line in lines[2:]] == [
        "certificate_changed",
        "renewed",
        "certificate_removed",
        "revoked",
    ]
    assert lines[2]["changes"] == {
        "dns_names": {"from": ["mqtt.home.arpa"], "to": ["broker.home.arpa"]}
    }
    assert (lines[4]["name"], lines[4]["detail"]) == ("Mosquitto broker", "issued")
    assert lines[5]["detail"] == "cessation_of_operation"


async def test_edited_line_is_named(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: str
) -> None:
    """One byte changed in line 3 makes verify_audit_log name line 3."""
    for _ in range(3):
        await renew(hass, broker)
    path = trail_path(hass, init_integration)
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 5
    lines[2] = lines[2].replace(b"Mosquitto", b"Mosquitoo", 1)
    path.write_bytes(b"".join(lines))

    assert await verify(hass, init_integration) == {
        "intact": False,
        "lines": 5,
        "first_broken_line": 3,
        "reason": "chain_broken",
    }


async def test_removed_last_line_is_noticed(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: str
) -> None:
    """Deleting the last line shows through the head, even after a restart."""
    await renew(hass, broker)
    path = trail_path(hass, init_integration)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))

    broken = {
        "intact": False,
        "lines": 2,
        "first_broken_line": 3,
        "reason": "lines_missing",
    }
    assert await verify(hass, init_integration) == broken

    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    await renew(hass, init_integration.subentries[broker].subentry_id)
    verdict = await verify(hass, init_integration)
    assert not verdict["intact"]
    assert verdict["first_broken_line"] == 2


async def test_restart_keeps_chaining(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: str
) -> None:
    """After unloading and loading the CA again, new lines chain on the old ones."""
    await renew(hass, broker)
    before = trail_path(hass, init_integration).read_bytes()

    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    await renew(hass, broker)

    after = trail_path(hass, init_integration).read_bytes()
    assert after.startswith(before)
    assert actions(hass, init_integration) == [
        "certificate_added",
        "issued",
        "renewed",
        "renewed",
    ]
    assert_chained(trail_path(hass, init_integration))
    assert (await verify(hass, init_integration))["intact"]


async def test_head_written_late_is_caught_up(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: str
) -> None:
    """A line whose head was lost, as in a power cut, is taken in at the next start."""
    head = trail_path(hass, init_integration).with_suffix(".head")
    stale = head.read_bytes()
    await renew(hass, broker)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    head.write_bytes(stale)

    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    assert (await verify(hass, init_integration))["intact"]
    await renew(hass, broker)
    assert await verify(hass, init_integration) == {
        "intact": True,
        "lines": 4,
        "first_broken_line": None,
        "reason": None,
    }


async def test_torn_line_stays_visible(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: str
) -> None:
    """A half-written last line is kept on its own line and reported."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    with trail_path(hass, init_integration).open("ab") as handle:
        handle.write(b'{"action":"ren')
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    await renew(hass, broker)

    raw = trail_path(hass, init_integration).read_bytes().splitlines()
    assert raw[2] == b'{"action":"ren'
    assert json.loads(raw[3])["action"] == "renewed"
    assert await verify(hass, init_integration) == {
        "intact": False,
        "lines": 4,
        "first_broken_line": 3,
        "reason": "unreadable_line",
    }


@pytest.mark.parametrize(
    ("head", "reason"),
    [(None, "head_missing"), (b"garbage", "head_unreadable")],
    ids=["missing", "unreadable"],
)
async def test_head_tampered(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: str,
    head: bytes | None,
    reason: str,
) -> None:
    """Without a readable head the trail cannot be vouched for."""
    path = trail_path(hass, init_integration).with_suffix(".head")
    if head is None:
        path.unlink()
    else:
        path.write_bytes(head)
    verdict = await verify(hass, init_integration)
    assert (verdict["intact"], verdict["reason"]) == (False, reason)
    assert verdict["lines"] == 2


async def test_verify_is_admin_only(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_read_only_user: User,
    hass_admin_user: User,
) -> None:
    """A read-only user may not verify; an admin may, and an empty trail is intact."""
    with pytest.raises(Unauthorized):
        await verify(hass, init_integration, Context(user_id=hass_read_only_user.id))
    assert await verify(
        hass, init_integration, Context(user_id=hass_admin_user.id)
    ) == {"intact": True, "lines": 0, "first_broken_line": None, "reason": None}


async def test_options_changed_in_the_settings_page(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_admin_user: User,
) -> None:
    """An options change made through the frontend names the signed-in person."""
    assert await async_setup_component(hass, "config", {})
    client = await hass_client()
    response = await client.post(
        "/api/config/config_entries/options/flow",
        json={"handler": init_integration.entry_id},
    )
    assert response.status == 200
    flow_id = (await response.json())["flow_id"]
    response = await client.post(
        f"/api/config/config_entries/options/flow/{flow_id}",
        json={"renew_at_fraction": 0.5},
    )
    assert response.status == 200
    await hass.async_block_till_done()

    (line,) = trail(hass, init_integration)
    assert line["action"] == "options_changed"
    assert line["who"] == {
        "kind": "user",
        "id": hass_admin_user.id,
        "name": hass_admin_user.name,
    }
    assert line["changes"]["renew_at_fraction"] == {"from": None, "to": 0.5}


async def test_certificate_removed_in_the_settings_page(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: str,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: User,
) -> None:
    """Removing a certificate over the websocket names the signed-in person."""
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config_entries/subentries/delete",
            "entry_id": init_integration.entry_id,
            "subentry_id": broker,
        }
    )
    assert (await client.receive_json())["success"]
    await hass.async_block_till_done()

    removed, revoked = trail(hass, init_integration)[-2:]
    assert removed["action"] == "certificate_removed"
    assert removed["who"] == {
        "kind": "user",
        "id": hass_admin_user.id,
        "name": hass_admin_user.name,
    }
    assert (revoked["action"], revoked["who"]["kind"]) == ("revoked", "home_pki")


async def test_unwritable_trail(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No key leaves without its line; other lines that fail are logged."""
    path = trail_path(hass, init_integration)
    path.rename(path.with_suffix(".moved"))
    path.mkdir()

    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "export",
            {
                "entity_id": certificate_entity(hass, broker, "expires"),
                "include_private_key": True,
            },
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "audit_log_unwritable"
    with pytest.raises(HomeAssistantError) as err:
        await verify(hass, init_integration)
    assert err.value.translation_key == "audit_log_unwritable"

    await renew(hass, broker)
    assert "Could not add renewed to the audit trail of Home" in caplog.text

    path.rmdir()
    path.with_suffix(".moved").rename(path)
    await renew(hass, broker)
    assert actions(hass, init_integration)[-1] == "renewed"
    assert (await verify(hass, init_integration))["intact"]


async def test_unreadable_trail_does_not_stop_the_ca(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    broker: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A CA whose trail cannot be read still loads, and says so."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    path = trail_path(hass, init_integration)
    path.rename(path.with_suffix(".moved"))
    path.mkdir()
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    assert "Could not read the audit trail of Home" in caplog.text

    path.rmdir()
    path.with_suffix(".moved").rename(path)
    await renew(hass, broker)
    assert actions(hass, init_integration)[-1] == "renewed"
    assert (await verify(hass, init_integration))["intact"]


async def test_removed_ca_keeps_its_trail(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: str
) -> None:
    """Removing the CA closes its trail with a last line and keeps the file."""
    path = trail_path(hass, init_integration)
    assert await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()

    assert path.exists()
    last = json.loads(path.read_bytes().splitlines()[-1])
    assert (last["action"], last["name"]) == ("ca_removed", "Home")
    assert_chained(path)


async def test_other_entries_are_not_recorded(
    hass: HomeAssistant, init_integration: MockConfigEntry, broker: str
) -> None:
    """Each CA's trail holds its own events only, and not watched subentries' types."""
    hass.bus.async_fire(
        "home_pki_certificate_renewed",
        {"config_entry_id": "another", "certificate_id": broker, "name": "x"},
    )
    hass.config_entries.async_add_subentry(
        init_integration,
        ConfigSubentry(
            data={"path": "/ssl/fullchain.pem"},
            subentry_type="file",
            title="Let's Encrypt",
            unique_id=None,
        ),
    )
    await hass.async_block_till_done()
    lines = trail(hass, init_integration)
    assert [line["action"] for line in lines] == [
        "certificate_added",
        "issued",
        "certificate_added",
    ]
    assert (lines[-1]["name"], lines[-1]["detail"]) == ("Let's Encrypt", "file")


async def test_policy_change_is_recorded(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A change to the CA's own data is recorded with what changed."""
    hass.config_entries.async_update_entry(
        init_integration,
        data={**init_integration.data, "permitted_dns_domains": ["home.arpa"]},
    )
    await hass.async_block_till_done()
    (line,) = trail(hass, init_integration)
    assert line["action"] == "policy_changed"
    assert line["changes"] == {
        "permitted_dns_domains": {
            "from": ["home.arpa", "internal", "lan", "local"],
            "to": ["home.arpa"],
        }
    }
