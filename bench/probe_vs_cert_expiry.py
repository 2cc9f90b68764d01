"""Compare Home PKI's endpoint probes with Home Assistant's cert_expiry on one fleet.

A separate process serves N TLS endpoints on 127.0.0.1, each on its own port with a
leaf of its own (EC P-256) sent with the intermediate of a two-level test CA, so
both systems see the same servers and neither pays for their CPU. Each system then
runs in a fresh process on a test Home Assistant whose registries are read from and
written to the config folder's own files, as Home Assistant's are: `http`, `sensor`,
`binary_sensor` and `button` set up, the integration's code imported and its entries
in place (the same entry and subentry IDs in every run) while the core is
`not_running`, as during Home Assistant's own start.

The measured window opens with `async_setup_component` of the integration, takes in
`hass.async_start()` (cert_expiry waits for the started event) and closes when every
expiry sensor has a value. In it the child records the wall time, its CPU time, the
lag of a 10 ms ticker on the event loop, and, against its RSS taken just before the
window, its peak RSS (`ru_maxrss`). cert_expiry gets one config entry per endpoint
(host 127.0.0.1); Home PKI gets one entry, its CA created beforehand in another
process, with one `endpoint` subentry per endpoint.

Two scenarios go through that same window, one after the other in every round:

- first start: a fresh copy of a folder that holds Home PKI's CA and nothing else,
  registries empty. Every value needs a probe; this is the cost of adding a fleet.
- restart: a fresh process on the folder the first start kept once Home Assistant
  stopped properly and wrote its registries and Home PKI's stores. The registries
  hold every device and entity; cert_expiry probes every endpoint again, as it
  always does, while Home PKI shows what each endpoint last presented and probes
  it only once its `scan_interval_minutes` (60) have passed since its last check.
  This is what a homeowner lives with after every restart.

Both are shown because each alone misleads: a first start is the one time Home PKI
has nothing to show, and a restart is the case that comes again and again. Both run
at a small size and at N in the same run, each `--rounds` times with the order of
systems turned each round, the fastest run of each scenario giving its figures; the
servers count the handshakes each process makes, and both systems' expiry times are
compared.

Run from the repository root: `.venv/bin/python bench/probe_vs_cert_expiry.py
[--servers N] [--small N] [--rounds N] [--limit S] [--profile SYSTEM]`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
import cProfile
import ctypes
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import gc
import io
from ipaddress import ip_address
import logging
import multiprocessing
from multiprocessing.connection import Connection
import os
from pathlib import Path
import platform
import pstats
import resource
import shutil
import socket
import ssl
import sys
import tempfile
import time
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cryptography
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from homeassistant import bootstrap, loader, runner
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, __version__ as ha_version
from homeassistant.core import (
    CoreState,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import (
    area_registry as ar,
    category_registry as cr,
    device_registry as dr,
    entity_registry as er,
    floor_registry as fr,
    issue_registry as ir,
    label_registry as lr,
    restore_state as rs,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util, ulid as ulid_util
from homeassistant.util.ssl import SSLCipherList, client_context
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

HOST = "127.0.0.1"
SERVER_NAME = "localhost"
CERT_EXPIRY = "cert_expiry"
HOME_PKI = "home_pki"
SYSTEMS = (CERT_EXPIRY, HOME_PKI)
FIRST_START = "first start"
RESTART = "restart"
SCENARIOS = (FIRST_START, RESTART)
REGISTRY_FILES = ("core.entity_registry", "core.device_registry")
# Set up in both children before the window: Home PKI needs http, and a real home
# has the entity platforms' components long before either integration starts.
BASE_COMPONENTS = ("http", "sensor", "binary_sensor", "button")
PLATFORMS = ("sensor", "binary_sensor", "button", "config_flow", "diagnostics")
CA_DATA = {
    "name": "Home",
    "key_algorithm": "ec_p256",
    "root_validity_days": 3650,
    "intermediate_validity_days": 1095,
    "permitted_dns_domains": ["home.arpa", "internal", "lan", "local"],
    "permitted_ip_ranges": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
}
TICK = 0.01
NO_SENSOR_GRACE = 60.0
CHILD_MARGIN = 180.0
SERVER_START_LIMIT = 300.0
MB = 1024 * 1024
LABEL_WIDTH = 40
LOGGER = logging.getLogger("bench")


def line(kind: str, label: str, value: str, extra: str = "") -> None:
    """Print one aligned result line."""
    print(f"{kind:<9} {label:<{LABEL_WIDTH}} {value:>12}   {extra}".rstrip())


# --- The test CA -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issuer:
    """A CA certificate and its key."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True, slots=True)
