"""Tests of the TLS probe against loopback servers and the openssl command line."""

import asyncio
from collections.abc import Iterator
from datetime import datetime
import errno
import gc
import os
from pathlib import Path
import re
import socket
import ssl
import time
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
import pytest

from custom_components.home_pki.pki import probe
from custom_components.home_pki.pki.authority import Authority
from custom_components.home_pki.pki.keys import PrivateKey
from custom_components.home_pki.pki.probe import (
    CLOSE_TIMEOUT,
    DIALOGUE_LIMIT,
    LINE_LIMIT,
    ProbeError,
    ProbeFailure,
    ProbeResult,
    TlsMode,
    probe_context,
    probe_endpoint,
)
from tests.pki.common import OpenSsl, issue_request
from tests.servers import (
    MODE_SERVERS,
    FtpServer,
    ImapServer,
    LdapServer,
    LoopbackServer,
    PlainTextServer,
    Pop3Server,
    PostgresServer,
    ResetServer,
    ScriptedServer,
    SilentServer,
    SmtpServer,
    TlsServer,
    XmppServer,
    ber,
    key_pem,
)

HOST = "127.0.0.1"
SERVER_NAME = "nas.home.arpa"
TIMEOUT = 5.0
SHORT_TIMEOUT = 0.3
PEM_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\n.+?\n-----END CERTIFICATE-----\n", re.DOTALL
)

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
def chain(leaf: x509.Certificate, authority: Authority) -> list[x509.Certificate]:
    """Return what a server sends: its leaf, then the intermediate."""
    return [leaf, authority.intermediate]


@pytest.fixture
def chain_der(chain: list[x509.Certificate]) -> tuple[bytes, ...]:
    """Return the served chain as DER, leaf first."""
    return tuple(der(certificate) for certificate in chain)


@pytest.fixture(scope="module")
def context() -> ssl.SSLContext:
    """Return one probe context for the whole module, as callers reuse it."""
    return probe_context()


def der(certificate: x509.Certificate) -> bytes:
    """Encode a certificate as DER."""
    return certificate.public_bytes(serialization.Encoding.DER)


async def probe_port(
    port: int,
    mode: TlsMode = TlsMode.IMPLICIT,
    *,
    context: ssl.SSLContext,
    host: str = HOST,
    server_name: str | None = SERVER_NAME,
    seconds: float = TIMEOUT,
) -> ProbeResult:
    """Probe a loopback port."""
    return await probe_endpoint(
        host,
        port,
        server_name=server_name,
        mode=mode,
        timeout=seconds,
        context=context,
    )


async def probe_failure(
    port: int,
    mode: TlsMode = TlsMode.IMPLICIT,
    *,
    context: ssl.SSLContext,
    host: str = HOST,
    server_name: str | None = SERVER_NAME,
    seconds: float = TIMEOUT,
) -> ProbeError:
    """Probe a loopback port that must fail, and return the error."""
    with pytest.raises(ProbeError) as caught:
        await probe_port(
            port,
            mode,
            context=context,
            host=host,
            server_name=server_name,
            seconds=seconds,
        )
    return caught.value


