"""Read certificates into plain values, and verify their chains."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    padding,
    rsa,
)
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID
from cryptography.x509.verification import (
    PolicyBuilder,
    Store,
    Subject,
    VerificationError,
)

from .errors import ChainError, InvalidCertificateError
from .keys import public_key_description
from .paths import validate_path

_SIGNATURE_ALGORITHM_NAMES = {
    SignatureAlgorithmOID.RSA_WITH_MD5: "md5WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "sha1WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA224: "sha224WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA256: "sha256WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "sha384WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "sha512WithRSAEncryption",
    SignatureAlgorithmOID.RSASSA_PSS: "rsassaPss",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "ecdsa-with-SHA1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA224: "ecdsa-with-SHA224",
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ecdsa-with-SHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ecdsa-with-SHA512",
    SignatureAlgorithmOID.DSA_WITH_SHA1: "dsa-with-SHA1",
    SignatureAlgorithmOID.DSA_WITH_SHA256: "dsa-with-SHA256",
    SignatureAlgorithmOID.ED25519: "ed25519",
    SignatureAlgorithmOID.ED448: "ed448",
}

type SignatureParameters = padding.PSS | padding.PKCS1v15 | ec.ECDSA | None

# Any host name of the wildcard's domain matches the wildcard; this label only
# serves to turn "*.nas.lan" into a name a verifier can be asked about.
_WILDCARD_STAND_IN = "wildcard"


@dataclass(frozen=True, kw_only=True, slots=True)
class CertificateInfo:
    """What a person or an automation wants to know about one certificate."""

    subject: str
    issuer: str
    common_name: str | None
    serial_number: int
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    key_type: str
    signature_algorithm: str
    fingerprint_sha256: str
    is_ca: bool
    self_signed: bool

    @property
    def serial_hex(self) -> str:
        """Return the serial number as OpenSSL prints it."""
        return serial_to_hex(self.serial_number)

    @property
    def lifetime(self) -> timedelta:
        """Return the time between not_before and not_after."""
        return self.not_after - self.not_before


def serial_to_hex(serial: int) -> str:
    """Format a serial number as upper-case hex with an even number of digits."""
    digits = f"{abs(serial):X}"
    if len(digits) % 2:
        digits = f"0{digits}"
    return f"-{digits}" if serial < 0 else digits


def inspect_certificate(certificate: x509.Certificate) -> CertificateInfo:
    """Read a certificate into a CertificateInfo."""
    try:
        extensions = certificate.extensions
    except (ValueError, x509.DuplicateExtension) as error:
        raise InvalidCertificateError(str(error)) from None
    san = _extension_value(extensions, x509.SubjectAlternativeName)
    constraints = _extension_value(extensions, x509.BasicConstraints)
    addresses = [] if san is None else san.get_values_for_type(x509.IPAddress)
    return CertificateInfo(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        common_name=common_name_of(certificate.subject),
        serial_number=certificate.serial_number,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        dns_names=() if san is None else tuple(san.get_values_for_type(x509.DNSName)),
        ip_addresses=tuple(map(str, addresses)),
        key_type=_key_type(certificate),
        signature_algorithm=_signature_algorithm_name(certificate),
        fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(":").upper(),
        is_ca=constraints is not None and constraints.ca,
        self_signed=_is_self_signed(certificate),
    )


def _extension_value[T: x509.ExtensionType](
    extensions: x509.Extensions, kind: type[T]
) -> T | None:
    """Return the value of one extension, or None when it is absent."""
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def common_name_of(name: x509.Name) -> str | None:
    """Return the first common name of a distinguished name, if it has one."""
    values = [
        attribute.value
        for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME)
        if isinstance(attribute.value, str)
    ]
    return values[0] if values else None


def _key_type(certificate: x509.Certificate) -> str:
    """Describe the certificate's public key, or name its algorithm's OID."""
    try:
        return public_key_description(certificate.public_key())
    except UnsupportedAlgorithm:
        return certificate.public_key_algorithm_oid.dotted_string


def _signature_algorithm_name(certificate: x509.Certificate) -> str:
    """Name the certificate's signature algorithm, or give its dotted OID."""
    oid = certificate.signature_algorithm_oid
    return _SIGNATURE_ALGORITHM_NAMES.get(oid, oid.dotted_string)


