"""Tests of the RFC 5280 path check used for chains the WebPKI verifier refuses."""

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import Subject
import pytest

from custom_components.home_pki.pki.errors import ChainError
from custom_components.home_pki.pki.paths import MAX_PATH_LENGTH, validate_path
from tests.pki.common import build_certificate, name

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
ROOT_KEY = ed25519.Ed25519PrivateKey.generate()
INTERMEDIATE_KEY = ed25519.Ed25519PrivateKey.generate()
LEAF_KEY = ed25519.Ed25519PrivateKey.generate()
LAN = x509.NameConstraints(
    permitted_subtrees=[
        x509.DNSName("lan"),
        x509.IPAddress(IPv4Network("192.168.0.0/16")),
    ],
    excluded_subtrees=[
        x509.DNSName(".guest.lan"),
        x509.IPAddress(IPv4Network("192.168.99.0/24")),
    ],
)


def key_usage(*, key_cert_sign: bool) -> x509.KeyUsage:
    """Build a key usage for an authority or a leaf."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def authority(
    common_name: str,
    key: ed25519.Ed25519PrivateKey,
    *,
    issuer: str | None = None,
    issuer_key: ed25519.Ed25519PrivateKey | None = None,
    path_length: int | None = 1,
    constraints: x509.NameConstraints | None = LAN,
    ca: bool = True,
    key_cert_sign: bool = True,
    not_after: datetime = NOW + 365 * DAY,
) -> x509.Certificate:
    """Build an authority certificate, self-signed unless an issuer is given."""
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), True),
        (key_usage(key_cert_sign=key_cert_sign), True),
    ]
    if constraints is not None:
        extensions.append((constraints, True))
    return build_certificate(
        subject=name(common_name),
        public_key=key.public_key(),
        issuer=name(issuer or common_name),
        issuer_key=issuer_key or key,
        not_before=NOW - DAY,
        not_after=not_after,
        extensions=extensions,
    )


ROOT = authority("Root", ROOT_KEY)
INTERMEDIATE = authority(
    "Intermediate", INTERMEDIATE_KEY, issuer="Root", issuer_key=ROOT_KEY, path_length=0
)


def leaf(
    names: list[x509.GeneralName] | None = None,
    *,
    usages: list[x509.ObjectIdentifier] | None = None,
    extra: list[tuple[x509.ExtensionType, bool]] | None = None,
    issuer: str = "Intermediate",
    issuer_key: ed25519.Ed25519PrivateKey = INTERMEDIATE_KEY,
) -> x509.Certificate:
    """Build a leaf for nas.lan and 192.168.1.5 unless told otherwise."""
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (key_usage(key_cert_sign=False), True),
    ]
    if usages is not None:
        extensions.append((x509.ExtendedKeyUsage(usages), False))
    if names is None:
        names = [x509.DNSName("nas.lan"), x509.IPAddress(IPv4Address("192.168.1.5"))]
    if names:
        extensions.append((x509.SubjectAlternativeName(names), False))
    return build_certificate(
        subject=name("leaf"),
        public_key=LEAF_KEY.public_key(),
        issuer=name(issuer),
        issuer_key=issuer_key,
        not_before=NOW - DAY,
        not_after=NOW + 30 * DAY,
        extensions=[*extensions, *(extra or [])],
    )


def validate(
    certificate: x509.Certificate,
    subject: Subject | None = None,
    *,
    intermediates: list[x509.Certificate] | None = None,
    roots: list[x509.Certificate] | None = None,
    now: datetime = NOW,
) -> list[x509.Certificate]:
    """Validate a leaf against the test root and intermediate."""
    return validate_path(
        certificate,
        intermediates=[INTERMEDIATE] if intermediates is None else intermediates,
        roots=[ROOT] if roots is None else roots,
        now=now,
        subject=subject,
    )


@pytest.mark.parametrize(
    ("subject", "usages"),
    [
        (x509.DNSName("nas.lan"), [ExtendedKeyUsageOID.SERVER_AUTH]),
        (x509.DNSName("NAS.LAN"), None),
        (x509.IPAddress(IPv4Address("192.168.1.5")), [ExtendedKeyUsageOID.SERVER_AUTH]),
        (None, [ExtendedKeyUsageOID.CLIENT_AUTH]),
        (None, [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]),
    ],
)
def test_valid_path(
    subject: Subject | None, usages: list[x509.ObjectIdentifier]
) -> None:
    """A well-formed path is returned leaf first, root last."""
    certificate = leaf(usages=usages)
    assert validate(certificate, subject) == [certificate, INTERMEDIATE, ROOT]


def test_leaf_directly_under_the_root() -> None:
    """A leaf the root signed itself needs no intermediate."""
    certificate = leaf(issuer="Root", issuer_key=ROOT_KEY)
    assert validate(certificate, intermediates=[]) == [certificate, ROOT]


@pytest.mark.parametrize(
    ("host", "san", "matches"),
    [
        ("door.cams.lan", "*.cams.lan", True),
        ("cams.lan", "*.cams.lan", False),
        ("a.door.cams.lan", "*.cams.lan", False),
        (".cams.lan", "*.cams.lan", False),
    ],
)
def test_wildcard_matching(host: str, san: str, matches: bool) -> None:
    """A wildcard stands for exactly one leftmost label."""
    certificate = leaf([x509.DNSName(san)])
    if matches:
        assert validate(certificate, x509.DNSName(host))[0] == certificate
    else:
        with pytest.raises(ChainError, match="not for"):
            validate(certificate, x509.DNSName(host))


def test_intermediate_without_name_constraints() -> None:
    """The root's constraints alone bind an intermediate that has none."""
    plain = authority(
        "Intermediate",
        INTERMEDIATE_KEY,
        issuer="Root",
        issuer_key=ROOT_KEY,
        path_length=0,
        constraints=None,
    )
    assert validate(leaf(), intermediates=[plain])[1] == plain
    with pytest.raises(ChainError, match=r"google\.com"):
        validate(leaf([x509.DNSName("google.com")]), intermediates=[plain])


