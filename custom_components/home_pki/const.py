"""Constants for Home PKI."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "home_pki"
LOGGER = logging.getLogger(__package__)

CONF_KEY_ALGORITHM: Final = "key_algorithm"
CONF_ROOT_VALIDITY_DAYS: Final = "root_validity_days"
CONF_INTERMEDIATE_VALIDITY_DAYS: Final = "intermediate_validity_days"
CONF_PERMITTED_DNS_DOMAINS: Final = "permitted_dns_domains"
CONF_PERMITTED_IP_RANGES: Final = "permitted_ip_ranges"

CONF_DEFAULT_VALIDITY_DAYS: Final = "default_validity_days"
CONF_RENEW_AT_FRACTION: Final = "renew_at_fraction"
CONF_WARNING_DAYS: Final = "warning_days"
CONF_NOTIFY_TARGETS: Final = "notify_targets"
CONF_NOTIFY_THRESHOLDS: Final = "notify_thresholds"
CONF_NOTIFY_AUTO_RENEWING: Final = "notify_auto_renewing"
DEFAULT_NOTIFY_THRESHOLDS: Final = (30, 14, 7, 1, 0)
MAX_NOTIFY_THRESHOLD: Final = 365

SUBENTRY_ISSUED: Final = "issued"
CONF_DNS_NAMES: Final = "dns_names"
CONF_IP_ADDRESSES: Final = "ip_addresses"
CONF_VALIDITY_DAYS: Final = "validity_days"
CONF_RENEWAL: Final = "renewal"
CONF_MANUFACTURER: Final = "manufacturer"
CONF_MODEL: Final = "model"
CONF_VIA_DEVICE: Final = "via_device"
CONF_INTERNET_EXPOSED: Final = "internet_exposed"
CONF_FIXED_KEY: Final = "fixed_key"
CONF_SAFETY_CRITICAL: Final = "safety_critical"
CONF_DEPLOY_PATH: Final = "deploy_path"

SUBENTRY_ENDPOINT: Final = "endpoint"
SUBENTRY_FILE: Final = "file"
WATCHED_KINDS: Final = (SUBENTRY_ENDPOINT, SUBENTRY_FILE)
CONF_SERVER_NAME: Final = "server_name"
CONF_TLS_MODE: Final = "tls_mode"
CONF_TRUST: Final = "trust"
CONF_CUSTOM_CA: Final = "custom_ca"
CONF_CHECK_HOSTNAME: Final = "check_hostname"
CONF_CHECK_REVOCATION: Final = "check_revocation"
CONF_SCAN_INTERVAL_MINUTES: Final = "scan_interval_minutes"
CONF_PEM: Final = "pem"
CONF_ACME_KEY_ID: Final = "acme_key_id"
CONF_ACME_PORT: Final = "acme_port"
CONF_ACME_NAMES: Final = "acme_names"
DEFAULT_ACME_PORT: Final = 8444
REASON_RENEWAL_OVERDUE: Final = "renewal_overdue"

DEFAULT_KEY_ALGORITHM: Final = "ec_p256"
DEFAULT_ROOT_VALIDITY_DAYS: Final = 3650
DEFAULT_INTERMEDIATE_VALIDITY_DAYS: Final = 1095
DEFAULT_PERMITTED_DNS_DOMAINS: Final = ("home.arpa", "local", "lan", "internal")
DEFAULT_PERMITTED_IP_RANGES: Final = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)
DEFAULT_VALIDITY_DAYS: Final = 90
DEFAULT_RENEW_AT_FRACTION: Final = 0.67
DEFAULT_WARNING_DAYS: Final = 14
DEFAULT_PORT: Final = 443
DEFAULT_SCAN_INTERVAL_MINUTES: Final = 60

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_CERTIFICATE_ID: Final = "certificate_id"
ATTR_SERIAL_NUMBER: Final = "serial_number"
ATTR_NOT_AFTER: Final = "not_after"
ATTR_ERROR_CLASS: Final = "error_class"
ATTR_LATENCY_MS: Final = "latency_ms"
ATTR_REASON: Final = "reason"
ATTR_REKEY: Final = "rekey"
ATTR_CSR: Final = "csr"
ATTR_INCLUDE_PRIVATE_KEY: Final = "include_private_key"
ATTR_VALIDITY_DAYS: Final = "validity_days"
ATTR_ISSUER: Final = "issuer"
ATTR_FINGERPRINT: Final = "fingerprint_sha256"
ATTR_ISSUER_CHANGED: Final = "issuer_changed"
ATTR_PREVIOUS_SERIAL_NUMBER: Final = "previous_serial_number"
ATTR_PREVIOUS_ISSUER: Final = "previous_issuer"
ATTR_PREVIOUS_NOT_AFTER: Final = "previous_not_after"
ATTR_PREVIOUS_FINGERPRINT: Final = "previous_fingerprint_sha256"

EVENT_CERTIFICATE_ISSUED: Final = "home_pki_certificate_issued"
EVENT_CERTIFICATE_RENEWED: Final = "home_pki_certificate_renewed"
EVENT_RENEWAL_FAILED: Final = "home_pki_renewal_failed"
EVENT_CERTIFICATE_REVOKED: Final = "home_pki_certificate_revoked"
EVENT_CERTIFICATE_CHANGED: Final = "home_pki_certificate_changed"

FAILURE_WINDOW_DAYS: Final = 7


class Renewal(StrEnum):
    """How a certificate gets renewed."""

    AUTOMATIC = "automatic"
    DEVICE_PULL = "device_pull"
    MANUAL = "manual"


class Trust(StrEnum):
    """What a watched certificate's chain must lead to."""

    SYSTEM = "system"
    HOME_CA = "home_ca"
    CUSTOM = "custom"


class CertificateStatus(StrEnum):
    """The status of one certificate, as its status sensor shows it."""

    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    REVOKED = "revoked"
    INVALID_CHAIN = "invalid_chain"
    POLICY_VIOLATION = "policy_violation"
    RENEWAL_FAILED = "renewal_failed"
    UNREACHABLE = "unreachable"
