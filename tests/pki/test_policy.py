"""Tests of names, key checks, lifetimes, CSR checks and certificate findings."""

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa
import pytest

from custom_components.home_pki.pki.errors import (
    CsrSignatureError,
    InvalidCsrError,
    InvalidNameError,
    NameNotPermittedError,
    ValidityError,
    WeakKeyError,
)
from custom_components.home_pki.pki.keys import KeyAlgorithm, PrivateKey
from custom_components.home_pki.pki.policy import (
    Policy,
    certificate_findings,
    check_csr,
    check_names,
    check_public_key,
    check_validity_days,
    dns_name_permitted,
    host_in_common_name,
    ip_permitted,
    normalize_dns_name,
    normalize_domain,
    parse_ip_address,
    parse_ip_ranges,
)
from tests.pki.common import OpenSsl, build_certificate, name

LONG_LABEL = "a" * 63


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nas.home.arpa", "nas.home.arpa"),
        ("  NAS.Home.Arpa.  ", "nas.home.arpa"),
        ("printer", "printer"),
        ("mqtt-broker.lan", "mqtt-broker.lan"),
        ("*.cams.home.arpa", "*.cams.home.arpa"),
        ("*.LAN.", "*.lan"),
        ("bücher.home.arpa", "xn--bcher-kva.home.arpa"),
        ("xn--bcher-kva.lan", "xn--bcher-kva.lan"),
        ("1.2.3.lan", "1.2.3.lan"),
        (f"{LONG_LABEL}.lan", f"{LONG_LABEL}.lan"),
        (".".join(["a" * 61] * 4) + ".x", ".".join(["a" * 61] * 4) + ".x"),
    ],
)
def test_normalize_dns_name(value: str, expected: str) -> None:
    """Names are stripped, lower-cased, undotted and IDNA-encoded."""
    assert normalize_dns_name(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        ".",
        "nas..lan",
        ".lan",
        "-nas.lan",
        "nas-.lan",
        "bad_name.lan",
        "nas lan",
        "a.*.lan",
        "*",
        "*.",
        "**.lan",
        "*nas.lan",
        f"{LONG_LABEL}a.lan",
        ".".join(["a" * 62] * 4) + ".lan",
        "192.168.1.1",
        "10.0.0.1.",
        "fe80::1",
        "nas.123",
        "\u2603" * 70 + ".lan",
    ],
)
def test_normalize_dns_name_refuses(value: str) -> None:
    """Malformed names, bare addresses and misplaced wildcards are refused."""
    with pytest.raises(InvalidNameError) as caught:
        normalize_dns_name(value)
    assert caught.value.detail == value


def test_normalize_domain() -> None:
    """Constraint domains follow the same rules but take no wildcard."""
    assert normalize_domain("Home.Arpa.") == "home.arpa"
    assert normalize_domain("lan") == "lan"
    assert normalize_domain("local") == "local"
    with pytest.raises(InvalidNameError):
        normalize_domain("*.lan")


def test_parse_ip_address() -> None:
    """IPv4 and IPv6 addresses parse; anything else is an invalid name."""
    assert parse_ip_address(" 192.168.1.5 ") == IPv4Address("192.168.1.5")
    assert parse_ip_address("fd00::1") == IPv6Address("fd00::1")
    for value in ("192.168.1.256", "nas.lan", "fe80::1%eth0", "10.0.0.0/8", ""):
        with pytest.raises(InvalidNameError):
            parse_ip_address(value)


def test_parse_ip_ranges() -> None:
    """Networks parse strictly: host bits after the prefix are refused."""
    assert parse_ip_ranges(["10.0.0.0/8", " fc00::/7 ", "192.168.1.7"]) == (
        IPv4Network("10.0.0.0/8"),
        IPv6Network("fc00::/7"),
        IPv4Network("192.168.1.7/32"),
    )
    assert parse_ip_ranges([]) == ()
    with pytest.raises(InvalidNameError) as caught:
        parse_ip_ranges(["10.0.0.0/8", "192.168.1.5/16"])
    assert caught.value.detail == "192.168.1.5/16"
    with pytest.raises(InvalidNameError):
        parse_ip_ranges(["lan"])


