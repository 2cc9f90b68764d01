"""Config flow of Home PKI: the CA, its options and one subentry per certificate."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
import voluptuous as vol

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PATH, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    DeviceSelector,
    DeviceSelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)

from .const import (
    CONF_ACME_KEY_ID,
    CONF_ACME_NAMES,
    CONF_ACME_PORT,
    CONF_CHECK_HOSTNAME,
    CONF_CHECK_REVOCATION,
    CONF_CUSTOM_CA,
    CONF_DEFAULT_VALIDITY_DAYS,
    CONF_DEPLOY_PATH,
    CONF_DNS_NAMES,
    CONF_FIXED_KEY,
    CONF_INTERMEDIATE_VALIDITY_DAYS,
    CONF_INTERNET_EXPOSED,
    CONF_IP_ADDRESSES,
    CONF_KEY_ALGORITHM,
    CONF_MANUFACTURER,
    CONF_MODEL,
    CONF_NOTIFY_AUTO_RENEWING,
    CONF_NOTIFY_TARGETS,
    CONF_NOTIFY_THRESHOLDS,
    CONF_PEM,
    CONF_PERMITTED_DNS_DOMAINS,
    CONF_PERMITTED_IP_RANGES,
    CONF_RENEW_AT_FRACTION,
    CONF_RENEWAL,
    CONF_ROOT_VALIDITY_DAYS,
    CONF_SAFETY_CRITICAL,
    CONF_SCAN_INTERVAL_MINUTES,
    CONF_SERVER_NAME,
    CONF_TLS_MODE,
    CONF_TRUST,
    CONF_VALIDITY_DAYS,
    CONF_VIA_DEVICE,
    CONF_WARNING_DAYS,
    DEFAULT_ACME_PORT,
    DEFAULT_INTERMEDIATE_VALIDITY_DAYS,
    DEFAULT_KEY_ALGORITHM,
    DEFAULT_NOTIFY_THRESHOLDS,
    DEFAULT_PERMITTED_DNS_DOMAINS,
    DEFAULT_PERMITTED_IP_RANGES,
    DEFAULT_PORT,
    DEFAULT_RENEW_AT_FRACTION,
    DEFAULT_ROOT_VALIDITY_DAYS,
    DEFAULT_SCAN_INTERVAL_MINUTES,
    DEFAULT_VALIDITY_DAYS,
    DEFAULT_WARNING_DAYS,
    DOMAIN,
    SUBENTRY_ENDPOINT,
    SUBENTRY_FILE,
    SUBENTRY_ISSUED,
    Renewal,
    Trust,
)
from .coordinator import HomePkiCoordinator
from .models import build_policy
from .notifications import notify_target_options, parse_thresholds
from .pki.errors import NameNotPermittedError, PkiError
from .pki.inspect import common_name_of, load_certificates
from .pki.keys import KeyAlgorithm
from .pki.policy import (
    Policy,
    check_names,
    normalize_dns_name,
    normalize_domain,
    parse_ip_address,
    parse_ip_ranges,
    permitted_host,
)
from .pki.probe import ProbeError, TlsMode, probe_context, probe_endpoint
from .watch import WatchReadError, host_for_url, read_watched_file

MAX_VALIDITY_DAYS = 398

KEY_ALGORITHM_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[algorithm.value for algorithm in KeyAlgorithm],
        translation_key=CONF_KEY_ALGORITHM,
        mode=SelectSelectorMode.DROPDOWN,
    )
)
LIST_SELECTOR = TextSelector(TextSelectorConfig(multiple=True))


def _days(low: int, high: int) -> NumberSelector:
    """Return a number box for a count of days."""
    return NumberSelector(
        NumberSelectorConfig(
            min=low,
            max=high,
            step=1,
            mode=NumberSelectorMode.BOX,
            unit_of_measurement="d",
        )
    )


def _clean_list(values: list[str] | None) -> list[str]:
    """Drop blanks and surrounding spaces from a list field."""
    return [value.strip() for value in values or [] if value.strip()]


def _acme_names(
    policy: Policy,
    values: list[str],
    errors: dict[str, str],
    placeholders: dict[str, str],
) -> list[str]:
    """Normalise the ACME server's names; each must be one the CA issues for."""
    names: list[str] = []
    for value in values:
        try:
            names.append(permitted_host(policy, value))
        except NameNotPermittedError:
            errors[CONF_ACME_NAMES] = "name_not_permitted"
        except PkiError:
            errors[CONF_ACME_NAMES] = "invalid_name"
        else:
            continue
        placeholders["name"] = value
        return []
    return list(dict.fromkeys(names))


class HomePkiConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create a home CA."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> HomePkiOptionsFlow:
        """Return the options flow."""
        return HomePkiOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the kinds of certificates that can be added."""
        return {
            SUBENTRY_ISSUED: IssuedCertificateFlow,
            SUBENTRY_ENDPOINT: EndpointFlow,
            SUBENTRY_FILE: FileFlow,
        }

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the CA's name, key and constraints."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"name": ""}
        if user_input is not None:
            data = _validate_authority(user_input, errors, placeholders)
            if not errors:
                await self.async_set_unique_id(data[CONF_NAME].casefold())
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=data[CONF_NAME], data=data)

        schema = vol.Schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                vol.Required(
                    CONF_KEY_ALGORITHM, default=DEFAULT_KEY_ALGORITHM
                ): KEY_ALGORITHM_SELECTOR,
                vol.Required(
                    CONF_ROOT_VALIDITY_DAYS, default=DEFAULT_ROOT_VALIDITY_DAYS
                ): _days(365, 9125),
                vol.Required(
                    CONF_INTERMEDIATE_VALIDITY_DAYS,
                    default=DEFAULT_INTERMEDIATE_VALIDITY_DAYS,
                ): _days(30, 3650),
                vol.Required(
                    CONF_PERMITTED_DNS_DOMAINS,
                    default=list(DEFAULT_PERMITTED_DNS_DOMAINS),
                ): LIST_SELECTOR,
                vol.Required(
                    CONF_PERMITTED_IP_RANGES, default=list(DEFAULT_PERMITTED_IP_RANGES)
                ): LIST_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders=placeholders,
        )


def _validate_authority(
    user_input: dict[str, Any], errors: dict[str, str], placeholders: dict[str, str]
) -> dict[str, Any]:
    """Normalise the CA fields, filling errors for what is wrong."""
    data = dict(user_input)
    data[CONF_NAME] = data[CONF_NAME].strip()
    if not data[CONF_NAME]:
        errors[CONF_NAME] = "name_required"
    data[CONF_ROOT_VALIDITY_DAYS] = int(data[CONF_ROOT_VALIDITY_DAYS])
    data[CONF_INTERMEDIATE_VALIDITY_DAYS] = int(data[CONF_INTERMEDIATE_VALIDITY_DAYS])
    if data[CONF_INTERMEDIATE_VALIDITY_DAYS] >= data[CONF_ROOT_VALIDITY_DAYS]:
        errors[CONF_INTERMEDIATE_VALIDITY_DAYS] = "intermediate_outlives_root"
    try:
        data[CONF_PERMITTED_DNS_DOMAINS] = sorted(
            {
                normalize_domain(domain)
                for domain in _clean_list(data[CONF_PERMITTED_DNS_DOMAINS])
            }
        )
    except PkiError as err:
        errors[CONF_PERMITTED_DNS_DOMAINS] = "invalid_domain"
        placeholders["name"] = err.detail
    try:
        ranges = parse_ip_ranges(_clean_list(data[CONF_PERMITTED_IP_RANGES]))
        data[CONF_PERMITTED_IP_RANGES] = [str(network) for network in ranges]
    except PkiError as err:
        errors[CONF_PERMITTED_IP_RANGES] = "invalid_ip_range"
        placeholders["name"] = err.detail
    if not errors and not (
        data[CONF_PERMITTED_DNS_DOMAINS] or data[CONF_PERMITTED_IP_RANGES]
    ):
        errors["base"] = "no_constraints"
    return data


class HomePkiOptionsFlow(OptionsFlow):
    """Tune validity, renewal timing and warnings."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the options."""
        errors: dict[str, str] = {}
        placeholders = {"name": "", "threshold": ""}
        if user_input is not None:
            names = _acme_names(
                build_policy(self.config_entry.data),
                _clean_list(user_input.get(CONF_ACME_NAMES)),
                errors,
                placeholders,
            )
            thresholds, bad = parse_thresholds(
                user_input.get(CONF_NOTIFY_THRESHOLDS, [])
            )
            if bad is not None:
                errors[CONF_NOTIFY_THRESHOLDS] = "invalid_threshold"
                placeholders["threshold"] = bad
        if user_input is not None and not errors:
            return self.async_create_entry(
                data={
                    CONF_DEFAULT_VALIDITY_DAYS: int(
                        user_input[CONF_DEFAULT_VALIDITY_DAYS]
                    ),
                    CONF_RENEW_AT_FRACTION: float(user_input[CONF_RENEW_AT_FRACTION]),
                    CONF_WARNING_DAYS: int(user_input[CONF_WARNING_DAYS]),
                    CONF_ACME_PORT: int(user_input[CONF_ACME_PORT]),
                    CONF_ACME_NAMES: names,
                    CONF_NOTIFY_TARGETS: list(user_input.get(CONF_NOTIFY_TARGETS, [])),
                    CONF_NOTIFY_THRESHOLDS: thresholds,
                    CONF_NOTIFY_AUTO_RENEWING: bool(
                        user_input.get(CONF_NOTIFY_AUTO_RENEWING, False)
                    ),
                }
            )
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_DEFAULT_VALIDITY_DAYS,
                    default=options.get(
                        CONF_DEFAULT_VALIDITY_DAYS, DEFAULT_VALIDITY_DAYS
                    ),
                ): _days(1, MAX_VALIDITY_DAYS),
                vol.Required(
                    CONF_RENEW_AT_FRACTION,
                    default=options.get(
                        CONF_RENEW_AT_FRACTION, DEFAULT_RENEW_AT_FRACTION
                    ),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=0.5, max=0.9, step=0.01, mode=NumberSelectorMode.SLIDER
                    )
                ),
                vol.Required(
                    CONF_WARNING_DAYS,
                    default=options.get(CONF_WARNING_DAYS, DEFAULT_WARNING_DAYS),
                ): _days(1, 90),
                vol.Required(
                    CONF_ACME_PORT,
                    default=options.get(CONF_ACME_PORT, DEFAULT_ACME_PORT),
                ): NumberSelector(
                    NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)
                ),
                vol.Optional(
                    CONF_ACME_NAMES, default=options.get(CONF_ACME_NAMES, [])
                ): LIST_SELECTOR,
                vol.Optional(
                    CONF_NOTIFY_TARGETS, default=options.get(CONF_NOTIFY_TARGETS, [])
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=notify_target_options(
                            self.hass, options.get(CONF_NOTIFY_TARGETS, [])
                        ),
                        multiple=True,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(
                    CONF_NOTIFY_THRESHOLDS,
                    default=[
                        str(days)
                        for days in options.get(
                            CONF_NOTIFY_THRESHOLDS, DEFAULT_NOTIFY_THRESHOLDS
                        )
                    ],
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=[str(days) for days in DEFAULT_NOTIFY_THRESHOLDS],
                        multiple=True,
                        custom_value=True,
                        translation_key=CONF_NOTIFY_THRESHOLDS,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(
                    CONF_NOTIFY_AUTO_RENEWING,
                    default=options.get(CONF_NOTIFY_AUTO_RENEWING, False),
                ): BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders=placeholders,
        )


class CertificateFlow(ConfigSubentryFlow):
    """Add or change one certificate of the CA; each kind says its form."""

    duplicate_field = "base"
    placeholders: tuple[str, ...] = ()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the certificate's settings."""
        return await self._async_step_form("user", user_input, None)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a certificate's settings."""
        subentry = self._get_reconfigure_subentry()
        return await self._async_step_form("reconfigure", user_input, subentry)

    def _schema(self, entry: ConfigEntry) -> vol.Schema:
        """Return the form of this kind of certificate."""
        raise NotImplementedError

    async def _async_finish(
        self,
        current: ConfigSubentry | None,
        title: str,
        data: dict[str, Any],
        unique_id: str,
    ) -> SubentryFlowResult:
        """Create the subentry, or save the changed one."""
        if current is None:
            return self.async_create_entry(title=title, data=data, unique_id=unique_id)
        return self.async_update_and_abort(
            self._get_entry(), current, title=title, data=data, unique_id=unique_id
        )

    async def _async_validate(
        self,
        entry: ConfigEntry,
        user_input: dict[str, Any],
        errors: dict[str, str],
        placeholders: dict[str, str],
    ) -> tuple[dict[str, Any], str, str]:
        """Check the fields; return the data, the title and a unique ID."""
        raise NotImplementedError

    async def _async_step_form(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        current: ConfigSubentry | None,
    ) -> SubentryFlowResult:
        """Show the form, validate it and save it."""
        entry = self._get_entry()
        errors: dict[str, str] = {}
        placeholders = dict.fromkeys(self.placeholders, "")
        if user_input is not None:
            data, title, unique_id = await self._async_validate(
                entry, user_input, errors, placeholders
            )
            others = [sub for sub in entry.subentries.values() if sub is not current]
            if not errors and any(sub.unique_id == unique_id for sub in others):
                errors[self.duplicate_field] = "already_configured"
            if not errors and any(
                sub.title.casefold() == title.casefold() for sub in others
            ):
                errors[CONF_NAME] = "name_taken"
            if not errors:
                return await self._async_finish(current, title, data, unique_id)

        suggested = user_input
        if suggested is None and current is not None:
            suggested = {CONF_NAME: current.title, **current.data}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                self._schema(entry), suggested
            ),
            errors=errors,
            description_placeholders=placeholders,
        )