def free_port() -> int:
    """Return a loopback port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def test_probe_context_reads_unverified(monkeypatch: pytest.MonkeyPatch) -> None:
    """The context verifies nothing, loads no trust store and accepts old TLS."""

    def load(*_: object) -> None:
        pytest.fail("the probe context must load no certificates")

    for loader in ("load_default_certs", "load_verify_locations"):
        monkeypatch.setattr(ssl.SSLContext, loader, load)

    context = probe_context()

    assert context.verify_mode is ssl.CERT_NONE
    assert not context.check_hostname
    assert context.minimum_version is ssl.TLSVersion.TLSv1
    assert context.options & ssl.OP_LEGACY_SERVER_CONNECT
    assert context.cert_store_stats() == {"x509": 0, "crl": 0, "x509_ca": 0}


@pytest.mark.parametrize("mode", list(TlsMode))
async def test_every_mode_reads_the_whole_chain(
    mode: TlsMode,
    chain: list[x509.Certificate],
    chain_der: tuple[bytes, ...],
    leaf_key: PrivateKey,
    context: ssl.SSLContext,
) -> None:
    """Each mode reaches TLS on its responder and returns leaf and intermediate."""
    async with MODE_SERVERS[mode](chain, leaf_key) as server:
        result = await probe_port(server.port, mode, context=context)
        await server.wait_idle()

    assert result.chain == chain_der
    assert all(type(certificate) is bytes for certificate in result.chain)
    assert result.peer_address == HOST
    assert result.tls_version == "TLSv1.3"
    assert result.cipher is not None
    assert result.cipher.startswith("TLS_")
    assert server.handshakes == 1
    assert server.server_names == [SERVER_NAME]


async def test_ldap_long_form_lengths(
    chain: list[x509.Certificate],
    chain_der: tuple[bytes, ...],
    leaf_key: PrivateKey,
    context: ssl.SSLContext,
) -> None:
    """An LDAP answer with four-octet BER lengths, as Active Directory sends, passes."""
    async with LdapServer(chain, leaf_key, long_lengths=True) as server:
        result = await probe_port(server.port, TlsMode.STARTTLS_LDAP, context=context)

    assert result.chain == chain_der


async def test_smtp_greets_with_an_address_literal(
    chain: list[x509.Certificate], leaf_key: PrivateKey, context: ssl.SSLContext
) -> None:
    """EHLO names the client by its address, as RFC 5321 §4.1.3 writes it."""
    async with SmtpServer(chain, leaf_key) as server:
        await probe_port(server.port, TlsMode.STARTTLS_SMTP, context=context)

    assert server.hello_names == ["[127.0.0.1]"]


@pytest.mark.parametrize(
    ("server_name", "stream_to"),
    [("chat.home.arpa", "chat.home.arpa"), (None, HOST)],
)
async def test_xmpp_stream_names_the_domain(
    server_name: str | None,
    stream_to: str,
    chain: list[x509.Certificate],
    leaf_key: PrivateKey,
    context: ssl.SSLContext,
) -> None:
    """The XMPP stream goes to the server name, or to the host without one."""
    async with XmppServer(chain, leaf_key) as server:
        await probe_port(
            server.port,
            TlsMode.STARTTLS_XMPP,
            context=context,
            server_name=server_name,
        )

    assert server.stream_to == [stream_to]


@pytest.mark.parametrize("mode", [TlsMode.IMPLICIT, TlsMode.STARTTLS_SMTP])
@pytest.mark.parametrize(
    ("server_name", "sent"),
    [
        (SERVER_NAME, SERVER_NAME),
        ("nas.home.arpa.", SERVER_NAME),
        ("192.168.1.20", None),
        ("fd00::20", None),
        ("", None),
        (None, None),
    ],
)
async def test_server_name_is_sent_as_sni(
    mode: TlsMode,
    server_name: str | None,
    sent: str | None,
    chain: list[x509.Certificate],
    leaf_key: PrivateKey,
    context: ssl.SSLContext,
) -> None:
    """A DNS name goes out as SNI without its final dot; an address never does."""
    async with MODE_SERVERS[mode](chain, leaf_key) as server:
        await probe_port(server.port, mode, context=context, server_name=server_name)

    assert server.server_names == [sent]


async def test_host_name_alone_sends_no_sni(
    chain: list[x509.Certificate], leaf_key: PrivateKey, context: ssl.SSLContext
) -> None:
    """Without a server name the host's own name is not sent as SNI either."""
    loop = asyncio.get_running_loop()
    addresses = await loop.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)
    if {address[4][0] for address in addresses} != {HOST}:
        pytest.skip("localhost resolves to more than 127.0.0.1 here")

    async with TlsServer(chain, leaf_key) as server:
        result = await probe_port(
            server.port, context=context, host="localhost", server_name=None
        )

    assert server.server_names == [None]
    assert result.peer_address == HOST


async def test_host_that_goes_down_and_comes_back(
    chain: list[x509.Certificate],
    chain_der: tuple[bytes, ...],
    leaf_key: PrivateKey,
    context: ssl.SSLContext,
) -> None:
    """A stopped server is refused, and read again once it listens again."""
    async with TlsServer(chain, leaf_key) as server:
        port = server.port
        await probe_port(port, context=context)

        await server.stop()
        error = await probe_failure(port, context=context)
        await server.start()
        result = await probe_port(port, context=context)

    assert error.failure is ProbeFailure.CONNECTION_REFUSED
    assert server.port == port
    assert result.chain == chain_der


async def test_replaced_certificate_is_seen(
    chain: list[x509.Certificate],
    authority: Authority,
    leaf_key: PrivateKey,
    now: datetime,
    context: ssl.SSLContext,
) -> None:
    """A server that swaps its certificate shows the new one to the next probe."""
    renewed = authority.issue(issue_request(leaf_key.public_key()), now)

    async with SmtpServer(chain, leaf_key) as server:
        before = await probe_port(server.port, TlsMode.STARTTLS_SMTP, context=context)
        await server.set_chain([renewed, authority.intermediate], leaf_key)
        after = await probe_port(server.port, TlsMode.STARTTLS_SMTP, context=context)

    assert before.chain[0] == der(chain[0])
    assert after.chain == (der(renewed), der(authority.intermediate))


@pytest.mark.parametrize(
    ("host", "server_name"),
    [
        ("bad host", None),
        ("nas..home.arpa", None),
        ("a" * 64 + ".home.arpa", None),
        ("nas\x00.home.arpa", None),
        (HOST, "nas..home.arpa"),
        (HOST, "nas\x00.home.arpa"),
    ],
)
async def test_unresolvable_name_is_a_dns_failure(
    host: str, server_name: str | None, context: ssl.SSLContext
) -> None:
    """Names the resolver or the IDNA codec rejects fail at once, offline."""
    start = time.monotonic()

    error = await probe_failure(
        free_port(), context=context, host=host, server_name=server_name
    )

    assert error.failure is ProbeFailure.DNS_FAILURE
    assert error.detail
    assert time.monotonic() - start < 1.0


async def test_closed_port_is_refused(context: ssl.SSLContext) -> None:
    """Nothing listening is a refused connection, with the errno in the detail."""
    error = await probe_failure(free_port(), context=context)

    assert error.failure is ProbeFailure.CONNECTION_REFUSED
    assert f"[Errno {errno.ECONNREFUSED}]" in error.detail
    assert str(error) == f"connection_refused: {error.detail}"


@pytest.mark.parametrize(
    "mode",
    [
        TlsMode.IMPLICIT,
        TlsMode.STARTTLS_SMTP,
        TlsMode.STARTTLS_LDAP,
        TlsMode.STARTTLS_POSTGRES,
    ],
)
async def test_silent_server_times_out(mode: TlsMode, context: ssl.SSLContext) -> None:
    """A server that never answers costs the timeout and no more."""
    async with SilentServer() as server:
        start = time.monotonic()
        error = await probe_failure(
            server.port, mode, context=context, seconds=SHORT_TIMEOUT
        )
        elapsed = time.monotonic() - start
        await server.wait_idle()

    assert error.failure is ProbeFailure.TIMEOUT
    assert error.detail == "no answer within 0.3 s"
    assert SHORT_TIMEOUT <= elapsed < SHORT_TIMEOUT + CLOSE_TIMEOUT


@pytest.mark.parametrize(
    "mode", [TlsMode.IMPLICIT, TlsMode.STARTTLS_IMAP, TlsMode.STARTTLS_POSTGRES]
)
async def test_reset_connection(mode: TlsMode, context: ssl.SSLContext) -> None:
    """A connection reset before TLS is a reset, not a TLS error."""
    async with ResetServer() as server:
        error = await probe_failure(server.port, mode, context=context)

    assert error.failure is ProbeFailure.CONNECTION_RESET


