"""Tests of the CA creation and options flows."""

from __future__ import annotations

import pytest

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_pki.const import DOMAIN

from .conftest import CA_DATA

FORM = {
    "name": "Home",
    "key_algorithm": "ec_p256",
    "root_validity_days": 3650,
    "intermediate_validity_days": 1095,
    "permitted_dns_domains": ["home.arpa", "Local.", " lan ", ""],
    "permitted_ip_ranges": ["192.168.0.0/16", "fc00::/7"],
}


async def test_user_flow_creates_ca(hass: HomeAssistant) -> None:
    """Creating an entry creates a CA device with root and intermediate expiry."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], FORM)
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Home"
    assert result["data"]["permitted_dns_domains"] == ["home.arpa", "lan", "local"]
    root = hass.states.get("sensor.home_ca_root_expires")
    intermediate = hass.states.get("sensor.home_ca_intermediate_expires")
    assert root is not None
    assert intermediate is not None
    assert root.state > intermediate.state


@pytest.mark.parametrize(
    ("changes", "errors", "name"),
    [
        ({"name": "  "}, {"name": "name_required"}, ""),
        (
            {"permitted_dns_domains": ["bad domain"]},
            {"permitted_dns_domains": "invalid_domain"},
            "bad domain",
        ),
        (
            {"permitted_ip_ranges": ["192.168.1.5/16"]},
            {"permitted_ip_ranges": "invalid_ip_range"},
            "192.168.1.5/16",
        ),
        (
            {"intermediate_validity_days": 3650},
            {"intermediate_validity_days": "intermediate_outlives_root"},
            "",
        ),
        (
            {"permitted_dns_domains": [], "permitted_ip_ranges": []},
            {"base": "no_constraints"},
            "",
        ),
    ],
)
async def test_user_flow_errors(
    hass: HomeAssistant, changes: dict, errors: dict, name: str
) -> None:
    """Bad fields show a translated error and keep what was typed."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], FORM | changes
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert result["description_placeholders"]["name"] == name

    result = await hass.config_entries.flow.async_configure(result["flow_id"], FORM)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_duplicate_name_aborts(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Two CAs cannot share a name."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], FORM | {"name": "HOME"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_options_flow(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The options flow stores validity, renewal fraction and warning window."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"default_validity_days": 30, "renew_at_fraction": 0.5, "warning_days": 7},
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {
        "default_validity_days": 30,
        "renew_at_fraction": 0.5,
        "warning_days": 7,
        "acme_port": 8444,
        "acme_names": [],
        "notify_targets": [],
        "notify_thresholds": [30, 14, 7, 1, 0],
        "notify_auto_renewing": False,
    }
    assert CA_DATA["name"] == init_integration.title


async def test_options_acme_names_follow_the_policy(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The ACME server's names must be names the CA may issue for."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    fields = {
        "default_validity_days": 90,
        "renew_at_fraction": 0.67,
        "warning_days": 14,
        "acme_port": 8444,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**fields, "acme_names": ["ha.example.com"]}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"acme_names": "name_not_permitted"}
    assert result["description_placeholders"]["name"] == "ha.example.com"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**fields, "acme_names": [" HA.home.arpa ", "192.168.1.10"]},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options["acme_names"] == ["ha.home.arpa", "192.168.1.10"]
