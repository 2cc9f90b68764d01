"""Tests of the fleet telemetry on the CA device and the figures of renewals."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
import shutil

from freezegun.api import FrozenDateTimeFactory
import pytest

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.home_pki.const import DOMAIN
from custom_components.home_pki.models import error_class
from custom_components.home_pki.pki.acme.problems import AcmeProblem
from custom_components.home_pki.pki.errors import (
    AuthorityExpiredError,
    ChainError,
    InvalidKeyError,
    NameNotPermittedError,
    WeakKeyError,
)

from .conftest import add_issued
from .factory import make_authority
from .helpers import add_watched, certificate_entity, certificate_named, state_of

CERTIFICATES = "sensor.home_ca_certificates"
SUCCESS_RATE = "sensor.home_ca_renewal_success_rate_7_days"
LATENCY = "sensor.home_ca_median_renewal_latency_7_days"
FAILURES = "sensor.home_ca_renewal_failures_7_days"
NEXT_EXPIRY = "sensor.home_ca_next_expiry"
STATUSES = (
    "valid",
    "expiring",
    "expired",
    "revoked",
    "invalid_chain",
    "policy_violation",
    "renewal_failed",
    "unreachable",
)
CLASSES = ("network", "policy", "chain", "ca", "device")


class SteppingClock:
    """A monotonic clock that moves on by a set step each time it is read.

    An attempt reads it when it starts and when it is announced, so its
    latency is one step.
    """

    def __init__(self) -> None:
        """Start the clock."""
        self.now = 1000.0
        self.step = 0.0

    def __call__(self) -> float:
        """Return the time, a step later than the last reading."""
        self.now += self.step
        return self.now

    def take(self, milliseconds: int) -> None:
        """Make the next attempts take this long."""
        self.step = milliseconds / 1000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SteppingClock:
    """Time every attempt with a clock the test sets."""
    stepping = SteppingClock()
    monkeypatch.setattr("custom_components.home_pki.telemetry.monotonic", stepping)
    return stepping


def state(hass: HomeAssistant, entity_id: str) -> str:
    """Return an entity's state."""
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return found.state


def attributes(hass: HomeAssistant, entity_id: str) -> dict:
    """Return an entity's attributes."""
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return dict(found.attributes)


def test_error_classes() -> None:
    """Each kind of error lands in the class of where it must be fixed."""
    assert error_class(TimeoutError()) == "network"
    assert error_class(ConnectionRefusedError()) == "network"
    assert error_class(AcmeProblem(type="connection", detail="no answer")) == "network"
    assert error_class(NameNotPermittedError("example.com")) == "policy"
    assert error_class(WeakKeyError("rsa 1024")) == "policy"
    assert error_class(ChainError("unknown issuer")) == "chain"
    assert error_class(AuthorityExpiredError("ended")) == "ca"
    assert error_class(InvalidKeyError("unreadable")) == "ca"
    assert error_class(PermissionError("store")) == "ca"
    assert error_class(PermissionError("folder"), deploying=True) == "device"


