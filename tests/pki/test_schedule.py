"""Tests of renewal timing, retry backoff and days remaining."""

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.home_pki.pki.schedule import (
    FIRST_RETRY,
    MAX_RETRY,
    RENEWAL_JITTER,
    days_remaining,
    renewal_time,
    retry_delay,
)

NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
NOT_AFTER = NOT_BEFORE + timedelta(days=90)
LIFETIME = NOT_AFTER - NOT_BEFORE


def test_constants() -> None:
    """The published timing rules: 5 % jitter, 1 minute to 6 hours of backoff."""
    assert RENEWAL_JITTER == 0.05
    assert timedelta(minutes=1) == FIRST_RETRY
    assert timedelta(hours=6) == MAX_RETRY


def test_renewal_without_jitter_is_at_the_fraction() -> None:
    """A jitter of 0 renews exactly at the fraction of the lifetime."""
    assert (
        renewal_time(
            not_before=NOT_BEFORE,
            not_after=NOT_AFTER,
            renew_at_fraction=0.67,
            jitter=0.0,
        )
        == NOT_BEFORE + LIFETIME * 0.67
    )


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.5, 0.999999])
def test_renewal_jitter_only_moves_earlier(jitter: float) -> None:
    """Jitter moves renewal earlier by at most 5 % of the lifetime, never later."""
    latest = NOT_BEFORE + LIFETIME * 0.67
    at = renewal_time(
        not_before=NOT_BEFORE,
        not_after=NOT_AFTER,
        renew_at_fraction=0.67,
        jitter=jitter,
    )
    assert latest - LIFETIME * RENEWAL_JITTER <= at <= latest
    assert at == NOT_BEFORE + LIFETIME * (0.67 - RENEWAL_JITTER * jitter)


def test_renewal_is_reproducible() -> None:
    """A stored jitter gives the same time after a restart."""
    first, again = (
        renewal_time(
            not_before=NOT_BEFORE,
            not_after=NOT_AFTER,
            renew_at_fraction=0.67,
            jitter=0.3,
        )
        for _ in range(2)
    )
    assert first == again


@pytest.mark.parametrize(
    ("jitter", "fraction"),
    [(-1.0, 0.67), (7.0, 0.62), (1.0, 0.62)],
)
def test_renewal_jitter_is_clamped(jitter: float, fraction: float) -> None:
    """A jitter outside [0, 1] cannot move renewal later or further earlier."""
    at = renewal_time(
        not_before=NOT_BEFORE,
        not_after=NOT_AFTER,
        renew_at_fraction=0.67,
        jitter=jitter,
    )
    assert at == NOT_BEFORE + LIFETIME * fraction


def test_renewal_never_before_not_before() -> None:
    """A tiny fraction minus jitter does not renew before the lifetime starts."""
    assert (
        renewal_time(
            not_before=NOT_BEFORE,
            not_after=NOT_AFTER,
            renew_at_fraction=0.01,
            jitter=0.9,
        )
        == NOT_BEFORE
    )


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (-3, timedelta(minutes=1)),
        (0, timedelta(minutes=1)),
        (1, timedelta(minutes=1)),
        (2, timedelta(minutes=2)),
        (3, timedelta(minutes=4)),
        (9, timedelta(minutes=256)),
        (10, timedelta(hours=6)),
        (50, timedelta(hours=6)),
        (10**12, timedelta(hours=6)),
    ],
)
def test_retry_delay(failures: int, delay: timedelta) -> None:
    """Retries start at a minute and double up to six hours."""
    assert retry_delay(failures) == delay


@pytest.mark.parametrize(
    ("left", "days"),
    [
        (timedelta(days=30), 30),
        (timedelta(days=3, hours=23), 3),
        (timedelta(seconds=1), 0),
        (timedelta(0), 0),
        (timedelta(seconds=-1), -1),
        (timedelta(days=-1), -1),
        (timedelta(days=-1, seconds=-1), -2),
    ],
)
def test_days_remaining(left: timedelta, days: int) -> None:
    """Whole days, rounded down, negative once expired."""
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert days_remaining(now + left, now) == days
