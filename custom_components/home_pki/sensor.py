"""Sensors of Home PKI: each certificate's expiry and status, the CA's figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import SUBENTRY_ISSUED, CertificateStatus
from .coordinator import HomePkiConfigEntry
from .entity import (
    HomePkiAuthorityEntity,
    HomePkiCertificateEntity,
    async_track_certificates,
)
from .models import AuthorityView, CertificateView

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class CertificateSensorDescription(SensorEntityDescription):
    """Describe a sensor of one certificate."""

    value_fn: Callable[[CertificateView], datetime | int | str | None]
    attributes_fn: Callable[[CertificateView], dict[str, Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class AuthoritySensorDescription(SensorEntityDescription):
    """Describe a sensor of the CA device."""

    value_fn: Callable[[AuthorityView], datetime | float | int | None]
    attributes_fn: Callable[[AuthorityView], dict[str, Any]] | None = None


def _next_expiry_attributes(authority: AuthorityView) -> dict[str, Any]:
    """Name the certificate that ends next."""
    view = authority.telemetry.next_expiry
    return {
        "name": view.name if view else None,
        "certificate_id": view.certificate_id if view else None,
    }


def _expiry_attributes(view: CertificateView) -> dict[str, Any]:
    """Return what a person or an automation wants to know of a certificate."""
    info = view.info
    attributes: dict[str, Any] = {
        "renewal": view.renewal.value if view.renewal else None,
        "next_renewal": view.next_renewal.isoformat() if view.next_renewal else None,
        "last_renewal": view.last_renewal.isoformat() if view.last_renewal else None,
    }
    if view.kind != SUBENTRY_ISSUED:
        attributes.update(
            source=view.source,
            last_seen=view.last_seen.isoformat() if view.last_seen else None,
            error=view.error,
            chain=list(view.chain),
        )
    if info is None:
        return attributes
    return {
        "subject": info.subject,
        "issuer": info.issuer,
        "serial_number": info.serial_hex,
        "not_before": info.not_before.isoformat(),
        "dns_names": list(info.dns_names),
        "ip_addresses": list(info.ip_addresses),
        "key_type": info.key_type,
        "signature_algorithm": info.signature_algorithm,
        "fingerprint_sha256": info.fingerprint_sha256,
        **attributes,
    }


CERTIFICATE_SENSORS: tuple[CertificateSensorDescription, ...] = (
    CertificateSensorDescription(
        key="expires",
        translation_key="expires",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda view: view.info.not_after if view.info else None,
        attributes_fn=_expiry_attributes,
    ),
    CertificateSensorDescription(
        key="days_remaining",
        translation_key="days_remaining",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.DAYS,
        suggested_display_precision=0,
        value_fn=lambda view: view.days_remaining,
    ),
    CertificateSensorDescription(
        key="status",
        translation_key="status",
        device_class=SensorDeviceClass.ENUM,
        options=[status.value for status in CertificateStatus],
        # Nothing to judge yet (a device that has not ordered its first
        # certificate) is unknown, not valid.
        value_fn=lambda view: (
            None if view.info is None and not view.reasons else view.status.value
        ),
    ),
)

AUTHORITY_SENSORS: tuple[AuthoritySensorDescription, ...] = (
    AuthoritySensorDescription(
        key="root_expires",
        translation_key="root_expires",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda authority: authority.root.not_after,
    ),
    AuthoritySensorDescription(
        key="intermediate_expires",
        translation_key="intermediate_expires",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda authority: authority.intermediate.not_after,
    ),
    AuthoritySensorDescription(
        key="certificates_expiring",
        translation_key="certificates_expiring",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda authority: authority.expiring,
    ),
    AuthoritySensorDescription(
        key="certificates_revoked",
        translation_key="certificates_revoked",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda authority: authority.revoked,
    ),
    AuthoritySensorDescription(
        key="renewal_failures",
        translation_key="renewal_failures",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda authority: authority.renewal_failures,
        attributes_fn=lambda authority: dict(authority.telemetry.failures_by_class),
    ),
    AuthoritySensorDescription(
        key="certificates",
        translation_key="certificates",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda authority: sum(authority.telemetry.by_status.values()),
        attributes_fn=lambda authority: dict(authority.telemetry.by_status),
    ),
    AuthoritySensorDescription(
        key="renewal_success_rate",
        translation_key="renewal_success_rate",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda authority: authority.telemetry.success_rate,
    ),
    AuthoritySensorDescription(
        key="renewal_latency",
        translation_key="renewal_latency",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda authority: authority.telemetry.median_latency_ms,
    ),
    AuthoritySensorDescription(
        key="next_expiry",
        translation_key="next_expiry",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda authority: (
            view.info.not_after
            if (view := authority.telemetry.next_expiry) and view.info
            else None
        ),
        attributes_fn=_next_expiry_attributes,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomePkiConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the CA sensors, and each certificate's sensors as it appears."""
    coordinator = entry.runtime_data
    async_add_entities(
        AuthoritySensor(coordinator, description) for description in AUTHORITY_SENSORS
    )
    async_track_certificates(
        entry,
        async_add_entities,
        lambda certificate_id: (
            CertificateSensor(coordinator, certificate_id, description)
            for description in CERTIFICATE_SENSORS
        ),
    )


class CertificateSensor(HomePkiCertificateEntity, SensorEntity):
    """A sensor of one certificate."""

    entity_description: CertificateSensorDescription
    # Seen again on every successful check; history needs only the certificate.
    _unrecorded_attributes = frozenset({"last_seen"})

    def shown(self) -> object:
        """Return the value and attributes the sensor shows."""
        if not self.available:
            return None
        return self.native_value, self.extra_state_attributes

    @property
    def native_value(self) -> datetime | int | str | None:
        """Return the sensor's value."""
        return self.entity_description.value_fn(self.view)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the certificate's details, for the expiry sensor."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.view)


class AuthoritySensor(HomePkiAuthorityEntity, SensorEntity):
    """A sensor of the CA device."""

    entity_description: AuthoritySensorDescription

    @property
    def native_value(self) -> datetime | float | int | None:
        """Return the sensor's value."""
        return self.entity_description.value_fn(self.coordinator.data.authority)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the figures behind the value, for the sensors that have them."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator.data.authority)
