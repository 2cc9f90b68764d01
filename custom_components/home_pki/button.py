"""The renew button of each issued certificate."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .audit import acting_as
from .const import SUBENTRY_ISSUED
from .coordinator import HomePkiConfigEntry
from .entity import HomePkiCertificateEntity, async_track_certificates

PARALLEL_UPDATES = 1

RENEW = ButtonEntityDescription(key="renew", translation_key="renew")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomePkiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a renew button for each issued certificate as it appears."""
    coordinator = entry.runtime_data
    async_track_certificates(
        entry,
        async_add_entities,
        lambda certificate_id: (
            [RenewButton(coordinator, certificate_id, RENEW)]
            if coordinator.data.certificates[certificate_id].kind == SUBENTRY_ISSUED
            else []
        ),
    )


class RenewButton(HomePkiCertificateEntity, ButtonEntity):
    """Issue a fresh certificate now."""

    async def async_press(self) -> None:
        """Renew the certificate, with a new key unless it keeps a fixed one."""
        with acting_as(self._context):
            await self.coordinator.async_renew(self.certificate_id, rekey=None)
