"""Tests of the bundled authority: creation, serial numbers and issuance."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
)
import pytest

from custom_components.home_pki.pki.authority import (
    Authority,
    AuthorityMaterial,
    AuthoritySettings,
    Issuer,
    authority_key_identifier,
    create_authority,
    new_serial_number,
)
from custom_components.home_pki.pki.errors import (
    ChainError,
    InvalidNameError,
    NameNotPermittedError,
    PkiError,
    ValidityError,
    WeakKeyError,
)
from custom_components.home_pki.pki.inspect import verify_chain
from custom_components.home_pki.pki.keys import (
    KeyAlgorithm,
    PrivateKey,
    PrivateKeySigner,
    public_key_description,
)
from custom_components.home_pki.pki.policy import Policy
from tests.pki.common import (
    CA_ISSUERS_URL,
    CRL_URL,
    OCSP_URL,
    OpenSsl,
    build_certificate,
    issue_request,
    make_authority,
    make_policy,
    name,
)

type Materials = Callable[[KeyAlgorithm], AuthorityMaterial]

START = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


def extension[T: x509.ExtensionType](
    certificate: x509.Certificate, kind: type[T]
) -> x509.Extension[T]:
    """Return one extension of a certificate."""
    return certificate.extensions.get_extension_for_class(kind)


def settings(policy: Policy, **changes: object) -> AuthoritySettings:
    """Return EC authority settings, with changes."""
    values: dict[str, object] = {
        "name": "Test Home",
        "key_algorithm": KeyAlgorithm.EC_P256,
        "root_validity_days": 3650,
        "intermediate_validity_days": 1095,
        "policy": policy,
    } | changes
    return AuthoritySettings(**values)  # type: ignore[arg-type]


def forge_leaf(
    material: AuthorityMaterial,
    leaf_key: PrivateKey,
    now: datetime,
    names: list[x509.GeneralName],
) -> x509.Certificate:
    """Sign a leaf straight with the intermediate key, bypassing the policy."""
    intermediate = material.intermediate_certificate
    return build_certificate(
        subject=name("forged"),
        public_key=leaf_key.public_key(),
        issuer=intermediate.subject,
        issuer_key=material.intermediate_key,
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=30),
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.SubjectAlternativeName(names), False),
            (x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), False),
            (authority_key_identifier(intermediate), False),
        ],
    )


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_create_authority(
    materials: Materials, algorithm: KeyAlgorithm, policy: Policy
) -> None:
    """Root and intermediate carry the profile RFC 5280 asks of authorities."""
    material = materials(algorithm)
    root = material.root_certificate
    intermediate = material.intermediate_certificate

    assert root.subject.rfc4514_string() == "CN=Test Home Root CA,O=Test Home"
    assert root.issuer == root.subject
    assert intermediate.subject.rfc4514_string() == (
        "CN=Test Home Intermediate CA,O=Test Home"
    )
    assert intermediate.issuer == root.subject
    root.verify_directly_issued_by(root)
    intermediate.verify_directly_issued_by(root)
    assert root.public_key() == material.root_key.public_key()
    assert intermediate.public_key() == material.intermediate_key.public_key()
    assert public_key_description(root.public_key()) == public_key_description(
        material.intermediate_key.public_key()
    )

    for certificate, path_length in ((root, 1), (intermediate, 0)):
        constraints = extension(certificate, x509.BasicConstraints)
        assert constraints.critical
        assert constraints.value.ca
        assert constraints.value.path_length == path_length
        usage = extension(certificate, x509.KeyUsage)
        assert usage.critical
        assert usage.value.key_cert_sign
        assert usage.value.crl_sign
        assert usage.value.digital_signature
        assert not usage.value.key_encipherment
        assert extension(certificate, x509.SubjectKeyIdentifier).value == (
            x509.SubjectKeyIdentifier.from_public_key(certificate.public_key())
        )
        name_constraints = extension(certificate, x509.NameConstraints)
        assert name_constraints.critical
        assert name_constraints.value.permitted_subtrees == [
            *(x509.DNSName(domain) for domain in policy.permitted_dns_domains),
            *(x509.IPAddress(network) for network in policy.permitted_ip_ranges),
        ]
        assert name_constraints.value.excluded_subtrees is None
        assert 0 < certificate.serial_number < 2**127

    assert extension(
        intermediate, x509.AuthorityKeyIdentifier
    ).value.key_identifier == (extension(root, x509.SubjectKeyIdentifier).value.digest)
    assert root.serial_number != intermediate.serial_number


def test_create_authority_times(policy: Policy) -> None:
    """Both start an hour early; the intermediate ends with the root at the latest."""
    material = create_authority(
        settings(policy, root_validity_days=100, intermediate_validity_days=50), START
    )
    root = material.root_certificate
    intermediate = material.intermediate_certificate
    assert root.not_valid_before_utc == START - timedelta(hours=1)
    assert root.not_valid_after_utc == START + timedelta(days=100)
    assert intermediate.not_valid_before_utc == START - timedelta(hours=1)
    assert intermediate.not_valid_after_utc == START + timedelta(days=50)

    capped = create_authority(
        settings(policy, root_validity_days=30, intermediate_validity_days=1095), START
    )
    assert capped.intermediate_certificate.not_valid_after_utc == (
        capped.root_certificate.not_valid_after_utc
    )


def test_create_authority_long_name(policy: Policy) -> None:
    """A long name is shortened to fit the 64-character name attributes."""
    material = create_authority(settings(policy, name=" " + "N" * 80 + " "), START)
    for certificate, suffix in (
        (material.root_certificate, " Root CA"),
        (material.intermediate_certificate, " Intermediate CA"),
    ):
        common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        organization = certificate.subject.get_attributes_for_oid(
            NameOID.ORGANIZATION_NAME
        )
        assert common_name[0].value == "N" * (64 - len(suffix)) + suffix
        assert organization[0].value == "N" * 64


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": "  "}, InvalidNameError),
        ({"root_validity_days": 0}, ValidityError),
        ({"intermediate_validity_days": -1}, ValidityError),
    ],
)
def test_create_authority_refuses(
    policy: Policy, changes: dict[str, object], error: type[PkiError]
) -> None:
    """An empty name or a validity under a day is refused."""
    with pytest.raises(error):
        create_authority(settings(policy, **changes), START)


def test_authority_material_repr_hides_keys(ec_material: AuthorityMaterial) -> None:
    """The keys never show in a representation that may reach a log."""
    assert repr(ec_material) == (
        f"AuthorityMaterial(root_certificate={ec_material.root_certificate!r}, "
        f"intermediate_certificate={ec_material.intermediate_certificate!r})"
    )


def test_new_serial_number() -> None:
    """Serials are positive, at most 127 bits, and differ."""
    serials = {new_serial_number(()) for _ in range(200)}
    assert len(serials) == 200
    assert all(0 < serial < 2**127 for serial in serials)
    assert max(serials).bit_length() > 120


def test_new_serial_number_draws_again_when_used() -> None:
    """A serial already in use is never returned."""

    class FirstDrawsUsed:
        """Claim the first few serials drawn are in use."""

        def __init__(self) -> None:
            """Start with no draws."""
            self.refused: list[object] = []

        def __contains__(self, serial: object) -> bool:
            """Refuse the first three serials asked about."""
            if len(self.refused) < 3:
                self.refused.append(serial)
                return True
            return False

    used = FirstDrawsUsed()
    serial = new_serial_number(used)
    assert len(used.refused) == 3
    assert serial not in used.refused


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_issued_leaf_passes_openssl_verify(
    materials: Materials,
    private_keys: dict[KeyAlgorithm, PrivateKey],
    algorithm: KeyAlgorithm,
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """OpenSSL verifies a leaf of each algorithm through the intermediate."""
    material = materials(algorithm)
    authority = make_authority(material, make_policy())
    leaf = authority.issue(issue_request(private_keys[algorithm].public_key()), now)

    openssl.write_certificates("root.pem", material.root_certificate)
    openssl.write_certificates("intermediate.pem", material.intermediate_certificate)
    openssl.write_certificates("leaf.pem", leaf)
    for purpose in ("sslserver", "sslclient"):
        output = openssl.ok(
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "intermediate.pem",
            "-purpose",
            purpose,
            "-verify_hostname",
            "nas.home.arpa",
            "-verify_ip",
            "192.168.1.20",
            "leaf.pem",
        )
        assert output.strip() == "leaf.pem: OK"

    path = verify_chain(
        leaf,
        intermediates=[material.intermediate_certificate],
        roots=[material.root_certificate],
        now=now,
        dns_name="nas.home.arpa",
    )
    assert path == [leaf, material.intermediate_certificate, material.root_certificate]


def test_openssl_shows_the_profile(
    authority: Authority, leaf: x509.Certificate, openssl: OpenSsl
) -> None:
    """OpenSSL reads the constraints, usages, names and locators as intended."""
    root_text = openssl.ok(
        "x509",
        "-noout",
        "-text",
        "-in",
        str(openssl.write_certificates("root.pem", authority.root)),
    )
    assert "X509v3 Name Constraints: critical" in root_text
    for subtree in (
        "DNS:home.arpa",
        "DNS:local",
        "DNS:lan",
        "DNS:internal",
        "IP:10.0.0.0/255.0.0.0",
        "IP:192.168.0.0/255.255.0.0",
        "IP:FC00:0:0:0:0:0:0:0/FE00:0:0:0:0:0:0:0",
    ):
        assert subtree in root_text
    assert "CA:TRUE, pathlen:1" in root_text
    assert "Certificate Sign, CRL Sign" in root_text

    intermediate_text = openssl.ok(
        "x509",
        "-noout",
        "-text",
        "-in",
        str(openssl.write_certificates("intermediate.pem", authority.intermediate)),
    )
    assert "CA:TRUE, pathlen:0" in intermediate_text
    assert "X509v3 Name Constraints: critical" in intermediate_text
    assert "X509v3 Authority Key Identifier" in intermediate_text

    leaf_text = openssl.ok(
        "x509",
        "-noout",
        "-text",
        "-in",
        str(openssl.write_certificates("leaf.pem", leaf)),
    )
    assert "X509v3 Basic Constraints: critical\n                CA:FALSE" in leaf_text
    usages = "TLS Web Server Authentication, TLS Web Client Authentication"
    assert usages in leaf_text
    assert "DNS:nas.home.arpa, IP Address:192.168.1.20" in leaf_text
    assert "X509v3 CRL Distribution Points:" in leaf_text
    assert f"URI:{CRL_URL}" in leaf_text
    assert f"OCSP - URI:{OCSP_URL}" in leaf_text
    assert f"CA Issuers - URI:{CA_ISSUERS_URL}" in leaf_text
    assert "Subject: CN = NAS" in leaf_text


@pytest.mark.parametrize(
    "case",
    [
        (KeyAlgorithm.EC_P256, x509.DNSName("google.com")),
        (KeyAlgorithm.RSA_2048, x509.DNSName("www.google.com")),
        (KeyAlgorithm.ED25519, x509.DNSName("google.com")),
        (KeyAlgorithm.EC_P256, x509.IPAddress(IPv4Address("8.8.8.8"))),
        (KeyAlgorithm.EC_P384, x509.IPAddress(IPv6Address("2001:4860::8888"))),
    ],
)
def test_forged_leaf_is_rejected(
    materials: Materials,
    leaf_key: PrivateKey,
    case: tuple[KeyAlgorithm, x509.GeneralName],
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """A leaf for a foreign name signed with the intermediate key is rejected.

    This proves the name constraints are in the certificates: even a stolen
    intermediate key cannot vouch for google.com.
    """
    algorithm, forged_name = case
    material = materials(algorithm)
    forged = forge_leaf(material, leaf_key, now, [forged_name])
    openssl.write_certificates("root.pem", material.root_certificate)
    openssl.write_certificates("intermediate.pem", material.intermediate_certificate)
    openssl.write_certificates("forged.pem", forged)

    result = openssl.run(
        "verify", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "forged.pem"
    )
    assert result.returncode != 0
    assert "permitted subtree violation" in result.stdout + result.stderr

    with pytest.raises(ChainError):
        verify_chain(
            forged,
            intermediates=[material.intermediate_certificate],
            roots=[material.root_certificate],
            now=now,
        )


def test_forged_leaf_inside_the_constraints_verifies(
    ec_material: AuthorityMaterial,
    leaf_key: PrivateKey,
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """The forging helper itself makes valid leaves when the name is permitted."""
    forged = forge_leaf(ec_material, leaf_key, now, [x509.DNSName("ok.lan")])
    openssl.write_certificates("root.pem", ec_material.root_certificate)
    openssl.write_certificates("intermediate.pem", ec_material.intermediate_certificate)
    openssl.write_certificates("forged.pem", forged)
    openssl.ok(
        "verify", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "forged.pem"
    )


def test_empty_policy_constrains_every_name(
    leaf_key: PrivateKey, now: datetime, openssl: OpenSsl
) -> None:
    """An authority with no permitted names can vouch for no DNS name or address."""
    empty = Policy(permitted_dns_domains=(), permitted_ip_ranges=())
    material = create_authority(settings(empty), now)
    constraints = extension(material.root_certificate, x509.NameConstraints).value
    assert constraints.permitted_subtrees == [x509.DNSName("invalid")]
    assert constraints.excluded_subtrees == [
        x509.IPAddress(IPv4Network("0.0.0.0/0")),
        x509.IPAddress(IPv6Network("::/0")),
    ]

    openssl.write_certificates("root.pem", material.root_certificate)
    openssl.write_certificates("intermediate.pem", material.intermediate_certificate)
    for index, forged_name in enumerate(
        [x509.DNSName("nas.lan"), x509.IPAddress(IPv4Address("192.168.1.1"))]
    ):
        forged = forge_leaf(material, leaf_key, now, [forged_name])
        openssl.write_certificates(f"forged{index}.pem", forged)
        result = openssl.run(
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "intermediate.pem",
            f"forged{index}.pem",
        )
        assert result.returncode != 0


def test_authority_properties(
    authority: Authority, ec_material: AuthorityMaterial, policy: Policy
) -> None:
    """The authority exposes its certificates, key, policy and chain."""
    issuer: Issuer = authority
    assert authority.root == ec_material.root_certificate
    assert authority.intermediate == ec_material.intermediate_certificate
    assert authority.policy is policy
    assert authority.signing_key.public_key() == (
        ec_material.intermediate_key.public_key()
    )
    assert issuer.chain == (authority.intermediate, authority.root)


def test_issue_profile(
    authority: Authority, leaf_key: PrivateKey, now: datetime
) -> None:
    """A leaf carries the subject, times, usages, names and locators asked for."""
    request = issue_request(
        leaf_key.public_key(),
        common_name="Mosquitto broker",
        dns_names=("MQTT.home.arpa", "mqtt.home.arpa", "*.mqtt.lan"),
        ip_addresses=(IPv4Address("192.168.1.2"), IPv6Address("fd00::2")),
        validity_days=90,
        serial_number=0x1234,
    )
    leaf = authority.issue(request, now)

    assert leaf.subject.rfc4514_string() == "CN=Mosquitto broker"
    assert leaf.issuer == authority.intermediate.subject
    assert leaf.serial_number == 0x1234
    assert leaf.not_valid_before_utc == now - timedelta(minutes=5)
    assert leaf.not_valid_after_utc == now + timedelta(days=90)
    leaf.verify_directly_issued_by(authority.intermediate)

    constraints = extension(leaf, x509.BasicConstraints)
    assert constraints.critical
    assert not constraints.value.ca
    usage = extension(leaf, x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_encipherment
    assert not usage.value.key_cert_sign
    assert list(extension(leaf, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    assert list(extension(leaf, x509.SubjectAlternativeName).value) == [
        x509.DNSName("mqtt.home.arpa"),
        x509.DNSName("*.mqtt.lan"),
        x509.IPAddress(IPv4Address("192.168.1.2")),
        x509.IPAddress(IPv6Address("fd00::2")),
    ]
    assert extension(leaf, x509.SubjectKeyIdentifier).value == (
        x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key())
    )
    assert extension(leaf, x509.AuthorityKeyIdentifier).value.key_identifier == (
        extension(authority.intermediate, x509.SubjectKeyIdentifier).value.digest
    )
    points = extension(leaf, x509.CRLDistributionPoints).value
    assert [point.full_name for point in points] == [
        [x509.UniformResourceIdentifier(CRL_URL)]
    ]
    access = extension(leaf, x509.AuthorityInformationAccess).value
    assert [(item.access_method, item.access_location.value) for item in access] == [
        (AuthorityInformationAccessOID.OCSP, OCSP_URL),
        (AuthorityInformationAccessOID.CA_ISSUERS, CA_ISSUERS_URL),
    ]


def test_issue_rsa_leaf_may_encipher_keys(
    authority: Authority,
    private_keys: dict[KeyAlgorithm, PrivateKey],
    now: datetime,
) -> None:
    """An RSA leaf also gets keyEncipherment, for RSA key exchange."""
    key = private_keys[KeyAlgorithm.RSA_2048]
    assert isinstance(key, rsa.RSAPrivateKey)
    leaf = authority.issue(issue_request(key.public_key()), now)
    assert extension(leaf, x509.KeyUsage).value.key_encipherment


@pytest.mark.parametrize(
    ("server_auth", "usage"),
    [(True, ExtendedKeyUsageOID.SERVER_AUTH), (False, ExtendedKeyUsageOID.CLIENT_AUTH)],
)
def test_issue_extended_key_usage(
    authority: Authority,
    leaf_key: PrivateKey,
    now: datetime,
    server_auth: bool,
    usage: x509.ObjectIdentifier,
) -> None:
    """Server or client authentication alone is granted as asked."""
    client_auth = not server_auth
    leaf = authority.issue(
        issue_request(
            leaf_key.public_key(), server_auth=server_auth, client_auth=client_auth
        ),
        now,
    )
    assert list(extension(leaf, x509.ExtendedKeyUsage).value) == [usage]


def test_issue_without_locators(
    ec_material: AuthorityMaterial, policy: Policy, leaf_key: PrivateKey, now: datetime
) -> None:
    """Without URLs there is no distribution point and no AIA."""
    authority = Authority(
        root=ec_material.root_certificate,
        intermediate=ec_material.intermediate_certificate,
        signing_key=PrivateKeySigner(ec_material.intermediate_key),
        policy=policy,
    )
    leaf = authority.issue(issue_request(leaf_key.public_key()), now)
    with pytest.raises(x509.ExtensionNotFound):
        extension(leaf, x509.CRLDistributionPoints)
    with pytest.raises(x509.ExtensionNotFound):
        extension(leaf, x509.AuthorityInformationAccess)

    only_ocsp = Authority(
        root=ec_material.root_certificate,
        intermediate=ec_material.intermediate_certificate,
        signing_key=PrivateKeySigner(ec_material.intermediate_key),
        policy=policy,
        ocsp_url=OCSP_URL,
    )
    leaf = only_ocsp.issue(issue_request(leaf_key.public_key()), now)
    access = extension(leaf, x509.AuthorityInformationAccess).value
    assert [item.access_method for item in access] == [
        AuthorityInformationAccessOID.OCSP
    ]


def test_issue_common_name_bounds(
    authority: Authority, leaf_key: PrivateKey, now: datetime
) -> None:
    """A long common name is cut to 64 characters; an empty one takes a SAN."""
    leaf = authority.issue(
        issue_request(leaf_key.public_key(), common_name="Camera " * 20), now
    )
    common_name = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == ("Camera " * 20)[:64]

    leaf = authority.issue(issue_request(leaf_key.public_key(), common_name=" "), now)
    assert leaf.subject.rfc4514_string() == "CN=nas.home.arpa"

    leaf = authority.issue(
        issue_request(leaf_key.public_key(), common_name="", dns_names=()), now
    )
    assert leaf.subject.rfc4514_string() == "CN=192.168.1.20"


def test_issue_is_capped_by_the_intermediate(
    policy: Policy, leaf_key: PrivateKey
) -> None:
    """A leaf never outlives its intermediate; an expired one issues nothing."""
    material = create_authority(settings(policy, intermediate_validity_days=30), START)
    authority = make_authority(material, policy)
    leaf = authority.issue(issue_request(leaf_key.public_key()), START)
    assert (
        leaf.not_valid_after_utc
        == material.intermediate_certificate.not_valid_after_utc
    )

    with pytest.raises(ValidityError):
        authority.issue(
            issue_request(leaf_key.public_key()), START + timedelta(days=31)
        )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"validity_days": 0}, ValidityError),
        ({"validity_days": 399}, ValidityError),
        ({"dns_names": (), "ip_addresses": ()}, InvalidNameError),
        ({"dns_names": ("bad_name.lan",)}, InvalidNameError),
        ({"dns_names": ("nas.lan", "google.com")}, NameNotPermittedError),
        ({"ip_addresses": (IPv4Address("8.8.8.8"),)}, NameNotPermittedError),
        ({"common_name": "google.com"}, NameNotPermittedError),
        ({"common_name": "8.8.4.4"}, NameNotPermittedError),
        ({"server_auth": False, "client_auth": False}, PkiError),
    ],
)
def test_issue_refuses(
    authority: Authority,
    leaf_key: PrivateKey,
    now: datetime,
    changes: dict[str, object],
    error: type[PkiError],
) -> None:
    """Every policy check runs before anything is signed."""
    with pytest.raises(error):
        authority.issue(
            issue_request(leaf_key.public_key(), **changes),  # type: ignore[arg-type]
            now,
        )


def test_issue_refuses_weak_key(
    authority: Authority, rsa_1024: rsa.RSAPrivateKey, now: datetime
) -> None:
    """A key under the policy's minimum is refused."""
    with pytest.raises(WeakKeyError) as caught:
        authority.issue(issue_request(rsa_1024.public_key()), now)
    assert caught.value.detail == "RSA 1024"