class IssuedCertificateFlow(CertificateFlow):
    """Add or change a device certificate that Home PKI issues and renews.

    New names or a new key type issue the certificate again at once.
    """

    duplicate_field = CONF_NAME
    placeholders = ("name",)

    _pending: tuple[ConfigSubentry | None, str, dict[str, Any], str]

    def _schema(self, entry: ConfigEntry) -> vol.Schema:
        """Return the issued-certificate form."""
        return _issued_schema(entry)

    async def _async_finish(
        self,
        current: ConfigSubentry | None,
        title: str,
        data: dict[str, Any],
        unique_id: str,
    ) -> SubentryFlowResult:
        """Give a device that pulls its certificate its ACME credentials first."""
        entry = self._get_entry()
        kept = current.data.get(CONF_ACME_KEY_ID) if current is not None else None
        if data[CONF_RENEWAL] != Renewal.DEVICE_PULL or kept:
            if kept:
                data[CONF_ACME_KEY_ID] = kept
            return await super()._async_finish(current, title, data, unique_id)
        if entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="ca_not_loaded")
        coordinator: HomePkiCoordinator = entry.runtime_data
        credentials = await coordinator.acme.async_new_credentials()
        data[CONF_ACME_KEY_ID] = credentials.key_id
        self._pending = (current, title, data, unique_id)
        return self.async_show_form(
            step_id="credentials",
            last_step=True,
            description_placeholders={
                "name": title,
                "directory_url": credentials.directory_url,
                "key_id": credentials.key_id,
                "mac_key": credentials.mac_key,
            },
        )

    async def async_step_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Save the device once its credentials were shown."""
        current, title, data, unique_id = self._pending
        return await super()._async_finish(current, title, data, unique_id)

    async def _async_validate(
        self,
        entry: ConfigEntry,
        user_input: dict[str, Any],
        errors: dict[str, str],
        placeholders: dict[str, str],
    ) -> tuple[dict[str, Any], str, str]:
        """Check the names against the CA's policy and the deploy folder."""
        data = await _validate_issued(
            self.hass, build_policy(entry.data), user_input, errors, placeholders
        )
        title = data.pop(CONF_NAME)
        return data, title, title.casefold()


