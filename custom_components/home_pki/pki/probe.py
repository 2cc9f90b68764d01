"""Read the certificate chain a TLS endpoint presents, directly or after STARTTLS."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import ip_address
import socket
import ssl
import struct
import warnings
from xml.sax.saxutils import quoteattr

LINE_LIMIT = 8 * 1024
DIALOGUE_LIMIT = 64 * 1024
CLOSE_TIMEOUT = 1.0
DETAIL_LIMIT = 200
PROBE_CIPHERS = "DEFAULT:@SECLEVEL=0"

# RFC 4511 §4.14.1: the StartTLS extended operation.
LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
# PostgreSQL frontend/backend protocol: the SSLRequest code, 1234 << 16 | 5679.
POSTGRES_SSL_REQUEST = struct.pack("!II", 8, 80877103)

_BER_INTEGER = 0x02
_BER_ENUMERATED = 0x0A
_BER_SEQUENCE = 0x30
_LDAP_EXTENDED_REQUEST = 0x77
_LDAP_EXTENDED_RESPONSE = 0x78
_LDAP_REQUEST_NAME = 0x80
_LDAP_MESSAGE_ID = b"\x01"

_XMPP_HEADER = (
    "<?xml version='1.0'?><stream:stream to={to} version='1.0' xml:lang='en'"
    " xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
)
_XMPP_STARTTLS = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


class TlsMode(StrEnum):
    """How a connection reaches TLS: at once, or after a protocol's STARTTLS."""

    IMPLICIT = "implicit"
    STARTTLS_SMTP = "starttls_smtp"
    STARTTLS_IMAP = "starttls_imap"
    STARTTLS_POP3 = "starttls_pop3"
    STARTTLS_FTP = "starttls_ftp"
    STARTTLS_LDAP = "starttls_ldap"
    STARTTLS_XMPP = "starttls_xmpp"
    STARTTLS_POSTGRES = "starttls_postgres"


class ProbeFailure(StrEnum):
    """Why a probe read no chain, as a stable key."""

    DNS_FAILURE = "dns_failure"
    CONNECTION_REFUSED = "connection_refused"
    HOST_UNREACHABLE = "host_unreachable"
    TIMEOUT = "timeout"
    CONNECTION_RESET = "connection_reset"
    TLS_ERROR = "tls_error"
    STARTTLS_REFUSED = "starttls_refused"


class ProbeError(Exception):
    """Signal that an endpoint could not be probed, and why."""

    def __init__(self, failure: ProbeFailure, detail: str = "") -> None:
        """Keep the failure key and a short human readable detail."""
        super().__init__(f"{failure}: {detail}" if detail else str(failure))
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True, kw_only=True, slots=True)
class ProbeResult:
    """The chain an endpoint presented and how the connection was made."""

    chain: tuple[bytes, ...]
    peer_address: str
    tls_version: str | None
    cipher: str | None


def probe_context() -> ssl.SSLContext:
    """Build a client context that reads any chain, old devices' included, unverified."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.options |= ssl.OP_LEGACY_SERVER_CONNECT
    with (
        warnings.catch_warnings(action="ignore", category=DeprecationWarning),
        suppress(ValueError),
    ):
        context.minimum_version = ssl.TLSVersion.TLSv1
    with suppress(ssl.SSLError):
        context.set_ciphers(PROBE_CIPHERS)
    return context


async def probe_endpoint(
    host: str,
    port: int,
    *,
    server_name: str | None,
    mode: TlsMode,
    timeout: float,  # noqa: ASYNC109 - one bound for every step, kept by the caller
    context: ssl.SSLContext,
) -> ProbeResult:
    """Connect, upgrade to TLS the way the mode says, and return the chain sent."""
    opened: list[asyncio.StreamWriter] = []
    try:
        async with asyncio.timeout(timeout):
            return await _probe(
                host,
                port,
                server_name=server_name,
                mode=mode,
                context=context,
                opened=opened,
            )
    except TimeoutError as err:
        raise ProbeError(
            ProbeFailure.TIMEOUT, f"no answer within {timeout:g} s"
        ) from err
    except (OSError, EOFError, ExceptionGroup) as err:
        raise _probe_error(err) from err
    finally:
        for writer in opened:
            await _close(writer)


async def _probe(
    host: str,
    port: int,
    *,
    server_name: str | None,
    mode: TlsMode,
    context: ssl.SSLContext,
    opened: list[asyncio.StreamWriter],
) -> ProbeResult:
    """Run the probe's steps, recording the connection so the caller closes it."""
    _check_name(host)
    sni = _sni_name(server_name)
    if mode is TlsMode.IMPLICIT:
        # An empty name keeps asyncio from sending the host as the server name.
        _, writer = await asyncio.open_connection(
            host,
            port,
            ssl=context,
            server_hostname=sni or "",
            ssl_shutdown_timeout=CLOSE_TIMEOUT,
            all_errors=True,
        )
        opened.append(writer)
        return _result(writer)

    reader, writer = await asyncio.open_connection(
        host, port, limit=LINE_LIMIT, all_errors=True
    )
    opened.append(writer)
    await _STARTTLS[mode](_Dialogue(reader, writer, domain=server_name or host))
    await writer.start_tls(
        context, server_hostname=sni, ssl_shutdown_timeout=CLOSE_TIMEOUT
    )
    return _result(writer)


