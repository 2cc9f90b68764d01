"""An audit trail of JSON lines, each holding the SHA-256 of the line before it.

Each line is one canonical JSON object (keys sorted, no spaces, UTF-8). Its
`previous` field is the hex SHA-256 of the exact bytes of the line before it,
newline excluded; the first line carries GENESIS. A line changed anywhere
breaks the link to the line after it. The last line has no line after it, so
a small head, written after each line, records how many lines there are and
the hash of the last one: a removed or changed last line shows as well.

The chain holds no secret. It shows lines changed, removed or reordered by
hand or by accident; whoever can write the file and its head can also write a
new, consistent chain.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
import hashlib
import json
import re
from typing import Any

GENESIS = "0" * 64
MAX_TEXT = 200
LINE_FIELDS = frozenset(
    {
        "action",
        "certificate_id",
        "changes",
        "detail",
        "name",
        "outcome",
        "previous",
        "serial_number",
        "time",
        "who",
    }
)
_HASH = re.compile(r"[0-9a-f]{64}")

type JsonValue = (
    str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None
)


class ActorKind(StrEnum):
    """Who made something happen."""

    USER = "user"
    AUTOMATION = "automation"
    HOME_PKI = "home_pki"


class AuditAction(StrEnum):
    """What happened; these names are stable, as readers of the trail rely on them."""

    ISSUED = "issued"
    RENEWED = "renewed"
    RENEWAL_FAILED = "renewal_failed"
    REVOKED = "revoked"
    SIGNED_CSR = "signed_csr"
    KEY_EXPORTED = "key_exported"
    OPTIONS_CHANGED = "options_changed"
    POLICY_CHANGED = "policy_changed"
    CERTIFICATE_ADDED = "certificate_added"
    CERTIFICATE_CHANGED = "certificate_changed"
    CERTIFICATE_REMOVED = "certificate_removed"
    CA_REMOVED = "ca_removed"


class Outcome(StrEnum):
    """Whether what was attempted worked."""

    OK = "ok"
    FAILED = "failed"


class BrokenReason(StrEnum):
    """Why a trail is not intact."""

    UNREADABLE_LINE = "unreadable_line"
    CHAIN_BROKEN = "chain_broken"
    LINES_MISSING = "lines_missing"
    LINES_UNRECORDED = "lines_unrecorded"
    LAST_LINE_CHANGED = "last_line_changed"
    HEAD_MISSING = "head_missing"
    HEAD_UNREADABLE = "head_unreadable"


@dataclass(frozen=True, kw_only=True, slots=True)
class Actor:
    """A user, an automation or script, or Home PKI itself."""

    kind: ActorKind
    id: str | None = None
    name: str | None = None


HOME_PKI = Actor(kind=ActorKind.HOME_PKI)


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditRecord:
    """One thing that happened, before it is written as a line."""

    action: AuditAction
    who: Actor
    certificate_id: str | None = None
    name: str | None = None
    serial_number: str | None = None
    outcome: Outcome = Outcome.OK
    detail: str | None = None
    changes: Mapping[str, JsonValue] | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """How many lines a trail has and the hash of its last line."""

    lines: int
    hash: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Verification:
    """The verdict on a trail; first_broken_line counts from 1."""

    intact: bool
    lines: int
    first_broken_line: int | None = None
    reason: BrokenReason | None = None


def line_hash(line: bytes) -> str:
    """Return the hex SHA-256 of a line's bytes, newline excluded."""
    return hashlib.sha256(line).hexdigest()


def make_line(record: AuditRecord, *, time: datetime, previous: str) -> bytes:
    """Return a record as one canonical JSON line, without the newline."""
    if time.tzinfo is None:
        raise ValueError("the time of an audit line must be timezone-aware")
    return _canonical(
        {
            "action": str(record.action),
            "certificate_id": record.certificate_id,
            "changes": dict(record.changes) if record.changes is not None else None,
            "detail": record.detail,
            "name": record.name,
            "outcome": str(record.outcome),
            "previous": previous,
            "serial_number": record.serial_number,
            "time": time.astimezone(UTC).isoformat(timespec="milliseconds"),
            "who": {
                "id": record.who.id,
                "kind": str(record.who.kind),
                "name": record.who.name,
            },
        }
    )


