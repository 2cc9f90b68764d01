"""What the authority may sign: names, key types and sizes, lifetimes."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
import re

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .errors import (
    CsrSignatureError,
    InvalidCsrError,
    InvalidNameError,
    NameNotPermittedError,
    ValidityError,
    WeakKeyError,
)
from .inspect import common_name_of
from .keys import PublicKey, public_key_description

type IPAddressValue = IPv4Address | IPv6Address
type IPNetworkValue = IPv4Network | IPv6Network

FINDING_WEAK_KEY = "weak_key"
FINDING_SHA1_SIGNATURE = "sha1_signature"
FINDING_LIFETIME_TOO_LONG = "lifetime_too_long"

# RFC 1035 §2.3.4 and RFC 1123 §2.1: letters, digits and inner hyphens, 1 to 63
# characters a label, 253 for the whole name in text form.
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_NAME_LENGTH = 253
_WILDCARD_PREFIX = "*."


@dataclass(frozen=True, kw_only=True, slots=True)
class Policy:
    """The names, keys and lifetimes an authority accepts."""

    permitted_dns_domains: tuple[str, ...]
    permitted_ip_ranges: tuple[IPv4Network | IPv6Network, ...]
    minimum_rsa_bits: int = 2048
    allowed_curves: frozenset[str] = frozenset({"secp256r1", "secp384r1", "secp521r1"})
    max_validity_days: int = 398

    def __post_init__(self) -> None:
        """Normalise the permitted domains, so comparisons are plain string ones."""
        # The dataclass is frozen: this is the one place its fields are settled.
        object.__setattr__(
            self,
            "permitted_dns_domains",
            tuple(dict.fromkeys(map(normalize_domain, self.permitted_dns_domains))),
        )
        object.__setattr__(
            self, "permitted_ip_ranges", tuple(dict.fromkeys(self.permitted_ip_ranges))
        )
        object.__setattr__(self, "allowed_curves", frozenset(self.allowed_curves))


@dataclass(frozen=True, kw_only=True, slots=True)
class CsrRequest:
    """The names and public key a certificate signing request asks for."""

    common_name: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[IPv4Address | IPv6Address, ...]
    public_key: PublicKey


def normalize_dns_name(value: str) -> str:
    """Return a DNS name in its canonical form, allowing one leading wildcard."""
    return _normalize(value, allow_wildcard=True)


def normalize_domain(value: str) -> str:
    """Return a constraint domain, such as "home.arpa" or "lan", in canonical form."""
    return _normalize(value, allow_wildcard=False)


def _normalize(value: str, *, allow_wildcard: bool) -> str:
    """Lower-case, IDNA-encode and check a DNS name."""
    name = value.strip().lower().removesuffix(".")
    prefix = ""
    if allow_wildcard and name.startswith(_WILDCARD_PREFIX):
        prefix, name = _WILDCARD_PREFIX, name.removeprefix(_WILDCARD_PREFIX)

    labels = [_to_a_label(label, value) for label in name.split(".")]
    if not all(_LDH_LABEL.fullmatch(label) for label in labels):
        raise InvalidNameError(value)
    # RFC 3696 §2: a top-level label is never all digits, which also keeps a bare
    # IPv4 address from passing as a DNS name.
    if labels[-1].isdigit():
        raise InvalidNameError(value)

    normalized = prefix + ".".join(labels)
    if len(normalized) > _MAX_NAME_LENGTH:
        raise InvalidNameError(value)
    return normalized


def _to_a_label(label: str, value: str) -> str:
    """Encode an internationalised label as its ASCII-compatible A-label."""
    if label.isascii():
        return label
    try:
        return label.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidNameError(value) from None


def parse_ip_address(value: str) -> IPv4Address | IPv6Address:
    """Parse one IPv4 or IPv6 address."""
    try:
        address = ip_address(value.strip())
    except ValueError:
        raise InvalidNameError(value) from None
    # A zone index only means something on the host that wrote it.
    if isinstance(address, IPv6Address) and address.scope_id is not None:
        raise InvalidNameError(value)
    return address


def parse_ip_ranges(values: Iterable[str]) -> tuple[IPv4Network | IPv6Network, ...]:
    """Parse networks such as "192.168.0.0/16", refusing host bits after the prefix."""
    ranges: list[IPNetworkValue] = []
    for value in values:
        try:
            ranges.append(ip_network(value.strip(), strict=True))
        except ValueError:
            raise InvalidNameError(value) from None
    return tuple(ranges)


def dns_name_permitted(policy: Policy, name: str) -> bool:
    """Tell whether a DNS name lies inside a permitted domain."""
    try:
        normalized = normalize_dns_name(name)
    except InvalidNameError:
        return False
    # RFC 5280 §4.2.1.10: a name is inside a domain when it equals the domain or
    # gains labels on the left; a wildcard is judged by the name it stands under.
    base = normalized.removeprefix(_WILDCARD_PREFIX)
    return any(
        base == domain or base.endswith(f".{domain}")
        for domain in policy.permitted_dns_domains
    )


def ip_permitted(policy: Policy, address: IPv4Address | IPv6Address) -> bool:
    """Tell whether an IP address lies inside a permitted network."""
    return any(
        address.version == network.version and address in network
        for network in policy.permitted_ip_ranges
    )


def check_names(
    policy: Policy,
    dns_names: Iterable[str],
    ip_addresses: Iterable[IPv4Address | IPv6Address],
) -> None:
    """Refuse an empty name set, a malformed name, or a name outside the policy."""
    names = list(dns_names)
    addresses = list(ip_addresses)
    if not names and not addresses:
        raise InvalidNameError("no names")
    for name in names:
        normalize_dns_name(name)
        if not dns_name_permitted(policy, name):
            raise NameNotPermittedError(name)
    for address in addresses:
        if not ip_permitted(policy, address):
            raise NameNotPermittedError(str(address))


def permitted_host(policy: Policy, value: str) -> str:
    """Return a DNS name or IP address in its normal form, if the policy permits it.

    Raise InvalidNameError when it is neither, NameNotPermittedError when it
    lies outside the policy.
    """
    try:
        address = parse_ip_address(value)
    except InvalidNameError:
        name = normalize_dns_name(value)
        check_names(policy, (name,), ())
        return name
    check_names(policy, (), (address,))
    return str(address)


def check_public_key(policy: Policy, key: object) -> None:
    """Refuse a public key whose type or size the policy does not accept."""
    _accepted_public_key(policy, key)


def _accepted_public_key(policy: Policy, key: object) -> PublicKey:
    """Return a public key the policy accepts, narrowed to a supported type."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size >= policy.minimum_rsa_bits:
            return key
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name in policy.allowed_curves:
            return key
    elif isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise WeakKeyError(public_key_description(key))


