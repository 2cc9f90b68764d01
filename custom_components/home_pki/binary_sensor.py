"""The problem binary sensor of each certificate."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import HomePkiConfigEntry
from .entity import HomePkiCertificateEntity, async_track_certificates

PARALLEL_UPDATES = 0

PROBLEM = BinarySensorEntityDescription(
    key="problem",
    translation_key="problem",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomePkiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a problem sensor for each certificate as it appears."""
    coordinator = entry.runtime_data
    async_track_certificates(
        entry,
        async_add_entities,
        lambda certificate_id: [ProblemSensor(coordinator, certificate_id, PROBLEM)],
    )


class ProblemSensor(HomePkiCertificateEntity, BinarySensorEntity):
    """On when a certificate needs attention, with the reasons why."""

    def shown(self) -> object:
        """Return the reasons the sensor shows."""
        return self.view.reasons if self.available else None

    @property
    def is_on(self) -> bool:
        """Return whether anything is wrong with the certificate."""
        return bool(self.view.reasons)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the reasons, as stable keys."""
        return {"reasons": list(self.view.reasons)}