def test_policy_normalizes_its_fields() -> None:
    """A policy holds canonical, de-duplicated domains and ranges."""
    policy = Policy(
        permitted_dns_domains=["Home.Arpa.", "home.arpa", "LAN"],  # type: ignore[arg-type]
        permitted_ip_ranges=[IPv4Network("10.0.0.0/8")] * 2,  # type: ignore[arg-type]
        allowed_curves={"secp256r1"},  # type: ignore[arg-type]
    )
    assert policy.permitted_dns_domains == ("home.arpa", "lan")
    assert policy.permitted_ip_ranges == (IPv4Network("10.0.0.0/8"),)
    assert policy.allowed_curves == frozenset({"secp256r1"})
    assert policy.minimum_rsa_bits == 2048
    assert policy.max_validity_days == 398
    with pytest.raises(InvalidNameError):
        Policy(permitted_dns_domains=("bad domain",), permitted_ip_ranges=())


def test_policy_defaults(policy: Policy) -> None:
    """The default curves are the three NIST curves."""
    assert policy.allowed_curves == {"secp256r1", "secp384r1", "secp521r1"}


@pytest.mark.parametrize(
    ("name_", "permitted"),
    [
        ("home.arpa", True),
        ("nas.home.arpa", True),
        ("a.b.c.home.arpa", True),
        ("NAS.Home.Arpa.", True),
        ("*.cams.home.arpa", True),
        ("*.lan", True),
        ("printer.lan", True),
        ("evilhome.arpa", False),
        ("home.arpa.evil.com", False),
        ("google.com", False),
        ("lan.google.com", False),
        ("arpa", False),
        ("bad_name.lan", False),
    ],
)
def test_dns_name_permitted(policy: Policy, name_: str, permitted: bool) -> None:
    """A name is permitted when it equals a domain or ends with "." + domain."""
    assert dns_name_permitted(policy, name_) is permitted


@pytest.mark.parametrize(
    ("address", "permitted"),
    [
        ("10.1.2.3", True),
        ("172.31.255.255", True),
        ("172.32.0.1", False),
        ("192.168.1.20", True),
        ("8.8.8.8", False),
        ("fd12::1", True),
        ("2001:db8::1", False),
        ("::ffff:192.168.1.20", False),
    ],
)
def test_ip_permitted(policy: Policy, address: str, permitted: bool) -> None:
    """An address is permitted inside a permitted network of its version."""
    assert ip_permitted(policy, ip_address(address)) is permitted


def test_check_names(policy: Policy) -> None:
    """Names inside the policy pass; the first outside one is named."""
    check_names(policy, ["nas.home.arpa"], [IPv4Address("192.168.1.20")])
    check_names(policy, [], [IPv6Address("fd00::5")])
    check_names(policy, iter(["printer.lan"]), iter([]))

    with pytest.raises(InvalidNameError):
        check_names(policy, [], [])
    with pytest.raises(InvalidNameError):
        check_names(policy, ["bad_name.lan"], [])
    with pytest.raises(NameNotPermittedError) as caught:
        check_names(policy, ["nas.lan", "google.com", "example.org"], [])
    assert caught.value.name == "google.com"
    with pytest.raises(NameNotPermittedError) as caught:
        check_names(policy, ["nas.lan"], [IPv4Address("8.8.8.8")])
    assert caught.value.name == "8.8.8.8"


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_check_public_key_accepts_every_algorithm(
    policy: Policy,
    private_keys: dict[KeyAlgorithm, PrivateKey],
    algorithm: KeyAlgorithm,
) -> None:
    """Every algorithm the authority generates passes the default policy."""
    check_public_key(policy, private_keys[algorithm].public_key())


