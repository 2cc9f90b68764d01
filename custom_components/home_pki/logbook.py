"""Describe Home PKI's events in the logbook, in words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.components.logbook.const import (
    LOGBOOK_ENTRY_ENTITY_ID,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_NAME, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .audit import revocation_reason
from .const import (
    ATTR_CERTIFICATE_ID,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_ERROR_CLASS,
    ATTR_NOT_AFTER,
    ATTR_SERIAL_NUMBER,
    DOMAIN,
    EVENT_CERTIFICATE_ISSUED,
    EVENT_CERTIFICATE_RENEWED,
    EVENT_CERTIFICATE_REVOKED,
    EVENT_RENEWAL_FAILED,
)
from .coordinator import HomePkiConfigEntry

ERROR_CLASSES = {
    "network": "a network problem",
    "policy": "the CA's policy refused it",
    "chain": "the chain did not verify",
    "ca": "a problem on the CA's side",
    "device": "a problem on the device's side",
}

type Description = dict[str, Any]


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], Description]], None],
) -> None:
    """Describe the issued, renewed, renewal failed and revoked events."""

    @callback
    def describe_issued(event: Event) -> Description:
        """Describe a certificate issued, or a CSR signed."""
        data = event.data
        done = "issued" if data.get(ATTR_CERTIFICATE_ID) else "signed from a CSR"
        return _entry(
            hass,
            data,
            f"certificate {done}, serial {data.get(ATTR_SERIAL_NUMBER)}, "
            f"valid until {_moment(data.get(ATTR_NOT_AFTER))}",
        )

    @callback
    def describe_renewed(event: Event) -> Description:
        """Describe a renewal."""
        data = event.data
        return _entry(
            hass,
            data,
            f"certificate renewed, serial {data.get(ATTR_SERIAL_NUMBER)}, "
            f"valid until {_moment(data.get(ATTR_NOT_AFTER))}",
        )

    @callback
    def describe_failed(event: Event) -> Description:
        """Describe a failed renewal and what still holds."""
        data = event.data
        message = "certificate renewal failed"
        if error := data.get(ATTR_ERROR_CLASS):
            message += f" ({ERROR_CLASSES.get(error, f'error class {error}')})"
        if not_after := data.get(ATTR_NOT_AFTER):
            message += f"; the current certificate is valid until {_moment(not_after)}"
        else:
            message += "; no certificate was issued yet"
        return _entry(hass, data, message)

    @callback
    def describe_revoked(event: Event) -> Description:
        """Describe a revocation, with its reason while the CA is loaded."""
        data = event.data
        message = f"certificate revoked, serial {data.get(ATTR_SERIAL_NUMBER)}"
        if reason := _revocation_reason(hass, data):
            message += f" ({reason.replace('_', ' ')})"
        return _entry(hass, data, message)

    for event_type, describe in (
        (EVENT_CERTIFICATE_ISSUED, describe_issued),
        (EVENT_CERTIFICATE_RENEWED, describe_renewed),
        (EVENT_RENEWAL_FAILED, describe_failed),
        (EVENT_CERTIFICATE_REVOKED, describe_revoked),
    ):
        async_describe_event(DOMAIN, event_type, describe)


def _entry(hass: HomeAssistant, data: Mapping[str, Any], message: str) -> Description:
    """Return a logbook entry named after the certificate, linked to its status."""
    description: Description = {
        LOGBOOK_ENTRY_NAME: data.get(CONF_NAME) or "Home PKI",
        LOGBOOK_ENTRY_MESSAGE: message,
    }
    if certificate_id := data.get(ATTR_CERTIFICATE_ID):
        entity_id = er.async_get(hass).async_get_entity_id(
            Platform.SENSOR, DOMAIN, f"{certificate_id}_status"
        )
        if entity_id is not None:
            description[LOGBOOK_ENTRY_ENTITY_ID] = entity_id
    return description


def _moment(value: str | None) -> str:
    """Return an ISO 8601 moment as local date and time, minutes precise."""
    moment = dt_util.parse_datetime(value) if value else None
    if moment is None:
        return "an unknown date"
    return dt_util.as_local(moment).strftime("%Y-%m-%d %H:%M")


def _revocation_reason(hass: HomeAssistant, data: Mapping[str, Any]) -> str | None:
    """Return why a serial number was revoked, from its CA while it is loaded."""
    entry: HomePkiConfigEntry | None = hass.config_entries.async_get_entry(
        data.get(ATTR_CONFIG_ENTRY_ID) or ""
    )
    if (
        entry is None
        or entry.domain != DOMAIN
        or entry.state is not ConfigEntryState.LOADED
    ):
        return None
    return revocation_reason(entry.runtime_data, data.get(ATTR_SERIAL_NUMBER))