def _issued_schema(entry: ConfigEntry) -> vol.Schema:
    """Return the form of an issued certificate, with the CA's defaults."""
    return vol.Schema(
        {
            vol.Required(CONF_NAME): TextSelector(),
            vol.Optional(CONF_DNS_NAMES, default=[]): LIST_SELECTOR,
            vol.Optional(CONF_IP_ADDRESSES, default=[]): LIST_SELECTOR,
            vol.Required(
                CONF_KEY_ALGORITHM, default=entry.data[CONF_KEY_ALGORITHM]
            ): KEY_ALGORITHM_SELECTOR,
            vol.Required(
                CONF_VALIDITY_DAYS,
                default=entry.options.get(
                    CONF_DEFAULT_VALIDITY_DAYS, DEFAULT_VALIDITY_DAYS
                ),
            ): _days(1, MAX_VALIDITY_DAYS),
            vol.Required(CONF_RENEWAL, default=Renewal.AUTOMATIC): SelectSelector(
                SelectSelectorConfig(
                    options=[renewal.value for renewal in Renewal],
                    translation_key=CONF_RENEWAL,
                )
            ),
            vol.Optional(CONF_DEPLOY_PATH): TextSelector(),
            vol.Optional(CONF_MANUFACTURER): TextSelector(),
            vol.Optional(CONF_MODEL): TextSelector(),
            vol.Optional(CONF_VIA_DEVICE): DeviceSelector(DeviceSelectorConfig()),
            vol.Required(CONF_INTERNET_EXPOSED, default=False): BooleanSelector(),
            vol.Required(CONF_FIXED_KEY, default=False): BooleanSelector(),
            vol.Required(CONF_SAFETY_CRITICAL, default=False): BooleanSelector(),
        }
    )


