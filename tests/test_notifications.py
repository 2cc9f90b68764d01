"""Tests of notifications: thresholds, actions, snooze, fallback and family anomalies."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest
import voluptuous as vol

from homeassistant import loader
from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_test_home_assistant,
)

from custom_components.home_pki.const import DOMAIN

from .conftest import add_issued
from .factory import self_signed
from .helpers import add_watched, certificate_entity, certificate_named, state_of
from .test_init import restart_copy

TARGET = "mobile_app_test"
ACTION_EVENT = "mobile_app_notification_action"


@pytest.fixture
def sent(hass: HomeAssistant) -> list[dict[str, Any]]:
    """Register a fake phone and return the notifications it receives."""
    calls: list[dict[str, Any]] = []

    async def _receive(call: ServiceCall) -> None:
        calls.append(dict(call.data))

    hass.services.async_register("notify", TARGET, _receive)
    return calls


@pytest.fixture
async def notifying(
    hass: HomeAssistant, init_integration: MockConfigEntry, sent: list[dict[str, Any]]
) -> MockConfigEntry:
    """Send this CA's warnings to the fake phone, chosen in the options flow."""
    await set_options(hass, init_integration, notify_targets=[TARGET])
    return init_integration


@pytest.fixture
def shown(hass: HomeAssistant) -> dict[str, persistent_notification.Notification]:
    """Return the persistent notifications as they come and go."""
    notifications: dict[str, persistent_notification.Notification] = {}

    @callback
    def _update(
        kind: persistent_notification.UpdateType,
        changed: dict[str, persistent_notification.Notification],
    ) -> None:
        if kind is persistent_notification.UpdateType.REMOVED:
            for notification_id in changed:
                notifications.pop(notification_id, None)
        else:
            notifications.update(changed)

    persistent_notification.async_register_callback(hass, _update)
    return notifications


async def set_options(
    hass: HomeAssistant, entry: MockConfigEntry, **fields: Any
) -> dict[str, Any]:
    """Run the options flow with the defaults and some fields changed."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    defaults = {
        "default_validity_days": 90,
        "renew_at_fraction": 0.67,
        "warning_days": 14,
        "acme_port": 8444,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], defaults | fields
    )
    await hass.async_block_till_done()
    return dict(result)


def warnings(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the notifications sent, without the requests to clear one."""
    return [call for call in calls if call["message"] != "clear_notification"]


def titles(calls: list[dict[str, Any]]) -> list[str]:
    """Return the titles of the notifications sent."""
    return [call["title"] for call in warnings(calls)]


def clears(calls: list[dict[str, Any]]) -> list[str]:
    """Return the tags of the notifications the phone was told to clear."""
    return [
        call["data"]["tag"] for call in calls if call["message"] == "clear_notification"
    ]


def not_after_of(hass: HomeAssistant, certificate_id: str) -> datetime:
    """Return when a certificate ends, as its expires sensor says."""
    moment = dt_util.parse_datetime(state_of(hass, certificate_id, "expires"))
    assert moment is not None
    return moment


def serial_of(hass: HomeAssistant, certificate_id: str) -> str:
    """Return the serial number a certificate's entities show."""
    state = hass.states.get(certificate_entity(hass, certificate_id, "expires"))
    assert state is not None
    return str(state.attributes["serial_number"])


def device_path(hass: HomeAssistant, certificate_id: str) -> str:
    """Return the frontend path of a certificate's device."""
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    return f"/config/devices/device/{device.id}"


def block_renewal(tmp_path: Path, entry: MockConfigEntry, certificate_id: str) -> Path:
    """Put a file where a certificate's new key would go, so renewals fail."""
    folder = tmp_path / ".storage" / DOMAIN / entry.entry_id / "certificates"
    shutil.rmtree(folder / certificate_id)
    blocker = folder / certificate_id
    blocker.write_text("in the way")
    return blocker


async def move_to(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime
) -> None:
    """Move the clock and let every timer that became due run."""
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done()


async def tap(hass: HomeAssistant, action: str) -> None:
    """Tap a notification's action on the phone."""
    hass.bus.async_fire(ACTION_EVENT, {"action": action})
    await hass.async_block_till_done()


async def press_renew(hass: HomeAssistant, certificate_id: str) -> None:
    """Press a certificate's Renew button."""
    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": certificate_entity(hass, certificate_id, "renew")},
        blocking=True,
    )


