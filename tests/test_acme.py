"""The ACME server through the acme library and hand-made requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from acme import challenges, crypto_util, errors as acme_errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from freezegun.api import FrozenDateTimeFactory
import josepy as jose
from OpenSSL import crypto
import pytest

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.home_pki.const import (
    DOMAIN,
    EVENT_CERTIFICATE_ISSUED,
    EVENT_CERTIFICATE_RENEWED,
)
from custom_components.home_pki.pki.acme.server import renewal_info_id
from custom_components.home_pki.pki.inspect import serial_to_hex

from .acme_helpers import (
    DEVICE_NAME,
    ChallengeServer,
    Client,
    Device,
    Raw,
    account_key,
    add_pulling_device,
    challenge_ports,
    challenge_server,
    close_sessions,
    private_pem,
    problem_type,
    setup_home,
)
from .helpers import attributes_of, state_of

pytestmark = pytest.mark.usefixtures("socket_enabled")


@dataclass
class Home:
    """A home CA with one device that pulls its certificate."""

    hass: HomeAssistant
    entry: MockConfigEntry
    device: Device
    ca_file: Path
    server: ChallengeServer

    async def run(self, function: Any, *args: Any) -> Any:
        """Run a blocking client call off the event loop."""
        return await self.hass.async_add_executor_job(function, *args)

    async def client(self, key: jose.JWK | None = None) -> Client:
        """Return a registered client of the device."""
        acme = await self.run(Client, self.device, self.ca_file, key)
        await self.run(acme.register)
        return acme

    async def raw(self) -> Raw:
        """Return a hand-made request sender."""
        return await self.run(Raw, self.device.directory_url, self.ca_file)


@pytest.fixture
async def home(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[Home]:
    """Set up a CA, an http-01 responder and a device that pulls."""
    entry, ca_file = await setup_home(hass, tmp_path)
    async with challenge_server() as server:
        with challenge_ports(server.port):
            device = await add_pulling_device(hass, entry)
            try:
                yield Home(hass, entry, device, ca_file, server)
            finally:
                await hass.async_add_executor_job(close_sessions)
                await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()


def weak_rsa_key() -> rsa.RSAPrivateKey:
    """Return an RSA key too short for the policy."""
    return rsa.generate_private_key(65537, 1024)  # noqa: S505


def comparable(certificate: x509.Certificate) -> jose.ComparableX509:
    """Wrap a certificate the way the acme library's revoke takes it."""
    return jose.ComparableX509(crypto.X509.from_cryptography(certificate))


def error_type(err: acme_errors.Error | messages.Error) -> str:
    """Return the short type of an error the acme library raised."""
    assert isinstance(err, messages.Error)
    return str(err.typ).removeprefix("urn:ietf:params:acme:error:")


async def test_obtain_over_http01(home: Home) -> None:
    """A device's client obtains a certificate and its entities show it."""
    hass = home.hass
    certificate_id = home.device.certificate_id
    assert state_of(hass, certificate_id, "status") == "unknown"
    issued = async_capture_events(hass, EVENT_CERTIFICATE_ISSUED)
    renewed = async_capture_events(hass, EVENT_CERTIFICATE_RENEWED)
    acme = await home.client()
    order = await home.run(acme.obtain, home.server)
    await hass.async_block_till_done()

    leaf, intermediate = x509.load_pem_x509_certificates(order.fullchain_pem.encode())
    assert intermediate.public_bytes(serialization.Encoding.PEM).decode() == (
        home.entry.runtime_data.intermediate_pem
    )
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [DEVICE_NAME]
    assert state_of(hass, certificate_id, "status") == "valid"
    attributes = attributes_of(hass, certificate_id, "expires")
    assert attributes["serial_number"] == serial_to_hex(leaf.serial_number)
    assert [event.data["serial_number"] for event in issued] == [
        serial_to_hex(leaf.serial_number)
    ]

    # A second order is a renewal, and the account's orders list both.
    second = await home.run(acme.obtain, home.server)
    await hass.async_block_till_done()
    assert len(renewed) == 1
    assert second.fullchain_pem != order.fullchain_pem
    raw = await home.raw()
    listing = await home.run(
        lambda: raw.post(
            f"{acme.acme.net.account.uri}/orders",
            None,
            acme.key,
            kid=acme.acme.net.account.uri,
        )
    )
    assert listing.status_code == 200
    assert set(listing.json()["orders"]) == {order.uri, second.uri}


