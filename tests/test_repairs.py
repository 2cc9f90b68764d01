"""Tests of the repair issues: each comes with its cause and goes with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
import json
from pathlib import Path
import shutil
import string
import subprocess
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_pki.const import DOMAIN

from .conftest import CA_DATA, add_issued
from .factory import ForeignAuthority, make_authority
from .helpers import (
    add_watched,
    attributes_of,
    certificate_entity,
    certificate_named,
    openssl,
    state_of,
)

PACKAGE = Path(__file__).parent.parent / "custom_components" / "home_pki"
ISSUES = json.loads((PACKAGE / "translations" / "en.json").read_text())["issues"]
FIXABLE = {"renewal_failing", "expired_issued", "intermediate_ending"}
NOT_FIXABLE = {
    "expired_device_pull",
    "expired_watched",
    "policy_violation",
    "revoked_served",
    "fixed_key_ending",
    "root_ending",
    "intermediate_ending_with_root",
}


@pytest.fixture(scope="module")
def garage_ca() -> ForeignAuthority:
    """Return a CA other than the home one, as a camera maker's would be."""
    return make_authority("Garage", dt_util.utcnow())


async def move_to(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime
) -> None:
    """Move the clock and let every timer that became due run."""
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done(wait_background_tasks=True)


def issue_of(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry | None:
    """Return one of Home PKI's repair issues, if it is raised."""
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id)


def placeholders(text: str) -> set[str]:
    """Return the placeholders a translated text uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def raised(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry:
    """Return a raised issue, checking that its texts are there and complete."""
    issue = issue_of(hass, issue_id)
    assert issue is not None, issue_id
    assert issue.translation_key is not None
    texts = ISSUES[issue.translation_key]
    given = set(issue.translation_placeholders or {})
    shown = [texts["title"]]
    if issue.is_fixable:
        step = texts["fix_flow"]["step"]["confirm"]
        shown += [step["title"], step["description"]]
    else:
        shown.append(texts["description"])
    for text in shown:
        assert placeholders(text) <= given, (issue.translation_key, text)
    return issue


def key_folder(tmp_path: Path, entry: MockConfigEntry, certificate_id: str) -> Path:
    """Return the folder that holds one certificate's keys."""
    return (
        tmp_path
        / ".storage"
        / DOMAIN
        / entry.entry_id
        / "certificates"
        / (certificate_id)
    )


def block(folder: Path) -> None:
    """Put a file where a folder must be, so nothing can be written into it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.write_text("in the way")


type ClientMaker = Callable[[], Awaitable[Any]]


@pytest.fixture
def admin_client(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
) -> ClientMaker:
    """Return a maker of admin clients whose token is fresh at the moved clock."""

    async def make() -> Any:
        assert await async_setup_component(hass, "repairs", {})
        refresh_token = await hass.auth.async_create_refresh_token(
            hass_admin_user, CLIENT_ID
        )
        return await hass_client(hass.auth.async_create_access_token(refresh_token))

    return make


async def start_fix(
    admin_client: ClientMaker, issue_id: str
) -> tuple[Any, dict[str, Any]]:
    """Start the fix flow of an issue over the repairs HTTP API."""
    client = await admin_client()
    started = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    assert started.status == 200
    return client, await started.json()


async def confirm(hass: HomeAssistant, client: Any, flow: dict[str, Any]) -> dict:
    """Submit the confirm step of a fix flow."""
    assert flow["step_id"] == "confirm"
    confirmed = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}")
    assert confirmed.status == 200
    await hass.async_block_till_done()
    return dict(await confirmed.json())


def test_every_issue_has_its_texts() -> None:
    """Fixable issues have their fix flow's texts; the others say what to do."""
    for key in FIXABLE:
        flow = ISSUES[key]["fix_flow"]
        assert flow["step"]["confirm"]["description"], key
        assert flow["error"], key
        assert flow["abort"], key
        assert "description" not in ISSUES[key], key
    for key in NOT_FIXABLE:
        assert ISSUES[key]["title"], key
        assert ISSUES[key]["description"], key
        assert "fix_flow" not in ISSUES[key], key


