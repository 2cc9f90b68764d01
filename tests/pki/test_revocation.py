"""Tests of revocation reasons, certificate revocation lists and their URLs."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.x509.oid import AuthorityInformationAccessOID
import pytest

from custom_components.home_pki.pki.authority import (
    Authority,
    AuthorityMaterial,
)
from custom_components.home_pki.pki.errors import RevocationCheckError
from custom_components.home_pki.pki.inspect import serial_to_hex
from custom_components.home_pki.pki.keys import (
    KeyAlgorithm,
    PrivateKey,
    PrivateKeySigner,
    private_key_to_pem,
)
from custom_components.home_pki.pki.revocation import (
    CLOCK_SKEW,
    CRL_LIFETIME,
    CRL_REFRESH_MARGIN,
    SOURCE_CRL,
    RevocationAnswer,
    RevocationReason,
    RevocationStatus,
    RevokedEntry,
    build_crl,
    ca_issuer_urls,
    crl_answer,
    crl_refresh_time,
    crl_to_der,
    crl_urls,
    ocsp_urls,
    read_crl,
)
from tests.pki.common import (
    CA_ISSUERS_URL,
    CRL_URL,
    OCSP_URL,
    OpenSsl,
    build_certificate,
    name,
)

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


def home_crl(
    authority: Authority, now: datetime, *revoked: RevokedEntry
) -> x509.CertificateRevocationList:
    """Sign a CRL of the home intermediate."""
    return build_crl(
        issuer=authority.intermediate,
        signing_key=authority.signing_key,
        entries=revoked,
        crl_number=1,
        now=now,
    )


def test_read_crl(authority: Authority, leaf: x509.Certificate, now: datetime) -> None:
    """A CRL reads from DER or PEM, and tells good from revoked."""
    entry = RevokedEntry(
        serial_number=leaf.serial_number,
        revoked_at=now - timedelta(hours=1),
        reason=RevocationReason.KEY_COMPROMISE,
    )
    crl = home_crl(authority, now, entry)
    assert read_crl(crl_to_der(crl), issuer=authority.intermediate, now=now) == crl
    pem = crl.public_bytes(serialization.Encoding.PEM)
    assert read_crl(pem, issuer=authority.intermediate, now=now) == crl

    assert crl_answer(crl, leaf, now) == RevocationAnswer(
        status=RevocationStatus.REVOKED,
        source=SOURCE_CRL,
        reason=RevocationReason.KEY_COMPROMISE,
        revoked_at=now - timedelta(hours=1),
        next_update=now + CRL_LIFETIME,
        detail=None,
    )
    unspecified = RevokedEntry(
        serial_number=leaf.serial_number,
        revoked_at=now,
        reason=RevocationReason.UNSPECIFIED,
    )
    answer = crl_answer(home_crl(authority, now, unspecified), leaf, now)
    assert answer.status is RevocationStatus.REVOKED
    assert answer.reason is RevocationReason.UNSPECIFIED
    assert crl_answer(home_crl(authority, now), leaf, now) == RevocationAnswer(
        status=RevocationStatus.GOOD,
        source=SOURCE_CRL,
        next_update=now + CRL_LIFETIME,
    )


def crl_with(
    issuer: x509.Certificate,
    key: PrivateKey,
    now: datetime,
    *,
    entries: Sequence[x509.RevokedCertificate] = (),
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    last_update: timedelta = timedelta(0),
) -> bytes:
    """Sign a CRL with exactly the given entries and extensions, as DER."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now + last_update)
        .next_update(now + last_update + CRL_LIFETIME)
    )
    for entry in entries:
        builder = builder.add_revoked_certificate(entry)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return crl_to_der(PrivateKeySigner(key).sign_crl(builder))


