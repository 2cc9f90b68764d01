"""The bundled home authority: a root, an intermediate, and leaf issuance."""

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
import secrets
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
)

from .errors import (
    AuthorityExpiredError,
    ChainError,
    InvalidNameError,
    PkiError,
    ValidityError,
)
from .keys import (
    KeyAlgorithm,
    PrivateKey,
    PrivateKeySigner,
    PublicKey,
    SigningKey,
    generate_private_key,
)
from .policy import (
    Policy,
    check_names,
    check_public_key,
    check_validity_days,
    host_in_common_name,
    normalize_dns_name,
)

SERIAL_NUMBER_BITS = 127
CA_BACKDATE = timedelta(hours=1)
LEAF_BACKDATE = timedelta(minutes=5)
# RFC 5280 Appendix A.1: ub-common-name and ub-organization-name.
MAX_NAME_ATTRIBUTE_LENGTH = 64
ROOT_SUFFIX = " Root CA"
INTERMEDIATE_SUFFIX = " Intermediate CA"

# RFC 6761 §6.4: "invalid" never resolves. Permitting only it constrains the DNS
# name type when a policy lists no domain, so the authority vouches for no host.
_NO_DNS_SUBTREE = x509.DNSName("invalid")
_NO_IP_SUBTREES = (
    x509.IPAddress(IPv4Network("0.0.0.0/0")),
    x509.IPAddress(IPv6Network("::/0")),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class AuthoritySettings:
    """How to create a home authority."""

    name: str
    key_algorithm: KeyAlgorithm
    root_validity_days: int
    intermediate_validity_days: int
    policy: Policy


@dataclass(frozen=True, kw_only=True, slots=True)
class AuthorityMaterial:
    """The certificates and keys of a freshly created authority."""

    root_certificate: x509.Certificate
    root_key: PrivateKey = field(repr=False)
    intermediate_certificate: x509.Certificate
    intermediate_key: PrivateKey = field(repr=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class IssueRequest:
    """What a leaf certificate should say."""

    common_name: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[IPv4Address | IPv6Address, ...]
    public_key: PublicKey
    validity_days: int
    serial_number: int
    server_auth: bool = True
    client_auth: bool = True


class Issuer(Protocol):
    """Anything that issues leaf certificates: this authority or an external one."""

    def issue(self, request: IssueRequest, now: datetime) -> x509.Certificate:
        """Issue a certificate for a request."""

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Return the issuing authority first and the root last."""


def new_serial_number(used: Container[int]) -> int:
    """Draw a random positive serial number that is not already in use."""
    # 127 bits make a positive DER integer of at most 16 octets, inside the 20 of
    # RFC 5280 §4.1.2.2, with far more than the 64 random bits the CA/Browser Forum
    # baseline requirements ask for.
    while True:
        serial = secrets.randbits(SERIAL_NUMBER_BITS)
        if serial and serial not in used:
            return serial


def create_authority(settings: AuthoritySettings, now: datetime) -> AuthorityMaterial:
    """Create a self-signed root and an intermediate it signs."""
    name = settings.name.strip()
    if not name:
        raise InvalidNameError(settings.name)
    for days in (settings.root_validity_days, settings.intermediate_validity_days):
        if days < 1:
            raise ValidityError(str(days))

    constraints = _name_constraints(settings.policy)
    root_key = generate_private_key(settings.key_algorithm)
    root_name = _authority_name(name, ROOT_SUFFIX)
    root_builder = _authority_builder(
        subject=root_name,
        issuer=root_name,
        public_key=root_key.public_key(),
        not_before=now - CA_BACKDATE,
        not_after=now + timedelta(days=settings.root_validity_days),
        path_length=1,
        constraints=constraints,
    )
    root = PrivateKeySigner(root_key).sign_certificate(root_builder)

    intermediate_key = generate_private_key(settings.key_algorithm)
    intermediate_builder = _authority_builder(
        subject=_authority_name(name, INTERMEDIATE_SUFFIX),
        issuer=root_name,
        public_key=intermediate_key.public_key(),
        not_before=now - CA_BACKDATE,
        not_after=min(
            now + timedelta(days=settings.intermediate_validity_days),
            root.not_valid_after_utc,
        ),
        path_length=0,
        constraints=constraints,
    ).add_extension(authority_key_identifier(root), critical=False)
    intermediate = PrivateKeySigner(root_key).sign_certificate(intermediate_builder)

    return AuthorityMaterial(
        root_certificate=root,
        root_key=root_key,
        intermediate_certificate=intermediate,
        intermediate_key=intermediate_key,
    )


def renew_intermediate(
    *,
    root: x509.Certificate,
    root_key: SigningKey,
    intermediate: x509.Certificate,
    validity_days: int,
    now: datetime,
) -> x509.Certificate:
    """Certify the intermediate's key again under the same root, to a later end.

    Subject, key and name constraints stay as they were, so every leaf the
    earlier certificate vouched for chains to the new one too, and one CRL
    and one OCSP responder go on answering for all of them.
    """
    if validity_days < 1:
        raise ValidityError(str(validity_days))
    if root_key.public_key() != root.public_key():
        raise ChainError("the key is not the root's")
    try:
        intermediate.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as err:
        raise ChainError("the intermediate was not signed by this root") from err
    not_after = min(now + timedelta(days=validity_days), root.not_valid_after_utc)
    if not_after <= intermediate.not_valid_after_utc:
        raise AuthorityExpiredError("the root ends before a new intermediate would")

    constraints = intermediate.extensions.get_extension_for_class(
        x509.NameConstraints
    ).value
    public_key = intermediate.public_key()
    if not isinstance(
        public_key,
        (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey),
    ):
        raise ChainError("the intermediate's key type is not supported")
    builder = _authority_builder(
        subject=intermediate.subject,
        issuer=root.subject,
        public_key=public_key,
        not_before=now - CA_BACKDATE,
        not_after=not_after,
        path_length=0,
        constraints=constraints,
    ).add_extension(authority_key_identifier(root), critical=False)
    return root_key.sign_certificate(builder)


def _authority_name(name: str, suffix: str) -> x509.Name:
    """Build an authority's subject, shortening the name to fit the bounds."""
    common_name = name[: MAX_NAME_ATTRIBUTE_LENGTH - len(suffix)].rstrip() + suffix
    # Most general attribute first, so RFC 4514 prints "CN=... Root CA,O=...".
    return x509.Name(
        [
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, name[:MAX_NAME_ATTRIBUTE_LENGTH]
            ),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _authority_builder(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    not_before: datetime,
    not_after: datetime,
    path_length: int,
    constraints: x509.NameConstraints,
) -> x509.CertificateBuilder:
    """Start an authority certificate with the extensions root and intermediate share."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(new_serial_number(()))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=path_length), critical=True
        )
        .add_extension(
            _key_usage(digital_signature=True, key_cert_sign=True), critical=True
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
        )
        .add_extension(constraints, critical=True)
    )


def _name_constraints(policy: Policy) -> x509.NameConstraints:
    """Turn the policy's permitted names into RFC 5280 §4.2.1.10 name constraints."""
    permitted: list[x509.GeneralName] = [
        x509.DNSName(domain) for domain in policy.permitted_dns_domains
    ] or [_NO_DNS_SUBTREE]
    permitted.extend(x509.IPAddress(network) for network in policy.permitted_ip_ranges)
    # An empty IP list must exclude every address: a name type with no permitted
    # subtree is otherwise unconstrained.
    excluded = None if policy.permitted_ip_ranges else list(_NO_IP_SUBTREES)
    return x509.NameConstraints(
        permitted_subtrees=permitted, excluded_subtrees=excluded
    )


def _key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
) -> x509.KeyUsage:
    """Build a key usage extension; an authority signs certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """Point at an issuer's key by its subject key identifier."""
    try:
        identifier = issuer.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
    except x509.ExtensionNotFound:
        # RFC 5280 §4.2.1.2 method (1), the one our own certificates use.
        identifier = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier)


class Authority:
    """The bundled home authority, issuing from its intermediate."""

    def __init__(
        self,
        *,
        root: x509.Certificate,
        intermediate: x509.Certificate,
        signing_key: SigningKey,
        policy: Policy,
        crl_url: str | None = None,
        ocsp_url: str | None = None,
        ca_issuers_url: str | None = None,
    ) -> None:
        """Hold the certificates, the intermediate's signing key and the policy."""
        self._root = root
        self._intermediate = intermediate
        self._signing_key = signing_key
        self._policy = policy
        self._crl_url = crl_url
        self._ocsp_url = ocsp_url
        self._ca_issuers_url = ca_issuers_url

    @property
    def root(self) -> x509.Certificate:
        """Return the root certificate."""
        return self._root

    @property
    def intermediate(self) -> x509.Certificate:
        """Return the intermediate certificate, the issuer of leaves."""
        return self._intermediate

    @property
    def policy(self) -> Policy:
        """Return the policy every request is checked against."""
        return self._policy

    @property
    def signing_key(self) -> SigningKey:
        """Return the intermediate's signing key."""
        return self._signing_key

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Return the intermediate, then the root."""
        return (self._intermediate, self._root)

    def issue(self, request: IssueRequest, now: datetime) -> x509.Certificate:
        """Check a request against the policy and issue its leaf certificate."""
        check_validity_days(self._policy, request.validity_days)
        check_public_key(self._policy, request.public_key)
        dns_names = tuple(
            dict.fromkeys(normalize_dns_name(name) for name in request.dns_names)
        )
        addresses = tuple(dict.fromkeys(request.ip_addresses))
        check_names(self._policy, dns_names, addresses)
        self._check_common_name(request.common_name)
        if not request.server_auth and not request.client_auth:
            raise PkiError("no extended key usage")

        not_after = min(
            now + timedelta(days=request.validity_days),
            self._intermediate.not_valid_after_utc,
        )
        if not_after <= now:
            raise AuthorityExpiredError("the intermediate has expired")

        builder = (
            x509.CertificateBuilder()
            .subject_name(_leaf_subject(request.common_name, dns_names, addresses))
            .issuer_name(self._intermediate.subject)
            .public_key(request.public_key)
            .serial_number(request.serial_number)
            .not_valid_before(now - LEAF_BACKDATE)
            .not_valid_after(not_after)
            .add_extension(
                x509.BasicConstraints(ca=False, path_length=None), critical=True
            )
            .add_extension(
                _key_usage(
                    digital_signature=True,
                    key_encipherment=isinstance(request.public_key, rsa.RSAPublicKey),
                ),
                critical=True,
            )
            .add_extension(_extended_key_usage(request), critical=False)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        *(x509.DNSName(name) for name in dns_names),
                        *(x509.IPAddress(address) for address in addresses),
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(request.public_key),
                critical=False,
            )
            .add_extension(authority_key_identifier(self._intermediate), critical=False)
        )
        for extension in self._locator_extensions():
            builder = builder.add_extension(extension, critical=False)
        return self._signing_key.sign_certificate(builder)

    def _check_common_name(self, common_name: str) -> None:
        """Hold a common name that names a host to the same policy as the SAN."""
        # A verifier may fall back to a host name in the common name when the SAN
        # has none of that type, so it must be permitted as well.
        host = host_in_common_name(common_name)
        if isinstance(host, str):
            check_names(self._policy, (host,), ())
        elif host is not None:
            check_names(self._policy, (), (host,))

    def _locator_extensions(self) -> list[x509.ExtensionType]:
        """Build the CRL distribution point and authority information access."""
        extensions: list[x509.ExtensionType] = []
        if self._crl_url is not None:
            extensions.append(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(self._crl_url)],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                )
            )
        descriptions = [
            x509.AccessDescription(method, x509.UniformResourceIdentifier(url))
            for method, url in (
                (AuthorityInformationAccessOID.OCSP, self._ocsp_url),
                (AuthorityInformationAccessOID.CA_ISSUERS, self._ca_issuers_url),
            )
            if url is not None
        ]
        if descriptions:
            extensions.append(x509.AuthorityInformationAccess(descriptions))
        return extensions


def _leaf_subject(
    common_name: str,
    dns_names: tuple[str, ...],
    addresses: tuple[IPv4Address | IPv6Address, ...],
) -> x509.Name:
    """Build a leaf's subject, falling back to its first name for an empty one."""
    value = common_name.strip() or next(
        iter((*dns_names, *(str(address) for address in addresses)))
    )
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, value[:MAX_NAME_ATTRIBUTE_LENGTH])]
    )


def _extended_key_usage(request: IssueRequest) -> x509.ExtendedKeyUsage:
    """List the TLS roles the request asks for."""
    usages = []
    if request.server_auth:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if request.client_auth:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    return x509.ExtendedKeyUsage(usages)