async def test_failing_renewal_is_repaired_by_renewing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
    admin_client: ClientMaker,
) -> None:
    """Three failed renewals raise a repair; its fix renews, or says why not."""
    await add_issued(hass, init_integration)
    certificate_id = certificate_named(init_integration, "Mosquitto broker")
    issue_id = f"renewal_failing_{certificate_id}"
    first_serial = attributes_of(hass, certificate_id, "expires")["serial_number"]
    folder = key_folder(tmp_path, init_integration, certificate_id)
    block(folder)

    moment = datetime.fromisoformat(
        attributes_of(hass, certificate_id, "expires")["next_renewal"]
    )
    for attempt in (1, 2, 3):
        assert issue_of(hass, issue_id) is None
        await move_to(hass, freezer, moment + timedelta(seconds=1))
        assert state_of(hass, certificate_id, "status") == "renewal_failed", attempt
        moment = datetime.fromisoformat(
            attributes_of(hass, certificate_id, "expires")["next_renewal"]
        )

    issue = raised(hass, issue_id)
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_key == "renewal_failing"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["name"] == "Mosquitto broker"
    assert issue.translation_placeholders["failures"] == "3"
    assert "NotADirectoryError" in issue.translation_placeholders["error"]

    client, flow = await start_fix(admin_client, issue_id)
    assert flow["description_placeholders"]["name"] == "Mosquitto broker"
    failed = await confirm(hass, client, flow)
    assert failed["type"] == "form"
    assert failed["errors"] == {"base": "renewal_failed"}
    assert "NotADirectoryError" in failed["description_placeholders"]["error"]
    issue = raised(hass, issue_id)
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["failures"] == "4"

    folder.unlink()
    done = await confirm(hass, client, failed)
    assert done["type"] == "create_entry"
    assert issue_of(hass, issue_id) is None
    assert state_of(hass, certificate_id, "status") == "valid"
    serial = attributes_of(hass, certificate_id, "expires")["serial_number"]
    assert serial != first_serial


async def test_expired_certificate_is_repaired_by_renewing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    admin_client: ClientMaker,
) -> None:
    """An expired issued certificate is an error the fix renews away."""
    await add_issued(hass, init_integration, renewal="manual", validity_days=30)
    certificate_id = certificate_named(init_integration, "Mosquitto broker")
    issue_id = f"expired_{certificate_id}"
    first_serial = attributes_of(hass, certificate_id, "expires")["serial_number"]
    not_after = datetime.fromisoformat(state_of(hass, certificate_id, "expires"))

    await move_to(hass, freezer, not_after - timedelta(minutes=1))
    assert issue_of(hass, issue_id) is None
    await move_to(hass, freezer, not_after + timedelta(hours=1))
    issue = raised(hass, issue_id)
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.is_fixable
    assert issue.translation_key == "expired_issued"
    assert issue.translation_placeholders == {
        "name": "Mosquitto broker",
        "source": "",
        "date": not_after.date().isoformat(),
        "days": "0",
    }

    client, flow = await start_fix(admin_client, issue_id)
    done = await confirm(hass, client, flow)
    assert done["type"] == "create_entry"
    assert issue_of(hass, issue_id) is None
    assert state_of(hass, certificate_id, "status") == "valid"
    serial = attributes_of(hass, certificate_id, "expires")["serial_number"]
    assert serial != first_serial


async def test_fix_of_a_removed_certificate_aborts(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    admin_client: ClientMaker,
) -> None:
    """A fix started for a certificate that is gone meanwhile does nothing."""
    await add_issued(hass, init_integration, renewal="manual", validity_days=30)
    certificate_id = certificate_named(init_integration, "Mosquitto broker")
    issue_id = f"expired_{certificate_id}"
    not_after = datetime.fromisoformat(state_of(hass, certificate_id, "expires"))
    await move_to(hass, freezer, not_after + timedelta(hours=1))
    client, flow = await start_fix(admin_client, issue_id)

    assert hass.config_entries.async_remove_subentry(init_integration, certificate_id)
    await hass.async_block_till_done()
    assert issue_of(hass, issue_id) is None
    aborted = await confirm(hass, client, flow)
    assert aborted["type"] == "abort"
    assert aborted["reason"] == "certificate_gone"


