"""Tests of judging watched certificates: trust, time, names and policy."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import IPv6Address, ip_address
from pathlib import Path
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa, x25519
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
import pytest

from custom_components.home_pki.pki.authority import (
    Authority,
    AuthorityMaterial,
    AuthoritySettings,
    authority_key_identifier,
    create_authority,
    new_serial_number,
)
from custom_components.home_pki.pki.errors import ChainError, InvalidCertificateError
from custom_components.home_pki.pki.inspect import issued_by, verify_chain
from custom_components.home_pki.pki.keys import KeyAlgorithm, PrivateKey
from custom_components.home_pki.pki.paths import MAX_PATH_LENGTH
from custom_components.home_pki.pki.policy import Policy
from custom_components.home_pki.pki.verify import (
    REASON_EXPIRED,
    REASON_HOSTNAME_MISMATCH,
    REASON_MISSING_INTERMEDIATE,
    REASON_NOT_YET_VALID,
    REASON_SELF_SIGNED,
    REASON_UNKNOWN_ISSUER,
    REASON_UNTRUSTED_CHAIN,
    Assessment,
    TrustBundle,
    _bundle_at,
    _system_bundle_path,
    assess_chain,
    system_trust,
)
from tests.pki.common import (
    CA_ISSUERS_URL,
    OpenSsl,
    build_certificate,
    issue_request,
    make_authority,
    make_policy,
    name,
)

type Materials = Callable[[KeyAlgorithm], AuthorityMaterial]
type Extensions = Sequence[tuple[x509.ExtensionType, bool]]

DAY = timedelta(days=1)
SHA1 = hashes.SHA1()  # noqa: S303 - what old devices still sign with
SHA256_WITH_RSA = bytes.fromhex("06092a864886f70d01010b")
SHA1_WITH_RSA = bytes.fromhex("06092a864886f70d010105")
ECDSA_WITH_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
NEIGHBOUR_ISSUERS_URL = "http://ca.neighbour.lan/intermediate.der"


def key_usage(*, ca: bool) -> x509.KeyUsage:
    """Build the key usage of an authority or of a TLS leaf."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_certificate(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    extensions: Extensions,
    algorithm: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    """Sign a certificate, self-signed when issuer is None, with a chosen hash."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(new_serial_number(()))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            authority_key_identifier(issuer), critical=False
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    if algorithm is SHA1:
        assert isinstance(issuer_key, rsa.RSAPrivateKey)
        return with_sha1(builder.sign(issuer_key, hashes.SHA256()), issuer_key)
    return builder.sign(issuer_key, hashes.SHA256())


def der_element(tag: int, content: bytes) -> bytes:
    """Encode one DER element."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8)
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def with_sha1(
    certificate: x509.Certificate, issuer_key: rsa.RSAPrivateKey
) -> x509.Certificate:
    """Sign a certificate again over SHA-1, which cryptography no longer does."""
    tbs = certificate.tbs_certificate_bytes
    assert tbs.count(SHA256_WITH_RSA) == 1
    tbs = tbs.replace(SHA256_WITH_RSA, SHA1_WITH_RSA)
    algorithm = der_element(0x30, SHA1_WITH_RSA + b"\x05\x00")
    return assemble(tbs, algorithm, issuer_key.sign(tbs, padding.PKCS1v15(), SHA1))


def assemble(tbs: bytes, algorithm: bytes, signature: bytes) -> x509.Certificate:
    """Put a certificate together from its TBS part, algorithm and signature."""
    bits = der_element(0x03, b"\x00" + signature)
    return x509.load_der_x509_certificate(der_element(0x30, tbs + algorithm + bits))


def authority_extensions(path_length: int | None = None) -> Extensions:
    """Return the extensions of an authority certificate."""
    return [
        (x509.BasicConstraints(ca=True, path_length=path_length), True),
        (key_usage(ca=True), True),
    ]


def ca_issuers(url: str) -> tuple[x509.ExtensionType, bool]:
    """Return an AIA extension that points at the issuer's certificate."""
    access = x509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url)
    )
    return x509.AuthorityInformationAccess([access]), False


def server_extensions(*names: str, client: bool = False) -> Extensions:
    """Return the extensions of a TLS server leaf for DNS names or addresses."""
    general: list[x509.GeneralName] = []
    for text in names:
        try:
            general.append(x509.IPAddress(ip_address(text)))
        except ValueError:
            general.append(x509.DNSName(text))
    usages = [
        ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    ]
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (key_usage(ca=False), True),
        (x509.ExtendedKeyUsage(usages), False),
    ]
    if general:
        extensions.append((x509.SubjectAlternativeName(general), False))
    return extensions


def unreadable(
    certificate: x509.Certificate, issuer_key: PrivateKey
) -> x509.Certificate:
    """Return a certificate whose key usage became a second SKI, signed again."""
    assert isinstance(issuer_key, ec.EllipticCurvePrivateKey)
    tbs = certificate.tbs_certificate_bytes
    # Rename the key usage extension (2.5.29.15) into a second SKI (2.5.29.14).
    broken = tbs.replace(b"\x06\x03\x55\x1d\x0f", b"\x06\x03\x55\x1d\x0e", 1)
    assert broken != tbs
    signature = issuer_key.sign(broken, ec.ECDSA(hashes.SHA256()))
    result = assemble(broken, ECDSA_WITH_SHA256, signature)
    with pytest.raises(x509.DuplicateExtension):
        _ = result.extensions
    return result


