"""Loopback servers that speak TLS, STARTTLS or misbehave, for probing in tests.

Every server binds 127.0.0.1 on a free port and is an async context manager::

    async with SmtpServer(chain, key) as server:
        await probe_endpoint("127.0.0.1", server.port, ...)

`stop` and `start` take a server down and bring it back on the same port, and
`set_chain` replaces the certificate it serves while it runs. The Home Assistant
test harness blocks every TCP socket: a test using these requests the
`socket_enabled` fixture, and connects to 127.0.0.1, the one host it allows.
"""

import asyncio
from collections.abc import Mapping, Sequence
import os
from pathlib import Path
import re
import socket
import ssl
import struct
import tempfile
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from custom_components.home_pki.pki.keys import PrivateKey
from custom_components.home_pki.pki.probe import (
    LDAP_STARTTLS_OID,
    POSTGRES_SSL_REQUEST,
    TlsMode,
)

type Chain = Sequence[x509.Certificate] | bytes
type Key = PrivateKey | bytes

HOST = "127.0.0.1"
READ_SIZE = 4096
SHUTDOWN_TIMEOUT = 1.0
IDLE_TIMEOUT = 2.0


def chain_pem(chain: Chain) -> bytes:
    """Return a chain as PEM, leaf first."""
    if isinstance(chain, bytes):
        return chain
    return b"".join(
        certificate.public_bytes(serialization.Encoding.PEM) for certificate in chain
    )


def key_pem(key: Key) -> bytes:
    """Return a private key as unencrypted PKCS#8 PEM."""
    if isinstance(key, bytes):
        return key
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def server_context(chain: Chain, key: Key) -> ssl.SSLContext:
    """Build a TLS server context for a chain and its key; blocking (files)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain reads files only; the folder is private and removed at once.
    with tempfile.TemporaryDirectory() as folder:
        chain_path = Path(folder, "chain.pem")
        chain_path.write_bytes(chain_pem(chain))
        key_path = Path(folder, "key.pem")
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "wb") as handle:
            handle.write(key_pem(key))
        context.load_cert_chain(chain_path, key_path)
    return context


class LoopbackServer:
    """Accept connections on 127.0.0.1 and hand each to `converse`."""

    def __init__(self) -> None:
        """Start with no listener and no port yet."""
        self._server: asyncio.Server | None = None
        self._port = 0
        self._tasks: set[asyncio.Task[object]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.connections = 0

    @property
    def port(self) -> int:
        """Return the port listened on, kept across a stop and a start."""
        assert self._port, "the server has not been started"
        return self._port

    @property
    def open_connections(self) -> int:
        """Return how many connections are being served now."""
        return len(self._tasks)

    async def start(self) -> None:
        """Listen, on the port of the previous run when there was one."""
        assert self._server is None, "the server is already running"
        self._server = await asyncio.start_server(
            self._accept, HOST, self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection, as a host that goes down."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        server.abort_clients()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    async def wait_idle(self) -> None:
        """Wait, a little at most, until every connection has been closed."""
        async with asyncio.timeout(IDLE_TIMEOUT):
            await self._idle.wait()

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the server."""
        await self.stop()

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one connection, then close it, whatever the client did."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._idle.clear()
        self.connections += 1
        try:
            await self.converse(reader, writer)
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)
            if not self._tasks:
                self._idle.set()

    async def converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Talk to one client; subclasses say how."""
        raise NotImplementedError


async def drain_until_eof(reader: asyncio.StreamReader) -> None:
    """Read and drop whatever the client sends until it closes."""
    while await reader.read(READ_SIZE):
        pass


async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Send bytes and wait until the transport has taken them."""
    writer.write(data)
    await writer.drain()


