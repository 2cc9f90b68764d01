"""Tests of the audit trail's lines, chain, head and verification."""

from datetime import UTC, datetime, timedelta, timezone
import hashlib
import json

import pytest

from custom_components.home_pki.pki.audit import (
    GENESIS,
    HOME_PKI,
    Actor,
    ActorKind,
    AuditAction,
    AuditRecord,
    BrokenReason,
    Head,
    Outcome,
    Verification,
    changes_between,
    head_of,
    head_to_bytes,
    line_hash,
    make_line,
    parse_head,
    resume_point,
    split_lines,
    summarize,
    verify_lines,
)

START = datetime(2025, 4, 1, 8, 30, tzinfo=UTC)
ANNA = Actor(kind=ActorKind.USER, id="abc123", name="Anna")


def chain(count: int) -> tuple[list[bytes], Head]:
    """Return a chain of renewals and the head written after its last line."""
    lines: list[bytes] = []
    previous = GENESIS
    for number in range(count):
        line = make_line(
            AuditRecord(
                action=AuditAction.RENEWED,
                who=HOME_PKI,
                certificate_id="01JQ",
                name="Mosquitto broker",
                serial_number=f"{number + 16:X}",
            ),
            time=START + timedelta(days=number),
            previous=previous,
        )
        lines.append(line)
        previous = line_hash(line)
    return lines, head_of(lines)


def flip(line: bytes, old: bytes, new: bytes) -> bytes:
    """Return a line with one occurrence of a byte string replaced."""
    assert old in line
    return line.replace(old, new, 1)


def test_line_is_canonical_json() -> None:
    """A line has sorted keys, no spaces, UTC time and every field."""
    line = make_line(
        AuditRecord(
            action=AuditAction.REVOKED,
            who=ANNA,
            certificate_id="01JQ",
            name="Garage camera",
            serial_number="3A0F",
            detail="key_compromise",
        ),
        time=datetime(2025, 4, 1, 10, 30, tzinfo=timezone(timedelta(hours=2))),
        previous=GENESIS,
    )
    assert line == (
        b'{"action":"revoked","certificate_id":"01JQ","changes":null,'
        b'"detail":"key_compromise","name":"Garage camera","outcome":"ok",'
        b'"previous":"' + GENESIS.encode() + b'","serial_number":"3A0F",'
        b'"time":"2025-04-01T08:30:00.000+00:00",'
        b'"who":{"id":"abc123","kind":"user","name":"Anna"}}'
    )
    assert b"\n" not in line
    value = json.loads(line)
    assert json.dumps(value, sort_keys=True, separators=(",", ":")).encode() == line


def test_line_keeps_names_readable() -> None:
    """Names outside ASCII are written as UTF-8, not escaped."""
    line = make_line(
        AuditRecord(
            action=AuditAction.ISSUED,
            who=Actor(kind=ActorKind.USER, id="u", name="Jürgen"),
            outcome=Outcome.FAILED,
        ),
        time=START,
        previous=GENESIS,
    )
    assert "Jürgen".encode() in line
    assert json.loads(line)["outcome"] == "failed"


def test_naive_time_is_refused() -> None:
    """A line's time must say its zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        make_line(
            AuditRecord(action=AuditAction.ISSUED, who=HOME_PKI),
            time=datetime(2025, 4, 1),  # noqa: DTZ001
            previous=GENESIS,
        )


def test_line_hash_is_sha256_of_the_bytes() -> None:
    """The hash is the plain hex SHA-256 of the line's exact bytes."""
    assert line_hash(b"{}") == hashlib.sha256(b"{}").hexdigest()


def test_intact_chain() -> None:
    """A chain as written verifies, with its line count."""
    lines, head = chain(5)
    assert verify_lines(lines, head) == Verification(intact=True, lines=5)
    assert json.loads(lines[0])["previous"] == GENESIS
    assert json.loads(lines[3])["previous"] == line_hash(lines[2])


