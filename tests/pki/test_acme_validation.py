"""Tests of http-01 and tls-alpn-01 validation against loopback servers and openssl."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
import hashlib
from ipaddress import ip_address
from pathlib import Path
import socket
import ssl
import subprocess
from typing import Self
import warnings

from acme import challenges
import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
import pytest
import pytest_socket

from custom_components.home_pki.pki.acme import validation
from custom_components.home_pki.pki.acme.problems import AcmeProblem
from custom_components.home_pki.pki.acme.validation import (
    ACME_TLS_PROTOCOL,
    BODY_LIMIT,
    CHALLENGE_PATH,
    ID_PE_ACME_IDENTIFIER,
    MAX_REDIRECTS,
    Identifier,
    acme_identifier_value,
    check_challenge_certificate,
    key_authorization,
    tls_server_name,
    validate_http01,
    validate_tls_alpn01,
)
from custom_components.home_pki.pki.keys import PrivateKey
from tests.servers import ResetServer, ScriptedServer, SilentServer, server_context

HOST = "127.0.0.1"
HOST6 = "::1"
NAME = "nas.home.arpa"
DEVICE = Identifier("dns", NAME)
TOKEN = "Xk3bW9qLr2TfYc8vNm5pZa7sDg1hJu4eQo6iKw0yRtE"  # noqa: S105 - not a secret
THUMBPRINT = "Pq8mZt3Lx0cVb7NwRf2kYs9Ha4Jd6Ge1Uo5Ti3Wn8Ck"
KEY_AUTHORIZATION = f"{TOKEN}.{THUMBPRINT}"
CHALLENGE = CHALLENGE_PATH + TOKEN
TIMEOUT = 5.0
SHORT_TIMEOUT = 0.5
VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The harness blocks every socket but Unix ones; loopback TCP is all these need.
pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
def _no_resource_warnings() -> Iterator[None]:
    """Fail a test that leaves a socket, transport or stream unclosed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
    assert [
        str(warning.message)
        for warning in caught
        if issubclass(warning.category, ResourceWarning)
    ] == []


@pytest.fixture
def loopback6(socket_enabled: None) -> None:
    """Let the test connect to ::1 as well, which the harness blocks."""
    pytest_socket.socket_allow_hosts([HOST, HOST6])


@pytest.fixture
def ipv6(loopback6: None) -> None:
    """Skip the test where ::1 cannot be listened on."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind((HOST6, 0))
    except OSError:
        pytest.skip("no IPv6 loopback")


def free_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def stalled(host: str, port: int) -> Iterator[None]:
    """Listen with a full backlog, so that a new connection to the port hangs.

    Linux queues one connection for a backlog of 0 and drops the SYNs after it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as listener, socket.socket(family) as filler:
        listener.bind((host, port))
        listener.listen(0)
        filler.connect((host, port))
        yield


async def problem_of(validation_call: Awaitable[None]) -> AcmeProblem:
    """Run a validation that must fail and return its problem."""
    with pytest.raises(AcmeProblem) as caught:
        await validation_call
    return caught.value


class ChallengeServer:
    """An HTTP server on loopback answering each path as the test says."""

    def __init__(
        self, host: str = HOST, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Start with no answers; every path is a 404 until one is set."""
        self.host = host
        self.port = 0
        self.ssl_context = ssl_context
        self.answers: dict[str, Handler] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        """Listen."""
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Let waiting handlers finish, then stop."""
        self.release.set()
        assert self._runner is not None
        await self._runner.cleanup()

    def answer(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer a path with a fixed response."""

        async def respond(_: web.Request) -> web.StreamResponse:
            """Send the fixed response."""
            data = body.encode() if isinstance(body, str) else body
            return web.Response(body=data, status=status, headers=headers)

        self.answers[path] = respond

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer a path with a redirect."""
        self.answer(path, status=status, headers={"Location": location})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Record the request and answer it."""
        self.requests.append((request.path, request.headers.get("Host")))
        handler = self.answers.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)


@pytest.fixture
async def server() -> AsyncIterator[ChallengeServer]:
    """Return a running HTTP server on 127.0.0.1."""
    async with ChallengeServer() as running:
        yield running


def self_signed(
    key: PrivateKey,
    *,
    names: Sequence[x509.GeneralName] | None,
    acme_value: bytes | None = None,
    critical: bool = True,
) -> x509.Certificate:
    """Build a challenge certificate with the given names and acmeIdentifier."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "challenge")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_FROM + timedelta(days=3650))
    )
    if names is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(names), critical=False
        )
    if acme_value is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ID_PE_ACME_IDENTIFIER, acme_value),
            critical=critical,
        )
    return builder.sign(key, hashes.SHA256())