class TestCa:
    """The root PEM to trust and each server's chain and key files."""

    root_pem: str
    leaves: list[tuple[str, str]]


def common_name(value: str) -> x509.Name:
    """Return a name holding only a common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value)])


def key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """Return the key usage of a CA (certificates, CRLs) or of a TLS server leaf."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def sign(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: Issuer | None,
    not_after: datetime,
    extensions: list[x509.ExtensionType],
) -> x509.Certificate:
    """Sign a certificate for `key`; self-signed when there is no issuer."""
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(hours=1))
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    )
    for extension in extensions:
        critical = isinstance(extension, x509.BasicConstraints | x509.KeyUsage)
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def make_ca(name: str, issuer: Issuer | None, path_length: int) -> Issuer:
    """Make a root (no issuer) or an intermediate CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = sign(
        common_name(name),
        key,
        issuer,
        datetime.now(UTC) + timedelta(days=1095),
        [
            x509.BasicConstraints(ca=True, path_length=path_length),
            key_usage(signs_certificates=True),
        ],
    )
    return Issuer(key, certificate)


def make_leaf(issuer: Issuer, index: int) -> tuple[bytes, bytes]:
    """Return the PEM chain (leaf, intermediate) and key of one server."""
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = sign(
        common_name(SERVER_NAME),
        key,
        issuer,
        # Lifetimes differ, so no two servers send the same expiry.
        datetime.now(UTC) + timedelta(days=30 + index % 360, minutes=index),
        [
            x509.BasicConstraints(ca=False, path_length=None),
            key_usage(signs_certificates=False),
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.IPAddress(ip_address(HOST))]
            ),
        ],
    )
    chain = b"".join(
        certificate.public_bytes(serialization.Encoding.PEM)
        for certificate in (leaf, issuer.certificate)
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return chain, key_pem


def make_test_ca(folder: Path, count: int) -> TestCa:
    """Write a root, an intermediate and `count` server leaves under `folder`."""
    folder.mkdir(parents=True)
    root = make_ca("Bench Root", None, 1)
    intermediate = make_ca("Bench Intermediate", root, 0)
    leaves = []
    for index in range(count):
        chain, key_pem = make_leaf(intermediate, index)
        chain_file = folder / f"server-{index}.pem"
        key_file = folder / f"server-{index}.key"
        chain_file.write_bytes(chain)
        key_file.write_bytes(key_pem)
        leaves.append((str(chain_file), str(key_file)))
    root_pem = root.certificate.public_bytes(serialization.Encoding.PEM).decode()
    return TestCa(root_pem, leaves)


# --- The TLS servers (their own process) ---------------------------------------


class CountingProtocol(asyncio.Protocol):
    """Count completed handshakes and wait for the client to close."""

    def __init__(self, counter: ctypes.c_longlong) -> None:
        """Keep the shared counter."""
        self._counter = counter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count a connection whose TLS handshake is complete."""
        self._counter.value += 1


