"""Benchmark issuance and fleet refreshes of Home PKI against baselines of the same run.

Part one issues certificates end to end through a real Home Assistant (policy check,
key generation, signing, the key file written 0600 with fsync, the Store written to
disk, states written) and compares the rate with plain `cryptography` signing an
equivalent leaf. Part two sets up a fleet of issued certificates with their entities
and times one coordinator refresh on the event loop, unchanged and with every
certificate's days remaining changed, against writing the same states directly.

Run from the repository root: `.venv/bin/python bench/issuance.py [--count N]
[--fleet N] [--rounds N] [--build seed|issue] [--dir PATH]`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address
import logging
import os
from pathlib import Path
import random
import sys
import tempfile
import time
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
)

from homeassistant import loader, runner
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util, ulid as ulid_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.home_pki.const import DOMAIN, SUBENTRY_ISSUED
from custom_components.home_pki.coordinator import HomePkiCoordinator
from custom_components.home_pki.pki.authority import (
    Authority,
    IssueRequest,
    new_serial_number,
)
from custom_components.home_pki.pki.inspect import (
    certificate_to_pem,
    load_certificates,
    serial_to_hex,
)
from custom_components.home_pki.pki.keys import (
    PrivateKeySigner,
    load_private_key,
    private_key_to_pem,
)
from custom_components.home_pki.pki.store import write_private
from custom_components.home_pki.storage import (
    CertificateRecord,
    Generation,
    PkiData,
    PkiStore,
)

CA_DATA = {
    "name": "Bench",
    "key_algorithm": "ec_p256",
    "root_validity_days": 3650,
    "intermediate_validity_days": 1095,
    "permitted_dns_domains": ["home.arpa"],
    "permitted_ip_ranges": ["192.168.0.0/16"],
}
ENTITIES_PER_CERTIFICATE = 5  # expires, days_remaining, status, problem, renew
LEAF_VALIDITY_DAYS = 90
# Fleet lifetimes spread over the policy's range, so days remaining differ; all are
# issued at one moment, so no certificate is due or expiring during the benchmark.
FLEET_VALIDITY_DAYS = range(30, 399)
KEY_FILE_MODE = 0o600
KEY_DIR_MODE = 0o700
SOURCE_IP = "192.168.1.10"
# As long as the URLs Home PKI puts in its leaves: address, port, entry ID.
RAW_BASE_URL = f"http://{SOURCE_IP}:8123/api/home_pki/01JBENCHBENCHBENCHBENCHBENC"
LABEL_WIDTH = 36


@dataclass(frozen=True, slots=True)
class Device:
    """One device of the benchmark home and the names its certificate carries."""

    index: int

    @property
    def name(self) -> str:
        """Return the device's name, the title of its subentry."""
        return f"device {self.index}"

    @property
    def dns_name(self) -> str:
        """Return the device's host name."""
        return f"device-{self.index}.home.arpa"

    @property
    def ip(self) -> str:
        """Return the device's address in 192.168.0.0/16."""
        return f"192.168.{self.index // 250}.{self.index % 250 + 1}"

    @property
    def validity_days(self) -> int:
        """Return the lifetime of the device's certificate in a fleet."""
        return FLEET_VALIDITY_DAYS[self.index % len(FLEET_VALIDITY_DAYS)]

    def subentry_data(self, validity_days: int) -> dict[str, Any]:
        """Return the subentry data the issued-certificate flow would store."""
        return {
            "dns_names": [self.dns_name],
            "ip_addresses": [self.ip],
            "key_algorithm": "ec_p256",
            "validity_days": validity_days,
            "renewal": "automatic",
            "internet_exposed": False,
            "fixed_key": False,
            "safety_critical": False,
        }


class ShiftedClock:
    """Home Assistant's `utcnow`, moved forward by a settable offset."""

    def __init__(self) -> None:
        """Start with no offset, on the real clock."""
        self.offset = timedelta()
        self._real = dt_util.utcnow

    def utcnow(self) -> datetime:
        """Return the real time plus the offset."""
        return self._real() + self.offset

    @contextmanager
    def installed(self) -> Iterator[ShiftedClock]:
        """Make Home Assistant's `dt_util.utcnow` follow this clock."""
        with patch.object(dt_util, "utcnow", self.utcnow):
            yield self


def line(kind: str, label: str, value: str, extra: str = "") -> None:
    """Print one aligned result line."""
    print(f"{kind:<9} {label:<{LABEL_WIDTH}} {value:>14}   {extra}".rstrip())


