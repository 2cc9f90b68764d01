"""Tests of setup, restart, unload, removal, the public views and diagnostics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
import json
from pathlib import Path
import stat
from typing import Any

import pytest

from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.json import JSONEncoder
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_pki.const import DOMAIN
from custom_components.home_pki.storage import STORAGE_MINOR_VERSION

from .conftest import KEY_MARKER, add_issued
from .helpers import attributes_of, certificate_named, openssl, state_of


def restart_copy(entry: MockConfigEntry) -> MockConfigEntry:
    """Return the same config entry, as a new Home Assistant would load it."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry.entry_id,
        title=entry.title,
        data=dict(entry.data),
        options=dict(entry.options),
        unique_id=entry.unique_id,
        subentries_data=[
            {
                "subentry_id": subentry.subentry_id,
                "subentry_type": subentry.subentry_type,
                "title": subentry.title,
                "unique_id": subentry.unique_id,
                "data": dict(subentry.data),
            }
            for subentry in entry.subentries.values()
        ],
    )


async def test_everything_survives_a_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    tmp_path: Path,
) -> None:
    """A new Home Assistant on the same config folder keeps CA, certificates and plan."""
    await add_issued(hass, init_integration)
    await add_issued(
        hass, init_integration, name="Garage camera", dns_names=["cam.home.arpa"]
    )
    camera = certificate_named(init_integration, "Garage camera")
    await hass.services.async_call(
        DOMAIN,
        "revoke",
        {"device_id": _device_id(hass, camera), "reason": "key_compromise"},
        blocking=True,
    )
    before = {
        subentry_id: (
            attributes_of(hass, subentry_id, "expires"),
            state_of(hass, subentry_id, "status"),
        )
        for subentry_id in init_integration.subentries
    }
    root_before = hass.states.get("sensor.home_ca_root_expires").state
    stored = hass_storage[f"{DOMAIN}.{init_integration.entry_id}"]["data"]
    assert stored["crl_number"] == 2
    assert KEY_MARKER not in json.dumps(hass_storage, cls=JSONEncoder)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()

    async with restarted(init_integration, tmp_path) as (second, entry):
        assert second.states.get("sensor.home_ca_root_expires").state == root_before
        for subentry_id, (attributes, status) in before.items():
            assert attributes_of(second, subentry_id, "expires") == attributes
            assert state_of(second, subentry_id, "status") == status
        stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
        assert stored["crl_number"] == 3
        assert len(stored["serials"]) == 4

    keys = tmp_path / ".storage" / DOMAIN / init_integration.entry_id
    key_files = sorted(keys.rglob("*.key"))
    assert len(key_files) == 4
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in key_files)


@asynccontextmanager
async def restarted(
    entry: MockConfigEntry, config_dir: Path
) -> AsyncIterator[tuple[HomeAssistant, MockConfigEntry]]:
    """Run a second Home Assistant on the same config folder with the same entry."""
    async with async_test_home_assistant(config_dir=str(config_dir)) as second:
        second.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
        copy = restart_copy(entry)
        copy.add_to_hass(second)
        assert await async_setup_component(second, "http", {})
        assert await second.config_entries.async_setup(copy.entry_id)
        await second.async_block_till_done()
        yield second, copy
        assert await second.config_entries.async_unload(copy.entry_id)
        await second.async_stop()


def _device_id(hass: HomeAssistant, certificate_id: str) -> str:
    """Return the device ID of a certificate."""
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    return device.id