async def open_server(
    chain_file: str, key_file: str, counter: ctypes.c_longlong
) -> asyncio.Server:
    """Listen on a free loopback port with one server's chain and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain_file, key_file)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: CountingProtocol(counter), HOST, 0, ssl=context, backlog=128
    )


async def serve_until_told(
    leaves: list[tuple[str, str]], conn: Connection, counter: ctypes.c_longlong
) -> None:
    """Open every server, send the ports, serve until the parent says stop."""
    servers = [await open_server(chain, key, counter) for chain, key in leaves]
    conn.send([server.sockets[0].getsockname()[1] for server in servers])
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    for server in servers:
        server.close()


def serve(
    leaves: list[tuple[str, str]], conn: Connection, counter: ctypes.c_longlong
) -> None:
    """Run the servers (the server process's entry point)."""
    # Clients close right after the handshake; the server has nothing to report.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    asyncio.run(serve_until_told(leaves, conn, counter))


@dataclass(slots=True)
class Servers:
    """The running servers: their ports and the handshakes they completed."""

    ports: list[int]
    counter: ctypes.c_longlong

    @property
    def handshakes(self) -> int:
        """Return the handshakes completed so far."""
        return self.counter.value


@contextmanager
def tls_servers(leaves: list[tuple[str, str]]) -> Iterator[Servers]:
    """Run one TLS server per leaf in a separate process."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    counter = context.Value("q", 0, lock=False)
    process = context.Process(
        target=serve, args=(leaves, child_end, counter), daemon=True
    )
    process.start()
    try:
        if not parent_end.poll(SERVER_START_LIMIT):
            raise RuntimeError("the TLS servers did not start")
        yield Servers(parent_end.recv(), counter)
    finally:
        with suppress(OSError):
            parent_end.send("stop")
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join()


# --- One system in a fresh Home Assistant (child process) ------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What one child measures."""

    system: str
    ports: tuple[int, ...]
    root_pem: str
    config_dir: str
    entry_id: str
    item_ids: tuple[str, ...]
    limit: float
    profile: str | None = None


def cert_expiry_entries(plan: Plan) -> list[MockConfigEntry]:
    """Return one cert_expiry entry per server, as its config flow stores them."""
    return [
        MockConfigEntry(
            domain=CERT_EXPIRY,
            title=f"{HOST}:{port}",
            data={"host": HOST, "port": port},
            entry_id=entry_id,
            unique_id=f"{HOST}:{port}",
        )
        for port, entry_id in zip(plan.ports, plan.item_ids, strict=True)
    ]


def endpoint_subentry(port: int, root_pem: str, subentry_id: str) -> dict[str, Any]:
    """Return the subentry of one watched endpoint, as the endpoint flow stores it."""
    return {
        "subentry_id": subentry_id,
        "subentry_type": "endpoint",
        "title": f"{SERVER_NAME}:{port}",
        "unique_id": f"{HOST}:{port}:implicit",
        "data": {
            "host": HOST,
            "port": port,
            "server_name": SERVER_NAME,
            "tls_mode": "implicit",
            "trust": "custom",
            "custom_ca": root_pem,
            "check_hostname": True,
            "check_revocation": False,
            "scan_interval_minutes": 60,
        },
    }


def home_pki_entry(plan: Plan, *, with_endpoints: bool) -> MockConfigEntry:
    """Return the Home PKI entry, with one endpoint subentry per server or none."""
    subentries = [
        endpoint_subentry(port, plan.root_pem, subentry_id)
        for port, subentry_id in zip(plan.ports, plan.item_ids, strict=True)
    ]
    return MockConfigEntry(
        domain=HOME_PKI,
        title=CA_DATA["name"],
        data=dict(CA_DATA),
        entry_id=plan.entry_id,
        unique_id="home",
        subentries_data=subentries if with_endpoints else None,
    )


def is_cert_expiry_sensor(entry: er.RegistryEntry) -> bool:
    """Return whether a registry entry is a cert_expiry timestamp sensor."""
    return entry.platform == CERT_EXPIRY and entry.domain == "sensor"


def is_home_pki_endpoint_sensor(entry: er.RegistryEntry) -> bool:
    """Return whether a registry entry is the expiry sensor of a subentry."""
    return (
        entry.platform == HOME_PKI
        and entry.domain == "sensor"
        and entry.config_subentry_id is not None
        and entry.entity_id.endswith("_expires")
    )


@dataclass(frozen=True, slots=True)
class System:
    """How one system is configured and how its expiry sensors are found."""

    entries: Callable[[Plan], list[MockConfigEntry]]
    is_expiry_sensor: Callable[[er.RegistryEntry], bool]


SYSTEM_SPECS = {
    CERT_EXPIRY: System(cert_expiry_entries, is_cert_expiry_sensor),
    HOME_PKI: System(
        lambda plan: [home_pki_entry(plan, with_endpoints=True)],
        is_home_pki_endpoint_sensor,
    ),
}


class ErrorLog(logging.Handler):
    """Keep the first error lines a child logs, to explain a failure."""

    def __init__(self) -> None:
        """Start empty, at error level."""
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep one short line per record, at most five."""
        if len(self.messages) >= 5:
            return
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text += f" ({type(error).__name__}: {error})"
        self.messages.append(text[:400])


class LoopLag:
    """Record how late a 10 ms ticker on the event loop wakes up."""

    def __init__(self) -> None:
        """Start with no samples."""
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        """Sleep a tick at a time and record the oversleep."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            self.lags.append(time.perf_counter() - before - TICK)

    def stop(self) -> tuple[float, float]:
        """Stop; return the worst lag and the 99th percentile, in seconds."""
        if self._task:
            self._task.cancel()
        ordered = sorted(self.lags) or [0.0]
        return ordered[-1], ordered[int(0.99 * (len(ordered) - 1))]


class ValueWatch:
    """Follow state changes to know which expiry sensors hold a timestamp."""

    def __init__(
        self,
        hass: HomeAssistant,
        is_expiry_sensor: Callable[[er.RegistryEntry], bool],
        expected: int,
    ) -> None:
        """Listen to state changes."""
        self._registry = er.async_get(hass)
        self._is_expiry_sensor = is_expiry_sensor
        self.expected = expected
        self.valued: dict[str, float] = {}
        self.complete = asyncio.Event()
        self.unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, self._changed)

    @callback
    def _changed(self, event: Event[EventStateChangedData]) -> None:
        """Note whether the changed entity is an expiry sensor with a value."""
        entity_id = event.data["entity_id"]
        entry = self._registry.async_get(entity_id)
        if entry is None or not self._is_expiry_sensor(entry):
            return
        state = event.data["new_state"]
        moment = dt_util.parse_datetime(state.state) if state else None
        if moment is None:
            self.valued.pop(entity_id, None)
        else:
            self.valued[entity_id] = moment.timestamp()
        if len(self.valued) >= self.expected:
            self.complete.set()

    def registered(self) -> int:
        """Return how many expiry sensors the entity registry holds."""
        return sum(map(self._is_expiry_sensor, self._registry.entities.values()))

    async def wait(self, since: float, limit: float) -> str | None:
        """Wait until every sensor has a value; return why it did not happen."""
        while not self.complete.is_set():
            elapsed = time.perf_counter() - since
            if elapsed > limit:
                return f"after {limit:.0f} s"
            if elapsed > NO_SENSOR_GRACE and not self.valued and not self.registered():
                return f"no expiry sensor was registered {NO_SENSOR_GRACE:.0f} s in"
            with suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await self.complete.wait()
        return None