def test_no_path_to_a_root() -> None:
    """A root of the same name but another key is no issuer."""
    impostor = authority("Root", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(ChainError, match="no path"):
        validate(leaf(), roots=[impostor])


def test_cycles_end_at_the_depth_limit() -> None:
    """Authorities that sign each other do not loop forever."""
    key_a = ed25519.Ed25519PrivateKey.generate()
    key_b = ed25519.Ed25519PrivateKey.generate()
    a_by_b = authority("A", key_a, issuer="B", issuer_key=key_b)
    b_by_a = authority("B", key_b, issuer="A", issuer_key=key_a)
    certificate = leaf(issuer="A", issuer_key=key_a)
    assert MAX_PATH_LENGTH == 8
    with pytest.raises(ChainError, match="no path"):
        validate(certificate, intermediates=[a_by_b, b_by_a])


@pytest.mark.parametrize("moment", [NOW - 2 * DAY, NOW + 31 * DAY])
def test_outside_validity(moment: datetime) -> None:
    """Every certificate must be valid at the time given."""
    with pytest.raises(ChainError, match="validity"):
        validate(leaf(), now=moment)


def test_expired_intermediate() -> None:
    """An expired intermediate breaks the path even when the leaf is valid."""
    expired = authority(
        "Intermediate",
        INTERMEDIATE_KEY,
        issuer="Root",
        issuer_key=ROOT_KEY,
        path_length=0,
        not_after=NOW - timedelta(seconds=1),
    )
    with pytest.raises(ChainError, match="CN=Intermediate"):
        validate(leaf(), intermediates=[expired])


def test_unknown_critical_extension() -> None:
    """A critical extension the check does not understand fails the path."""
    unknown = x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.99"), b"\x05\x00"
    )
    with pytest.raises(ChainError, match=r"1\.3\.6\.1\.4\.1\.99"):
        validate(leaf(extra=[(unknown, True)]))
    validate(leaf(extra=[(unknown, False)]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ca": False}, "not an authority"),
        ({"key_cert_sign": False}, "may not sign"),
    ],
)
def test_issuer_must_be_an_authority(changes: dict[str, bool], message: str) -> None:
    """An issuer needs CA basic constraints and, when it has key usage, keyCertSign."""
    intermediate = authority(
        "Intermediate",
        INTERMEDIATE_KEY,
        issuer="Root",
        issuer_key=ROOT_KEY,
        path_length=0,
        **changes,  # type: ignore[arg-type]
    )
    with pytest.raises(ChainError, match=message):
        validate(leaf(), intermediates=[intermediate])


def test_issuer_without_basic_constraints() -> None:
    """An issuer with no basic constraints at all is no authority."""
    bare = build_certificate(
        subject=name("Intermediate"),
        public_key=INTERMEDIATE_KEY.public_key(),
        issuer=name("Root"),
        issuer_key=ROOT_KEY,
        not_before=NOW - DAY,
        not_after=NOW + DAY,
    )
    with pytest.raises(ChainError, match="not an authority"):
        validate(leaf(), intermediates=[bare])


def test_path_length() -> None:
    """A root limited to no intermediates refuses one."""
    strict_root = authority("Root", ROOT_KEY, path_length=0)
    with pytest.raises(ChainError, match="path too long"):
        validate(leaf(), roots=[strict_root])
    unlimited_root = authority("Root", ROOT_KEY, path_length=None)
    assert validate(leaf(), roots=[unlimited_root])[-1] == unlimited_root


