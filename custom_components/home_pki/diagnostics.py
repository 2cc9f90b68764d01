"""Diagnostics of Home PKI: the inventory and its state, with nothing secret."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_DEPLOY_PATH
from .coordinator import HomePkiConfigEntry

TO_REDACT = {CONF_DEPLOY_PATH, "key_file", "private_key"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HomePkiConfigEntry
) -> dict[str, Any]:
    """Return the state of a CA and its certificates for a bug report."""
    coordinator = entry.runtime_data
    snapshot = coordinator.data
    certificates: dict[str, Any] = {}
    for certificate_id, view in snapshot.certificates.items():
        record = coordinator.records[certificate_id]
        certificates[certificate_id] = {
            "name": view.name,
            "status": view.status,
            "reasons": list(view.reasons),
            "renewal": view.renewal,
            "serial_number": view.info.serial_hex if view.info else None,
            "not_after": view.info.not_after.isoformat() if view.info else None,
            "next_renewal": view.next_renewal.isoformat()
            if view.next_renewal
            else None,
            "generations": len(record.generations),
            "failures": record.failures,
            "last_error": record.last_error,
            "revocation_reason": record.revocation_reason,
        }
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "data": dict(entry.data),
                "options": dict(entry.options),
                "subentries": [
                    {
                        "subentry_id": subentry.subentry_id,
                        "type": subentry.subentry_type,
                        "title": subentry.title,
                        "data": dict(subentry.data),
                    }
                    for subentry in entry.subentries.values()
                ],
            },
            "authority": {
                "root": snapshot.authority.root.subject,
                "root_not_after": snapshot.authority.root.not_after.isoformat(),
                "intermediate": snapshot.authority.intermediate.subject,
                "intermediate_not_after": (
                    snapshot.authority.intermediate.not_after.isoformat()
                ),
                "crl_number": coordinator.crl_number,
                "serials_used": coordinator.serial_count,
                "signed_from_csr": len(coordinator.signed),
                "revoked": snapshot.authority.revoked,
            },
            "certificates": certificates,
        },
        TO_REDACT,
    )