def trust_test_root(root_pem: str) -> None:
    """Add the test root to Home Assistant's client SSL contexts (this child only)."""
    # cert_expiry verifies with HA's shared client context, built from certifi when
    # HA's ssl module is imported; the bench root joins it here, in the child's
    # memory only. Both children do it, so both start from the same contexts.
    for cipher_list in SSLCipherList:
        client_context(cipher_list).load_verify_locations(cadata=root_pem)


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def rss_bytes() -> int:
    """Return this process's resident set size now."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """Return this process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds() -> float:
    """Return the CPU time of this process, all threads, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def load_registries_from_disk(hass: HomeAssistant) -> None:
    """Load the registries from the config folder's files, as a real start does."""
    # The harness's registry stores never read their files, so a restart would see
    # empty registries; these are Home Assistant's own stores, read and written.
    await asyncio.gather(
        ar.async_load(hass),
        cr.async_load(hass),
        dr.async_load(hass),
        er.async_load(hass),
        fr.async_load(hass),
        ir.async_load(hass),
        lr.async_load(hass),
        rs.async_load(hass),
    )
    hass.data[bootstrap.DATA_REGISTRIES_LOADED] = None


@asynccontextmanager
async def bench_home_assistant(
    config_dir: str, *, on_disk: bool
) -> AsyncIterator[HomeAssistant]:
    """Run a test Home Assistant, not started yet, that finds Home PKI."""
    with patch(
        "homeassistant.components.network.util.async_get_source_ip",
        return_value=HOST,
    ):
        async with async_test_home_assistant(
            config_dir=config_dir,
            initial_state=CoreState.not_running,
            load_registries=not on_disk,
        ) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            if on_disk:
                await load_registries_from_disk(hass)
            try:
                yield hass
            finally:
                await hass.async_stop(force=True)


async def prepare(hass: HomeAssistant, domain: str) -> None:
    """Set up the base components and import the integration's code."""
    http = {"http": {"server_host": [HOST], "server_port": free_port()}}
    for component in BASE_COMPONENTS:
        if not await async_setup_component(hass, component, http):
            raise RuntimeError(f"{component} did not set up")
    integration = await loader.async_get_integration(hass, domain)
    await integration.async_get_component()
    await integration.async_get_platforms(integration.platforms_exists(PLATFORMS))


def entity_count(hass: HomeAssistant, domain: str) -> int:
    """Return how many registered entities the domain's entries have."""
    registry = er.async_get(hass)
    return sum(
        len(er.async_entries_for_config_entry(registry, entry.entry_id))
        for entry in hass.config_entries.async_entries(domain)
    )


def entry_problems(hass: HomeAssistant, domain: str) -> str | None:
    """Return why some entry of the domain is not loaded, or None."""
    for entry in hass.config_entries.async_entries(domain):
        if entry.state is not ConfigEntryState.LOADED:
            return f"entry {entry.title!r} is {entry.state.value}: {entry.reason}"
    return None


@contextmanager
def profiled(path: str | None) -> Iterator[None]:
    """Profile the event loop thread into `path`, when given."""
    if path is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)