@pytest.mark.parametrize(
    "forged",
    [
        x509.DNSName("google.com"),
        x509.DNSName("evillan"),
        x509.DNSName("tv.guest.lan"),
        x509.IPAddress(IPv4Address("8.8.8.8")),
        x509.IPAddress(IPv4Address("192.168.99.7")),
    ],
)
def test_name_constraints(forged: x509.GeneralName) -> None:
    """Names outside permitted subtrees or inside excluded ones fail the path."""
    with pytest.raises(ChainError, match="name not permitted"):
        validate(leaf([x509.DNSName("nas.lan"), forged]))


def test_name_constraints_allow_other_name_types() -> None:
    """Names of a type no subtree mentions are not constrained."""
    certificate = leaf(
        [
            x509.DNSName("nas.lan"),
            x509.IPAddress(IPv4Address("192.168.1.5")),
            x509.UniformResourceIdentifier("https://nas.lan/"),
        ]
    )
    only_dns = authority(
        "Root",
        ROOT_KEY,
        constraints=x509.NameConstraints(
            permitted_subtrees=[x509.DNSName("")], excluded_subtrees=None
        ),
    )
    assert validate(certificate, roots=[only_dns])[0] == certificate
    assert validate(certificate)[0] == certificate


def test_unsupported_name_constraint() -> None:
    """A constraint on directory or mail names fails closed."""
    mail_root = authority(
        "Root",
        ROOT_KEY,
        constraints=x509.NameConstraints(
            permitted_subtrees=[x509.RFC822Name("home.lan")], excluded_subtrees=None
        ),
    )
    with pytest.raises(ChainError, match="unsupported name constraint"):
        validate(leaf(), roots=[mail_root])


def test_ip_constraint_of_the_other_version() -> None:
    """An IPv4 subtree does not contain an IPv6 address."""
    certificate = leaf([x509.DNSName("x.lan"), x509.IPAddress(IPv6Address("fd00::1"))])
    with pytest.raises(ChainError, match="fd00::1"):
        validate(certificate)


def test_leaf_must_not_be_an_authority() -> None:
    """A CA certificate is no end-entity certificate."""
    ca_leaf = authority(
        "leaf", LEAF_KEY, issuer="Intermediate", issuer_key=INTERMEDIATE_KEY
    )
    with pytest.raises(ChainError, match="authority"):
        validate(ca_leaf)


@pytest.mark.parametrize(
    ("subject", "usages"),
    [
        (None, [ExtendedKeyUsageOID.SERVER_AUTH]),
        (x509.DNSName("nas.lan"), [ExtendedKeyUsageOID.CLIENT_AUTH]),
    ],
)
def test_extended_key_usage(
    subject: Subject | None, usages: list[x509.ObjectIdentifier]
) -> None:
    """A server needs serverAuth and a client clientAuth when usage is restricted."""
    with pytest.raises(ChainError, match="extended key usage"):
        validate(leaf(usages=usages), subject)


@pytest.mark.parametrize(
    "subject",
    [x509.DNSName("other.lan"), x509.IPAddress(IPv4Address("192.168.1.6"))],
)
def test_subject_mismatch(subject: Subject) -> None:
    """The leaf must name the subject in its alternative names."""
    with pytest.raises(ChainError, match="not for"):
        validate(leaf(), subject)


def test_subject_needs_alternative_names() -> None:
    """A leaf without alternative names matches no subject."""
    with pytest.raises(ChainError, match="not for"):
        validate(leaf([]), x509.DNSName("leaf"))


def der_header_length(der: bytes, offset: int) -> int:
    """Return the length of the DER tag and length octets at an offset."""
    first = der[offset + 1]
    return 2 if first < 0x80 else 2 + (first & 0x7F)


def der_content_length(der: bytes, offset: int) -> int:
    """Return the content length of the DER element at an offset."""
    first = der[offset + 1]
    if first < 0x80:
        return first
    return int.from_bytes(der[offset + 2 : offset + 2 + (first & 0x7F)])


def test_unparsable_extensions() -> None:
    """A certificate whose extensions do not parse fails the path."""
    first = x509.ObjectIdentifier("1.3.6.1.4.1.1.1")
    second = x509.ObjectIdentifier("1.3.6.1.4.1.1.2")
    certificate = leaf(
        extra=[
            (x509.UnrecognizedExtension(first, b"\x05\x00"), False),
            (x509.UnrecognizedExtension(second, b"\x05\x00"), False),
        ]
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    # Give both extensions the same OID and sign the altered body again, so the
    # path is sound and only the extensions are broken.
    outer = der_header_length(der, 0)
    body_end = outer + der_header_length(der, outer) + der_content_length(der, outer)
    body = der[outer:body_end].replace(
        b"\x2b\x06\x01\x04\x01\x01\x02", b"\x2b\x06\x01\x04\x01\x01\x01"
    )
    resigned = der[:outer] + body + der[body_end:-64] + INTERMEDIATE_KEY.sign(body)
    broken = x509.load_der_x509_certificate(resigned)
    broken.verify_directly_issued_by(INTERMEDIATE)
    with pytest.raises(ChainError):
        validate(broken)