def rate(count: int, seconds: float) -> float:
    """Return items per second."""
    return count / seconds if seconds > 0 else float("inf")


# --- Raw cryptography baseline ------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawIssuer:
    """A bare EC P-256 issuing key and the names a leaf needs from it."""

    key: ec.EllipticCurvePrivateKey
    name: x509.Name
    key_identifier: x509.AuthorityKeyIdentifier

    @classmethod
    def create(cls) -> RawIssuer:
        """Generate the issuing key."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Raw Intermediate")])
        return cls(
            key=key,
            name=name,
            key_identifier=x509.AuthorityKeyIdentifier.from_issuer_public_key(
                key.public_key()
            ),
        )

    def issue(
        self, device: Device, now: datetime
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """Generate a leaf key and sign a leaf like the one Home PKI issues."""
        key = ec.generate_private_key(ec.SECP256R1())
        public_key = key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device.dns_name)])
            )
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=LEAF_VALIDITY_DAYS))
            .add_extension(
                x509.BasicConstraints(ca=False, path_length=None), critical=True
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName(device.dns_name),
                        x509.IPAddress(ip_address(device.ip)),
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
            )
            .add_extension(self.key_identifier, critical=False)
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[
                                x509.UniformResourceIdentifier(f"{RAW_BASE_URL}/crl")
                            ],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(
                                f"{RAW_BASE_URL}/intermediate.crt"
                            ),
                        )
                    ]
                ),
                critical=False,
            )
        )
        return key, builder.sign(self.key, hashes.SHA256())


def raw_round(issuer: RawIssuer, count: int) -> float:
    """Return the seconds plain cryptography takes to make and sign `count` leaves."""
    now = datetime.now(tz=dt_util.UTC)
    start = time.perf_counter()
    for index in range(count):
        issuer.issue(Device(index), now)
    return time.perf_counter() - start


def raw_with_key_file_round(issuer: RawIssuer, count: int, folder: Path) -> float:
    """Return the seconds to sign `count` leaves and write each key durably, 0600."""
    now = datetime.now(tz=dt_util.UTC)
    start = time.perf_counter()
    for index in range(count):
        key, _ = issuer.issue(Device(index), now)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(folder / f"{index}.key", pem)
    return time.perf_counter() - start


# --- A real Home Assistant ------------------------------------------------------


@asynccontextmanager
async def home_assistant(config_dir: Path) -> AsyncIterator[HomeAssistant]:
    """Run a test Home Assistant on a config folder, with Home PKI discoverable."""
    with patch(
        "homeassistant.components.network.util.async_get_source_ip",
        return_value=SOURCE_IP,
    ):
        async with async_test_home_assistant(config_dir=str(config_dir)) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            hass.config.allowlist_external_dirs = {str(config_dir)}
            try:
                yield hass
            finally:
                await hass.async_stop(force=True)


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> HomePkiCoordinator:
    """Set up a Home PKI entry and return its coordinator."""
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise RuntimeError(f"setup failed: {entry.state} {entry.reason}")
    await hass.async_block_till_done()
    if entry.state is not ConfigEntryState.LOADED:
        raise RuntimeError(f"entry not loaded: {entry.state} {entry.reason}")
    return entry.runtime_data


def ca_entry(**kwargs: Any) -> MockConfigEntry:
    """Return a Home PKI config entry for the benchmark CA."""
    return MockConfigEntry(
        domain=DOMAIN, title="Bench", data=dict(CA_DATA), unique_id="bench", **kwargs
    )


async def add_device(
    hass: HomeAssistant, entry: MockConfigEntry, device: Device
) -> None:
    """Add an issued certificate through the subentry flow, as a homeowner would."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ISSUED), context={"source": "user"}
    )
    user_input = {
        "name": device.name,
        **device.subentry_data(LEAF_VALIDITY_DAYS),
    }
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], user_input
    )
    if result["type"] is not FlowResultType.CREATE_ENTRY:
        raise RuntimeError(f"subentry flow did not create an entry: {result}")
    await hass.async_block_till_done()