def test_check_public_key_refuses(
    policy: Policy, rsa_1024: rsa.RSAPrivateKey, dsa_key: dsa.DSAPrivateKey
) -> None:
    """Short RSA, other curves, DSA and other types are weak keys."""
    refused = {
        "RSA 1024": rsa_1024.public_key(),
        "EC secp256k1": ec.generate_private_key(ec.SECP256K1()).public_key(),
        "DSA 2048": dsa_key.public_key(),
        "Ed448": ed448.Ed448PrivateKey.generate().public_key(),
        "str": "not a key",
    }
    for description, key in refused.items():
        with pytest.raises(WeakKeyError) as caught:
            check_public_key(policy, key)
        assert caught.value.detail == description


def test_check_public_key_follows_the_policy(
    private_keys: dict[KeyAlgorithm, PrivateKey],
) -> None:
    """A stricter policy refuses what the default one accepts."""
    strict = Policy(
        permitted_dns_domains=("lan",),
        permitted_ip_ranges=(),
        minimum_rsa_bits=3072,
        allowed_curves=frozenset({"secp384r1"}),
    )
    check_public_key(strict, private_keys[KeyAlgorithm.RSA_3072].public_key())
    check_public_key(strict, private_keys[KeyAlgorithm.EC_P384].public_key())
    for algorithm in (KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256):
        with pytest.raises(WeakKeyError):
            check_public_key(strict, private_keys[algorithm].public_key())


def test_check_validity_days(policy: Policy) -> None:
    """Between one day and the policy's maximum."""
    check_validity_days(policy, 1)
    check_validity_days(policy, 398)
    for days in (0, -5, 399):
        with pytest.raises(ValidityError) as caught:
            check_validity_days(policy, days)
        assert caught.value.detail == str(days)


def test_host_in_common_name() -> None:
    """A common name names a host when it has a dot, or is an address."""
    assert host_in_common_name("NAS.lan") == "nas.lan"
    assert host_in_common_name("192.168.1.9") == IPv4Address("192.168.1.9")
    assert host_in_common_name("mosquitto") is None
    assert host_in_common_name("Mosquitto broker") is None


def openssl_csr(
    openssl: OpenSsl, *, key: str, subject: str, san: str | None = None
) -> bytes:
    """Create a CSR with openssl req and a fresh key, returning its PEM."""
    arguments = [
        "req",
        "-new",
        "-nodes",
        "-newkey",
        key,
        "-keyout",
        "csr-key.pem",
        "-subj",
        subject,
        "-out",
        "request.pem",
    ]
    if san is not None:
        arguments += ["-addext", f"subjectAltName={san}"]
    openssl.ok(*arguments)
    return (openssl.directory / "request.pem").read_bytes()


def test_check_csr_accepts_openssl_request(policy: Policy, openssl: OpenSsl) -> None:
    """An openssl request inside the policy yields its names and key."""
    pem = openssl_csr(
        openssl,
        key="ec:" + str(ec_parameters(openssl)),
        subject="/CN=nas.home.arpa/O=Home",
        san="DNS:NAS.home.arpa,DNS:files.lan,IP:192.168.1.20,IP:fd00::20",
    )
    request = check_csr(policy, pem.decode())
    assert request.common_name == "nas.home.arpa"
    assert request.dns_names == ("nas.home.arpa", "files.lan")
    assert request.ip_addresses == (
        IPv4Address("192.168.1.20"),
        IPv6Address("fd00::20"),
    )
    assert isinstance(request.public_key, ec.EllipticCurvePublicKey)

    assert check_csr(policy, pem) == request


def ec_parameters(openssl: OpenSsl) -> Path:
    """Write P-256 parameters for openssl req -newkey ec:file."""
    openssl.ok("ecparam", "-name", "prime256v1", "-out", "p256.pem")
    return openssl.directory / "p256.pem"