def challenge_certificate(
    key: PrivateKey, identifier: Identifier = DEVICE
) -> x509.Certificate:
    """Build the right challenge certificate for an identifier."""
    name: x509.GeneralName = (
        x509.IPAddress(ip_address(identifier.value))
        if identifier.type == "ip"
        else x509.DNSName(identifier.value)
    )
    return self_signed(
        key, names=[name], acme_value=acme_identifier_value(KEY_AUTHORIZATION)
    )


def der(certificate: x509.Certificate) -> bytes:
    """Encode a certificate as DER."""
    return certificate.public_bytes(serialization.Encoding.DER)


def check(
    certificate: x509.Certificate, identifier: Identifier = DEVICE
) -> AcmeProblem:
    """Check a certificate that must fail and return its problem."""
    with pytest.raises(AcmeProblem) as caught:
        check_challenge_certificate(der(certificate), identifier, KEY_AUTHORIZATION)
    return caught.value


class AlpnServer:
    """A TLS server that speaks acme-tls/1 and records the SNI it is sent."""

    def __init__(
        self,
        certificate: x509.Certificate,
        key: PrivateKey,
        *,
        host: str = HOST,
        protocols: Sequence[str] = (ACME_TLS_PROTOCOL,),
    ) -> None:
        """Keep what to serve."""
        self.certificate = certificate
        self.key = key
        self.host = host
        self.protocols = protocols
        self.server_names: list[str | None] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    def _context(self) -> ssl.SSLContext:
        """Build the server context; blocking (files)."""
        context = server_context([self.certificate], self.key)
        if self.protocols:
            context.set_alpn_protocols(list(self.protocols))
        context.sni_callback = self._record_server_name
        return context

    def _record_server_name(
        self, _: ssl.SSLObject, server_name: str | None, __: ssl.SSLContext
    ) -> None:
        """Remember the name a client asked for."""
        self.server_names.append(server_name)

    async def __aenter__(self) -> Self:
        """Listen on a free port."""
        context = await asyncio.to_thread(self._context)
        self._server = await asyncio.start_server(
            self._serve, self.host, 0, ssl=context
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop listening and drop every connection."""
        assert self._server is not None
        self._server.close()
        self._server.abort_clients()
        await self._server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Wait for the validator to close, as a responder does."""
        try:
            with suppress(OSError):
                while await reader.read(1024):
                    pass
        finally:
            writer.close()


async def serve_certificate(
    certificate: x509.Certificate, key: PrivateKey
) -> AcmeProblem | None:
    """Serve a certificate over acme-tls/1 and validate; return the problem."""
    async with AlpnServer(certificate, key) as alpn:
        try:
            await validate_tls_alpn01(
                DEVICE,
                KEY_AUTHORIZATION,
                addresses=[HOST],
                port=alpn.port,
                timeout=TIMEOUT,
            )
        except AcmeProblem as problem:
            return problem
    return None


# Values and names.


def test_identifier_json() -> None:
    """An identifier has the JSON form RFC 8555 §9.7.7 registers."""
    assert DEVICE.as_dict() == {"type": "dns", "value": NAME}


def test_key_authorization() -> None:
    """The key authorization is the token, a dot and the thumbprint."""
    assert key_authorization(TOKEN, THUMBPRINT) == KEY_AUTHORIZATION


def test_acme_identifier_value() -> None:
    """The extension value is a DER OCTET STRING of the 32-byte SHA-256."""
    digest = hashlib.sha256(KEY_AUTHORIZATION.encode()).digest()

    assert acme_identifier_value(KEY_AUTHORIZATION) == b"\x04\x20" + digest


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        (DEVICE, NAME),
        (Identifier("ip", "192.168.1.20"), "20.1.168.192.in-addr.arpa"),
        (
            Identifier("ip", "2001:db8::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
        ),
    ],
)
def test_tls_server_name(identifier: Identifier, expected: str) -> None:
    """A name is its own SNI; an address sends its reverse name (RFC 8738 §6)."""
    assert tls_server_name(identifier) == expected


async def test_unsupported_identifier_type() -> None:
    """Only dns and ip identifiers can be validated."""
    email = Identifier("email", "someone@home.arpa")

    problems = [
        await problem_of(validate_http01(email, TOKEN, KEY_AUTHORIZATION)),
        await problem_of(validate_tls_alpn01(email, KEY_AUTHORIZATION)),
    ]

    assert [problem.type for problem in problems] == ["unsupportedIdentifier"] * 2
    assert problems[0].detail == 'cannot validate a "email" identifier'


# http-01.