def _check_name(name: str) -> None:
    """Refuse a name that neither the resolver nor the TLS library can take."""
    try:
        name.encode("idna")
    except UnicodeError as err:
        raise ProbeError(ProbeFailure.DNS_FAILURE, "not a valid host name") from err
    if "\x00" in name:
        raise ProbeError(ProbeFailure.DNS_FAILURE, "not a valid host name")


def _sni_name(server_name: str | None) -> str | None:
    """Return the name to send as SNI; RFC 6066 §3 allows no address, no final dot."""
    if not server_name:
        return None
    name = server_name.rstrip(".")
    _check_name(name)
    try:
        ip_address(name)
    except ValueError:
        return name
    return None


def _result(writer: asyncio.StreamWriter) -> ProbeResult:
    """Read the chain and the negotiated parameters off a TLS connection."""
    ssl_object: ssl.SSLObject = writer.get_extra_info("ssl_object")
    chain = tuple(ssl_object.get_unverified_chain())
    if not chain:
        raise ProbeError(ProbeFailure.TLS_ERROR, "the server sent no certificate")
    cipher = ssl_object.cipher()
    return ProbeResult(
        chain=chain,
        peer_address=str(writer.get_extra_info("peername")[0]),
        tls_version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
    )


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a connection, giving the peer a moment for a clean TLS shutdown."""
    if writer.transport.is_closing():
        # A failed upgrade closes the transport itself and never tells the stream,
        # so waiting for the stream to learn of it would only time out.
        return
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await writer.wait_closed()
    except OSError:
        writer.transport.abort()


def _probe_error(err: BaseException) -> ProbeError:
    """Name the failure that an exception from the network or TLS stands for."""
    if isinstance(err, BaseExceptionGroup):
        # One error per address tried; a refusal says the most about the host.
        errors = [_probe_error(leaf) for leaf in err.exceptions]
        refused = [e for e in errors if e.failure is ProbeFailure.CONNECTION_REFUSED]
        return (refused or errors)[0]

    detail = str(err)[:DETAIL_LIMIT]
    match err:
        case socket.gaierror():
            failure = ProbeFailure.DNS_FAILURE
        case ConnectionRefusedError():
            failure = ProbeFailure.CONNECTION_REFUSED
        case (
            ssl.SSLEOFError()
            | ssl.SSLZeroReturnError()
            | ConnectionError()
            | EOFError()
        ):
            failure = ProbeFailure.CONNECTION_RESET
            if isinstance(err, EOFError) or not detail:
                detail = "the server closed the connection"
        case ssl.SSLError():
            failure = ProbeFailure.TLS_ERROR
        case TimeoutError():
            failure = ProbeFailure.TIMEOUT
        case _:
            failure = ProbeFailure.HOST_UNREACHABLE
    return ProbeError(failure, detail)


def _refused(reason: str, answer: bytes = b"") -> ProbeError:
    """Build the error for a server that would not upgrade, quoting its answer."""
    text = "".join(
        char if char.isprintable() else "?"
        for char in answer.decode("utf-8", "replace").strip()
    )[:DETAIL_LIMIT]
    return ProbeError(
        ProbeFailure.STARTTLS_REFUSED, f"{reason}: {text}" if text else reason
    )


class _Dialogue:
    """Exchange the plain text that comes before a STARTTLS upgrade, within bounds."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        domain: str,
    ) -> None:
        """Wrap a connection's streams; the domain names the server we want."""
        self._reader = reader
        self._writer = writer
        self._budget = DIALOGUE_LIMIT
        self.domain = domain

    @property
    def address_literal(self) -> str:
        """Return our own address as an SMTP client names itself by it."""
        return _address_literal(str(self._writer.get_extra_info("sockname")[0]))

    async def send(self, data: bytes) -> None:
        """Send bytes and wait until the transport has taken them."""
        self._writer.write(data)
        await self._writer.drain()

    async def line(self) -> bytes:
        """Read one line, without its line ending."""
        return (await self.read_until(b"\n")).rstrip(b"\r\n")

    async def read_until(self, separator: bytes) -> bytes:
        """Read up to and including a separator, refusing an overlong piece."""
        try:
            data = await self._reader.readuntil(separator)
        except asyncio.LimitOverrunError as err:
            raise _refused("the server sent an overlong line") from err
        self._spend(len(data))
        return data

    async def read_exactly(self, size: int) -> bytes:
        """Read a number of bytes, refusing more than the budget allows."""
        self._spend(size)
        return await self._reader.readexactly(size)

    def _spend(self, size: int) -> None:
        """Count bytes against the budget of the whole dialogue."""
        self._budget -= size
        if self._budget < 0:
            raise _refused("the server sent too much before TLS")


def _address_literal(address: str) -> str:
    """Write an address as RFC 5321 §4.1.3 does, without an IPv6 zone."""
    parsed = ip_address(address.partition("%")[0])
    if parsed.version == 6:
        return f"[IPv6:{parsed}]"
    return f"[{parsed}]"


async def _reply(dialogue: _Dialogue) -> tuple[int, list[bytes]]:
    """Read a numbered reply, multi-line ones included (RFC 5321 §4.2, RFC 959 §4.2)."""
    lines = [await dialogue.line()]
    code = lines[0][:3]
    if not code.isdigit() or lines[0][3:4] not in {b"", b" ", b"-"}:
        raise _refused("not a numbered reply", lines[0])
    if lines[0][3:4] == b"-":
        while True:
            lines.append(await dialogue.line())
            if lines[-1][:3] == code and lines[-1][3:4] in {b"", b" "}:
                break
    return int(code), lines


async def _expect_reply(dialogue: _Dialogue, expected: int) -> list[bytes]:
    """Read a numbered reply and refuse any code but the expected one."""
    code, lines = await _reply(dialogue)
    if code != expected:
        raise _refused(f"expected {expected}", lines[-1])
    return lines


def _words(line: bytes, count: int) -> list[bytes]:
    """Return a line's first words in upper case."""
    return line.upper().split(maxsplit=count)[:count]


async def _starttls_smtp(dialogue: _Dialogue) -> None:
    """Ask an SMTP server to start TLS (RFC 3207)."""
    await _expect_reply(dialogue, 220)
    await dialogue.send(f"EHLO {dialogue.address_literal}\r\n".encode())
    extensions = await _expect_reply(dialogue, 250)
    if not any(_words(line[4:], 1) == [b"STARTTLS"] for line in extensions[1:]):
        raise _refused("the server does not offer STARTTLS")
    await dialogue.send(b"STARTTLS\r\n")
    await _expect_reply(dialogue, 220)


async def _starttls_imap(dialogue: _Dialogue) -> None:
    """Ask an IMAP server to start TLS (RFC 3501 §6.2.1, RFC 9051 §6.2.1)."""
    greeting = await dialogue.line()
    if _words(greeting, 2) != [b"*", b"OK"]:
        raise _refused("unexpected greeting", greeting)
    await dialogue.send(b"a001 STARTTLS\r\n")
    answer = await dialogue.line()
    while _words(answer, 1) != [b"A001"]:
        answer = await dialogue.line()
    if _words(answer, 2) != [b"A001", b"OK"]:
        raise _refused("STARTTLS declined", answer)


async def _starttls_pop3(dialogue: _Dialogue) -> None:
    """Ask a POP3 server to start TLS (RFC 2595 §4)."""
    greeting = await dialogue.line()
    if _words(greeting, 1) != [b"+OK"]:
        raise _refused("unexpected greeting", greeting)
    await dialogue.send(b"STLS\r\n")
    answer = await dialogue.line()
    if _words(answer, 1) != [b"+OK"]:
        raise _refused("STLS declined", answer)


async def _starttls_ftp(dialogue: _Dialogue) -> None:
    """Ask an FTP server to start TLS (RFC 4217 §4)."""
    await _expect_reply(dialogue, 220)
    await dialogue.send(b"AUTH TLS\r\n")
    await _expect_reply(dialogue, 234)