async def _validate_issued(
    hass: HomeAssistant,
    policy: Policy,
    user_input: dict[str, Any],
    errors: dict[str, str],
    placeholders: dict[str, str],
) -> dict[str, Any]:
    """Normalise an issued certificate's fields and check them against the policy."""
    data = dict(user_input)
    data[CONF_NAME] = data[CONF_NAME].strip()
    data[CONF_VALIDITY_DAYS] = int(data[CONF_VALIDITY_DAYS])
    data[CONF_RENEWAL] = Renewal(data[CONF_RENEWAL]).value
    if not data[CONF_NAME]:
        errors[CONF_NAME] = "name_required"

    try:
        data[CONF_DNS_NAMES] = list(
            dict.fromkeys(
                normalize_dns_name(name)
                for name in _clean_list(data.get(CONF_DNS_NAMES))
            )
        )
    except PkiError as err:
        errors[CONF_DNS_NAMES] = "invalid_dns_name"
        placeholders["name"] = err.detail
    try:
        addresses = [
            parse_ip_address(value)
            for value in _clean_list(data.get(CONF_IP_ADDRESSES))
        ]
        data[CONF_IP_ADDRESSES] = list(dict.fromkeys(str(value) for value in addresses))
    except PkiError as err:
        errors[CONF_IP_ADDRESSES] = "invalid_ip_address"
        placeholders["name"] = err.detail
        addresses = []

    if CONF_DNS_NAMES not in errors and CONF_IP_ADDRESSES not in errors:
        try:
            check_names(policy, data[CONF_DNS_NAMES], addresses)
        except NameNotPermittedError as err:
            field = (
                CONF_DNS_NAMES
                if err.name in data[CONF_DNS_NAMES]
                else CONF_IP_ADDRESSES
            )
            errors[field] = "name_not_permitted"
            placeholders["name"] = err.name
        except PkiError:
            errors["base"] = "no_names"

    if path := (data.get(CONF_DEPLOY_PATH) or "").strip():
        data[CONF_DEPLOY_PATH] = path
        if not Path(path).is_absolute() or not await hass.async_add_executor_job(
            hass.config.is_allowed_path, path
        ):
            errors[CONF_DEPLOY_PATH] = "deploy_path_not_allowed"
    else:
        data.pop(CONF_DEPLOY_PATH, None)
    for optional in (CONF_MANUFACTURER, CONF_MODEL, CONF_VIA_DEVICE):
        if not data.get(optional):
            data.pop(optional, None)
    return data