def test_empty_trail_is_intact() -> None:
    """No lines and no head is a trail that has not started."""
    assert verify_lines([], None) == Verification(intact=True, lines=0)
    assert verify_lines([], Head(0, GENESIS)).intact


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(
    ("old", "new"),
    [(b"Mosquitto", b"Mosquitoo"), (b'"renewed"', b'"REVOKED"'), (b"2025", b"2024")],
    ids=["name", "action", "time"],
)
def test_changed_line_is_named(number: int, old: bytes, new: bytes) -> None:
    """A change anywhere in a line's content names that line."""
    lines, head = chain(5)
    lines[number - 1] = flip(lines[number - 1], old, new)
    assert verify_lines(lines, head) == Verification(
        intact=False,
        lines=5,
        first_broken_line=number,
        reason=BrokenReason.LAST_LINE_CHANGED
        if number == 5
        else BrokenReason.CHAIN_BROKEN,
    )


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_changed_previous_is_named(number: int) -> None:
    """A line whose own `previous` was changed is named, not the one before it."""
    lines, head = chain(5)
    value = json.loads(lines[number - 1])
    digit = value["previous"][0]
    value["previous"] = ("1" if digit == "0" else "0") + value["previous"][1:]
    lines[number - 1] = json.dumps(
        value, sort_keys=True, separators=(",", ":")
    ).encode()
    verdict = verify_lines(lines, head)
    assert verdict.first_broken_line == number
    assert verdict.reason is BrokenReason.CHAIN_BROKEN


def test_unreadable_line_is_named() -> None:
    """A line that is no longer a whole JSON object is named as unreadable."""
    lines, head = chain(4)
    lines[1] = lines[1][:-1]
    assert verify_lines(lines, head) == Verification(
        intact=False,
        lines=4,
        first_broken_line=2,
        reason=BrokenReason.UNREADABLE_LINE,
    )


@pytest.mark.parametrize(
    "line",
    [
        b"[]",
        b'{"previous":"00"}',
        make_line(
            AuditRecord(action=AuditAction.ISSUED, who=HOME_PKI),
            time=START,
            previous="not a hash",
        ),
        b"\xff",
        b"",
    ],
    ids=["array", "fields", "previous", "bytes", "empty"],
)
def test_foreign_lines_are_unreadable(line: bytes) -> None:
    """Lines not written by make_line are refused whatever they hold."""
    lines, head = chain(2)
    verdict = verify_lines([lines[0], line, lines[1]], head)
    assert verdict.first_broken_line == 2
    assert verdict.reason is BrokenReason.UNREADABLE_LINE


def test_removed_last_line_shows_through_the_head() -> None:
    """The head counts the lines, so a missing last line is noticed."""
    lines, head = chain(4)
    assert verify_lines(lines[:-1], head) == Verification(
        intact=False,
        lines=3,
        first_broken_line=4,
        reason=BrokenReason.LINES_MISSING,
    )
    assert verify_lines(lines[:-1], None).reason is BrokenReason.HEAD_MISSING


def test_removed_middle_line_breaks_the_chain() -> None:
    """Taking a line out breaks the link right before the gap."""
    lines, head = chain(5)
    verdict = verify_lines([*lines[:2], *lines[3:]], head)
    assert (verdict.first_broken_line, verdict.reason) == (
        2,
        BrokenReason.CHAIN_BROKEN,
    )


def test_removed_first_lines_break_at_line_one() -> None:
    """A trail whose first line does not start from GENESIS lost its beginning."""
    lines, head = chain(4)
    verdict = verify_lines(lines[2:], head)
    assert (verdict.first_broken_line, verdict.reason) == (
        1,
        BrokenReason.CHAIN_BROKEN,
    )


