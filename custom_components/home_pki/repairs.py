"""Repairs of Home PKI: accept the new issuer of a watched certificate."""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .coordinator import HomePkiConfigEntry


class AcceptIssuerFlow(RepairsFlow):
    """Take the issuer a watched certificate now has as the expected one."""

    def __init__(self, entry_id: str, certificate_id: str) -> None:
        """Remember which certificate the repair is about."""
        self._entry_id = entry_id
        self._certificate_id = certificate_id

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Ask to confirm."""
        return await self.async_step_confirm()

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


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Return the flow that fixes a changed issuer."""
    details = data or {}
    return AcceptIssuerFlow(
        str(details.get("entry_id")), str(details.get("certificate_id"))
    )
