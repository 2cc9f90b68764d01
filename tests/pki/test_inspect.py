"""Tests of certificate inspection, loading, encoding and chain verification."""

from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
import pytest

from custom_components.home_pki.pki.authority import (
    Authority,
    AuthorityMaterial,
    authority_key_identifier,
)
from custom_components.home_pki.pki.errors import ChainError, InvalidCertificateError
from custom_components.home_pki.pki.inspect import (
    CertificateInfo,
    certificate_to_pem,
    certificates_to_pem,
    common_name_of,
    inspect_certificate,
    load_certificates,
    serial_to_hex,
    verify_chain,
)
from custom_components.home_pki.pki.keys import (
    KeyAlgorithm,
    PrivateKey,
    private_key_to_pem,
)
from tests.pki.common import (
    OpenSsl,
    build_certificate,
    issue_request,
    make_authority,
    make_policy,
    name,
)

type Materials = Callable[[KeyAlgorithm], AuthorityMaterial]

SIGNATURE_NAMES = {
    KeyAlgorithm.EC_P256: "ecdsa-with-SHA256",
    KeyAlgorithm.EC_P384: "ecdsa-with-SHA384",
    KeyAlgorithm.RSA_2048: "sha256WithRSAEncryption",
    KeyAlgorithm.RSA_3072: "sha256WithRSAEncryption",
    KeyAlgorithm.ED25519: "ed25519",
}


def test_inspect_leaf(
    leaf: x509.Certificate, authority: Authority, now: datetime, openssl: OpenSsl
) -> None:
    """A leaf reads into plain values that agree with openssl."""
    info = inspect_certificate(leaf)
    assert info.subject == "CN=NAS"
    assert info.issuer == "CN=Test Home Intermediate CA,O=Test Home"
    assert info.common_name == "NAS"
    assert info.serial_number == leaf.serial_number
    assert info.not_before == now - timedelta(minutes=5)
    assert info.not_after == now + timedelta(days=90)
    assert info.not_after.tzinfo is not None
    assert info.lifetime == timedelta(days=90, minutes=5)
    assert info.dns_names == ("nas.home.arpa",)
    assert info.ip_addresses == ("192.168.1.20",)
    assert info.key_type == "EC P-256"
    assert info.signature_algorithm == "ecdsa-with-SHA256"
    assert not info.is_ca
    assert not info.self_signed

    path = openssl.write_certificates("leaf.pem", leaf)
    fingerprint = openssl.ok(
        "x509", "-in", str(path), "-noout", "-fingerprint", "-sha256"
    )
    assert fingerprint.strip().split("=", 1)[1] == info.fingerprint_sha256
    serial = openssl.ok("x509", "-in", str(path), "-noout", "-serial")
    assert serial.strip() == f"serial={info.serial_hex}"

    assert inspect_certificate(authority.intermediate).is_ca
    assert not inspect_certificate(authority.intermediate).self_signed


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_inspect_root(materials: Materials, algorithm: KeyAlgorithm) -> None:
    """A root is a self-signed authority, named by its signature algorithm."""
    info = inspect_certificate(materials(algorithm).root_certificate)
    assert info.is_ca
    assert info.self_signed
    assert info.subject == info.issuer == "CN=Test Home Root CA,O=Test Home"
    assert info.signature_algorithm == SIGNATURE_NAMES[algorithm]
    assert info.dns_names == ()
    assert info.ip_addresses == ()


def test_self_signed_needs_a_valid_signature(
    leaf_key: PrivateKey, ec_material: AuthorityMaterial, now: datetime
) -> None:
    """A certificate naming itself as issuer but signed by another key is not."""
    impostor = build_certificate(
        subject=name("impostor"),
        public_key=leaf_key.public_key(),
        issuer=name("impostor"),
        issuer_key=ec_material.root_key,
        not_before=now,
        not_after=now + timedelta(days=1),
    )
    info = inspect_certificate(impostor)
    assert not info.self_signed
    assert not info.is_ca