def revoked_entry(
    serial_number: int, now: datetime, *extensions: x509.ExtensionType
) -> x509.RevokedCertificate:
    """Build a CRL entry with the given entry extensions."""
    builder = (
        x509.RevokedCertificateBuilder()
        .serial_number(serial_number)
        .revocation_date(now)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.build()


@pytest.mark.parametrize(
    ("flag", "reason", "detail"),
    [
        (x509.ReasonFlags.unspecified, RevocationReason.UNSPECIFIED, None),
        (x509.ReasonFlags.superseded, RevocationReason.SUPERSEDED, None),
        (x509.ReasonFlags.certificate_hold, None, "certificateHold"),
        (x509.ReasonFlags.ca_compromise, None, "cACompromise"),
    ],
)
def test_crl_entry_reasons(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
    flag: x509.ReasonFlags,
    reason: RevocationReason | None,
    detail: str | None,
) -> None:
    """Reasons the home CA names map to them; the others go in detail."""
    data = crl_with(
        authority.intermediate,
        ec_material.intermediate_key,
        now,
        entries=[revoked_entry(leaf.serial_number, now, x509.CRLReason(flag))],
    )
    answer = crl_answer(
        read_crl(data, issuer=authority.intermediate, now=now), leaf, now
    )
    assert answer.status is RevocationStatus.REVOKED
    assert answer.reason == reason
    assert answer.detail == detail


def test_crl_entry_with_unreadable_extensions(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
) -> None:
    """An entry whose extensions do not parse still revokes, for no known reason."""
    entry = revoked_entry(
        leaf.serial_number,
        now,
        x509.CRLReason(x509.ReasonFlags.superseded),
        x509.InvalidityDate(now.replace(tzinfo=None)),
    )
    crl = x509.load_der_x509_crl(
        crl_with(
            authority.intermediate, ec_material.intermediate_key, now, entries=[entry]
        )
    )
    # Turn the invalidity date (2.5.29.24) into a second reason code (2.5.29.21).
    tbs = crl.tbs_certlist_bytes.replace(
        b"\x06\x03\x55\x1d\x18", b"\x06\x03\x55\x1d\x15"
    )
    key = ec_material.intermediate_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    ecdsa_with_sha256 = der(0x30, der(0x06, bytes.fromhex("2a8648ce3d040302")))
    broken = der(0x30, tbs + ecdsa_with_sha256 + der(0x03, b"\x00" + signature))
    crl = read_crl(broken, issuer=authority.intermediate, now=now)
    with pytest.raises(x509.DuplicateExtension):
        _ = next(iter(crl)).extensions
    answer = crl_answer(crl, leaf, now)
    assert answer.status is RevocationStatus.REVOKED
    assert answer.reason is RevocationReason.UNSPECIFIED


def test_read_crl_refuses(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf_key: PrivateKey,
    now: datetime,
) -> None:
    """Garbage, another issuer's CRL, a forged or untimely one are unusable."""
    intermediate, key = authority.intermediate, ec_material.intermediate_key
    root_crl = build_crl(
        issuer=authority.root,
        signing_key=PrivateKeySigner(ec_material.root_key),
        entries=[],
        crl_number=1,
        now=now,
    )
    forged = crl_with(intermediate, ec_material.root_key, now)
    partial = x509.IssuingDistributionPoint(
        full_name=None,
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=True,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    unknown_critical = x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"
    )
    cases = {
        b"garbage": "unreadable CRL",
        b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n": "unreadable CRL",
        crl_to_der(root_crl): "the CRL names another issuer",
        forged: "the CRL signature does not verify",
        crl_with(intermediate, key, now, last_update=-2 * CRL_LIFETIME): (
            "the CRL is past its next update"
        ),
        crl_with(intermediate, key, now, last_update=2 * CLOCK_SKEW): (
            "the CRL is not valid yet"
        ),
        crl_with(
            intermediate, key, now, extensions=[(x509.DeltaCRLIndicator(1), True)]
        ): ("a delta CRL is not complete"),
        crl_with(intermediate, key, now, extensions=[(partial, True)]): (
            "the CRL covers only some certificates"
        ),
        crl_with(intermediate, key, now, extensions=[(unknown_critical, True)]): (
            "unknown critical CRL extension 1.3.6.1.4.1.55555.1"
        ),
    }
    for data, detail in cases.items():
        with pytest.raises(RevocationCheckError) as caught:
            read_crl(data, issuer=intermediate, now=now)
        assert caught.value.detail == detail
        assert caught.value.reason == "revocation_unknown"

    # A CRL just inside the clock skew is still usable, as is a user-certs one.
    late = now + CRL_LIFETIME + CLOCK_SKEW - timedelta(seconds=1)
    data = crl_with(intermediate, key, now)
    assert read_crl(data, issuer=intermediate, now=late) == x509.load_der_x509_crl(data)
    users = x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier(CRL_URL)],
        relative_name=None,
        only_contains_user_certs=True,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    data = crl_with(intermediate, key, now, extensions=[(users, True)])
    assert read_crl(data, issuer=intermediate, now=now) == x509.load_der_x509_crl(data)


