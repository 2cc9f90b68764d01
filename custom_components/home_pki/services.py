"""Actions of Home PKI: renew, revoke, sign_csr, export, refresh and accept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import voluptuous as vol

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError, Unauthorized, UnknownUser
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.helpers.service import async_extract_referenced_entity_ids
from homeassistant.helpers.typing import VolSchemaType
from homeassistant.util.json import JsonValueType

from .audit import acting_as
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_CSR,
    ATTR_INCLUDE_PRIVATE_KEY,
    ATTR_REASON,
    ATTR_REKEY,
    ATTR_SERIAL_NUMBER,
    ATTR_VALIDITY_DAYS,
    DOMAIN,
    Renewal,
)
from .coordinator import HomePkiConfigEntry, HomePkiCoordinator
from .models import raise_validation
from .pki.errors import PkiError
from .pki.inspect import serial_to_hex
from .pki.revocation import RevocationReason

SERVICE_RENEW = "renew"
SERVICE_REVOKE = "revoke"
SERVICE_SIGN_CSR = "sign_csr"
SERVICE_EXPORT = "export"
SERVICE_REFRESH = "refresh"
SERVICE_ACCEPT_CERTIFICATE = "accept_certificate"
SERVICE_ROTATE_ACME_CREDENTIALS = "rotate_acme_credentials"
SERVICE_VERIFY_AUDIT_LOG = "verify_audit_log"

RENEW_SCHEMA = cv.make_entity_service_schema({vol.Optional(ATTR_REKEY): cv.boolean})
REVOKE_SCHEMA = vol.Schema(
    {
        **cv.ENTITY_SERVICE_FIELDS,
        vol.Optional(ATTR_REASON, default=RevocationReason.UNSPECIFIED): vol.Coerce(
            RevocationReason
        ),
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_SERIAL_NUMBER): cv.string,
    }
)
SIGN_CSR_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_CSR): cv.string,
        vol.Optional(ATTR_VALIDITY_DAYS): vol.All(vol.Coerce(int), vol.Range(min=1)),
    }
)
EXPORT_SCHEMA = cv.make_entity_service_schema(
    {vol.Optional(ATTR_INCLUDE_PRIVATE_KEY, default=False): cv.boolean}
)
REFRESH_SCHEMA = vol.Schema(cv.ENTITY_SERVICE_FIELDS)
ACCEPT_SCHEMA = cv.make_entity_service_schema({})
ROTATE_SCHEMA = cv.make_entity_service_schema({})
VERIFY_AUDIT_LOG_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})

type Handler = Callable[[HomeAssistant, ServiceCall], Awaitable[ServiceResponse]]


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions of Home PKI once."""
    actions: tuple[tuple[str, Handler, VolSchemaType, SupportsResponse, bool], ...] = (
        (SERVICE_RENEW, _async_renew, RENEW_SCHEMA, SupportsResponse.NONE, False),
        (SERVICE_REVOKE, _async_revoke, REVOKE_SCHEMA, SupportsResponse.NONE, True),
        (
            SERVICE_SIGN_CSR,
            _async_sign_csr,
            SIGN_CSR_SCHEMA,
            SupportsResponse.ONLY,
            True,
        ),
        (SERVICE_EXPORT, _async_export, EXPORT_SCHEMA, SupportsResponse.ONLY, True),
        (SERVICE_REFRESH, _async_refresh, REFRESH_SCHEMA, SupportsResponse.NONE, False),
        (
            SERVICE_ACCEPT_CERTIFICATE,
            _async_accept,
            ACCEPT_SCHEMA,
            SupportsResponse.NONE,
            True,
        ),
        (
            SERVICE_ROTATE_ACME_CREDENTIALS,
            _async_rotate,
            ROTATE_SCHEMA,
            SupportsResponse.ONLY,
            True,
        ),
        (
            SERVICE_VERIFY_AUDIT_LOG,
            _async_verify_audit_log,
            VERIFY_AUDIT_LOG_SCHEMA,
            SupportsResponse.ONLY,
            True,
        ),
    )
    for service, handler, schema, supports_response, admin in actions:
        hass.services.async_register(
            DOMAIN,
            service,
            partial(_async_handle, hass, handler, admin),
            schema=schema,
            supports_response=supports_response,
        )


async def _async_handle(
    hass: HomeAssistant, handler: Handler, admin: bool, call: ServiceCall
) -> ServiceResponse:
    """Check the caller's rights, then run the action, translating PKI errors."""
    if admin and call.context.user_id:
        user = await hass.auth.async_get_user(call.context.user_id)
        if user is None:
            raise UnknownUser(context=call.context)
        if not user.is_admin:
            raise Unauthorized(context=call.context)
    try:
        with acting_as(call.context):
            return await handler(hass, call)
    except PkiError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=err.reason,
            translation_placeholders={"detail": err.detail},
        ) from err