def openssl_verify(
    openssl: OpenSsl,
    leaf: x509.Certificate,
    *,
    anchors: Sequence[x509.Certificate],
    untrusted: Sequence[x509.Certificate] = (),
    hostname: str | None = None,
    partial_chain: bool = False,
) -> tuple[bool, str]:
    """Ask openssl verify for its own opinion: accepted, and what it said."""
    args = [
        "verify",
        "-CAfile",
        str(openssl.write_certificates("anchors.pem", *anchors)),
    ]
    if untrusted:
        path = openssl.write_certificates("untrusted.pem", *untrusted)
        args += ["-untrusted", str(path)]
    if hostname is not None:
        try:
            ip_address(hostname)
        except ValueError:
            args += ["-verify_hostname", hostname]
        else:
            args += ["-verify_ip", hostname]
    if partial_chain:
        args.append("-partial_chain")
    args.append(str(openssl.write_certificates("leaf.pem", leaf)))
    result = openssl.run(*args)
    return result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def neighbour() -> AuthorityMaterial:
    """Return a second, unrelated authority."""
    return create_authority(
        AuthoritySettings(
            name="Neighbour",
            key_algorithm=KeyAlgorithm.EC_P256,
            root_validity_days=3650,
            intermediate_validity_days=1095,
            policy=make_policy(),
        ),
        datetime.now(UTC).replace(microsecond=0),
    )


@pytest.fixture(scope="module")
def seasoned() -> Authority:
    """Return an authority created a year ago, to issue leaves long expired."""
    start = datetime.now(UTC).replace(microsecond=0) - 365 * DAY
    material = create_authority(
        AuthoritySettings(
            name="Seasoned",
            key_algorithm=KeyAlgorithm.EC_P256,
            root_validity_days=3650,
            intermediate_validity_days=1095,
            policy=make_policy(),
        ),
        start,
    )
    return make_authority(material, make_policy())


@pytest.fixture
def home_trust(authority: Authority) -> TrustBundle:
    """Return the home authority as a trust bundle, as the coordinator builds it."""
    return TrustBundle.from_certificates(authority.chain)


def assess(
    presented: Sequence[x509.Certificate],
    trust: TrustBundle,
    now: datetime,
    hostname: str | None = None,
    policy: Policy | None = None,
    extra: Sequence[x509.Certificate] = (),
) -> Assessment:
    """Assess a chain with the usual keyword arguments."""
    return assess_chain(
        presented,
        trust=trust,
        now=now,
        hostname=hostname,
        policy=policy,
        extra_intermediates=extra,
    )


def test_home_leaf_is_trusted(
    authority: Authority,
    leaf: x509.Certificate,
    home_trust: TrustBundle,
    now: datetime,
    policy: Policy,
    openssl: OpenSsl,
) -> None:
    """A home leaf sent with its intermediate is trusted, and so says openssl."""
    result = assess(
        [leaf, authority.intermediate], home_trust, now, "nas.home.arpa", policy
    )
    assert result == Assessment(
        reasons=(),
        path=(leaf, authority.intermediate, authority.root),
        issuer=authority.intermediate,
        completed_from=(),
        missing_issuer_urls=(),
        detail=None,
    )
    accepted, output = openssl_verify(
        openssl,
        leaf,
        anchors=[authority.root],
        untrusted=[authority.intermediate],
        hostname="nas.home.arpa",
    )
    assert accepted, output


def test_trust_bundle_from_certificates(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    neighbour: AuthorityMaterial,
    leaf_key: PrivateKey,
    now: datetime,
) -> None:
    """The top of each pasted chain is an anchor; what it issued helps build paths."""
    root, intermediate = authority.root, authority.intermediate
    home = TrustBundle.from_certificates([intermediate, root, root])
    assert home == TrustBundle(anchors=(root,), intermediates=(intermediate,))
    assert TrustBundle.from_certificates([intermediate]).anchors == (intermediate,)
    assert TrustBundle.from_certificates([leaf]).anchors == (leaf,)
    assert TrustBundle.from_certificates([leaf, intermediate]) == TrustBundle(
        anchors=(intermediate,), intermediates=(leaf,)
    )
    both = TrustBundle.from_certificates(
        [
            root,
            neighbour.root_certificate,
            unreadable(leaf, ec_material.intermediate_key),
        ]
    )
    assert both.anchors == (root, neighbour.root_certificate)
    assert both.intermediates == ()
    assert TrustBundle.from_certificates([]) == TrustBundle(anchors=())

    # Two authorities that only cross-sign each other are both trusted.
    other_key = ec.generate_private_key(ec.SECP256R1())
    second_alone = make_certificate(
        subject=name("Second"),
        key=other_key,
        issuer=None,
        issuer_key=other_key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=authority_extensions(),
    )
    first = make_certificate(
        subject=name("First"),
        key=leaf_key,
        issuer=second_alone,
        issuer_key=other_key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=authority_extensions(),
    )
    second = make_certificate(
        subject=name("Second"),
        key=other_key,
        issuer=first,
        issuer_key=leaf_key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=authority_extensions(),
    )
    assert TrustBundle.from_certificates([first, second]) == TrustBundle(
        anchors=(first, second)
    )


