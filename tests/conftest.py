"""Fixtures shared by the Home PKI tests."""

from __future__ import annotations

from collections.abc import Generator
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from homeassistant.const import CONF_NAME, MATCH_ALL
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.json import JSONEncoder
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension

import custom_components.home_pki  # noqa: F401  (lets HA find the integration)
from custom_components.home_pki.const import (
    CONF_INTERMEDIATE_VALIDITY_DAYS,
    CONF_KEY_ALGORITHM,
    CONF_PERMITTED_DNS_DOMAINS,
    CONF_PERMITTED_IP_RANGES,
    CONF_ROOT_VALIDITY_DAYS,
    DOMAIN,
)

KEY_MARKER = "PRIVATE KEY"

CA_DATA = {
    CONF_NAME: "Home",
    CONF_KEY_ALGORITHM: "ec_p256",
    CONF_ROOT_VALIDITY_DAYS: 3650,
    CONF_INTERMEDIATE_VALIDITY_DAYS: 1095,
    CONF_PERMITTED_DNS_DOMAINS: ["home.arpa", "internal", "lan", "local"],
    CONF_PERMITTED_IP_RANGES: [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    ],
}


@pytest.fixture(autouse=True)
def _home_assistant_guard(
    request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Generator[None]:
    """Give each hass its own config folder and prove no key ever leaks.

    Every event (state changes included), every final state and every log
    line of the test is searched for PEM private key markers.
    """
    if "hass" not in request.fixturenames:
        yield
        return
    hass: HomeAssistant = request.getfixturevalue("hass")
    request.getfixturevalue("enable_custom_integrations")
    hass.config.config_dir = str(tmp_path)
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    hass.config.allowlist_external_dirs = {str(deploy)}
    caplog.set_level(logging.DEBUG)
    events: list[str] = []

    @callback
    def _record(event: Event) -> None:
        events.append(json.dumps(event.as_dict(), cls=JSONEncoder))

    unsubscribe = hass.bus.async_listen(MATCH_ALL, _record)
    yield
    unsubscribe()
    states = [
        json.dumps(state.as_dict(), cls=JSONEncoder)
        for state in hass.states.async_all()
    ]
    logged = [record.getMessage() for record in caplog.records]
    for kind, texts in (("event", events), ("state", states), ("log", logged)):
        leaks = [text for text in texts if KEY_MARKER in text]
        assert not leaks, f"a private key reached a {kind}: {leaks[0][:200]}"


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Return snapshots that know Home Assistant's registry entries and states."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def deploy_dir(tmp_path: Path) -> Path:
    """Return the folder Home Assistant may write deployed certificates to."""
    return tmp_path / "deploy"


@pytest.fixture
def mock_config_entry() -> MockConfigEntry:
    """Return a Home PKI entry for a CA named Home with the default settings."""
    return MockConfigEntry(
        domain=DOMAIN, title="Home", data=dict(CA_DATA), unique_id="home"
    )


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set up Home PKI with its CA and no certificates yet."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


async def add_issued(
    hass: HomeAssistant, entry: MockConfigEntry, **fields: Any
) -> dict[str, Any]:
    """Add an issued certificate through the subentry flow; return the result."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "issued"), context={"source": "user"}
    )
    user_input = {"name": "Mosquitto broker", "dns_names": ["mqtt.home.arpa"]}
    user_input.update(fields)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], user_input
    )
    await hass.async_block_till_done()
    return dict(result)