async def run_window(
    hass: HomeAssistant, plan: Plan, watch: ValueWatch
) -> dict[str, Any]:
    """Set up the integration, start Home Assistant, wait for every value."""
    lag = LoopLag()
    lag.start()
    cpu = cpu_seconds()
    start = time.perf_counter()
    with profiled(plan.profile):
        await async_setup_component(hass, plan.system, {})
        setup_seconds = time.perf_counter() - start
        await hass.async_start()
        started_seconds = time.perf_counter() - start
        reason = entry_problems(hass, plan.system)
        if reason is None:
            reason = await watch.wait(start, plan.limit)
    values_seconds = time.perf_counter() - start
    lag_max, lag_p99 = lag.stop()
    return {
        "ok": reason is None,
        "reason": reason,
        "setup_s": setup_seconds,
        "started_s": started_seconds,
        "values_s": values_seconds,
        "cpu_s": cpu_seconds() - cpu,
        "lag_max": lag_max,
        "lag_p99": lag_p99,
        "peak_rss": peak_rss_bytes(),
        "end_rss": rss_bytes(),
    }


async def measure(plan: Plan) -> dict[str, Any]:
    """Measure one system at one size in this fresh process."""
    spec = SYSTEM_SPECS[plan.system]
    trust_test_root(plan.root_pem)
    async with bench_home_assistant(plan.config_dir, on_disk=True) as hass:
        await prepare(hass, plan.system)
        for entry in spec.entries(plan):
            entry.add_to_hass(hass)
        await hass.async_block_till_done()
        loaded_entities = len(er.async_get(hass).entities)
        loaded_devices = len(dr.async_get(hass).devices)
        gc.collect()
        baseline = rss_bytes()
        watch = ValueWatch(hass, spec.is_expiry_sensor, len(plan.ports))
        result = await run_window(hass, plan, watch)
        watch.unsubscribe()
        return result | {
            "loaded_entities": loaded_entities,
            "loaded_devices": loaded_devices,
            "baseline_rss": baseline,
            "valued": len(watch.valued),
            "expiries": sorted(watch.valued.values()),
            "entities": entity_count(hass, plan.system),
        }


async def seed_home_pki(plan: Plan) -> dict[str, Any]:
    """Create Home PKI's CA in the plan's config folder, then unload it."""
    # Registries stay in memory here, so the folder holds the CA and nothing more.
    async with bench_home_assistant(plan.config_dir, on_disk=False) as hass:
        await prepare(hass, HOME_PKI)
        entry = home_pki_entry(plan, with_endpoints=False)
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        reason = entry_problems(hass, HOME_PKI)
        if reason is None:
            await hass.config_entries.async_unload(entry.entry_id)
        return {"ok": reason is None, "reason": reason}


def child(task: str, plan: Plan, conn: Connection) -> None:
    """Run one task in this process and send its result (child entry point)."""
    # Errors are kept, not printed: the parent shows them with the figures.
    errors = ErrorLog()
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger().addHandler(errors)
    asyncio.set_event_loop_policy(runner.HassEventLoopPolicy(False))
    work = measure if task == "measure" else seed_home_pki
    try:
        result = asyncio.run(work(plan))
    except Exception as err:
        LOGGER.exception("the %s run of %s stopped", task, plan.system)
        result = {"ok": False, "reason": f"{type(err).__name__}: {err}"}
    result["errors"] = errors.messages
    conn.send(result)


# --- The parent: servers, children, report -------------------------------------


def run_child(task: str, plan: Plan) -> dict[str, Any]:
    """Run a task in a fresh process; return its result or why there is none."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe(duplex=False)
    process = context.Process(target=child, args=(task, plan, child_end))
    process.start()
    child_end.close()
    result = None
    got_result = parent_end.poll(plan.limit + CHILD_MARGIN)
    if got_result:
        with suppress(EOFError):
            result = parent_end.recv()
    process.join(60 if got_result else 1)
    if process.is_alive():
        process.terminate()
        process.join()
    if result is None:
        reason = (
            f"the child process ended (exit code {process.exitcode}) with no result"
        )
        return {"ok": False, "reason": reason, "errors": []}
    return result


def raise_fd_limit() -> None:
    """Raise the open file limit to the hard limit; the servers need one each."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 65536
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def stored_bytes(plan: Plan) -> int:
    """Return the size of the registry files and the system's own stores on disk."""
    storage = Path(plan.config_dir, ".storage")
    return sum(
        path.stat().st_size
        for pattern in (*REGISTRY_FILES, f"{plan.system}.*")
        for path in storage.glob(pattern)
        if path.is_file()
    )