async def test_unreadable_authority_fails_setup(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """A missing signing key is a setup error, not a silent new CA."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    (
        tmp_path / ".storage" / DOMAIN / init_integration.entry_id / "intermediate.key"
    ).unlink()
    assert not await hass.config_entries.async_setup(init_integration.entry_id)
    assert init_integration.state is ConfigEntryState.SETUP_ERROR


async def test_remove_entry_deletes_keys(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    tmp_path: Path,
) -> None:
    """Removing the CA deletes its key folder, deployed files and metadata."""
    target = tmp_path / "deploy" / "nas"
    await add_issued(hass, init_integration, deploy_path=str(target))
    keys = tmp_path / ".storage" / DOMAIN / init_integration.entry_id
    assert (keys / "root.key").is_file()
    assert (target / "key.pem").is_file()
    assert await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert not keys.exists()
    assert list(target.iterdir()) == []
    assert f"{DOMAIN}.{init_integration.entry_id}" not in hass_storage


async def test_options_apply_without_reload(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A wider warning window marks a certificate expiring at once."""
    await add_issued(hass, init_integration, validity_days=30)
    (certificate_id,) = init_integration.subentries
    assert state_of(hass, certificate_id, "status") == "valid"
    hass.config_entries.async_update_entry(
        init_integration, options={"warning_days": 60, "renew_at_fraction": 0.5}
    )
    await hass.async_block_till_done()
    assert state_of(hass, certificate_id, "status") == "expiring"
    assert init_integration.state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("ca.pem", "application/x-pem-file"),
        ("root.crt", "application/pkix-cert"),
        ("intermediate.crt", "application/pkix-cert"),
        ("crl", "application/pkix-crl"),
    ],
)
async def test_public_views(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    name: str,
    content_type: str,
) -> None:
    """Public material is served without authentication and with its type."""
    client = await hass_client_no_auth()
    response = await client.get(f"/api/home_pki/{init_integration.entry_id}/{name}")
    assert response.status == 200
    assert response.content_type == content_type
    body = await response.read()
    assert KEY_MARKER.encode() not in body
    if name == "ca.pem":
        assert body.count(b"BEGIN CERTIFICATE") == 2


async def test_public_views_unknown(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Unknown documents and entries are not found."""
    client = await hass_client_no_auth()
    for path in (f"{init_integration.entry_id}/root.key", "nope/ca.pem"):
        response = await client.get(f"/api/home_pki/{path}")
        assert response.status == 404


async def test_crl_is_refreshed_before_next_update(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: Any,
    tmp_path: Path,
) -> None:
    """The CRL is signed again before its next update, with a higher number."""

    client = await hass_client_no_auth()
    url = f"/api/home_pki/{init_integration.entry_id}/crl"
    first = tmp_path / "first.der"
    first.write_bytes(await (await client.get(url)).read())
    moment = dt_util.utcnow() + timedelta(days=5, minutes=1)
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done()
    second = tmp_path / "second.der"
    second.write_bytes(await (await client.get(url)).read())

    def numbers(path: Path) -> tuple[str, str]:
        text = openssl(
            "crl", "-inform", "DER", "-in", path, "-noout", "-crlnumber", "-nextupdate"
        ).stdout
        return tuple(line.split("=", 1)[1] for line in text.splitlines())  # type: ignore[return-value]

    (number_one, next_one), (number_two, next_two) = numbers(first), numbers(second)
    assert int(number_two, 16) == int(number_one, 16) + 1
    assert next_two != next_one


async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    deploy_dir: Path,
) -> None:
    """Diagnostics describe the inventory and hold no secret."""
    await add_issued(hass, init_integration, deploy_path=str(deploy_dir / "mqtt"))
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )
    text = json.dumps(diagnostics)
    assert KEY_MARKER not in text
    assert str(deploy_dir) not in text
    (certificate,) = diagnostics["certificates"].values()
    assert certificate["status"] == "valid"
    assert certificate["generations"] == 1
    assert diagnostics["authority"]["crl_number"] == 1
    assert (
        diagnostics["entry"]["subentries"][0]["data"]["deploy_path"] == "**REDACTED**"
    )


async def test_older_storage_is_migrated(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
) -> None:
    """Metadata written by an earlier minor version loads and is upgraded."""
    root = hass.states.get("sensor.home_ca_root_expires").state
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    key = f"{DOMAIN}.{init_integration.entry_id}"
    hass_storage[key]["minor_version"] = 0

    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.home_ca_root_expires").state == root
    assert hass_storage[key]["minor_version"] == STORAGE_MINOR_VERSION


async def test_renewal_missed_while_stopped_runs_at_start(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    freezer: Any,
    tmp_path: Path,
) -> None:
    """A renewal that fell due while Home Assistant was off runs right after start."""
    await add_issued(hass, init_integration)
    (certificate_id,) = init_integration.subentries
    before = attributes_of(hass, certificate_id, "expires")
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    later = datetime.fromisoformat(before["next_renewal"]) + timedelta(days=2)
    freezer.move_to(later)

    async with restarted(init_integration, tmp_path) as (second, _):
        async_fire_time_changed(second, later + timedelta(seconds=5))
        await second.async_block_till_done()

        after = attributes_of(second, certificate_id, "expires")
        assert after["serial_number"] != before["serial_number"]
        assert datetime.fromisoformat(after["last_renewal"]) >= later
