"""Home PKI: a certificate authority and inventory for the certificates of a home."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .coordinator import HomePkiConfigEntry, HomePkiCoordinator
from .health import HealthMonitor, async_remove_issues
from .http import async_register_views
from .notifications import async_remove_notifications, async_start_notifier
from .services import async_setup_services

PLATFORMS = [Platform.BINARY_SENSOR, Platform.BUTTON, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions and the public views once."""
    async_setup_services(hass)
    async_register_views(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: HomePkiConfigEntry) -> bool:
    """Load a CA, creating it on its first start, and its certificates."""
    coordinator = HomePkiCoordinator(hass, entry)
    await coordinator.audit.async_start()
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    coordinator.async_start()
    entry.async_on_unload(HealthMonitor(coordinator).async_start())
    await async_start_notifier(coordinator)
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    return True


async def _async_entry_updated(hass: HomeAssistant, entry: HomePkiConfigEntry) -> None:
    """Follow added or removed certificates and changed options without a reload."""
    await entry.runtime_data.async_sync_subentries()


async def async_unload_entry(hass: HomeAssistant, entry: HomePkiConfigEntry) -> bool:
    """Unload a CA; its timer stops with the coordinator."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_shutdown()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: HomePkiConfigEntry) -> None:
    """Delete the keys and metadata of a removed CA; its audit trail is kept."""
    coordinator = HomePkiCoordinator(hass, entry)
    await coordinator.async_remove_storage()
    await coordinator.audit.async_record_removal()
    async_remove_issues(hass, entry)
    await async_remove_notifications(hass, entry.entry_id)
