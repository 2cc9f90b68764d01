"""The audit trail of a CA: what was issued, renewed, revoked, exported or changed.

Each CA appends to `<config>/home_pki/audit/<entry_id>.jsonl`, one chained line
per thing that happened (see pki/audit.py), with `<entry_id>.head` beside it.
The trail is outside `.storage/home_pki/`, so removing the CA keeps it.

Who did it is read from the context of what happened: a context with a user is
that user; the context of an automation or script run that Home PKI saw start
is that automation or script; any other context with a parent is an
automation; the rest is Home PKI itself (its own timers, devices renewing over
ACME). Events fired while an action or the renew button is handled carry the
caller's context, through acting_as. Changes to the entry are seen as they are
made, in the task that makes them: an action's context, or the signed-in
person whose request to the settings pages made the change.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import partial
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homeassistant.components.http.const import KEY_HASS_USER
from homeassistant.components.websocket_api.connection import current_connection
from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
)
from homeassistant.const import ATTR_ENTITY_ID, ATTR_NAME, CONF_NAME
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.http import current_request
from homeassistant.util import dt as dt_util

from .const import (
    ATTR_CERTIFICATE_ID,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_ERROR_CLASS,
    ATTR_SERIAL_NUMBER,
    DOMAIN,
    EVENT_CERTIFICATE_ISSUED,
    EVENT_CERTIFICATE_RENEWED,
    EVENT_CERTIFICATE_REVOKED,
    EVENT_RENEWAL_FAILED,
    LOGGER,
)
from .pki.audit import (
    HOME_PKI,
    Actor,
    ActorKind,
    AuditAction,
    AuditRecord,
    BrokenReason,
    Head,
    JsonValue,
    Outcome,
    Verification,
    changes_between,
    head_to_bytes,
    line_hash,
    make_line,
    parse_head,
    resume_point,
    split_lines,
    verify_lines,
)
from .pki.inspect import serial_to_hex
from .pki.store import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, write_private

if TYPE_CHECKING:
    from .coordinator import HomePkiCoordinator

EVENT_ACTIONS = {
    EVENT_CERTIFICATE_ISSUED: AuditAction.ISSUED,
    EVENT_CERTIFICATE_RENEWED: AuditAction.RENEWED,
    EVENT_RENEWAL_FAILED: AuditAction.RENEWAL_FAILED,
    EVENT_CERTIFICATE_REVOKED: AuditAction.REVOKED,
}
RUN_EVENTS = ("automation_triggered", "script_started")
MAX_RUNS = 1024

type Draft = partial[AuditRecord]
type Source = Context | Actor | None

_acting: ContextVar[tuple[Context | None, asyncio.Task[Any] | None] | None] = (
    ContextVar("home_pki_acting", default=None)
)


@contextmanager
def acting_as(context: Context | None) -> Iterator[None]:
    """Let the events this task fires carry the context of whoever asked for it."""
    token = _acting.set((context, asyncio.current_task()))
    try:
        yield
    finally:
        _acting.reset(token)


def acting_context() -> Context | None:
    """Return the context of the request this task is carrying out, if any.

    Tasks and timers started meanwhile inherit the variable, not the task, so
    what they do later is not put down to the caller.
    """
    acting = _acting.get()
    if acting is None or acting[1] is not asyncio.current_task():
        return None
    return acting[0]


@dataclass(frozen=True, slots=True)
class _EntryState:
    """What of a config entry the trail compares: options, data, certificates."""

    options: dict[str, Any]
    data: dict[str, Any]
    subentries: dict[str, tuple[str, str, dict[str, Any]]]

    @classmethod
    def of(cls, entry: ConfigEntry) -> _EntryState:
        """Copy what a config entry holds now."""
        return cls(
            dict(entry.options),
            dict(entry.data),
            {
                subentry_id: (sub.subentry_type, sub.title, dict(sub.data))
                for subentry_id, sub in entry.subentries.items()
            },
        )

    def changes_since(self, old: _EntryState) -> list[Draft]:
        """Return a draft line for each change from an earlier state to this one."""
        drafts: list[Draft] = []
        if self.options != old.options:
            drafts.append(
                partial(
                    AuditRecord,
                    action=AuditAction.OPTIONS_CHANGED,
                    changes=changes_between(old.options, self.options),
                )
            )
        if self.data != old.data:
            drafts.append(
                partial(
                    AuditRecord,
                    action=AuditAction.POLICY_CHANGED,
                    changes=changes_between(old.data, self.data),
                )
            )
        for subentry_id, (kind, title, data) in self.subentries.items():
            before = old.subentries.get(subentry_id)
            if before is None:
                action, changes = (
                    AuditAction.CERTIFICATE_ADDED,
                    changes_between({}, data),
                )
            elif before != (kind, title, data):
                action = AuditAction.CERTIFICATE_CHANGED
                changes = changes_between(
                    {"title": before[1], **before[2]}, {"title": title, **data}
                )
            else:
                continue
            drafts.append(
                partial(
                    AuditRecord,
                    action=action,
                    certificate_id=subentry_id,
                    name=title,
                    detail=kind,
                    changes=changes,
                )
            )
        drafts.extend(
            partial(
                AuditRecord,
                action=AuditAction.CERTIFICATE_REMOVED,
                certificate_id=subentry_id,
                name=title,
                detail=kind,
            )
            for subentry_id, (kind, title, _) in old.subentries.items()
            if subentry_id not in self.subentries
        )
        return drafts


class AuditLog:
    """Append what happens to one CA to its audit trail, one chained line each."""

    def __init__(self, coordinator: HomePkiCoordinator) -> None:
        """Prepare the trail of one coordinator's CA; nothing is read yet."""
        self._coordinator = coordinator
        self._hass: HomeAssistant = coordinator.hass
        self._entry = coordinator.config_entry
        folder = Path(self._hass.config.path(DOMAIN, "audit"))
        self.path = folder / f"{self._entry.entry_id}.jsonl"
        self.head_path = folder / f"{self._entry.entry_id}.head"
        self._lock = asyncio.Lock()
        self._head: Head | None = None
        self._torn = False
        self._runs: OrderedDict[str, Actor] = OrderedDict()
        self._seen = _EntryState.of(self._entry)

    async def async_start(self) -> None:
        """Find where the chain goes on, then follow the CA's events and changes.

        A trail that cannot be read does not keep the CA from loading; the next
        line tries again.
        """
        async with self._lock:
            try:
                await self._async_load()
            except HomeAssistantError as err:
                LOGGER.warning(
                    "Could not read the audit trail of %s: %s",
                    self._entry.title,
                    err.__cause__ or err,
                )
        bus = self._hass.bus
        unsubscribers = [
            *(bus.async_listen(kind, self._async_event) for kind in EVENT_ACTIONS),
            *(bus.async_listen(kind, self._async_run_started) for kind in RUN_EVENTS),
            async_dispatcher_connect(
                self._hass, SIGNAL_CONFIG_ENTRY_CHANGED, self._async_entry_changed
            ),
        ]
        for unsubscribe in unsubscribers:
            self._entry.async_on_unload(unsubscribe)

    async def async_record(
        self,
        action: AuditAction,
        context: Context | None,
        *,
        certificate_id: str | None = None,
        name: str | None = None,
        serial_number: str | None = None,
        outcome: Outcome = Outcome.OK,
        detail: str | None = None,
        changes: Mapping[str, JsonValue] | None = None,
    ) -> None:
        """Append one line now; raise a translated error when it cannot be written.

        Without a context, the signed-in person whose request is being handled
        is taken, or else Home PKI itself.
        """
        draft = partial(
            AuditRecord,
            action=action,
            certificate_id=certificate_id,
            name=name,
            serial_number=serial_number,
            outcome=outcome,
            detail=detail,
            changes=changes,
        )
        source = context if context is not None else _request_user()
        await self._async_write(draft, source, dt_util.utcnow())

    async def async_record_key_export(
        self, certificate_id: str, context: Context
    ) -> None:
        """Append that a certificate's private key was exported."""
        current = self._coordinator.records[certificate_id].current
        await self.async_record(
            AuditAction.KEY_EXPORTED,
            context,
            certificate_id=certificate_id,
            name=self._coordinator.settings(certificate_id).name,
            serial_number=serial_to_hex(current.serial_number) if current else None,
        )

    async def async_record_removal(self) -> None:
        """Close the trail of a removed CA with a last line; the file stays."""
        draft = partial(
            AuditRecord, action=AuditAction.CA_REMOVED, name=self._entry.title
        )
        await self._async_write_logged(draft, _request_user(), dt_util.utcnow())

    async def async_verify(self) -> Verification:
        """Check the chain and the head of the trail as they are on disk."""
        async with self._lock:
            try:
                return await self._hass.async_add_executor_job(self._verify)
            except OSError as err:
                raise _unwritable(err) from err

    @callback
    def _async_event(self, event: Event[Mapping[str, Any]]) -> None:
        """Put one of this CA's events on the trail."""
        data = event.data
        if data.get(ATTR_CONFIG_ENTRY_ID) != self._entry.entry_id:
            return
        action = EVENT_ACTIONS[str(event.event_type)]
        certificate_id = data.get(ATTR_CERTIFICATE_ID)
        serial_number = data.get(ATTR_SERIAL_NUMBER)
        outcome, detail = Outcome.OK, None
        if action is AuditAction.ISSUED and certificate_id is None:
            action = AuditAction.SIGNED_CSR
        elif action is AuditAction.RENEWAL_FAILED:
            outcome, detail = Outcome.FAILED, data.get(ATTR_ERROR_CLASS)
        elif action is AuditAction.REVOKED:
            detail = revocation_reason(self._coordinator, serial_number)
        draft = partial(
            AuditRecord,
            action=action,
            certificate_id=certificate_id,
            name=data.get(CONF_NAME),
            serial_number=serial_number,
            outcome=outcome,
            detail=detail,
        )
        self._async_schedule(draft, event.context, event.time_fired)

    @callback
    def _async_run_started(self, event: Event[Mapping[str, Any]]) -> None:
        """Remember which automation or script a context belongs to."""
        self._runs[event.context.id] = Actor(
            kind=ActorKind.AUTOMATION,
            id=event.data.get(ATTR_ENTITY_ID),
            name=event.data.get(ATTR_NAME),
        )
        while len(self._runs) > MAX_RUNS:
            self._runs.popitem(last=False)

    @callback
    def _async_entry_changed(
        self, change: ConfigEntryChange, entry: ConfigEntry
    ) -> None:
        """Put changed options and added, changed or removed certificates on the trail.

        This runs in the task that changes the entry, so the change is put
        down to whoever made it.
        """
        if (
            change is not ConfigEntryChange.UPDATED
            or entry.entry_id != self._entry.entry_id
        ):
            return
        seen, self._seen = self._seen, _EntryState.of(entry)
        drafts = self._seen.changes_since(seen)
        if not drafts:
            return
        source: Source = acting_context() or _request_user()
        now = dt_util.utcnow()
        for draft in drafts:
            self._async_schedule(draft, source, now)

    @callback
    def _async_schedule(self, draft: Draft, source: Source, time: datetime) -> None:
        """Append a line in the background, after the lines scheduled before it."""
        self._entry.async_create_task(
            self._hass,
            self._async_write_logged(draft, source, time),
            f"{DOMAIN} audit {self._entry.entry_id}",
        )

    async def _async_write_logged(
        self, draft: Draft, source: Source, time: datetime
    ) -> None:
        """Append a line, logging instead of raising when it cannot be written."""
        try:
            await self._async_write(draft, source, time)
        except HomeAssistantError as err:
            LOGGER.warning(
                "Could not add %s to the audit trail of %s: %s",
                draft.keywords["action"],
                self._entry.title,
                err.__cause__ or err,
            )

    async def _async_write(self, draft: Draft, source: Source, time: datetime) -> None:
        """Append one line and its head, one at a time in the order asked."""
        async with self._lock:
            head = self._head or await self._async_load()
            line = make_line(
                draft(who=await self._async_actor(source)),
                time=time,
                previous=head.hash,
            )
            new_head = Head(head.lines + 1, line_hash(line))
            try:
                await self._hass.async_add_executor_job(
                    self._append, line, new_head, self._torn
                )
            except OSError as err:
                # Read the trail again next time: the line may be there without its head.
                self._head = None
                raise _unwritable(err) from err
            self._head, self._torn = new_head, False

    async def _async_load(self) -> Head:
        """Read where the chain goes on, in the executor."""
        try:
            head, torn = await self._hass.async_add_executor_job(self._load)
        except OSError as err:
            raise _unwritable(err) from err
        self._head, self._torn = head, torn
        return head

    async def _async_actor(self, source: Source) -> Actor:
        """Return who a context stands for."""
        if source is None:
            return HOME_PKI
        if isinstance(source, Actor):
            return source
        if source.user_id:
            user = await self._hass.auth.async_get_user(source.user_id)
            return Actor(
                kind=ActorKind.USER,
                id=source.user_id,
                name=user.name if user else None,
            )
        if (run := self._runs.get(source.id)) is not None:
            return run
        if source.parent_id is not None:
            return Actor(kind=ActorKind.AUTOMATION)
        return HOME_PKI

    def _load(self) -> tuple[Head, bool]:
        """Return the resume point and whether the file ends in a torn line.

        When the last line made it to disk and its head did not, the head is
        written now.
        """
        content = _read(self.path) or b""
        lines = split_lines(content)
        head = self._read_head()
        resume = resume_point(lines, head)
        if head is not None and resume != head:
            write_private(self.head_path, head_to_bytes(resume))
        return resume, bool(content) and not content.endswith(b"\n")

    def _read_head(self) -> Head | None:
        """Return the stored head; None when there is none or it is unreadable."""
        data = _read(self.head_path)
        if data is None:
            return None
        try:
            return parse_head(data)
        except ValueError:
            return None

    def _append(self, line: bytes, head: Head, newline_first: bool) -> None:
        """Append a line, flushed to disk, then replace the head atomically."""
        self.path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        descriptor = os.open(
            self.path,
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
            PRIVATE_FILE_MODE,
        )
        with open(descriptor, "ab") as handle:
            handle.write((b"\n" if newline_first else b"") + line + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        write_private(self.head_path, head_to_bytes(head))

    def _verify(self) -> Verification:
        """Check the trail's lines against each other and against the head."""
        lines = split_lines(_read(self.path) or b"")
        data = _read(self.head_path)
        try:
            head = parse_head(data) if data is not None else None
        except ValueError:
            return Verification(
                intact=False, lines=len(lines), reason=BrokenReason.HEAD_UNREADABLE
            )
        return verify_lines(lines, head)


def revocation_reason(
    coordinator: HomePkiCoordinator, serial_number: str | None
) -> str | None:
    """Return why a CA revoked a serial number given in hex; None if it did not."""
    try:
        serial = int((serial_number or "").replace(":", ""), 16)
    except ValueError:
        return None
    revoked = coordinator.issued_and_revoked(serial)[1]
    return str(revoked.reason) if revoked else None


def _read(path: Path) -> bytes | None:
    """Return a file's bytes; None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _request_user() -> Actor | None:
    """Return the signed-in person whose request is being handled, if any.

    The settings pages change an entry over HTTP (flows, removal) or over the
    websocket (removing a certificate).
    """
    request = current_request.get()
    connection = current_connection.get()
    user = request.get(KEY_HASS_USER) if request is not None else None
    if user is None and connection is not None:
        user = connection.user
    if user is None:
        return None
    return Actor(kind=ActorKind.USER, id=user.id, name=user.name)


def _unwritable(err: OSError) -> HomeAssistantError:
    """Return the translated error for a trail that cannot be read or written."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="audit_log_unwritable",
        translation_placeholders={"error": str(err)},
    )