async def test_obtain_for_an_address(home: Home) -> None:
    """An IP identifier of the device is validated at that address."""
    acme = await home.client()
    order = await home.run(acme.obtain, home.server, ("127.0.0.1",))
    leaf = x509.load_pem_x509_certificates(order.fullchain_pem.encode())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(item) for item in san.get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1"
    ]


async def test_failed_validation(home: Home) -> None:
    """A wrong http-01 answer makes the authorization and the order invalid."""
    acme = await home.client()
    order, _ = await home.run(acme.order)
    await home.run(acme.answer_http01, order, home.server)
    home.server.answers.clear()
    # The answer is checked at once, so clearing it only affects later orders.
    done = await home.run(acme.acme.poll_and_finalize, order)
    assert "BEGIN CERTIFICATE" in done.fullchain_pem

    acme_two = await home.client()
    order_two, _ = await home.run(acme_two.order)
    (authorization,) = order_two.authorizations
    (challenge,) = (
        item
        for item in authorization.body.challenges
        if isinstance(item.chall, challenges.HTTP01)
    )
    await home.run(
        acme_two.acme.answer_challenge, challenge, challenge.response(acme_two.key)
    )
    with pytest.raises(acme_errors.ValidationError) as caught:
        await home.run(acme_two.acme.poll_and_finalize, order_two)
    (failed,) = caught.value.failed_authzrs
    (bad,) = (item for item in failed.body.challenges if item.error is not None)
    assert error_type(bad.error) == "incorrectResponse"


async def test_replayed_nonce(home: Home) -> None:
    """A nonce works once; the second use is badNonce with a fresh nonce."""
    raw = await home.raw()
    key = account_key()
    nonce = await home.run(raw.nonce)
    url = raw.directory["newAccount"]
    first = await home.run(
        lambda: raw.post(url, {"onlyReturnExisting": True}, key, nonce=nonce)
    )
    assert problem_type(first) == "accountDoesNotExist"
    again = await home.run(
        lambda: raw.post(url, {"onlyReturnExisting": True}, key, nonce=nonce)
    )
    assert problem_type(again) == "badNonce"
    made_up = await home.run(
        lambda: raw.post(url, {"onlyReturnExisting": True}, key, nonce="AAAA")
    )
    assert problem_type(made_up) == "badNonce"


async def test_bad_signature_and_format(home: Home) -> None:
    """Tampered signatures, wrong algorithms, content types and sizes are refused."""
    raw = await home.raw()
    key = account_key()
    url = raw.directory["newAccount"]
    tampered = await home.run(lambda: raw.post(url, {}, key, tamper=True))
    assert problem_type(tampered) == "malformed"
    assert "signature" in tampered.json()["detail"]
    wrong_alg = await home.run(lambda: raw.post(url, {}, key, alg=jose.ES384))
    assert problem_type(wrong_alg) == "badSignatureAlgorithm"
    assert "ES256" in wrong_alg.json()["algorithms"]
    plain = await home.run(
        lambda: raw.post(url, {}, key, content_type="application/json")
    )
    assert plain.status_code == 415
    assert problem_type(plain) == "malformed"
    huge = await home.run(
        lambda: raw.post(url, {"contact": ["mailto:a@b.example"] * 5000}, key)
    )
    assert huge.status_code == 413
    assert problem_type(huge) == "malformed"
    other_url = await home.run(
        lambda: raw.post(url, {}, key, to=raw.directory["newOrder"])
    )
    assert problem_type(other_url) == "unauthorized"
    weak = await home.run(lambda: raw.post(url, {}, jose.JWKRSA(key=weak_rsa_key())))
    assert problem_type(weak) == "badPublicKey"