def test_read_crl_checks_the_issuer(
    ec_material: AuthorityMaterial, leaf_key: PrivateKey, now: datetime
) -> None:
    """An issuer without cRLSign, or with a key that cannot sign, is refused."""
    no_crl_sign = build_certificate(
        subject=name("Signer"),
        public_key=leaf_key.public_key(),
        issuer=ec_material.root_certificate.subject,
        issuer_key=ec_material.root_key,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=1),
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            ),
        ],
    )
    with pytest.raises(RevocationCheckError) as caught:
        read_crl(crl_with(no_crl_sign, leaf_key, now), issuer=no_crl_sign, now=now)
    assert caught.value.detail == "the issuer may not sign CRLs"

    exchange = x509.CertificateBuilder(
        issuer_name=name("Signer"),
        subject_name=name("Signer"),
        public_key=x25519.X25519PrivateKey.generate().public_key(),
        serial_number=3,
        not_valid_before=now - timedelta(days=1),
        not_valid_after=now + timedelta(days=1),
    ).sign(leaf_key, hashes.SHA256())
    with pytest.raises(RevocationCheckError) as caught:
        read_crl(crl_with(no_crl_sign, leaf_key, now), issuer=exchange, now=now)
    assert caught.value.detail == "the CRL signature does not verify"


def test_read_crl_with_an_unknown_issuer_key(
    leaf_key: PrivateKey, now: datetime, openssl: OpenSsl
) -> None:
    """An issuer whose key cryptography cannot load does not verify a CRL."""
    openssl.ok("genpkey", "-algorithm", "SM2", "-out", "sm2.pem")
    openssl.ok(
        "req",
        "-x509",
        "-key",
        "sm2.pem",
        "-sm3",
        "-subj",
        "/CN=Signer",
        "-days",
        "30",
        "-out",
        "sm2-cert.pem",
    )
    issuer = x509.load_pem_x509_certificate(
        (openssl.directory / "sm2-cert.pem").read_bytes()
    )
    other = build_certificate(
        subject=name("Signer"),
        public_key=leaf_key.public_key(),
        issuer=name("Signer"),
        issuer_key=leaf_key,
        not_before=now,
        not_after=now + timedelta(days=1),
    )
    with pytest.raises(RevocationCheckError) as caught:
        read_crl(crl_with(other, leaf_key, now), issuer=issuer, now=now)
    assert caught.value.detail == "the CRL signature does not verify"


def test_crl_answer_that_cannot_tell(
    authority: Authority,
    leaf: x509.Certificate,
    ec_material: AuthorityMaterial,
    now: datetime,
) -> None:
    """Another issuer's CRL, or one gone stale since it was read, tells nothing."""
    root_crl = build_crl(
        issuer=authority.root,
        signing_key=PrivateKeySigner(ec_material.root_key),
        entries=[],
        crl_number=1,
        now=now,
    )
    assert crl_answer(root_crl, leaf, now) == RevocationAnswer(
        status=RevocationStatus.UNKNOWN,
        source=SOURCE_CRL,
        detail="the CRL is another issuer's",
    )
    later = now + CRL_LIFETIME + 2 * CLOCK_SKEW
    assert crl_answer(home_crl(authority, now), leaf, later) == RevocationAnswer(
        status=RevocationStatus.UNKNOWN,
        source=SOURCE_CRL,
        detail="the CRL is past its next update",
    )


@pytest.mark.parametrize("digest", ["sha256", "sha1"])
def test_read_a_crl_openssl_signed(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
    openssl: OpenSsl,
    digest: str,
) -> None:
    """A CRL that openssl ca generates from its database, even over SHA-1, reads."""
    expiry = leaf.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    revoked_at = (now - timedelta(days=1)).replace(second=0)
    serial = serial_to_hex(leaf.serial_number)
    openssl.write(
        "index.txt",
        f"R\t{expiry}\t{revoked_at:%y%m%d%H%M%SZ},keyCompromise\t{serial}"
        "\tunknown\t/CN=NAS\n",
    )
    openssl.write("crlnumber", "01\n")
    openssl.write(
        "ca.cnf",
        "[ca]\ndefault_ca = home\n[home]\ndatabase = index.txt\n"
        f"crlnumber = crlnumber\ndefault_md = {digest}\ndefault_crl_days = 1\n",
    )
    openssl.write_certificates("intermediate.pem", authority.intermediate)
    openssl.write("intermediate.key", private_key_to_pem(ec_material.intermediate_key))
    openssl.ok(
        "ca",
        "-config",
        "ca.cnf",
        "-gencrl",
        "-cert",
        "intermediate.pem",
        "-keyfile",
        "intermediate.key",
        "-out",
        "crl.pem",
    )
    data = (openssl.directory / "crl.pem").read_bytes()
    crl = read_crl(data, issuer=authority.intermediate, now=now)
    assert crl.signature_hash_algorithm is not None
    assert crl.signature_hash_algorithm.name == digest
    answer = crl_answer(crl, leaf, now)
    assert answer.status is RevocationStatus.REVOKED
    assert answer.reason is RevocationReason.KEY_COMPROMISE
    assert answer.revoked_at == revoked_at