def kept_problem(plan: Plan) -> str | None:
    """Return why a first start's folder cannot be restarted from, or None."""
    storage = Path(plan.config_dir, ".storage")
    missing = [name for name in REGISTRY_FILES if not (storage / name).is_file()]
    return f"its first start wrote no {', '.join(missing)}" if missing else None


def forget_registries(config_dir: Path) -> None:
    """Remove the registry files a run wrote, so a copy starts with empty ones."""
    # The harness's registry stores skip loading but still write delayed saves, so
    # the seed leaves the CA's device and entities behind unless they are removed.
    for path in (config_dir / ".storage").glob("core.*"):
        path.unlink()


def failure(reason: str) -> dict[str, Any]:
    """Return the result of a run that could not be made."""
    return {"ok": False, "reason": reason, "errors": []}


@dataclass(slots=True)
class Bench:
    """The shared servers and folders of one run."""

    servers: Servers
    ca: TestCa
    template: Path
    entry_id: str
    item_ids: tuple[str, ...]
    limit: float
    runs: int = 0
    seed_failure: str | None = None
    results: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    times: dict[tuple[str, str, int], list[float]] = field(default_factory=dict)

    def plan(self, system: str, size: int, profile: str | None = None) -> Plan:
        """Return a plan on a fresh copy of the template config folder."""
        self.runs += 1
        config_dir = self.template.with_name(f"run-{self.runs}-{system}-{size}")
        shutil.copytree(self.template, config_dir, symlinks=True)
        return Plan(
            system=system,
            ports=tuple(self.servers.ports[:size]),
            root_pem=self.ca.root_pem,
            config_dir=str(config_dir),
            entry_id=self.entry_id,
            item_ids=self.item_ids[:size],
            limit=self.limit,
            profile=profile,
        )

    def has_failed(self, system: str, size: int) -> bool:
        """Return whether a scenario of a system at a size has failed before."""
        results = (self.results.get((name, system, size)) for name in SCENARIOS)
        return any(result is not None and not result["ok"] for result in results)

    def run_system(self, system: str, size: int) -> None:
        """Measure a first start, then a restart on the folder it kept."""
        if self.has_failed(system, size):
            return
        plan = self.plan(system, size)
        reason = None
        if system == HOME_PKI and self.seed_failure:
            reason = f"its CA could not be created: {self.seed_failure}"
        first = self.run_scenario(FIRST_START, plan, reason)
        reason = kept_problem(plan) if first["ok"] else "its first start failed"
        self.run_scenario(RESTART, plan, reason)
        shutil.rmtree(plan.config_dir, ignore_errors=True)

    def run_scenario(
        self, scenario: str, plan: Plan, reason: str | None
    ) -> dict[str, Any]:
        """Run one child on the plan's folder, unless there is a reason not to."""
        stored = stored_bytes(plan)
        before = self.servers.handshakes
        result = failure(reason) if reason else run_child("measure", plan)
        result["handshakes"] = self.servers.handshakes - before
        result["stored"] = stored
        self.keep((scenario, plan.system, len(plan.ports)), result)
        return result

    def keep(self, key: tuple[str, str, int], result: dict[str, Any]) -> None:
        """Keep the fastest run of a scenario, or its failure."""
        best = self.results.get(key)
        if result["ok"]:
            self.times.setdefault(key, []).append(result["values_s"])
        if best is None or not result["ok"] or result["values_s"] < best["values_s"]:
            self.results[key] = result

    def run_round(self, sizes: list[int], number: int) -> None:
        """Run every system at every size, the order of systems turned each round."""
        systems = SYSTEMS if number % 2 == 0 else SYSTEMS[::-1]
        for size in sizes:
            for system in systems:
                self.run_system(system, size)

    def seed(self) -> None:
        """Create Home PKI's CA once, in the template config folder."""
        self.template.mkdir()
        plan = Plan(
            HOME_PKI, (), self.ca.root_pem, str(self.template), self.entry_id, (), 60
        )
        result = run_child("seed", plan)
        if not result["ok"]:
            self.seed_failure = result["reason"]
        forget_registries(self.template)


def describe(system: str, size: int) -> str:
    """Return how a system is configured at a size."""
    if system == CERT_EXPIRY:
        return f"cert_expiry ({size} entries)"
    return f"home_pki (1 entry, {size} endpoints)"


