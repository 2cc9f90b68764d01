"""Certificate path validation for chains the WebPKI verifier will not take.

cryptography's verifier follows the CA/Browser Forum profile, which has no EdDSA
and refuses wildcard names under name constraints. This module validates such
paths by RFC 5280 §6.1 for what a home authority issues: signatures, validity,
basic constraints, key usage, path length, DNS and IP name constraints, extended
key usage and the subject name.
"""

from collections.abc import Sequence
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from cryptography.x509.verification import Subject

from .errors import ChainError

MAX_PATH_LENGTH = 8

_UNDERSTOOD_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.NAME_CONSTRAINTS,
    }
)


def validate_path(
    leaf: x509.Certificate,
    *,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    now: datetime,
    subject: Subject | None,
) -> list[x509.Certificate]:
    """Validate a leaf as a server for subject, or as a client when it is None."""
    path = _build_path(leaf, intermediates, roots, depth=0, tried=set())
    if path is None:
        raise ChainError("no path to a trusted root")

    for certificate in path:
        _check_time(certificate, now)
        _check_critical_extensions(certificate)
    for index, issuer in enumerate(path[1:]):
        _check_issuer(issuer, intermediates_below=index)
        _check_name_constraints(issuer, path[: index + 1])
    _check_leaf(leaf, subject)
    return path


def _build_path(
    certificate: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    depth: int,
    tried: set[x509.Certificate],
) -> list[x509.Certificate] | None:
    """Find a chain of signatures from a certificate up to a root, depth first.

    Each intermediate is tried once: certificates sharing one name and key,
    which a server may send, would otherwise be tried in every order.
    """
    for root in roots:
        if _issued_by(certificate, root):
            return [certificate, root]
    if depth >= MAX_PATH_LENGTH:
        return None
    for candidate in intermediates:
        if candidate in tried or candidate == certificate:
            continue
        if _issued_by(certificate, candidate):
            tried.add(candidate)
            rest = _build_path(
                candidate, intermediates, roots, depth=depth + 1, tried=tried
            )
            if rest is not None:
                return [certificate, *rest]
    return None


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Tell whether the issuer's name and key signed the certificate."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _check_time(certificate: x509.Certificate, now: datetime) -> None:
    """Refuse a certificate that is not yet or no longer valid."""
    if not (certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc):
        raise ChainError(
            f"outside its validity: {certificate.subject.rfc4514_string()}"
        )


def _check_critical_extensions(certificate: x509.Certificate) -> None:
    """Refuse a certificate with a critical extension this check does not know."""
    for extension in _extensions(certificate):
        if extension.critical and extension.oid not in _UNDERSTOOD_EXTENSIONS:
            raise ChainError(
                f"unknown critical extension {extension.oid.dotted_string}"
            )


def _check_issuer(issuer: x509.Certificate, *, intermediates_below: int) -> None:
    """Refuse an issuer that is no authority, may not sign, or sits too high."""
    constraints = _extension(issuer, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise ChainError(f"not an authority: {issuer.subject.rfc4514_string()}")
    # RFC 5280 §4.2.1.3: an authority signs certificates only with keyCertSign.
    usage = _extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise ChainError(f"may not sign: {issuer.subject.rfc4514_string()}")
    # RFC 5280 §4.2.1.9: pathLenConstraint counts the authorities below this one.
    if constraints.path_length is not None and (
        intermediates_below > constraints.path_length
    ):
        raise ChainError(f"path too long: {issuer.subject.rfc4514_string()}")


def _check_name_constraints(
    issuer: x509.Certificate, below: Sequence[x509.Certificate]
) -> None:
    """Refuse a name below an authority that its name constraints rule out."""
    constraints = _extension(issuer, x509.NameConstraints)
    if constraints is None:
        return
    permitted = list(constraints.permitted_subtrees or ())
    excluded = list(constraints.excluded_subtrees or ())
    if not all(
        isinstance(tree, x509.DNSName | x509.IPAddress)
        for tree in (*permitted, *excluded)
    ):
        raise ChainError("unsupported name constraint")

    for certificate in below:
        san = _extension(certificate, x509.SubjectAlternativeName)
        for name in [] if san is None else list(san):
            if isinstance(name, x509.DNSName | x509.IPAddress) and not _name_allowed(
                name, permitted, excluded
            ):
                raise ChainError(f"name not permitted: {name.value}")


def _name_allowed(
    name: x509.DNSName | x509.IPAddress,
    permitted: list[x509.GeneralName],
    excluded: list[x509.GeneralName],
) -> bool:
    """Apply RFC 5280 §4.2.1.10 to one name: within a permitted subtree, no excluded."""
    same_type = [tree for tree in permitted if type(tree) is type(name)]
    if same_type and not any(_within(name, tree) for tree in same_type):
        return False
    return not any(_within(name, tree) for tree in excluded)


def _within(name: x509.DNSName | x509.IPAddress, tree: x509.GeneralName) -> bool:
    """Tell whether a name lies inside a constraint subtree of its own type."""
    if isinstance(name, x509.DNSName) and isinstance(tree, x509.DNSName):
        host = name.value.lower().removeprefix("*.")
        domain = tree.value.lower().removeprefix(".")
        return not domain or host == domain or host.endswith(f".{domain}")
    if isinstance(name, x509.IPAddress) and isinstance(tree, x509.IPAddress):
        address = name.value
        network = tree.value
        return (
            isinstance(address, IPv4Address | IPv6Address)
            and isinstance(network, IPv4Network | IPv6Network)
            and address.version == network.version
            and address in network
        )
    return False


def _check_leaf(leaf: x509.Certificate, subject: Subject | None) -> None:
    """Refuse a leaf that is an authority, has the wrong usage, or another name."""
    constraints = _extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise ChainError("the leaf is an authority")

    wanted = (
        ExtendedKeyUsageOID.CLIENT_AUTH
        if subject is None
        else ExtendedKeyUsageOID.SERVER_AUTH
    )
    usage = _extension(leaf, x509.ExtendedKeyUsage)
    if usage is not None and not {
        wanted,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }.intersection(usage):
        raise ChainError("required extended key usage not found")

    if subject is not None and not _subject_matches(leaf, subject):
        raise ChainError(f"the leaf is not for {subject.value}")


def _subject_matches(leaf: x509.Certificate, subject: Subject) -> bool:
    """Match a subject against the leaf's alternative names, as RFC 6125 asks."""
    san = _extension(leaf, x509.SubjectAlternativeName)
    if san is None:
        return False
    if isinstance(subject, x509.IPAddress):
        return subject.value in san.get_values_for_type(x509.IPAddress)
    host = subject.value.lower()
    return any(
        host_matches(host, name.lower())
        for name in san.get_values_for_type(x509.DNSName)
    )


def host_matches(host: str, name: str) -> bool:
    """Match a host against a name whose leftmost label may be a wildcard."""
    if not name.startswith("*."):
        return host == name
    first, _, rest = host.partition(".")
    return bool(first) and rest == name[2:]


def _extensions(certificate: x509.Certificate) -> x509.Extensions:
    """Return a certificate's extensions, refusing ones that do not parse."""
    try:
        return certificate.extensions
    except (ValueError, x509.DuplicateExtension) as error:
        raise ChainError(str(error)) from None


def _extension[T: x509.ExtensionType](
    certificate: x509.Certificate, kind: type[T]
) -> T | None:
    """Return the value of one extension of a certificate, or None when absent."""
    try:
        return _extensions(certificate).get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
