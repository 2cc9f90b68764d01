"""Repairs of Home PKI: accept a new issuer, renew a certificate, the intermediate."""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .coordinator import HomePkiConfigEntry, HomePkiCoordinator
from .health import FIX_RENEW, FIX_REPLACE_INTERMEDIATE


class ConfirmFlow(RepairsFlow):
    """A repair that is one confirmation away, about a CA or one certificate."""

    def __init__(self, entry_id: str, certificate_id: str | None = None) -> None:
        """Remember which CA, and which certificate, the repair is about."""
        self._entry_id = entry_id
        self._certificate_id = certificate_id or ""

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Ask to confirm."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Do the repair once confirmed."""
        raise NotImplementedError


class AcceptIssuerFlow(ConfirmFlow):
    """Take the issuer a watched certificate now has as the expected one."""

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Accept the new issuer once confirmed."""
        if user_input is None:
            return self.async_show_form(step_id="confirm")
        entry: HomePkiConfigEntry | None = self.hass.config_entries.async_get_entry(
            self._entry_id
        )
        if (
            entry is None
            or entry.state is not ConfigEntryState.LOADED
            or self._certificate_id not in entry.runtime_data.watcher
        ):
            return self.async_abort(reason="certificate_gone")
        await entry.runtime_data.watcher.async_accept(self._certificate_id)
        return self.async_create_entry(data={})


def _loaded_coordinator(
    hass: HomeAssistant, entry_id: str
) -> HomePkiCoordinator | None:
    """Return the coordinator of a loaded entry, or None."""
    entry: HomePkiConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.state is not ConfigEntryState.LOADED:
        return None
    return entry.runtime_data


def _error_text(err: HomeAssistantError) -> str:
    """Return what went wrong, without the sentence around it."""
    return (err.translation_placeholders or {}).get("error") or str(err)


class RenewCertificateFlow(ConfirmFlow):
    """Renew an issued certificate now, as its own choice of key says."""

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Renew once confirmed; on failure say why and leave the issue."""
        coordinator = _loaded_coordinator(self.hass, self._entry_id)
        if (
            coordinator is None
            or self._certificate_id not in coordinator.records
            or self._certificate_id not in coordinator.config_entry.subentries
        ):
            return self.async_abort(reason="certificate_gone")
        placeholders = {"name": coordinator.settings(self._certificate_id).name}
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await coordinator.async_renew(self._certificate_id, rekey=None)
            except HomeAssistantError as err:
                errors["base"] = "renewal_failed"
                placeholders["error"] = _error_text(err)
            else:
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm", errors=errors, description_placeholders=placeholders
        )


class ReplaceIntermediateFlow(ConfirmFlow):
    """Give the CA's intermediate a new certificate from its root."""

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Replace the intermediate's certificate once confirmed."""
        coordinator = _loaded_coordinator(self.hass, self._entry_id)
        if coordinator is None:
            return self.async_abort(reason="not_loaded")
        placeholders: dict[str, str] = {}
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await coordinator.async_replace_intermediate()
            except HomeAssistantError as err:
                errors["base"] = "intermediate_not_replaced"
                placeholders["error"] = _error_text(err)
            else:
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm", errors=errors, description_placeholders=placeholders
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Return the flow that fixes an issue, as the issue's data names it."""
    details = data or {}
    entry_id = str(details.get("entry_id"))
    fix = details.get("fix")
    if fix == FIX_RENEW:
        return RenewCertificateFlow(entry_id, str(details.get("certificate_id")))
    if fix == FIX_REPLACE_INTERMEDIATE:
        return ReplaceIntermediateFlow(entry_id)
    return AcceptIssuerFlow(entry_id, str(details.get("certificate_id")))
