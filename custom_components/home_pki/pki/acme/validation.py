"""Validate http-01 (RFC 8555 §8.3) and tls-alpn-01 (RFC 8737, RFC 8738) challenges."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
import hashlib
from ipaddress import ip_address
import os
import socket
import ssl

import aiohttp
from cryptography import x509
from yarl import URL

from .problems import AcmeProblem

CHALLENGE_PATH = "/.well-known/acme-challenge/"
BODY_LIMIT = 4 * 1024
MAX_REDIRECTS = 10
# RFC 8555 §8.3 has redirects followed; to the web's standard ports only, as public
# ACME servers do, and to the port a validation was asked to use.
REDIRECT_PORTS = frozenset({80, 443})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACME_TLS_PROTOCOL = "acme-tls/1"
# RFC 8737 §6.1: id-pe-acmeIdentifier.
ID_PE_ACME_IDENTIFIER = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")
CLOSE_TIMEOUT = 1.0
EXCERPT_LIMIT = 100

_IDENTIFIER_TYPES = frozenset({"dns", "ip"})
_DER_OCTET_STRING = 0x04


@dataclass(frozen=True, slots=True)
class Identifier:
    """An ACME identifier: a lower-case A-label DNS name or a compressed IP address."""

    type: str
    value: str

    def as_dict(self) -> dict[str, str]:
        """Return the JSON form."""
        return {"type": self.type, "value": self.value}


def key_authorization(token: str, thumbprint: str) -> str:
    """Join a token and the base64url JWK thumbprint (RFC 8555 §8.1)."""
    return f"{token}.{thumbprint}"


def acme_identifier_value(key_authorization: str) -> bytes:
    """Return the DER OCTET STRING of the key authorization's SHA-256 (RFC 8737 §3)."""
    digest = hashlib.sha256(key_authorization.encode()).digest()
    return bytes((_DER_OCTET_STRING, len(digest))) + digest


def tls_server_name(identifier: Identifier) -> str:
    """Return the SNI to send: the name, or an address's reverse name (RFC 8738 §6)."""
    _require_supported(identifier)
    if identifier.type == "ip":
        return ip_address(identifier.value).reverse_pointer
    return identifier.value


async def validate_http01(
    identifier: Identifier,
    token: str,
    key_authorization: str,
    *,
    addresses: Sequence[str] = (),
    port: int = 80,
    timeout: float = 10.0,  # noqa: ASYNC109 - one bound for the whole validation
    session: aiohttp.ClientSession | None = None,
) -> None:
    """Fetch the key authorization from the identifier over HTTP, or raise."""
    _require_supported(identifier)
    url = URL.build(
        scheme="http", host=identifier.value, port=port, path=CHALLENGE_PATH + token
    )
    client = session or aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    fetch = _Fetch(
        session=client,
        identifier=identifier,
        addresses=addresses,
        ports=REDIRECT_PORTS | {port},
        connect_timeout=timeout,
        url=url,
    )
    try:
        async with asyncio.timeout(timeout):
            body = await fetch.run()
    except TimeoutError as err:
        raise AcmeProblem(
            type="connection",
            detail=f"{fetch.target}: no answer within {timeout:g} s",
        ) from err
    finally:
        if session is None:
            await client.close()

    # RFC 8555 §8.3: whitespace at the end of the body is ignored.
    answer = body.rstrip()
    if answer != key_authorization.encode():
        raise AcmeProblem(
            type="incorrectResponse",
            detail=f"{fetch.url} answered {_quote(answer)}, not the key authorization",
        )


async def validate_tls_alpn01(
    identifier: Identifier,
    key_authorization: str,
    *,
    addresses: Sequence[str] = (),
    port: int = 443,
    timeout: float = 10.0,  # noqa: ASYNC109 - one bound for the whole validation
) -> None:
    """Check the challenge certificate served over acme-tls/1, or raise."""
    server_name = tls_server_name(identifier)
    target = _host_port(identifier.value, port)
    try:
        async with asyncio.timeout(timeout):
            candidates = await _candidates(identifier.value, addresses, port)
            protocol, certificate = await _handshake(
                candidates, port, server_name, timeout / len(candidates), target
            )
    except TimeoutError as err:
        raise AcmeProblem(
            type="connection", detail=f"{target}: no answer within {timeout:g} s"
        ) from err
    except ssl.SSLError as err:
        raise AcmeProblem(
            type="tls",
            detail=f"{target}: TLS handshake failed: {_quote(err.reason or str(err))}",
        ) from err
    except OSError as err:
        raise AcmeProblem(
            type="connection", detail=f"{target}: {_os_reason(err)} during TLS"
        ) from err

    if protocol != ACME_TLS_PROTOCOL:
        raise AcmeProblem(
            type="tls", detail=f"{target} did not negotiate {ACME_TLS_PROTOCOL}"
        )
    check_challenge_certificate(certificate, identifier, key_authorization)