class TlsServer(LoopbackServer):
    """Serve a certificate chain over TLS at once; subclasses add STARTTLS."""

    def __init__(
        self, chain: Chain, key: Key, *, refuse: bool = False, hang: bool = False
    ) -> None:
        """Keep the chain to serve.

        `refuse` answers STARTTLS with an error; `hang` stops reading once TLS
        is up, so the client's close_notify is never answered, as a hung device.
        """
        super().__init__()
        self._credential = (chain, key)
        self._context: ssl.SSLContext | None = None
        self.refuse = refuse
        self.hang = hang
        self.server_names: list[str | None] = []
        self.handshakes = 0

    async def start(self) -> None:
        """Build the TLS context once, then listen."""
        if self._context is None:
            self._context = await asyncio.to_thread(self.build_context)
        await super().start()

    async def set_chain(self, chain: Chain, key: Key) -> None:
        """Serve another chain to every connection from now on."""
        self._credential = (chain, key)
        self._context = await asyncio.to_thread(self.build_context)

    def build_context(self) -> ssl.SSLContext:
        """Build the server context and record the SNI of each handshake."""
        context = server_context(*self._credential)
        context.sni_callback = self._record_server_name
        return context

    def _record_server_name(
        self, _: ssl.SSLObject, server_name: str | None, __: ssl.SSLContext
    ) -> None:
        """Remember the name a client asked for, None when it sent no SNI."""
        self.server_names.append(server_name)

    async def converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Run the plain-text dialogue, upgrade to TLS, then wait for the close."""
        if not await self.negotiate(reader, writer):
            await drain_until_eof(reader)
            return
        assert self._context is not None
        if self.hang:
            await handshake_only(reader, writer, self._context)
            self.handshakes += 1
            await drain_until_eof(reader)
            return
        # The stream learns it is over TLS only when start_tls returns; a client
        # that closes at once would otherwise make asyncio warn about eof_received.
        writer.transport.get_protocol()._over_ssl = True  # type: ignore[attr-defined]
        await writer.start_tls(self._context, ssl_shutdown_timeout=SHUTDOWN_TIMEOUT)
        self.handshakes += 1
        await drain_until_eof(reader)

    async def negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Agree to start TLS; implicit TLS needs no dialogue."""
        return True


async def handshake_only(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext
) -> None:
    """Complete a server handshake by hand, so nothing answers what follows it."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=True)
    while True:
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            await send(writer, outgoing.read())
            data = await reader.read(READ_SIZE)
            if not data:
                raise EOFError from None
            incoming.write(data)
        else:
            await send(writer, outgoing.read())
            return


def reset(writer: asyncio.StreamWriter) -> None:
    """Drop a connection with a zero linger time, so the kernel sends a reset."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def read_command(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """Read one command line as its upper-case verb and its argument."""
    line = await reader.readline()
    if not line:
        return None
    verb, _, argument = line.strip().partition(b" ")
    return verb.upper(), argument


class SmtpServer(TlsServer):
    """Answer as a mail server that offers STARTTLS (RFC 3207)."""

    def __init__(self, chain: Chain, key: Key, **options: bool) -> None:
        """Serve a chain; `hello_names` records each EHLO argument."""
        super().__init__(chain, key, **options)
        self.hello_names: list[str] = []

    async def negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Greet over two lines, list STARTTLS in EHLO, and agree to it."""
        await send(writer, b"220-mail.home.arpa ESMTP\r\n220 Home PKI test server\r\n")
        while command := await read_command(reader):
            match command:
                case (b"EHLO", name):
                    self.hello_names.append(name.decode())
                    await send(
                        writer,
                        b"250-mail.home.arpa\r\n250-PIPELINING\r\n"
                        b"250-SIZE 10240000\r\n250 STARTTLS\r\n",
                    )
                case (b"STARTTLS", _) if self.refuse:
                    await send(writer, b"454 4.7.0 TLS not available\r\n")
                case (b"STARTTLS", _):
                    await send(writer, b"220 2.0.0 Ready to start TLS\r\n")
                    return True
                case (b"QUIT", _):
                    await send(writer, b"221 2.0.0 Bye\r\n")
                    return False
                case _:
                    await send(writer, b"502 5.5.2 Command not recognized\r\n")
        return False


