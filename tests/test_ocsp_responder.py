"""Tests of the OCSP responder, checked with the openssl command line."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
import subprocess
from unittest.mock import patch
from urllib.parse import quote

from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.x509 import ocsp
from freezegun.api import FrozenDateTimeFactory
import pytest

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_pki import ocsp as responder_module
from custom_components.home_pki.const import DOMAIN
from custom_components.home_pki.ocsp import MAX_REQUEST_SIZE, OCSP_REFRESH
from custom_components.home_pki.pki.inspect import load_certificates
from custom_components.home_pki.pki.revocation import (
    OCSP_LIFETIME,
    build_ocsp_request,
)

from .conftest import add_issued
from .helpers import certificate_entity, certificate_named, openssl, tick
from .test_services import make_csr

# A nonce whose base64 holds "+" and "/" at every alignment.
AWKWARD_NONCE = b"\xff" * 6 + (b"\xfb\xef\xbe" * 2 + b"\x00") * 3


@dataclass(frozen=True, kw_only=True, slots=True)
class Home:
    """A loaded CA with one issued certificate, its files and its responder."""

    hass: HomeAssistant
    entry: MockConfigEntry
    client: TestClient
    folder: Path
    certificate_id: str

    @property
    def path(self) -> str:
        """Return the path of the responder."""
        return f"/api/{DOMAIN}/{self.entry.entry_id}/ocsp"

    @property
    def url(self) -> str:
        """Return the URL of the responder on the test server's real port."""
        return str(self.client.make_url(self.path))

    def certificate(self, name: str) -> x509.Certificate:
        """Load one of the PEM files written for openssl."""
        return load_certificates((self.folder / f"{name}.pem").read_bytes())[0]

    async def openssl(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """Run openssl in the executor, so the loop serves what it asks for."""
        return await self.hass.async_add_executor_job(lambda: openssl(*args))

    async def ask(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """Ask the responder over the network with openssl ocsp, and verify."""
        return await self.openssl(
            "ocsp",
            "-url",
            self.url,
            "-issuer",
            self.folder / "intermediate.pem",
            "-CAfile",
            self.folder / "root.pem",
            "-verify_other",
            self.folder / "intermediate.pem",
            *args,
        )

    async def post(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        """Post a request and return the answer and its headers."""
        response = await self.client.post(
            self.path, data=body, headers={"Content-Type": "application/ocsp-request"}
        )
        assert response.status == 200
        assert response.content_type == "application/ocsp-response"
        return await response.read(), dict(response.headers)

    async def revoke(self, reason: str) -> None:
        """Revoke the issued certificate through the action."""
        await self.hass.services.async_call(
            DOMAIN,
            "revoke",
            {
                "entity_id": certificate_entity(
                    self.hass, self.certificate_id, "expires"
                ),
                "reason": reason,
            },
            blocking=True,
        )


@pytest.fixture
async def home(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    tmp_path: Path,
) -> Home:
    """Issue a certificate and write it, the intermediate and the root to files."""
    await add_issued(hass, init_integration)
    certificate_id = certificate_named(init_integration, "Mosquitto broker")
    exported = await hass.services.async_call(
        DOMAIN,
        "export",
        {"entity_id": certificate_entity(hass, certificate_id, "expires")},
        blocking=True,
        return_response=True,
    )
    assert exported is not None
    (item,) = exported["certificates"]  # type: ignore[misc]
    (tmp_path / "leaf.pem").write_text(item["certificate"])
    (tmp_path / "intermediate.pem").write_text(item["chain"])
    (tmp_path / "root.pem").write_text(item["root"])
    return Home(
        hass=hass,
        entry=init_integration,
        client=await hass_client_no_auth(),
        folder=tmp_path,
        certificate_id=certificate_id,
    )


def answer_of(body: bytes) -> ocsp.OCSPResponse:
    """Parse an OCSP response."""
    return ocsp.load_der_ocsp_response(body)


def nonce_of(response: ocsp.OCSPResponse) -> bytes | None:
    """Return the nonce of a response, if it has one."""
    try:
        return response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


async def test_issued_certificates_name_the_responder(home: Home) -> None:
    """The AIA of an issued certificate names the responder next to the issuer."""
    leaf = home.folder / "leaf.pem"
    uri = await home.openssl("x509", "-in", leaf, "-noout", "-ocsp_uri")
    assert uri.returncode == 0, uri.stderr
    coordinator = home.entry.runtime_data
    assert uri.stdout.strip() == f"{coordinator.public_url}/ocsp"
    assert uri.stdout.strip().endswith(f"/api/home_pki/{home.entry.entry_id}/ocsp")

    text = (await home.openssl("x509", "-in", leaf, "-noout", "-text")).stdout
    assert f"OCSP - URI:{coordinator.public_url}/ocsp" in text
    assert f"CA Issuers - URI:{coordinator.public_url}/intermediate.crt" in text


async def test_openssl_reads_good_then_revoked(home: Home) -> None:
    """A live certificate is good; after the revoke action, revoked with its reason."""
    result = await home.ask("-cert", home.folder / "leaf.pem", "-resp_text")
    assert result.returncode == 0, result.stderr
    assert "Response verify OK" in result.stderr
    # openssl sends a nonce by default and checks that it comes back.
    assert "OCSP Nonce" in result.stdout
    assert "WARNING: no nonce in response" not in result.stdout + result.stderr
    assert f"{home.folder / 'leaf.pem'}: good" in result.stdout
    # Signed by the intermediate itself, named by its key hash.
    assert "Responder Id: " in result.stdout
    assert "Certificate:" not in result.stdout

    await home.revoke("key_compromise")
    result = await home.ask("-cert", home.folder / "leaf.pem")
    assert result.returncode == 0, result.stderr
    assert "Response verify OK" in result.stderr
    assert f"{home.folder / 'leaf.pem'}: revoked" in result.stdout
    assert "Reason: keyCompromise" in result.stdout
    assert "Revocation Time:" in result.stdout


async def test_unknown_serial_numbers(home: Home) -> None:
    """Serial numbers the intermediate never issued are unknown, its own among them."""
    intermediate = home.certificate("intermediate")
    for serial in (0x1234567890ABCDEF, intermediate.serial_number):
        result = await home.ask("-serial", hex(serial))
        assert result.returncode == 0, result.stderr
        assert "Response verify OK" in result.stderr
        assert f"{hex(serial)}: unknown" in result.stdout


async def test_another_issuer_is_unauthorized(home: Home) -> None:
    """A request about a certificate of another issuer gets unauthorized."""
    result = await home.openssl(
        "ocsp",
        "-url",
        home.url,
        "-issuer",
        home.folder / "root.pem",
        "-serial",
        "1",
    )
    assert "Responder Error: unauthorized (6)" in result.stdout + result.stderr


async def test_csr_signed_certificate(home: Home, tmp_path: Path) -> None:
    """A certificate signed from a CSR is good, and revoked once revoked by serial."""
    csr = make_csr(
        tmp_path, "/CN=esp32.home.arpa", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"
    )
    signed = await home.hass.services.async_call(
        DOMAIN,
        "sign_csr",
        {"config_entry_id": home.entry.entry_id, "csr": csr},
        blocking=True,
        return_response=True,
    )
    assert signed is not None
    device = tmp_path / "device.pem"
    device.write_text(str(signed["certificate"]))
    result = await home.ask("-cert", device)
    assert f"{device}: good" in result.stdout, result.stderr

    await home.hass.services.async_call(
        DOMAIN,
        "revoke",
        {
            "config_entry_id": home.entry.entry_id,
            "serial_number": signed["serial_number"],
            "reason": "superseded",
        },
        blocking=True,
    )
    result = await home.ask("-cert", device)
    assert f"{device}: revoked" in result.stdout, result.stderr
    assert "Reason: superseded" in result.stdout


async def test_get_with_any_base64(home: Home) -> None:
    """GET reads plain, URL-safe and percent-encoded base64, and is cacheable."""
    request = home.folder / "request.der"
    made = await home.openssl(
        "ocsp",
        "-issuer",
        home.folder / "intermediate.pem",
        "-cert",
        home.folder / "leaf.pem",
        "-no_nonce",
        "-reqout",
        request,
    )
    assert made.returncode == 0, made.stderr
    der = request.read_bytes()
    plain = base64.b64encode(der).decode()
    bodies = []
    for encoded in (
        quote(plain, safe=""),
        base64.urlsafe_b64encode(der).decode().rstrip("="),
        plain,
    ):
        response = await home.client.get(f"{home.path}/{encoded}")
        assert response.status == 200
        assert response.content_type == "application/ocsp-response"
        bodies.append(await response.read())
        headers = response.headers
        assert headers["Cache-Control"].startswith("max-age=")
        max_age = int(headers["Cache-Control"].split(",")[0].split("=")[1])
        assert 0 < max_age <= OCSP_REFRESH.total_seconds()
        assert headers["ETag"]
        assert headers["Last-Modified"]
        assert headers["Expires"]
    # One signed answer, served from the cache to all three.
    assert bodies[0] == bodies[1] == bodies[2]

    (home.folder / "response.der").write_bytes(bodies[0])
    result = await home.openssl(
        "ocsp",
        "-respin",
        home.folder / "response.der",
        "-issuer",
        home.folder / "intermediate.pem",
        "-cert",
        home.folder / "leaf.pem",
        "-CAfile",
        home.folder / "root.pem",
        "-verify_other",
        home.folder / "intermediate.pem",
        "-no_nonce",
    )
    assert result.returncode == 0, result.stderr
    assert "Response verify OK" in result.stderr
    assert f"{home.folder / 'leaf.pem'}: good" in result.stdout

    again = await home.client.get(
        f"{home.path}/{plain}", headers={"If-None-Match": headers["ETag"]}
    )
    assert again.status == 304
    assert await again.read() == b""


async def test_get_with_a_nonce_in_awkward_base64(home: Home) -> None:
    """A GET request whose base64 has "+" and "/" is read; its nonce is echoed."""
    leaf, intermediate = home.certificate("leaf"), home.certificate("intermediate")
    der = build_ocsp_request(leaf, intermediate, nonce=AWKWARD_NONCE)
    plain = base64.b64encode(der).decode()
    assert "+" in plain
    assert "/" in plain
    for encoded in (quote(plain, safe=""), plain.replace("=", "")):
        response = await home.client.get(f"{home.path}/{encoded}")
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "ETag" not in response.headers
        answer = answer_of(await response.read())
        assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert answer.serial_number == leaf.serial_number
        assert nonce_of(answer) == AWKWARD_NONCE


async def test_nonce_is_echoed_and_never_cached(home: Home) -> None:
    """Each request with a nonce gets its own answer, carrying that nonce."""
    leaf, intermediate = home.certificate("leaf"), home.certificate("intermediate")
    answers = []
    for nonce in (b"1" * 16, b"2" * 16):
        body, headers = await home.post(
            build_ocsp_request(leaf, intermediate, nonce=nonce)
        )
        assert headers["Cache-Control"] == "no-store"
        answer = answer_of(body)
        assert nonce_of(answer) == nonce
        answers.append(body)
    assert answers[0] != answers[1]

    body, headers = await home.post(build_ocsp_request(leaf, intermediate))
    assert nonce_of(answer_of(body)) is None
    assert headers["Cache-Control"].startswith("max-age=")


async def test_cache_is_regenerated_on_revocation(
    home: Home, freezer: FrozenDateTimeFactory
) -> None:
    """Answers come from the cache until a revocation or the refresh interval."""
    leaf, intermediate = home.certificate("leaf"), home.certificate("intermediate")
    request = build_ocsp_request(leaf, intermediate)
    with patch.object(
        responder_module,
        "sign_ocsp_response",
        wraps=responder_module.sign_ocsp_response,
    ) as signer:
        first, _ = await home.post(request)
        second, _ = await home.post(request)
        assert second == first
        assert signer.call_count == 1
        answer = answer_of(first)
        assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert answer.next_update_utc == answer.this_update_utc + OCSP_LIFETIME

        await home.revoke("key_compromise")
        third, _ = await home.post(request)
        assert signer.call_count == 2
        answer = answer_of(third)
        assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason is x509.ReasonFlags.key_compromise
        assert (await home.post(request))[0] == third
        assert signer.call_count == 2

        await tick(home.hass, freezer, seconds=OCSP_REFRESH.total_seconds() + 1)
        fourth, _ = await home.post(request)
        assert signer.call_count == 3
        answer = answer_of(fourth)
        assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert answer.this_update_utc > answer_of(third).this_update_utc


async def test_cache_hit_needs_no_executor(home: Home) -> None:
    """A cached answer is served from the event loop alone."""
    leaf, intermediate = home.certificate("leaf"), home.certificate("intermediate")
    request = build_ocsp_request(leaf, intermediate)
    first, _ = await home.post(request)
    with patch.object(
        home.hass, "async_add_executor_job", side_effect=AssertionError
    ) as executor:
        reply = await home.entry.runtime_data.ocsp.async_answer(request)
        assert executor.call_count == 0
    assert reply.body == first
    assert (await home.post(request))[0] == first


@pytest.mark.parametrize(
    "body",
    [b"", b"garbage", bytes.fromhex("3003020101")],
    ids=["empty", "garbage", "not_a_request"],
)
async def test_malformed_requests(home: Home, body: bytes) -> None:
    """What is no OCSP request gets malformedRequest, never kept."""
    answer, headers = await home.post(body)
    assert (
        answer_of(answer).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("encoded", ["!!!", "MEQw", "%ZZ", "a" * 5])
async def test_malformed_get_requests(home: Home, encoded: str) -> None:
    """A GET path that is no base64 of a request gets malformedRequest."""
    response = await home.client.get(f"{home.path}/{encoded}")
    assert response.status == 200
    answer = answer_of(await response.read())
    assert answer.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


async def test_openssl_sees_malformed_request(home: Home) -> None:
    """The openssl client reads malformedRequest from the answer to garbage."""
    response = await home.client.post(home.path, data=b"garbage")
    (home.folder / "response.der").write_bytes(await response.read())
    result = await home.openssl("ocsp", "-respin", home.folder / "response.der")
    assert "Responder Error: malformedrequest (1)" in result.stdout + result.stderr


async def test_two_certificates_in_one_request(home: Home) -> None:
    """A request about two certificates at once is malformed."""
    leaf = home.folder / "leaf.pem"
    result = await home.ask("-cert", leaf, "-cert", leaf)
    assert "Responder Error: malformedrequest (1)" in result.stdout + result.stderr


async def test_oversized_request_is_refused(home: Home) -> None:
    """A body over the limit is refused, with or without a content length."""
    response = await home.client.post(home.path, data=bytes(MAX_REQUEST_SIZE + 1))
    assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_REQUEST_SIZE // 1024 + 1):
            yield bytes(1024)

    response = await home.client.post(home.path, data=chunks())
    assert response.status == 413


async def test_unknown_and_unloaded_entries(home: Home) -> None:
    """An unknown CA is not found; one that is not loaded asks to try later."""
    leaf, intermediate = home.certificate("leaf"), home.certificate("intermediate")
    request = build_ocsp_request(leaf, intermediate)
    response = await home.client.post(f"/api/{DOMAIN}/nope/ocsp", data=request)
    assert response.status == 404
    encoded = quote(base64.b64encode(request).decode(), safe="")
    response = await home.client.get(f"/api/{DOMAIN}/nope/ocsp/{encoded}")
    assert response.status == 404
    response = await home.client.get(home.path)
    assert response.status == 404

    assert await home.hass.config_entries.async_unload(home.entry.entry_id)
    assert home.entry.state is ConfigEntryState.NOT_LOADED
    for response in (
        await home.client.post(home.path, data=request),
        await home.client.get(f"{home.path}/{encoded}"),
    ):
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        answer = answer_of(await response.read())
        assert answer.response_status is ocsp.OCSPResponseStatus.TRY_LATER