async def test_external_account_binding(home: Home) -> None:
    """Accounts need the device's EAB credentials; wrong ones are refused."""
    acme = await home.run(Client, home.device, home.ca_file)
    with pytest.raises(messages.Error) as caught:
        await home.run(lambda: acme.register(eab=False))
    assert error_type(caught.value) == "externalAccountRequired"
    wrong_key = jose.encode_b64jose(b"\x01" * 32)
    with pytest.raises(messages.Error) as caught:
        await home.run(lambda: acme.register(mac_key=wrong_key))
    assert error_type(caught.value) == "unauthorized"
    with pytest.raises(messages.Error) as caught:
        await home.run(lambda: acme.register(key_id="unknown"))
    assert error_type(caught.value) == "unauthorized"
    # The right credentials work, and registering again finds the account.
    first = await home.run(acme.register)
    same_key = await home.run(Client, home.device, home.ca_file, acme.key)
    with pytest.raises(acme_errors.ConflictError) as conflict:
        await home.run(same_key.register)
    assert conflict.value.location == first.uri


async def test_names_outside_the_device(home: Home) -> None:
    """An account orders only its device's names; wildcards are refused."""
    acme = await home.client()
    with pytest.raises(messages.Error) as caught:
        await home.run(acme.order, (DEVICE_NAME, "other.home.arpa"))
    assert error_type(caught.value) == "rejectedIdentifier"
    assert [item.identifier.value for item in caught.value.subproblems or ()] == [
        "other.home.arpa"
    ]
    with pytest.raises(messages.Error) as caught:
        await home.run(acme.order, ("*.home.arpa",))
    assert error_type(caught.value) == "rejectedIdentifier"


async def test_csr_with_a_weak_key(home: Home) -> None:
    """A CSR with an RSA-1024 key is badCSR, and nothing is issued."""
    acme = await home.client()
    weak = weak_rsa_key()
    order, _ = await home.run(lambda: acme.order(key=weak))
    await home.run(acme.answer_http01, order, home.server)
    with pytest.raises(messages.Error) as caught:
        await home.run(acme.acme.poll_and_finalize, order)
    assert error_type(caught.value) == "badCSR"
    assert state_of(home.hass, home.device.certificate_id, "status") == "unknown"


async def test_csr_must_match_the_order(home: Home) -> None:
    """A CSR asking for other names than its order is badCSR."""
    acme = await home.client()
    order, _ = await home.run(acme.order)
    await home.run(acme.answer_http01, order, home.server)
    other = crypto_util.make_csr(
        private_pem(ec.generate_private_key(ec.SECP256R1())),
        [DEVICE_NAME, "127.0.0.1"],
    )
    with pytest.raises(messages.Error) as caught:
        await home.run(acme.acme.poll_and_finalize, order.update(csr_pem=other))
    assert error_type(caught.value) == "badCSR"


async def test_deactivated_account(home: Home) -> None:
    """A deactivated account can do nothing more."""
    acme = await home.client()
    await home.run(acme.acme.deactivate_registration, acme.acme.net.account)
    with pytest.raises(messages.Error) as caught:
        await home.run(acme.order)
    assert error_type(caught.value) == "unauthorized"


async def test_key_change(home: Home) -> None:
    """The keyChange resource moves the account to a new key; the old one stops working."""
    acme = await home.client()
    account_url = acme.acme.net.account.uri
    raw = await home.raw()
    new_key = account_key()
    url = raw.directory["keyChange"]

    def inner(payload: dict[str, Any], url: str = url) -> dict[str, Any]:
        from acme import jws as acme_jws  # noqa: PLC0415

        signed = acme_jws.JWS.sign(
            __import__("json").dumps(payload).encode(),
            key=new_key,
            alg=jose.ES256,
            nonce=None,
            url=url,
        )
        return dict(signed.to_partial_json(flat=True))

    old_public = acme.key.public_key().to_json()
    wrong = await home.run(
        lambda: raw.post(
            url,
            inner({"account": account_url, "oldKey": new_key.public_key().to_json()}),
            acme.key,
            kid=account_url,
        )
    )
    assert problem_type(wrong) == "malformed"
    changed = await home.run(
        lambda: raw.post(
            url,
            inner({"account": account_url, "oldKey": old_public}),
            acme.key,
            kid=account_url,
        )
    )
    assert changed.status_code == 200, changed.text
    old = await home.run(lambda: raw.post(account_url, None, acme.key, kid=account_url))
    assert problem_type(old) == "malformed"
    new = await home.run(lambda: raw.post(account_url, None, new_key, kid=account_url))
    assert new.status_code == 200
    assert new.json()["status"] == "valid"
    # Another account cannot take a key that is in use.
    other = await home.client()
    taken = await home.run(
        lambda: raw.post(
            url,
            {
                **inner(
                    {
                        "account": other.acme.net.account.uri,
                        "oldKey": other.key.public_key().to_json(),
                    }
                )
            },
            other.key,
            kid=other.acme.net.account.uri,
        )
    )
    assert taken.status_code == 409
    assert taken.headers["Location"] == account_url


