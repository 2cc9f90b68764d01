"""Tell a person in time: phone notifications at thresholds, and family anomalies.

Each certificate is judged again whenever the coordinator publishes, which
it does when a certificate's days remaining drop, when a renewal fails and
when anything else changes; a timer is set only for the end of a snooze or
of a family anomaly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from homeassistant.components import persistent_notification
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import (
    device_registry as dr,
    issue_registry as ir,
    translation,
)
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.selector import SelectOptionDict
from homeassistant.helpers.start import async_at_started
from homeassistant.util import dt as dt_util

from .anomalies import Anomaly, FamilyTracker, family_of
from .const import (
    ATTR_CERTIFICATE_ID,
    ATTR_CONFIG_ENTRY_ID,
    CONF_NOTIFY_AUTO_RENEWING,
    CONF_NOTIFY_TARGETS,
    CONF_NOTIFY_THRESHOLDS,
    CONF_SAFETY_CRITICAL,
    DEFAULT_NOTIFY_THRESHOLDS,
    DOMAIN,
    EVENT_RENEWAL_FAILED,
    LOGGER,
    MAX_NOTIFY_THRESHOLD,
    REASON_RENEWAL_OVERDUE,
    SUBENTRY_ISSUED,
    CertificateStatus,
    Renewal,
)
from .models import CertificateView
from .storage import HomePkiStore

if TYPE_CHECKING:
    from .coordinator import HomePkiConfigEntry, HomePkiCoordinator

NOTIFY_DOMAIN = "notify"
MOBILE_APP_PREFIX = "mobile_app_"
EVENT_NOTIFICATION_ACTION = "mobile_app_notification_action"
RENEW_ACTION = "HOME_PKI_RENEW_"
SNOOZE_ACTION = "HOME_PKI_SNOOZE_"
CLEAR_NOTIFICATION = "clear_notification"
SNOOZE = timedelta(days=1)
STORAGE_VERSION = 1
FAILURE_REASONS = frozenset({"renewal_failed", "deploy_failed", REASON_RENEWAL_OVERDUE})
AUTO_RENEWALS = frozenset({Renewal.AUTOMATIC, Renewal.DEVICE_PULL})
# Reasons the title already says, or that stop warnings altogether.
UNTOLD_REASONS = frozenset({"expired", "expiring", "revoked", *FAILURE_REASONS})


def notify_target_options(
    hass: HomeAssistant, chosen: Iterable[str]
) -> list[SelectOptionDict]:
    """Return the mobile app notify actions to choose from, and those chosen."""
    names = {
        name
        for name in hass.services.async_services_for_domain(NOTIFY_DOMAIN)
        if name.startswith(MOBILE_APP_PREFIX)
    }
    names.update(chosen)
    return [
        SelectOptionDict(value=name, label=f"{NOTIFY_DOMAIN}.{name}")
        for name in sorted(names)
    ]


def parse_thresholds(values: Iterable[str | int]) -> tuple[list[int], str | None]:
    """Return the thresholds, largest first, or the first value that is not one."""
    thresholds: set[int] = set()
    for value in values:
        try:
            days = int(str(value).strip())
        except ValueError:
            return [], str(value)
        if not 0 <= days <= MAX_NOTIFY_THRESHOLD:
            return [], str(value)
        thresholds.add(days)
    return sorted(thresholds, reverse=True), None


def threshold_reached(days_remaining: int, threshold: int) -> bool:
    """Tell whether a certificate is at a threshold: 0 means it has expired."""
    if threshold == 0:
        return days_remaining < 0
    return days_remaining <= threshold


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """Where and when to warn, from the entry's options."""

    targets: tuple[str, ...]
    thresholds: tuple[int, ...]
    auto_renewing: bool

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> NotifySettings:
        """Read the notification options."""
        return cls(
            targets=tuple(options.get(CONF_NOTIFY_TARGETS, ())),
            thresholds=tuple(
                options.get(CONF_NOTIFY_THRESHOLDS, DEFAULT_NOTIFY_THRESHOLDS)
            ),
            auto_renewing=bool(options.get(CONF_NOTIFY_AUTO_RENEWING, False)),
        )