def changes_between(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> dict[str, JsonValue]:
    """Return each field whose value differs, with its value before and after."""
    return {
        field: {"from": summarize(old.get(field)), "to": summarize(new.get(field))}
        for field in sorted(old.keys() | new.keys())
        if old.get(field) != new.get(field)
    }


def summarize(value: Any) -> JsonValue:
    """Return a value as it may be written: long text and PEM only as a digest."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT or "-----BEGIN" in value:
            return f"sha256:{hashlib.sha256(value.encode()).hexdigest()}"
        return value
    if isinstance(value, Mapping):
        return {str(key): summarize(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [summarize(item) for item in value]
    return summarize(str(value))


def split_lines(content: bytes) -> list[bytes]:
    """Split a trail's bytes into lines; a last line without newline is kept."""
    if not content:
        return []
    lines = content.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def head_of(lines: Sequence[bytes]) -> Head:
    """Return the head that describes these lines."""
    return Head(len(lines), line_hash(lines[-1]) if lines else GENESIS)


def head_to_bytes(head: Head) -> bytes:
    """Return a head as canonical JSON."""
    return _canonical({"hash": head.hash, "lines": head.lines})


def parse_head(data: bytes) -> Head:
    """Read a head written by head_to_bytes; raise ValueError for anything else."""
    value = json.loads(data)
    fields = value if isinstance(value, dict) else {}
    lines, digest = fields.get("lines"), fields.get("hash")
    if (
        isinstance(lines, bool)
        or not isinstance(lines, int)
        or lines < 0
        or not isinstance(digest, str)
        or not _HASH.fullmatch(digest)
    ):
        raise ValueError("not an audit head: a line count and a SHA-256 in hex")
    return Head(lines, digest)


def resume_point(lines: Sequence[bytes], head: Head | None) -> Head:
    """Return what the next line continues from.

    The head wins over the file, so lines removed or added behind the trail's
    back stay visible after further lines. The one exception is a last line
    that chains to the head and is one past it: the line was written and the
    head was not, as when the power failed between the two.
    """
    found = head_of(lines)
    if head is None:
        return found
    if (
        head.lines == len(lines) - 1
        and head == head_of(lines[:-1])
        and _previous_of(lines[-1]) == head.hash
    ):
        return found
    return head


def verify_lines(lines: Iterable[bytes], head: Head | None) -> Verification:
    """Check each line's link to the one before it, then the head.

    A broken link between two lines means the earlier line changed or the
    later one's `previous` did; the later one is named only when its own link
    to the line after it is broken too, the simplest explanation of both.
    """
    hashes: list[str] = []
    previous: list[str | None] = []
    for line in lines:
        hashes.append(line_hash(line))
        previous.append(_previous_of(line))
    count = len(hashes)

    for number in range(1, count + 1):
        recorded = previous[number - 1]
        if recorded is None:
            return _broken(count, number, BrokenReason.UNREADABLE_LINE)
        expected = hashes[number - 2] if number > 1 else GENESIS
        if recorded == expected:
            continue
        after = _recorded_for(number, previous, head)
        this_line_changed = after is not None and after != hashes[number - 1]
        culprit = number if number == 1 or this_line_changed else number - 1
        return _broken(count, culprit, BrokenReason.CHAIN_BROKEN)

    if head is None:
        if count:
            return _broken(count, None, BrokenReason.HEAD_MISSING)
        return Verification(intact=True, lines=0)
    if head.lines > count:
        return _broken(count, count + 1, BrokenReason.LINES_MISSING)
    if head.lines < count:
        return _broken(count, head.lines + 1, BrokenReason.LINES_UNRECORDED)
    if head.hash != (hashes[-1] if hashes else GENESIS):
        return _broken(count, count or None, BrokenReason.LAST_LINE_CHANGED)
    return Verification(intact=True, lines=count)


def _recorded_for(
    number: int, previous: Sequence[str | None], head: Head | None
) -> str | None:
    """Return the hash the trail recorded for a line; None when nothing did."""
    if number < len(previous):
        return previous[number]
    if head is not None and head.lines == len(previous):
        return head.hash
    return None


def _previous_of(line: bytes) -> str | None:
    """Return the `previous` of a well-formed line; None for any other line."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict) or not value.keys() >= LINE_FIELDS:
        return None
    previous = value["previous"]
    if not isinstance(previous, str) or not _HASH.fullmatch(previous):
        return None
    return previous


def _broken(lines: int, line: int | None, reason: BrokenReason) -> Verification:
    """Return the verdict on a trail that is not intact."""
    return Verification(
        intact=False, lines=lines, first_broken_line=line, reason=reason
    )


def _canonical(value: Mapping[str, Any]) -> bytes:
    """Return JSON with sorted keys and no spaces, in UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
