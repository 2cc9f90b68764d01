"""Tests of revocation reasons and certificate revocation lists."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
import pytest

from custom_components.home_pki.pki.authority import Authority, AuthorityMaterial
from custom_components.home_pki.pki.inspect import serial_to_hex
from custom_components.home_pki.pki.keys import (
    KeyAlgorithm,
    PrivateKey,
    PrivateKeySigner,
)
from custom_components.home_pki.pki.revocation import (
    CRL_LIFETIME,
    CRL_REFRESH_MARGIN,
    RevocationReason,
    RevokedEntry,
    build_crl,
    crl_refresh_time,
    crl_to_der,
)
from tests.pki.common import OpenSsl, build_certificate, name

type Materials = Callable[[KeyAlgorithm], AuthorityMaterial]

FLAGS = {
    RevocationReason.UNSPECIFIED: None,
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
}


def test_constants() -> None:
    """A CRL lives a week and is refreshed two days before it goes stale."""
    assert timedelta(days=7) == CRL_LIFETIME
    assert timedelta(days=2) == CRL_REFRESH_MARGIN


@pytest.mark.parametrize("reason", list(RevocationReason))
def test_reason_flags(reason: RevocationReason) -> None:
    """Each reason maps to its RFC 5280 flag; unspecified maps to none."""
    assert reason.to_flag() == FLAGS[reason]


def test_reason_values() -> None:
    """The stored reason keys match the revoke action's options."""
    assert [reason.value for reason in RevocationReason] == [
        "unspecified",
        "key_compromise",
        "affiliation_changed",
        "superseded",
        "cessation_of_operation",
        "privilege_withdrawn",
    ]


def entries(now: datetime) -> list[RevokedEntry]:
    """Return a revoked entry of three reasons."""
    return [
        RevokedEntry(
            serial_number=0xABCDEF,
            revoked_at=now - timedelta(hours=2),
            reason=RevocationReason.KEY_COMPROMISE,
        ),
        RevokedEntry(
            serial_number=0x42,
            revoked_at=now - timedelta(hours=1),
            reason=RevocationReason.UNSPECIFIED,
        ),
        RevokedEntry(
            serial_number=2**126 + 5,
            revoked_at=now,
            reason=RevocationReason.CESSATION_OF_OPERATION,
        ),
    ]


def test_build_crl(authority: Authority, now: datetime) -> None:
    """A CRL names its issuer, times, number, key and entries with reasons."""
    crl = build_crl(
        issuer=authority.intermediate,
        signing_key=authority.signing_key,
        entries=entries(now),
        crl_number=7,
        now=now,
    )
    assert crl.issuer == authority.intermediate.subject
    assert crl.last_update_utc == now
    assert crl.next_update_utc == now + CRL_LIFETIME
    assert crl.is_signature_valid(authority.signing_key.public_key())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    identifier = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert identifier.value.key_identifier == (
        authority.intermediate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    )

    revoked = {entry.serial_number: entry for entry in crl}
    compromised = revoked[0xABCDEF]
    assert compromised.revocation_date_utc == now - timedelta(hours=2)
    assert compromised.extensions.get_extension_for_class(
        x509.CRLReason
    ).value.reason == (x509.ReasonFlags.key_compromise)

    unspecified = revoked[0x42]
    with pytest.raises(x509.ExtensionNotFound):
        unspecified.extensions.get_extension_for_class(x509.CRLReason)
    assert len(crl) == 3


def test_build_crl_empty_and_lifetime(authority: Authority, now: datetime) -> None:
    """An empty CRL is valid, and its lifetime can be chosen."""
    crl = build_crl(
        issuer=authority.intermediate,
        signing_key=authority.signing_key,
        entries=[],
        crl_number=1,
        now=now,
        lifetime=timedelta(hours=12),
    )
    assert len(crl) == 0
    assert crl.next_update_utc == now + timedelta(hours=12)