async def test_http_right_answer(server: ChallengeServer) -> None:
    """The key authorization with trailing whitespace passes; Host is the name."""
    server.answer(CHALLENGE, KEY_AUTHORIZATION + "\r\n \t")

    await validate_http01(
        DEVICE, TOKEN, KEY_AUTHORIZATION, addresses=[HOST], port=server.port
    )

    assert server.requests == [(CHALLENGE, f"{NAME}:{server.port}")]


async def test_http_ip_identifier_connects_to_itself(server: ChallengeServer) -> None:
    """An address is validated at that address, whatever the inventory knows."""
    server.answer(CHALLENGE, KEY_AUTHORIZATION)

    # The harness would refuse a connection to the documentation address.
    await validate_http01(
        Identifier("ip", HOST),
        TOKEN,
        KEY_AUTHORIZATION,
        addresses=["192.0.2.1"],
        port=server.port,
    )

    assert server.requests == [(CHALLENGE, f"{HOST}:{server.port}")]


async def test_http_ipv6_identifier(ipv6: None) -> None:
    """An IPv6 identifier is bracketed in the Host header."""
    async with ChallengeServer(HOST6) as running:
        running.answer(CHALLENGE, KEY_AUTHORIZATION)

        await validate_http01(
            Identifier("ip", HOST6), TOKEN, KEY_AUTHORIZATION, port=running.port
        )

    assert running.requests == [(CHALLENGE, f"[{HOST6}]:{running.port}")]


@pytest.mark.usefixtures("loopback6")
async def test_http_name_resolved(server: ChallengeServer) -> None:
    """Without known addresses the name is resolved."""
    server.answer(CHALLENGE, KEY_AUTHORIZATION)

    await validate_http01(
        Identifier("dns", "localhost"), TOKEN, KEY_AUTHORIZATION, port=server.port
    )

    assert server.requests == [(CHALLENGE, f"localhost:{server.port}")]


async def test_http_with_the_callers_session(server: ChallengeServer) -> None:
    """A given session is used and left open, its raise_for_status overridden."""
    server.answer(CHALLENGE, KEY_AUTHORIZATION)

    async with aiohttp.ClientSession(raise_for_status=True) as session:
        await validate_http01(
            DEVICE,
            TOKEN,
            KEY_AUTHORIZATION,
            addresses=[HOST],
            port=server.port,
            session=session,
        )
        problem = await problem_of(
            validate_http01(
                DEVICE,
                "other",
                KEY_AUTHORIZATION,
                addresses=[HOST],
                port=server.port,
                session=session,
            )
        )
        assert not session.closed

    assert problem.type == "incorrectResponse"


async def http_problem(
    server: ChallengeServer, seconds: float = TIMEOUT
) -> AcmeProblem:
    """Validate against the server and return the problem."""
    return await problem_of(
        validate_http01(
            DEVICE,
            TOKEN,
            KEY_AUTHORIZATION,
            addresses=[HOST],
            port=server.port,
            timeout=seconds,
        )
    )


@pytest.mark.parametrize(
    ("body", "quoted"),
    [
        ("wrong answer\x1b[2J\n", '"wrong answer?[2J"'),
        ("é" + KEY_AUTHORIZATION, f'"?{KEY_AUTHORIZATION}"'),
        ("", "nothing"),
        ("a" * BODY_LIMIT, f'"{"a" * 100}..."'),
        (" " + KEY_AUTHORIZATION, f'" {KEY_AUTHORIZATION}"'),
    ],
    ids=["control", "non-ascii", "empty", "at-the-limit", "leading-space"],
)
async def test_http_wrong_answer(
    server: ChallengeServer, body: str, quoted: str
) -> None:
    """A wrong body is an incorrect response quoting a short, safe excerpt."""
    server.answer(CHALLENGE, body)

    problem = await http_problem(server)

    assert problem.type == "incorrectResponse"
    url = f"http://{NAME}:{server.port}{CHALLENGE}"
    assert problem.detail == f"{url} answered {quoted}, not the key authorization"


async def test_http_not_found(server: ChallengeServer) -> None:
    """A status other than 200 is an incorrect response naming the status."""
    problem = await http_problem(server)

    assert problem.type == "incorrectResponse"
    assert problem.detail.endswith(f"{CHALLENGE} answered HTTP 404")


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_http_huge_body(server: ChallengeServer, chunked: bool) -> None:
    """A body over the limit is refused once the limit is passed."""

    async def flood(request: web.Request) -> web.StreamResponse:
        """Send 64 KiB, declared or chunked."""
        response = web.StreamResponse()
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = 64 * 1024
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"x" * 1024)
        return response

    server.answers[CHALLENGE] = flood

    problem = await http_problem(server)

    assert problem.type == "incorrectResponse"
    assert problem.detail.endswith(f"answered more than {BODY_LIMIT} bytes")