class ImapServer(TlsServer):
    """Answer as an IMAP server that offers STARTTLS (RFC 9051 §6.2.1)."""

    async def negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Greet, answer CAPABILITY and agree to STARTTLS."""
        capabilities = b"IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED"
        await send(writer, b"* OK [CAPABILITY " + capabilities + b"] ready\r\n")
        while line := await reader.readline():
            tag, _, rest = line.strip().partition(b" ")
            match rest.upper().split():
                case [b"CAPABILITY"]:
                    await send(
                        writer,
                        b"* CAPABILITY "
                        + capabilities
                        + b"\r\n"
                        + tag
                        + b" OK done\r\n",
                    )
                case [b"STARTTLS"] if self.refuse:
                    await send(writer, tag + b" NO [UNAVAILABLE] TLS is disabled\r\n")
                case [b"STARTTLS"]:
                    await send(writer, tag + b" OK Begin TLS negotiation now\r\n")
                    return True
                case [b"LOGOUT"]:
                    await send(writer, b"* BYE\r\n" + tag + b" OK done\r\n")
                    return False
                case _:
                    await send(writer, tag + b" BAD unknown command\r\n")
        return False


class Pop3Server(TlsServer):
    """Answer as a POP3 server that offers STLS (RFC 2595)."""

    async def negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Greet, answer CAPA and agree to STLS."""
        await send(writer, b"+OK POP3 server ready\r\n")
        while command := await read_command(reader):
            match command:
                case (b"CAPA", _):
                    await send(writer, b"+OK\r\nSTLS\r\nUSER\r\n.\r\n")
                case (b"STLS", _) if self.refuse:
                    await send(writer, b"-ERR TLS is disabled\r\n")
                case (b"STLS", _):
                    await send(writer, b"+OK Begin TLS negotiation\r\n")
                    return True
                case (b"QUIT", _):
                    await send(writer, b"+OK bye\r\n")
                    return False
                case _:
                    await send(writer, b"-ERR unknown command\r\n")
        return False


class FtpServer(TlsServer):
    """Answer as an FTP server that offers AUTH TLS (RFC 4217)."""

    async def negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Greet over two lines, answer FEAT and agree to AUTH TLS."""
        await send(writer, b"220-Home PKI test FTP\r\n220 ready\r\n")
        while command := await read_command(reader):
            match command:
                case (b"FEAT", _):
                    await send(
                        writer, b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n211 End\r\n"
                    )
                case (b"AUTH", _) if self.refuse:
                    await send(writer, b"534 Request denied for policy reasons.\r\n")
                case (b"AUTH", argument) if argument.upper() in {b"TLS", b"SSL"}:
                    await send(writer, b"234 Proceed with negotiation.\r\n")
                    return True
                case (b"QUIT", _):
                    await send(writer, b"221 Goodbye.\r\n")
                    return False
                case _:
                    await send(writer, b"500 Unknown command.\r\n")
        return False


def ber(tag: int, value: bytes, *, long_form: bool = False) -> bytes:
    """Encode one BER element; `long_form` writes lengths on four octets."""
    if long_form:
        return bytes((tag, 0x84)) + len(value).to_bytes(4) + value
    if len(value) < 0x80:
        return bytes((tag, len(value))) + value
    size = len(value).to_bytes((len(value).bit_length() + 7) // 8)
    return bytes((tag, 0x80 | len(size))) + size + value


async def read_ber(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one BER element of definite length."""
    tag, first = await reader.readexactly(2)
    size = first
    if first & 0x80:
        size = int.from_bytes(await reader.readexactly(first & 0x7F))
    return tag, await reader.readexactly(size)


def ber_children(data: bytes) -> list[tuple[int, bytes]]:
    """Split BER content into its elements."""
    children: list[tuple[int, bytes]] = []
    while data:
        tag, first = data[0], data[1]
        start, size = 2, first
        if first & 0x80:
            start = 2 + (first & 0x7F)
            size = int.from_bytes(data[2:start])
        children.append((tag, data[start : start + size]))
        data = data[start + size :]
    return children