def test_check_csr_adds_the_common_name(policy: Policy, openssl: OpenSsl) -> None:
    """A host name or address in the common name counts as a requested name."""
    pem = openssl_csr(openssl, key="ed25519", subject="/CN=Camera.LAN")
    request = check_csr(policy, pem)
    assert request.dns_names == ("camera.lan",)
    assert request.ip_addresses == ()

    pem = openssl_csr(
        openssl, key="ed25519", subject="/CN=192.168.1.30", san="IP:192.168.1.30"
    )
    request = check_csr(policy, pem)
    assert request.dns_names == ()
    assert request.ip_addresses == (IPv4Address("192.168.1.30"),)

    pem = openssl_csr(
        openssl, key="ed25519", subject="/CN=Doorbell", san="DNS:*.door.lan"
    )
    request = check_csr(policy, pem)
    assert request.common_name == "Doorbell"
    assert request.dns_names == ("*.door.lan",)


def test_check_csr_refuses_weak_rsa(policy: Policy, openssl: OpenSsl) -> None:
    """An RSA-1024 request is a weak key."""
    pem = openssl_csr(openssl, key="rsa:1024", subject="/CN=old.lan", san="DNS:old.lan")
    with pytest.raises(WeakKeyError) as caught:
        check_csr(policy, pem)
    assert caught.value.detail == "RSA 1024"


def test_check_csr_refuses_foreign_name(policy: Policy, openssl: OpenSsl) -> None:
    """A request for google.com is outside the policy."""
    pem = openssl_csr(
        openssl, key="rsa:2048", subject="/CN=nas.lan", san="DNS:nas.lan,DNS:google.com"
    )
    with pytest.raises(NameNotPermittedError) as caught:
        check_csr(policy, pem)
    assert caught.value.name == "google.com"

    pem = openssl_csr(openssl, key="ed25519", subject="/CN=google.com")
    with pytest.raises(NameNotPermittedError):
        check_csr(policy, pem)


def test_check_csr_refuses_tampered_signature(policy: Policy, openssl: OpenSsl) -> None:
    """A request altered after signing fails its signature check."""
    openssl_csr(
        openssl, key="rsa:2048", subject="/CN=printer.lan", san="DNS:printer.lan"
    )
    openssl.ok("req", "-in", "request.pem", "-outform", "DER", "-out", "request.der")
    der = (openssl.directory / "request.der").read_bytes()
    tampered = der.replace(b"printer", b"printex")
    assert tampered != der

    with pytest.raises(CsrSignatureError):
        check_csr(policy, tampered)
    # OpenSSL 3.0 reports the failure on stderr with a zero exit status.
    result = openssl.run(
        "req",
        "-in",
        str(openssl.write("t.der", tampered)),
        "-inform",
        "DER",
        "-verify",
        "-noout",
    )
    assert "verify failure" in result.stderr
    check_csr(policy, der)


def test_check_csr_refuses_no_names(policy: Policy, openssl: OpenSsl) -> None:
    """A request with only a friendly common name asks for no name."""
    pem = openssl_csr(openssl, key="ed25519", subject="/CN=Mosquitto broker")
    with pytest.raises(InvalidNameError):
        check_csr(policy, pem)


def test_check_csr_refuses_malformed_name(policy: Policy, openssl: OpenSsl) -> None:
    """A SAN that is no valid DNS name is an invalid name."""
    pem = openssl_csr(openssl, key="ed25519", subject="/CN=x", san="DNS:bad_name.lan")
    with pytest.raises(InvalidNameError):
        check_csr(policy, pem)


