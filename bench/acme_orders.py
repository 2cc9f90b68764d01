"""Compare the ACME orders per second of Home PKI's ACME server with Pebble's.

One client, the `acme` library certbot is built on, orders certificates from both
servers on loopback: Home PKI's ACME server, on its own TLS listener inside a test
Home Assistant in a child process, and Pebble (Let's Encrypt's test server, from
Debian's `pebble` package), started here with its validation sleep and its nonce
rejection off and every name resolved to 127.0.0.1 by `pebble-challtestsrv`. Both
require external account binding, so every account binds the same way: with the
credentials Home PKI's subentry flow shows for a device, or with a key ID and MAC
key written into Pebble's configuration.

`--workers` client processes share `--orders` orders a round, with an account of
their own for every `--per-account` orders (Home PKI binds an account to one
device, whose names are all it may order, and limits each account's requests and
orders). An order is: newOrder and its authorization; the http-01 answer put up
on a responder on 127.0.0.1 and the challenge answered; the authorization polled
every `--poll` seconds until it is valid; finalize; the order polled at the same
pace until it is valid; the certificate downloaded. Then the client deactivates
the authorization, so no server can reuse it and every order is validated
(`--reuse` keeps authorizations instead). The loop is the same code for both
servers: Pebble validates and issues after it has answered, so it is polled;
Home PKI answers a quick challenge and the finalize already valid, so it is not.

The window runs from the first newOrder to the last certificate downloaded; keys
and CSRs are made before it. Each round has fresh accounts on both servers, the
order of the servers turned each round, and the fastest of `--rounds` counts.
Printed for each server: orders per second, p50 and p95 order latency, where an
order's time goes, the polls and validation requests, the server's CPU time (its
own process; Pebble's DNS server apart) and the clients' CPU time per order,
Home Assistant's event loop lag, and the check that every order got one
certificate of its own, for its key and name, signed by that server's
intermediate, which its root signs. Then the ratio Home PKI / Pebble of orders
per second. No timing is asserted; the run exits non-zero when an order failed.
`--profile` profiles Home Assistant's process through one more Home PKI round.

Run from the repository root: `.venv/bin/python bench/acme_orders.py [--orders N]
[--workers N] [--rounds N] [--per-account N] [--poll S] [--reuse] [--profile]
[--dir PATH]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
import cProfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
import io
from ipaddress import ip_address
import json
import logging
import math
import multiprocessing
from multiprocessing.connection import Connection
import os
from pathlib import Path
import platform
import pstats
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acme import challenges, client, crypto_util, errors, messages
import cryptography
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
import josepy as jose
from probe_vs_cert_expiry import (
    CA_DATA,
    ErrorLog,
    LoopLag,
    bench_home_assistant,
    common_name,
    entry_problems,
    free_port,
    key_usage,
    line,
    make_ca,
    prepare,
    sign,
)
import requests

from homeassistant import runner
from homeassistant.const import CONF_NAME, __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_pki.const import (
    CONF_ACME_NAMES,
    CONF_ACME_PORT,
    CONF_PERMITTED_IP_RANGES,
    CONF_RENEWAL,
    DOMAIN,
    SUBENTRY_ISSUED,
    Renewal,
)
from custom_components.home_pki.pki.acme.server import (
    ORDER_BURST,
    REQUEST_BURST,
    ValidationPorts,
)

HOST = "127.0.0.1"
HOME_PKI = "home_pki"
PEBBLE = "pebble"
SERVERS = (HOME_PKI, PEBBLE)
NAME_DOMAIN = "home.arpa"
USER_AGENT = "home-pki-bench"
CHALLENGE_PATH = "/.well-known/acme-challenge/"
PEBBLE_COMMAND = shutil.which("pebble") or "/usr/bin/pebble"
CHALLTESTSRV_COMMAND = (
    shutil.which("pebble-challtestsrv") or "/usr/bin/pebble-challtestsrv"
)
# Pebble's defaults that would hide its speed or make orders fail at random; the
# authorization reuse is set per run.
PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
MAC_KEY_BYTES = 32
# newOrder, its authorization, the challenge, finalize, the certificate and the
# deactivation: what an order costs an account of Home PKI's request budget.
REQUESTS_PER_ORDER = 6
START_LIMIT = 300.0
STOP_LIMIT = 60.0
LOGGER = logging.getLogger("bench")


@dataclass(frozen=True, slots=True)
class AccountPlan:
    """One account of one client: its device's name, its EAB key and its orders."""

    name: str
    orders: int
    key_id: str = ""
    mac_key: str = ""


def plan_rounds(
    orders: int, workers: int, per_account: int, rounds: int
) -> list[list[list[AccountPlan]]]:
    """Return, for each round and worker, its accounts; every name is new."""
    layout: list[list[list[AccountPlan]]] = []
    number = 0
    for _ in range(rounds):
        round_plan: list[list[AccountPlan]] = []
        for worker in range(workers):
            share = orders // workers + (worker < orders % workers)
            accounts: list[AccountPlan] = []
            while share > 0:
                count = min(per_account, share)
                accounts.append(AccountPlan(f"dev{number}.{NAME_DOMAIN}", count))
                number += 1
                share -= count
            round_plan.append(accounts)
        layout.append(round_plan)
    return layout


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of some values."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def cpu_seconds() -> float:
    """Return this process's CPU time, all threads, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """Return another process's CPU time, all threads, user and system (Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- The http-01 responder (threads of the parent) ------------------------------