def test_inspect_unknown_algorithms(openssl: OpenSsl) -> None:
    """Keys and signatures cryptography does not know are named by their OIDs."""
    openssl.ok("genpkey", "-algorithm", "SM2", "-out", "sm2.pem")
    openssl.ok(
        "req",
        "-x509",
        "-key",
        "sm2.pem",
        "-sm3",
        "-subj",
        "/CN=sm2.lan",
        "-days",
        "30",
        "-out",
        "sm2-cert.pem",
    )
    certificate = load_certificates((openssl.directory / "sm2-cert.pem").read_bytes())[
        0
    ]
    info = inspect_certificate(certificate)
    assert info.signature_algorithm == "1.2.156.10197.1.501"
    assert info.key_type == "1.2.840.10045.2.1"
    assert not info.self_signed
    assert info.common_name == "sm2.lan"


def test_inspect_refuses_duplicate_extensions(
    leaf_key: PrivateKey, now: datetime
) -> None:
    """A certificate whose extensions do not parse is an invalid certificate."""
    certificate = build_certificate(
        subject=name("dup"),
        public_key=leaf_key.public_key(),
        issuer=name("dup"),
        issuer_key=leaf_key,
        not_before=now,
        not_after=now + timedelta(days=1),
        extensions=[
            (
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("1.3.6.1.4.1.1.1"), b"\x05\x00"
                ),
                False,
            ),
            (
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("1.3.6.1.4.1.1.2"), b"\x05\x00"
                ),
                False,
            ),
        ],
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    # The two OIDs differ in their last octet only: make them the same.
    duplicated = der.replace(
        b"\x2b\x06\x01\x04\x01\x01\x02", b"\x2b\x06\x01\x04\x01\x01\x01"
    )
    assert duplicated != der
    broken = load_certificates(duplicated)[0]
    with pytest.raises(InvalidCertificateError):
        inspect_certificate(broken)
    with pytest.raises(ChainError):
        verify_chain(broken, intermediates=[], roots=[broken], now=now)


def test_common_name_of() -> None:
    """The first common name, or None."""
    assert common_name_of(name("a")) == "a"
    assert common_name_of(x509.Name([])) is None


@pytest.mark.parametrize(
    ("serial", "text"),
    [
        (0, "00"),
        (1, "01"),
        (0x7F, "7F"),
        (0x80, "80"),
        (0xABC, "0ABC"),
        (2**127 - 1, "7F" + "FF" * 15),
        (-0x1F, "-1F"),
    ],
)
def test_serial_to_hex(serial: int, text: str) -> None:
    """Upper-case hex with an even number of digits, no separators."""
    assert serial_to_hex(serial) == text


@pytest.mark.parametrize("serial", [1, 0x80, 0xABC, 0x1234567890ABCDEF, 2**127 - 3])
def test_serial_to_hex_matches_openssl(
    authority: Authority,
    leaf_key: PrivateKey,
    now: datetime,
    openssl: OpenSsl,
    serial: int,
) -> None:
    """The serial openssl x509 -serial prints is what serial_to_hex gives."""
    leaf = authority.issue(
        issue_request(leaf_key.public_key(), serial_number=serial), now
    )
    path = openssl.write_certificates("leaf.pem", leaf)
    output = openssl.ok("x509", "-in", str(path), "-noout", "-serial")
    assert output.strip() == f"serial={serial_to_hex(serial)}"


def test_certificate_info_is_frozen(leaf: x509.Certificate) -> None:
    """A CertificateInfo is an immutable value."""
    info = inspect_certificate(leaf)
    assert info == inspect_certificate(leaf)
    with pytest.raises(AttributeError):
        info.serial_number = 5  # type: ignore[misc]
    assert isinstance(info, CertificateInfo)