@pytest.mark.parametrize(
    "algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_2048, KeyAlgorithm.ED25519]
)
def test_openssl_verifies_the_crl(
    materials: Materials, algorithm: KeyAlgorithm, now: datetime, openssl: OpenSsl
) -> None:
    """OpenSSL verifies the CRL against the chain and lists the reasons."""
    material = materials(algorithm)
    crl = build_crl(
        issuer=material.intermediate_certificate,
        signing_key=PrivateKeySigner(material.intermediate_key),
        entries=entries(now),
        crl_number=12,
        now=now,
    )
    openssl.write("crl.der", crl_to_der(crl))
    openssl.ok("crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem")
    openssl.write_certificates(
        "chain.pem", material.intermediate_certificate, material.root_certificate
    )
    result = openssl.run(
        "crl", "-in", "crl.pem", "-CAfile", "chain.pem", "-verify", "-noout", "-text"
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stdout + result.stderr
    text = result.stdout
    assert f"Serial Number: {serial_to_hex(0xABCDEF)}" in text
    assert "Key Compromise" in text
    assert "Cessation Of Operation" in text
    assert "X509v3 CRL Number: \n                12" in text


def test_openssl_finds_a_revoked_leaf(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """With CRL checking, OpenSSL refuses a leaf the CRL lists."""
    crl = build_crl(
        issuer=authority.intermediate,
        signing_key=authority.signing_key,
        entries=[
            RevokedEntry(
                serial_number=leaf.serial_number,
                revoked_at=now,
                reason=RevocationReason.SUPERSEDED,
            )
        ],
        crl_number=2,
        now=now,
    )
    root_crl = build_crl(
        issuer=authority.root,
        signing_key=PrivateKeySigner(ec_material.root_key),
        entries=[],
        crl_number=1,
        now=now,
    )
    openssl.write(
        "crls.pem",
        crl.public_bytes(serialization.Encoding.PEM)
        + root_crl.public_bytes(serialization.Encoding.PEM),
    )
    openssl.write_certificates("root.pem", authority.root)
    openssl.write_certificates("intermediate.pem", authority.intermediate)
    openssl.write_certificates("leaf.pem", leaf)
    result = openssl.run(
        "verify",
        "-crl_check_all",
        "-CRLfile",
        "crls.pem",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "intermediate.pem",
        "leaf.pem",
    )
    assert result.returncode != 0
    assert "certificate revoked" in result.stdout + result.stderr


def test_build_crl_for_an_issuer_without_key_identifier(
    leaf_key: PrivateKey, now: datetime
) -> None:
    """An issuer without an SKI is identified by the hash of its key."""
    issuer = build_certificate(
        subject=name("Old CA"),
        public_key=leaf_key.public_key(),
        issuer=name("Old CA"),
        issuer_key=leaf_key,
        not_before=now,
        not_after=now + timedelta(days=1),
    )
    crl = build_crl(
        issuer=issuer,
        signing_key=PrivateKeySigner(leaf_key),
        entries=[],
        crl_number=1,
        now=now,
    )
    identifier = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert identifier.value.key_identifier == (
        x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()).digest
    )


def test_crl_to_der_round_trip(authority: Authority, now: datetime) -> None:
    """The DER served over HTTP loads back as the same CRL."""
    crl = build_crl(
        issuer=authority.intermediate,
        signing_key=authority.signing_key,
        entries=entries(now),
        crl_number=3,
        now=now,
    )
    der = crl_to_der(crl)
    assert der[0] == 0x30
    assert x509.load_der_x509_crl(der) == crl


@pytest.mark.parametrize(
    ("lifetime", "refresh_after"),
    [
        (CRL_LIFETIME, timedelta(days=5)),
        (timedelta(days=30), timedelta(days=28)),
        (timedelta(days=1), timedelta(hours=12)),
    ],
)
def test_crl_refresh_time(
    authority: Authority, lifetime: timedelta, refresh_after: timedelta
) -> None:
    """Refresh two days before nextUpdate, or halfway through a short CRL."""
    issued = datetime(2025, 6, 1, tzinfo=UTC)
    crl = build_crl(
        issuer=authority.intermediate,
        signing_key=authority.signing_key,
        entries=[],
        crl_number=1,
        now=issued,
        lifetime=lifetime,
    )
    assert crl_refresh_time(crl) == issued + refresh_after


def der(tag: int, content: bytes) -> bytes:
    """Encode one DER element of up to 65535 content octets."""
    if len(content) < 0x80:
        return bytes([tag, len(content)]) + content
    size = len(content).to_bytes(2 if len(content) > 0xFF else 1)
    return bytes([tag, 0x80 | len(size)]) + size + content


def test_crl_refresh_time_without_next_update(authority: Authority) -> None:
    """A CRL without nextUpdate is refreshed as if it had our lifetime."""
    # cryptography always writes nextUpdate, so this CRL is assembled by hand:
    # RFC 5280 §5.1 TBSCertList with only version, signature, issuer, thisUpdate.
    ecdsa_with_sha256 = der(0x30, der(0x06, bytes.fromhex("2a8648ce3d040302")))
    body = der(
        0x30,
        der(0x02, b"\x01")
        + ecdsa_with_sha256
        + authority.intermediate.subject.public_bytes()
        + der(0x17, b"250601000000Z"),
    )
    crl = x509.load_der_x509_crl(
        der(0x30, body + ecdsa_with_sha256 + der(0x03, b"\x00" + b"\x00" * 8))
    )
    assert crl.next_update_utc is None
    assert crl_refresh_time(crl) == datetime(2025, 6, 6, tzinfo=UTC)