async def test_options_store_notification_settings(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sent: list[dict[str, Any]],
) -> None:
    """The phones to choose from are the mobile app notify actions; days are checked."""
    hass.services.async_register("notify", "persistent_notification", lambda _: None)
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    schema = {str(key): value for key, value in result["data_schema"].schema.items()}
    targets = schema["notify_targets"].config["options"]
    assert [option["value"] for option in targets] == [TARGET]

    for bad in ("soon", "400", "-1"):
        result = await set_options(
            hass, init_integration, notify_thresholds=["30", bad]
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"notify_thresholds": "invalid_threshold"}
        assert result["description_placeholders"]["threshold"] == bad

    result = await set_options(
        hass,
        init_integration,
        notify_targets=[TARGET],
        notify_thresholds=["7", " 60 ", "7", "0"],
        notify_auto_renewing=True,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options["notify_targets"] == [TARGET]
    assert init_integration.options["notify_thresholds"] == [60, 7, 0]
    assert init_integration.options["notify_auto_renewing"] is True

    await set_options(hass, init_integration, notify_thresholds=[])
    assert init_integration.options["notify_thresholds"] == []
    await add_issued(hass, init_integration, renewal="manual", validity_days=1)
    assert sent == []


async def test_thresholds_fire_once_each(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A manual certificate warns at 30, 14, 7 and 1 days and at expiry, once each."""
    await add_issued(hass, notifying, renewal="manual", validity_days=40)
    certificate_id = certificate_named(notifying, "Mosquitto broker")
    not_after = not_after_of(hass, certificate_id)
    assert sent == []

    await move_to(hass, freezer, not_after - timedelta(days=31, hours=1))
    assert sent == []
    expected: list[str] = []
    for days in (30, 14, 7, 1):
        await move_to(hass, freezer, not_after - timedelta(days=days, hours=12))
        assert state_of(hass, certificate_id, "days_remaining") == str(days)
        unit = "day" if days == 1 else "days"
        expected.append(f"Mosquitto broker: certificate expires in {days} {unit}")
        assert titles(sent) == expected
        await move_to(hass, freezer, not_after - timedelta(days=days, hours=2))
        assert titles(sent) == expected

    await move_to(hass, freezer, not_after + timedelta(minutes=1))
    expected.append("Mosquitto broker: certificate expired")
    assert titles(sent) == expected
    await move_to(hass, freezer, not_after + timedelta(days=3))
    assert titles(sent) == expected

    first, last = sent[0], sent[-1]
    date = dt_util.as_local(not_after).strftime("%Y-%m-%d %H:%M")
    assert first["message"] == (
        "It is renewed by hand: tap Renew now, or press Renew on its device. "
        f"Valid until {date}."
    )
    assert last["message"].endswith(f"Expired on {date}.")
    path = device_path(hass, certificate_id)
    assert first["data"] == {
        "tag": f"home_pki_{certificate_id}",
        "url": path,
        "clickAction": path,
        "actions": [
            {"action": f"HOME_PKI_RENEW_{certificate_id}", "title": "Renew now"},
            {"action": f"HOME_PKI_SNOOZE_{certificate_id}", "title": "Snooze 1 day"},
            {"action": "URI", "title": "Open device", "uri": path},
        ],
    }
    assert {call["data"]["tag"] for call in sent} == {f"home_pki_{certificate_id}"}


async def test_safety_critical_breaks_through(
    hass: HomeAssistant, notifying: MockConfigEntry, sent: list[dict[str, Any]]
) -> None:
    """A safety-critical certificate is sent high priority and time-sensitive."""
    await add_issued(
        hass,
        notifying,
        name="Front door lock",
        dns_names=["lock.home.arpa"],
        renewal="manual",
        validity_days=10,
        safety_critical=True,
    )
    await add_issued(hass, notifying, renewal="manual", validity_days=10)

    lock = certificate_named(notifying, "Front door lock")
    by_tag = {call["data"]["tag"]: call for call in sent}
    assert len(sent) == 2
    urgent = by_tag[f"home_pki_{lock}"]
    assert urgent["title"] == "Front door lock: certificate expires in 9 days"
    assert urgent["data"]["priority"] == "high"
    assert urgent["data"]["ttl"] == 0
    assert urgent["data"]["push"] == {"interruption-level": "time-sensitive"}
    broker = certificate_named(notifying, "Mosquitto broker")
    normal = by_tag[f"home_pki_{broker}"]["data"]
    assert not {"priority", "ttl", "push"} & set(normal)


async def test_automatic_certificates_warn_only_on_failure(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    """An automatic certificate stays silent until its renewal fails, then clears."""
    await add_issued(hass, notifying, validity_days=20)
    certificate_id = certificate_named(notifying, "Mosquitto broker")
    first_serial = serial_of(hass, certificate_id)
    attributes = hass.states.get(
        certificate_entity(hass, certificate_id, "expires")
    ).attributes
    next_renewal = datetime.fromisoformat(attributes["next_renewal"])

    await move_to(hass, freezer, next_renewal - timedelta(seconds=5))
    assert state_of(hass, certificate_id, "days_remaining") in {"6", "7"}
    assert sent == []

    blocker = block_renewal(tmp_path, notifying, certificate_id)
    await move_to(hass, freezer, next_renewal + timedelta(seconds=1))
    assert state_of(hass, certificate_id, "status") == "renewal_failed"
    (warning,) = sent
    days = state_of(hass, certificate_id, "days_remaining")
    assert warning["title"] == f"Mosquitto broker: certificate expires in {days} days"
    assert warning["message"].startswith("Renewal failed once (NotADirectoryError")

    await move_to(hass, freezer, next_renewal + timedelta(minutes=1, seconds=2))
    await move_to(hass, freezer, next_renewal + timedelta(minutes=3, seconds=3))
    assert len(sent) == 1

    blocker.unlink()
    await move_to(hass, freezer, next_renewal + timedelta(minutes=7, seconds=4))
    assert serial_of(hass, certificate_id) != first_serial
    assert state_of(hass, certificate_id, "status") == "valid"
    assert len(warnings(sent)) == 1
    assert clears(sent) == [f"home_pki_{certificate_id}"]


async def test_automatic_certificates_can_warn_at_thresholds(
    hass: HomeAssistant, notifying: MockConfigEntry, sent: list[dict[str, Any]]
) -> None:
    """With notify_auto_renewing on, a healthy automatic certificate warns too."""
    await set_options(
        hass, notifying, notify_targets=[TARGET], notify_auto_renewing=True
    )
    await add_issued(hass, notifying, validity_days=20)
    (warning,) = sent
    assert warning["title"] == "Mosquitto broker: certificate expires in 19 days"
    assert warning["message"].startswith("Home PKI renews it by itself before then.")


async def test_failed_deployment_warns_until_it_works(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    deploy_dir: Path,
) -> None:
    """A deployment that fails warns; once the files are written the warning goes."""
    blocked = deploy_dir / "camera"
    blocked.write_text("a file, not a folder")
    await add_issued(hass, notifying, validity_days=20, deploy_path=str(blocked))
    certificate_id = certificate_named(notifying, "Mosquitto broker")
    (warning,) = sent
    assert warning["message"].startswith("Writing its files failed once (")

    blocked.unlink()
    await hass.services.async_call(DOMAIN, "refresh", {}, blocking=True)
    await hass.async_block_till_done()
    assert state_of(hass, certificate_id, "status") == "valid"
    assert clears(sent) == [f"home_pki_{certificate_id}"]
    assert len(warnings(sent)) == 1


async def test_every_chosen_phone_is_told(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    sent: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each chosen phone gets the warning; one that refuses it does not stop the rest."""
    hass.services.async_register(
        "notify",
        "mobile_app_old_phone",
        lambda _call: None,
        schema=vol.Schema({vol.Required("target"): str}),
    )
    await set_options(
        hass, init_integration, notify_targets=["mobile_app_old_phone", TARGET]
    )
    await add_issued(hass, init_integration, renewal="manual", validity_days=10)
    assert len(sent) == 1
    assert "Could not notify mobile_app_old_phone" in caplog.text


async def test_renew_now_action_renews(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """Tapping Renew now issues a new certificate; a failure is told on the phone."""
    await add_issued(hass, notifying, renewal="manual", validity_days=10)
    certificate_id = certificate_named(notifying, "Mosquitto broker")
    serial = serial_of(hass, certificate_id)
    assert len(sent) == 1

    for stranger in ("HOME_PKI_RENEW_nothing", "SOMETHING_ELSE", "HOME_PKI_SNOOZE_x"):
        await tap(hass, stranger)
    hass.bus.async_fire(ACTION_EVENT, {"message": "no action"})
    await hass.async_block_till_done()
    assert serial_of(hass, certificate_id) == serial
    assert len(sent) == 1

    await tap(hass, f"HOME_PKI_RENEW_{certificate_id}")
    renewed = serial_of(hass, certificate_id)
    assert renewed != serial
    assert clears(sent) == [f"home_pki_{certificate_id}"]
    await hass.async_block_till_done()
    assert len(warnings(sent)) == 2
    assert warnings(sent)[-1]["title"] == (
        "Mosquitto broker: certificate expires in 9 days"
    )

    block_renewal(tmp_path, notifying, certificate_id)
    await tap(hass, f"HOME_PKI_RENEW_{certificate_id}")
    assert serial_of(hass, certificate_id) == renewed
    failure = warnings(sent)[-1]
    assert failure["title"] == "Mosquitto broker: renewing did not work"
    assert failure["message"].startswith("Renew now failed: ")
    assert "NotADirectoryError" in failure["message"]
    assert failure["data"]["tag"] == f"home_pki_{certificate_id}"


async def test_snooze_delays_the_next_warning_by_a_day(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """After Snooze, a threshold reached within the day waits until the day is over."""
    await add_issued(hass, notifying, renewal="manual", validity_days=40)
    certificate_id = certificate_named(notifying, "Mosquitto broker")
    not_after = not_after_of(hass, certificate_id)
    await move_to(hass, freezer, not_after - timedelta(days=14, hours=12))
    assert titles(sent) == ["Mosquitto broker: certificate expires in 14 days"]

    snoozed_at = not_after - timedelta(days=8, hours=6)
    await move_to(hass, freezer, snoozed_at)
    await tap(hass, f"HOME_PKI_SNOOZE_{certificate_id}")
    await move_to(hass, freezer, not_after - timedelta(days=7, hours=12))
    assert state_of(hass, certificate_id, "days_remaining") == "7"
    assert len(sent) == 1

    await move_to(hass, freezer, snoozed_at + timedelta(days=1) - timedelta(seconds=2))
    assert len(sent) == 1
    await move_to(hass, freezer, snoozed_at + timedelta(days=1, seconds=1))
    assert titles(sent) == [
        "Mosquitto broker: certificate expires in 14 days",
        "Mosquitto broker: certificate expires in 7 days",
    ]


async def test_persistent_notification_without_a_phone(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    shown: dict[str, persistent_notification.Notification],
) -> None:
    """With no phone chosen, the same warning appears in Home Assistant, then goes."""
    await add_issued(hass, init_integration, renewal="manual", validity_days=10)
    certificate_id = certificate_named(init_integration, "Mosquitto broker")
    notification = shown[f"home_pki_{certificate_id}"]
    assert notification["title"] == "Mosquitto broker: certificate expires in 9 days"
    date = dt_util.as_local(not_after_of(hass, certificate_id)).strftime(
        "%Y-%m-%d %H:%M"
    )
    assert notification["message"] == (
        "It is renewed by hand: tap Renew now, or press Renew on its device. "
        f"Valid until {date}.\n\n"
        f"[Open device]({device_path(hass, certificate_id)})"
    )

    await press_renew(hass, certificate_id)
    assert shown[f"home_pki_{certificate_id}"]["title"] == notification["title"]
    await set_options(hass, init_integration, notify_thresholds=["7"])
    assert f"home_pki_{certificate_id}" in shown
    hass.config_entries.async_remove_subentry(init_integration, certificate_id)
    await hass.async_block_till_done()
    assert f"home_pki_{certificate_id}" not in shown


async def test_watched_certificate_warns_without_renew(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """A watched certificate warns with what is wrong, and offers no Renew now."""
    router = self_signed(dt_util.utcnow(), names=("router.lan",), addresses=())
    await add_watched(hass, notifying, "file", pem=router.chain_pem.decode())
    certificate_id = certificate_named(notifying, "router.lan")
    assert sent == []

    not_after = not_after_of(hass, certificate_id)
    await move_to(hass, freezer, not_after - timedelta(days=4, hours=12))
    (warning,) = sent
    assert warning["title"] == "router.lan: certificate expires in 4 days"
    assert warning["message"].startswith(
        "It is self-signed and not trusted. "
        "Home PKI only watches it: renew it on the device itself. Valid until "
    )
    assert [action["action"] for action in warning["data"]["actions"]] == [
        f"HOME_PKI_SNOOZE_{certificate_id}",
        "URI",
    ]
    await tap(hass, f"HOME_PKI_RENEW_{certificate_id}")
    assert len(sent) == 1


async def test_restart_does_not_tell_again(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    hass_storage: dict[str, Any],
    tmp_path: Path,
) -> None:
    """What was sent is stored, so a reload or a restart sends nothing again."""
    await add_issued(hass, notifying, renewal="manual", validity_days=10)
    certificate_id = certificate_named(notifying, "Mosquitto broker")
    assert len(sent) == 1
    stored = hass_storage[f"{DOMAIN}.{notifying.entry_id}.notifications"]["data"]
    assert stored["certificates"][certificate_id]["sent"] == [30, 14]
    assert stored["certificates"][certificate_id]["serial_number"] == serial_of(
        hass, certificate_id
    )

    assert await hass.config_entries.async_reload(notifying.entry_id)
    await hass.async_block_till_done()
    assert len(sent) == 1
    assert await hass.config_entries.async_unload(notifying.entry_id)
    await hass.async_block_till_done()

    async with async_test_home_assistant(config_dir=str(tmp_path)) as second:
        second.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
        received: list[dict[str, Any]] = []

        async def _receive(call: ServiceCall) -> None:
            received.append(dict(call.data))

        second.services.async_register("notify", TARGET, _receive)
        copy = restart_copy(notifying)
        copy.add_to_hass(second)
        assert await async_setup_component(second, "http", {})
        assert await second.config_entries.async_setup(copy.entry_id)
        await second.async_block_till_done()
        assert state_of(second, certificate_id, "days_remaining") == "9"
        await set_options(
            second, copy, notify_targets=[TARGET], notify_thresholds=["30", "14", "9"]
        )
        assert [call["title"] for call in received] == [
            "Mosquitto broker: certificate expires in 9 days"
        ]
        assert await second.config_entries.async_unload(copy.entry_id)
        await second.async_stop()


async def add_camera(
    hass: HomeAssistant, entry: MockConfigEntry, number: int, model: str, **fields: Any
) -> str:
    """Add a camera certificate of a maker and model; return its ID."""
    await add_issued(
        hass,
        entry,
        name=f"Camera {number}",
        dns_names=[f"cam{number}.home.arpa"],
        manufacturer="Acme",
        model=model,
        **fields,
    )
    return certificate_named(entry, f"Camera {number}")


async def fail_renewal(hass: HomeAssistant, certificate_id: str) -> None:
    """Press Renew on a certificate whose renewal cannot work."""
    with pytest.raises(HomeAssistantError):
        await press_renew(hass, certificate_id)
    await hass.async_block_till_done()


def family_issues(hass: HomeAssistant) -> list[ir.IssueEntry]:
    """Return the family repair issues of Home PKI."""
    return [
        issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue_id.startswith("family_failing_")
    ]


async def test_family_anomaly_raises_one_issue_and_one_notification(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """Three failures on two cameras of one model: one repair and one notification."""
    cameras = [
        await add_camera(
            hass, notifying, number, "C1", renewal="manual", safety_critical=number == 1
        )
        for number in (1, 2)
    ]
    blockers = [block_renewal(tmp_path, notifying, camera) for camera in cameras]
    await fail_renewal(hass, cameras[0])
    await fail_renewal(hass, cameras[1])
    assert family_issues(hass) == []

    await fail_renewal(hass, cameras[0])
    (issue,) = family_issues(hass)
    assert issue.issue_id == "family_failing_acme_c1"
    assert issue.translation_key == "family_failing"
    assert issue.severity is ir.IssueSeverity.WARNING
    assert not issue.is_fixable
    assert issue.translation_placeholders == {
        "manufacturer": "Acme",
        "model": "C1",
        "devices": "Camera 1, Camera 2",
        "failures": "3",
    }
    (notification,) = sent
    assert notification["title"] == "Acme C1: renewals failing on 2 devices"
    assert notification["message"].startswith(
        "3 renewal failures in the last 24 hours on Camera 1, Camera 2."
    )
    assert notification["data"]["tag"] == "home_pki_family_acme_c1"
    assert notification["data"]["url"] == "/config/repairs"
    assert notification["data"]["priority"] == "high"

    await fail_renewal(hass, cameras[1])
    (issue,) = family_issues(hass)
    assert issue.translation_placeholders["failures"] == "4"
    assert len(sent) == 1

    blockers[0].unlink()
    await press_renew(hass, cameras[0])
    assert len(family_issues(hass)) == 1
    blockers[1].unlink()
    await press_renew(hass, cameras[1])
    await hass.async_block_till_done()
    assert family_issues(hass) == []
    assert clears(sent) == ["home_pki_family_acme_c1"]
    assert len(warnings(sent)) == 1


async def test_failures_in_different_families_raise_nothing(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """Three failures on three models, or on devices of no model, are no anomaly."""
    cameras = [
        await add_camera(hass, notifying, number, f"C{number}", renewal="manual")
        for number in (1, 2, 3)
    ]
    await add_issued(hass, notifying, renewal="manual")
    broker = certificate_named(notifying, "Mosquitto broker")
    for certificate_id in (*cameras, broker):
        block_renewal(tmp_path, notifying, certificate_id)
    for certificate_id in (*cameras, broker, broker, broker):
        await fail_renewal(hass, certificate_id)
    for entry_id in ("another entry", notifying.entry_id):
        for _ in range(3):
            hass.bus.async_fire(
                "home_pki_renewal_failed",
                {"config_entry_id": entry_id, "certificate_id": "elsewhere"},
            )
    await hass.async_block_till_done()
    assert family_issues(hass) == []
    assert sent == []


async def test_family_anomaly_ends_after_a_quiet_day(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
    hass_storage: dict[str, Any],
) -> None:
    """A family with no failure for 24 hours loses its issue, also across a reload."""
    cameras = [
        await add_camera(hass, notifying, number, "C1", renewal="manual")
        for number in (1, 2)
    ]
    for camera in cameras:
        block_renewal(tmp_path, notifying, camera)
    for camera in (*cameras, cameras[0]):
        await fail_renewal(hass, camera)
    assert len(family_issues(hass)) == 1
    last_failure = dt_util.utcnow()

    assert await hass.config_entries.async_reload(notifying.entry_id)
    await hass.async_block_till_done()
    assert len(family_issues(hass)) == 1
    assert len(sent) == 1

    await move_to(hass, freezer, last_failure + timedelta(hours=23))
    assert len(family_issues(hass)) == 1
    await move_to(hass, freezer, last_failure + timedelta(hours=24, seconds=1))
    assert family_issues(hass) == []
    assert clears(sent) == ["home_pki_family_acme_c1"]
    stored = hass_storage[f"{DOMAIN}.{notifying.entry_id}.notifications"]["data"]
    assert stored["anomalies"] == []
    assert stored["failures"] == []

    await fail_renewal(hass, cameras[1])
    assert family_issues(hass) == []


async def test_family_anomaly_replaces_the_members_warnings(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    sent: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """Failing members' own warnings are cleared and held back while it lasts."""
    cameras = [
        await add_camera(hass, notifying, number, "C1", validity_days=10)
        for number in (1, 2)
    ]
    for camera in cameras:
        block_renewal(tmp_path, notifying, camera)
    await fail_renewal(hass, cameras[0])
    await fail_renewal(hass, cameras[1])
    assert titles(sent) == [
        "Camera 1: certificate expires in 9 days",
        "Camera 2: certificate expires in 9 days",
    ]

    await fail_renewal(hass, cameras[0])
    assert titles(sent)[2:] == ["Acme C1: renewals failing on 2 devices"]
    assert sorted(clears(sent)) == sorted(f"home_pki_{camera}" for camera in cameras)
    await fail_renewal(hass, cameras[1])
    assert len(warnings(sent)) == 3


async def test_removing_the_entry_removes_family_issues(
    hass: HomeAssistant,
    notifying: MockConfigEntry,
    hass_storage: dict[str, Any],
    tmp_path: Path,
) -> None:
    """A removed CA leaves no family issue and no notification store behind."""
    cameras = [
        await add_camera(hass, notifying, number, "C1", renewal="manual")
        for number in (1, 2)
    ]
    for camera in cameras:
        block_renewal(tmp_path, notifying, camera)
    for camera in (*cameras, cameras[0]):
        await fail_renewal(hass, camera)
    assert len(family_issues(hass)) == 1

    assert await hass.config_entries.async_remove(notifying.entry_id)
    await hass.async_block_till_done()
    assert family_issues(hass) == []
    assert f"{DOMAIN}.{notifying.entry_id}.notifications" not in hass_storage