def test_load_certificates(
    authority: Authority, leaf: x509.Certificate, leaf_key: PrivateKey
) -> None:
    """PEM with one or more blocks, among other blocks, or one DER certificate."""
    bundle = certificates_to_pem([leaf, *authority.chain])
    assert bundle == "".join(map(certificate_to_pem, [leaf, *authority.chain]))
    assert bundle.count("-----BEGIN CERTIFICATE-----") == 3
    assert load_certificates(bundle.encode()) == [leaf, *authority.chain]
    assert load_certificates(bundle) == [leaf, *authority.chain]

    with_key = private_key_to_pem(leaf_key) + certificate_to_pem(leaf).encode()
    assert load_certificates(b"Leaf follows\n" + with_key) == [leaf]

    der = leaf.public_bytes(serialization.Encoding.DER)
    assert load_certificates(der) == [leaf]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\x30\x03\x02\x01\x01",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_load_certificates_refuses(data: bytes) -> None:
    """No certificate at all is an invalid certificate."""
    with pytest.raises(InvalidCertificateError):
        load_certificates(data)


def test_load_certificates_refuses_a_lone_key(leaf_key: PrivateKey) -> None:
    """A PEM file holding only a key holds no certificate."""
    with pytest.raises(InvalidCertificateError):
        load_certificates(private_key_to_pem(leaf_key))


def test_verify_chain_for_names(
    authority: Authority, leaf: x509.Certificate, now: datetime
) -> None:
    """A leaf verifies for its DNS name, its address, and by default."""
    expected = [leaf, authority.intermediate, authority.root]
    for dns_name in ("nas.home.arpa", "192.168.1.20", None):
        assert (
            verify_chain(
                leaf,
                intermediates=[authority.intermediate],
                roots=[authority.root],
                now=now,
                dns_name=dns_name,
            )
            == expected
        )


@pytest.mark.parametrize(
    ("changes", "dns_name"),
    [
        ({"server_auth": False}, None),
        ({"client_auth": False}, None),
        ({"dns_names": ()}, None),
        ({"dns_names": ("*.cams.lan",), "ip_addresses": ()}, None),
        ({"dns_names": ("*.cams.lan",), "ip_addresses": ()}, "door.cams.lan"),
    ],
)
def test_verify_chain_picks_the_role(
    authority: Authority,
    leaf_key: PrivateKey,
    now: datetime,
    changes: dict[str, object],
    dns_name: str | None,
) -> None:
    """Clients verify as clients, servers under their own name or a wildcard's."""
    leaf = authority.issue(issue_request(leaf_key.public_key(), **changes), now)  # type: ignore[arg-type]
    path = verify_chain(
        leaf,
        intermediates=list(authority.chain[:1]),
        roots=list(authority.chain[1:]),
        now=now,
        dns_name=dns_name,
    )
    assert path[0] == leaf


@pytest.mark.parametrize(
    ("extensions", "verifies"),
    [
        ([(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)], False),
        ([], False),
        (
            [
                (
                    x509.SubjectAlternativeName(
                        [x509.UniformResourceIdentifier("urn:home:sensor")]
                    ),
                    False,
                )
            ],
            True,
        ),
    ],
)
def test_verify_chain_of_a_leaf_without_host_names(
    ec_material: AuthorityMaterial,
    leaf_key: PrivateKey,
    now: datetime,
    extensions: list[tuple[x509.ExtensionType, bool]],
    verifies: bool,
) -> None:
    """A leaf with no DNS name or address is checked as a client, needing a SAN."""
    intermediate = ec_material.intermediate_certificate
    leaf = build_certificate(
        subject=name("client"),
        public_key=leaf_key.public_key(),
        issuer=intermediate.subject,
        issuer_key=ec_material.intermediate_key,
        not_before=now - timedelta(minutes=1),
        not_after=now + timedelta(days=1),
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (authority_key_identifier(intermediate), False),
            *extensions,
        ],
    )
    roots = [ec_material.root_certificate]
    if verifies:
        assert verify_chain(leaf, intermediates=[intermediate], roots=roots, now=now)
        return
    with pytest.raises(ChainError):
        verify_chain(leaf, intermediates=[intermediate], roots=roots, now=now)


