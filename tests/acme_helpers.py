"""A home with a device that pulls its certificate, and ACME clients to drive it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from ipaddress import ip_address
import json
import os
from pathlib import Path
import shutil
import socket
import subprocess
from typing import Any
from unittest.mock import patch

from acme import challenges, client, crypto_util, jws as acme_jws, messages
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
import josepy as jose
import pytest
import requests

from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_pki.const import (
    CONF_ACME_NAMES,
    CONF_ACME_PORT,
    CONF_PERMITTED_IP_RANGES,
    DOMAIN,
)
from custom_components.home_pki.pki.acme.server import ValidationPorts

from .conftest import CA_DATA

DEVICE_NAME = "nas.home.arpa"
# Clients' keep-alive connections, closed before Home Assistant stops so the
# listener's TLS connections end at once.
OPEN_SESSIONS: list[requests.Session] = []


def close_sessions() -> None:
    """Close every client session a test opened."""
    while OPEN_SESSIONS:
        OPEN_SESSIONS.pop().close()


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, kw_only=True, slots=True)
class Device:
    """A device that pulls its certificate, as its flow left it."""

    certificate_id: str
    directory_url: str
    key_id: str
    mac_key: str


def acme_entry(port: int) -> MockConfigEntry:
    """Return a home CA whose ACME server listens on loopback at `port`."""
    data = dict(CA_DATA)
    data[CONF_PERMITTED_IP_RANGES] = [*CA_DATA[CONF_PERMITTED_IP_RANGES], "127.0.0.0/8"]
    return MockConfigEntry(
        domain=DOMAIN,
        title="Home",
        data=data,
        options={CONF_ACME_PORT: port, CONF_ACME_NAMES: ["127.0.0.1"]},
        unique_id="home",
    )


async def setup_home(hass: HomeAssistant, folder: Path) -> tuple[MockConfigEntry, Path]:
    """Load a home CA with its ACME server; return it and a file of its chain."""
    entry = acme_entry(free_port())
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    ca_file = folder / "ca.pem"
    ca_file.write_text(entry.runtime_data.ca_pem)
    return entry, ca_file


@contextmanager
def challenge_ports(http: int, tls: int = 443) -> Iterator[None]:
    """Look for challenge answers on these loopback ports instead of 80 and 443."""
    with patch(
        "custom_components.home_pki.acme.VALIDATION_PORTS",
        ValidationPorts(http=http, tls=tls),
    ):
        yield


async def add_pulling_device(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    name: str = "NAS",
    dns_names: tuple[str, ...] = (DEVICE_NAME,),
    **fields: Any,
) -> Device:
    """Add a device-pull certificate through its flow; return what it showed."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "issued"), context={"source": "user"}
    )
    user_input = {
        CONF_NAME: name,
        "dns_names": list(dns_names),
        "ip_addresses": ["127.0.0.1"],
        "renewal": "device_pull",
    }
    user_input.update(fields)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "credentials"
    placeholders = result["description_placeholders"]
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    (certificate_id,) = (
        sub.subentry_id for sub in entry.subentries.values() if sub.title == name
    )
    return Device(
        certificate_id=certificate_id,
        directory_url=placeholders["directory_url"],
        key_id=placeholders["key_id"],
        mac_key=placeholders["mac_key"],
    )


class ChallengeServer:
    """An http-01 responder on loopback, as a device's ACME client runs one."""

    def __init__(self) -> None:
        """Answer nothing yet."""
        self.answers: dict[str, str] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.Response:
        """Return the key authorization of a token."""
        answer = self.answers.get(request.match_info["token"])
        if answer is None:
            return web.Response(status=404)
        return web.Response(text=answer)

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/.well-known/acme-challenge/{token}", self._answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()


@asynccontextmanager
async def challenge_server() -> AsyncIterator[ChallengeServer]:
    """Run an http-01 responder for the duration of a test."""
    server = ChallengeServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def account_key(kind: str = "ec") -> jose.JWK:
    """Return a fresh account key."""
    if kind == "rsa":
        return jose.JWKRSA(key=rsa.generate_private_key(65537, 2048))
    return jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def private_pem(key: Any) -> bytes:
    """Return a private key in PEM, for the acme library's CSR helper."""
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