def test_issue_through_a_signing_key_interface(
    ec_material: AuthorityMaterial, policy: Policy, leaf_key: PrivateKey, now: datetime
) -> None:
    """The authority signs only through its signing key, as a token would."""

    class CountingSigner:
        """Sign through a wrapped signer and count the signatures."""

        def __init__(self, key: PrivateKey) -> None:
            """Wrap a key."""
            self.inner = PrivateKeySigner(key)
            self.signed = 0

        def public_key(
            self,
        ) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey | (ed25519.Ed25519PublicKey):
            """Return the wrapped public key."""
            return self.inner.public_key()

        def sign_certificate(
            self, builder: x509.CertificateBuilder
        ) -> x509.Certificate:
            """Sign and count."""
            self.signed += 1
            return self.inner.sign_certificate(builder)

        def sign_crl(
            self, builder: x509.CertificateRevocationListBuilder
        ) -> x509.CertificateRevocationList:
            """Sign a CRL."""
            return self.inner.sign_crl(builder)

    signer = CountingSigner(ec_material.intermediate_key)
    authority = Authority(
        root=ec_material.root_certificate,
        intermediate=ec_material.intermediate_certificate,
        signing_key=signer,
        policy=policy,
    )
    authority.issue(issue_request(leaf_key.public_key()), now)
    assert signer.signed == 1
    assert signer.sign_crl(
        x509.CertificateRevocationListBuilder()
        .issuer_name(ec_material.intermediate_certificate.subject)
        .last_update(now)
        .next_update(now + timedelta(days=1))
    ).is_signature_valid(signer.public_key())


def test_authority_key_identifier_without_subject_key_identifier(
    leaf_key: PrivateKey,
) -> None:
    """An issuer without an SKI is identified by the RFC 5280 hash of its key."""
    issuer = build_certificate(
        subject=name("old CA"),
        public_key=leaf_key.public_key(),
        issuer=name("old CA"),
        issuer_key=leaf_key,
        not_before=START,
        not_after=START + timedelta(days=1),
    )
    assert authority_key_identifier(issuer).key_identifier == (
        x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()).digest
    )