@pytest.mark.parametrize(
    "case",
    [
        ("other.home.arpa", timedelta(0), False),
        ("192.168.1.21", timedelta(0), False),
        ("bad name!", timedelta(0), False),
        ("bücher.home.arpa", timedelta(0), False),
        ("nas.home.arpa", timedelta(days=91), False),
        ("nas.home.arpa", -timedelta(hours=1), False),
        ("nas.home.arpa", timedelta(0), True),
    ],
)
def test_verify_chain_refuses(
    materials: Materials,
    leaf: x509.Certificate,
    now: datetime,
    case: tuple[str, timedelta, bool],
) -> None:
    """Another name, another time or another root fails with a ChainError."""
    dns_name, later, use_other_root = case
    ec = materials(KeyAlgorithm.EC_P256)
    root = (
        materials(KeyAlgorithm.EC_P384).root_certificate
        if use_other_root
        else ec.root_certificate
    )
    with pytest.raises(ChainError) as caught:
        verify_chain(
            leaf,
            intermediates=[ec.intermediate_certificate],
            roots=[root],
            now=now + later,
            dns_name=dns_name,
        )
    assert caught.value.detail


def test_verify_chain_needs_roots(leaf: x509.Certificate, now: datetime) -> None:
    """Without a trusted root nothing verifies."""
    with pytest.raises(ChainError):
        verify_chain(leaf, intermediates=[], roots=[], now=now)


def test_verify_chain_needs_the_intermediate(
    authority: Authority, leaf: x509.Certificate, now: datetime
) -> None:
    """A leaf does not verify without the intermediate that issued it."""
    with pytest.raises(ChainError):
        verify_chain(leaf, intermediates=[], roots=[authority.root], now=now)


@pytest.mark.parametrize("dns_name", ["nas.home.arpa", "192.168.1.20", None])
def test_verify_chain_eddsa(
    materials: Materials,
    private_keys: dict[KeyAlgorithm, PrivateKey],
    now: datetime,
    dns_name: str | None,
) -> None:
    """Ed25519 authorities and leaves verify through the RFC 5280 path check."""
    material = materials(KeyAlgorithm.ED25519)
    authority = make_authority(material, make_policy())
    leaf = authority.issue(
        issue_request(private_keys[KeyAlgorithm.ED25519].public_key()), now
    )
    path = verify_chain(
        leaf,
        intermediates=[material.intermediate_certificate],
        roots=[material.root_certificate],
        now=now,
        dns_name=dns_name,
    )
    assert path == [leaf, material.intermediate_certificate, material.root_certificate]

    with pytest.raises(ChainError):
        verify_chain(
            leaf,
            intermediates=[material.intermediate_certificate],
            roots=[material.root_certificate],
            now=now,
            dns_name="other.lan",
        )


def test_verify_chain_ed25519_leaf_under_ec_authority(
    authority: Authority,
    private_keys: dict[KeyAlgorithm, PrivateKey],
    now: datetime,
) -> None:
    """An Ed25519 leaf key under an ECDSA chain also takes the RFC 5280 check."""
    leaf = authority.issue(
        issue_request(private_keys[KeyAlgorithm.ED25519].public_key()), now
    )
    path = verify_chain(
        leaf,
        intermediates=[authority.intermediate],
        roots=[authority.root],
        now=now,
        dns_name="nas.home.arpa",
    )
    assert path == [leaf, authority.intermediate, authority.root]


def test_verify_chain_with_unknown_leaf_key(
    authority: Authority, now: datetime, openssl: OpenSsl
) -> None:
    """A leaf with a key cryptography does not know fails as a chain error."""
    openssl.ok("genpkey", "-algorithm", "SM2", "-out", "sm2.pem")
    openssl.ok(
        "req",
        "-x509",
        "-key",
        "sm2.pem",
        "-sm3",
        "-subj",
        "/CN=sm2.lan",
        "-days",
        "30",
        "-out",
        "sm2-cert.pem",
    )
    certificate = load_certificates((openssl.directory / "sm2-cert.pem").read_bytes())[
        0
    ]
    with pytest.raises(ChainError):
        verify_chain(
            certificate,
            intermediates=[authority.intermediate],
            roots=[authority.root],
            now=now,
            dns_name="sm2.lan",
        )