class Client:
    """A blocking ACME client (the acme library), run in the executor."""

    def __init__(
        self, device: Device, ca_file: Path, key: jose.JWK | None = None
    ) -> None:
        """Prepare a client for a device's directory that trusts the home CA."""
        self.device = device
        self.key = key or account_key()
        self.network = client.ClientNetwork(
            self.key,
            alg=jose.RS256 if isinstance(self.key, jose.JWKRSA) else jose.ES256,
            verify_ssl=str(ca_file),
            user_agent="home-pki-tests",
        )
        self.directory = client.ClientV2.get_directory(
            device.directory_url, self.network
        )
        self.acme = client.ClientV2(self.directory, self.network)
        OPEN_SESSIONS.append(self.network.session)

    def register(
        self, *, key_id: str | None = None, mac_key: str | None = None, eab: bool = True
    ) -> messages.RegistrationResource:
        """Create the account, bound with the device's EAB credentials."""
        binding = (
            messages.ExternalAccountBinding.from_data(
                account_public_key=self.key.public_key(),
                kid=key_id or self.device.key_id,
                hmac_key=mac_key or self.device.mac_key,
                directory=self.directory,
            )
            if eab
            else None
        )
        registration = messages.NewRegistration.from_data(
            email="owner@example.com",
            terms_of_service_agreed=True,
            external_account_binding=binding,
        )
        return self.acme.new_account(registration)

    def order(
        self, names: tuple[str, ...] = (DEVICE_NAME,), key: Any = None
    ) -> tuple[messages.OrderResource, Any]:
        """Start an order for names with a fresh key; return it and the key."""
        certificate_key = key or ec.generate_private_key(ec.SECP256R1())
        addresses = []
        domains = []
        for name in names:
            try:
                addresses.append(ip_address(name))
            except ValueError:
                domains.append(name)
        csr = crypto_util.make_csr(
            private_pem(certificate_key), domains or None, ipaddrs=addresses or None
        )
        return self.acme.new_order(csr), certificate_key

    def answer_http01(
        self, order: messages.OrderResource, server: ChallengeServer
    ) -> None:
        """Put every authorization's http-01 answer up and ask for validation."""
        for authorization in order.authorizations:
            for challenge in authorization.body.challenges:
                if isinstance(challenge.chall, challenges.HTTP01):
                    response, validation = challenge.response_and_validation(self.key)
                    server.answers[challenge.chall.encode("token")] = validation
                    self.acme.answer_challenge(challenge, response)

    def obtain(
        self, server: ChallengeServer, names: tuple[str, ...] = (DEVICE_NAME,)
    ) -> messages.OrderResource:
        """Order, validate over http-01 and finalize; return the valid order."""
        order, _ = self.order(names)
        self.answer_http01(order, server)
        return self.acme.poll_and_finalize(order)


def run_client(
    program: str, folder: Path, trust: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run an ACME client's command line at home in `folder`, trusting the CA."""
    return subprocess.run(
        [shutil.which(program) or program, *args],
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(folder),
            **trust,
        },
        check=False,
        timeout=120,
    )


def run_certbot(
    folder: Path, ca_file: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run certbot with its folders under `folder`."""
    return run_client(
        "certbot",
        folder,
        # certbot's requests trust the home CA for the directory's TLS.
        {"REQUESTS_CA_BUNDLE": str(ca_file)},
        *args,
        "--config-dir",
        str(folder / "config"),
        "--work-dir",
        str(folder / "work"),
        "--logs-dir",
        str(folder / "logs"),
        "--non-interactive",
    )


class Raw:
    """Hand-made ACME requests for what a well-behaved client never sends."""

    def __init__(self, directory_url: str, ca_file: Path) -> None:
        """Talk to a directory over TLS that trusts the home CA."""
        self.session = requests.Session()
        # Given with each request: a session's own setting loses to the
        # REQUESTS_CA_BUNDLE of the environment.
        self.verify = str(ca_file)
        OPEN_SESSIONS.append(self.session)
        self.directory = self.get(directory_url).json()

    def get(self, url: str) -> requests.Response:
        """Fetch a URL of the server."""
        return self.session.get(url, verify=self.verify, timeout=10)

    def nonce(self) -> str:
        """Return a fresh nonce."""
        response = self.session.head(
            self.directory["newNonce"], verify=self.verify, timeout=10
        )
        return str(response.headers["Replay-Nonce"])

    def post(
        self,
        url: str,
        payload: Any,
        key: jose.JWK,
        *,
        kid: str | None = None,
        nonce: str | None = None,
        alg: Any = None,
        tamper: bool = False,
        content_type: str = "application/jose+json",
        to: str | None = None,
    ) -> requests.Response:
        """Sign a payload (None: POST-as-GET) for a URL and post it (there or `to`)."""
        data = b"" if payload is None else json.dumps(payload).encode()
        signed = acme_jws.JWS.sign(
            data,
            key=key,
            alg=alg or (jose.RS256 if isinstance(key, jose.JWKRSA) else jose.ES256),
            nonce=jose.decode_b64jose(nonce or self.nonce()),
            url=url,
            kid=kid,
        )
        body = signed.to_partial_json(flat=True)
        if tamper:
            signature = bytearray(jose.decode_b64jose(body["signature"]))
            signature[-1] ^= 1
            body["signature"] = jose.encode_b64jose(bytes(signature))
        return self.session.post(
            to or url,
            data=json.dumps(body),
            headers={"Content-Type": content_type},
            verify=self.verify,
            timeout=10,
        )


def problem_type(response: requests.Response) -> str:
    """Return the short ACME error type of a problem document."""
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert "Replay-Nonce" in response.headers
    document = response.json()
    assert document["status"] == response.status_code
    return str(document["type"]).removeprefix("urn:ietf:params:acme:error:")


def client_missing(program: str) -> str | None:
    """Say why a client's tests cannot run here, or None when they can."""
    if shutil.which(program) is not None:
        return None
    reason = f"{program} is not installed (apt-get install {program})"
    if os.environ.get("HOME_PKI_REQUIRE_PEERS"):
        pytest.fail(reason)
    return reason


def run_lego(
    folder: Path, ca_file: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run lego with its data under `folder`."""
    return run_client(
        "lego",
        folder,
        {"LEGO_CA_CERTIFICATES": str(ca_file)},
        "--path",
        str(folder),
        *args,
    )