TLS_MODE_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[mode.value for mode in TlsMode],
        translation_key=CONF_TLS_MODE,
        mode=SelectSelectorMode.DROPDOWN,
    )
)
TRUST_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[trust.value for trust in Trust], translation_key=CONF_TRUST
    )
)
PEM_SELECTOR = TextSelector(TextSelectorConfig(multiline=True))
PROBE_TIMEOUT = 10.0


class EndpointFlow(CertificateFlow):
    """Watch the certificate a TLS endpoint presents."""

    placeholders = ("error", "source")

    def _schema(self, entry: ConfigEntry) -> vol.Schema:
        """Return the endpoint form."""
        return vol.Schema(
            {
                vol.Required(CONF_HOST): TextSelector(),
                vol.Required(CONF_PORT, default=DEFAULT_PORT): NumberSelector(
                    NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)
                ),
                vol.Optional(CONF_NAME): TextSelector(),
                vol.Optional(CONF_SERVER_NAME): TextSelector(),
                vol.Required(
                    CONF_TLS_MODE, default=TlsMode.IMPLICIT.value
                ): TLS_MODE_SELECTOR,
                vol.Required(CONF_TRUST, default=Trust.SYSTEM.value): TRUST_SELECTOR,
                vol.Optional(CONF_CUSTOM_CA): PEM_SELECTOR,
                vol.Required(CONF_CHECK_HOSTNAME, default=True): BooleanSelector(),
                vol.Required(CONF_CHECK_REVOCATION, default=False): BooleanSelector(),
                vol.Required(
                    CONF_SCAN_INTERVAL_MINUTES, default=DEFAULT_SCAN_INTERVAL_MINUTES
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=1,
                        max=1440,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="min",
                    )
                ),
            }
        )

    async def _async_validate(
        self,
        entry: ConfigEntry,
        user_input: dict[str, Any],
        errors: dict[str, str],
        placeholders: dict[str, str],
    ) -> tuple[dict[str, Any], str, str]:
        """Check the endpoint's fields, then that it answers."""
        data = dict(user_input)
        name = (data.pop(CONF_NAME, None) or "").strip()
        data[CONF_PORT] = int(data[CONF_PORT])
        data[CONF_SCAN_INTERVAL_MINUTES] = int(data[CONF_SCAN_INTERVAL_MINUTES])
        data[CONF_TLS_MODE] = TlsMode(data[CONF_TLS_MODE]).value
        for key in (CONF_HOST, CONF_SERVER_NAME):
            value = (data.get(key) or "").strip()
            if not value:
                data.pop(key, None)
                continue
            try:
                data[key] = _normalize_host(value)
            except PkiError:
                errors[key] = "invalid_host"
        if CONF_HOST not in data and CONF_HOST not in errors:
            errors[CONF_HOST] = "invalid_host"
        if data.get(CONF_SERVER_NAME) == data.get(CONF_HOST):
            data.pop(CONF_SERVER_NAME, None)
        _validate_trust(data, errors)
        host = data.get(CONF_HOST, "")
        port = data[CONF_PORT]
        source = f"{host_for_url(host)}:{port}"
        placeholders["source"] = source
        if not errors:
            error = await self._async_reach(data)
            if error is not None:
                errors["base"] = "cannot_connect"
                placeholders["error"] = error
        server_name = data.get(CONF_SERVER_NAME, "")
        unique_id = f"{host}:{port}:{server_name}:{data[CONF_TLS_MODE]}"
        title = name or f"{host_for_url(server_name or host)}:{port}"
        return data, title, unique_id

    async def _async_reach(self, data: dict[str, Any]) -> str | None:
        """Connect once; return what went wrong, or None when it answered."""
        host = data[CONF_HOST]
        server_name = data.get(CONF_SERVER_NAME) or host
        context = await self.hass.async_add_executor_job(probe_context)
        try:
            await probe_endpoint(
                host,
                data[CONF_PORT],
                server_name=server_name,
                mode=TlsMode(data[CONF_TLS_MODE]),
                timeout=PROBE_TIMEOUT,
                context=context,
            )
        except ProbeError as err:
            return f"{err.failure.value}: {err.detail}" if err.detail else err.failure
        return None


