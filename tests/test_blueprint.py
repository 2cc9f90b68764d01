"""The expiry notification blueprint, run as an automation on real certificates."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import shutil

from freezegun.api import FrozenDateTimeFactory

from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from .conftest import add_issued
from .helpers import certificate_entity, certificate_named, state_of

BLUEPRINT = (
    Path(__file__).parent.parent
    / "blueprints"
    / "automation"
    / "home_pki"
    / "certificate_expiry_notification.yaml"
)


def install_blueprint(folder: Path) -> None:
    """Copy the blueprint where Home Assistant looks for it."""
    folder.mkdir(parents=True)
    shutil.copy(BLUEPRINT, folder / BLUEPRINT.name)


async def test_blueprint_notifies_below_the_threshold(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Crossing the chosen number of days sends one notification."""
    target = Path(hass.config.path("blueprints", "automation", "home_pki"))
    await hass.async_add_executor_job(install_blueprint, target)
    calls: list[ServiceCall] = []

    @callback
    def record(call: ServiceCall) -> None:
        calls.append(call)

    hass.services.async_register("notify", "mobile_app_test", record)
    await add_issued(hass, init_integration, renewal="manual", validity_days=20)
    certificate_id = certificate_named(init_integration, "Mosquitto broker")
    days = certificate_entity(hass, certificate_id, "days_remaining")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": f"home_pki/{BLUEPRINT.name}",
                    "input": {
                        "certificates": [days],
                        "days": 14,
                        "notify_action": "notify.mobile_app_test",
                    },
                }
            }
        },
    )
    await hass.async_block_till_done()
    assert state_of(hass, certificate_id, "days_remaining") == "19"

    freezer.tick(timedelta(days=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state_of(hass, certificate_id, "days_remaining") == "14"
    assert calls == []

    freezer.tick(timedelta(days=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state_of(hass, certificate_id, "days_remaining") == "13"
    (call,) = calls
    assert call.data["title"] == "Certificate expiring"
    assert call.data["message"].startswith("Mosquitto broker Days remaining: 13 days")

    freezer.tick(timedelta(days=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    # Still below: a numeric state trigger fires once on crossing.
    assert len(calls) == 1