def _loaded_coordinator(hass: HomeAssistant, entry_id: str) -> HomePkiCoordinator:
    """Return the coordinator of a loaded Home PKI entry."""
    entry: HomePkiConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise_validation("unknown_config_entry", config_entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise_validation("config_entry_not_loaded", config_entry_id=entry_id)
    return entry.runtime_data


def _targeted_certificates(
    hass: HomeAssistant,
    call: ServiceCall,
    *,
    required: bool = True,
    watched: bool = False,
) -> list[tuple[HomePkiCoordinator, str]]:
    """Resolve the targeted entities and devices to certificates of one kind.

    Issued certificates are chosen unless watched is set; targeting only
    certificates of the other kind is an error, not a silent no-op.
    """
    selected = async_extract_referenced_entity_ids(hass, call)
    registry = er.async_get(hass)
    targets: dict[str, tuple[HomePkiCoordinator, str]] = {}
    for entity_id in selected.referenced | selected.indirectly_referenced:
        entity = registry.async_get(entity_id)
        if (
            entity is None
            or entity.platform != DOMAIN
            or entity.config_entry_id is None
            or entity.config_subentry_id is None
        ):
            continue
        coordinator = _loaded_coordinator(hass, entity.config_entry_id)
        certificate_id = entity.config_subentry_id
        if certificate_id in (coordinator.watcher if watched else coordinator.records):
            targets[certificate_id] = (coordinator, certificate_id)
    if required and not targets:
        raise_validation(
            "no_watched_certificate_targeted" if watched else "no_certificate_targeted"
        )
    return list(targets.values())


async def _async_renew(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Issue a fresh certificate for each target now."""
    for coordinator, certificate_id in _targeted_certificates(hass, call):
        await coordinator.async_renew(certificate_id, rekey=call.data.get(ATTR_REKEY))
    return None


async def _async_revoke(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Revoke the targeted certificates, or a CSR-signed one by serial number."""
    reason: RevocationReason = call.data[ATTR_REASON]
    if serial := call.data.get(ATTR_SERIAL_NUMBER):
        if ATTR_CONFIG_ENTRY_ID not in call.data:
            raise_validation("config_entry_required")
        coordinator = _loaded_coordinator(hass, call.data[ATTR_CONFIG_ENTRY_ID])
        try:
            number = int(serial.replace(":", ""), 16)
        except ValueError:
            raise_validation("invalid_serial_number", serial_number=serial)
        await coordinator.async_revoke_serial(number, reason)
        return None
    for coordinator, certificate_id in _targeted_certificates(hass, call):
        await coordinator.async_revoke(certificate_id, reason)
    return None


async def _async_sign_csr(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Sign a device's CSR and return the certificate with its chain."""
    coordinator = _loaded_coordinator(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    signed = await coordinator.async_sign_csr(
        call.data[ATTR_CSR], call.data.get(ATTR_VALIDITY_DAYS)
    )
    return {
        "certificate": signed.certificate_pem,
        "chain": signed.chain_pem,
        "serial_number": serial_to_hex(signed.serial_number),
        "not_after": signed.not_after.isoformat(),
    }


async def _async_export(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Return the PEM material of the targeted certificates."""
    certificates: list[JsonValueType] = []
    for coordinator, certificate_id in _targeted_certificates(hass, call):
        exported = await coordinator.async_export(
            certificate_id, include_private_key=call.data[ATTR_INCLUDE_PRIVATE_KEY]
        )
        item: dict[str, JsonValueType] = {
            "certificate_id": certificate_id,
            "name": coordinator.settings(certificate_id).name,
            "certificate": exported.certificate_pem,
            "chain": exported.chain_pem,
            "fullchain": exported.certificate_pem + exported.chain_pem,
            "root": exported.root_pem,
        }
        if exported.private_key_pem is not None:
            await coordinator.audit.async_record_key_export(
                certificate_id, call.context
            )
            item["private_key"] = exported.private_key_pem
        certificates.append(item)
    return {"certificates": certificates}


async def _async_refresh(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Re-read and re-probe the targeted certificates now, or every one."""
    targeted = [
        *_targeted_certificates(hass, call, required=False),
        *_targeted_certificates(hass, call, required=False, watched=True),
    ]
    if not targeted:
        for entry in hass.config_entries.async_loaded_entries(DOMAIN):
            await entry.runtime_data.async_refresh_all()
        return None
    watched: dict[int, tuple[HomePkiCoordinator, list[str]]] = {}
    for coordinator, certificate_id in targeted:
        ids = watched.setdefault(id(coordinator), (coordinator, []))[1]
        if certificate_id in coordinator.watcher:
            ids.append(certificate_id)
    for coordinator, ids in watched.values():
        await coordinator.async_refresh_all(ids)
    return None


async def _async_accept(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Accept the new issuer of each targeted watched certificate."""
    for coordinator, certificate_id in _targeted_certificates(hass, call, watched=True):
        await coordinator.watcher.async_accept(certificate_id)
    return None


async def _async_rotate(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Give each targeted device that pulls its certificate new EAB credentials."""
    devices: list[JsonValueType] = []
    for coordinator, certificate_id in _targeted_certificates(hass, call):
        settings = coordinator.settings(certificate_id)
        if settings.renewal is not Renewal.DEVICE_PULL:
            raise_validation("not_device_pull", name=settings.name)
        credentials = await coordinator.acme.async_rotate(certificate_id)
        devices.append(
            {
                "certificate_id": certificate_id,
                "name": settings.name,
                "directory_url": credentials.directory_url,
                "eab_key_id": credentials.key_id,
                "eab_hmac_key": credentials.mac_key,
            }
        )
    return {"devices": devices}


async def _async_verify_audit_log(
    hass: HomeAssistant, call: ServiceCall
) -> ServiceResponse:
    """Tell whether a CA's audit trail is intact, and where it breaks if not."""
    coordinator = _loaded_coordinator(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    verdict = await coordinator.audit.async_verify()
    return {
        "intact": verdict.intact,
        "lines": verdict.lines,
        "first_broken_line": verdict.first_broken_line,
        "reason": verdict.reason,
    }