async def test_expired_watched_certificate(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    garage_ca: ForeignAuthority,
) -> None:
    """A watched certificate that expired is an error that only a new one clears."""
    now = dt_util.utcnow()
    ending = garage_ca.issue(now, not_after=now + timedelta(days=2))
    await add_watched(
        hass,
        init_integration,
        "file",
        pem=ending.chain_pem.decode(),
        name="Hub",
        trust="custom",
        custom_ca=garage_ca.root_pem,
    )
    certificate_id = certificate_named(init_integration, "Hub")
    issue_id = f"expired_{certificate_id}"
    assert issue_of(hass, issue_id) is None

    await move_to(hass, freezer, now + timedelta(days=3))
    assert state_of(hass, certificate_id, "status") == "expired"
    issue = raised(hass, issue_id)
    assert not issue.is_fixable
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_key == "expired_watched"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["source"] == "pasted PEM"

    fresh = garage_ca.issue(dt_util.utcnow())
    result = await init_integration.start_subentry_reconfigure_flow(
        hass, "file", certificate_id
    )
    await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Hub",
            "pem": fresh.chain_pem.decode(),
            "trust": "custom",
            "custom_ca": garage_ca.root_pem,
        },
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, certificate_id, "status") == "valid"
    assert issue_of(hass, issue_id) is None


@pytest.fixture
def old_camera_pem(tmp_path: Path) -> str:
    """Return an old camera's certificate: RSA 1024, SHA-1, ten years."""
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


async def test_policy_violation_until_removed(
    hass: HomeAssistant, init_integration: MockConfigEntry, old_camera_pem: str
) -> None:
    """A certificate that breaks the policy is a warning naming the reasons."""
    await add_watched(
        hass,
        init_integration,
        "file",
        pem=old_camera_pem,
        trust="custom",
        custom_ca=old_camera_pem,
    )
    certificate_id = certificate_named(init_integration, "old-camera.lan")
    issue_id = f"policy_violation_{certificate_id}"
    issue = raised(hass, issue_id)
    assert not issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["reasons"] == (
        "weak_key, sha1_signature, lifetime_too_long"
    )
    assert issue.translation_placeholders["name"] == "old-camera.lan"

    assert hass.config_entries.async_remove_subentry(init_integration, certificate_id)
    await hass.async_block_till_done()
    assert issue_of(hass, issue_id) is None


async def test_revoked_certificate_still_served(
    hass: HomeAssistant, init_integration: MockConfigEntry, deploy_dir: Path
) -> None:
    """A watched file with a revoked certificate is an error until it changes."""
    await add_issued(hass, init_integration, deploy_path=str(deploy_dir / "mqtt"))
    issued_id = certificate_named(init_integration, "Mosquitto broker")
    await add_watched(
        hass,
        init_integration,
        "file",
        path=str(deploy_dir / "mqtt" / "fullchain.pem"),
        name="Broker file",
        trust="home_ca",
        check_revocation=True,
    )
    watched_id = certificate_named(init_integration, "Broker file")
    issue_id = f"revoked_served_{watched_id}"
    assert state_of(hass, watched_id, "status") == "valid"
    assert issue_of(hass, issue_id) is None

    await hass.services.async_call(
        DOMAIN,
        "revoke",
        {"entity_id": certificate_entity(hass, issued_id, "expires")},
        blocking=True,
    )
    await hass.services.async_call(DOMAIN, "refresh", {}, blocking=True)
    assert state_of(hass, watched_id, "status") == "revoked"
    issue = raised(hass, issue_id)
    assert issue.severity is ir.IssueSeverity.ERROR
    assert not issue.is_fixable
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["source"].endswith("fullchain.pem")
    assert issue_of(hass, f"revoked_served_{issued_id}") is None

    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": certificate_entity(hass, issued_id, "renew")},
        blocking=True,
    )
    await hass.services.async_call(DOMAIN, "refresh", {}, blocking=True)
    assert state_of(hass, watched_id, "status") == "valid"
    assert issue_of(hass, issue_id) is None