def check_validity_days(policy: Policy, days: int) -> None:
    """Refuse a validity period shorter than a day or longer than the policy's."""
    if not 1 <= days <= policy.max_validity_days:
        raise ValidityError(str(days))


def check_csr(policy: Policy, data: str | bytes) -> CsrRequest:
    """Parse a certificate signing request and check it against the policy."""
    csr = _load_csr(data.encode() if isinstance(data, str) else data)
    try:
        signature_valid = csr.is_signature_valid
        public_key = csr.public_key()
        san = _csr_subject_alternative_name(csr)
    except (ValueError, x509.DuplicateExtension, UnsupportedAlgorithm):
        raise InvalidCsrError("unreadable request") from None
    if not signature_valid:
        raise CsrSignatureError("signature does not verify")

    dns_names = [normalize_dns_name(name) for name in _san_dns_names(san)]
    addresses = _san_ip_addresses(san)
    common_name = common_name_of(csr.subject)
    host = None if common_name is None else host_in_common_name(common_name)
    if isinstance(host, str):
        dns_names.append(host)
    elif host is not None:
        addresses.append(host)

    accepted_key = _accepted_public_key(policy, public_key)
    check_names(policy, dns_names, addresses)
    return CsrRequest(
        common_name=common_name,
        dns_names=tuple(dict.fromkeys(dns_names)),
        ip_addresses=tuple(dict.fromkeys(addresses)),
        public_key=accepted_key,
    )


def host_in_common_name(common_name: str) -> str | IPv4Address | IPv6Address | None:
    """Return the host a common name names, or None for a friendly name."""
    try:
        return parse_ip_address(common_name)
    except InvalidNameError:
        pass
    try:
        name = normalize_dns_name(common_name)
    except InvalidNameError:
        return None
    # Like OpenSSL's name constraint check, a single label is taken as a label for
    # people ("mosquitto"), not as a host name.
    return name if "." in name else None


def _load_csr(raw: bytes) -> x509.CertificateSigningRequest:
    """Load a request from PEM, or from DER when the data is not PEM."""
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_csr(raw)
        return x509.load_der_x509_csr(raw)
    except ValueError:
        raise InvalidCsrError("unreadable request") from None


def _csr_subject_alternative_name(
    csr: x509.CertificateSigningRequest,
) -> x509.SubjectAlternativeName | None:
    """Return the request's subject alternative names, if it asks for any."""
    try:
        return csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _san_dns_names(san: x509.SubjectAlternativeName | None) -> list[str]:
    """Return the DNS names of a subject alternative name extension."""
    return [] if san is None else san.get_values_for_type(x509.DNSName)


def _san_ip_addresses(san: x509.SubjectAlternativeName | None) -> list[IPAddressValue]:
    """Return the IP addresses, not networks, of a subject alternative name extension."""
    if san is None:
        return []
    return [
        value
        for value in san.get_values_for_type(x509.IPAddress)
        if isinstance(value, IPv4Address | IPv6Address)
    ]


def certificate_findings(
    policy: Policy, certificate: x509.Certificate
) -> tuple[str, ...]:
    """List what makes a certificate fall short of the policy, for watched ones."""
    findings: list[str] = []
    if not _key_acceptable(policy, certificate):
        findings.append(FINDING_WEAK_KEY)
    if _weak_signature_hash(certificate):
        findings.append(FINDING_SHA1_SIGNATURE)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    if not _is_ca(certificate) and lifetime > timedelta(days=policy.max_validity_days):
        findings.append(FINDING_LIFETIME_TOO_LONG)
    return tuple(findings)


def _key_acceptable(policy: Policy, certificate: x509.Certificate) -> bool:
    """Tell whether a certificate's public key passes the policy."""
    try:
        check_public_key(policy, certificate.public_key())
    except (WeakKeyError, UnsupportedAlgorithm):
        return False
    return True


def _weak_signature_hash(certificate: x509.Certificate) -> bool:
    """Tell whether a certificate is signed over SHA-1 or MD5."""
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return False
    return isinstance(algorithm, hashes.SHA1 | hashes.MD5)


def _is_ca(certificate: x509.Certificate) -> bool:
    """Tell whether a certificate's basic constraints mark it as an authority."""
    try:
        constraints = certificate.extensions.get_extension_for_class(
            x509.BasicConstraints
        )
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca
