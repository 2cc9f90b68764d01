"""Config flow of Home PKI: the CA, its options and one subentry per certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import voluptuous as vol

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME
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
    CONF_PERMITTED_DNS_DOMAINS,
    CONF_PERMITTED_IP_RANGES,
    CONF_RENEW_AT_FRACTION,
    CONF_RENEWAL,
    CONF_ROOT_VALIDITY_DAYS,
    CONF_SAFETY_CRITICAL,
    CONF_VALIDITY_DAYS,
    CONF_VIA_DEVICE,
    CONF_WARNING_DAYS,
    DEFAULT_INTERMEDIATE_VALIDITY_DAYS,
    DEFAULT_KEY_ALGORITHM,
    DEFAULT_PERMITTED_DNS_DOMAINS,
    DEFAULT_PERMITTED_IP_RANGES,
    DEFAULT_RENEW_AT_FRACTION,
    DEFAULT_ROOT_VALIDITY_DAYS,
    DEFAULT_VALIDITY_DAYS,
    DEFAULT_WARNING_DAYS,
    DOMAIN,
    SUBENTRY_ISSUED,
    Renewal,
)
from .models import build_policy
from .pki.errors import NameNotPermittedError, PkiError
from .pki.keys import KeyAlgorithm
from .pki.policy import (
    Policy,
    check_names,
    normalize_dns_name,
    normalize_domain,
    parse_ip_address,
    parse_ip_ranges,
)

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
        return {SUBENTRY_ISSUED: IssuedCertificateFlow}

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
        if user_input is not None:
            return self.async_create_entry(
                data={
                    CONF_DEFAULT_VALIDITY_DAYS: int(
                        user_input[CONF_DEFAULT_VALIDITY_DAYS]
                    ),
                    CONF_RENEW_AT_FRACTION: float(user_input[CONF_RENEW_AT_FRACTION]),
                    CONF_WARNING_DAYS: int(user_input[CONF_WARNING_DAYS]),
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
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)


class IssuedCertificateFlow(ConfigSubentryFlow):
    """Add or change a device certificate that Home PKI issues and renews."""

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the device's names and how its certificate is used."""
        return await self._async_step_certificate("user", user_input, None)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a certificate; new names or a new key type issue it again."""
        subentry = self._get_reconfigure_subentry()
        return await self._async_step_certificate("reconfigure", user_input, subentry)

    async def _async_step_certificate(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        current: ConfigSubentry | None,
    ) -> SubentryFlowResult:
        """Show the certificate form, validate it and save it."""
        entry = self._get_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"name": ""}
        if user_input is not None:
            data = await _validate_issued(
                self.hass, build_policy(entry.data), user_input, errors, placeholders
            )
            unique_id = data[CONF_NAME].casefold()
            if any(
                sub.unique_id == unique_id and sub is not current
                for sub in entry.subentries.values()
            ):
                errors[CONF_NAME] = "already_configured"
            if not errors:
                title = data.pop(CONF_NAME)
                if current is None:
                    return self.async_create_entry(
                        title=title, data=data, unique_id=unique_id
                    )
                return self.async_update_and_abort(
                    entry, current, title=title, data=data, unique_id=unique_id
                )

        suggested = user_input
        if suggested is None and current is not None:
            suggested = {CONF_NAME: current.title, **current.data}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                _issued_schema(entry), suggested
            ),
            errors=errors,
            description_placeholders=placeholders,
        )


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