async def test_plain_text_on_a_tls_port(context: ssl.SSLContext) -> None:
    """A plain HTTP answer to the client hello is a TLS error."""
    async with PlainTextServer() as server:
        error = await probe_failure(server.port, context=context)
        await server.wait_idle()

    assert error.failure is ProbeFailure.TLS_ERROR
    assert "WRONG_VERSION_NUMBER" in error.detail


async def test_plain_text_after_starttls(context: ssl.SSLContext) -> None:
    """A server that agrees to STLS but then speaks plain text is a TLS error."""
    async with ScriptedServer(
        b"+OK ready\r\n", b"+OK go ahead\r\n", b"-ERR what?\r\n"
    ) as server:
        start = time.monotonic()
        error = await probe_failure(server.port, TlsMode.STARTTLS_POP3, context=context)
        elapsed = time.monotonic() - start
        await server.wait_idle()

    assert error.failure is ProbeFailure.TLS_ERROR
    assert server.received[0] == b"STLS\r\n"
    assert elapsed < CLOSE_TIMEOUT


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        (TlsMode.STARTTLS_SMTP, "expected 220: 454 4.7.0 TLS not available"),
        (TlsMode.STARTTLS_IMAP, "STARTTLS declined: a001 NO [UNAVAILABLE]"),
        (TlsMode.STARTTLS_POP3, "STLS declined: -ERR TLS is disabled"),
        (TlsMode.STARTTLS_FTP, "expected 234: 534 Request denied"),
        (TlsMode.STARTTLS_LDAP, "result code 52: StartTLS is disabled"),
        (TlsMode.STARTTLS_XMPP, "STARTTLS declined: <failure"),
        (TlsMode.STARTTLS_POSTGRES, "the server does not accept SSL"),
    ],
)
async def test_starttls_refused(
    mode: TlsMode,
    detail: str,
    chain: list[x509.Certificate],
    leaf_key: PrivateKey,
    context: ssl.SSLContext,
) -> None:
    """A responder that declines the upgrade is reported with its own words."""
    async with MODE_SERVERS[mode](chain, leaf_key, refuse=True) as server:
        error = await probe_failure(server.port, mode, context=context)
        await server.wait_idle()

    assert error.failure is ProbeFailure.STARTTLS_REFUSED
    assert error.detail.startswith(detail)
    assert server.handshakes == 0


def ldap_answer(message_id: bytes, *response: bytes) -> bytes:
    """Encode an LDAP message holding an extended response."""
    return ber(0x30, ber(0x02, message_id) + ber(0x78, b"".join(response)))