async def home_pki_round(count: int, base: Path | None) -> tuple[float, float]:
    """Return the seconds to add `count` certificates, then to renew each once."""
    with tempfile.TemporaryDirectory(dir=base) as folder:
        async with home_assistant(Path(folder)) as hass:
            entry = ca_entry()
            coordinator = await set_up(hass, entry)

            start = time.perf_counter()
            for index in range(count):
                await add_device(hass, entry, Device(index))
            added = time.perf_counter() - start
            if len(coordinator.records) != count:
                raise RuntimeError("not every added device got a certificate")

            start = time.perf_counter()
            for certificate_id in list(coordinator.records):
                await coordinator.async_renew(certificate_id, rekey=True)
            await hass.async_block_till_done()
            renewed = time.perf_counter() - start
            if any(len(r.generations) != 2 for r in coordinator.records.values()):
                raise RuntimeError("not every certificate was renewed")
            return added, renewed


async def bench_issuance(count: int, rounds: int, base: Path | None) -> float:
    """Print issuance rates; return the seconds of one renewal in a small home."""
    issuer = RawIssuer.create()
    raw: list[float] = []
    raw_key: list[float] = []
    added: list[float] = []
    renewed: list[float] = []
    for _ in range(rounds):
        raw.append(raw_round(issuer, count))
        with tempfile.TemporaryDirectory(dir=base) as folder:
            raw_key.append(raw_with_key_file_round(issuer, count, Path(folder)))
        add_seconds, renew_seconds = await home_pki_round(count, base)
        added.append(add_seconds)
        renewed.append(renew_seconds)

    raw_rate = rate(count, min(raw))
    key_rate = rate(count, min(raw_key))
    renew_rate = rate(count, min(renewed))
    add_rate = rate(count, min(added))
    where = base or Path(tempfile.gettempdir())
    print(f"# {count} certificates, best of {rounds} rounds, files under {where}")
    line("issuance", "raw cryptography", f"{raw_rate:.1f} certs/s")
    line(
        "issuance",
        "raw + key file (0600, fsync)",
        f"{key_rate:.1f} certs/s",
        f"ratio {key_rate / raw_rate:.3f}",
    )
    line(
        "issuance",
        "home_pki renew (e2e)",
        f"{renew_rate:.1f} certs/s",
        f"ratio {renew_rate / raw_rate:.3f}",
    )
    line(
        "issuance",
        "home_pki new device (e2e, flow)",
        f"{add_rate:.1f} certs/s",
        f"ratio {add_rate / raw_rate:.3f}",
    )
    return min(renewed) / count


# --- A fleet of issued certificates ---------------------------------------------


def fleet_plan(size: int) -> list[tuple[str, Device]]:
    """Return a certificate ID (the subentry ID) for each device of the fleet."""
    return [(ulid_util.ulid_now(), Device(index)) for index in range(size)]


def fleet_subentries(plan: list[tuple[str, Device]]) -> list[dict[str, Any]]:
    """Return the subentries of the fleet, as MockConfigEntry takes them."""
    return [
        {
            "subentry_id": certificate_id,
            "subentry_type": SUBENTRY_ISSUED,
            "title": device.name,
            "unique_id": device.name,
            "data": device.subentry_data(device.validity_days),
        }
        for certificate_id, device in plan
    ]


def write_key(path: Path, pem: bytes) -> None:
    """Write a key file owner-only, without fsync: seeding is not what is timed."""
    path.parent.mkdir(mode=KEY_DIR_MODE, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_FILE_MODE)
    with open(descriptor, "wb") as handle:
        handle.write(pem)


def issue_fleet(
    authority: Authority,
    data: PkiData,
    key_dir: Path,
    plan: list[tuple[str, Device]],
    now: datetime,
) -> None:
    """Issue one certificate per device with the CA's own key and record it."""
    for certificate_id, device in plan:
        key = ec.generate_private_key(ec.SECP256R1())
        serial = new_serial_number(data.serials)
        data.serials.add(serial)
        certificate = authority.issue(
            IssueRequest(
                common_name=device.dns_name,
                dns_names=(device.dns_name,),
                ip_addresses=(ip_address(device.ip),),
                public_key=key.public_key(),
                validity_days=device.validity_days,
                serial_number=serial,
            ),
            now,
        )
        key_file = f"{serial_to_hex(serial)}.key"
        # The coordinator keeps each certificate's keys in certificates/<id>/.
        write_key(
            key_dir / "certificates" / certificate_id / key_file,
            private_key_to_pem(key),
        )
        data.certificates[certificate_id] = CertificateRecord(
            certificate_id=certificate_id,
            jitter=random.random(),
            generations=[
                Generation(
                    serial_number=serial,
                    certificate_pem=certificate_to_pem(certificate),
                    issued_at=now,
                    not_after=certificate.not_valid_after_utc,
                    key_file=key_file,
                )
            ],
            last_renewal=now,
        )