async def test_http_slow_server_times_out(server: ChallengeServer) -> None:
    """A server that never answers fails at the timeout, naming host and port."""

    async def hang(_: web.Request) -> web.StreamResponse:
        """Wait until the test ends."""
        await server.release.wait()
        return web.Response(text=KEY_AUTHORIZATION)

    server.answers[CHALLENGE] = hang

    problem = await http_problem(server, SHORT_TIMEOUT)

    assert problem.type == "connection"
    assert problem.detail == f"{NAME}:{server.port}: no answer within 0.5 s"


async def test_http_refused() -> None:
    """A closed port is a connection problem naming the address and the refusal."""
    port = free_port()

    problem = await problem_of(
        validate_http01(DEVICE, TOKEN, KEY_AUTHORIZATION, addresses=[HOST], port=port)
    )

    assert problem.type == "connection"
    assert problem.detail == (
        f"could not connect to {NAME}:{port}: {HOST}:{port} connection refused"
    )


@pytest.mark.usefixtures("loopback6")
async def test_http_first_address_refused(server: ChallengeServer) -> None:
    """An address that refuses is passed over for the next."""
    server.answer(CHALLENGE, KEY_AUTHORIZATION)

    await validate_http01(
        DEVICE, TOKEN, KEY_AUTHORIZATION, addresses=[HOST6, HOST], port=server.port
    )

    assert server.requests == [(CHALLENGE, f"{NAME}:{server.port}")]


@pytest.mark.usefixtures("ipv6")
async def test_http_first_address_stalls(server: ChallengeServer) -> None:
    """An address that does not connect within its share of the time is skipped."""
    server.answer(CHALLENGE, KEY_AUTHORIZATION)
    with stalled(HOST6, server.port):
        await validate_http01(
            DEVICE,
            TOKEN,
            KEY_AUTHORIZATION,
            addresses=[HOST6, HOST],
            port=server.port,
            timeout=2 * SHORT_TIMEOUT,
        )

    assert server.requests == [(CHALLENGE, f"{NAME}:{server.port}")]


@pytest.mark.usefixtures("ipv6")
async def test_http_every_address_fails() -> None:
    """When no address connects, each is named with what happened."""
    port = free_port()
    with stalled(HOST6, port):
        problem = await problem_of(
            validate_http01(
                DEVICE,
                TOKEN,
                KEY_AUTHORIZATION,
                addresses=[HOST6, HOST],
                port=port,
                timeout=3 * SHORT_TIMEOUT,
            )
        )

    assert problem.type == "connection"
    assert problem.detail == (
        f"could not connect to {NAME}:{port}: [{HOST6}]:{port} timed out;"
        f" {HOST}:{port} connection refused"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [("nothing.invalid", ""), ("nas..home.arpa", "label empty")],
)
async def test_http_unresolvable(name: str, reason: str) -> None:
    """A name that does not resolve, or cannot be encoded, is a dns problem."""
    problem = await problem_of(
        validate_http01(Identifier("dns", name), TOKEN, KEY_AUTHORIZATION)
    )

    assert problem.type == "dns"
    assert problem.detail.startswith(f"could not resolve {name}: ")
    assert reason in problem.detail


async def test_http_garbage_answer() -> None:
    """A peer that does not speak HTTP is a connection problem."""
    async with ScriptedServer(b"", b"not http\r\n\r\n", hang_up=True) as peer:
        problem = await problem_of(
            validate_http01(
                DEVICE, TOKEN, KEY_AUTHORIZATION, addresses=[HOST], port=peer.port
            )
        )

    assert problem.type == "connection"
    assert problem.detail.startswith(f"http://{NAME}:{peer.port}{CHALLENGE}: ")


async def test_http_reset() -> None:
    """A peer that resets the connection is a connection problem."""
    async with ResetServer() as peer:
        problem = await problem_of(
            validate_http01(
                DEVICE, TOKEN, KEY_AUTHORIZATION, addresses=[HOST], port=peer.port
            )
        )

    assert problem.type == "connection"


async def test_http_redirect_on_the_same_host(server: ChallengeServer) -> None:
    """A relative redirect is followed to the same addresses with the same Host."""
    server.redirect(CHALLENGE, "/elsewhere#part")
    server.answer("/elsewhere", KEY_AUTHORIZATION)

    await validate_http01(
        DEVICE, TOKEN, KEY_AUTHORIZATION, addresses=[HOST], port=server.port
    )

    host = f"{NAME}:{server.port}"
    assert server.requests == [(CHALLENGE, host), ("/elsewhere", host)]


