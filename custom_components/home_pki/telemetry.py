"""Fleet telemetry: how the certificates of a home fare, in a few figures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from statistics import median
from time import monotonic

from .const import FAILURE_WINDOW_DAYS, CertificateStatus
from .models import ERROR_CLASSES, CertificateView, FleetTelemetry
from .storage import RenewalOutcome

TELEMETRY_WINDOW = timedelta(days=FAILURE_WINDOW_DAYS)
# Enough for every renewal of a few thousand certificates in a week; a home
# failing far more often than that keeps its latest attempts.
MAX_OUTCOMES = 5000


def clock_ms() -> float:
    """Return a monotonic clock in milliseconds, to time an attempt."""
    return monotonic() * 1000


def add_outcome(
    outcomes: list[RenewalOutcome], outcome: RenewalOutcome
) -> list[RenewalOutcome]:
    """Return the outcomes of the window with one more, oldest dropped first."""
    horizon = outcome.at - TELEMETRY_WINDOW
    kept = [item for item in outcomes if item.at > horizon]
    kept.append(outcome)
    return kept[-MAX_OUTCOMES:]


def fleet_telemetry(
    views: Iterable[CertificateView],
    outcomes: Iterable[RenewalOutcome],
    now: datetime,
) -> FleetTelemetry:
    """Sum up the certificates' views and the attempts of the last seven days."""
    by_status = dict.fromkeys((status.value for status in CertificateStatus), 0)
    next_expiry: CertificateView | None = None
    next_end: datetime | None = None
    for view in views:
        info = view.info
        if info is None and not view.reasons:
            continue
        by_status[view.status] += 1
        if (
            info is not None
            and view.status is not CertificateStatus.REVOKED
            and info.not_after > now
            and (next_end is None or info.not_after < next_end)
        ):
            next_expiry, next_end = view, info.not_after

    horizon = now - TELEMETRY_WINDOW
    recent = [outcome for outcome in outcomes if outcome.at > horizon]
    latencies = [outcome.latency_ms for outcome in recent if outcome.succeeded]
    classes = Counter(
        outcome.error_class for outcome in recent if not outcome.succeeded
    )
    return FleetTelemetry(
        by_status=by_status,
        success_rate=(round(100 * len(latencies) / len(recent), 1) if recent else None),
        median_latency_ms=median(latencies) if latencies else None,
        failures_by_class={name: classes[name] for name in ERROR_CLASSES},
        next_expiry=next_expiry,
    )