async def test_account_update_and_unknown_account(home: Home) -> None:
    """Contacts can be changed; an unknown kid is accountDoesNotExist."""
    acme = await home.client()
    updated = await home.run(
        lambda: acme.acme.update_registration(
            acme.acme.net.account,
            messages.Registration(contact=("mailto:new@example.com",)),
        )
    )
    assert updated.body.contact == ("mailto:new@example.com",)
    with pytest.raises(messages.Error) as caught:
        await home.run(
            lambda: acme.acme.update_registration(
                acme.acme.net.account,
                messages.Registration(contact=("tel:+1555",)),
            )
        )
    assert error_type(caught.value) == "unsupportedContact"
    raw = await home.raw()
    unknown = await home.run(
        lambda: raw.post(
            raw.directory["newOrder"],
            {"identifiers": [{"type": "dns", "value": DEVICE_NAME}]},
            acme.key,
            kid=acme.acme.net.account.uri + "x",
        )
    )
    assert problem_type(unknown) == "accountDoesNotExist"


async def test_revoke_by_account_and_by_key(home: Home) -> None:
    """The revokeCert resource works for the device's account and with the certificate's key."""
    hass = home.hass
    acme = await home.client()
    order = await home.run(acme.obtain, home.server)
    leaf = x509.load_pem_x509_certificates(order.fullchain_pem.encode())[0]
    wrapped = comparable(leaf)
    await home.run(acme.acme.revoke, wrapped, 1)
    await hass.async_block_till_done()
    assert state_of(hass, home.device.certificate_id, "status") == "revoked"
    with pytest.raises(messages.Error) as caught:
        await home.run(acme.acme.revoke, wrapped, 1)
    assert error_type(caught.value) == "alreadyRevoked"

    # A new order makes the device valid again; its own key revokes it.
    order_two, key = await home.run(acme.order)
    await home.run(acme.answer_http01, order_two, home.server)
    done = await home.run(acme.acme.poll_and_finalize, order_two)
    await hass.async_block_till_done()
    assert state_of(hass, home.device.certificate_id, "status") == "valid"
    leaf_two = x509.load_pem_x509_certificates(done.fullchain_pem.encode())[0]
    raw = await home.raw()
    certificate = jose.encode_b64jose(leaf_two.public_bytes(serialization.Encoding.DER))
    bad_reason = await home.run(
        lambda: raw.post(
            raw.directory["revokeCert"],
            {"certificate": certificate, "reason": 7},
            jose.JWKEC(key=key),
        )
    )
    assert problem_type(bad_reason) == "badRevocationReason"
    stranger = await home.run(
        lambda: raw.post(
            raw.directory["revokeCert"], {"certificate": certificate}, account_key()
        )
    )
    assert problem_type(stranger) == "unauthorized"
    by_key = await home.run(
        lambda: raw.post(
            raw.directory["revokeCert"],
            {"certificate": certificate, "reason": 4},
            jose.JWKEC(key=key),
        )
    )
    assert by_key.status_code == 200, by_key.text
    await hass.async_block_till_done()
    crl = x509.load_der_x509_crl(home.entry.runtime_data.crl_der)
    revoked = crl.get_revoked_certificate_by_serial_number(leaf_two.serial_number)
    assert revoked is not None
    assert (
        revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
        is x509.ReasonFlags.superseded
    )


def window_of(raw: Raw, leaf: x509.Certificate) -> tuple[datetime, datetime, str]:
    """Fetch a certificate's renewal information."""
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier is not None
    response = raw.get(
        f"{raw.directory['renewalInfo']}/"
        f"{renewal_info_id(aki.key_identifier, leaf.serial_number)}"
    )
    assert response.status_code == 200, response.text
    window = response.json()["suggestedWindow"]
    return (
        datetime.fromisoformat(window["start"]),
        datetime.fromisoformat(window["end"]),
        response.headers["Retry-After"],
    )