def test_urls_of_a_home_leaf(leaf: x509.Certificate, authority: Authority) -> None:
    """A home leaf points at its OCSP responder, CRL and issuer."""
    assert ocsp_urls(leaf) == (OCSP_URL,)
    assert crl_urls(leaf) == (CRL_URL,)
    assert ca_issuer_urls(leaf) == (CA_ISSUERS_URL,)
    assert ocsp_urls(authority.root) == ()
    assert crl_urls(authority.root) == ()
    assert ca_issuer_urls(authority.root) == ()


def test_urls_kept_and_left_out(leaf_key: PrivateKey, now: datetime) -> None:
    """Only HTTP URLs of complete CRLs count, each once, in order."""

    def uri(value: str) -> x509.UniformResourceIdentifier:
        """Name a URL."""
        return x509.UniformResourceIdentifier(value)

    def point(
        *names: x509.GeneralName, reasons: frozenset[x509.ReasonFlags] | None = None
    ) -> x509.DistributionPoint:
        """Build a distribution point."""
        return x509.DistributionPoint(
            full_name=list(names) or None,
            relative_name=None
            if names
            else x509.RelativeDistinguishedName(
                [x509.NameAttribute(x509.NameOID.COMMON_NAME, "CRL")]
            ),
            reasons=reasons,
            crl_issuer=None,
        )

    ocsp_method = AuthorityInformationAccessOID.OCSP
    issuers_method = AuthorityInformationAccessOID.CA_ISSUERS
    certificate = build_certificate(
        subject=name("odd"),
        public_key=leaf_key.public_key(),
        issuer=name("odd"),
        issuer_key=leaf_key,
        not_before=now,
        not_after=now + timedelta(days=1),
        extensions=[
            (
                x509.CRLDistributionPoints(
                    [
                        point(uri("ldap://dir.lan/cn=CA?certificateRevocationList")),
                        point(uri("HTTP://crl.lan/a.crl"), x509.DNSName("crl.lan")),
                        point(),
                        point(
                            uri("http://crl.lan/some.crl"),
                            reasons=frozenset({x509.ReasonFlags.key_compromise}),
                        ),
                        point(uri("http://crl.lan/b.crl"), uri("HTTP://crl.lan/a.crl")),
                    ]
                ),
                False,
            ),
            (
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(ocsp_method, uri("https://ocsp.lan/")),
                        x509.AccessDescription(ocsp_method, uri("https://ocsp.lan/")),
                        x509.AccessDescription(ocsp_method, x509.DNSName("ocsp.lan")),
                        x509.AccessDescription(issuers_method, uri("ftp://ca.lan/c")),
                    ]
                ),
                False,
            ),
        ],
    )
    assert crl_urls(certificate) == ("HTTP://crl.lan/a.crl", "http://crl.lan/b.crl")
    assert ocsp_urls(certificate) == ("https://ocsp.lan/",)
    assert ca_issuer_urls(certificate) == ()


def test_urls_of_an_unreadable_certificate(
    authority: Authority, leaf: x509.Certificate
) -> None:
    """A certificate whose extensions do not parse points nowhere."""
    data = leaf.public_bytes(serialization.Encoding.DER)
    # Rename the key usage extension (2.5.29.15) into a second basic constraints.
    broken = x509.load_der_x509_certificate(
        data.replace(b"\x06\x03\x55\x1d\x0f", b"\x06\x03\x55\x1d\x13", 1)
    )
    assert ocsp_urls(broken) == ()
    assert crl_urls(broken) == ()
    assert ca_issuer_urls(broken) == ()