@pytest.mark.usefixtures("loopback6")
async def test_http_redirect_to_another_host(server: ChallengeServer) -> None:
    """A redirect to another name resolves that name, not the known addresses."""
    server.redirect(CHALLENGE, f"http://localhost:{server.port}/central")
    server.answer("/central", KEY_AUTHORIZATION)

    await validate_http01(
        DEVICE, TOKEN, KEY_AUTHORIZATION, addresses=[HOST], port=server.port
    )

    assert server.requests[1] == ("/central", f"localhost:{server.port}")


async def test_http_redirect_to_https(
    server: ChallengeServer,
    leaf_key: PrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A redirect to https is followed without checking the certificate."""
    certificate = self_signed(leaf_key, names=[x509.DNSName("other.home.arpa")])
    context = await asyncio.to_thread(server_context, [certificate], leaf_key)
    names: list[str | None] = []

    def record(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        """Remember the SNI."""
        names.append(name)

    context.sni_callback = record
    async with ChallengeServer(ssl_context=context) as secure:
        # The test cannot listen on 443; the port stands for it.
        monkeypatch.setattr(validation, "REDIRECT_PORTS", frozenset({secure.port}))
        server.redirect(CHALLENGE, f"https://{NAME}:{secure.port}/secure", 301)
        secure.answer("/secure", KEY_AUTHORIZATION)

        await validate_http01(
            DEVICE, TOKEN, KEY_AUTHORIZATION, addresses=[HOST], port=server.port
        )

    assert secure.requests == [("/secure", f"{NAME}:{secure.port}")]
    assert names == [NAME]


async def test_http_redirect_to_https_on_a_plain_port(server: ChallengeServer) -> None:
    """TLS that fails after a redirect to https is a tls problem."""
    server.redirect(CHALLENGE, f"https://{HOST}:{server.port}/secure")

    problem = await http_problem(server)

    assert problem.type == "tls"
    assert problem.detail == (
        f"https://{HOST}:{server.port}/secure: TLS failed with {HOST}:{server.port}"
    )


async def test_http_ten_redirects_are_followed(server: ChallengeServer) -> None:
    """Ten redirects in a row still reach the answer."""
    server.redirect(CHALLENGE, "/hop/1")
    for hop in range(1, MAX_REDIRECTS):
        server.redirect(f"/hop/{hop}", f"/hop/{hop + 1}", 307)
    server.answer(f"/hop/{MAX_REDIRECTS}", KEY_AUTHORIZATION)

    await validate_http01(
        DEVICE, TOKEN, KEY_AUTHORIZATION, addresses=[HOST], port=server.port
    )

    assert len(server.requests) == MAX_REDIRECTS + 1


async def test_http_eleven_redirects_are_too_many(server: ChallengeServer) -> None:
    """The eleventh redirect is refused."""
    server.redirect(CHALLENGE, "/hop/1")
    for hop in range(1, MAX_REDIRECTS + 1):
        server.redirect(f"/hop/{hop}", f"/hop/{hop + 1}", 308)
    server.answer(f"/hop/{MAX_REDIRECTS + 1}", KEY_AUTHORIZATION)

    problem = await http_problem(server)

    assert problem.type == "incorrectResponse"
    assert problem.detail == (
        f"more than {MAX_REDIRECTS} redirects, the last to"
        f" http://{NAME}:{server.port}/hop/{MAX_REDIRECTS + 1}"
    )
    assert len(server.requests) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "location",
    ["ftp://nas.home.arpa/token", "http://nas.home.arpa:8/token", "https:"],
    ids=["scheme", "port", "no-host"],
)
async def test_http_redirect_refused(server: ChallengeServer, location: str) -> None:
    """A redirect off http and https or off the allowed ports is not followed."""
    server.redirect(CHALLENGE, location)

    problem = await http_problem(server)

    assert problem.type == "incorrectResponse"
    assert problem.detail.endswith(
        f'redirected to "{location}"; only http and https on ports 80, 443,'
        f" {server.port} are followed"
    )
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "redirected without a Location"),
        ({"Location": "http://[::1"}, 'redirected to an invalid URL "http://[::1"'),
    ],
    ids=["missing", "invalid"],
)
async def test_http_bad_redirect(
    server: ChallengeServer, headers: dict[str, str], detail: str
) -> None:
    """A redirect without a usable Location is an incorrect response."""
    server.answer(CHALLENGE, status=302, headers=headers)

    problem = await http_problem(server)

    assert problem.type == "incorrectResponse"
    assert problem.detail == f"http://{NAME}:{server.port}{CHALLENGE} {detail}"


# tls-alpn-01.


async def test_tls_right_certificate(leaf_key: PrivateKey) -> None:
    """The right certificate passes, the name sent as SNI."""
    async with AlpnServer(challenge_certificate(leaf_key), leaf_key) as alpn:
        await validate_tls_alpn01(
            DEVICE, KEY_AUTHORIZATION, addresses=[HOST], port=alpn.port
        )

    assert alpn.server_names == [NAME]


async def test_tls_ip_identifier(leaf_key: PrivateKey) -> None:
    """An address is reached at itself and sends its reverse name as SNI."""
    identifier = Identifier("ip", HOST)
    certificate = challenge_certificate(leaf_key, identifier)
    async with AlpnServer(certificate, leaf_key) as alpn:
        await validate_tls_alpn01(
            identifier, KEY_AUTHORIZATION, addresses=["192.0.2.1"], port=alpn.port
        )

    assert alpn.server_names == ["1.0.0.127.in-addr.arpa"]


@pytest.mark.usefixtures("ipv6")
async def test_tls_ipv6_identifier(leaf_key: PrivateKey) -> None:
    """An IPv6 address sends its ip6.arpa name as SNI."""
    identifier = Identifier("ip", HOST6)
    certificate = challenge_certificate(leaf_key, identifier)
    async with AlpnServer(certificate, leaf_key, host=HOST6) as alpn:
        await validate_tls_alpn01(identifier, KEY_AUTHORIZATION, port=alpn.port)

    assert alpn.server_names == ["1." + "0." * 31 + "ip6.arpa"]


@pytest.mark.usefixtures("loopback6")
async def test_tls_name_resolved(leaf_key: PrivateKey) -> None:
    """Without known addresses the name is resolved."""
    identifier = Identifier("dns", "localhost")
    certificate = challenge_certificate(leaf_key, identifier)
    async with AlpnServer(certificate, leaf_key) as alpn:
        await validate_tls_alpn01(identifier, KEY_AUTHORIZATION, port=alpn.port)

    assert alpn.server_names == ["localhost"]


async def test_tls_names_compared_without_case(leaf_key: PrivateKey) -> None:
    """DNS names in the certificate match whatever their case."""
    certificate = self_signed(
        leaf_key,
        names=[x509.DNSName("NAS.Home.Arpa")],
        acme_value=acme_identifier_value(KEY_AUTHORIZATION),
    )

    assert await serve_certificate(certificate, leaf_key) is None


@pytest.mark.parametrize(
    ("names", "named"),
    [
        (
            [x509.DNSName(NAME), x509.DNSName("other.home.arpa")],
            f"dns:{NAME}, dns:other.home.arpa",
        ),
        ([x509.DNSName("other.home.arpa")], "dns:other.home.arpa"),
        ([x509.IPAddress(ip_address(HOST))], f"ip:{HOST}"),
        (
            [x509.DNSName(NAME), x509.UniformResourceIdentifier("https://nas/\x7f")],
            f"dns:{NAME}, UniformResourceIdentifier:https://nas/?",
        ),
        ([], ""),
    ],
    ids=["extra", "other", "address", "uri", "empty"],
)
async def test_tls_wrong_names(
    leaf_key: PrivateKey, names: list[x509.GeneralName], named: str
) -> None:
    """The certificate must name exactly the identifier, nothing more."""
    certificate = self_signed(
        leaf_key, names=names, acme_value=acme_identifier_value(KEY_AUTHORIZATION)
    )

    problem = check(certificate)

    assert problem.type == "incorrectResponse"
    assert problem.detail == (
        f"the challenge certificate must name only {NAME}, it names {named}"
    )


def test_tls_ip_identifier_needs_an_address_name(leaf_key: PrivateKey) -> None:
    """An address is named by an iPAddress entry, not a dNSName."""
    certificate = self_signed(
        leaf_key,
        names=[x509.DNSName(HOST)],
        acme_value=acme_identifier_value(KEY_AUTHORIZATION),
    )

    problem = check(certificate, Identifier("ip", HOST))

    assert problem.detail.endswith(f"must name only {HOST}, it names dns:{HOST}")


@pytest.mark.parametrize(
    ("acme_value", "critical", "reason"),
    [
        (
            acme_identifier_value("other.key"),
            True,
            "carries another key authorization's digest",
        ),
        (
            # The form drafts used: the digest without its OCTET STRING header.
            hashlib.sha256(KEY_AUTHORIZATION.encode()).digest(),
            True,
            "carries another key authorization's digest",
        ),
        (
            acme_identifier_value(KEY_AUTHORIZATION),
            False,
            "has an acmeIdentifier extension that is not critical",
        ),
        (None, True, "has no acmeIdentifier extension"),
    ],
    ids=["other-digest", "bare-digest", "not-critical", "missing"],
)
async def test_tls_wrong_acme_identifier(
    leaf_key: PrivateKey, acme_value: bytes | None, critical: bool, reason: str
) -> None:
    """The acmeIdentifier must be critical and hold the expected digest."""
    certificate = self_signed(
        leaf_key, names=[x509.DNSName(NAME)], acme_value=acme_value, critical=critical
    )

    problem = await serve_certificate(certificate, leaf_key)

    assert problem is not None
    assert problem.type == "incorrectResponse"
    assert problem.detail == f"the challenge certificate {reason}"


def test_tls_no_subject_alt_name(leaf_key: PrivateKey) -> None:
    """A certificate without subjectAltName fails."""
    certificate = self_signed(
        leaf_key, names=None, acme_value=acme_identifier_value(KEY_AUTHORIZATION)
    )

    assert (
        check(certificate).detail == "the challenge certificate has no subjectAltName"
    )


@pytest.mark.parametrize("data", [None, b"", b"\x30\x03\x02\x01\x01"])
def test_tls_unreadable_certificate(data: bytes | None) -> None:
    """No certificate, or one that does not parse, is a tls problem."""
    with pytest.raises(AcmeProblem) as caught:
        check_challenge_certificate(data, DEVICE, KEY_AUTHORIZATION)

    assert caught.value.type == "tls"
    assert caught.value.detail == "the server sent no readable certificate"


def test_tls_acme_library_certificate_is_a_draft_one() -> None:
    """The acme package's challenge certificate uses a draft's OID and bare digest.

    acme 3.2.0 writes 1.3.6.1.5.5.7.1.30.1 holding the digest itself; RFC 8737
    settled on 1.3.6.1.5.5.7.1.31 holding it as an OCTET STRING. Its digest is
    the one inside ours.
    """
    response = challenges.TLSALPN01Response(key_authorization=KEY_AUTHORIZATION)
    certificate, _ = response.gen_cert(NAME, bits=2048)
    parsed = certificate.to_cryptography()
    draft = parsed.extensions.get_extension_for_oid(
        x509.ObjectIdentifier("1.3.6.1.5.5.7.1.30.1")
    )

    assert draft.value.public_bytes() == acme_identifier_value(KEY_AUTHORIZATION)[2:]
    assert check(parsed).detail == (
        "the challenge certificate has no acmeIdentifier extension"
    )


async def test_tls_no_alpn(leaf_key: PrivateKey) -> None:
    """A server that does not negotiate acme-tls/1 is a tls problem."""
    certificate = challenge_certificate(leaf_key)
    async with AlpnServer(certificate, leaf_key, protocols=()) as alpn:
        problem = await problem_of(
            validate_tls_alpn01(
                DEVICE, KEY_AUTHORIZATION, addresses=[HOST], port=alpn.port
            )
        )

    assert problem.type == "tls"
    assert problem.detail == f"{NAME}:{alpn.port} did not negotiate acme-tls/1"


async def test_tls_plain_http_port(server: ChallengeServer) -> None:
    """A port that does not speak TLS is a tls problem."""
    problem = await problem_of(
        validate_tls_alpn01(
            DEVICE, KEY_AUTHORIZATION, addresses=[HOST], port=server.port
        )
    )

    assert problem.type == "tls"
    assert problem.detail == (
        f'{NAME}:{server.port}: TLS handshake failed: "WRONG_VERSION_NUMBER"'
    )


async def test_tls_reset() -> None:
    """A peer that resets during the handshake is a connection problem."""
    async with ResetServer() as peer:
        problem = await problem_of(
            validate_tls_alpn01(
                DEVICE, KEY_AUTHORIZATION, addresses=[HOST], port=peer.port
            )
        )

    assert problem.type == "connection"
    assert problem.detail == f"{NAME}:{peer.port}: connection reset by peer during TLS"


async def test_tls_hang_up() -> None:
    """A peer that closes after the client's hello is a connection problem."""
    async with ScriptedServer(b"", b"", hang_up=True) as peer:
        problem = await problem_of(
            validate_tls_alpn01(
                DEVICE, KEY_AUTHORIZATION, addresses=[HOST], port=peer.port
            )
        )

    assert problem.type == "connection"
    assert problem.detail == (
        f"{NAME}:{peer.port}: the connection was closed during TLS"
    )


async def test_tls_silent_server_times_out() -> None:
    """A server that never handshakes fails at the timeout."""
    async with SilentServer() as peer:
        problem = await problem_of(
            validate_tls_alpn01(
                DEVICE,
                KEY_AUTHORIZATION,
                addresses=[HOST],
                port=peer.port,
                timeout=SHORT_TIMEOUT,
            )
        )

    assert problem.type == "connection"
    assert problem.detail == f"{NAME}:{peer.port}: no answer within 0.5 s"


async def test_tls_refused() -> None:
    """A closed port is a connection problem."""
    port = free_port()

    problem = await problem_of(
        validate_tls_alpn01(DEVICE, KEY_AUTHORIZATION, addresses=[HOST], port=port)
    )

    assert problem.type == "connection"
    assert problem.detail == (
        f"could not connect to {NAME}:{port}: {HOST}:{port} connection refused"
    )


@pytest.mark.usefixtures("ipv6")
async def test_tls_first_address_stalls(leaf_key: PrivateKey) -> None:
    """An address that does not connect within its share of the time is skipped."""
    async with AlpnServer(challenge_certificate(leaf_key), leaf_key) as alpn:
        with stalled(HOST6, alpn.port):
            await validate_tls_alpn01(
                DEVICE,
                KEY_AUTHORIZATION,
                addresses=[HOST6, HOST],
                port=alpn.port,
                timeout=2 * SHORT_TIMEOUT,
            )

    assert alpn.server_names == [NAME]


async def test_tls_unresolvable() -> None:
    """A name that does not resolve is a dns problem."""
    problem = await problem_of(
        validate_tls_alpn01(Identifier("dns", "nothing.invalid"), KEY_AUTHORIZATION)
    )

    assert problem.type == "dns"


# tls-alpn-01 against openssl, an independent responder.


@pytest.fixture
def openssl_certificate(tmp_path: Path) -> tuple[Path, Path]:
    """Have openssl build a challenge certificate and key for the device itself."""
    digest = hashlib.sha256(KEY_AUTHORIZATION.encode()).hexdigest()
    certificate, key = tmp_path / "certificate.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1"),
            *("-subj", "/CN=challenge", "-newkey", "ec"),
            *("-pkeyopt", "ec_paramgen_curve:P-256"),
            *("-keyout", str(key), "-out", str(certificate)),
            *("-addext", f"subjectAltName=DNS:{NAME}"),
            "-addext",
            f"1.3.6.1.5.5.7.1.31=critical,ASN1:FORMAT:HEX,OCTETSTRING:{digest}",
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