async def test_renewal_information(home: Home) -> None:
    """The renewalInfo resource follows the renewal timing; revoked means renew now."""
    hass = home.hass
    acme = await home.client()
    order = await home.run(acme.obtain, home.server)
    leaf = x509.load_pem_x509_certificates(order.fullchain_pem.encode())[0]
    raw = await home.raw()
    start, end, retry = await home.run(window_of, raw, leaf)
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    # DESIGN's timing: at 0.67 of the lifetime, less up to 5 % of it.
    assert end == leaf.not_valid_before_utc + lifetime * 0.67
    assert start == leaf.not_valid_before_utc + lifetime * 0.62
    assert int(retry) > 0
    assert (
        attributes_of(hass, home.device.certificate_id, "expires")["next_renewal"]
        == start.isoformat()
    )

    # Renew now from Home Assistant: the window moves to the present.
    await hass.services.async_call(
        DOMAIN,
        "renew",
        {"device_id": _device_id(hass, home.device.certificate_id)},
        blocking=True,
    )
    now = dt_util.utcnow()
    start, end, _ = await home.run(window_of, raw, leaf)
    assert start <= now + timedelta(seconds=1)
    assert now < end <= now + timedelta(days=1, seconds=1)

    await home.run(acme.acme.revoke, comparable(leaf), 0)
    start, end, _ = await home.run(window_of, raw, leaf)
    assert end <= dt_util.utcnow()

    unknown = await home.run(lambda: raw.get(f"{raw.directory['renewalInfo']}/AAAA.AQ"))
    assert unknown.status_code == 404


def _device_id(hass: HomeAssistant, certificate_id: str) -> str:
    """Return the device of a certificate."""
    from homeassistant.helpers import device_registry as dr  # noqa: PLC0415

    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, certificate_id)})
    assert device is not None
    return device.id


async def test_replaces(home: Home) -> None:
    """The replaces field of newOrder names one of the device's certificates, once."""
    acme = await home.client()
    order = await home.run(acme.obtain, home.server)
    leaf = x509.load_pem_x509_certificates(order.fullchain_pem.encode())[0]
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier is not None
    certificate_id = renewal_info_id(aki.key_identifier, leaf.serial_number)
    raw = await home.raw()
    kid = acme.acme.net.account.uri
    identifiers = [{"type": "dns", "value": DEVICE_NAME}]
    first = await home.run(
        lambda: raw.post(
            raw.directory["newOrder"],
            {"identifiers": identifiers, "replaces": certificate_id},
            acme.key,
            kid=kid,
        )
    )
    assert first.status_code == 201, first.text
    assert first.json()["replaces"] == certificate_id
    second = await home.run(
        lambda: raw.post(
            raw.directory["newOrder"],
            {"identifiers": identifiers, "replaces": certificate_id},
            acme.key,
            kid=kid,
        )
    )
    assert problem_type(second) == "alreadyReplaced"
    assert second.status_code == 409


async def test_overdue_device_shows_renewal_failed(
    home: Home, freezer: FrozenDateTimeFactory
) -> None:
    """A device that has not renewed by the end of its window is renewal_failed."""
    hass = home.hass
    acme = await home.client()
    order = await home.run(acme.obtain, home.server)
    await hass.async_block_till_done()
    leaf = x509.load_pem_x509_certificates(order.fullchain_pem.encode())[0]
    raw = await home.raw()
    _, end, _ = await home.run(window_of, raw, leaf)
    certificate_id = home.device.certificate_id
    freezer.move_to(end - timedelta(minutes=1))
    await home.entry.runtime_data.async_refresh_all()
    assert state_of(hass, certificate_id, "status") == "valid"
    freezer.move_to(end + timedelta(minutes=1))
    await home.entry.runtime_data.async_refresh_all()
    assert state_of(hass, certificate_id, "status") == "renewal_failed"
    assert (
        "renewal_overdue" in attributes_of(hass, certificate_id, "problem")["reasons"]
    )


