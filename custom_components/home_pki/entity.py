"""Base entities of Home PKI: one device per certificate, one for the CA."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import (
    CONF_MANUFACTURER,
    CONF_MODEL,
    CONF_TLS_MODE,
    CONF_VIA_DEVICE,
    DOMAIN,
    SUBENTRY_ENDPOINT,
    SUBENTRY_FILE,
)
from .coordinator import HomePkiConfigEntry, HomePkiCoordinator
from .models import CertificateView
from .pki.probe import TlsMode
from .watch import host_for_url

WATCHED_MODELS = {
    SUBENTRY_ENDPOINT: "Watched TLS endpoint",
    SUBENTRY_FILE: "Watched certificate",
}
HTTPS_PORTS = frozenset({443, 8443, 5001, 8006, 9443})
ADD_SLICE = 25


def _configuration_url(data: Mapping[str, Any]) -> str | None:
    """Return the web page of a watched endpoint that most likely serves one."""
    if data.get(CONF_TLS_MODE) != TlsMode.IMPLICIT or CONF_HOST not in data:
        return None
    if data.get(CONF_PORT) not in HTTPS_PORTS:
        return None
    return f"https://{host_for_url(data[CONF_HOST])}:{data[CONF_PORT]}/"


class HomePkiAuthorityEntity(CoordinatorEntity[HomePkiCoordinator]):
    """An entity of the CA device."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: HomePkiCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to the CA device."""
        super().__init__(coordinator)
        entry = coordinator.config_entry
        self.entity_description = description
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=f"{entry.data[CONF_NAME]} CA",
            manufacturer="Home PKI",
            model="Certificate authority",
            entry_type=DeviceEntryType.SERVICE,
            configuration_url=f"{coordinator.public_url}/ca.pem",
        )


class HomePkiCertificateEntity(Entity):
    """An entity of one certificate's device.

    It listens to its own certificate only, and writes its state only when
    what it shows changed, so a refresh of a large home stays cheap.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self,
        coordinator: HomePkiCoordinator,
        certificate_id: str,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the device of one certificate."""
        self.coordinator = coordinator
        self.certificate_id = certificate_id
        self.entity_description = description
        self._attr_unique_id = f"{certificate_id}_{description.key}"
        self._written: object = None
        subentry = coordinator.config_entry.subentries[certificate_id]
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, certificate_id)},
            name=subentry.title,
            manufacturer=subentry.data.get(CONF_MANUFACTURER) or None,
            model=subentry.data.get(CONF_MODEL)
            or WATCHED_MODELS.get(subentry.subentry_type),
        )
        if (url := _configuration_url(subentry.data)) is not None:
            self._attr_device_info["configuration_url"] = url
        if via := subentry.data.get(CONF_VIA_DEVICE):
            device = dr.async_get(coordinator.hass).async_get(via)
            if device is not None and device.identifiers:
                self._attr_device_info["via_device"] = next(iter(device.identifiers))

    @property
    def view(self) -> CertificateView:
        """Return what the coordinator last said of this certificate."""
        return self.coordinator.data.certificates[self.certificate_id]

    @property
    def available(self) -> bool:
        """Return whether the certificate is still in the inventory."""
        return self.certificate_id in self.coordinator.data.certificates

    def shown(self) -> object:
        """Return what the entity shows, to skip writes that change nothing."""
        return self.available

    async def async_added_to_hass(self) -> None:
        """Follow this certificate's changes."""
        await super().async_added_to_hass()
        self._written = self.shown()
        self.async_on_remove(
            self.coordinator.async_add_certificate_listener(
                self.certificate_id, self._handle_certificate_update
            )
        )

    @callback
    def _handle_certificate_update(self) -> None:
        """Write the state when what the entity shows changed."""
        shown = self.shown()
        if shown != self._written:
            self._written = shown
            self.async_write_ha_state()


@callback
def async_track_certificates(
    entry: HomePkiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entities_fn: Callable[[str], Iterable[Entity]],
) -> None:
    """Add each certificate's entities now and whenever a certificate appears.

    Many new certificates at once (a first start of a large home) are added a
    slice at a time, each slice in its own turn of the event loop, so nothing
    else waits long behind them.
    """
    coordinator = entry.runtime_data
    known: set[str] = set()
    pending: deque[str] = deque()
    handle: asyncio.Handle | None = None

    @callback
    def _add_slice() -> None:
        nonlocal handle
        handle = None
        for _ in range(min(ADD_SLICE, len(pending))):
            certificate_id = pending.popleft()
            if certificate_id in coordinator.data.certificates:
                async_add_entities(
                    entities_fn(certificate_id), config_subentry_id=certificate_id
                )
        if pending:
            handle = entry.runtime_data.hass.loop.call_soon(_add_slice)

    @callback
    def _add_new_certificates() -> None:
        fresh = [
            certificate_id
            for certificate_id in coordinator.data.certificates
            if certificate_id not in known
        ]
        known.update(fresh)
        known.intersection_update(coordinator.data.certificates)
        pending.extend(fresh)
        if handle is None:
            _add_slice()

    @callback
    def _cancel() -> None:
        if handle is not None:
            handle.cancel()

    _add_new_certificates()
    entry.async_on_unload(coordinator.async_add_listener(_add_new_certificates))
    entry.async_on_unload(_cancel)