async def test_fixed_key_certificate_nearing_its_end(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Only a fixed-key device's expiring certificate raises its warning."""
    await add_issued(
        hass,
        init_integration,
        name="Camera",
        dns_names=["camera.home.arpa"],
        fixed_key=True,
        renewal="manual",
        validity_days=30,
    )
    await add_issued(
        hass,
        init_integration,
        name="Doorbell",
        dns_names=["doorbell.home.arpa"],
        renewal="manual",
        validity_days=30,
    )
    camera = certificate_named(init_integration, "Camera")
    doorbell = certificate_named(init_integration, "Doorbell")
    issue_id = f"fixed_key_ending_{camera}"
    not_after = datetime.fromisoformat(state_of(hass, camera, "expires"))
    assert issue_of(hass, issue_id) is None

    await move_to(hass, freezer, not_after - timedelta(days=10))
    assert state_of(hass, camera, "status") == "expiring"
    assert state_of(hass, doorbell, "status") == "expiring"
    issue = raised(hass, issue_id)
    assert issue.severity is ir.IssueSeverity.WARNING
    assert not issue.is_fixable
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["days"] == "10"
    assert issue_of(hass, f"fixed_key_ending_{doorbell}") is None

    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": certificate_entity(hass, camera, "renew")},
        blocking=True,
    )
    assert state_of(hass, camera, "status") == "valid"
    assert issue_of(hass, issue_id) is None