async def seed_fleet(
    config_dir: Path, entry_id: str, plan: list[tuple[str, Device]]
) -> None:
    """Create the CA through Home PKI, then issue the fleet and save it in one go."""
    async with home_assistant(config_dir) as hass:
        entry = ca_entry(entry_id=entry_id)
        coordinator = await set_up(hass, entry)
        key_dir = coordinator.key_dir
        base_url = coordinator.public_url
        policy = coordinator.policy
        if not await hass.config_entries.async_unload(entry.entry_id):
            raise RuntimeError("could not unload the CA entry")

        store = PkiStore(hass, entry_id)
        data = await store.async_load_data()
        if data is None:
            raise RuntimeError("the CA entry saved no store")
        signing_key = await hass.async_add_executor_job(
            (key_dir / "intermediate.key").read_bytes
        )
        authority = Authority(
            root=load_certificates(data.root_pem.encode())[0],
            intermediate=load_certificates(data.intermediate_pem.encode())[0],
            signing_key=PrivateKeySigner(load_private_key(signing_key)),
            policy=policy,
            crl_url=f"{base_url}/crl",
            ca_issuers_url=f"{base_url}/intermediate.crt",
        )
        await hass.async_add_executor_job(
            issue_fleet, authority, data, key_dir, plan, dt_util.utcnow()
        )
        await store.async_save_data(data)


@dataclass(slots=True)
class Fleet:
    """A Home Assistant with a Home PKI entry and its fleet set up."""

    hass: HomeAssistant
    entry: MockConfigEntry
    coordinator: HomePkiCoordinator
    build_seconds: float
    setup_seconds: float


@asynccontextmanager
async def fleet_home(size: int, build: str, base: Path | None) -> AsyncIterator[Fleet]:
    """Yield a set-up fleet of `size` issued certificates and their entities."""
    with tempfile.TemporaryDirectory(dir=base) as folder:
        config_dir = Path(folder)
        entry_id = ulid_util.ulid_now()
        plan = fleet_plan(size)
        build_seconds = 0.0
        if build == "seed":
            start = time.perf_counter()
            await seed_fleet(config_dir, entry_id, plan)
            build_seconds = time.perf_counter() - start
        async with home_assistant(config_dir) as hass:
            entry = ca_entry(entry_id=entry_id, subentries_data=fleet_subentries(plan))
            start = time.perf_counter()
            coordinator = await set_up(hass, entry)
            setup_seconds = time.perf_counter() - start
            if len(coordinator.records) != size:
                raise RuntimeError("the fleet is not complete after setup")
            yield Fleet(hass, entry, coordinator, build_seconds, setup_seconds)


def fleet_states(hass: HomeAssistant, entry_id: str) -> list[tuple[str, str, Any]]:
    """Return the entity ID, state and attributes of every entity of an entry."""
    registry = er.async_get(hass)
    rows = []
    for registry_entry in er.async_entries_for_config_entry(registry, entry_id):
        state = hass.states.get(registry_entry.entity_id)
        if state is not None:
            rows.append((state.entity_id, state.state, state.attributes))
    return rows


def written_since(hass: HomeAssistant, moment: float) -> int:
    """Count the states written (changed or reported unchanged) since a moment."""
    return sum(
        state.last_reported_timestamp >= moment for state in hass.states.async_all()
    )


async def timed_refresh(fleet: Fleet) -> tuple[float, int]:
    """Return the loop seconds of one coordinator refresh and the states it wrote."""
    await fleet.hass.async_block_till_done()
    mark = time.time()
    start = time.perf_counter()
    await fleet.coordinator.async_refresh()
    seconds = time.perf_counter() - start
    await fleet.hass.async_block_till_done()
    return seconds, written_since(fleet.hass, mark)


def naive_rows(
    rows: list[tuple[str, str, Any]], shift: int
) -> list[tuple[str, str, Any]]:
    """Return the same states under other IDs, days remaining lowered by `shift`."""
    naive = []
    for entity_id, state, attributes in rows:
        domain, object_id = entity_id.split(".", 1)
        value = state
        if object_id.endswith("_days_remaining") and state.lstrip("-").isdigit():
            value = str(int(state) - shift)
        naive.append((f"{domain}.naive_{object_id}", value, attributes))
    return naive


def write_directly(hass: HomeAssistant, rows: list[tuple[str, str, Any]]) -> float:
    """Return the seconds to write every row with `hass.states.async_set`."""
    start = time.perf_counter()
    for entity_id, state, attributes in rows:
        hass.states.async_set(entity_id, state, attributes)
    return time.perf_counter() - start