@dataclass(kw_only=True, slots=True)
class Armed:
    """The thresholds already told for one certificate, and its snooze."""

    fingerprint: str
    serial_number: str
    sent: set[int] = field(default_factory=set)
    snoozed_until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "fingerprint_sha256": self.fingerprint,
            "serial_number": self.serial_number,
            "sent": sorted(self.sent, reverse=True),
            "snoozed_until": (
                self.snoozed_until.isoformat() if self.snoozed_until else None
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Armed:
        """Build from the JSON form."""
        snoozed = data.get("snoozed_until")
        return cls(
            fingerprint=data["fingerprint_sha256"],
            serial_number=data["serial_number"],
            sent=set(data["sent"]),
            snoozed_until=datetime.fromisoformat(snoozed) if snoozed else None,
        )


@dataclass(frozen=True, slots=True)
class Message:
    """One notification: the same text goes to a phone or to Home Assistant."""

    tag: str
    title: str
    message: str
    data: dict[str, Any]
    link: tuple[str, str] | None


class NotificationStore(HomePkiStore):
    """The versioned Store of what was told, per config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Open the notification store of one config entry."""
        super().__init__(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry_id}.notifications",
            atomic_writes=True,
        )


def certificate_tag(certificate_id: str) -> str:
    """Return the tag of a certificate's notifications."""
    return f"{DOMAIN}_{certificate_id}"


def family_tag(key: str) -> str:
    """Return the tag of a family's notification."""
    return f"{DOMAIN}_family_{key}"


def family_issue_id(key: str) -> str:
    """Return the ID of a family's repair issue."""
    return f"family_failing_{key}"


class Texts:
    """The translated texts of notifications, in Home Assistant's language."""

    def __init__(self, strings: Mapping[str, str]) -> None:
        """Keep the loaded strings."""
        self._strings = strings

    @classmethod
    async def async_load(cls, hass: HomeAssistant) -> Texts:
        """Load the texts of the configured language."""
        strings = await translation.async_get_translations(
            hass, hass.config.language, "common", [DOMAIN]
        )
        return cls(strings)

    def __call__(self, key: str, **placeholders: object) -> str:
        """Return one text with its placeholders filled in."""
        template = self._strings.get(f"component.{DOMAIN}.common.{key}", key)
        try:
            return template.format(**placeholders)
        except (KeyError, IndexError, ValueError):
            return template