def print_time(
    system: str, size: int, result: dict[str, Any], times: list[float]
) -> None:
    """Print one system's time to values, or why it has none, and its errors."""
    label = describe(system, size)
    if result["ok"]:
        line(
            "ready",
            label,
            f"{result['values_s']:.2f} s",
            f"best of {len(times)} ({max(times):.2f} s worst); "
            f"setup {result['setup_s']:.2f} s, started {result['started_s']:.2f} s, "
            f"CPU {result['cpu_s']:.2f} s, {result['entities']} entities",
        )
    else:
        valued = result.get("valued", 0)
        line("FAILED", label, f"{valued}/{size}", f"with a value; {result['reason']}")
    for error in result["errors"]:
        print(f"{'':<9} logged: {error}")


def print_probes(system: str, size: int, result: dict[str, Any]) -> None:
    """Print how many TLS handshakes the servers completed for one system."""
    line(
        "probes",
        describe(system, size),
        str(result["handshakes"]),
        f"TLS handshakes while its process ran, "
        f"{result['handshakes'] / size:.1f} per endpoint",
    )


def print_loaded(system: str, size: int, result: dict[str, Any]) -> None:
    """Print what one system's registries held before its setup."""
    line(
        "loaded",
        describe(system, size),
        f"{result['loaded_entities']} entities",
        f"and {result['loaded_devices']} devices in the registries before setup; "
        f"registry files and {system}.* stores {result['stored'] / 1024:.0f} kB",
    )


def print_memory(system: str, size: int, result: dict[str, Any]) -> None:
    """Print one system's peak RSS and growth."""
    growth = result["peak_rss"] - result["baseline_rss"]
    line(
        "memory",
        describe(system, size),
        f"{result['peak_rss'] / MB:.1f} MB",
        f"peak RSS; growth {growth / MB:.1f} MB over {result['baseline_rss'] / MB:.1f}"
        f" MB before setup; {result['end_rss'] / MB:.1f} MB at the end",
    )


def print_lag(system: str, size: int, result: dict[str, Any]) -> None:
    """Print one system's event loop lag."""
    line(
        "loop lag",
        describe(system, size),
        f"{result['lag_max'] * 1000:.1f} ms",
        f"worst oversleep of a {TICK * 1000:.0f} ms ticker; "
        f"99th percentile {result['lag_p99'] * 1000:.1f} ms",
    )


def ratio(numerator: float, denominator: float) -> str:
    """Return a ratio for printing."""
    return f"{numerator / denominator:.2f}" if denominator > 0 else "inf"