class ChallengeServer(ThreadingHTTPServer):
    """Serve the key authorizations the clients put up, on 127.0.0.1."""

    daemon_threads = True
    # Pebble fetches each answer from three perspectives at once; the default
    # backlog of 5 drops connections, which then wait a second for a retry.
    request_queue_size = 128

    def __init__(self) -> None:
        """Listen on a free port with no answer yet."""
        super().__init__((HOST, 0), ChallengeHandler)
        self.port = int(self.server_address[1])
        self.answers: dict[str, str] = {}
        self.requests = 0
        self._lock = threading.Lock()

    def count(self) -> None:
        """Count one validation request."""
        with self._lock:
            self.requests += 1


class ChallengeHandler(BaseHTTPRequestHandler):
    """Answer GET /.well-known/acme-challenge/<token>."""

    server: ChallengeServer

    def do_GET(self) -> None:
        """Send a token's key authorization, or 404."""
        self.server.count()
        token = self.path.removeprefix(CHALLENGE_PATH)
        answer = self.server.answers.get(token) if token != self.path else None
        if answer is None:
            self.send_error(404)
            return
        body = answer.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Log nothing."""


@contextmanager
def challenge_responder() -> Iterator[ChallengeServer]:
    """Run the responder in a thread of this process."""
    server = ChallengeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def relay_answers(conn: Connection, answers: dict[str, str]) -> None:
    """Put up each answer a worker sends, then say it is up (a parent thread)."""
    with suppress(EOFError, OSError):
        while (item := conn.recv()) is not None:
            token, key_authorization = item
            answers[token] = key_authorization
            conn.send(True)


# --- The ACME clients (worker processes) -----------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """What one worker orders from one server in one round."""

    directory_url: str
    ca_file: str
    accounts: tuple[AccountPlan, ...]
    poll: float
    deactivate: bool
    limit: float


@dataclass(slots=True)
class OrderRecord:
    """When one order's steps ended, how often it polled, what it got."""

    name: str
    public_key: bytes
    started: float
    ordered: float = 0.0
    validated: float = 0.0
    issued: float = 0.0
    downloaded: float = 0.0
    authz_polls: int = 0
    order_polls: int = 0
    chain_pem: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    """A CSR made before the window, and its key's public part in DER."""

    csr_pem: bytes
    public_key: bytes


CLIENT_ERRORS = (
    errors.Error,
    requests.RequestException,
    jose.DeserializationError,
    OSError,
    ValueError,
    KeyError,
)


class ClientAccount:
    """One ACME account on one server, ordering its device's name again and again."""

    def __init__(self, job: Job, plan: AccountPlan, answers: Connection) -> None:
        """Make the account key and a client that trusts the server's CA."""
        self.plan = plan
        self._job = job
        self._answers = answers
        self._key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        self._net = client.ClientNetwork(
            self._key, alg=jose.ES256, verify_ssl=job.ca_file, user_agent=USER_AGENT
        )
        self._directory = client.ClientV2.get_directory(job.directory_url, self._net)
        self._acme = client.ClientV2(self._directory, self._net)

    def register(self) -> None:
        """Create the account, bound with its external account key."""
        binding = messages.ExternalAccountBinding.from_data(
            account_public_key=self._key.public_key(),
            kid=self.plan.key_id,
            hmac_key=self.plan.mac_key,
            directory=self._directory,
        )
        self._acme.new_account(
            messages.NewRegistration.from_data(
                terms_of_service_agreed=True, external_account_binding=binding
            )
        )

    def prepare(self) -> PreparedOrder:
        """Make a fresh certificate key and its CSR for the device's name."""
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_key = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return PreparedOrder(
            crypto_util.make_csr(key_pem, [self.plan.name]), public_key
        )

    def order(self, prepared: PreparedOrder) -> OrderRecord:
        """Run one order to its certificate; record its steps or why it failed."""
        record = OrderRecord(
            name=self.plan.name,
            public_key=prepared.public_key,
            started=time.monotonic(),
        )
        try:
            self._order(prepared.csr_pem, record)
        except CLIENT_ERRORS as err:
            record.error = f"{type(err).__name__}: {err}"[:300]
        return record

    def _order(self, csr_pem: bytes, record: OrderRecord) -> None:
        """Order, validate, finalize, poll and download, as one client does."""
        order = self._acme.new_order(csr_pem)
        record.ordered = time.monotonic()
        for authorization in order.authorizations:
            record.authz_polls += self._validate(authorization)
        record.validated = time.monotonic()

        order = self._acme.begin_finalization(order)
        deadline = time.monotonic() + self._job.limit
        while order.body.status != messages.STATUS_VALID:
            if order.body.status == messages.STATUS_INVALID:
                raise errors.Error(f"the order became invalid: {order.body.error}")
            self._wait(deadline)
            document = self._post_as_get(order.uri).json()
            order = order.update(body=messages.Order.from_json(document))
            record.order_polls += 1
        record.issued = time.monotonic()

        record.chain_pem = self._post_as_get(order.body.certificate).text
        record.downloaded = time.monotonic()
        if self._job.deactivate:
            for authorization in order.authorizations:
                self._acme.deactivate_authorization(authorization)

    def _validate(self, authorization: messages.AuthorizationResource) -> int:
        """Answer an authorization's http-01 challenge; return the polls it took."""
        if authorization.body.status == messages.STATUS_VALID:
            return 0
        challenge = next(
            (
                item
                for item in authorization.body.challenges
                if isinstance(item.chall, challenges.HTTP01)
            ),
            None,
        )
        if challenge is None:
            raise errors.Error("the authorization offers no http-01 challenge")
        response, key_authorization = challenge.response_and_validation(self._key)
        self._put_up(challenge.chall.encode("token"), key_authorization)
        status = self._acme.answer_challenge(challenge, response).body.status
        deadline = time.monotonic() + self._job.limit
        polls = 0
        while status not in (messages.STATUS_VALID, messages.STATUS_INVALID):
            self._wait(deadline)
            authorization, _ = self._acme.poll(authorization)
            status = authorization.body.status
            polls += 1
        if status != messages.STATUS_VALID:
            raise errors.ValidationError([authorization])
        return polls

    def _put_up(self, token: str, key_authorization: str) -> None:
        """Have the responder serve an answer, and wait until it does."""
        self._answers.send((token, key_authorization))
        self._answers.recv()

    def _post_as_get(self, url: str) -> requests.Response:
        """Fetch a resource with a POST-as-GET."""
        return self._net.post(url, None, new_nonce_url=self._directory["newNonce"])

    def _wait(self, deadline: float) -> None:
        """Sleep one poll interval, unless the order has waited too long."""
        if time.monotonic() > deadline:
            raise errors.TimeoutError
        time.sleep(self._job.poll)


