"""Unauthenticated views of public material: the CA chain, its certificates, the CRL."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from .const import DOMAIN
from .coordinator import HomePkiConfigEntry, HomePkiCoordinator

CONTENT_TYPES = {
    "ca.pem": "application/x-pem-file",
    "root.crt": "application/pkix-cert",
    "intermediate.crt": "application/pkix-cert",
    "crl": "application/pkix-crl",
}


@callback
def async_register_views(hass: HomeAssistant) -> None:
    """Register the public views once."""
    hass.http.register_view(PublicMaterialView())


def _material(coordinator: HomePkiCoordinator, name: str) -> bytes:
    """Return the bytes of one public document."""
    if name == "ca.pem":
        return coordinator.ca_pem.encode()
    if name == "root.crt":
        return coordinator.root_der
    if name == "intermediate.crt":
        return coordinator.intermediate_der
    return coordinator.crl_der


class PublicMaterialView(HomeAssistantView):
    """Serve what any device may fetch: the CA chain and the CRL."""

    url = f"/api/{DOMAIN}/{{entry_id}}/{{name}}"
    name = f"api:{DOMAIN}:public"
    requires_auth = False

    async def get(self, request: web.Request, entry_id: str, name: str) -> web.Response:
        """Return one public document of a loaded CA."""
        hass = request.app[KEY_HASS]
        entry: HomePkiConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
        if (
            name not in CONTENT_TYPES
            or entry is None
            or entry.domain != DOMAIN
            or entry.state is not ConfigEntryState.LOADED
        ):
            return web.Response(status=HTTPStatus.NOT_FOUND)
        coordinator = entry.runtime_data
        # A fresh CRL matters within minutes of a revocation; certificates rarely change.
        headers = {"Cache-Control": "max-age=300" if name == "crl" else "max-age=3600"}
        if name != "ca.pem":
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return web.Response(
            body=_material(coordinator, name),
            content_type=CONTENT_TYPES[name],
            headers=headers,
        )