GARBAGE = [
    (TlsMode.STARTTLS_SMTP, [b"hello there\r\n"], "not a numbered reply: hello"),
    (TlsMode.STARTTLS_SMTP, [b"22x ready\r\n"], "not a numbered reply"),
    (TlsMode.STARTTLS_SMTP, [b"2200 ready\r\n"], "not a numbered reply"),
    (TlsMode.STARTTLS_SMTP, [b"554 busy\r\n"], "expected 220: 554 busy"),
    (
        TlsMode.STARTTLS_SMTP,
        [b"220 hi\r\n", b"250-mail\r\n250-SIZE 100\r\n250 8BITMIME\r\n"],
        "the server does not offer STARTTLS",
    ),
    (
        TlsMode.STARTTLS_SMTP,
        [b"220 hi\r\n", b"250-mail\r\n250-starttls\r\n250\r\n", b"454 later\r\n"],
        "expected 220: 454 later",
    ),
    (TlsMode.STARTTLS_IMAP, [b"* BYE busy\r\n"], "unexpected greeting: * BYE"),
    (
        TlsMode.STARTTLS_IMAP,
        [b"* OK hi\r\n", b"* 3 EXISTS\r\n+ more\r\na001 BAD no\r\n"],
        "STARTTLS declined: a001 BAD no",
    ),
    (TlsMode.STARTTLS_POP3, [b"-ERR go away\r\n"], "unexpected greeting: -ERR"),
    (TlsMode.STARTTLS_FTP, [b"421 too many users\r\n"], "expected 220: 421"),
    (
        TlsMode.STARTTLS_FTP,
        [b"220-first\r\ntext\r\n220 ready\r\n", b"502 no\r\n"],
        "expected 234: 502 no",
    ),
    (TlsMode.STARTTLS_LDAP, [b"", ber(0x04, b"x")], "not an extended response"),
    (
        TlsMode.STARTTLS_LDAP,
        [b"", ldap_answer(b"\x02", ber(0x0A, b"\x00"))],
        "not an extended response",
    ),
    (
        TlsMode.STARTTLS_LDAP,
        [b"", ldap_answer(b"\x01", ber(0x04, b""))],
        "extended response without a result code",
    ),
    (
        TlsMode.STARTTLS_LDAP,
        [b"", ldap_answer(b"\x01", ber(0x0A, b""))],
        "extended response without a result code",
    ),
    (
        TlsMode.STARTTLS_LDAP,
        [b"", ldap_answer(b"\x01", ber(0x0A, b"\x02"))],
        "result code 2",
    ),
    (TlsMode.STARTTLS_LDAP, [b"", b"\x30\x80\x00\x00"], "malformed BER length"),
    (TlsMode.STARTTLS_LDAP, [b"", b"\x30\x85" + bytes(5)], "malformed BER length"),
    (TlsMode.STARTTLS_LDAP, [b"", b"\x30\x02\x02\x01"], "truncated BER element"),
    (TlsMode.STARTTLS_LDAP, [b"", b"\x30\x01\x02"], "truncated BER element"),
    (TlsMode.STARTTLS_LDAP, [b"", b"\x30\x03\x02\x82\x01"], "malformed BER length"),
    (
        TlsMode.STARTTLS_LDAP,
        [b"", b"\x30\x84\x7f\xff\xff\xff"],
        "the server sent too much before TLS",
    ),
    (
        TlsMode.STARTTLS_XMPP,
        [b"", b"<stream:stream><stream:error><host-unknown/></stream:error>"],
        "stream error",
    ),
    (
        TlsMode.STARTTLS_XMPP,
        [b"", b"<stream:stream><stream:features><bind/></stream:features>"],
        "the server does not offer STARTTLS",
    ),
    (
        TlsMode.STARTTLS_XMPP,
        [
            b"",
            b"<stream:stream><stream:features><starttls/></stream:features>",
            b"<success/>",
        ],
        "STARTTLS declined: <success/>",
    ),
    (TlsMode.STARTTLS_POSTGRES, [b"", b"E"], "unexpected answer: E"),
]


@pytest.mark.parametrize(
    ("mode", "script", "detail"),
    GARBAGE,
    ids=[f"{mode.value}-{index}" for index, (mode, _, _) in enumerate(GARBAGE)],
)
async def test_garbage_before_tls(
    mode: TlsMode, script: list[bytes], detail: str, context: ssl.SSLContext
) -> None:
    """A server that speaks its protocol wrongly never gets a TLS handshake."""
    async with ScriptedServer(*script) as server:
        error = await probe_failure(server.port, mode, context=context)
        await server.wait_idle()

    assert error.failure is ProbeFailure.STARTTLS_REFUSED
    assert error.detail.startswith(detail)


async def test_ldap_request_is_the_starttls_operation(context: ssl.SSLContext) -> None:
    """The request is an ExtendedRequest of message 1 naming the StartTLS OID."""
    async with ScriptedServer(b"", ber(0x04, b"")) as server:
        await probe_failure(server.port, TlsMode.STARTTLS_LDAP, context=context)

    assert server.received == [
        bytes.fromhex("301d020101771880") + b"\x161.3.6.1.4.1.1466.20037"
    ]


async def test_quoted_answer_is_made_printable(context: ssl.SSLContext) -> None:
    """Control characters in a server's answer never reach the detail."""
    async with ScriptedServer(b"554 \x1b[31mred\xff\r\n") as server:
        error = await probe_failure(server.port, TlsMode.STARTTLS_SMTP, context=context)

    assert error.detail == "expected 220: 554 ?[31mred\ufffd"