def test_leaf_of_another_authority(
    neighbour: AuthorityMaterial,
    leaf_key: PrivateKey,
    home_trust: TrustBundle,
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """A custom bundle of the leaf's authority trusts it; the home bundle does not."""
    issuer = neighbour.intermediate_certificate
    other = make_authority(neighbour, make_policy()).issue(
        issue_request(leaf_key.public_key()), now
    )
    custom = TrustBundle.from_certificates(
        [neighbour.root_certificate, neighbour.intermediate_certificate]
    )
    trusted = assess([other, issuer], custom, now, "nas.home.arpa")
    assert trusted.reasons == ()
    assert trusted.path == (other, issuer, neighbour.root_certificate)

    refused = assess([other, issuer], home_trust, now, "nas.home.arpa")
    assert refused.reasons == (REASON_UNKNOWN_ISSUER,)
    assert refused.path == (other, issuer)
    assert refused.issuer == issuer
    assert refused.missing_issuer_urls == ()
    assert refused.detail == f"issuer not found: {issuer.issuer.rfc4514_string()}"
    accepted, output = openssl_verify(
        openssl, other, anchors=home_trust.anchors, untrusted=[issuer]
    )
    assert not accepted
    assert "unable to get local issuer certificate" in output


def test_an_untrusted_root_sent_along(
    neighbour: AuthorityMaterial,
    leaf_key: PrivateKey,
    home_trust: TrustBundle,
    now: datetime,
) -> None:
    """A whole chain up to a root that is not an anchor has an unknown issuer."""
    other = make_authority(neighbour, make_policy()).issue(
        issue_request(leaf_key.public_key()), now
    )
    chain = [other, neighbour.intermediate_certificate, neighbour.root_certificate]
    result = assess(chain, home_trust, now)
    assert result.reasons == (REASON_UNKNOWN_ISSUER,)
    assert result.path == tuple(chain)
    assert result.missing_issuer_urls == ()
    assert result.detail == (
        f"not a trust anchor: {neighbour.root_certificate.subject.rfc4514_string()}"
    )


@pytest.fixture
def device_certificate(leaf_key: PrivateKey, now: datetime) -> x509.Certificate:
    """Return a router's own self-signed certificate: no AKI, a 20-year lifetime."""
    return (
        x509.CertificateBuilder()
        .subject_name(name("192.168.1.1"))
        .issuer_name(name("192.168.1.1"))
        .public_key(leaf_key.public_key())
        .serial_number(1)
        .not_valid_before(now - DAY)
        .not_valid_after(now + 7300 * DAY)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("192.168.1.1"))]),
            critical=False,
        )
        .sign(leaf_key, hashes.SHA256())
    )


def test_self_signed_and_pinned(
    device_certificate: x509.Certificate,
    home_trust: TrustBundle,
    now: datetime,
    policy: Policy,
    openssl: OpenSsl,
) -> None:
    """A self-signed leaf is self_signed, unless pasted as the trust: then pinned."""
    result = assess([device_certificate], home_trust, now, "192.168.1.1")
    assert result.reasons == (REASON_SELF_SIGNED,)
    assert result.path == (device_certificate,)
    assert result.issuer is None
    assert result.missing_issuer_urls == ()
    accepted, output = openssl_verify(
        openssl, device_certificate, anchors=home_trust.anchors
    )
    assert not accepted
    assert "self-signed certificate" in output

    pinned = TrustBundle.from_certificates([device_certificate])
    # cryptography's verifier refuses this certificate as its own anchor.
    with pytest.raises(ChainError):
        verify_chain(
            device_certificate,
            intermediates=[],
            roots=pinned.anchors,
            now=now,
            dns_name="192.168.1.1",
        )
    trusted = assess([device_certificate], pinned, now, "192.168.1.1")
    assert trusted.reasons == ()
    assert trusted.path == (device_certificate,)
    assert trusted.issuer is None
    accepted, output = openssl_verify(
        openssl, device_certificate, anchors=pinned.anchors, hostname="192.168.1.1"
    )
    assert accepted, output

    # Pinning trusts the certificate, not its time, its name or its form.
    assert assess([device_certificate], pinned, now, "192.168.1.2").reasons == (
        REASON_HOSTNAME_MISMATCH,
    )
    later = now + 7301 * DAY
    assert assess([device_certificate], pinned, later).reasons == (REASON_EXPIRED,)
    assert assess([device_certificate], pinned, now, None, policy).reasons == (
        "lifetime_too_long",
    )


def test_pinned_leaf_of_an_authority(
    authority: Authority, leaf: x509.Certificate, now: datetime
) -> None:
    """A pinned leaf that an authority issued keeps that issuer for revocation."""
    pinned = TrustBundle.from_certificates([leaf])
    result = assess([leaf, authority.intermediate], pinned, now, "nas.home.arpa")
    assert result.reasons == ()
    assert result.path == (leaf,)
    assert result.issuer == authority.intermediate
    assert assess([leaf], pinned, now).issuer is None


def test_pinned_intermediate(
    authority: Authority, leaf: x509.Certificate, now: datetime, openssl: OpenSsl
) -> None:
    """A lone pasted intermediate is an anchor the path may end at."""
    trust = TrustBundle.from_certificates([authority.intermediate])
    result = assess([leaf], trust, now, "nas.home.arpa")
    assert result.reasons == ()
    assert result.path == (leaf, authority.intermediate)
    assert result.completed_from == ()
    accepted, output = openssl_verify(
        openssl, leaf, anchors=trust.anchors, partial_chain=True
    )
    assert accepted, output


@pytest.mark.parametrize(
    ("issued", "at", "reason"),
    [
        (-100 * DAY, timedelta(0), REASON_EXPIRED),
        (10 * DAY, timedelta(0), REASON_NOT_YET_VALID),
        (timedelta(0), 91 * DAY, REASON_EXPIRED),
        (timedelta(0), -DAY, REASON_NOT_YET_VALID),
    ],
)
def test_leaf_outside_its_validity(
    seasoned: Authority,
    leaf_key: PrivateKey,
    now: datetime,
    issued: timedelta,
    at: timedelta,
    reason: str,
) -> None:
    """A leaf's own time is its only finding when the chain is fine."""
    leaf = seasoned.issue(issue_request(leaf_key.public_key()), now + issued)
    trust = TrustBundle.from_certificates(seasoned.chain)
    result = assess([leaf, seasoned.intermediate], trust, now + at, "nas.home.arpa")
    assert result.reasons == (reason,)
    assert result.path == (leaf, seasoned.intermediate, seasoned.root)
    assert result.detail is None

    mismatch = assess([leaf, seasoned.intermediate], trust, now + at, "x.home.arpa")
    assert mismatch.reasons == (reason, REASON_HOSTNAME_MISMATCH)
    alone = assess([leaf], TrustBundle(anchors=(seasoned.root,)), now + at)
    assert alone.reasons == (reason, REASON_UNKNOWN_ISSUER)
    assert alone.missing_issuer_urls == (CA_ISSUERS_URL,)


