"""Tests of how Home PKI's events read in the logbook."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

import pytest

from homeassistant.auth.models import User
from homeassistant.components.recorder import Recorder
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    mock_component,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_pki.const import DOMAIN
from custom_components.home_pki.logbook import ERROR_CLASSES

from .conftest import add_issued
from .helpers import attributes_of, certificate_entity, certificate_named


@pytest.fixture(autouse=True)
def _home_assistant_guard(
    recorder_mock: Recorder, _home_assistant_guard: Generator[None]
) -> None:
    """Start the recorder before Home Assistant, then keep the key guard."""


async def logbook(
    hass: HomeAssistant, client: ClientSessionGenerator
) -> list[dict[str, Any]]:
    """Return the logbook entries Home PKI wrote, through the logbook's REST view."""
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    session = await client()
    start = (dt_util.utcnow() - timedelta(hours=1)).isoformat()
    response = await session.get(f"/api/logbook/{start}")
    assert response.status == 200
    return [entry for entry in await response.json() if entry.get("domain") == DOMAIN]


async def test_logbook_tells_what_happened(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_admin_user: User,
    tmp_path: Path,
) -> None:
    """Issue, renew, a failed renewal and a revocation read as sentences."""
    # The logbook needs the frontend, which the test harness does not ship.
    mock_component(hass, "frontend")
    assert await async_setup_component(hass, "logbook", {})
    await add_issued(hass, init_integration)
    certificate_id = certificate_named(init_integration, "Mosquitto broker")
    first = attributes_of(hass, certificate_id, "expires")["serial_number"]
    expires = certificate_entity(hass, certificate_id, "expires")
    admin = Context(user_id=hass_admin_user.id)

    await hass.services.async_call(
        DOMAIN, "renew", {"entity_id": expires}, blocking=True, context=admin
    )
    second = attributes_of(hass, certificate_id, "expires")["serial_number"]
    state = hass.states.get(expires)
    assert state is not None
    moment = dt_util.parse_datetime(state.state)
    assert moment is not None
    until = dt_util.as_local(moment).strftime("%Y-%m-%d %H:%M")
    failures = async_capture_events(hass, "home_pki_renewal_failed")
    folder = tmp_path / ".storage" / DOMAIN / init_integration.entry_id
    shutil.rmtree(folder / "certificates" / certificate_id)
    (folder / "certificates" / certificate_id).write_text("in the way")
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            DOMAIN, "renew", {"entity_id": expires}, blocking=True
        )
    await hass.services.async_call(
        DOMAIN,
        "revoke",
        {"entity_id": expires, "reason": "key_compromise"},
        blocking=True,
        context=admin,
    )

    entries = await logbook(hass, hass_client)
    assert {entry["name"] for entry in entries} == {"Mosquitto broker"}
    status = certificate_entity(hass, certificate_id, "status")
    assert {entry["entity_id"] for entry in entries} == {status}
    messages = [entry["message"] for entry in entries]
    why = ERROR_CLASSES[failures[0].data["error_class"]]
    assert messages[0].startswith(f"certificate issued, serial {first}, valid until ")
    assert messages[1:] == [
        f"certificate renewed, serial {second}, valid until {until}",
        (
            f"certificate renewal failed ({why}); the current certificate is valid "
            f"until {until}"
        ),
        f"certificate revoked, serial {second} (key compromise)",
    ]
    assert entries[1]["context_user_id"] == hass_admin_user.id
    assert entries[3]["context_user_id"] == hass_admin_user.id
    assert "context_user_id" not in entries[2]