def run_job(job: Job, jobs: Connection, answers: Connection) -> None:
    """Register the job's accounts and make its CSRs, then order on the signal."""
    try:
        accounts = [ClientAccount(job, plan, answers) for plan in job.accounts]
        for account in accounts:
            account.register()
        prepared = [
            (account, account.prepare())
            for account in accounts
            for _ in range(account.plan.orders)
        ]
    except CLIENT_ERRORS as err:
        jobs.send({"ok": False, "reason": f"{type(err).__name__}: {err}"[:300]})
        jobs.recv()
        return
    jobs.send({"ok": True})
    if not jobs.recv():
        return
    cpu = cpu_seconds()
    records = [account.order(order) for account, order in prepared]
    jobs.send({"ok": True, "orders": records, "cpu_s": cpu_seconds() - cpu})


def client_worker(jobs: Connection, answers: Connection) -> None:
    """Run the jobs the parent sends until it sends None (a worker's entry point)."""
    logging.getLogger().setLevel(logging.ERROR)
    with suppress(EOFError):
        while (job := jobs.recv()) is not None:
            run_job(job, jobs, answers)
    with suppress(OSError):
        answers.send(None)


@contextmanager
def client_workers(count: int, answers: dict[str, str]) -> Iterator[list[Connection]]:
    """Start the worker processes; yield the connection to each."""
    context = multiprocessing.get_context("spawn")
    processes = []
    connections = []
    for _ in range(count):
        job_end, worker_job_end = context.Pipe()
        answer_end, worker_answer_end = context.Pipe()
        process = context.Process(
            target=client_worker, args=(worker_job_end, worker_answer_end)
        )
        process.start()
        threading.Thread(
            target=relay_answers, args=(answer_end, answers), daemon=True
        ).start()
        processes.append(process)
        connections.append(job_end)
    try:
        yield connections
    finally:
        for conn in connections:
            with suppress(OSError):
                conn.send(None)
        for process in processes:
            process.join(STOP_LIMIT)
            if process.is_alive():
                process.terminate()
                process.join()


# --- The servers -----------------------------------------------------------------


@dataclass(slots=True)
class Server:
    """A running ACME server as the clients and the checks see it."""

    name: str
    directory_url: str
    ca_file: str
    root: x509.Certificate
    intermediate: x509.Certificate
    pid: int
    credentials: dict[str, tuple[str, str]]
    helper_pid: int | None = None
    control: Connection | None = None
    logged: list[str] = field(default_factory=list)

    def begin_window(self, profile: str | None) -> None:
        """Have Home Assistant start its loop lag ticker (and a profile)."""
        if self.control is not None:
            self.control.send(("begin", profile))
            self.control.recv()

    def end_window(self) -> dict[str, float] | None:
        """Return Home Assistant's loop lag in the window; None for Pebble."""
        if self.control is None:
            return None
        self.control.send(("end", None))
        return dict(self.control.recv())

    def cpu_seconds(self) -> tuple[float, float]:
        """Return the CPU time of the server and of its DNS helper."""
        helper = process_cpu_seconds(self.helper_pid) if self.helper_pid else 0.0
        return process_cpu_seconds(self.pid), helper