def check_challenge_certificate(
    certificate_der: bytes | None, identifier: Identifier, key_authorization: str
) -> None:
    """Check a tls-alpn-01 certificate's names and acmeIdentifier, or raise.

    RFC 8737 §3 and RFC 8738 §6 name no error type for a wrong certificate;
    RFC 8555 §6.7's incorrectResponse says what happened: the response did not
    meet the challenge's requirements.
    """
    try:
        certificate = x509.load_der_x509_certificate(certificate_der or b"")
        extensions = certificate.extensions
    except ValueError as err:
        raise AcmeProblem(
            type="tls", detail="the server sent no readable certificate"
        ) from err

    try:
        names = extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound as err:
        raise _incorrect("has no subjectAltName") from err
    entries = _san_entries(names.value)
    if entries != [f"{identifier.type}:{identifier.value}"]:
        raise _incorrect(
            f"must name only {identifier.value}, it names {', '.join(entries)}"
        )

    try:
        acme = extensions.get_extension_for_oid(ID_PE_ACME_IDENTIFIER)
    except x509.ExtensionNotFound as err:
        raise _incorrect("has no acmeIdentifier extension") from err
    if not acme.critical:
        raise _incorrect("has an acmeIdentifier extension that is not critical")
    if acme.value.public_bytes() != acme_identifier_value(key_authorization):
        raise _incorrect("carries another key authorization's digest")


@dataclass(kw_only=True, slots=True)
class _Fetch:
    """One http-01 request and its redirects; `url` is where it has got to."""

    session: aiohttp.ClientSession
    identifier: Identifier
    addresses: Sequence[str]
    ports: frozenset[int]
    connect_timeout: float
    url: URL

    @property
    def target(self) -> str:
        """Return the host and port the fetch has got to."""
        # The first URL has a host, and a redirect without one is refused.
        return _host_port(self.url.raw_host or "", self.url.port)

    async def run(self) -> bytes:
        """Follow redirects to a 200 answer and return its body."""
        try:
            for _ in range(MAX_REDIRECTS + 1):
                async with await self._request() as response:
                    if response.status in REDIRECT_STATUSES:
                        self.url = self._redirect_target(response)
                        continue
                    if response.status != 200:
                        raise AcmeProblem(
                            type="incorrectResponse",
                            detail=f"{self.url} answered HTTP {response.status}",
                        )
                    return await self._read_body(response)
        except aiohttp.ClientError as err:
            raise AcmeProblem(
                type="connection", detail=f"{self.url}: {_quote(str(err))}"
            ) from err
        raise AcmeProblem(
            type="incorrectResponse",
            detail=f"more than {MAX_REDIRECTS} redirects, the last to {self.url}",
        )

    async def _request(self) -> aiohttp.ClientResponse:
        """Send the GET to the first address of the URL's host that connects."""
        host = self.url.raw_host or ""
        known = self.addresses if host == self.identifier.value else ()
        candidates = await _candidates(host, known, self.url.port)
        server_name = None if _is_address(host) else host
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.connect_timeout / len(candidates)
        )
        failures: list[str] = []
        for address in candidates:
            where = _host_port(address, self.url.port)
            try:
                return await self.session.get(
                    self.url.with_host(address),
                    headers={aiohttp.hdrs.HOST: self.url.host_port_subcomponent or ""},
                    allow_redirects=False,
                    raise_for_status=False,
                    ssl=False,
                    server_hostname=server_name,
                    timeout=timeout,
                )
            except aiohttp.ClientSSLError as err:
                raise AcmeProblem(
                    type="tls", detail=f"{self.url}: TLS failed with {where}"
                ) from err
            except aiohttp.ConnectionTimeoutError:
                failures.append(f"{where} timed out")
            except aiohttp.ClientConnectorError as err:
                failures.append(f"{where} {_os_reason(err.os_error)}")
        raise _unreachable(self.target, failures)

    def _redirect_target(self, response: aiohttp.ClientResponse) -> URL:
        """Return where a redirect points, if it may be followed."""
        location = response.headers.get(aiohttp.hdrs.LOCATION)
        if not location:
            raise AcmeProblem(
                type="incorrectResponse",
                detail=f"{self.url} redirected without a Location",
            )
        try:
            target = self.url.join(URL(location)).with_fragment(None)
            target_port = target.port
        except ValueError as err:
            raise AcmeProblem(
                type="incorrectResponse",
                detail=f"{self.url} redirected to an invalid URL {_quote(location)}",
            ) from err
        if (
            target.scheme not in {"http", "https"}
            or target.raw_host is None
            or target_port not in self.ports
        ):
            ports = ", ".join(str(port) for port in sorted(self.ports))
            raise AcmeProblem(
                type="incorrectResponse",
                detail=(
                    f"{self.url} redirected to {_quote(location)}; only http and"
                    f" https on ports {ports} are followed"
                ),
            )
        return target

    async def _read_body(self, response: aiohttp.ClientResponse) -> bytes:
        """Read a body of at most BODY_LIMIT bytes."""
        body = bytearray()
        while chunk := await response.content.read(BODY_LIMIT + 1 - len(body)):
            body += chunk
            if len(body) > BODY_LIMIT:
                raise AcmeProblem(
                    type="incorrectResponse",
                    detail=f"{self.url} answered more than {BODY_LIMIT} bytes",
                )
        return bytes(body)


