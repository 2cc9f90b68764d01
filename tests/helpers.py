"""Helpers for the Home PKI integration tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import subprocess
from typing import Any

from freezegun.api import FrozenDateTimeFactory

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.home_pki.const import DOMAIN


def openssl(
    *args: str | Path, data: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the openssl command line and return what it printed."""
    return subprocess.run(
        ["openssl", *map(str, args)],
        input=data.decode() if data else None,
        capture_output=True,
        text=True,
        check=False,
    )


def certificate_named(entry: ConfigEntry, title: str) -> str:
    """Return the ID of the certificate an entry holds under a title."""
    (certificate_id,) = (
        sub.subentry_id for sub in entry.subentries.values() if sub.title == title
    )
    return certificate_id


def certificate_entity(hass: HomeAssistant, certificate_id: str, key: str) -> str:
    """Return the entity ID of one of a certificate's entities."""
    registry = er.async_get(hass)
    platform = (
        "binary_sensor"
        if key == "problem"
        else "button"
        if key == "renew"
        else "sensor"
    )
    entity_id = registry.async_get_entity_id(
        platform, DOMAIN, f"{certificate_id}_{key}"
    )
    assert entity_id is not None
    return entity_id


def state_of(hass: HomeAssistant, certificate_id: str, key: str) -> str:
    """Return the state of one of a certificate's entities."""
    state = hass.states.get(certificate_entity(hass, certificate_id, key))
    assert state is not None
    return state.state


def attributes_of(hass: HomeAssistant, certificate_id: str, key: str) -> dict:
    """Return the attributes of one of a certificate's entities."""
    state = hass.states.get(certificate_entity(hass, certificate_id, key))
    assert state is not None
    return dict(state.attributes)


async def add_watched(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, **fields: Any
) -> dict[str, Any]:
    """Add a watched certificate through its subentry flow; return the result."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, kind), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], fields
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    return dict(result)


async def tick(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, **delta: float
) -> None:
    """Move the clock on and let due checks run to their end."""
    freezer.tick(timedelta(**delta))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
