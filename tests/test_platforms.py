"""Snapshots of every entity of a CA and one certificate, platform by platform."""

from __future__ import annotations

from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_pki.const import DOMAIN

from .conftest import CA_DATA

# Attributes drawn at random for each certificate: the serial number, the
# fingerprint that follows from it, and the renewal moment moved by jitter.
RANDOM = props("serial_number", "fingerprint_sha256", "next_renewal")


@pytest.mark.parametrize(
    "platform", [Platform.BINARY_SENSOR, Platform.BUTTON, Platform.SENSOR]
)
async def test_platform_snapshot(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Each platform's entities keep their IDs, names, classes, units and state."""
    freezer.move_to("2026-12-03T12:00:00+00:00")
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id="01JHOMECA000000000000000000",
        title="Home",
        data=dict(CA_DATA),
        unique_id="home",
        subentries_data=[
            {
                "subentry_id": "01JMOSQUITTOBROKER000000000",
                "subentry_type": "issued",
                "title": "Mosquitto broker",
                "unique_id": "mosquitto broker",
                "data": {
                    "dns_names": ["mqtt.home.arpa"],
                    "ip_addresses": ["192.168.1.10"],
                    "key_algorithm": "ec_p256",
                    "validity_days": 90,
                    "renewal": "automatic",
                },
            }
        ],
    )
    entry.add_to_hass(hass)
    with patch("custom_components.home_pki.PLATFORMS", [platform]):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()

    entries = er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    assert entries
    for entity_entry in sorted(entries, key=lambda item: item.entity_id):
        assert entity_entry == snapshot(name=f"{entity_entry.entity_id}-entry")
        state = hass.states.get(entity_entry.entity_id)
        assert state is not None
        assert state == snapshot(name=f"{entity_entry.entity_id}-state", exclude=RANDOM)