async def test_orders_and_authorizations_edges(home: Home) -> None:
    """Orders and authorizations refuse what RFC 8555 does not allow."""
    acme = await home.client()
    kid = acme.acme.net.account.uri
    raw = await home.raw()
    new_order = raw.directory["newOrder"]

    async def post(url: str, payload: Any, **kwargs: Any) -> Any:
        return await home.run(
            lambda: raw.post(url, payload, acme.key, kid=kid, **kwargs)
        )

    name = {"type": "dns", "value": DEVICE_NAME}
    for payload, expected in (
        ({"identifiers": []}, "malformed"),
        ({"identifiers": [name], "notBefore": "2027-01-01T00:00:00Z"}, "malformed"),
        ({"identifiers": [{"type": "email", "value": "a@b"}]}, "unsupportedIdentifier"),
        (
            {"identifiers": [{"type": "dns", "value": "not a name"}]},
            "rejectedIdentifier",
        ),
        ({"identifiers": [{"type": "ip", "value": "300.1.1.1"}]}, "rejectedIdentifier"),
        ({"identifiers": ["nas"]}, "malformed"),
        ({"identifiers": [name], "replaces": 7}, "malformed"),
        ({"identifiers": [name], "replaces": "AAAA.AQ"}, "malformed"),
    ):
        response = await post(new_order, payload)
        assert problem_type(response) == expected, payload

    created = await post(new_order, {"identifiers": [name]})
    assert created.status_code == 201
    order_url = created.headers["Location"]
    order = created.json()
    assert order["status"] == "pending"
    # The same pending authorization serves a second order.
    again = await post(new_order, {"identifiers": [name]})
    assert again.json()["authorizations"] == order["authorizations"]

    not_ready = await post(order["finalize"], {"csr": "AAAA"})
    assert problem_type(not_ready) == "orderNotReady"
    with_payload = await post(order_url, {"x": 1})
    assert problem_type(with_payload) == "malformed"
    read = await post(order_url, None)
    assert read.json()["status"] == "pending"
    missing = await post(order_url + "x", None)
    assert missing.status_code == 404

    (authz_url,) = order["authorizations"]
    authz = (await post(authz_url, None)).json()
    assert {item["type"] for item in authz["challenges"]} == {"http-01", "tls-alpn-01"}
    challenge_url = authz["challenges"][0]["url"]
    peek = await post(challenge_url, None)
    assert peek.json()["status"] == "pending"
    unknown_challenge = await post(challenge_url + "x", {})
    assert unknown_challenge.status_code == 404
    bad_status = await post(authz_url, {"status": "valid"})
    assert problem_type(bad_status) == "malformed"
    deactivated = await post(authz_url, {"status": "deactivated"})
    assert deactivated.json()["status"] == "deactivated"
    assert (await post(order_url, None)).json()["status"] == "invalid"

    other = await home.client()
    foreign = await home.run(
        lambda: raw.post(order_url, None, other.key, kid=other.acme.net.account.uri)
    )
    assert problem_type(foreign) == "unauthorized"
    foreign_authz = await home.run(
        lambda: raw.post(authz_url, None, other.key, kid=other.acme.net.account.uri)
    )
    assert problem_type(foreign_authz) == "unauthorized"


async def test_accounts_edges(home: Home) -> None:
    """Account requests check keys, contacts, owners and the kid/jwk choice."""
    acme = await home.client()
    kid = acme.acme.net.account.uri
    raw = await home.raw()
    url = raw.directory["newAccount"]
    existing = await home.run(
        lambda: raw.post(url, {"onlyReturnExisting": True}, acme.key)
    )
    assert existing.status_code == 200
    assert existing.headers["Location"] == kid
    by_kid = await home.run(lambda: raw.post(url, {}, acme.key, kid=kid))
    assert problem_type(by_kid) == "malformed"
    jwk_order = await home.run(
        lambda: raw.post(raw.directory["newOrder"], {}, acme.key)
    )
    assert problem_type(jwk_order) == "malformed"
    for contact, expected in (
        (["mailto:nobody"], "invalidContact"),
        ("mailto:a@b.example", "malformed"),
    ):
        response = await home.run(
            lambda contact=contact: raw.post(
                kid, {"contact": contact}, acme.key, kid=kid
            )
        )
        assert problem_type(response) == expected
    status = await home.run(
        lambda: raw.post(kid, {"status": "revoked"}, acme.key, kid=kid)
    )
    assert problem_type(status) == "malformed"
    other = await home.client()
    other_kid = other.acme.net.account.uri
    foreign = await home.run(lambda: raw.post(other_kid, None, acme.key, kid=kid))
    assert problem_type(foreign) == "unauthorized"
    private = await home.run(
        lambda: raw.session.post(
            url,
            data=_jws_with_private_key(raw, url),
            headers={"Content-Type": "application/jose+json"},
            verify=raw.verify,
            timeout=10,
        )
    )
    assert problem_type(private) == "badPublicKey"
    not_json = await home.run(
        lambda: raw.session.post(
            url,
            data=b"{",
            headers={"Content-Type": "application/jose+json"},
            verify=raw.verify,
            timeout=10,
        )
    )
    assert problem_type(not_json) == "malformed"