async def test_server_hanging_up_mid_dialogue(context: ssl.SSLContext) -> None:
    """A server that closes before answering is a reset connection."""
    async with ScriptedServer(b"220 hi\r\n", b"250-mail\r\n", hang_up=True) as server:
        error = await probe_failure(server.port, TlsMode.STARTTLS_SMTP, context=context)

    assert error.failure is ProbeFailure.CONNECTION_RESET
    assert error.detail == "the server closed the connection"


async def test_overlong_line_is_refused(context: ssl.SSLContext) -> None:
    """A line longer than the bound is refused without waiting for its end."""
    async with ScriptedServer(b"220 " + b"x" * LINE_LIMIT) as server:
        error = await probe_failure(server.port, TlsMode.STARTTLS_SMTP, context=context)

    assert error.failure is ProbeFailure.STARTTLS_REFUSED
    assert error.detail == "the server sent an overlong line"


async def test_endless_reply_is_refused(context: ssl.SSLContext) -> None:
    """A reply that never ends is cut at the dialogue's bound."""
    lines = b"220-more\r\n" * (DIALOGUE_LIMIT // 10 + 1)
    async with ScriptedServer(lines) as server:
        error = await probe_failure(server.port, TlsMode.STARTTLS_FTP, context=context)

    assert error.failure is ProbeFailure.STARTTLS_REFUSED
    assert error.detail == "the server sent too much before TLS"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
async def test_every_outcome_closes_its_connection(
    chain: list[x509.Certificate], leaf_key: PrivateKey, context: ssl.SSLContext
) -> None:
    """Read or failed, a probe leaves no descriptor, socket or transport behind."""
    descriptors = len(os.listdir("/proc/self/fd"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        async with (
            TlsServer(chain, leaf_key) as tls,
            SmtpServer(chain, leaf_key) as smtp,
            Pop3Server(chain, leaf_key, refuse=True) as refusing,
            ScriptedServer(b"+OK\r\n", b"+OK\r\n", b"-ERR\r\n") as broken,
            SilentServer() as silent,
            ResetServer() as reset,
            PlainTextServer() as plain,
        ):
            read = [
                await probe_port(tls.port, context=context),
                await probe_port(smtp.port, TlsMode.STARTTLS_SMTP, context=context),
            ]
            failed = [
                await probe_failure(port, mode, context=context, seconds=SHORT_TIMEOUT)
                for port, mode in (
                    (refusing.port, TlsMode.STARTTLS_POP3),
                    (broken.port, TlsMode.STARTTLS_POP3),
                    (silent.port, TlsMode.IMPLICIT),
                    (silent.port, TlsMode.STARTTLS_IMAP),
                    (reset.port, TlsMode.IMPLICIT),
                    (plain.port, TlsMode.IMPLICIT),
                )
            ]
        await asyncio.to_thread(gc.collect)

    assert len(os.listdir("/proc/self/fd")) == descriptors
    assert [str(warning.message) for warning in caught] == []
    assert [len(result.chain) for result in read] == [2, 2]
    assert [error.failure for error in failed] == [
        ProbeFailure.STARTTLS_REFUSED,
        ProbeFailure.TLS_ERROR,
        ProbeFailure.TIMEOUT,
        ProbeFailure.TIMEOUT,
        ProbeFailure.CONNECTION_RESET,
        ProbeFailure.TLS_ERROR,
    ]


@pytest.mark.parametrize("mode", [TlsMode.IMPLICIT, TlsMode.STARTTLS_IMAP])
async def test_unanswered_close_is_cut_short(
    mode: TlsMode,
    chain: list[x509.Certificate],
    chain_der: tuple[bytes, ...],
    leaf_key: PrivateKey,
    context: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A device that never answers close_notify still gives its chain, promptly."""
    monkeypatch.setattr(probe, "CLOSE_TIMEOUT", 0.2)

    async with MODE_SERVERS[mode](chain, leaf_key, hang=True) as server:
        start = time.monotonic()
        result = await probe_port(server.port, mode, context=context)
        elapsed = time.monotonic() - start

    assert result.chain == chain_der
    assert 0.2 <= elapsed < 0.2 + SHORT_TIMEOUT


@pytest.mark.parametrize(
    ("address", "literal"),
    [
        ("192.168.1.20", "[192.168.1.20]"),
        ("fd00::20", "[IPv6:fd00::20]"),
        ("fe80::1%eth0", "[IPv6:fe80::1]"),
    ],
)
def test_smtp_address_literal(address: str, literal: str) -> None:
    """The EHLO argument is an RFC 5321 address literal, IPv6 tagged, no zone."""
    assert probe._address_literal(address) == literal


class AnonymousTlsServer(TlsServer):
    """Serve TLS 1.2 with anonymous key exchange, so no certificate at all."""

    def __init__(self) -> None:
        """Serve no chain."""
        super().__init__(b"", b"")

    def build_context(self) -> ssl.SSLContext:
        """Allow only anonymous cipher suites."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("aNULL:@SECLEVEL=0")
        return context


async def test_server_without_certificate_is_a_tls_error() -> None:
    """A handshake that brings no certificate gives no result."""
    context = probe_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("aNULL:@SECLEVEL=0")

    async with AnonymousTlsServer() as server:
        error = await probe_failure(server.port, context=context)

    assert error.failure is ProbeFailure.TLS_ERROR
    assert error.detail == "the server sent no certificate"
    assert server.handshakes == 1


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "host_unreachable"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "host_unreachable"),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign"), "host_unreachable"),
        (TimeoutError(errno.ETIMEDOUT, "Connect call failed"), "timeout"),
        (socket.gaierror(socket.EAI_NONAME, "Name unknown"), "dns_failure"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection_refused"),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), "connection_reset"),
        (ConnectionAbortedError(), "connection_reset"),
        (
            ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
            "connection_reset",
        ),
        (
            ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"),
            "connection_reset",
        ),
        (ssl.SSLError(1, "[SSL] handshake failure"), "tls_error"),
        (
            ExceptionGroup(
                "create_connection failed",
                [
                    OSError(errno.ENETUNREACH, "Network is unreachable"),
                    ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
                ],
            ),
            "connection_refused",
        ),
        (
            ExceptionGroup(
                "create_connection failed",
                [
                    OSError(errno.ENETUNREACH, "Network is unreachable"),
                    TimeoutError(errno.ETIMEDOUT, "timed out"),
                ],
            ),
            "host_unreachable",
        ),
    ],
    ids=lambda value: (
        type(value).__name__ if isinstance(value, BaseException) else value
    ),
)
def test_network_errors_map_to_failures(error: BaseException, failure: str) -> None:
    """Errors the loopback cannot produce here map like the ones it can."""
    mapped = probe._probe_error(error)

    assert mapped.failure == failure
    assert mapped.detail


@pytest.fixture
def openssl_files(
    openssl: OpenSsl, chain: list[x509.Certificate], leaf_key: PrivateKey
) -> tuple[Path, Path, Path]:
    """Write the leaf, its key and the intermediate for openssl s_server."""
    return (
        openssl.write_certificates("leaf.pem", chain[0]),
        openssl.write("leaf.key", key_pem(leaf_key)),
        openssl.write_certificates("intermediate.pem", chain[1]),
    )


async def start_s_server(
    directory: Path, *args: str
) -> tuple[asyncio.subprocess.Process, int]:
    """Start openssl s_server on a free loopback port and return it and the port."""
    process = await asyncio.create_subprocess_exec(
        "openssl",
        "s_server",
        "-accept",
        f"{HOST}:0",
        *args,
        cwd=directory,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(TIMEOUT):
            while not (line := await process.stdout.readline()).startswith(b"ACCEPT"):
                assert line, "openssl s_server exited"
    except BaseException:
        await stop_process(process)
        raise
    return process, int(line.rsplit(b":", 1)[1])


async def stop_process(process: asyncio.subprocess.Process) -> bytes:
    """Kill a process, collect what it printed and wait for its end."""
    if process.returncode is None:
        process.kill()
    stdout, _ = await process.communicate()
    return stdout


@pytest.mark.parametrize(
    ("version_flag", "version"), [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")]
)
async def test_openssl_s_server_chain_is_read(
    version_flag: str,
    version: str,
    openssl_files: tuple[Path, Path, Path],
    chain_der: tuple[bytes, ...],
    context: ssl.SSLContext,
) -> None:
    """The chain openssl s_server sends with -cert_chain is read back whole."""
    leaf_path, key_path, intermediate_path = openssl_files
    process, port = await start_s_server(
        leaf_path.parent,
        "-cert",
        leaf_path.name,
        "-key",
        key_path.name,
        "-cert_chain",
        intermediate_path.name,
        version_flag,
    )
    try:
        result = await probe_port(port, context=context)
    finally:
        await stop_process(process)

    assert result.chain == chain_der
    assert result.tls_version == version


@pytest.fixture
def legacy_files(
    openssl: OpenSsl, rsa_1024: rsa.RSAPrivateKey
) -> tuple[x509.Certificate, Path]:
    """Self-sign what an old device serves, RSA 1024 and SHA-1, with openssl."""
    openssl.write("old.key", key_pem(rsa_1024))
    openssl.ok(
        "req",
        "-new",
        "-x509",
        "-key",
        "old.key",
        "-sha1",
        "-days",
        "3650",
        "-subj",
        "/CN=old-router.lan",
        "-out",
        "old.pem",
    )
    pem = (openssl.directory / "old.pem").read_bytes()
    return x509.load_pem_x509_certificate(pem), openssl.directory


async def test_openssl_s_server_legacy_device(
    legacy_files: tuple[x509.Certificate, Path], context: ssl.SSLContext
) -> None:
    """TLS 1.0 with an RSA 1024 SHA-1 certificate is read, where defaults fail."""
    certificate, directory = legacy_files
    default = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    default.check_hostname = False
    default.verify_mode = ssl.CERT_NONE

    process, port = await start_s_server(
        directory,
        "-cert",
        "old.pem",
        "-key",
        "old.key",
        "-tls1",
        "-cipher",
        "DEFAULT:@SECLEVEL=0",
    )
    try:
        refused = await probe_failure(port, context=default, server_name=None)
        result = await probe_port(port, context=context, server_name=None)
    finally:
        await stop_process(process)

    assert refused.failure is ProbeFailure.TLS_ERROR
    assert result.chain == (der(certificate),)
    assert result.tls_version == "TLSv1"


@pytest.mark.parametrize(
    ("server_class", "protocol"),
    [
        (SmtpServer, "smtp"),
        (ImapServer, "imap"),
        (Pop3Server, "pop3"),
        (FtpServer, "ftp"),
        (LdapServer, "ldap"),
        (XmppServer, "xmpp"),
        (PostgresServer, "postgres"),
    ],
)
async def test_openssl_s_client_completes_starttls(
    server_class: type[TlsServer],
    protocol: str,
    chain: list[x509.Certificate],
    leaf_key: PrivateKey,
) -> None:
    """The s_client of openssl upgrades on each responder and sees the chain."""
    async with server_class(chain, leaf_key) as server:
        process = await asyncio.create_subprocess_exec(
            "openssl",
            "s_client",
            "-connect",
            f"{HOST}:{server.port}",
            "-starttls",
            protocol,
            "-servername",
            SERVER_NAME,
            "-showcerts",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(TIMEOUT):
                stdout, stderr = await process.communicate()
        finally:
            await stop_process(process)
        await server.wait_idle()

    assert process.returncode == 0, stderr.decode()
    assert PEM_BLOCK.findall(stdout) == [
        certificate.public_bytes(serialization.Encoding.PEM) for certificate in chain
    ]
    assert server.handshakes == 1
    assert server.server_names == [SERVER_NAME]


def test_servers_cover_every_mode() -> None:
    """The test servers offer one responder per mode the probe speaks."""
    assert set(MODE_SERVERS) == set(TlsMode)
    assert all(issubclass(server, LoopbackServer) for server in MODE_SERVERS.values())
