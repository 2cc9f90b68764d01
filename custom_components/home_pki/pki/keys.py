"""Key generation, (de)serialisation and the signing key interface."""

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509 import ocsp

from .errors import InvalidKeyError

type PrivateKey = (
    ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
)
type PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
type SignatureHash = hashes.SHA256 | hashes.SHA384 | hashes.SHA512

RSA_PUBLIC_EXPONENT = 65537

_CURVE_LABELS = {
    "secp256r1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
}


class KeyAlgorithm(StrEnum):
    """Key algorithms the authority can generate."""

    EC_P256 = "ec_p256"
    EC_P384 = "ec_p384"
    RSA_2048 = "rsa_2048"
    RSA_3072 = "rsa_3072"
    ED25519 = "ed25519"


_GENERATORS: dict[KeyAlgorithm, Callable[[], PrivateKey]] = {
    KeyAlgorithm.EC_P256: lambda: ec.generate_private_key(ec.SECP256R1()),
    KeyAlgorithm.EC_P384: lambda: ec.generate_private_key(ec.SECP384R1()),
    KeyAlgorithm.RSA_2048: lambda: rsa.generate_private_key(RSA_PUBLIC_EXPONENT, 2048),
    KeyAlgorithm.RSA_3072: lambda: rsa.generate_private_key(RSA_PUBLIC_EXPONENT, 3072),
    KeyAlgorithm.ED25519: ed25519.Ed25519PrivateKey.generate,
}


def generate_private_key(algorithm: KeyAlgorithm) -> PrivateKey:
    """Generate a fresh private key of the given algorithm."""
    return _GENERATORS[algorithm]()


def private_key_to_pem(key: PrivateKey) -> bytes:
    """Serialise a private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(data: bytes) -> PrivateKey:
    """Load an unencrypted PEM private key of a supported type."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The cause is dropped on purpose: nothing of the input may travel on.
        raise InvalidKeyError("unreadable private key") from None
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise InvalidKeyError(public_key_description(key.public_key()))
    return key


def public_key_description(key: object) -> str:
    """Describe a public key for people, such as "EC P-256" or "RSA 2048"."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {_CURVE_LABELS.get(key.curve.name, key.curve.name)}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__


def signature_hash(key: PrivateKey) -> SignatureHash | None:
    """Return the hash to sign with, matched to the key's strength."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size > 384:
            return hashes.SHA512()
        if key.curve.key_size > 256:
            return hashes.SHA384()
    return hashes.SHA256()


class SigningKey(Protocol):
    """The key through which the authority signs, in a file or on a token."""

    def public_key(self) -> PublicKey:
        """Return the public half of the signing key."""

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign a certificate builder."""

    def sign_crl(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        """Sign a certificate revocation list builder."""

    def sign_ocsp_response(
        self, builder: ocsp.OCSPResponseBuilder
    ) -> ocsp.OCSPResponse:
        """Sign an OCSP response builder whose responder ID names this key."""


class PrivateKeySigner:
    """Sign with a private key held in memory."""

    __slots__ = ("_key",)

    def __init__(self, key: PrivateKey) -> None:
        """Wrap a private key."""
        self._key = key

    def public_key(self) -> PublicKey:
        """Return the public half of the wrapped key."""
        return self._key.public_key()

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign a certificate builder with the wrapped key."""
        return builder.sign(self._key, signature_hash(self._key))

    def sign_crl(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        """Sign a certificate revocation list builder with the wrapped key."""
        return builder.sign(self._key, signature_hash(self._key))

    def sign_ocsp_response(
        self, builder: ocsp.OCSPResponseBuilder
    ) -> ocsp.OCSPResponse:
        """Sign an OCSP response builder with the wrapped key."""
        return builder.sign(self._key, signature_hash(self._key))