def _is_self_signed(certificate: x509.Certificate) -> bool:
    """Tell whether a certificate names itself as issuer and its key signed it."""
    return issued_by(certificate, certificate)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Tell whether the issuer's name and key signed a certificate, over any hash.

    cryptography's verify_directly_issued_by refuses SHA-1, which old devices
    still sign with; this only tells who signed, and leaves judging the hash to
    the policy and the verifier.
    """
    if certificate.issuer != issuer.subject:
        return False
    try:
        key = issuer.public_key()
        parameters = certificate.signature_algorithm_parameters
        algorithm = certificate.signature_hash_algorithm
    except (ValueError, UnsupportedAlgorithm):
        return False
    return signature_verifies(
        key,
        certificate.signature,
        certificate.tbs_certificate_bytes,
        parameters=parameters,
        algorithm=algorithm,
    )


def signature_verifies(
    key: object,
    signature: bytes,
    data: bytes,
    *,
    parameters: SignatureParameters,
    algorithm: hashes.HashAlgorithm | None,
) -> bool:
    """Tell whether a public key made a signature over data, whatever the hash."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            # ECDSA has no parameters but the hash, and cryptography gives none
            # at all for ecdsa-with-SHA1.
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif (
            isinstance(key, rsa.RSAPublicKey)
            and isinstance(parameters, padding.PKCS1v15 | padding.PSS)
            and algorithm is not None
        ):
            key.verify(signature, data, parameters, algorithm)
        elif isinstance(key, dsa.DSAPublicKey) and algorithm is not None:
            key.verify(signature, data, algorithm)
        else:
            return False
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def load_certificates(data: bytes | str) -> list[x509.Certificate]:
    """Load every certificate of PEM text, or the one certificate of DER data."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificates(raw)
        return [x509.load_der_x509_certificate(raw)]
    except ValueError:
        raise InvalidCertificateError("no readable certificate") from None


def certificate_to_pem(certificate: x509.Certificate) -> str:
    """Encode a certificate as PEM text."""
    return certificate.public_bytes(Encoding.PEM).decode("ascii")


def certificates_to_pem(certificates: Iterable[x509.Certificate]) -> str:
    """Encode certificates as one PEM text, in the order given."""
    return "".join(certificate_to_pem(certificate) for certificate in certificates)


def verify_chain(
    leaf: x509.Certificate,
    *,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    now: datetime,
    dns_name: str | None = None,
) -> list[x509.Certificate]:
    """Verify that a leaf chains to one of the roots at a time; return the path.

    With a dns_name (a host name or an IP address) the leaf is checked as a server
    certificate for that name. Without one, a leaf usable for servers is checked as
    a server certificate for its own first name, and any other as a client one.
    """
    if not roots:
        raise ChainError("no trusted roots")
    try:
        extensions = leaf.extensions
    except (ValueError, x509.DuplicateExtension) as error:
        raise ChainError(str(error)) from None
    san = _extension_value(extensions, x509.SubjectAlternativeName)
    subject = (
        _verification_subject(_extension_value(extensions, x509.ExtendedKeyUsage), san)
        if dns_name is None
        else _subject_from_text(dns_name)
    )

    # cryptography's verifier follows the WebPKI profile, which refuses EdDSA keys
    # and signatures, and wildcard names under name constraints; a home authority
    # issues both, so those paths take the RFC 5280 check of the paths module.
    if _has_wildcard_name(san) or any(map(_uses_eddsa, (leaf, *intermediates, *roots))):
        return validate_path(
            leaf,
            intermediates=intermediates,
            roots=roots,
            now=now,
            subject=subject,
        )

    builder = PolicyBuilder().store(Store(list(roots))).time(now)
    try:
        if subject is None:
            client = builder.build_client_verifier().verify(leaf, list(intermediates))
            return list(client.chain)
        server = builder.build_server_verifier(subject)
        return list(server.verify(leaf, list(intermediates)))
    except (VerificationError, ValueError) as error:
        raise ChainError(str(error)) from None


def _verification_subject(
    usage: x509.ExtendedKeyUsage | None, san: x509.SubjectAlternativeName | None
) -> Subject | None:
    """Choose a leaf's own name to verify it for, or None to verify it as a client."""
    if usage is not None and not {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }.intersection(usage):
        return None
    if san is None:
        return None
    names = san.get_values_for_type(x509.DNSName)
    exact = [name for name in names if not name.startswith("*.")]
    if exact:
        return _subject_from_text(exact[0])
    addresses = san.get_values_for_type(x509.IPAddress)
    if addresses:
        return _subject_from_text(str(addresses[0]))
    if names:
        return _subject_from_text(f"{_WILDCARD_STAND_IN}{names[0][1:]}")
    return None


def _subject_from_text(name: str) -> Subject:
    """Turn a host name or an IP address into a verification subject."""
    try:
        return x509.IPAddress(ip_address(name))
    except ValueError:
        pass
    try:
        return x509.DNSName(name)
    except ValueError as error:
        raise ChainError(str(error)) from None


def _has_wildcard_name(san: x509.SubjectAlternativeName | None) -> bool:
    """Tell whether alternative names include a wildcard DNS name."""
    return san is not None and any(
        name.startswith("*.") for name in san.get_values_for_type(x509.DNSName)
    )


def _uses_eddsa(certificate: x509.Certificate) -> bool:
    """Tell whether a certificate carries or is signed with an EdDSA key."""
    signature = certificate.signature_algorithm_oid
    if signature in {SignatureAlgorithmOID.ED25519, SignatureAlgorithmOID.ED448}:
        return True
    try:
        key = certificate.public_key()
    except UnsupportedAlgorithm:
        return False
    return isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
