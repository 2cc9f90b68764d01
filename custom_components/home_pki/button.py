"""Buttons of each certificate: renew an issued one, accept a watched one."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import SUBENTRY_ISSUED
from .coordinator import HomePkiConfigEntry, HomePkiCoordinator
from .entity import HomePkiCertificateEntity, async_track_certificates

PARALLEL_UPDATES = 1

RENEW = ButtonEntityDescription(key="renew", translation_key="renew")
ACCEPT = ButtonEntityDescription(
    key="accept_certificate", translation_key="accept_certificate"
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomePkiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each certificate's button as it appears."""
    coordinator = entry.runtime_data
    async_track_certificates(
        entry,
        async_add_entities,
        lambda certificate_id: [_button(coordinator, certificate_id)],
    )


def _button(coordinator: HomePkiCoordinator, certificate_id: str) -> Entity:
    """Return the button that fits a certificate's kind."""
    if coordinator.data.certificates[certificate_id].kind == SUBENTRY_ISSUED:
        return RenewButton(coordinator, certificate_id, RENEW)
    return AcceptButton(coordinator, certificate_id, ACCEPT)


class RenewButton(HomePkiCertificateEntity, ButtonEntity):
    """Issue a fresh certificate now."""

    async def async_press(self) -> None:
        """Renew the certificate, with a new key unless it keeps a fixed one."""
        await self.coordinator.async_renew(self.certificate_id, rekey=None)


class AcceptButton(HomePkiCertificateEntity, ButtonEntity):
    """Accept a watched certificate's new issuer as the expected one."""

    async def async_press(self) -> None:
        """Clear the changed-issuer problem."""
        await self.coordinator.watcher.async_accept(self.certificate_id)