def test_expired_leaf_under_an_expired_intermediate(
    seasoned: Authority, leaf_key: PrivateKey, now: datetime
) -> None:
    """Verifying at the leaf's own time does not excuse an authority expired now."""
    leaf = seasoned.issue(issue_request(leaf_key.public_key()), now)
    later = seasoned.intermediate.not_valid_after_utc + DAY
    trust = TrustBundle.from_certificates(seasoned.chain)
    result = assess([leaf, seasoned.intermediate], trust, later)
    assert result.reasons == (REASON_EXPIRED, REASON_UNTRUSTED_CHAIN)
    assert result.path == (leaf, seasoned.intermediate, seasoned.root)
    assert result.detail == (
        f"outside its validity: {seasoned.intermediate.subject.rfc4514_string()}"
    )


@pytest.mark.parametrize(
    ("hostname", "reasons"),
    [
        ("nas.home.arpa", ()),
        ("NAS.Home.Arpa.", ()),
        ("192.168.1.20", ()),
        ("other.home.arpa", (REASON_HOSTNAME_MISMATCH,)),
        ("192.168.1.21", (REASON_HOSTNAME_MISMATCH,)),
        ("bücher.home.arpa", (REASON_HOSTNAME_MISMATCH,)),
        ("bad name!", (REASON_HOSTNAME_MISMATCH,)),
        ("a..b", (REASON_HOSTNAME_MISMATCH,)),
        ("home.arpa", (REASON_HOSTNAME_MISMATCH,)),
    ],
)
def test_hostname(
    authority: Authority,
    leaf: x509.Certificate,
    home_trust: TrustBundle,
    now: datetime,
    hostname: str,
    reasons: tuple[str, ...],
    openssl: OpenSsl,
) -> None:
    """A wrong name is only a hostname mismatch; openssl agrees on the name."""
    result = assess([leaf, authority.intermediate], home_trust, now, hostname)
    assert result.reasons == reasons
    assert result.path == (leaf, authority.intermediate, authority.root)
    if hostname.isascii() and " " not in hostname and ".." not in hostname:
        accepted, output = openssl_verify(
            openssl,
            leaf,
            anchors=[authority.root],
            untrusted=[authority.intermediate],
            hostname=hostname.lower().removesuffix("."),
        )
        assert accepted == (not reasons), output


def test_idna_and_ipv6_names(
    authority: Authority, leaf_key: PrivateKey, home_trust: TrustBundle, now: datetime
) -> None:
    """An internationalised name matches its A-label; an IPv6 address its SAN."""
    leaf = authority.issue(
        issue_request(
            leaf_key.public_key(),
            dns_names=("bücher.home.arpa",),
            ip_addresses=(IPv6Address("fd00::20"),),
        ),
        now,
    )
    presented = [leaf, authority.intermediate]
    for hostname in ("bücher.home.arpa", "xn--bcher-kva.home.arpa", "[fd00::20]"):
        assert assess(presented, home_trust, now, hostname).reasons == ()
    assert assess(presented, home_trust, now, "fd00::21").reasons == (
        REASON_HOSTNAME_MISMATCH,
    )


def test_wildcard_names(
    authority: Authority, leaf_key: PrivateKey, home_trust: TrustBundle, now: datetime
) -> None:
    """A wildcard covers one label, under the authority's name constraints."""
    leaf = authority.issue(
        issue_request(
            leaf_key.public_key(), dns_names=("*.cams.lan",), ip_addresses=()
        ),
        now,
    )
    presented = [leaf, authority.intermediate]
    assert assess(presented, home_trust, now, "door.cams.lan").reasons == ()
    for hostname in ("cams.lan", "a.door.cams.lan"):
        assert assess(presented, home_trust, now, hostname).reasons == (
            REASON_HOSTNAME_MISMATCH,
        )