class FileFlow(CertificateFlow):
    """Watch a certificate file on the Home Assistant host, or a pasted PEM."""

    placeholders = ("error", "source")

    def _schema(self, entry: ConfigEntry) -> vol.Schema:
        """Return the file form."""
        return vol.Schema(
            {
                vol.Optional(CONF_PATH): TextSelector(),
                vol.Optional(CONF_PEM): PEM_SELECTOR,
                vol.Optional(CONF_NAME): TextSelector(),
                vol.Required(CONF_TRUST, default=Trust.SYSTEM.value): TRUST_SELECTOR,
                vol.Optional(CONF_CUSTOM_CA): PEM_SELECTOR,
                vol.Required(CONF_CHECK_REVOCATION, default=False): BooleanSelector(),
            }
        )

    async def _async_validate(
        self,
        entry: ConfigEntry,
        user_input: dict[str, Any],
        errors: dict[str, str],
        placeholders: dict[str, str],
    ) -> tuple[dict[str, Any], str, str]:
        """Check that exactly one of a path or a PEM is given and that it reads."""
        data = dict(user_input)
        name = (data.pop(CONF_NAME, None) or "").strip()
        path = (data.pop(CONF_PATH, None) or "").strip()
        pem = (data.pop(CONF_PEM, None) or "").strip()
        _validate_trust(data, errors)
        if bool(path) == bool(pem):
            errors["base"] = "path_or_pem"
            return data, "", ""
        if pem:
            data[CONF_PEM] = pem
            try:
                leaf = load_certificates(pem)[0]
            except PkiError:
                errors[CONF_PEM] = "invalid_pem"
                return data, "", ""
            fingerprint = leaf.fingerprint(hashes.SHA256()).hex()
            title = name or common_name_of(leaf.subject) or "Pasted certificate"
            return data, title, fingerprint
        data[CONF_PATH] = path
        placeholders["source"] = path
        if not Path(path).is_absolute() or not await self.hass.async_add_executor_job(
            self.hass.config.is_allowed_path, path
        ):
            errors[CONF_PATH] = "path_not_allowed"
            return data, "", ""
        try:
            await self.hass.async_add_executor_job(read_watched_file, path, None)
        except WatchReadError as err:
            errors[CONF_PATH] = err.reason
            placeholders["error"] = err.detail
        return data, name or Path(path).name, f"file:{path}"


def _normalize_host(value: str) -> str:
    """Return an IP address or a DNS host name in canonical form."""
    try:
        return str(ip_address(value.strip("[]")))
    except ValueError:
        return normalize_domain(value)


def _validate_trust(data: dict[str, Any], errors: dict[str, str]) -> None:
    """Check that a custom trust comes with a readable bundle; drop it otherwise."""
    data[CONF_TRUST] = Trust(data[CONF_TRUST]).value
    bundle = (data.pop(CONF_CUSTOM_CA, None) or "").strip()
    if data[CONF_TRUST] != Trust.CUSTOM:
        return
    if not bundle:
        errors[CONF_CUSTOM_CA] = "custom_ca_required"
        return
    try:
        load_certificates(bundle)
    except PkiError:
        errors[CONF_CUSTOM_CA] = "invalid_pem"
        return
    data[CONF_CUSTOM_CA] = bundle
