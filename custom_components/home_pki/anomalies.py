"""Family anomalies: renewals failing on several devices of one make and model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from homeassistant.util import slugify

from .const import CONF_MANUFACTURER, CONF_MODEL

FAMILY_WINDOW = timedelta(hours=24)
FAMILY_MIN_FAILURES = 3
FAMILY_MIN_DEVICES = 2


@dataclass(frozen=True, slots=True)
class Family:
    """Devices of one manufacturer and model."""

    manufacturer: str
    model: str

    @property
    def key(self) -> str:
        """Return the family's slug, as its repair issue is named."""
        return slugify(f"{self.manufacturer} {self.model}")


def family_of(data: Mapping[str, Any]) -> Family | None:
    """Return the family of a certificate's device; None without make and model."""
    manufacturer = str(data.get(CONF_MANUFACTURER) or "").strip()
    model = str(data.get(CONF_MODEL) or "").strip()
    if not manufacturer or not model:
        return None
    return Family(manufacturer, model)


@dataclass(frozen=True, kw_only=True, slots=True)
class Failure:
    """One failed renewal of a certificate of a family."""

    at: datetime
    certificate_id: str
    family: str


@dataclass(kw_only=True, slots=True)
class Anomaly:
    """A family whose devices fail together, until it clears."""

    family: Family
    members: set[str] = field(default_factory=set)
    failures: int = 0
    last_failure: datetime

    @property
    def ends_at(self) -> datetime:
        """Return when it clears if no member fails again."""
        return self.last_failure + FAMILY_WINDOW


class FamilyTracker:
    """Keep the failures of the last day and the anomalies they make.

    An anomaly starts once a family has at least three failures on at least
    two devices within a day. It lasts until a day passes without a failure
    in the family, or until every device that failed has renewed.
    """

    def __init__(self) -> None:
        """Start with no failures."""
        self.failures: list[Failure] = []
        self.anomalies: dict[str, Anomaly] = {}

    def add(
        self, certificate_id: str, family: Family, now: datetime
    ) -> tuple[Anomaly | None, bool]:
        """Count a failure; return the family's anomaly and whether it is new."""
        self._prune(now)
        self.failures.append(
            Failure(at=now, certificate_id=certificate_id, family=family.key)
        )
        related = [item for item in self.failures if item.family == family.key]
        anomaly = self.anomalies.get(family.key)
        if anomaly is not None:
            anomaly.members.add(certificate_id)
            anomaly.failures = len(related)
            anomaly.last_failure = now
            return anomaly, False
        members = {item.certificate_id for item in related}
        if len(related) < FAMILY_MIN_FAILURES or len(members) < FAMILY_MIN_DEVICES:
            return None, False
        anomaly = Anomaly(
            family=family, members=members, failures=len(related), last_failure=now
        )
        self.anomalies[family.key] = anomaly
        return anomaly, True

    def expired(self, now: datetime) -> list[Anomaly]:
        """Remove and return the anomalies a quiet day has ended."""
        self._prune(now)
        ended = [item for item in self.anomalies.values() if item.ends_at <= now]
        for anomaly in ended:
            del self.anomalies[anomaly.family.key]
        return ended

    def resolved(self, failing: Callable[[str], bool]) -> list[Anomaly]:
        """Remove and return the anomalies whose devices all renewed since."""
        ended = [
            item
            for item in self.anomalies.values()
            if not any(failing(member) for member in item.members)
        ]
        for anomaly in ended:
            del self.anomalies[anomaly.family.key]
            self.failures = [
                item for item in self.failures if item.family != anomaly.family.key
            ]
        return ended

    def anomaly_of(self, certificate_id: str) -> Anomaly | None:
        """Return the active anomaly a certificate belongs to, if any."""
        for anomaly in self.anomalies.values():
            if certificate_id in anomaly.members:
                return anomaly
        return None

    @property
    def next_end(self) -> datetime | None:
        """Return the first moment an anomaly may end by time alone."""
        return min((item.ends_at for item in self.anomalies.values()), default=None)

    def _prune(self, now: datetime) -> None:
        """Forget failures older than a day."""
        horizon = now - FAMILY_WINDOW
        self.failures = [item for item in self.failures if item.at > horizon]

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "failures": [
                {
                    "at": item.at.isoformat(),
                    "certificate_id": item.certificate_id,
                    "family": item.family,
                }
                for item in self.failures
            ],
            "anomalies": [
                {
                    "manufacturer": item.family.manufacturer,
                    "model": item.family.model,
                    "members": sorted(item.members),
                    "failures": item.failures,
                    "last_failure": item.last_failure.isoformat(),
                }
                for item in self.anomalies.values()
            ],
        }

    def load(self, data: Mapping[str, Any]) -> None:
        """Take the failures and anomalies from their JSON form."""
        self.failures = [
            Failure(
                at=datetime.fromisoformat(item["at"]),
                certificate_id=item["certificate_id"],
                family=item["family"],
            )
            for item in data.get("failures", ())
        ]
        for item in data.get("anomalies", ()):
            family = Family(item["manufacturer"], item["model"])
            self.anomalies[family.key] = Anomaly(
                family=family,
                members=set(item["members"]),
                failures=item["failures"],
                last_failure=datetime.fromisoformat(item["last_failure"]),
            )