async def timed_renewal(fleet: Fleet, certificate_id: str) -> tuple[float, float]:
    """Return the wall and loop-thread CPU seconds of one renewal in the fleet."""
    await fleet.hass.async_block_till_done()
    wall = time.perf_counter()
    cpu = time.thread_time()
    await fleet.coordinator.async_renew(certificate_id, rekey=True)
    cpu = time.thread_time() - cpu
    wall = time.perf_counter() - wall
    await fleet.hass.async_block_till_done()
    return wall, cpu


async def bench_fleet(
    size: int,
    rounds: int,
    build: str,
    base: Path | None,
    small_renewal: float | None,
) -> None:
    """Print the loop time of fleet refreshes against writing the states directly."""
    clock = ShiftedClock()
    with clock.installed():
        async with fleet_home(size, build, base) as fleet:
            hass = fleet.hass
            entities = sum(
                1
                for _ in er.async_entries_for_config_entry(
                    er.async_get(hass), fleet.entry.entry_id
                )
            )
            how = "seeded" if build == "seed" else "issued by setup"
            if build == "seed":
                line(
                    "fleet",
                    f"{size} certs {how}",
                    f"{fleet.build_seconds:.1f} s",
                    "(CA by Home PKI, leaves signed and stored in one save)",
                )
            line(
                "fleet",
                f"{size} certs setup",
                f"{fleet.setup_seconds:.1f} s",
                f"({how}; {entities} entities)",
            )

            first, first_writes = await timed_refresh(fleet)
            line(
                "refresh",
                f"{size} certs, first after setup",
                f"{first * 1000:.1f} ms",
                f"loop time, {first_writes} states written",
            )

            rows = fleet_states(hass, fleet.entry.entry_id)
            write_directly(hass, naive_rows(rows, 0))
            unchanged: list[tuple[float, int]] = []
            changed: list[tuple[float, int]] = []
            naive: list[float] = []
            for shift in range(1, rounds + 1):
                unchanged.append(await timed_refresh(fleet))
                clock.offset = timedelta(days=shift)
                changed.append(await timed_refresh(fleet))
                naive.append(write_directly(hass, naive_rows(rows, shift)))
                await hass.async_block_till_done()

            quiet, quiet_writes = min(unchanged)
            busy, busy_writes = min(changed)
            direct = min(naive)
            line(
                "refresh",
                f"{size} certs, unchanged",
                f"{quiet * 1000:.1f} ms",
                f"loop time, {quiet_writes} states written, ratio {quiet / direct:.3f}",
            )
            line(
                "refresh",
                f"{size} certs, all changed",
                f"{busy * 1000:.1f} ms",
                f"loop time, {busy_writes} states written, ratio {busy / direct:.3f}",
            )
            line(
                "baseline",
                f"{len(rows)} async_set",
                f"{direct * 1000:.1f} ms",
                "the same states written directly (ratios above are against this)",
            )

            renewals = [
                await timed_renewal(fleet, certificate_id)
                for certificate_id in random.sample(
                    list(fleet.coordinator.records), min(rounds, size)
                )
            ]
            wall, cpu = min(renewals)
            extra = f"loop CPU {cpu * 1000:.1f} ms"
            if small_renewal:
                extra += f", ratio {wall / small_renewal:.1f} to one in the small home"
            line(
                "renew",
                f"1 cert in a {size}-cert fleet",
                f"{wall * 1000:.1f} ms",
                extra,
            )


async def main(args: argparse.Namespace) -> None:
    """Run the benchmarks the arguments ask for."""
    small_renewal = None
    if args.count > 0:
        small_renewal = await bench_issuance(args.count, args.rounds, args.dir)
    if args.fleet > 0:
        await bench_fleet(args.fleet, args.rounds, args.build, args.dir, small_renewal)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count",
        type=int,
        default=200,
        help="certificates per issuance round (0 skips)",
    )
    parser.add_argument(
        "--fleet", type=int, default=10000, help="certificates in the fleet (0 skips)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best counts")
    parser.add_argument(
        "--build",
        choices=("seed", "issue"),
        default="seed",
        help="seed the fleet's store in one save, or let setup issue every certificate",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="folder for the config folders (disk)"
    )
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> None:
    """Run the benchmark on Home Assistant's event loop policy."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    asyncio.set_event_loop_policy(runner.HassEventLoopPolicy(False))
    start = time.perf_counter()
    asyncio.run(main(args))
    print(f"# finished in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    run()