def test_server_sent_only_the_leaf(
    authority: Authority,
    leaf: x509.Certificate,
    home_trust: TrustBundle,
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """A path completed from the bundle is trusted, but the intermediate is missing."""
    result = assess([leaf], home_trust, now, "nas.home.arpa")
    assert result.reasons == (REASON_MISSING_INTERMEDIATE,)
    assert result.path == (leaf, authority.intermediate, authority.root)
    assert result.issuer == authority.intermediate
    assert result.completed_from == (authority.intermediate,)
    assert result.detail is None

    # openssl, given only the root, agrees that the leaf alone is not enough.
    accepted, output = openssl_verify(openssl, leaf, anchors=[authority.root])
    assert not accepted
    assert "unable to get local issuer certificate" in output


def test_wrong_intermediate_sent(
    authority: Authority,
    leaf: x509.Certificate,
    neighbour: AuthorityMaterial,
    home_trust: TrustBundle,
    now: datetime,
) -> None:
    """An unrelated intermediate does not stand in for the missing one."""
    presented = [leaf, neighbour.intermediate_certificate]
    result = assess(presented, home_trust, now)
    assert result.reasons == (REASON_MISSING_INTERMEDIATE,)
    assert result.completed_from == (authority.intermediate,)


def test_fetching_the_missing_issuer(
    authority: Authority, leaf: x509.Certificate, now: datetime, openssl: OpenSsl
) -> None:
    """An unknown issuer's AIA URL is offered; the fetched issuer completes the path."""
    trust = TrustBundle.from_certificates([authority.root])
    first = assess([leaf], trust, now, "nas.home.arpa")
    assert first.reasons == (REASON_UNKNOWN_ISSUER,)
    assert first.missing_issuer_urls == (CA_ISSUERS_URL,)
    assert first.path == (leaf,)
    assert first.issuer is None
    assert first.detail == (
        f"issuer not found: {authority.intermediate.subject.rfc4514_string()}"
    )

    retry = assess([leaf], trust, now, "nas.home.arpa", extra=[authority.intermediate])
    assert retry.reasons == (REASON_MISSING_INTERMEDIATE,)
    assert retry.path == (leaf, authority.intermediate, authority.root)
    assert retry.completed_from == (authority.intermediate,)
    assert retry.missing_issuer_urls == ()
    accepted, output = openssl_verify(
        openssl, leaf, anchors=[authority.root], untrusted=[authority.intermediate]
    )
    assert accepted, output


def test_missing_issuer_of_the_top_certificate(
    neighbour: AuthorityMaterial,
    leaf_key: PrivateKey,
    now: datetime,
) -> None:
    """The AIA URLs offered are those of the highest certificate that was linked."""
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = make_certificate(
        subject=name("Neighbour Issuing CA"),
        key=intermediate_key,
        issuer=neighbour.intermediate_certificate,
        issuer_key=neighbour.intermediate_key,
        not_before=now - DAY,
        not_after=now + 30 * DAY,
        extensions=[*authority_extensions(), ca_issuers(NEIGHBOUR_ISSUERS_URL)],
    )
    leaf = make_certificate(
        subject=name("nas"),
        key=leaf_key,
        issuer=intermediate,
        issuer_key=intermediate_key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=[
            *server_extensions("nas.lan"),
            ca_issuers("http://elsewhere.lan/"),
        ],
    )
    trust = TrustBundle.from_certificates([neighbour.root_certificate])
    result = assess([leaf, intermediate], trust, now, "nas.lan")
    assert result.reasons == (REASON_UNKNOWN_ISSUER,)
    assert result.path == (leaf, intermediate)
    assert result.missing_issuer_urls == (NEIGHBOUR_ISSUERS_URL,)


def test_expired_intermediate(
    ec_material: AuthorityMaterial,
    leaf_key: PrivateKey,
    home_trust: TrustBundle,
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """A leaf under an intermediate that has expired is an untrusted chain."""
    old_key = ec.generate_private_key(ec.SECP256R1())
    root = ec_material.root_certificate
    old = make_certificate(
        subject=name("Old Intermediate"),
        key=old_key,
        issuer=root,
        issuer_key=ec_material.root_key,
        not_before=now - 30 * DAY,
        not_after=now - DAY,
        extensions=authority_extensions(0),
    )
    leaf = make_certificate(
        subject=name("nas"),
        key=leaf_key,
        issuer=old,
        issuer_key=old_key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=server_extensions("nas.home.arpa"),
    )
    result = assess([leaf, old], home_trust, now, "nas.home.arpa")
    assert result.reasons == (REASON_UNTRUSTED_CHAIN,)
    assert result.path == (leaf, old, root)
    assert result.issuer == old
    assert result.detail is not None
    assert "not valid at validation time" in result.detail
    accepted, output = openssl_verify(openssl, leaf, anchors=[root], untrusted=[old])
    assert not accepted
    assert "certificate has expired" in output


@pytest.mark.parametrize(
    ("issuer_extensions", "leaf_name", "openssl_says"),
    [
        (
            [(x509.BasicConstraints(ca=False, path_length=None), True)],
            "nas.home.arpa",
            "invalid CA certificate",
        ),
        (authority_extensions(0), "www.example.com", "permitted subtree violation"),
    ],
    ids=["ca_false", "name_constraints"],
)
def test_chain_refused_by_the_verifier(
    ec_material: AuthorityMaterial,
    leaf_key: PrivateKey,
    home_trust: TrustBundle,
    now: datetime,
    issuer_extensions: Extensions,
    leaf_name: str,
    openssl_says: str,
    openssl: OpenSsl,
) -> None:
    """A CA:FALSE issuer, or a name outside the root's constraints, is refused."""
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    root = ec_material.root_certificate
    issuer = make_certificate(
        subject=name("Sub"),
        key=issuer_key,
        issuer=root,
        issuer_key=ec_material.root_key,
        not_before=now - DAY,
        not_after=now + 30 * DAY,
        extensions=issuer_extensions,
    )
    leaf = make_certificate(
        subject=name(leaf_name),
        key=leaf_key,
        issuer=issuer,
        issuer_key=issuer_key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=server_extensions(leaf_name),
    )
    result = assess([leaf, issuer], home_trust, now, leaf_name)
    assert result.reasons == (REASON_UNTRUSTED_CHAIN,)
    assert result.path == (leaf, issuer, root)
    assert result.detail
    accepted, output = openssl_verify(openssl, leaf, anchors=[root], untrusted=[issuer])
    assert not accepted
    assert openssl_says in output


def test_leaf_without_subject_alternative_name(
    ec_material: AuthorityMaterial,
    leaf_key: PrivateKey,
    home_trust: TrustBundle,
    now: datetime,
) -> None:
    """A common-name-only leaf is matched by its CN, but the verifier refuses it."""
    intermediate = ec_material.intermediate_certificate
    leaf = make_certificate(
        subject=name("nas.home.arpa"),
        key=leaf_key,
        issuer=intermediate,
        issuer_key=ec_material.intermediate_key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=server_extensions(),
    )
    presented = [leaf, intermediate]
    matched = assess(presented, home_trust, now, "nas.home.arpa")
    assert matched.reasons == (REASON_UNTRUSTED_CHAIN,)
    assert matched.detail is not None
    assert "missing required extension" in matched.detail
    assert assess(presented, home_trust, now, "other.home.arpa").reasons == (
        REASON_HOSTNAME_MISMATCH,
        REASON_UNTRUSTED_CHAIN,
    )
    assert assess(presented, home_trust, now, "192.168.1.20").reasons == (
        REASON_HOSTNAME_MISMATCH,
        REASON_UNTRUSTED_CHAIN,
    )


def test_device_with_an_address_in_its_common_name(
    leaf_key: PrivateKey, now: datetime, openssl: OpenSsl, policy: Policy
) -> None:
    """An old device's v1 certificate names its address in the CN only."""
    openssl.ok(
        "req",
        "-new",
        "-newkey",
        "rsa:1024",
        "-nodes",
        "-keyout",
        "device.key",
        "-subj",
        "/CN=192.168.1.1",
        "-out",
        "device.csr",
    )
    openssl.ok(
        "x509",
        "-req",
        "-sha1",
        "-in",
        "device.csr",
        "-signkey",
        "device.key",
        "-days",
        "7300",
        "-out",
        "device.pem",
    )
    device = x509.load_pem_x509_certificate(
        (openssl.directory / "device.pem").read_bytes()
    )
    assert device.version is x509.Version.v1
    # openssl starts the certificate at the second it runs, maybe after now.
    later = now + timedelta(minutes=1)
    assert assess([device], TrustBundle(anchors=()), later, "192.168.1.1").reasons == (
        REASON_SELF_SIGNED,
    )
    pinned = TrustBundle.from_certificates([device])
    assert assess([device], pinned, later, "192.168.1.1").reasons == ()
    assert assess([device], pinned, later, "192.168.1.2").reasons == (
        REASON_HOSTNAME_MISMATCH,
    )
    assert assess([device], pinned, later, "router.lan").reasons == (
        REASON_HOSTNAME_MISMATCH,
    )
    assert assess([device], pinned, later, "192.168.1.1", policy).reasons == (
        "weak_key",
        "sha1_signature",
        "lifetime_too_long",
    )
    nameless = make_certificate(
        subject=x509.Name([]),
        key=leaf_key,
        issuer=None,
        issuer_key=leaf_key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=(),
    )
    assert assess(
        [nameless], TrustBundle(anchors=(nameless,)), now, "a.lan"
    ).reasons == (REASON_HOSTNAME_MISMATCH,)


def test_client_certificate_checked_for_a_host(
    ec_material: AuthorityMaterial,
    leaf_key: PrivateKey,
    home_trust: TrustBundle,
    now: datetime,
) -> None:
    """A client-only leaf served for its own name is refused as a server."""
    intermediate = ec_material.intermediate_certificate
    leaf = make_certificate(
        subject=name("sensor"),
        key=leaf_key,
        issuer=intermediate,
        issuer_key=ec_material.intermediate_key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=server_extensions("sensor.home.arpa", client=True),
    )
    presented = [leaf, intermediate]
    assert assess(presented, home_trust, now).reasons == ()
    served = assess(presented, home_trust, now, "sensor.home.arpa")
    assert served.reasons == (REASON_UNTRUSTED_CHAIN,)
    assert served.detail


def weak_chain(
    material: AuthorityMaterial,
    leaf_key: PrivateKey,
    now: datetime,
    *,
    intermediate_key: PrivateKey,
    intermediate_hash: hashes.HashAlgorithm,
    leaf_hash: hashes.HashAlgorithm,
    lifetime: timedelta,
) -> tuple[x509.Certificate, x509.Certificate]:
    """Return a leaf and its intermediate under a home root, with chosen weaknesses."""
    intermediate = make_certificate(
        subject=name("Weak Intermediate"),
        key=intermediate_key,
        issuer=material.root_certificate,
        issuer_key=material.root_key,
        not_before=now - DAY,
        not_after=now + 3650 * DAY,
        extensions=authority_extensions(0),
        algorithm=intermediate_hash,
    )
    leaf = make_certificate(
        subject=name("nas"),
        key=leaf_key,
        issuer=intermediate,
        issuer_key=intermediate_key,
        not_before=now - DAY,
        not_after=now - DAY + lifetime,
        extensions=server_extensions("nas.home.arpa"),
        algorithm=leaf_hash,
    )
    return leaf, intermediate


def test_policy_findings_of_the_leaf(
    ec_material: AuthorityMaterial,
    private_keys: dict[KeyAlgorithm, PrivateKey],
    rsa_1024: rsa.RSAPrivateKey,
    leaf_key: PrivateKey,
    home_trust: TrustBundle,
    now: datetime,
    policy: Policy,
) -> None:
    """A weak key, a SHA-1 signature and a long life of the leaf are findings."""
    strong = ec.generate_private_key(ec.SECP256R1())
    long_lived, intermediate = weak_chain(
        ec_material,
        leaf_key,
        now,
        intermediate_key=strong,
        intermediate_hash=hashes.SHA256(),
        leaf_hash=hashes.SHA256(),
        lifetime=7300 * DAY,
    )
    presented = [long_lived, intermediate]
    assert assess(presented, home_trust, now, "nas.home.arpa").reasons == ()
    assert assess(presented, home_trust, now, "nas.home.arpa", policy).reasons == (
        "lifetime_too_long",
    )

    weak, intermediate = weak_chain(
        ec_material,
        rsa_1024,
        now,
        intermediate_key=private_keys[KeyAlgorithm.RSA_2048],
        intermediate_hash=hashes.SHA256(),
        leaf_hash=SHA1,
        lifetime=90 * DAY,
    )
    result = assess([weak, intermediate], home_trust, now, "nas.home.arpa", policy)
    # The WebPKI profile refuses the RSA-1024 key and the SHA-1 signature too.
    assert result.reasons == (REASON_UNTRUSTED_CHAIN, "weak_key", "sha1_signature")


def test_policy_findings_above_the_leaf(
    private_keys: dict[KeyAlgorithm, PrivateKey],
    leaf_key: PrivateKey,
    rsa_1024: rsa.RSAPrivateKey,
    now: datetime,
    policy: Policy,
) -> None:
    """An intermediate's weak key or SHA-1 signature counts; a root's own does not."""
    root_key = private_keys[KeyAlgorithm.RSA_2048]
    root = make_certificate(
        subject=name("Old Root"),
        key=root_key,
        issuer=None,
        issuer_key=root_key,
        not_before=now - DAY,
        not_after=now + 3650 * DAY,
        extensions=authority_extensions(),
        algorithm=SHA1,
    )
    material = AuthorityMaterial(
        root_certificate=root,
        root_key=root_key,
        intermediate_certificate=root,
        intermediate_key=root_key,
    )
    trust = TrustBundle.from_certificates([root])
    strong = ec.generate_private_key(ec.SECP256R1())

    fine, intermediate = weak_chain(
        material,
        leaf_key,
        now,
        intermediate_key=strong,
        intermediate_hash=hashes.SHA256(),
        leaf_hash=hashes.SHA256(),
        lifetime=90 * DAY,
    )
    assert (
        assess([fine, intermediate], trust, now, "nas.home.arpa", policy).reasons == ()
    )

    sha1, intermediate = weak_chain(
        material,
        leaf_key,
        now,
        intermediate_key=strong,
        intermediate_hash=SHA1,
        leaf_hash=hashes.SHA256(),
        lifetime=90 * DAY,
    )
    assert assess(
        [sha1, intermediate], trust, now, "nas.home.arpa", policy
    ).reasons == (
        REASON_UNTRUSTED_CHAIN,
        "sha1_signature",
    )

    weak, intermediate = weak_chain(
        material,
        leaf_key,
        now,
        intermediate_key=rsa_1024,
        intermediate_hash=hashes.SHA256(),
        leaf_hash=hashes.SHA256(),
        lifetime=90 * DAY,
    )
    assert assess(
        [weak, intermediate], trust, now, "nas.home.arpa", policy
    ).reasons == (
        REASON_UNTRUSTED_CHAIN,
        "weak_key",
    )


def test_untidy_presented_chain(
    authority: Authority,
    leaf: x509.Certificate,
    neighbour: AuthorityMaterial,
    home_trust: TrustBundle,
    now: datetime,
    policy: Policy,
) -> None:
    """The root, duplicates, strangers and junk in any order are tolerated."""
    presented = [
        leaf,
        authority.root,
        unreadable(neighbour.intermediate_certificate, neighbour.root_key),
        neighbour.root_certificate,
        authority.intermediate,
        authority.intermediate,
        leaf,
    ]
    result = assess(presented, home_trust, now, "nas.home.arpa", policy)
    assert result.reasons == ()
    assert result.path == (leaf, authority.intermediate, authority.root)
    assert result.completed_from == ()


def test_unreadable_certificates(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    home_trust: TrustBundle,
    now: datetime,
    policy: Policy,
) -> None:
    """A leaf or a needed issuer whose extensions do not parse is a reason."""
    broken_leaf = unreadable(leaf, ec_material.intermediate_key)
    result = assess(
        [broken_leaf, authority.intermediate], home_trust, now, "nas.home.arpa", policy
    )
    assert result.reasons == (REASON_UNTRUSTED_CHAIN,)
    assert result.path == (broken_leaf,)
    assert result.detail is not None
    assert result.detail.startswith("unreadable certificate CN=NAS")

    broken = unreadable(authority.intermediate, ec_material.root_key)
    root_only = TrustBundle(anchors=(authority.root,))
    result = assess([leaf, broken], root_only, now, "nas.home.arpa", policy)
    assert result.reasons == (REASON_UNTRUSTED_CHAIN,)
    assert result.path == (leaf, broken, authority.root)
    assert result.detail is not None
    assert result.detail.startswith("unreadable certificate CN=Test Home Intermediate")


def test_nothing_presented(home_trust: TrustBundle, now: datetime) -> None:
    """An empty chain is a caller's mistake, told as an invalid certificate."""
    with pytest.raises(InvalidCertificateError):
        assess([], home_trust, now)


def test_reason_order(
    private_keys: dict[KeyAlgorithm, PrivateKey],
    rsa_1024: rsa.RSAPrivateKey,
    home_trust: TrustBundle,
    now: datetime,
    policy: Policy,
) -> None:
    """Many findings at once come in their stable order."""
    issuer_key = private_keys[KeyAlgorithm.RSA_2048]
    issuer = make_certificate(
        subject=name("Old Device CA"),
        key=issuer_key,
        issuer=None,
        issuer_key=issuer_key,
        not_before=now - 7300 * DAY,
        not_after=now + DAY,
        extensions=authority_extensions(),
    )
    leaf = make_certificate(
        subject=name("old"),
        key=rsa_1024,
        issuer=issuer,
        issuer_key=issuer_key,
        not_before=now - 7300 * DAY,
        not_after=now - DAY,
        extensions=server_extensions("old.lan"),
        algorithm=SHA1,
    )
    result = assess([leaf], home_trust, now, "new.lan", policy)
    assert result.reasons == (
        REASON_EXPIRED,
        REASON_HOSTNAME_MISMATCH,
        REASON_UNKNOWN_ISSUER,
        "weak_key",
        "sha1_signature",
        "lifetime_too_long",
    )


def test_eddsa_chain(
    materials: Materials,
    private_keys: dict[KeyAlgorithm, PrivateKey],
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """An Ed25519 home authority's chain is judged like any other."""
    material = materials(KeyAlgorithm.ED25519)
    authority = make_authority(material, make_policy())
    leaf = authority.issue(
        issue_request(private_keys[KeyAlgorithm.ED25519].public_key()), now
    )
    trust = TrustBundle.from_certificates(authority.chain)
    full = assess([leaf, authority.intermediate], trust, now, "nas.home.arpa")
    assert full.reasons == ()
    assert full.path == (leaf, authority.intermediate, authority.root)

    alone = assess([leaf], trust, now, "nas.home.arpa")
    assert alone.reasons == (REASON_MISSING_INTERMEDIATE,)
    assert alone.completed_from == (authority.intermediate,)
    assert assess([leaf], trust, now, "other.lan").reasons == (
        REASON_HOSTNAME_MISMATCH,
        REASON_MISSING_INTERMEDIATE,
    )
    accepted, output = openssl_verify(
        openssl,
        leaf,
        anchors=[authority.root],
        untrusted=[authority.intermediate],
        hostname="nas.home.arpa",
    )
    assert accepted, output


def test_system_trust(leaf: x509.Certificate, now: datetime) -> None:
    """The system roots load once, all self-signed, and do not trust a home leaf."""
    system_trust.cache_clear()
    trust = system_trust()
    assert len(trust.anchors) > 50
    assert trust.intermediates == ()
    assert all(anchor.subject == anchor.issuer for anchor in trust.anchors)
    assert system_trust() is trust
    assert assess([leaf], trust, now).reasons == (REASON_UNKNOWN_ISSUER,)


def test_system_trust_without_certifi(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without certifi, the bundle OpenSSL was built with is read, if any."""
    with_certifi = _system_bundle_path()
    monkeypatch.setitem(sys.modules, "certifi", None)
    path = _system_bundle_path()
    assert path is not None
    assert path != with_certifi
    assert len(_bundle_at(path).anchors) > 50

    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/bundle.pem")
    assert _system_bundle_path() is None


def test_bundle_that_cannot_be_read(tmp_path: Path) -> None:
    """No bundle, or one that cannot be read, trusts nothing rather than failing."""
    assert _bundle_at(None) == TrustBundle(anchors=())
    assert _bundle_at(tmp_path) == TrustBundle(anchors=())
    assert _bundle_at(tmp_path / "missing.pem") == TrustBundle(anchors=())


def test_pem_bundle_with_a_broken_block(authority: Authority, tmp_path: Path) -> None:
    """A block that does not parse is skipped, the others are kept."""
    good = authority.root.public_bytes(serialization.Encoding.PEM)
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    path = tmp_path / "bundle.pem"
    path.write_bytes(b"# roots\n" + broken + good)
    assert _bundle_at(path) == TrustBundle(anchors=(authority.root,))


def test_long_and_looping_chains(
    leaf_key: PrivateKey, home_trust: TrustBundle, now: datetime
) -> None:
    """Linking stops at the path length limit and never goes round in circles."""
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(12)]
    top = make_certificate(
        subject=name("CA 0"),
        key=keys[0],
        issuer=None,
        issuer_key=keys[0],
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=authority_extensions(),
    )
    chain = [top]
    for index, key in enumerate(keys[1:], start=1):
        chain.append(
            make_certificate(
                subject=name(f"CA {index}"),
                key=key,
                issuer=chain[-1],
                issuer_key=keys[index - 1],
                not_before=now - DAY,
                not_after=now + DAY,
                extensions=authority_extensions(),
            )
        )
    leaf = make_certificate(
        subject=name("nas"),
        key=leaf_key,
        issuer=chain[-1],
        issuer_key=keys[-1],
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=server_extensions("nas.lan"),
    )
    result = assess([leaf, *chain], home_trust, now)
    assert result.reasons == (REASON_UNKNOWN_ISSUER,)
    assert len(result.path) == MAX_PATH_LENGTH + 1
    assert result.path[:3] == (leaf, chain[-1], chain[-2])

    # CA 11 and a second CA 10 issued by CA 11 sign each other.
    looping = make_certificate(
        subject=name("CA 10"),
        key=keys[10],
        issuer=chain[11],
        issuer_key=keys[11],
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=authority_extensions(),
    )
    result = assess([leaf, chain[11], looping], home_trust, now)
    assert result.reasons == (REASON_UNKNOWN_ISSUER,)
    assert result.path == (leaf, chain[11], looping)


def test_issued_by_any_signature(
    dsa_key: dsa.DSAPrivateKey,
    private_keys: dict[KeyAlgorithm, PrivateKey],
    leaf_key: PrivateKey,
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """Who signed is told for DSA, RSA-PSS and SHA-1, and never for a key that cannot."""
    rsa_key = private_keys[KeyAlgorithm.RSA_2048]
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name("signed"))
        .issuer_name(name("signer"))
        .public_key(leaf_key.public_key())
        .serial_number(9)
        .not_valid_before(now)
        .not_valid_after(now + DAY)
    )

    def signer(key: object) -> x509.Certificate:
        """Return a certificate named "signer" for a public key."""
        return (
            x509.CertificateBuilder()
            .subject_name(name("signer"))
            .issuer_name(name("signer"))
            .public_key(key)  # type: ignore[arg-type]
            .serial_number(8)
            .not_valid_before(now)
            .not_valid_after(now + DAY)
            .sign(leaf_key, hashes.SHA256())
        )

    by_dsa = builder.sign(dsa_key, hashes.SHA256())
    assert issued_by(by_dsa, signer(dsa_key.public_key()))
    assert not issued_by(by_dsa, signer(leaf_key.public_key()))

    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    by_pss = builder.sign(rsa_key, hashes.SHA256(), rsa_padding=pss)
    assert issued_by(by_pss, signer(rsa_key.public_key()))
    by_sha1 = with_sha1(builder.sign(rsa_key, hashes.SHA256()), rsa_key)
    assert issued_by(by_sha1, signer(rsa_key.public_key()))

    exchange = x25519.X25519PrivateKey.generate().public_key()
    assert not issued_by(by_dsa, signer(exchange))

    openssl.ok(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-sha1",
        "-keyout",
        "old.key",
        "-subj",
        "/CN=old camera",
        "-out",
        "old.pem",
    )
    old = x509.load_pem_x509_certificate((openssl.directory / "old.pem").read_bytes())
    assert old.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.1"
    assert issued_by(old, old)


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.ED25519])
def test_crowd_of_look_alike_authorities(
    private_keys: dict[KeyAlgorithm, PrivateKey],
    home_trust: TrustBundle,
    now: datetime,
    algorithm: KeyAlgorithm,
) -> None:
    """Many certificates of one name and key are each tried once, not in every order."""
    key = private_keys[algorithm]
    crowd = [
        build_certificate(
            subject=name("Look-alike CA"),
            public_key=key.public_key(),
            issuer=name("Look-alike CA"),
            issuer_key=key,
            not_before=now - DAY,
            not_after=now + DAY,
            extensions=authority_extensions(),
            serial_number=serial,
        )
        for serial in range(1, 41)
    ]
    leaf = build_certificate(
        subject=name("nas"),
        public_key=key.public_key(),
        issuer=name("Look-alike CA"),
        issuer_key=key,
        not_before=now - DAY,
        not_after=now + DAY,
        extensions=server_extensions("nas.lan"),
    )
    result = assess([leaf, *crowd], home_trust, now, "nas.lan")
    assert result.reasons == (REASON_UNKNOWN_ISSUER,)
    assert result.path == (leaf, crowd[0])