def test_swapped_lines_are_noticed() -> None:
    """Reordered lines break the chain at the first of them."""
    lines, head = chain(4)
    lines[1], lines[2] = lines[2], lines[1]
    assert verify_lines(lines, head).first_broken_line == 2


def test_line_added_behind_the_heads_back() -> None:
    """A line appended without its head is beyond what the head recorded."""
    _, head = chain(3)
    extra, _ = chain(4)
    verdict = verify_lines(extra, head)
    assert (verdict.first_broken_line, verdict.reason) == (
        4,
        BrokenReason.LINES_UNRECORDED,
    )


def test_head_with_another_hash() -> None:
    """A head naming another last line makes the last line suspect."""
    lines, _ = chain(3)
    verdict = verify_lines(lines, Head(3, "1" * 64))
    assert (verdict.first_broken_line, verdict.reason) == (
        3,
        BrokenReason.LAST_LINE_CHANGED,
    )
    empty = verify_lines([], Head(0, "1" * 64))
    assert (empty.intact, empty.first_broken_line) == (False, None)


def test_head_round_trip() -> None:
    """A head is written as canonical JSON and read back."""
    head = Head(7, "a" * 64)
    assert head_to_bytes(head) == b'{"hash":"' + b"a" * 64 + b'","lines":7}'
    assert parse_head(head_to_bytes(head)) == head


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b'{"lines":-1,"hash":"' + b"a" * 64 + b'"}',
        b'{"lines":true,"hash":"' + b"a" * 64 + b'"}',
        b'{"lines":1,"hash":"xyz"}',
        b'{"lines":1}',
        b"not json",
    ],
)
def test_bad_heads_are_refused(data: bytes) -> None:
    """Anything but a count and a hash is not a head."""
    with pytest.raises(ValueError):  # noqa: PT011
        parse_head(data)


def test_split_lines() -> None:
    """A trailing newline ends the last line; a torn last line is kept."""
    assert split_lines(b"") == []
    assert split_lines(b"a\nb\n") == [b"a", b"b"]
    assert split_lines(b"a\nb") == [b"a", b"b"]
    assert split_lines(b"a\n\nb\n") == [b"a", b"", b"b"]


def test_resume_follows_the_head() -> None:
    """The next line continues from the head, so tampering stays visible."""
    lines, head = chain(4)
    assert resume_point(lines, head) == head
    assert resume_point(lines[:-1], head) == head
    assert resume_point(lines, None) == head
    assert resume_point([], None) == Head(0, GENESIS)


def test_resume_after_a_lost_head_write() -> None:
    """A last line written whose head was not continues from the line."""
    lines, head = chain(4)
    assert resume_point(lines, head_of(lines[:-1])) == head
    assert resume_point(lines[:1], None) == head_of(lines[:1])

    forged = flip(lines[-1], b"Mosquitto", b"Mosquitoo")
    stale = head_of(lines[:2])
    assert resume_point([*lines[:3], forged], stale) == stale


def test_changes_between() -> None:
    """Only fields that differ are listed, with their values before and after."""
    assert changes_between(
        {"renew_at_fraction": 0.67, "warning_days": 14, "acme_port": 8444},
        {"renew_at_fraction": 0.5, "warning_days": 14, "acme_names": ["nas.lan"]},
    ) == {
        "acme_names": {"from": None, "to": ["nas.lan"]},
        "acme_port": {"from": 8444, "to": None},
        "renew_at_fraction": {"from": 0.67, "to": 0.5},
    }


def test_summarize_keeps_pem_and_long_text_out() -> None:
    """PEM and long text become a digest; other values stay as they are."""
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert summarize(pem) == f"sha256:{hashlib.sha256(pem.encode()).hexdigest()}"
    assert str(summarize("x" * 201)).startswith("sha256:")
    assert summarize("x" * 200) == "x" * 200
    assert summarize({"a": (1, True, None)}) == {"a": [1, True, None]}
    assert summarize(timedelta(days=1)) == "1 day, 0:00:00"