@pytest.fixture
def openssl_server(
    openssl_certificate: tuple[Path, Path], socket_enabled: None
) -> Iterator[Callable[..., int]]:
    """Return a starter of openssl s_server answering acme-tls/1 twice."""
    certificate, key = openssl_certificate
    processes: list[subprocess.Popen[str]] = []

    def start(*options: str) -> int:
        """Start a server with extra options and return its port."""
        # s_server drops connections once its standard input ends; keep it open.
        process = subprocess.Popen(
            [
                *("openssl", "s_server", "-alpn", ACME_TLS_PROTOCOL, "-naccept", "2"),
                *("-cert", str(certificate), "-key", str(key), "-accept", f"{HOST}:0"),
                *options,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("ACCEPT"):
                return int(line.rsplit(":", 1)[1])
        pytest.fail("openssl s_server did not start")

    yield start
    for process in processes:
        process.terminate()
        process.communicate(timeout=TIMEOUT)


async def test_tls_against_openssl(openssl_server: Callable[..., int]) -> None:
    """A certificate openssl built itself passes, and fails for another key."""
    port = openssl_server()

    await validate_tls_alpn01(DEVICE, KEY_AUTHORIZATION, addresses=[HOST], port=port)
    problem = await problem_of(
        validate_tls_alpn01(DEVICE, "other.key", addresses=[HOST], port=port)
    )

    assert problem.type == "incorrectResponse"
    assert problem.detail.endswith("carries another key authorization's digest")


async def test_tls_older_than_1_2_refused(openssl_server: Callable[..., int]) -> None:
    """RFC 8737 §4 asks for TLS 1.2: a TLS 1.1 server fails, though older clients work."""
    port = openssl_server("-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    older = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    older.check_hostname = False
    older.verify_mode = ssl.CERT_NONE
    older.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings(action="ignore", category=DeprecationWarning):
        older.minimum_version = ssl.TLSVersion.TLSv1_1
    _, writer = await asyncio.open_connection(HOST, port, ssl=older)
    assert writer.get_extra_info("ssl_object").version() == "TLSv1.1"
    writer.close()
    await writer.wait_closed()

    problem = await problem_of(
        validate_tls_alpn01(DEVICE, KEY_AUTHORIZATION, addresses=[HOST], port=port)
    )

    assert problem.type == "tls"
    assert problem.detail == (
        f'{NAME}:{port}: TLS handshake failed: "TLSV1_ALERT_PROTOCOL_VERSION"'
    )