def write_listener_tls(folder: Path) -> tuple[Path, Path, Path]:
    """Write a root, and a leaf for 127.0.0.1 it signs, for Pebble's listener."""
    root = make_ca("Bench Pebble listener root", None, 0)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = sign(
        common_name(HOST),
        key,
        root,
        datetime.now(UTC) + timedelta(days=7),
        [
            x509.BasicConstraints(ca=False, path_length=None),
            key_usage(signs_certificates=False),
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            x509.SubjectAlternativeName([x509.IPAddress(ip_address(HOST))]),
        ],
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(root.certificate.public_bytes(serialization.Encoding.PEM))
    cert_file = folder / "cert.pem"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


def write_pebble_config(
    folder: Path, ports: dict[str, int], http_port: int, keys: dict[str, str]
) -> tuple[Path, Path]:
    """Write Pebble's listener certificate and configuration; return both files."""
    ca_file, cert_file, key_file = write_listener_tls(folder)
    config = {
        "pebble": {
            "listenAddress": f"{HOST}:{ports['acme']}",
            "managementListenAddress": f"{HOST}:{ports['management']}",
            "certificate": str(cert_file),
            "privateKey": str(key_file),
            "httpPort": http_port,
            "tlsPort": ports["tls"],
            "ocspResponderURL": "",
            "externalAccountBindingRequired": True,
            "externalAccountMACKeys": keys,
        }
    }
    config_file = folder / "pebble-config.json"
    config_file.write_text(json.dumps(config, indent=2))
    return ca_file, config_file


def wait_for_pebble(url: str, ca_file: Path, process: subprocess.Popen[bytes]) -> None:
    """Wait until Pebble's directory answers."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pebble exited with {process.returncode}")
        with suppress(requests.RequestException):
            if requests.get(url, verify=str(ca_file), timeout=5).ok:
                return
        time.sleep(0.1)
    raise RuntimeError("pebble's directory did not answer within 30 s")


def fetch_pem(url: str, ca_file: Path) -> x509.Certificate:
    """Fetch one certificate from Pebble's management interface."""
    response = requests.get(url, verify=str(ca_file), timeout=10)
    response.raise_for_status()
    return x509.load_pem_x509_certificate(response.content)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process started here, and reap it."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def command_line(executable: str, flags: dict[str, str]) -> list[str]:
    """Return an executable with its flags, each followed by its value."""
    return [executable, *(item for pair in flags.items() for item in pair)]


@contextmanager
def pebble_server(
    folder: Path, http_port: int, names: list[str], *, reuse: bool
) -> Iterator[Server]:
    """Run pebble-challtestsrv and Pebble on loopback; yield Pebble as a Server."""
    folder.mkdir()
    credentials = {
        name: (f"bench-{index}", base64_url(secrets.token_bytes(MAC_KEY_BYTES)))
        for index, name in enumerate(names)
    }
    ports = {key: free_port() for key in ("acme", "management", "tls", "dns", "dns_ui")}
    ca_file, config_file = write_pebble_config(
        folder, ports, http_port, dict(credentials.values())
    )
    # Every name resolves to 127.0.0.1 and to no IPv6 address; nothing else of
    # pebble-challtestsrv listens.
    resolver = {
        "-defaultIPv4": HOST,
        "-defaultIPv6": "",
        "-dns01": f"{HOST}:{ports['dns']}",
        "-management": f"{HOST}:{ports['dns_ui']}",
        "-http01": "",
        "-https01": "",
        "-tlsalpn01": "",
    }
    pebble_flags = {"-config": str(config_file), "-dnsserver": f"{HOST}:{ports['dns']}"}
    env = {**os.environ, **PEBBLE_ENV, "PEBBLE_AUTHZREUSE": "100" if reuse else "0"}
    with ExitStack() as stack:
        log = stack.enter_context((folder / "pebble.log").open("wb"))
        dns = subprocess.Popen(  # noqa: S603 - our own fixed command line
            command_line(CHALLTESTSRV_COMMAND, resolver),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(stop_process, dns)
        pebble = subprocess.Popen(  # noqa: S603 - our own fixed command line
            command_line(PEBBLE_COMMAND, pebble_flags),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(stop_process, pebble)
        directory_url = f"https://{HOST}:{ports['acme']}/dir"
        wait_for_pebble(directory_url, ca_file, pebble)
        management = f"https://{HOST}:{ports['management']}"
        yield Server(
            name=PEBBLE,
            directory_url=directory_url,
            ca_file=str(ca_file),
            root=fetch_pem(f"{management}/roots/0", ca_file),
            intermediate=fetch_pem(f"{management}/intermediates/0", ca_file),
            pid=pebble.pid,
            credentials=credentials,
            helper_pid=dns.pid,
        )


def base64_url(data: bytes) -> str:
    """Encode bytes as base64url without padding, as EAB MAC keys are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- Home PKI in a test Home Assistant (child process) ---------------------------


@dataclass(frozen=True, slots=True)
class HomePkiPlan:
    """Where the child's Home Assistant lives and what it sets up."""

    config_dir: str
    acme_port: int
    http_port: int
    names: tuple[str, ...]


def acme_entry(port: int) -> MockConfigEntry:
    """Return a home CA that may issue for loopback, its ACME server at `port`."""
    data = dict(CA_DATA)
    data[CONF_PERMITTED_IP_RANGES] = [*CA_DATA[CONF_PERMITTED_IP_RANGES], "127.0.0.0/8"]
    return MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        data=data,
        options={CONF_ACME_PORT: port, CONF_ACME_NAMES: [HOST]},
        unique_id="home",
    )


async def add_pulling_device(
    hass: HomeAssistant, entry: MockConfigEntry, number: int, name: str
) -> dict[str, str]:
    """Add a device that pulls its certificate through the subentry flow.

    Return what the flow's credentials step shows: directory URL, key ID and
    MAC key.
    """
    flows = hass.config_entries.subentries
    result = await flows.async_init(
        (entry.entry_id, SUBENTRY_ISSUED), context={"source": "user"}
    )
    result = await flows.async_configure(
        result["flow_id"],
        {
            CONF_NAME: f"Bench device {number}",
            "dns_names": [name],
            "ip_addresses": [HOST],
            CONF_RENEWAL: Renewal.DEVICE_PULL,
        },
    )
    if result["type"] is not FlowResultType.FORM or result["step_id"] != "credentials":
        raise RuntimeError(f"the device flow showed no credentials: {result}")
    shown = dict(result["description_placeholders"] or {})
    result = await flows.async_configure(result["flow_id"], {})
    if result["type"] is not FlowResultType.CREATE_ENTRY:
        raise RuntimeError(f"the device flow created no subentry: {result}")
    return shown


async def follow_parent(hass: HomeAssistant, conn: Connection) -> None:
    """Open and close measured windows until the parent says stop."""
    lag = LoopLag()
    profiler: cProfile.Profile | None = None
    profile_path: str | None = None
    while True:
        try:
            command, argument = await hass.async_add_executor_job(conn.recv)
        except EOFError:
            return
        if command == "begin":
            lag = LoopLag()
            lag.start()
            profile_path = argument
            if profile_path:
                profiler = cProfile.Profile()
                profiler.enable()
            conn.send(None)
        elif command == "end":
            if profiler is not None and profile_path:
                profiler.disable()
                profiler.dump_stats(profile_path)
                profiler = None
            lag_max, lag_p99 = lag.stop()
            conn.send({"lag_max": lag_max, "lag_p99": lag_p99})
        else:
            return


async def serve_home_pki(plan: HomePkiPlan, conn: Connection) -> None:
    """Set up the CA and its devices, hand their credentials over, then serve."""
    ports = ValidationPorts(http=plan.http_port)
    with patch("custom_components.home_pki.acme.VALIDATION_PORTS", ports):
        async with bench_home_assistant(plan.config_dir, on_disk=False) as hass:
            await prepare(hass, DOMAIN)
            await hass.async_start()
            entry = acme_entry(plan.acme_port)
            entry.add_to_hass(hass)
            await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            if (problem := entry_problems(hass, DOMAIN)) is not None:
                raise RuntimeError(problem)
            shown = [
                await add_pulling_device(hass, entry, number, name)
                for number, name in enumerate(plan.names)
            ]
            await hass.async_block_till_done()
            coordinator = entry.runtime_data
            conn.send(
                {
                    "ok": True,
                    "directory_url": shown[0]["directory_url"],
                    "ca_pem": coordinator.ca_pem,
                    "root_pem": coordinator.root_pem,
                    "intermediate_pem": coordinator.intermediate_pem,
                    "credentials": {
                        name: (item["key_id"], item["mac_key"])
                        for name, item in zip(plan.names, shown, strict=True)
                    },
                }
            )
            await follow_parent(hass, conn)
            await hass.config_entries.async_unload(entry.entry_id)


def home_pki_child(plan: HomePkiPlan, conn: Connection) -> None:
    """Run Home Assistant with Home PKI until told to stop (the child's entry)."""
    logged = ErrorLog()
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger().addHandler(logged)
    asyncio.set_event_loop_policy(runner.HassEventLoopPolicy(False))
    result: dict[str, Any] = {"ok": True}
    try:
        asyncio.run(serve_home_pki(plan, conn))
    except Exception as err:
        LOGGER.exception("Home Assistant with Home PKI stopped")
        result = {"ok": False, "reason": f"{type(err).__name__}: {err}"}
    result["errors"] = logged.messages
    with suppress(OSError):
        conn.send(result)


@contextmanager
def home_pki_server(folder: Path, http_port: int, names: list[str]) -> Iterator[Server]:
    """Run Home PKI in a child Home Assistant; yield its ACME server as a Server."""
    folder.mkdir()
    context = multiprocessing.get_context("spawn")
    conn, child_end = context.Pipe()
    plan = HomePkiPlan(str(folder), free_port(), http_port, tuple(names))
    process = context.Process(target=home_pki_child, args=(plan, child_end))
    process.start()
    child_end.close()
    server: Server | None = None
    try:
        if not conn.poll(START_LIMIT):
            raise RuntimeError(f"Home PKI was not ready within {START_LIMIT:.0f} s")
        ready = conn.recv()
        if not ready["ok"]:
            raise RuntimeError(f"Home PKI did not start: {ready['reason']}")
        ca_file = folder / "ca.pem"
        ca_file.write_text(ready["ca_pem"])
        server = Server(
            name=HOME_PKI,
            directory_url=ready["directory_url"],
            ca_file=str(ca_file),
            root=x509.load_pem_x509_certificate(ready["root_pem"].encode()),
            intermediate=x509.load_pem_x509_certificate(
                ready["intermediate_pem"].encode()
            ),
            pid=process.pid or 0,
            credentials=dict(ready["credentials"]),
            control=conn,
        )
        yield server
    finally:
        with suppress(OSError):
            conn.send(("stop", None))
        if server is not None and conn.poll(STOP_LIMIT):
            with suppress(EOFError):
                final = conn.recv()
                server.logged.extend(final["errors"])
                if not final["ok"]:
                    server.logged.append(f"the child stopped: {final['reason']}")
        process.join(STOP_LIMIT)
        if process.is_alive():
            process.terminate()
            process.join()


# --- One round against one server ------------------------------------------------


@dataclass(slots=True)
class RunResult:
    """One round of orders against one server."""

    server: str
    ok: bool
    reason: str | None = None
    orders: list[OrderRecord] = field(default_factory=list)
    wall: float = 0.0
    server_cpu: float = 0.0
    helper_cpu: float = 0.0
    client_cpu: float = 0.0
    validations: int = 0
    lag: dict[str, float] | None = None

    @property
    def completed(self) -> list[OrderRecord]:
        """Return the orders that got their certificate."""
        return [record for record in self.orders if record.error is None]

    @property
    def rate(self) -> float:
        """Return the orders completed per second of the window."""
        return len(self.completed) / self.wall if self.wall > 0 else 0.0

    @property
    def latencies(self) -> list[float]:
        """Return each completed order's time, newOrder to certificate."""
        return [record.downloaded - record.started for record in self.completed]

    @property
    def cpu_per_order(self) -> float:
        """Return the server process's CPU time per completed order."""
        return self.server_cpu / len(self.completed) if self.completed else 0.0


def run_round(
    server: Server,
    workers: list[Connection],
    plans: list[list[AccountPlan]],
    args: argparse.Namespace,
    responder: ChallengeServer,
    *,
    profile: str | None = None,
) -> RunResult:
    """Have every worker order its share from one server; measure the window."""
    for conn, accounts in zip(workers, plans, strict=True):
        bound = tuple(
            AccountPlan(plan.name, plan.orders, *server.credentials[plan.name])
            for plan in accounts
        )
        conn.send(
            Job(
                directory_url=server.directory_url,
                ca_file=server.ca_file,
                accounts=bound,
                poll=args.poll,
                deactivate=not args.reuse,
                limit=args.limit,
            )
        )
    ready = [conn.recv() for conn in workers]
    problems = [answer["reason"] for answer in ready if not answer["ok"]]
    if problems:
        for conn in workers:
            conn.send(False)
        return RunResult(server.name, ok=False, reason=problems[0])

    server.begin_window(profile)
    cpu, helper_cpu = server.cpu_seconds()
    validations = responder.requests
    for conn in workers:
        conn.send(True)
    done = [conn.recv() for conn in workers]
    cpu_after, helper_after = server.cpu_seconds()
    lag = server.end_window()

    orders = [record for answer in done for record in answer["orders"]]
    completed = [record for record in orders if record.error is None]
    wall = (
        max(record.downloaded for record in completed)
        - min(record.started for record in orders)
        if completed
        else 0.0
    )
    failed = [record.error for record in orders if record.error is not None]
    return RunResult(
        server.name,
        ok=not failed,
        reason=f"{len(failed)} orders failed, the first: {failed[0]}"
        if failed
        else None,
        orders=orders,
        wall=wall,
        server_cpu=cpu_after - cpu,
        helper_cpu=helper_after - helper_cpu,
        client_cpu=sum(answer["cpu_s"] for answer in done),
        validations=responder.requests - validations,
        lag=lag,
    )


# --- Checking what was issued ----------------------------------------------------


@dataclass(slots=True)
class IssuedCheck:
    """What the certificates of every round of one server turned out to be."""

    ordered: int = 0
    good: int = 0
    serials: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def leaf_problem(server: Server, record: OrderRecord) -> str | None:
    """Return what is wrong with an order's certificate, or None."""
    try:
        leaf = x509.load_pem_x509_certificates(record.chain_pem.encode())[0]
    except ValueError:
        return f"{record.name}: the download holds no certificate"
    try:
        leaf.verify_directly_issued_by(server.intermediate)
    except (InvalidSignature, TypeError, ValueError) as err:
        return f"{record.name}: not signed by the intermediate ({err or type(err)})"
    spki = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if spki != record.public_key:
        return f"{record.name}: the certificate is for another key"
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return f"{record.name}: the certificate has no subjectAltName"
    if san.value.get_values_for_type(x509.DNSName) != [record.name]:
        return f"{record.name}: the certificate names something else"
    return None


def check_issued(server: Server, runs: list[RunResult]) -> IssuedCheck:
    """Check every certificate a server issued against its own CA."""
    check = IssuedCheck()
    try:
        server.intermediate.verify_directly_issued_by(server.root)
    except (InvalidSignature, TypeError, ValueError):
        check.problems.append("the intermediate is not signed by the root")
    for run in runs:
        check.ordered += len(run.orders)
        for record in run.completed:
            problem = leaf_problem(server, record)
            if problem is not None:
                check.problems.append(problem)
                continue
            leaf = x509.load_pem_x509_certificates(record.chain_pem.encode())[0]
            if leaf.serial_number in check.serials:
                check.problems.append(f"{record.name}: a serial number issued twice")
                continue
            check.serials.add(leaf.serial_number)
            check.good += 1
    return check


# --- The report ------------------------------------------------------------------


def milliseconds(seconds: float) -> str:
    """Format seconds as milliseconds."""
    return f"{seconds * 1000:.0f} ms"


def describe(server: str) -> str:
    """Return a server's label."""
    return "Home PKI" if server == HOME_PKI else "Pebble"


def print_rate(server: str, best: RunResult, runs: list[RunResult]) -> None:
    """Print a server's orders per second."""
    rates = [run.rate for run in runs if run.ok]
    line(
        "orders/s",
        describe(server),
        f"{best.rate:.1f}",
        f"best of {len(rates)} rounds; {len(best.completed)} orders in "
        f"{best.wall:.2f} s, first newOrder to last certificate; rounds in order "
        + ", ".join(f"{rate:.1f}" for rate in rates),
    )


def print_latency(server: str, best: RunResult) -> None:
    """Print a server's order latency and where an order's time goes."""
    completed = best.completed
    totals = best.latencies
    line(
        "latency",
        describe(server),
        milliseconds(percentile(totals, 0.5)),
        f"p50 per order; p95 {milliseconds(percentile(totals, 0.95))}, "
        f"worst {milliseconds(max(totals))}",
    )
    steps = {
        "newOrder": [record.ordered - record.started for record in completed],
        "validation": [record.validated - record.ordered for record in completed],
        "finalize": [record.issued - record.validated for record in completed],
        "download": [record.downloaded - record.issued for record in completed],
    }
    line(
        "steps",
        describe(server),
        "p50",
        ", ".join(
            f"{step} {milliseconds(percentile(values, 0.5))}"
            for step, values in steps.items()
        ),
    )


def print_work(server: str, best: RunResult, poll: float) -> None:
    """Print the polls, validation requests and CPU time per order."""
    count = len(best.completed)
    authz = sum(record.authz_polls for record in best.completed) / count
    order = sum(record.order_polls for record in best.completed) / count
    line(
        "polls",
        describe(server),
        f"{authz + order:.2f}",
        f"per order ({milliseconds((authz + order) * poll)} asleep): {authz:.2f} "
        f"of the authorization, {order:.2f} of the order; "
        f"{best.validations / count:.1f} http-01 requests per order",
    )
    helper = (
        f"; pebble-challtestsrv (its DNS) {milliseconds(best.helper_cpu / count)}"
        if server == PEBBLE
        else ""
    )
    line(
        "CPU",
        describe(server),
        milliseconds(best.cpu_per_order),
        f"server process per order, {best.server_cpu / best.wall:.2f} CPUs busy"
        f"{helper}; clients {milliseconds(best.client_cpu / count)} per order",
    )
    if best.lag is not None:
        line(
            "loop lag",
            describe(server),
            milliseconds(best.lag["lag_max"]),
            "Home Assistant's event loop, worst oversleep of a 10 ms ticker; "
            f"99th percentile {milliseconds(best.lag['lag_p99'])}",
        )


def print_check(server: Server, check: IssuedCheck) -> None:
    """Print whether every order got a good certificate of its own."""
    issuer = server.intermediate.subject.rfc4514_string()
    root = server.root.subject.rfc4514_string()
    line(
        "issued",
        describe(server.name),
        f"{check.good}/{check.ordered}",
        f"every round; {len(check.serials)} serial numbers, each leaf for its key "
        f"and name, signed by {issuer}, signed by {root}",
    )
    for problem in check.problems[:5]:
        print(f"{'':<9} problem: {problem}")


def print_server(
    server: Server, runs: list[RunResult], check: IssuedCheck, poll: float
) -> RunResult | None:
    """Print every figure of one server; return its best round."""
    good = [run for run in runs if run.ok]
    for run in runs:
        if not run.ok:
            line("FAILED", describe(server.name), "", run.reason or "")
    best = max(good, key=lambda run: run.rate, default=None)
    if best is not None:
        print_rate(server.name, best, runs)
        print_latency(server.name, best)
        print_work(server.name, best, poll)
    print_check(server, check)
    for message in server.logged:
        print(f"{'':<9} logged: {message}")
    return best


def print_facts(args: argparse.Namespace, port: int) -> None:
    """Print the machine, the software and what each round does."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"# Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs; Home Assistant {ha_version}; "
        f"acme {metadata.version('acme')}; cryptography {cryptography.__version__}; "
        f"Pebble {pebble_version()}"
    )
    print(
        f"# {args.orders} orders a round from {args.workers} client processes, an "
        f"account per {args.per_account} orders, new accounts every round; EC P-256 "
        f"keys, CSRs made before the window; best of {args.rounds} rounds, the "
        "servers' order turned each round"
    )
    reuse = (
        "authorizations kept: both servers reuse a valid one (Pebble "
        "PEBBLE_AUTHZREUSE=100)"
        if args.reuse
        else "then its authorization deactivated, so neither server reuses it and "
        "every order is validated (Pebble PEBBLE_AUTHZREUSE=0 as well)"
    )
    print(
        f"# an order: newOrder, its authorization, http-01 answered on {HOST}:{port}, "
        f"the authorization and then the order polled every {args.poll * 1000:.0f} ms "
        f"until valid (the same loop for both), the certificate downloaded; {reuse}"
    )
    print(
        "# Pebble with PEBBLE_VA_NOSLEEP=1 and PEBBLE_WFE_NONCEREJECT=0, names "
        "resolved to 127.0.0.1 by pebble-challtestsrv; Home PKI in a test Home "
        "Assistant in its own process, each account a device at 127.0.0.1"
    )
    print(f"# load average at the start {load}")


def pebble_version() -> str:
    """Return Pebble's version, from `pebble -version` or else from its package."""
    with suppress(OSError, subprocess.SubprocessError):
        shown = subprocess.run(  # noqa: S603 - fixed arguments
            [PEBBLE_COMMAND, "-version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if shown.returncode == 0 and shown.stdout.strip():
            return shown.stdout.strip()
    dpkg = shutil.which("dpkg-query")
    if dpkg:
        with suppress(OSError, subprocess.SubprocessError):
            package = subprocess.run(  # noqa: S603 - fixed arguments
                [dpkg, "-W", "-f=${Version}", "pebble"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if package.returncode == 0 and package.stdout:
                return f"{package.stdout} (its Debian package; no -version flag)"
    return "(version unknown)"


def profile_summary(path: str) -> str:
    """Return where Home Assistant's process spent a profiled round."""
    stream = io.StringIO()
    stats = pstats.Stats(path, stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)
    return stream.getvalue()


def report(
    servers: dict[str, Server], results: dict[str, list[RunResult]], poll: float
) -> bool:
    """Print both servers' figures and the ratios; return whether all went well."""
    bests: dict[str, RunResult | None] = {}
    all_good = True
    for name in SERVERS:
        print(f"\n== {describe(name)}")
        check = check_issued(servers[name], results[name])
        bests[name] = print_server(servers[name], results[name], check, poll)
        all_good = (
            all_good
            and not check.problems
            and check.good == check.ordered
            and all(run.ok for run in results[name])
        )
    ours, theirs = bests[HOME_PKI], bests[PEBBLE]
    if ours is None or theirs is None:
        return False
    print()
    line(
        "ratio",
        "orders/s, Home PKI / Pebble",
        ratio(ours.rate, theirs.rate),
        "target 1 or more (not asserted)",
    )
    line(
        "ratio",
        "p50 latency, Pebble / Home PKI",
        ratio(percentile(theirs.latencies, 0.5), percentile(ours.latencies, 0.5)),
        "above 1: Home PKI's orders are quicker",
    )
    line(
        "ratio",
        "server CPU per order, Home PKI / Pebble",
        ratio(ours.cpu_per_order, theirs.cpu_per_order),
        "above 1: Home PKI spends more CPU time on an order",
    )
    return all_good


def ratio(numerator: float, denominator: float) -> str:
    """Return a ratio for printing."""
    return f"{numerator / denominator:.2f}" if denominator > 0 else "inf"


# --- Main --------------------------------------------------------------------------


def main(args: argparse.Namespace) -> int:
    """Start both servers and the clients, run the rounds, print the report."""
    layout = plan_rounds(
        args.orders, args.workers, args.per_account, args.rounds + bool(args.profile)
    )
    names = [
        plan.name for round_plan in layout for plans in round_plan for plan in plans
    ]
    results: dict[str, list[RunResult]] = {name: [] for name in SERVERS}
    profile: str | None = None
    with (
        tempfile.TemporaryDirectory(dir=args.dir) as folder,
        challenge_responder() as responder,
        client_workers(args.workers, responder.answers) as workers,
        home_pki_server(Path(folder, HOME_PKI), responder.port, names) as home,
        pebble_server(
            Path(folder, PEBBLE), responder.port, names, reuse=args.reuse
        ) as pebble,
    ):
        servers = {HOME_PKI: home, PEBBLE: pebble}
        print_facts(args, responder.port)
        for number in range(args.rounds):
            for name in SERVERS if number % 2 == 0 else SERVERS[::-1]:
                results[name].append(
                    run_round(servers[name], workers, layout[number], args, responder)
                )
        if args.profile:
            path = str(Path(folder, "home_pki.prof"))
            run_round(home, workers, layout[-1], args, responder, profile=path)
            profile = profile_summary(path)
    good = report(servers, results, args.poll)
    if profile is not None:
        # cProfile follows every thread on Python 3.12 and later.
        print("\n== profile of Home Assistant's process, all threads, one more round")
        print(profile)
    return 0 if good else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="orders a round")
    parser.add_argument("--workers", type=int, default=4, help="client processes")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of each; the fastest counts"
    )
    parser.add_argument(
        "--per-account",
        type=int,
        default=25,
        help="orders per account (Home PKI allows 50 at once and 300 requests)",
    )
    parser.add_argument(
        "--poll", type=float, default=0.05, help="seconds between polls"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep authorizations, so both servers reuse them",
    )
    parser.add_argument(
        "--limit", type=float, default=60, help="seconds a poll loop may take"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile Home Assistant's process in one more Home PKI round",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="folder for the servers' files (disk)"
    )
    args = parser.parse_args(argv)
    if args.orders < 1 or args.workers < 1 or args.rounds < 1:
        parser.error("--orders, --workers and --rounds must be at least 1")
    most = min(int(ORDER_BURST), int(REQUEST_BURST) // REQUESTS_PER_ORDER - 1)
    if not 1 <= args.per_account <= most:
        parser.error(
            f"--per-account must be 1 to {most}: Home PKI lets an account make "
            f"{ORDER_BURST:.0f} orders and {REQUEST_BURST:.0f} requests at once"
        )
    return args


def run(argv: list[str] | None = None) -> None:
    """Run the benchmark; exit non-zero if an order failed or a check did."""
    args = parse_args(argv)
    start = time.perf_counter()
    status = main(args)
    print(f"# finished in {time.perf_counter() - start:.0f} s")
    sys.exit(status)


if __name__ == "__main__":
    run()