def print_ratios(size: int, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Print cert_expiry against Home PKI at one size."""
    growth_ours = ours["peak_rss"] - ours["baseline_rss"]
    growth_theirs = theirs["peak_rss"] - theirs["baseline_rss"]
    line(
        "ratio",
        f"time, cert_expiry / home_pki at {size}",
        ratio(theirs["values_s"], ours["values_s"]),
        "above 1: Home PKI has every value sooner",
    )
    line(
        "ratio",
        f"CPU, cert_expiry / home_pki at {size}",
        ratio(theirs["cpu_s"], ours["cpu_s"]),
        "the child's CPU time in the window; steadier on a busy machine",
    )
    line(
        "ratio",
        f"peak RSS, home_pki / cert_expiry at {size}",
        ratio(ours["peak_rss"], theirs["peak_rss"]),
        f"growth home_pki / cert_expiry {ratio(growth_ours, growth_theirs)}",
    )
    line(
        "ratio",
        f"loop lag, home_pki / cert_expiry at {size}",
        ratio(ours["lag_max"], theirs["lag_max"]),
        "worst oversleep",
    )


def print_size(bench: Bench, scenario: str, size: int) -> None:
    """Print every figure of one scenario at one size."""
    print(f"\n== {scenario}, {size} endpoints")
    results = {system: bench.results[scenario, system, size] for system in SYSTEMS}
    for system in SYSTEMS:
        times = bench.times.get((scenario, system, size), [])
        print_time(system, size, results[system], times)
    for printer in (print_probes, print_loaded, print_memory, print_lag):
        for system in SYSTEMS:
            if results[system]["ok"]:
                printer(system, size, results[system])
    if all(result["ok"] for result in results.values()):
        print_agreement(size, results[HOME_PKI], results[CERT_EXPIRY])
        print_ratios(size, results[HOME_PKI], results[CERT_EXPIRY])


def print_agreement(size: int, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Print whether both systems read the same expiry times."""
    same = sum(
        abs(a - b) < 1
        for a, b in zip(ours["expiries"], theirs["expiries"], strict=True)
    )
    verdict = "the same" if same == size else f"{size - same} different"
    line("values", f"expiry times at {size}", f"{same}/{size}", f"{verdict} in both")


def print_scaling(bench: Bench, scenario: str, small: int, large: int) -> None:
    """Print how each system's time and memory grow from the small size to N."""
    print(f"\n== {scenario}, scaling from {small} to {large} endpoints")
    for system in SYSTEMS:
        low = bench.results[scenario, system, small]
        high = bench.results[scenario, system, large]
        if not (low["ok"] and high["ok"]):
            continue
        growth_low = low["peak_rss"] - low["baseline_rss"]
        growth_high = high["peak_rss"] - high["baseline_rss"]
        line(
            "scaling",
            system,
            f"x{ratio(high['values_s'], low['values_s'])}",
            f"time; memory growth x{ratio(growth_high, growth_low)}; "
            f"loop lag x{ratio(high['lag_max'], low['lag_max'])}",
        )


def print_scenario(bench: Bench, scenario: str, sizes: list[int]) -> None:
    """Print one scenario at every size, then how it scales."""
    for size in sizes:
        print_size(bench, scenario, size)
    if len(sizes) > 1:
        print_scaling(bench, scenario, sizes[0], sizes[-1])


def print_facts(servers: int, small: int, rounds: int) -> None:
    """Print the machine and software facts."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"# Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs; Home Assistant {ha_version}; "
        f"cryptography {cryptography.__version__}; OpenSSL {ssl.OPENSSL_VERSION}"
    )
    print(
        f"# {servers} TLS servers on {HOST} in one separate process (leaf + "
        f"intermediate, EC P-256, a leaf each); sizes {small} and {servers}"
    )
    print(
        "# each system in a fresh process; timed from the integration's setup "
        "until every expiry sensor has a value"
    )
    print(
        "# first start: empty registries, a CA-only folder, every value needs a "
        "probe; restart: a fresh process on the folder that first start kept"
    )
    print(
        f"# best of {rounds} rounds by time, every figure from that run; "
        f"load average at the start {load}"
    )


def print_profile(bench: Bench, system: str, size: int) -> None:
    """Profile one more run of a system and print where its loop time goes."""
    with tempfile.NamedTemporaryFile(suffix=".prof", delete=False) as handle:
        path = handle.name
    result = run_child("measure", bench.plan(system, size, profile=path))
    print(f"\n== profile of {describe(system, size)}, first start, event loop thread")
    if not result["ok"]:
        print(f"# the profiled run failed: {result['reason']}")
    profile = Path(path)
    if profile.stat().st_size:
        stream = io.StringIO()
        stats = pstats.Stats(path, stream=stream)
        stats.strip_dirs().sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(25)
        print(stream.getvalue())
    profile.unlink()


def main(args: argparse.Namespace) -> int:
    """Run both systems at both sizes and print the comparison."""
    raise_fd_limit()
    small = min(args.small, args.servers)
    sizes = sorted({small, args.servers})
    with tempfile.TemporaryDirectory() as folder:
        ca = make_test_ca(Path(folder) / "tls", args.servers)
        print_facts(args.servers, small, args.rounds)
        with tls_servers(ca.leaves) as servers:
            item_ids = tuple(ulid_util.ulid_now() for _ in servers.ports)
            bench = Bench(
                servers,
                ca,
                Path(folder) / "template",
                ulid_util.ulid_now(),
                item_ids,
                args.limit,
            )
            bench.seed()
            for number in range(args.rounds):
                bench.run_round(sizes, number)
            for scenario in SCENARIOS:
                print_scenario(bench, scenario, sizes)
            if args.profile:
                print_profile(bench, args.profile, args.servers)
    return report_failures(bench)


def report_failures(bench: Bench) -> int:
    """Say which runs missed a value; return the exit status."""
    failed = [key for key, result in bench.results.items() if not result["ok"]]
    for scenario, system, size in failed:
        result = bench.results[scenario, system, size]
        print(
            f"\n{describe(system, size)}, {scenario}: only {result.get('valued', 0)} "
            f"of {size} expiry sensors had a value ({result['reason']})",
            file=sys.stderr,
        )
    return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000, help="TLS servers (N)")
    parser.add_argument("--small", type=int, default=30, help="the small size")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each; the fastest counts"
    )
    parser.add_argument(
        "--limit",
        type=float,
        default=600,
        help="seconds a system gets to give every expiry sensor a value",
    )
    parser.add_argument(
        "--profile",
        choices=SYSTEMS,
        help="profile one more first start of this system at N; print the top calls",
    )
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> None:
    """Run the benchmark and exit non-zero if a system missed a value."""
    args = parse_args(argv)
    start = time.perf_counter()
    status = main(args)
    print(f"# finished in {time.perf_counter() - start:.0f} s")
    sys.exit(status)


if __name__ == "__main__":
    run()
