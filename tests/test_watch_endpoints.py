"""Tests of watched TLS endpoints, against real servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
import logging
from pathlib import Path
import subprocess
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from freezegun.api import FrozenDateTimeFactory
import pytest

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_pki.const import DOMAIN
from custom_components.home_pki.pki.revocation import (
    RevocationReason,
    RevokedEntry,
    build_ocsp_response,
)

from .conftest import add_issued
from .factory import ForeignAuthority, Issued, make_authority, self_signed
from .helpers import (
    add_watched,
    attributes_of,
    certificate_entity,
    certificate_named,
    state_of,
    tick,
)
from .servers import ImapServer, SmtpServer, TlsServer
from .test_init import restarted

# The harness blocks every socket but Unix ones; these talk to loopback servers.
pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(scope="module")
def garage_ca() -> ForeignAuthority:
    """Return a CA other than the home one, as a camera maker's would be."""
    return make_authority("Garage", dt_util.utcnow())


@dataclass
class Documents:
    """A loopback web server for CRLs, OCSP answers and issuer certificates."""

    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    ocsp: Callable[[bytes], bytes] | None = None

    def url(self, name: str) -> str:
        """Return the URL of a document."""
        return f"http://127.0.0.1:{self.port}/{name}"


@asynccontextmanager
async def documents() -> AsyncIterator[Documents]:
    """Serve documents over HTTP on loopback while the block runs."""
    served = Documents()

    async def handle(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if request.method == "POST" and name == "ocsp" and served.ocsp is not None:
            answer = served.ocsp(await request.read())
            return web.Response(body=answer, content_type="application/ocsp-response")
        if name not in served.files:
            raise web.HTTPNotFound
        return web.Response(body=served.files[name])

    app = web.Application()
    app.router.add_route("*", "/{name}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    served.port = runner.addresses[0][1]
    try:
        yield served
    finally:
        await runner.cleanup()


async def add_endpoint(
    hass: HomeAssistant, entry: MockConfigEntry, port: int, **fields: Any
) -> str:
    """Watch an endpoint on loopback; return its certificate ID."""
    fields.setdefault("name", f"Port {port}")
    result = await add_watched(
        hass,
        entry,
        "endpoint",
        host="127.0.0.1",
        port=port,
        server_name=fields.pop("server_name", "localhost"),
        **fields,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    return certificate_named(entry, fields["name"])


def reasons_of(hass: HomeAssistant, certificate_id: str) -> list[str]:
    """Return the problem reasons of a certificate."""
    return list(attributes_of(hass, certificate_id, "problem")["reasons"])


def serve(issued: Issued) -> TlsServer:
    """Return a TLS server of a leaf and the chain it sends."""
    return TlsServer([issued.certificate, *issued.chain], issued.key)


@pytest.mark.parametrize(
    ("case", "trust", "status", "reasons"),
    [
        ("foreign_ca", "custom", "valid", []),
        ("foreign_ca", "system", "invalid_chain", ["unknown_issuer"]),
        ("foreign_ca", "home_ca", "invalid_chain", ["unknown_issuer"]),
        ("self_signed", "system", "invalid_chain", ["self_signed"]),
        ("expired", "custom", "expired", ["expired"]),
        ("not_yet_valid", "custom", "invalid_chain", ["not_yet_valid"]),
        ("wrong_name", "custom", "invalid_chain", ["hostname_mismatch"]),
        ("no_intermediate", "custom", "invalid_chain", ["unknown_issuer"]),
        ("expiring", "custom", "expiring", ["expiring"]),
    ],
)
async def test_endpoint_status_and_reasons(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
    case: str,
    trust: str,
    status: str,
    reasons: list[str],
) -> None:
    """Each kind of served certificate ends in its status and reasons."""
    now = dt_util.utcnow()
    issued = {
        "foreign_ca": lambda: garage_ca.issue(now),
        "self_signed": lambda: self_signed(now),
        "expired": lambda: garage_ca.issue(
            now,
            not_before=now - timedelta(days=100),
            not_after=now - timedelta(days=2),
        ),
        "not_yet_valid": lambda: garage_ca.issue(
            now,
            not_before=now + timedelta(days=1),
            not_after=now + timedelta(days=90),
        ),
        "wrong_name": lambda: garage_ca.issue(now, names=("other.lan",), addresses=()),
        "no_intermediate": lambda: garage_ca.issue(now, send_intermediate=False),
        "expiring": lambda: garage_ca.issue(now, not_after=now + timedelta(days=5)),
    }[case]()
    fields: dict[str, Any] = {"trust": trust}
    if trust == "custom":
        fields["custom_ca"] = garage_ca.root_pem
    async with serve(issued) as server:
        certificate_id = await add_endpoint(
            hass, init_integration, server.port, **fields
        )
        assert server.server_names == ["localhost", "localhost"]

    assert state_of(hass, certificate_id, "status") == status
    assert reasons_of(hass, certificate_id) == reasons
    assert state_of(hass, certificate_id, "problem") == ("on" if reasons else "off")
    attributes = attributes_of(hass, certificate_id, "expires")
    assert int(attributes["serial_number"], 16) == issued.certificate.serial_number
    assert attributes["source"] == f"127.0.0.1:{server.port}"
    assert attributes["error"] is None


async def test_endpoint_of_a_home_ca_certificate(
    hass: HomeAssistant, init_integration: MockConfigEntry, deploy_dir: Path
) -> None:
    """A broker serving its Home PKI certificate is valid against the home CA."""
    await add_issued(hass, init_integration, deploy_path=str(deploy_dir / "mqtt"))
    fullchain = (deploy_dir / "mqtt" / "fullchain.pem").read_bytes()
    key = (deploy_dir / "mqtt" / "key.pem").read_bytes()
    async with TlsServer(fullchain, key) as server:
        certificate_id = await add_endpoint(
            hass,
            init_integration,
            server.port,
            name="Broker",
            server_name="mqtt.home.arpa",
            trust="home_ca",
            check_revocation=True,
        )
        assert state_of(hass, certificate_id, "status") == "valid"
        assert reasons_of(hass, certificate_id) == []
        chain = attributes_of(hass, certificate_id, "expires")["chain"]
        assert chain == [
            "CN=mqtt.home.arpa",
            "CN=Home Intermediate CA,O=Home",
            "CN=Home Root CA,O=Home",
        ]

        issued_id = certificate_named(init_integration, "Mosquitto broker")
        await hass.services.async_call(
            DOMAIN,
            "revoke",
            {"entity_id": certificate_entity(hass, issued_id, "expires")},
            blocking=True,
        )
        await hass.services.async_call(
            DOMAIN,
            "refresh",
            {"entity_id": certificate_entity(hass, certificate_id, "status")},
            blocking=True,
        )
        assert state_of(hass, certificate_id, "status") == "revoked"
        assert reasons_of(hass, certificate_id) == ["revoked"]


@pytest.mark.parametrize("server_class", [SmtpServer, ImapServer])
async def test_starttls_endpoints(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
    server_class: type[TlsServer],
) -> None:
    """A mail server's STARTTLS port shows its certificate like an HTTPS one."""
    issued = garage_ca.issue(dt_util.utcnow())
    mode = "starttls_smtp" if server_class is SmtpServer else "starttls_imap"
    async with server_class([issued.certificate, *issued.chain], issued.key) as server:
        certificate_id = await add_endpoint(
            hass,
            init_integration,
            server.port,
            tls_mode=mode,
            trust="custom",
            custom_ca=garage_ca.root_pem,
        )
        assert server.handshakes == 2
    assert state_of(hass, certificate_id, "status") == "valid"
    assert reasons_of(hass, certificate_id) == []


async def test_missing_intermediate_fetched_from_aia(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
) -> None:
    """A server that sends no intermediate is completed from its issuer URL."""
    async with documents() as served:
        served.files["garage.crt"] = garage_ca.intermediate.public_bytes(
            serialization.Encoding.DER
        )
        issued = garage_ca.issue(
            dt_util.utcnow(),
            send_intermediate=False,
            ca_issuers_url=served.url("garage.crt"),
        )
        async with serve(issued) as server:
            certificate_id = await add_endpoint(
                hass,
                init_integration,
                server.port,
                trust="custom",
                custom_ca=garage_ca.root_pem,
            )
    assert state_of(hass, certificate_id, "status") == "valid"
    assert reasons_of(hass, certificate_id) == ["missing_intermediate"]
    assert len(attributes_of(hass, certificate_id, "expires")["chain"]) == 3


def _crl(garage_ca: ForeignAuthority, revoked: x509.Certificate | None) -> bytes:
    """Return a DER CRL of the garage intermediate, listing a certificate."""
    now = dt_util.utcnow()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(garage_ca.intermediate.subject)
        .last_update(now - timedelta(hours=1))
        .next_update(now + timedelta(days=1))
    )
    if revoked is not None:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(revoked.serial_number)
            .revocation_date(now - timedelta(minutes=30))
            .build()
        )
    crl = builder.sign(garage_ca.intermediate_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


async def test_revocation_through_crl(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
) -> None:
    """A certificate listed on its issuer's CRL is revoked; others are valid."""
    async with documents() as served:
        now = dt_util.utcnow()
        good = garage_ca.issue(now, crl_url=served.url("garage.crl"))
        bad = garage_ca.issue(now, crl_url=served.url("garage.crl"))
        served.files["garage.crl"] = _crl(garage_ca, bad.certificate)
        results = {}
        for name, issued in (("Good", good), ("Bad", bad)):
            async with serve(issued) as server:
                results[name] = await add_endpoint(
                    hass,
                    init_integration,
                    server.port,
                    name=name,
                    trust="custom",
                    custom_ca=garage_ca.root_pem,
                    check_revocation=True,
                )
    assert state_of(hass, results["Good"], "status") == "valid"
    assert reasons_of(hass, results["Good"]) == []
    assert state_of(hass, results["Bad"], "status") == "revoked"
    assert reasons_of(hass, results["Bad"]) == ["revoked"]


async def test_revocation_through_ocsp(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
    freezer: FrozenDateTimeFactory,
) -> None:
    """OCSP answers are trusted until their next update, then asked again."""
    async with documents() as served:
        now = dt_util.utcnow()
        revoked: dict[int, RevokedEntry] = {}

        def answer(request: bytes) -> bytes:
            return build_ocsp_response(
                request,
                issuer=garage_ca.intermediate,
                responder_certificate=garage_ca.intermediate,
                responder_key=garage_ca.intermediate_key,
                lookup=revoked.get,
                now=dt_util.utcnow(),
                lifetime=timedelta(hours=1),
            )

        served.ocsp = answer
        issued = garage_ca.issue(now, ocsp_url=served.url("ocsp"))
        async with serve(issued) as server:
            certificate_id = await add_endpoint(
                hass,
                init_integration,
                server.port,
                trust="custom",
                custom_ca=garage_ca.root_pem,
                check_revocation=True,
            )
            assert state_of(hass, certificate_id, "status") == "valid"
            assert reasons_of(hass, certificate_id) == []

            revoked[issued.certificate.serial_number] = RevokedEntry(
                serial_number=issued.certificate.serial_number,
                revoked_at=now,
                reason=RevocationReason.KEY_COMPROMISE,
            )
            await hass.services.async_call(DOMAIN, "refresh", {}, blocking=True)
            assert state_of(hass, certificate_id, "status") == "valid"

            await tick(hass, freezer, hours=1, minutes=1)
            assert state_of(hass, certificate_id, "status") == "revoked"
            assert reasons_of(hass, certificate_id) == ["revoked"]


async def test_unanswered_revocation_check_is_unknown(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
) -> None:
    """A responder that does not answer is revocation_unknown, never revoked."""
    async with documents() as served:
        closed = served.url("nothing")
    issued = garage_ca.issue(dt_util.utcnow(), ocsp_url=closed, crl_url=closed)
    async with serve(issued) as server:
        certificate_id = await add_endpoint(
            hass,
            init_integration,
            server.port,
            trust="custom",
            custom_ca=garage_ca.root_pem,
            check_revocation=True,
        )
    assert state_of(hass, certificate_id, "status") == "valid"
    assert reasons_of(hass, certificate_id) == ["revocation_unknown"]


async def test_host_down_keeps_last_certificate(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A host that goes down turns unreachable, keeps its certificate and recovers."""
    issued = garage_ca.issue(dt_util.utcnow())
    server = serve(issued)
    await server.start()
    try:
        certificate_id = await add_endpoint(
            hass,
            init_integration,
            server.port,
            name="Router",
            trust="custom",
            custom_ca=garage_ca.root_pem,
            scan_interval_minutes=5,
        )
        device = dr.async_get(hass).async_get_device(
            identifiers={(DOMAIN, certificate_id)}
        )
        assert device is not None
        assert device.model == "Watched TLS endpoint"
        before = attributes_of(hass, certificate_id, "expires")
        expires = hass.states.get(certificate_entity(hass, certificate_id, "expires"))
        assert expires is not None

        await server.stop()
        caplog.clear()
        await tick(hass, freezer, minutes=5, seconds=1)
        await tick(hass, freezer, minutes=5, seconds=1)
        assert state_of(hass, certificate_id, "status") == "unreachable"
        assert state_of(hass, certificate_id, "problem") == "off"
        after = attributes_of(hass, certificate_id, "expires")
        assert after["error"] == "connection_refused"
        assert after["last_seen"] == before["last_seen"]
        assert after["serial_number"] == before["serial_number"]
        current = hass.states.get(certificate_entity(hass, certificate_id, "expires"))
        assert current is not None
        assert current.state == expires.state
        warnings = [
            record
            for record in caplog.records
            if record.levelno == logging.WARNING and "Router" in record.getMessage()
        ]
        assert len(warnings) == 1

        await server.start()
        await tick(hass, freezer, minutes=5, seconds=1)
        assert state_of(hass, certificate_id, "status") == "valid"
        assert (
            attributes_of(hass, certificate_id, "expires")["last_seen"]
            > (before["last_seen"])
        )
        recovered = [
            record
            for record in caplog.records
            if record.levelno == logging.INFO
            and "can be read again" in record.getMessage()
        ]
        assert len(recovered) == 1
    finally:
        await server.stop()


async def test_served_certificate_change_fires_event(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
) -> None:
    """A renewed certificate on the endpoint is noticed on the next refresh."""
    now = dt_util.utcnow()
    first = garage_ca.issue(now)
    events: list[dict[str, Any]] = []
    hass.bus.async_listen(
        "home_pki_certificate_changed", lambda event: events.append(event.data)
    )
    async with serve(first) as server:
        certificate_id = await add_endpoint(
            hass,
            init_integration,
            server.port,
            trust="custom",
            custom_ca=garage_ca.root_pem,
        )
        second = garage_ca.issue(now, not_after=now + timedelta(days=200))
        await server.set_chain([second.certificate, *second.chain], second.key)
        await hass.services.async_call(DOMAIN, "refresh", {}, blocking=True)
    assert len(events) == 1
    assert int(events[0]["serial_number"], 16) == second.certificate.serial_number
    assert (
        int(events[0]["previous_serial_number"], 16) == first.certificate.serial_number
    )
    assert events[0]["issuer_changed"] is False
    assert state_of(hass, certificate_id, "days_remaining") == "199"


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"host": "bad host!"}, {"host": "invalid_host"}),
        ({"server_name": "-x-"}, {"server_name": "invalid_host"}),
        ({"trust": "custom"}, {"custom_ca": "custom_ca_required"}),
    ],
)
async def test_endpoint_form_errors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    fields: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Wrong endpoint fields are translated form errors and create nothing."""
    user_input = {"host": "127.0.0.1", "port": 1, **fields}
    result = await add_watched(hass, init_integration, "endpoint", **user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert not init_integration.subentries


async def test_unreachable_endpoint_is_a_form_error(
    hass: HomeAssistant, init_integration: MockConfigEntry, garage_ca: ForeignAuthority
) -> None:
    """An endpoint that does not answer is refused; a bad certificate is not."""
    server = serve(self_signed(dt_util.utcnow()))
    await server.start()
    port = server.port
    await server.stop()
    result = await add_watched(
        hass, init_integration, "endpoint", host="127.0.0.1", port=port
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert "connection_refused" in result["description_placeholders"]["error"]
    assert not init_integration.subentries


async def test_restart_while_down_shows_last_certificate(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
    tmp_path: Path,
) -> None:
    """After a restart the last certificate seen is shown before any probe."""
    issued = garage_ca.issue(dt_util.utcnow())
    async with serve(issued) as server:
        certificate_id = await add_endpoint(
            hass,
            init_integration,
            server.port,
            name="Camera",
            trust="custom",
            custom_ca=garage_ca.root_pem,
        )
    before = attributes_of(hass, certificate_id, "expires")
    assert await hass.config_entries.async_unload(init_integration.entry_id)

    async with restarted(init_integration, tmp_path) as (second, _):
        await second.async_block_till_done(wait_background_tasks=True)
        shown = attributes_of(second, certificate_id, "expires")
        assert shown["serial_number"] == before["serial_number"]
        assert shown["last_seen"] == before["last_seen"]
        assert state_of(second, certificate_id, "status") == "valid"

        await second.services.async_call(DOMAIN, "refresh", {}, blocking=True)
        after = attributes_of(second, certificate_id, "expires")
        assert after["serial_number"] == before["serial_number"]
        assert after["last_seen"] == before["last_seen"]
        assert after["error"] == "connection_refused"
        assert state_of(second, certificate_id, "status") == "unreachable"


async def test_reconfigure_and_remove_endpoint(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
) -> None:
    """A new trust judges the endpoint again at once; removing it drops it."""
    issued = garage_ca.issue(dt_util.utcnow())
    async with serve(issued) as server:
        certificate_id = await add_endpoint(
            hass, init_integration, server.port, name="Hub"
        )
        assert reasons_of(hass, certificate_id) == ["unknown_issuer"]

        subentry = init_integration.subentries[certificate_id]
        result = await init_integration.start_subentry_reconfigure_flow(
            hass, "endpoint", certificate_id
        )
        assert result["type"] is FlowResultType.FORM
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {
                **subentry.data,
                "name": "Cloud hub",
                "trust": "custom",
                "custom_ca": garage_ca.root_pem,
            },
        )
        await hass.async_block_till_done(wait_background_tasks=True)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert init_integration.subentries[certificate_id].title == "Cloud hub"
        assert state_of(hass, certificate_id, "status") == "valid"

    entity_id = certificate_entity(hass, certificate_id, "status")
    assert hass.config_entries.async_remove_subentry(init_integration, certificate_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(entity_id) is None
    assert (
        dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
        is None
    )
    assert certificate_id not in init_integration.runtime_data.watcher


async def test_diagnostics_of_watched_certificates(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
    hass_client: ClientSessionGenerator,
) -> None:
    """Diagnostics show what was seen of an endpoint, without its address."""
    async with serve(garage_ca.issue(dt_util.utcnow())) as server:
        certificate_id = await add_endpoint(hass, init_integration, server.port)
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )
    shown = diagnostics["certificates"][certificate_id]
    assert shown["kind"] == "endpoint"
    assert shown["reasons"] == ["unknown_issuer"]
    assert shown["issuer"] == "CN=Garage Intermediate"
    assert shown["expected_issuer"] == "CN=Garage Intermediate"
    assert "verifier_detail" in shown
    assert shown["source"] == "**REDACTED**"
    (subentry,) = diagnostics["entry"]["subentries"]
    assert subentry["data"]["host"] == "**REDACTED**"


async def test_names_and_hosts_are_not_watched_twice(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
) -> None:
    """A second device of the same name, or the same host named twice, is refused."""
    async with serve(garage_ca.issue(dt_util.utcnow())) as server:
        await add_endpoint(
            hass, init_integration, server.port, name="Router", server_name=""
        )
        same_name = await add_watched(
            hass,
            init_integration,
            "endpoint",
            host="127.0.0.1",
            port=server.port,
            server_name="localhost",
            name="router",
        )
        assert same_name["errors"] == {"name": "name_taken"}
        same_host = await add_watched(
            hass,
            init_integration,
            "endpoint",
            host="127.0.0.1",
            port=server.port,
            server_name="127.0.0.1",
            name="Router again",
        )
        assert same_host["errors"] == {"base": "already_configured"}


async def test_nothing_to_ask_is_no_revocation_problem(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    garage_ca: ForeignAuthority,
) -> None:
    """A certificate that names no responder and no CRL gets no revocation reason."""
    async with serve(garage_ca.issue(dt_util.utcnow())) as server:
        certificate_id = await add_endpoint(
            hass,
            init_integration,
            server.port,
            trust="custom",
            custom_ca=garage_ca.root_pem,
            check_revocation=True,
        )
    assert reasons_of(hass, certificate_id) == []
    assert state_of(hass, certificate_id, "problem") == "off"


def appliance_certificate(folder: Path) -> tuple[bytes, bytes]:
    """Make a self-signed certificate as openssl's defaults do: marked as a CA."""
    key, certificate = folder / "key.pem", folder / "cert.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-days",
            "800",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        capture_output=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return certificate.read_bytes(), key.read_bytes()


async def test_appliance_certificate_marked_as_ca_is_judged_as_a_leaf(
    hass: HomeAssistant, init_integration: MockConfigEntry, tmp_path: Path
) -> None:
    """A served self-made certificate that calls itself a CA still has a lifetime."""
    pem, key = await hass.async_add_executor_job(appliance_certificate, tmp_path)
    async with TlsServer(pem, key) as server:
        certificate_id = await add_endpoint(
            hass,
            init_integration,
            server.port,
            trust="custom",
            custom_ca=pem.decode(),
        )
    assert reasons_of(hass, certificate_id) == ["lifetime_too_long"]
    assert state_of(hass, certificate_id, "status") == "policy_violation"
