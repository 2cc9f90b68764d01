"""Repair issues for what a person must act on, each gone once its cause is."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_NAME
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import (
    CONF_FIXED_KEY,
    DOMAIN,
    SUBENTRY_ISSUED,
    CertificateStatus,
    Renewal,
)
from .coordinator import HomePkiCoordinator
from .models import AuthorityView, CertificateView, FleetSnapshot
from .pki.inspect import CertificateInfo
from .pki.schedule import days_remaining
from .storage import CertificateRecord

FAILURES_BEFORE_ISSUE = 3
AUTHORITY_WARNING = timedelta(days=180)
POLICY_REASONS = ("weak_key", "sha1_signature", "lifetime_too_long")
FIX_RENEW = "renew"
FIX_REPLACE_INTERMEDIATE = "replace_intermediate"
CERTIFICATE_ISSUES = (
    "renewal_failing",
    "expired",
    "policy_violation",
    "revoked_served",
    "fixed_key_ending",
)
AUTHORITY_ISSUES = ("authority_ending_root", "authority_ending_intermediate")


@dataclass(frozen=True, kw_only=True, slots=True)
class Issue:
    """A repair issue as it should be in the registry."""

    issue_id: str
    translation_key: str
    severity: ir.IssueSeverity
    placeholders: Mapping[str, str]
    certificate_id: str | None = None
    fix: str | None = None


class HealthMonitor:
    """Keep one CA's repair issues in line with each snapshot of its home."""

    def __init__(self, coordinator: HomePkiCoordinator) -> None:
        """Prepare the monitor of one coordinator."""
        self._hass = coordinator.hass
        self._coordinator = coordinator
        self._entry = coordinator.config_entry
        self._raised: dict[str, Issue | None] = {}

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Judge the home now, dropping stale issues, and after every update."""
        self._raised = dict.fromkeys(own_issue_ids(self._hass, self._entry))
        self.async_update()
        return self._coordinator.async_add_listener(self.async_update)

    @callback
    def async_update(self) -> None:
        """Raise the issues whose cause appeared and delete those whose cause left."""
        wanted = {
            issue.issue_id: issue
            for issue in self._issues(self._coordinator.data, dt_util.utcnow())
        }
        registry = ir.async_get(self._hass)
        for issue_id in self._raised.keys() - wanted.keys():
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)
        for issue_id, issue in wanted.items():
            if (
                self._raised.get(issue_id) != issue
                or registry.async_get_issue(DOMAIN, issue_id) is None
            ):
                self._create(issue)
        self._raised = dict(wanted)

    def _create(self, issue: Issue) -> None:
        """Create or update one issue in the registry."""
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue.issue_id,
            is_fixable=issue.fix is not None,
            severity=issue.severity,
            translation_key=issue.translation_key,
            translation_placeholders=dict(issue.placeholders),
            data={
                "entry_id": self._entry.entry_id,
                "certificate_id": issue.certificate_id,
                "fix": issue.fix,
            },
        )

    def _issues(self, snapshot: FleetSnapshot, now: datetime) -> Iterator[Issue]:
        """List the issues a snapshot calls for."""
        records = self._coordinator.records
        for view in snapshot.certificates.values():
            # A certificate with no reason has nothing to repair.
            if view.reasons:
                yield from self._certificate_issues(
                    view, records.get(view.certificate_id), now
                )
        yield from self._authority_issues(snapshot.authority, now)

    def _certificate_issues(
        self, view: CertificateView, record: CertificateRecord | None, now: datetime
    ) -> Iterator[Issue]:
        """List the issues of one certificate."""
        reasons = set(view.reasons)
        certificate_id = view.certificate_id
        issued = view.kind == SUBENTRY_ISSUED
        pushed = issued and view.renewal is not Renewal.DEVICE_PULL
        revoked = CertificateStatus.REVOKED in reasons
        common = {"name": view.name, "source": view.source or ""}
        if view.info is not None:
            common.update(_ending(view.info, now))

        def issue(
            kind: str,
            translation_key: str,
            severity: ir.IssueSeverity,
            fix: str | None = None,
            **placeholders: str,
        ) -> Issue:
            return Issue(
                issue_id=f"{kind}_{certificate_id}",
                translation_key=translation_key,
                severity=severity,
                placeholders={**common, **placeholders},
                certificate_id=certificate_id,
                fix=fix,
            )

        if record is not None and record.failures >= FAILURES_BEFORE_ISSUE:
            yield issue(
                "renewal_failing",
                "renewal_failing",
                ir.IssueSeverity.WARNING,
                FIX_RENEW,
                failures=str(record.failures),
                error=record.last_error or "",
            )
        if CertificateStatus.EXPIRED in reasons and not revoked:
            if pushed:
                yield issue(
                    "expired", "expired_issued", ir.IssueSeverity.ERROR, FIX_RENEW
                )
            else:
                yield issue(
                    "expired",
                    "expired_device_pull" if issued else "expired_watched",
                    ir.IssueSeverity.ERROR,
                )
        if found := [reason for reason in POLICY_REASONS if reason in reasons]:
            yield issue(
                "policy_violation",
                "policy_violation",
                ir.IssueSeverity.WARNING,
                reasons=", ".join(found),
            )
        if revoked and not issued:
            yield issue("revoked_served", "revoked_served", ir.IssueSeverity.ERROR)
        if (
            issued
            and CertificateStatus.EXPIRING in reasons
            and not revoked
            and self._fixed_key(certificate_id)
        ):
            yield issue(
                "fixed_key_ending", "fixed_key_ending", ir.IssueSeverity.WARNING
            )

    def _fixed_key(self, certificate_id: str) -> bool:
        """Tell whether an issued certificate's device keeps its key."""
        subentry = self._entry.subentries.get(certificate_id)
        return subentry is not None and bool(subentry.data.get(CONF_FIXED_KEY))

    def _authority_issues(
        self, authority: AuthorityView, now: datetime
    ) -> Iterator[Issue]:
        """List the issues of the root and the intermediate nearing their end."""
        entry_id = self._entry.entry_id
        name = str(self._entry.data.get(CONF_NAME, self._entry.title))
        root_ending = _ends_soon(authority.root, now)
        if root_ending:
            yield Issue(
                issue_id=f"authority_ending_root_{entry_id}",
                translation_key="root_ending",
                severity=ir.IssueSeverity.WARNING,
                placeholders={"name": name, **_ending(authority.root, now)},
            )
        if _ends_soon(authority.intermediate, now):
            yield Issue(
                issue_id=f"authority_ending_intermediate_{entry_id}",
                translation_key=(
                    "intermediate_ending_with_root"
                    if root_ending
                    else "intermediate_ending"
                ),
                severity=ir.IssueSeverity.WARNING,
                placeholders={
                    "name": name,
                    **_ending(authority.intermediate, now),
                    "root_date": authority.root.not_after.date().isoformat(),
                },
                fix=None if root_ending else FIX_REPLACE_INTERMEDIATE,
            )