async def test_fleet_figures_after_a_mix_of_renewals(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    deploy_dir: Path,
    tmp_path: Path,
    freezer: FrozenDateTimeFactory,
    clock: SteppingClock,
) -> None:
    """Three issuances with known latencies and two failures of two classes."""
    issued = async_capture_events(hass, "home_pki_certificate_issued")
    failed = async_capture_events(hass, "home_pki_renewal_failed")
    assert state(hass, CERTIFICATES) == "0"
    assert state(hass, SUCCESS_RATE) == "unknown"
    assert state(hass, LATENCY) == "unknown"
    assert state(hass, NEXT_EXPIRY) == "unknown"

    for name, days, milliseconds in (
        ("Alpha", 30, 100),
        ("Bravo", 60, 300),
        ("Charlie", 90, 200),
    ):
        clock.take(milliseconds)
        await add_issued(
            hass,
            init_integration,
            name=name,
            dns_names=[f"{name.lower()}.home.arpa"],
            renewal="manual",
            validity_days=days,
        )
    assert [event.data["latency_ms"] for event in issued] == [100, 300, 200]

    # A watched certificate that has expired.
    now = dt_util.utcnow()
    garage_ca = make_authority("Garage", now - timedelta(days=40))
    old = garage_ca.issue(
        now, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    await add_watched(
        hass,
        init_integration,
        "file",
        pem=old.chain_pem.decode(),
        name="Old hub",
        trust="custom",
        custom_ca=garage_ca.root_pem,
    )

    # The deploy folder of Delta is a file: a device failure.
    clock.take(50)
    blocked = deploy_dir / "delta"
    blocked.write_text("in the way")
    await add_issued(
        hass,
        init_integration,
        name="Delta",
        dns_names=["delta.home.arpa"],
        renewal="manual",
        deploy_path=str(blocked),
    )
    # Home PKI cannot write Charlie's new key: a failure of the CA's storage.
    charlie = certificate_named(init_integration, "Charlie")
    keys = tmp_path / ".storage" / DOMAIN / init_integration.entry_id / "certificates"
    shutil.rmtree(keys / charlie)
    (keys / charlie).write_text("in the way")
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": certificate_entity(hass, charlie, "renew")},
            blocking=True,
        )
    assert [event.data["error_class"] for event in failed] == ["device", "ca"]

    assert state(hass, CERTIFICATES) == "5"
    by_status = attributes(hass, CERTIFICATES)
    assert {key: by_status[key] for key in STATUSES} == {
        "valid": 2,
        "renewal_failed": 2,
        "expired": 1,
        "expiring": 0,
        "revoked": 0,
        "invalid_chain": 0,
        "policy_violation": 0,
        "unreachable": 0,
    }
    assert float(state(hass, SUCCESS_RATE)) == 60.0
    assert attributes(hass, SUCCESS_RATE)["unit_of_measurement"] == "%"
    assert float(state(hass, LATENCY)) == 200
    assert attributes(hass, LATENCY)["unit_of_measurement"] == "ms"
    assert state(hass, FAILURES) == "2"
    failures = attributes(hass, FAILURES)
    assert {key: failures[key] for key in CLASSES} == {
        "network": 0,
        "policy": 0,
        "chain": 0,
        "ca": 1,
        "device": 1,
    }
    alpha = certificate_named(init_integration, "Alpha")
    assert state(hass, NEXT_EXPIRY) == state_of(hass, alpha, "expires")
    assert attributes(hass, NEXT_EXPIRY)["name"] == "Alpha"
    assert attributes(hass, NEXT_EXPIRY)["certificate_id"] == alpha

    # The figures survive a reload, which retries Delta's deployment once more.
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert failed[-1].data["error_class"] == "device"
    assert float(state(hass, SUCCESS_RATE)) == 50.0
    assert float(state(hass, LATENCY)) == 200
    assert attributes(hass, FAILURES)["device"] == 2

    # A week later the attempts have left the window; Delta's retry is new.
    blocked.unlink()
    clock.take(80)
    moment = dt_util.utcnow() + timedelta(days=8)
    freezer.move_to(moment)
    async_fire_time_changed(hass, moment)
    await hass.async_block_till_done(wait_background_tasks=True)
    delta = certificate_named(init_integration, "Delta")
    assert state_of(hass, delta, "status") == "valid"
    assert float(state(hass, SUCCESS_RATE)) == 100.0
    assert float(state(hass, LATENCY)) == 80
    assert state(hass, FAILURES) == "0"
    failures = attributes(hass, FAILURES)
    assert [failures[key] for key in CLASSES] == [0, 0, 0, 0, 0]
    assert issued[-1].data["latency_ms"] == 80


async def test_next_expiry_skips_revoked_certificates(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A revoked certificate is not the next to expire."""
    await add_issued(
        hass,
        init_integration,
        name="Short",
        dns_names=["short.home.arpa"],
        validity_days=20,
    )
    await add_issued(
        hass,
        init_integration,
        name="Long",
        dns_names=["long.home.arpa"],
        validity_days=40,
    )
    short = certificate_named(init_integration, "Short")
    long = certificate_named(init_integration, "Long")
    assert attributes(hass, NEXT_EXPIRY)["name"] == "Short"

    await hass.services.async_call(
        DOMAIN,
        "revoke",
        {"entity_id": certificate_entity(hass, short, "expires")},
        blocking=True,
    )
    assert attributes(hass, NEXT_EXPIRY)["name"] == "Long"
    assert datetime.fromisoformat(state(hass, NEXT_EXPIRY)) == datetime.fromisoformat(
        state_of(hass, long, "expires")
    )
    assert attributes(hass, CERTIFICATES)["revoked"] == 1