def _jws_with_private_key(raw: Raw, url: str) -> str:
    """Return a new-account request whose jwk header carries a private key."""
    key = account_key()
    private = key.to_json()
    header = {"alg": "ES256", "nonce": raw.nonce(), "url": url, "jwk": private}
    protected = jose.encode_b64jose(__import__("json").dumps(header).encode())
    payload = jose.encode_b64jose(b"{}")
    signature = jose.ES256.sign(key.key, f"{protected}.{payload}".encode())
    return __import__("json").dumps(
        {
            "protected": protected,
            "payload": payload,
            "signature": jose.encode_b64jose(signature),
        }
    )


async def test_certificates_belong_to_their_device(home: Home) -> None:
    """Another device's account cannot download or revoke a certificate."""
    acme = await home.client()
    order = await home.run(acme.obtain, home.server)
    leaf = x509.load_pem_x509_certificates(order.fullchain_pem.encode())[0]
    hass = home.hass
    with challenge_ports(home.server.port):
        second = await add_pulling_device(
            hass, home.entry, name="Camera", dns_names=("camera.home.arpa",)
        )
    stranger = await home.run(Client, second, home.ca_file)
    await home.run(stranger.register)
    raw = await home.raw()
    stranger_kid = stranger.acme.net.account.uri
    cert_url = (
        f"{raw.directory['newOrder'].rsplit('/', 1)[0]}/cert/{leaf.serial_number:x}"
    )
    foreign = await home.run(
        lambda: raw.post(cert_url, None, stranger.key, kid=stranger_kid)
    )
    assert problem_type(foreign) == "unauthorized"
    unknown = await home.run(
        lambda: raw.post(cert_url + "0", None, stranger.key, kid=stranger_kid)
    )
    assert unknown.status_code == 404
    certificate = jose.encode_b64jose(leaf.public_bytes(serialization.Encoding.DER))
    revoke = await home.run(
        lambda: raw.post(
            raw.directory["revokeCert"],
            {"certificate": certificate},
            stranger.key,
            kid=stranger_kid,
        )
    )
    assert problem_type(revoke) == "unauthorized"
    garbage = await home.run(
        lambda: raw.post(
            raw.directory["revokeCert"],
            {"certificate": jose.encode_b64jose(b"nope")},
            stranger.key,
            kid=stranger_kid,
        )
    )
    assert problem_type(garbage) == "malformed"
    bad_id = await home.run(lambda: raw.get(f"{raw.directory['renewalInfo']}/nothing"))
    assert bad_id.status_code == 400


async def test_removed_device_forgets_its_accounts(home: Home) -> None:
    """Once a device is removed, its accounts are gone."""
    acme = await home.client()
    kid = acme.acme.net.account.uri
    with challenge_ports(home.server.port):
        await add_pulling_device(
            home.hass, home.entry, name="Camera", dns_names=("camera.home.arpa",)
        )
    home.hass.config_entries.async_remove_subentry(
        home.entry, home.device.certificate_id
    )
    await home.hass.async_block_till_done()
    accounts = home.entry.runtime_data.acme.state.accounts.values()
    assert all(
        account.certificate_id != home.device.certificate_id for account in accounts
    )
    raw = await home.raw()
    gone = await home.run(
        lambda: raw.post(
            raw.directory["newOrder"],
            {"identifiers": [{"type": "dns", "value": DEVICE_NAME}]},
            acme.key,
            kid=kid,
        )
    )
    assert problem_type(gone) == "accountDoesNotExist"