class LdapServer(TlsServer):
    """Answer the LDAP StartTLS extended operation (RFC 4511 §4.14)."""

    def __init__(
        self, chain: Chain, key: Key, *, long_lengths: bool = False, **options: bool
    ) -> None:
        """Serve a chain; `long_lengths` encodes as Active Directory does."""
        super().__init__(chain, key, **options)
        self.long_lengths = long_lengths

    async def negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read an extended request and answer StartTLS with success or not."""
        tag, message = await read_ber(reader)
        (_, message_id), (operation, request), *_ = ber_children(message)
        names = dict(ber_children(request)) if operation == 0x77 else {}
        accept = tag == 0x30 and names.get(0x80) == LDAP_STARTTLS_OID
        if self.refuse or not accept:
            # resultCode 52 is unavailable, 2 protocolError.
            code, text = (52, b"StartTLS is disabled") if accept else (2, b"")
        else:
            code, text = 0, b""
        await send(writer, self._response(message_id, code, text))
        return code == 0

    def _response(self, message_id: bytes, code: int, text: bytes) -> bytes:
        """Encode an ExtendedResponse naming the StartTLS operation."""
        long_form = self.long_lengths
        body = (
            ber(0x0A, bytes((code,)), long_form=long_form)
            + ber(0x04, b"", long_form=long_form)
            + ber(0x04, text, long_form=long_form)
            + ber(0x8A, LDAP_STARTTLS_OID, long_form=long_form)
        )
        return ber(
            0x30,
            ber(0x02, message_id, long_form=long_form)
            + ber(0x78, body, long_form=long_form),
            long_form=long_form,
        )


class XmppServer(TlsServer):
    """Answer as an XMPP server that requires STARTTLS (RFC 6120 §5)."""

    def __init__(self, chain: Chain, key: Key, **options: bool) -> None:
        """Serve a chain; `stream_to` records the domain each client asked for."""
        super().__init__(chain, key, **options)
        self.stream_to: list[str] = []

    async def negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Open the stream, offer STARTTLS and proceed, or fail the stream."""
        header = await read_until(reader, rb"<stream:stream[^>]*>")
        if match := re.search(rb"""\sto=(['"])(.*?)\1""", header):
            self.stream_to.append(match.group(2).decode())
        await send(
            writer,
            b"<?xml version='1.0'?><stream:stream from='xmpp.home.arpa'"
            b" id='probe-test' version='1.0' xmlns='jabber:client'"
            b" xmlns:stream='http://etherx.jabber.org/streams'><stream:features>"
            b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
            b"</starttls></stream:features>",
        )
        await read_until(reader, rb"<starttls[^>]*>")
        if self.refuse:
            await send(
                writer,
                b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>",
            )
            return False
        await send(writer, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        return True


async def read_until(reader: asyncio.StreamReader, pattern: bytes) -> bytes:
    """Read until what has arrived matches a pattern; return all of it."""
    received = b""
    while not re.search(pattern, received):
        chunk = await reader.read(READ_SIZE)
        if not chunk:
            raise EOFError
        received += chunk
    return received


class PostgresServer(TlsServer):
    """Answer a PostgreSQL SSLRequest with S, or N when refusing."""

    async def negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read the SSLRequest and agree to SSL."""
        if await reader.readexactly(len(POSTGRES_SSL_REQUEST)) != POSTGRES_SSL_REQUEST:
            return False
        await send(writer, b"N" if self.refuse else b"S")
        return not self.refuse


MODE_SERVERS: Mapping[TlsMode, type[TlsServer]] = {
    TlsMode.IMPLICIT: TlsServer,
    TlsMode.STARTTLS_SMTP: SmtpServer,
    TlsMode.STARTTLS_IMAP: ImapServer,
    TlsMode.STARTTLS_POP3: Pop3Server,
    TlsMode.STARTTLS_FTP: FtpServer,
    TlsMode.STARTTLS_LDAP: LdapServer,
    TlsMode.STARTTLS_XMPP: XmppServer,
    TlsMode.STARTTLS_POSTGRES: PostgresServer,
}


class SilentServer(LoopbackServer):
    """Accept connections and never say a word."""

    async def converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Wait for the client to give up."""
        await drain_until_eof(reader)


class ResetServer(LoopbackServer):
    """Accept connections and reset them at once."""

    async def converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Reset the connection before a word is said."""
        reset(writer)


class PlainTextServer(LoopbackServer):
    """Answer anything with a plain HTTP error, as a web UI on a plain port does."""

    async def converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Answer the first bytes, then wait for the client to close."""
        if await reader.read(READ_SIZE):
            await send(
                writer,
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                b"Connection: close\r\n\r\n",
            )
        await drain_until_eof(reader)


class ScriptedServer(LoopbackServer):
    """Send a greeting, then one scripted answer to each message a client sends."""

    def __init__(self, greeting: bytes, *answers: bytes, hang_up: bool = False) -> None:
        """Keep the script; `hang_up` closes after the last answer."""
        super().__init__()
        self.greeting = greeting
        self.answers = answers
        self.hang_up = hang_up
        self.received: list[bytes] = []

    async def converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Play the script, recording what the client sent."""
        if self.greeting:
            await send(writer, self.greeting)
        for answer in self.answers:
            message = await reader.read(READ_SIZE)
            if not message:
                return
            self.received.append(message)
            await send(writer, answer)
        if not self.hang_up:
            await drain_until_eof(reader)