def test_check_csr_refuses_dsa(policy: Policy, dsa_key: dsa.DSAPrivateKey) -> None:
    """A DSA request is refused as a weak key type."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name("nas.lan"))
        .sign(dsa_key, hashes.SHA256())
    )
    with pytest.raises(WeakKeyError) as caught:
        check_csr(policy, csr.public_bytes(serialization.Encoding.DER))
    assert caught.value.detail == "DSA 2048"


def test_check_csr_refuses_unsupported_key(policy: Policy, openssl: OpenSsl) -> None:
    """A request over a curve cryptography does not know is unreadable."""
    openssl.ok("genpkey", "-algorithm", "SM2", "-out", "sm2.pem")
    openssl.ok(
        "req",
        "-new",
        "-key",
        "sm2.pem",
        "-sm3",
        "-subj",
        "/CN=x.lan",
        "-out",
        "request.pem",
    )
    with pytest.raises(InvalidCsrError):
        check_csr(policy, (openssl.directory / "request.pem").read_bytes())


@pytest.mark.parametrize(
    "data",
    [
        "",
        "hello",
        b"\x30\x03\x02\x01\x01",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    ],
)
def test_check_csr_refuses_garbage(policy: Policy, data: str | bytes) -> None:
    """Data that is not a request is an invalid CSR."""
    with pytest.raises(InvalidCsrError):
        check_csr(policy, data)


def test_check_csr_ignores_ip_networks(policy: Policy, leaf_key: PrivateKey) -> None:
    """Only addresses, not networks, in a request's SAN become requested names."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name("Hub"))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("hub.lan"),
                    x509.IPAddress(IPv4Network("192.168.0.0/24")),
                ]
            ),
            critical=False,
        )
        .sign(leaf_key, hashes.SHA256())
    )
    request = check_csr(policy, csr.public_bytes(serialization.Encoding.PEM))
    assert request.dns_names == ("hub.lan",)
    assert request.ip_addresses == ()


def test_findings_of_a_good_certificate(policy: Policy, leaf: x509.Certificate) -> None:
    """A certificate the home authority issued has no findings."""
    assert certificate_findings(policy, leaf) == ()


@pytest.mark.parametrize("digest", ["sha1", "md5"])
def test_findings_of_an_old_certificate(
    policy: Policy, openssl: OpenSsl, digest: str
) -> None:
    """An RSA-1024 certificate signed over SHA-1 or MD5 for two years has all three."""
    openssl.ok(
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "rsa:1024",
        "-keyout",
        "old-key.pem",
        "-subj",
        "/CN=router.lan",
        "-out",
        "old.csr",
    )
    openssl.ok(
        "x509",
        "-req",
        "-in",
        "old.csr",
        "-key",
        "old-key.pem",
        "-days",
        "730",
        f"-{digest}",
        "-out",
        "old.pem",
    )
    certificate = x509.load_pem_x509_certificate(
        (openssl.directory / "old.pem").read_bytes()
    )
    assert certificate_findings(policy, certificate) == (
        "weak_key",
        "sha1_signature",
        "lifetime_too_long",
    )


def test_findings_of_lifetimes(policy: Policy, leaf_key: PrivateKey) -> None:
    """Only a leaf's lifetime is held to the maximum; an authority's is not."""
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def certificate(days: int, *, ca: bool) -> x509.Certificate:
        return build_certificate(
            subject=name("x"),
            public_key=leaf_key.public_key(),
            issuer=name("x"),
            issuer_key=leaf_key,
            not_before=start,
            not_after=start + timedelta(days=days),
            extensions=[(x509.BasicConstraints(ca=ca, path_length=None), True)],
        )

    assert certificate_findings(policy, certificate(398, ca=False)) == ()
    assert certificate_findings(policy, certificate(399, ca=False)) == (
        "lifetime_too_long",
    )
    assert certificate_findings(policy, certificate(3650, ca=True)) == ()


def test_findings_of_an_unknown_key(policy: Policy, openssl: OpenSsl) -> None:
    """A key cryptography cannot load counts as weak; its hash is not judged."""
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
    certificate = x509.load_pem_x509_certificate(
        (openssl.directory / "sm2-cert.pem").read_bytes()
    )
    assert certificate_findings(policy, certificate) == ("weak_key",)