def _ber(tag: int, value: bytes) -> bytes:
    """Encode a short BER element, as the StartTLS request needs."""
    return bytes((tag, len(value))) + value


def _ber_length(data: bytes, offset: int) -> tuple[int, int]:
    """Decode the definite length at an offset; return it and where content starts."""
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    # RFC 4511 §5.1: definite lengths only; four octets already exceed our budget.
    count = first & 0x7F
    end = offset + 1 + count
    if not 1 <= count <= 4 or end > len(data):
        raise _refused("malformed BER length")
    return int.from_bytes(data[offset + 1 : end]), end


def _ber_elements(data: bytes) -> list[tuple[int, bytes]]:
    """Split BER content into its elements' tags and values."""
    elements: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise _refused("truncated BER element")
        size, start = _ber_length(data, offset + 1)
        if start + size > len(data):
            raise _refused("truncated BER element")
        elements.append((data[offset], data[start : start + size]))
        offset = start + size
    return elements


async def _read_ber(dialogue: _Dialogue) -> tuple[int, bytes]:
    """Read one BER element off the connection."""
    header = await dialogue.read_exactly(2)
    if header[1] & 0x80:
        header += await dialogue.read_exactly(header[1] & 0x7F)
    size, _ = _ber_length(header, 1)
    return header[0], await dialogue.read_exactly(size)


_LDAP_STARTTLS_REQUEST = _ber(
    _BER_SEQUENCE,
    _ber(_BER_INTEGER, _LDAP_MESSAGE_ID)
    + _ber(_LDAP_EXTENDED_REQUEST, _ber(_LDAP_REQUEST_NAME, LDAP_STARTTLS_OID)),
)


async def _starttls_ldap(dialogue: _Dialogue) -> None:
    """Ask an LDAP server to start TLS (RFC 4511 §4.14)."""
    await dialogue.send(_LDAP_STARTTLS_REQUEST)
    tag, message = await _read_ber(dialogue)
    elements = _ber_elements(message) if tag == _BER_SEQUENCE else []
    if (
        len(elements) < 2
        or elements[0] != (_BER_INTEGER, _LDAP_MESSAGE_ID)
        or elements[1][0] != _LDAP_EXTENDED_RESPONSE
    ):
        raise _refused("not an extended response")
    response = _ber_elements(elements[1][1])
    if not response or response[0][0] != _BER_ENUMERATED or not response[0][1]:
        raise _refused("extended response without a result code")
    result_code = int.from_bytes(response[0][1])
    if result_code:
        message_text = response[2][1] if len(response) > 2 else b""
        raise _refused(f"result code {result_code}", message_text)


async def _starttls_xmpp(dialogue: _Dialogue) -> None:
    """Ask an XMPP server to start TLS (RFC 6120 §5.4)."""
    await dialogue.send(_XMPP_HEADER.format(to=quoteattr(dialogue.domain)).encode())
    features = b""
    while b"</stream:features>" not in features:
        features += await dialogue.read_until(b">")
        if b"<stream:error" in features or b"</stream:stream>" in features:
            raise _refused("stream error", features[-DETAIL_LIMIT:])
    if b"<starttls" not in features:
        raise _refused("the server does not offer STARTTLS")
    await dialogue.send(_XMPP_STARTTLS)
    answer = await dialogue.read_until(b">")
    if b"<proceed" not in answer:
        raise _refused("STARTTLS declined", answer)


async def _starttls_postgres(dialogue: _Dialogue) -> None:
    """Ask a PostgreSQL server for SSL with an SSLRequest."""
    await dialogue.send(POSTGRES_SSL_REQUEST)
    answer = await dialogue.read_exactly(1)
    if answer == b"N":
        raise _refused("the server does not accept SSL")
    if answer != b"S":
        raise _refused("unexpected answer", answer)


_STARTTLS: Mapping[TlsMode, Callable[[_Dialogue], Awaitable[None]]] = {
    TlsMode.STARTTLS_SMTP: _starttls_smtp,
    TlsMode.STARTTLS_IMAP: _starttls_imap,
    TlsMode.STARTTLS_POP3: _starttls_pop3,
    TlsMode.STARTTLS_FTP: _starttls_ftp,
    TlsMode.STARTTLS_LDAP: _starttls_ldap,
    TlsMode.STARTTLS_XMPP: _starttls_xmpp,
    TlsMode.STARTTLS_POSTGRES: _starttls_postgres,
}