async def _candidates(host: str, known: Sequence[str], port: int | None) -> list[str]:
    """Return the addresses to try for a host: itself, the known ones, or DNS's."""
    if _is_address(host):
        return [host]
    if known:
        return list(known)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as err:
        reason = err.strerror if isinstance(err, socket.gaierror) else None
        raise AcmeProblem(
            type="dns", detail=f"could not resolve {host}: {_quote(reason or str(err))}"
        ) from err
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _handshake(
    candidates: Sequence[str],
    port: int,
    server_name: str,
    connect_timeout: float,
    target: str,
) -> tuple[str | None, bytes | None]:
    """Run a TLS handshake offering acme-tls/1; return the protocol and certificate."""
    writer = await _open_first(candidates, port, connect_timeout, target)
    try:
        await writer.start_tls(
            _challenge_context(),
            server_hostname=server_name,
            ssl_shutdown_timeout=CLOSE_TIMEOUT,
        )
        ssl_object: ssl.SSLObject = writer.get_extra_info("ssl_object")
        return ssl_object.selected_alpn_protocol(), ssl_object.getpeercert(
            binary_form=True
        )
    finally:
        # RFC 8737 §4: nothing is exchanged after the handshake.
        await _close(writer)


async def _open_first(
    candidates: Sequence[str], port: int, connect_timeout: float, target: str
) -> asyncio.StreamWriter:
    """Connect to the first address that accepts, giving each a share of the time."""
    failures: list[str] = []
    for address in candidates:
        where = _host_port(address, port)
        try:
            async with asyncio.timeout(connect_timeout):
                _, writer = await asyncio.open_connection(address, port)
        except TimeoutError:
            failures.append(f"{where} timed out")
        except OSError as err:
            failures.append(f"{where} {_os_reason(err)}")
        else:
            return writer
    raise _unreachable(target, failures)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a connection; a failed handshake has closed it already."""
    if writer.transport.is_closing():
        return
    writer.close()
    with suppress(OSError):
        await writer.wait_closed()


@cache
def _challenge_context() -> ssl.SSLContext:
    """Build the client context: TLS 1.2 or later (RFC 8737 §4), acme-tls/1, no checks."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols([ACME_TLS_PROTOCOL])
    return context


def _require_supported(identifier: Identifier) -> None:
    """Refuse an identifier type these challenges cannot validate."""
    if identifier.type not in _IDENTIFIER_TYPES:
        raise AcmeProblem(
            type="unsupportedIdentifier",
            detail=f"cannot validate a {_quote(identifier.type)} identifier",
        )


def _san_entries(names: Iterable[x509.GeneralName]) -> list[str]:
    """Write subjectAltName entries as type:value, DNS names in lower case."""
    entries = []
    for name in names:
        if isinstance(name, x509.DNSName):
            entries.append(f"dns:{name.value.lower()}")
        elif isinstance(name, x509.IPAddress):
            entries.append(f"ip:{name.value}")
        else:
            entries.append(f"{type(name).__name__}:{_excerpt(str(name.value))}")
    return entries


def _incorrect(reason: str) -> AcmeProblem:
    """Build the problem for a challenge certificate that fails a check."""
    return AcmeProblem(
        type="incorrectResponse", detail=f"the challenge certificate {reason}"
    )


def _unreachable(target: str, failures: Sequence[str]) -> AcmeProblem:
    """Build the problem for a host none of whose addresses connected."""
    return AcmeProblem(
        type="connection",
        detail=f"could not connect to {target}: {'; '.join(failures)}",
    )


def _os_reason(err: OSError) -> str:
    """Name what went wrong with a socket, such as connection refused."""
    if err.errno:
        return os.strerror(err.errno).lower()
    return _excerpt(str(err)) or "the connection was closed"


def _is_address(host: str) -> bool:
    """Tell whether a host is an IP address rather than a name."""
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def _host_port(host: str, port: int | None) -> str:
    """Write host:port, an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _quote(data: bytes | str) -> str:
    """Quote a short, printable excerpt of what a peer sent."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if not text:
        return "nothing"
    return f'"{_excerpt(text)}"'


def _excerpt(text: str) -> str:
    """Keep the start of a text, every unprintable or non-ASCII character as ?."""
    kept = "".join(
        char if char.isascii() and char.isprintable() else "?"
        for char in text[:EXCERPT_LIMIT]
    )
    return kept + "..." if len(text) > EXCERPT_LIMIT else kept