async def test_intermediate_ending_is_repaired_by_replacing_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    deploy_dir: Path,
    tmp_path: Path,
    admin_client: ClientMaker,
) -> None:
    """An ending intermediate gets a new certificate; old leaves stay valid."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        data={**CA_DATA, "intermediate_validity_days": 200},
        unique_id="home",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue_id = f"authority_ending_intermediate_{entry.entry_id}"
    assert issue_of(hass, issue_id) is None
    broker = deploy_dir / "broker"
    await add_issued(
        hass, entry, renewal="manual", validity_days=398, deploy_path=str(broker)
    )
    certificate_id = certificate_named(entry, "Mosquitto broker")
    intermediate_end = datetime.fromisoformat(
        hass.states.get("sensor.home_ca_intermediate_expires").state
    )

    # An intermediate made for 200 days is warned about in its last 100.
    await move_to(hass, freezer, intermediate_end - timedelta(days=101))
    assert issue_of(hass, issue_id) is None
    await move_to(hass, freezer, intermediate_end - timedelta(days=99))
    issue = raised(hass, issue_id)
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_key == "intermediate_ending"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["days"] == "99"
    assert issue.translation_placeholders["name"] == "Home"
    assert issue_of(hass, f"authority_ending_root_{entry.entry_id}") is None

    root_key = tmp_path / ".storage" / DOMAIN / entry.entry_id / "root.key"
    root_key.rename(root_key.with_suffix(".away"))
    client, flow = await start_fix(admin_client, issue_id)
    failed = await confirm(hass, client, flow)
    assert failed["errors"] == {"base": "intermediate_not_replaced"}
    assert "root.key" in failed["description_placeholders"]["error"]
    assert issue_of(hass, issue_id) is not None

    root_key.with_suffix(".away").rename(root_key)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issue_of(hass, issue_id) is not None
    aborted = await confirm(hass, client, failed)
    assert aborted["reason"] == "not_loaded"

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    client, flow = await start_fix(admin_client, issue_id)
    done = await confirm(hass, client, flow)
    assert done["type"] == "create_entry"
    assert issue_of(hass, issue_id) is None
    new_end = datetime.fromisoformat(
        hass.states.get("sensor.home_ca_intermediate_expires").state
    )
    assert new_end - dt_util.utcnow() == pytest.approx(
        timedelta(days=200), abs=timedelta(minutes=1)
    )

    # The certificate issued before chains to the new intermediate, and the
    # CRL it signs still covers it.
    session = await admin_client()
    ca_pem = await (await session.get(f"/api/home_pki/{entry.entry_id}/ca.pem")).text()
    chain = tmp_path / "new-ca.pem"
    chain.write_text(ca_pem)
    at = str(int(dt_util.utcnow().timestamp()))
    verified = openssl("verify", "-attime", at, "-CAfile", chain, broker / "cert.pem")
    assert verified.returncode == 0, verified.stderr
    await hass.services.async_call(
        DOMAIN,
        "revoke",
        {"entity_id": certificate_entity(hass, certificate_id, "expires")},
        blocking=True,
    )
    crl = await (await session.get(f"/api/home_pki/{entry.entry_id}/crl")).read()
    (tmp_path / "crl.der").write_bytes(crl)
    converted = openssl(
        "crl", "-inform", "DER", "-in", tmp_path / "crl.der", "-out", tmp_path / "crl"
    )
    assert converted.returncode == 0, converted.stderr
    checked = openssl(
        "verify",
        "-attime",
        at,
        "-crl_check",
        "-CRLfile",
        tmp_path / "crl",
        "-CAfile",
        chain,
        broker / "cert.pem",
    )
    assert checked.returncode != 0
    assert "certificate revoked" in checked.stdout + checked.stderr

    # Served with the earlier intermediate certificate, it is still known revoked.
    await add_watched(
        hass,
        entry,
        "file",
        path=str(broker / "fullchain.pem"),
        name="Broker file",
        trust="home_ca",
        check_revocation=True,
    )
    watched = certificate_named(entry, "Broker file")
    assert state_of(hass, watched, "status") == "revoked"
    assert raised(hass, f"revoked_served_{watched}").is_fixable is False

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.home_ca_intermediate_expires").state == (
        new_end.isoformat()
    )
    assert issue_of(hass, issue_id) is None


async def test_ending_root_cannot_be_fixed_and_goes_with_the_entry(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    admin_client: ClientMaker,
) -> None:
    """A root near its end says what to do; its issues stay until the CA goes."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        data={**CA_DATA, "root_validity_days": 365, "intermediate_validity_days": 300},
        unique_id="home",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    root_id = f"authority_ending_root_{entry.entry_id}"
    intermediate_id = f"authority_ending_intermediate_{entry.entry_id}"
    root_end = datetime.fromisoformat(
        hass.states.get("sensor.home_ca_root_expires").state
    )

    await move_to(hass, freezer, root_end - timedelta(days=170))
    root = raised(hass, root_id)
    assert not root.is_fixable
    assert root.translation_key == "root_ending"
    intermediate = raised(hass, intermediate_id)
    assert not intermediate.is_fixable
    assert intermediate.translation_key == "intermediate_ending_with_root"
    assert intermediate.translation_placeholders is not None
    assert intermediate.translation_placeholders["root_date"] == (
        root_end.date().isoformat()
    )
    # A new intermediate certificate can reach the root's end, not beyond it;
    # the root's repair then tells what is left to do.
    await entry.runtime_data.async_replace_intermediate()
    assert hass.states.get("sensor.home_ca_intermediate_expires").state == (
        root_end.isoformat()
    )
    assert issue_of(hass, intermediate_id) is None
    assert issue_of(hass, root_id) is not None
    with pytest.raises(HomeAssistantError) as refused:
        await entry.runtime_data.async_replace_intermediate()
    assert refused.value.translation_key == "intermediate_not_replaced"

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issue_of(hass, root_id) is not None

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert raised(hass, root_id).translation_key == "root_ending"

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert issue_of(hass, root_id) is None
    assert issue_of(hass, intermediate_id) is None


async def test_stale_issues_are_dropped_at_start(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Issues left from an earlier run whose cause is gone are deleted at start."""
    mock_config_entry.add_to_hass(hass)
    for issue_id in (
        "expired_gone",
        f"authority_ending_root_{mock_config_entry.entry_id}",
    ):
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="expired_watched",
            data={"entry_id": mock_config_entry.entry_id},
        )
    ir.async_create_issue(
        hass,
        DOMAIN,
        "expired_of_another_ca",
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="expired_watched",
        data={"entry_id": "another"},
    )

    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert issue_of(hass, "expired_gone") is None
    assert issue_of(hass, f"authority_ending_root_{mock_config_entry.entry_id}") is None
    assert issue_of(hass, "expired_of_another_ca") is not None