def _ends_soon(info: CertificateInfo, now: datetime) -> bool:
    """Tell whether a CA certificate is in its last 180 days.

    A CA certificate made for less than a year is warned about in the second
    half of its life instead, or it would be a problem from its first day.
    """
    window = min(AUTHORITY_WARNING, (info.not_after - info.not_before) / 2)
    return info.not_after - now <= window


def _ending(info: CertificateInfo, now: datetime) -> dict[str, str]:
    """Return the placeholders that say when a certificate ends."""
    return {
        "date": info.not_after.date().isoformat(),
        "days": str(max(0, days_remaining(info.not_after, now))),
    }


def own_issue_ids(hass: HomeAssistant, entry: ConfigEntry) -> set[str]:
    """Return the IDs of every issue the monitor of an entry may have raised."""
    ids = {f"{kind}_{entry.entry_id}" for kind in AUTHORITY_ISSUES}
    ids.update(
        f"{kind}_{certificate_id}"
        for certificate_id in entry.subentries
        for kind in CERTIFICATE_ISSUES
    )
    prefixes = (*CERTIFICATE_ISSUES, *AUTHORITY_ISSUES)
    ids.update(
        issue.issue_id
        for (domain, _), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN
        and issue.data is not None
        and issue.data.get("entry_id") == entry.entry_id
        and issue.issue_id.startswith(prefixes)
    )
    return ids


@callback
def async_remove_issues(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete every issue the monitor of a removed entry raised."""
    for issue_id in own_issue_ids(hass, entry):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
