"""Unauthenticated views of public material: the CA chain, the CRL and OCSP."""

from __future__ import annotations

import base64
import binascii
from email.utils import format_datetime
from http import HTTPStatus
from urllib.parse import unquote

from aiohttp import web

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import HomePkiConfigEntry, HomePkiCoordinator
from .ocsp import MAX_REQUEST_SIZE, OcspReply, try_later

CONTENT_TYPES = {
    "ca.pem": "application/x-pem-file",
    "root.crt": "application/pkix-cert",
    "intermediate.crt": "application/pkix-cert",
    "crl": "application/pkix-crl",
}
OCSP_RESPONSE_TYPE = "application/ocsp-response"
_URL_SAFE = str.maketrans("-_", "+/")


@callback
def async_register_views(hass: HomeAssistant) -> None:
    """Register the public views once."""
    hass.http.register_view(PublicMaterialView())
    hass.http.register_view(OcspPostView())
    hass.http.register_view(OcspGetView())


def _entry(request: web.Request, entry_id: str) -> HomePkiConfigEntry | None:
    """Return the Home PKI entry of an ID, loaded or not."""
    hass = request.app[KEY_HASS]
    entry: HomePkiConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        return None
    return entry


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
        entry = _entry(request, entry_id)
        if (
            name not in CONTENT_TYPES
            or entry is None
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


class OcspPostView(HomeAssistantView):
    """Answer OCSP requests sent as the body of a POST (RFC 6960 appendix A.1)."""

    url = f"/api/{DOMAIN}/{{entry_id}}/ocsp"
    name = f"api:{DOMAIN}:ocsp"
    requires_auth = False

    async def post(self, request: web.Request, entry_id: str) -> web.Response:
        """Answer the DER request in the body."""
        entry = _entry(request, entry_id)
        if entry is None:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        if entry.state is not ConfigEntryState.LOADED:
            return _ocsp_response(try_later())
        body = await _read_body(request)
        if body is None:
            return web.Response(status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return _ocsp_response(await entry.runtime_data.ocsp.async_answer(body))


class OcspGetView(HomeAssistantView):
    """Answer OCSP requests sent in the URL of a GET (RFC 6960 appendix A.1).

    The request is the URL-encoded base64 of its DER. Plain and URL-safe
    base64, with or without padding and percent-encoding, are all read, since
    clients differ on how they escape "+", "/" and "=". Answers carry an ETag,
    Last-Modified and Expires (RFC 5019 §6.2), so HTTP caches can keep them.
    """

    url = f"/api/{DOMAIN}/{{entry_id}}/ocsp/{{encoded:.+}}"
    name = f"api:{DOMAIN}:ocsp:get"
    requires_auth = False

    async def get(
        self, request: web.Request, entry_id: str, encoded: str
    ) -> web.Response:
        """Answer the request encoded in the last part of the path."""
        entry = _entry(request, entry_id)
        if entry is None:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        if entry.state is not ConfigEntryState.LOADED:
            return _ocsp_response(try_later())
        # The raw path keeps what the router would have decoded already.
        raw = request.rel_url.raw_path.split("/", 5)[5]
        reply = await entry.runtime_data.ocsp.async_answer(_decode(raw))
        if reply.etag is not None and any(
            tag.value in {reply.etag, "*"} for tag in request.if_none_match or ()
        ):
            return _ocsp_response(reply, validators=True, not_modified=True)
        return _ocsp_response(reply, validators=True)


async def _read_body(request: web.Request) -> bytes | None:
    """Read a request body of at most MAX_REQUEST_SIZE bytes; None when longer."""
    if (request.content_length or 0) > MAX_REQUEST_SIZE:
        return None
    body = bytearray()
    while chunk := await request.content.read(MAX_REQUEST_SIZE + 1 - len(body)):
        body += chunk
        if len(body) > MAX_REQUEST_SIZE:
            return None
    return bytes(body)


def _decode(raw: str) -> bytes:
    """Decode a request from a URL path; what is no base64 decodes to nothing."""
    text = unquote(raw).strip().translate(_URL_SAFE).rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        return b""


def _ocsp_response(
    reply: OcspReply, *, validators: bool = False, not_modified: bool = False
) -> web.Response:
    """Wrap an OCSP reply in an HTTP response, with how long it may be kept."""
    max_age = reply.max_age(dt_util.utcnow())
    headers = {
        "Cache-Control": "no-store"
        if max_age is None
        else f"max-age={max_age}, public, no-transform, must-revalidate"
    }
    if validators and reply.etag and reply.this_update and reply.next_update:
        headers["ETag"] = f'"{reply.etag}"'
        headers["Last-Modified"] = format_datetime(reply.this_update, usegmt=True)
        headers["Expires"] = format_datetime(reply.next_update, usegmt=True)
    if not_modified:
        return web.Response(status=HTTPStatus.NOT_MODIFIED, headers=headers)
    return web.Response(
        body=reply.body, content_type=OCSP_RESPONSE_TYPE, headers=headers
    )