class Notifier:
    """Warn about the certificates of one config entry, and act on the answers."""

    def __init__(self, coordinator: HomePkiCoordinator) -> None:
        """Prepare the notifier of one coordinator."""
        self._coordinator = coordinator
        self._hass: HomeAssistant = coordinator.hass
        self._entry: HomePkiConfigEntry = coordinator.config_entry
        self._store = NotificationStore(self._hass, self._entry.entry_id)
        self._armed: dict[str, Armed] = {}
        self._families = FamilyTracker()
        self._seen: dict[str, CertificateView] = {}
        self._settings: NotifySettings | None = None
        self._started = False
        self._dirty = False
        self._unsub_timer: CALLBACK_TYPE | None = None

    async def async_start(self) -> None:
        """Load what was told before, and start listening."""
        raw = await self._store.async_load()
        if raw:
            self._armed = {
                certificate_id: Armed.from_dict(item)
                for certificate_id, item in raw["certificates"].items()
            }
            self._families.load(raw)
        entry = self._entry
        entry.async_on_unload(self._coordinator.async_add_listener(self._async_updated))
        entry.async_on_unload(
            self._hass.bus.async_listen(EVENT_RENEWAL_FAILED, self._async_failed)
        )
        entry.async_on_unload(
            self._hass.bus.async_listen(EVENT_NOTIFICATION_ACTION, self._async_action)
        )
        entry.async_on_unload(
            self._hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_stop)
        )
        entry.async_on_unload(self._cancel_timer)
        entry.async_on_unload(async_at_started(self._hass, self._async_started))

    @callback
    def _async_started(self, _hass: HomeAssistant) -> None:
        """Judge every certificate once Home Assistant and its phones are up."""
        self._started = True
        self._async_timer(dt_util.utcnow())
        for anomaly in self._families.anomalies.values():
            self._raise_issue(anomaly)

    @callback
    def _async_stop(self, _event: Event) -> None:
        """Stop the timer when Home Assistant stops."""
        self._started = False
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        """Cancel the pending timer, if any."""
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None

    @callback
    def _schedule(self) -> None:
        """Set one timer for the next snooze or anomaly to end."""
        self._cancel_timer()
        now = dt_util.utcnow()
        moments = [
            armed.snoozed_until
            for armed in self._armed.values()
            if armed.snoozed_until is not None and armed.snoozed_until > now
        ]
        if (end := self._families.next_end) is not None:
            moments.append(end)
        if moments:
            self._unsub_timer = async_track_point_in_utc_time(
                self._hass, self._async_timer, min(moments)
            )

    @callback
    def _async_timer(self, now: datetime) -> None:
        """End what is due, then judge again what it held back."""
        self._unsub_timer = None
        for certificate_id, armed in self._armed.items():
            if armed.snoozed_until is not None and armed.snoozed_until <= now:
                armed.snoozed_until = None
                self._seen.pop(certificate_id, None)
                self._dirty = True
        for anomaly in self._families.expired(now):
            self._end_anomaly(anomaly)
        self._evaluate()
        self._schedule()

    @callback
    def _async_updated(self) -> None:
        """Judge what changed in the coordinator's latest snapshot."""
        self._evaluate()

    def _failing(self, certificate_id: str) -> bool:
        """Tell whether an issued certificate's last renewal attempt failed."""
        record = self._coordinator.records.get(certificate_id)
        return record is not None and record.failures > 0

    @callback
    def _evaluate(self) -> None:
        """Send what is due and clear what no longer applies."""
        if not self._started:
            return
        settings = NotifySettings.from_options(self._entry.options)
        if settings != self._settings:
            self._settings = settings
            self._seen.clear()
        for anomaly in self._families.resolved(self._failing):
            self._end_anomaly(anomaly)
        for certificate_id in [
            key for key in self._armed if key not in self._entry.subentries
        ]:
            del self._armed[certificate_id]
            self._seen.pop(certificate_id, None)
            self._clear(certificate_tag(certificate_id))
            self._dirty = True
        now = dt_util.utcnow()
        due: list[CertificateView] = []
        for certificate_id, view in self._coordinator.data.certificates.items():
            if self._seen.get(certificate_id) is view:
                continue
            self._seen[certificate_id] = view
            if self._judge(view, settings, now):
                due.append(view)
        if due:
            self._entry.async_create_task(
                self._hass, self._async_send_certificates(due), "home_pki notify"
            )
        if self._dirty:
            self._save()

    def _judge(
        self, view: CertificateView, settings: NotifySettings, now: datetime
    ) -> bool:
        """Decide on one certificate; return whether a warning is due now."""
        info = view.info
        if (
            info is None
            or view.days_remaining is None
            or view.status is CertificateStatus.REVOKED
        ):
            return False
        certificate_id = view.certificate_id
        armed = self._armed.get(certificate_id)
        if armed is not None and armed.fingerprint != info.fingerprint_sha256:
            # Another certificate: every threshold applies to it afresh.
            if armed.sent:
                self._clear(certificate_tag(certificate_id))
            del self._armed[certificate_id]
            armed = None
            self._dirty = True
        if self._failure_driven(view, settings):
            if not FAILURE_REASONS.intersection(view.reasons):
                if armed is not None and armed.sent:
                    armed.sent.clear()
                    self._clear(certificate_tag(certificate_id))
                    self._dirty = True
                return False
            if self._families.anomaly_of(certificate_id) is not None:
                return False
        snoozed_until = armed.snoozed_until if armed is not None else None
        if snoozed_until is not None and now < snoozed_until:
            return False
        reached = {
            threshold
            for threshold in settings.thresholds
            if threshold_reached(view.days_remaining, threshold)
        }
        if armed is None:
            if not reached:
                return False
            armed = self._armed[certificate_id] = Armed(
                fingerprint=info.fingerprint_sha256, serial_number=info.serial_hex
            )
        elif reached <= armed.sent:
            return False
        armed.sent |= reached
        self._dirty = True
        return True

    @staticmethod
    def _failure_driven(view: CertificateView, settings: NotifySettings) -> bool:
        """Tell whether a certificate warns only once its renewal has failed."""
        return (
            not settings.auto_renewing
            and view.kind == SUBENTRY_ISSUED
            and view.renewal in AUTO_RENEWALS
        )

    @callback
    def _save(self) -> None:
        """Write what was told now, so a restart never tells it again."""
        self._dirty = False
        data = {
            "certificates": {
                certificate_id: armed.as_dict()
                for certificate_id, armed in self._armed.items()
            },
            **self._families.as_dict(),
        }
        self._entry.async_create_task(
            self._hass, self._store.async_save(data), "home_pki notify save"
        )

    async def _async_send_certificates(self, views: list[CertificateView]) -> None:
        """Send the warnings of the certificates that reached a threshold."""
        texts = await Texts.async_load(self._hass)
        for view in views:
            if view.info is not None and view.days_remaining is not None:
                await self._async_send(
                    self._certificate_message(
                        view, view.info.not_after, view.days_remaining, texts
                    )
                )

    def _device_path(self, certificate_id: str) -> str | None:
        """Return the frontend path of a certificate's device page."""
        device = dr.async_get(self._hass).async_get_device(
            identifiers={(DOMAIN, certificate_id)}
        )
        return f"/config/devices/device/{device.id}" if device else None

    def _certificate_message(
        self, view: CertificateView, not_after: datetime, days: int, texts: Texts
    ) -> Message:
        """Return the warning of one certificate: title, what is wrong, its end."""
        name = view.name
        if days < 0:
            title = texts("notify_title_expired", name=name)
        elif days == 0:
            title = texts("notify_title_today", name=name)
        elif days == 1:
            title = texts("notify_title_one_day", name=name)
        else:
            title = texts("notify_title_days", name=name, days=days)
        return self._message(
            view.certificate_id,
            title,
            " ".join(
                (*self._problems(view, texts), self._ends(not_after, days, texts))
            ),
            texts,
        )

    def _message(
        self, certificate_id: str, title: str, message: str, texts: Texts
    ) -> Message:
        """Return a certificate's notification with its actions and priority."""
        path = self._device_path(certificate_id)
        actions: list[dict[str, str]] = []
        if certificate_id in self._coordinator.records:
            actions.append(
                {
                    "action": f"{RENEW_ACTION}{certificate_id}",
                    "title": texts("notify_action_renew"),
                }
            )
        actions.append(
            {
                "action": f"{SNOOZE_ACTION}{certificate_id}",
                "title": texts("notify_action_snooze"),
            }
        )
        tag = certificate_tag(certificate_id)
        data: dict[str, Any] = {"tag": tag, "actions": actions}
        if path is not None:
            open_device = texts("notify_action_open")
            actions.append({"action": "URI", "title": open_device, "uri": path})
            data["url"] = data["clickAction"] = path
        subentry = self._entry.subentries.get(certificate_id)
        if subentry is not None and subentry.data.get(CONF_SAFETY_CRITICAL):
            _urgent(data)
        return Message(
            tag=tag,
            title=title,
            message=message,
            data=data,
            link=(texts("notify_action_open"), path) if path else None,
        )

    def _problems(self, view: CertificateView, texts: Texts) -> list[str]:
        """Return what is wrong with a certificate, in words."""
        record = self._coordinator.records.get(view.certificate_id)
        problems: list[str] = []
        for reason in ("renewal_failed", "deploy_failed"):
            if reason in view.reasons and record is not None:
                key = f"notify_{reason}" + ("_once" if record.failures == 1 else "")
                problems.append(
                    texts(key, count=record.failures, error=record.last_error or "")
                )
        if REASON_RENEWAL_OVERDUE in view.reasons:
            problems.append(texts("notify_renewal_overdue"))
        if view.status is CertificateStatus.UNREACHABLE:
            problems.append(texts("notify_unreachable", error=view.error or ""))
        problems.extend(
            texts(f"notify_reason_{reason}")
            for reason in view.reasons
            if reason not in UNTOLD_REASONS
        )
        if view.kind != SUBENTRY_ISSUED:
            problems.append(texts("notify_watched"))
        elif view.renewal is Renewal.MANUAL:
            problems.append(texts("notify_manual"))
        elif not problems:
            problems.append(
                texts(
                    "notify_device_renews"
                    if view.renewal is Renewal.DEVICE_PULL
                    else "notify_home_pki_renews"
                )
            )
        return problems

    @staticmethod
    def _ends(not_after: datetime, days: int, texts: Texts) -> str:
        """Return when a certificate ends, in local time."""
        date = dt_util.as_local(not_after).strftime("%Y-%m-%d %H:%M")
        return texts(
            "notify_expired_on" if days < 0 else "notify_valid_until", date=date
        )

    def _targets(self) -> list[str]:
        """Return the chosen notify actions that exist now."""
        settings = self._settings or NotifySettings.from_options(self._entry.options)
        return [
            target
            for target in settings.targets
            if self._hass.services.has_service(NOTIFY_DOMAIN, target)
        ]

    async def _async_send(self, message: Message) -> None:
        """Send to every chosen phone, or as a notification in Home Assistant."""
        targets = self._targets()
        if not targets:
            text = message.message
            if message.link is not None:
                text += f"\n\n[{message.link[0]}]({message.link[1]})"
            persistent_notification.async_create(
                self._hass, text, message.title, notification_id=message.tag
            )
            return
        payload = {
            "title": message.title,
            "message": message.message,
            "data": message.data,
        }
        await self._async_call(targets, payload)

    async def _async_call(self, targets: list[str], payload: dict[str, Any]) -> None:
        """Call each notify action without waiting for it to be delivered."""
        for target in targets:
            try:
                await self._hass.services.async_call(
                    NOTIFY_DOMAIN, target, payload, blocking=False
                )
            except (HomeAssistantError, vol.Invalid) as err:
                LOGGER.warning("Could not notify %s: %s", target, err)

    @callback
    def _clear(self, tag: str) -> None:
        """Take an earlier notification away, on the phones and in Home Assistant."""
        persistent_notification.async_dismiss(self._hass, tag)
        if targets := self._targets():
            self._entry.async_create_task(
                self._hass,
                self._async_call(
                    targets, {"message": CLEAR_NOTIFICATION, "data": {"tag": tag}}
                ),
                "home_pki notify clear",
            )

    @callback
    def _async_action(self, event: Event) -> None:
        """Do what a tapped notification action says, if it is one of ours."""
        action = event.data.get("action")
        if not isinstance(action, str):
            return
        if action.startswith(RENEW_ACTION):
            certificate_id = action.removeprefix(RENEW_ACTION)
            if certificate_id in self._coordinator.records:
                self._entry.async_create_task(
                    self._hass, self._async_renew(certificate_id), "home_pki renew"
                )
        elif action.startswith(SNOOZE_ACTION):
            self._snooze(action.removeprefix(SNOOZE_ACTION))

    async def _async_renew(self, certificate_id: str) -> None:
        """Renew a certificate from its notification; say so when that fails."""
        subentry = self._entry.subentries.get(certificate_id)
        name = subentry.title if subentry else certificate_id
        LOGGER.info("Renewing %s from its notification", name)
        try:
            await self._coordinator.async_renew(certificate_id, rekey=None)
        except HomeAssistantError as err:
            texts = await Texts.async_load(self._hass)
            await self._async_send(
                self._message(
                    certificate_id,
                    texts("notify_renew_failed_title", name=name),
                    texts("notify_renew_failed_message", error=str(err)),
                    texts,
                )
            )

    @callback
    def _snooze(self, certificate_id: str) -> None:
        """Hold a certificate's warnings back for a day."""
        view = self._coordinator.data.certificates.get(certificate_id)
        if view is None or view.info is None:
            return
        armed = self._armed.get(certificate_id)
        if armed is None or armed.fingerprint != view.info.fingerprint_sha256:
            armed = self._armed[certificate_id] = Armed(
                fingerprint=view.info.fingerprint_sha256,
                serial_number=view.info.serial_hex,
            )
        armed.snoozed_until = dt_util.utcnow() + SNOOZE
        LOGGER.debug("Snoozed %s until %s", view.name, armed.snoozed_until)
        self._save()
        self._schedule()

    @callback
    def _async_failed(self, event: Event) -> None:
        """Count a failed renewal towards its device family."""
        if event.data.get(ATTR_CONFIG_ENTRY_ID) != self._entry.entry_id:
            return
        certificate_id = event.data.get(ATTR_CERTIFICATE_ID)
        subentry = self._entry.subentries.get(certificate_id or "")
        if subentry is None or (family := family_of(subentry.data)) is None:
            return
        anomaly, new = self._families.add(
            subentry.subentry_id, family, dt_util.utcnow()
        )
        self._save()
        if anomaly is None:
            return
        self._raise_issue(anomaly)
        self._schedule()
        if not new:
            return
        LOGGER.warning(
            "Renewals of %s %s are failing on %s devices",
            family.manufacturer,
            family.model,
            len(anomaly.members),
        )
        settings = self._settings or NotifySettings.from_options(self._entry.options)
        for member in anomaly.members:
            armed = self._armed.get(member)
            view = self._coordinator.data.certificates.get(member)
            if (
                armed is not None
                and armed.sent
                and view is not None
                and self._failure_driven(view, settings)
            ):
                armed.sent.clear()
                self._clear(certificate_tag(member))
            self._seen.pop(member, None)
        self._entry.async_create_task(
            self._hass, self._async_send_family(anomaly), "home_pki notify family"
        )

    def _member_names(self, anomaly: Anomaly) -> str:
        """Return the names of a family's failing devices."""
        return ", ".join(
            sorted(
                subentry.title
                for member in anomaly.members
                if (subentry := self._entry.subentries.get(member)) is not None
            )
        )

    def _raise_issue(self, anomaly: Anomaly) -> None:
        """Raise or update the repair issue of a failing family."""
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            family_issue_id(anomaly.family.key),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="family_failing",
            translation_placeholders={
                "manufacturer": anomaly.family.manufacturer,
                "model": anomaly.family.model,
                "devices": self._member_names(anomaly),
                "failures": str(anomaly.failures),
            },
            data={"entry_id": self._entry.entry_id},
        )

    @callback
    def _end_anomaly(self, anomaly: Anomaly) -> None:
        """Remove a family's issue and notification; let its members warn again."""
        LOGGER.info(
            "Renewals of %s %s are no longer failing together",
            anomaly.family.manufacturer,
            anomaly.family.model,
        )
        ir.async_delete_issue(self._hass, DOMAIN, family_issue_id(anomaly.family.key))
        self._clear(family_tag(anomaly.family.key))
        self._dirty = True
        for member in anomaly.members:
            self._seen.pop(member, None)

    async def _async_send_family(self, anomaly: Anomaly) -> None:
        """Send one notification that names the failing family."""
        texts = await Texts.async_load(self._hass)
        family = anomaly.family
        path = "/config/repairs"
        tag = family_tag(family.key)
        data: dict[str, Any] = {
            "tag": tag,
            "url": path,
            "clickAction": path,
            "actions": [
                {"action": "URI", "title": texts("notify_action_repairs"), "uri": path}
            ],
        }
        if any(
            (subentry := self._entry.subentries.get(member)) is not None
            and subentry.data.get(CONF_SAFETY_CRITICAL)
            for member in anomaly.members
        ):
            _urgent(data)
        await self._async_send(
            Message(
                tag=tag,
                title=texts(
                    "notify_family_title",
                    manufacturer=family.manufacturer,
                    model=family.model,
                    count=len(anomaly.members),
                ),
                message=texts(
                    "notify_family_message",
                    failures=anomaly.failures,
                    devices=self._member_names(anomaly),
                ),
                data=data,
                link=(texts("notify_action_repairs"), path),
            )
        )


def _urgent(data: dict[str, Any]) -> None:
    """Make a notification break through: high priority and time-sensitive."""
    data["priority"] = "high"
    data["ttl"] = 0
    data["push"] = {"interruption-level": "time-sensitive"}


async def async_start_notifier(coordinator: HomePkiCoordinator) -> None:
    """Start warning about the certificates of a loaded entry."""
    await Notifier(coordinator).async_start()


async def async_remove_notifications(hass: HomeAssistant, entry_id: str) -> None:
    """Forget what was told for a removed entry, and its family issues."""
    store = NotificationStore(hass, entry_id)
    raw = await store.async_load()
    families = FamilyTracker()
    if raw:
        families.load(raw)
    for key in families.anomalies:
        ir.async_delete_issue(hass, DOMAIN, family_issue_id(key))
    await store.async_remove()
