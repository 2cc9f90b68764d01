"""Diagnostics of Home PKI: the inventory and its state, with nothing secret."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_PATH
from homeassistant.core import HomeAssistant

from .const import CONF_ACME_KEY_ID, CONF_DEPLOY_PATH, CONF_SERVER_NAME
from .coordinator import HomePkiConfigEntry

TO_REDACT = {
    CONF_ACME_KEY_ID,
    CONF_DEPLOY_PATH,
    CONF_HOST,
    CONF_PATH,
    CONF_SERVER_NAME,
    "key_file",
    "private_key",
    "source",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HomePkiConfigEntry
) -> dict[str, Any]:
    """Return the state of a CA and its certificates for a bug report."""
    coordinator = entry.runtime_data
    snapshot = coordinator.data
    certificates: dict[str, Any] = {}
    for certificate_id, view in snapshot.certificates.items():
        shown: dict[str, Any] = {
            "kind": view.kind,
            "name": view.name,
            "status": view.status,
            "reasons": list(view.reasons),
            "serial_number": view.info.serial_hex if view.info else None,
            "issuer": view.info.issuer if view.info else None,
            "not_after": view.info.not_after.isoformat() if view.info else None,
        }
        if (record := coordinator.records.get(certificate_id)) is not None:
            shown.update(
                renewal=view.renewal,
                next_renewal=view.next_renewal.isoformat()
                if view.next_renewal
                else None,
                generations=len(record.generations),
                failures=record.failures,
                last_error=record.last_error,
                revocation_reason=record.revocation_reason,
            )
        elif (watched := coordinator.watcher.records.get(certificate_id)) is not None:
            shown.update(
                source=view.source,
                chain=list(view.chain),
                error=watched.error,
                last_seen=watched.last_seen.isoformat() if watched.last_seen else None,
                last_checked=watched.last_checked.isoformat()
                if watched.last_checked
                else None,
                verifier_detail=watched.verifier_detail,
                expected_issuer=watched.expected_issuer,
                issuer_changed=watched.issuer_changed,
            )
        certificates[certificate_id] = shown
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
            "acme": coordinator.acme.diagnostics(),
        },
        TO_REDACT,
    )
