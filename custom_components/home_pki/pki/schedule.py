"""When to renew a certificate and when to retry a failed renewal."""

from datetime import datetime, timedelta

RENEWAL_JITTER = 0.05
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)


def renewal_time(
    *,
    not_before: datetime,
    not_after: datetime,
    renew_at_fraction: float,
    jitter: float,
) -> datetime:
    """Return when to renew: at a fraction of the lifetime, moved earlier by jitter.

    Renewing at two thirds leaves a third of the lifetime, a month of a 90-day
    certificate, to retry and to let a person act before it expires. The jitter,
    drawn once by the caller from [0, 1) and stored so a restart keeps the
    schedule, moves renewal earlier by up to RENEWAL_JITTER of the lifetime, so
    certificates a home issued together do not all renew in the same minute. It
    never moves renewal later than renew_at_fraction.
    """
    lifetime = not_after - not_before
    jitter = min(max(jitter, 0.0), 1.0)
    fraction = max(renew_at_fraction - RENEWAL_JITTER * jitter, 0.0)
    return not_before + lifetime * fraction


def renewal_window(
    *, not_before: datetime, not_after: datetime, renew_at_fraction: float
) -> tuple[datetime, datetime]:
    """Return the span a certificate is renewed in: what every jitter gives.

    A device renewing at a random moment in it renews as Home PKI itself
    would, at renew_at_fraction of the lifetime less a random jitter.
    """
    return (
        renewal_time(
            not_before=not_before,
            not_after=not_after,
            renew_at_fraction=renew_at_fraction,
            jitter=1.0,
        ),
        renewal_time(
            not_before=not_before,
            not_after=not_after,
            renew_at_fraction=renew_at_fraction,
            jitter=0.0,
        ),
    )


def retry_delay(failures: int) -> timedelta:
    """Return how long to wait after consecutive failures: 1 min, doubling, 6 h at most."""
    if failures < 1:
        return FIRST_RETRY
    # Beyond this many doublings the cap applies anyway; stop before huge powers.
    doublings = min(failures - 1, int(MAX_RETRY / FIRST_RETRY).bit_length())
    return min(FIRST_RETRY * (1 << doublings), MAX_RETRY)


def days_remaining(not_after: datetime, now: datetime) -> int:
    """Return whole days left, rounded down, so -1 from the moment it has expired."""
    return (not_after - now).days
