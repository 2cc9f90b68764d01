"""Tests of key generation, serialisation and signing."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
import pytest

from custom_components.home_pki.pki.errors import InvalidKeyError
from custom_components.home_pki.pki.keys import (
    KeyAlgorithm,
    PrivateKey,
    PrivateKeySigner,
    SigningKey,
    load_private_key,
    private_key_to_pem,
    public_key_description,
    signature_hash,
)
from tests.pki.common import OpenSsl, name

DESCRIPTIONS = {
    KeyAlgorithm.EC_P256: "EC P-256",
    KeyAlgorithm.EC_P384: "EC P-384",
    KeyAlgorithm.RSA_2048: "RSA 2048",
    KeyAlgorithm.RSA_3072: "RSA 3072",
    KeyAlgorithm.ED25519: "Ed25519",
}
HASHES: dict[KeyAlgorithm, type[hashes.HashAlgorithm] | None] = {
    KeyAlgorithm.EC_P256: hashes.SHA256,
    KeyAlgorithm.EC_P384: hashes.SHA384,
    KeyAlgorithm.RSA_2048: hashes.SHA256,
    KeyAlgorithm.RSA_3072: hashes.SHA256,
    KeyAlgorithm.ED25519: None,
}


def test_key_algorithm_values() -> None:
    """The stored values of the algorithms are stable."""
    assert [algorithm.value for algorithm in KeyAlgorithm] == [
        "ec_p256",
        "ec_p384",
        "rsa_2048",
        "rsa_3072",
        "ed25519",
    ]


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_generate_private_key(
    private_keys: dict[KeyAlgorithm, PrivateKey], algorithm: KeyAlgorithm
) -> None:
    """Each algorithm gives a key of its type and size."""
    key = private_keys[algorithm]
    assert public_key_description(key.public_key()) == DESCRIPTIONS[algorithm]
    if isinstance(key, rsa.RSAPrivateKey):
        assert key.private_numbers().public_numbers.e == 65537


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_private_key_pem_round_trip(
    private_keys: dict[KeyAlgorithm, PrivateKey],
    algorithm: KeyAlgorithm,
    openssl: OpenSsl,
) -> None:
    """Keys are unencrypted PKCS#8 PEM that both this core and openssl read back."""
    key = private_keys[algorithm]
    pem = private_key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")

    loaded = load_private_key(pem)
    assert private_key_to_pem(loaded) == pem

    path = openssl.write("key.pem", pem)
    public_pem = openssl.ok("pkey", "-in", str(path), "-pubout")
    assert public_pem.encode() == key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a key, secret-material",
        b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END PRIVATE KEY-----\n",
    ],
)
def test_load_private_key_refuses_garbage(data: bytes) -> None:
    """Unreadable data raises InvalidKeyError without any of the input."""
    with pytest.raises(InvalidKeyError) as caught:
        load_private_key(data)
    assert "secret" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_load_private_key_refuses_encrypted(
    private_keys: dict[KeyAlgorithm, PrivateKey],
) -> None:
    """An encrypted key cannot be used without its password."""
    pem = private_keys[KeyAlgorithm.EC_P256].private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"password"),
    )
    with pytest.raises(InvalidKeyError):
        load_private_key(pem)


@pytest.mark.parametrize(
    ("generate", "description"),
    [
        (ed448.Ed448PrivateKey.generate, "Ed448"),
        (x25519.X25519PrivateKey.generate, "X25519PublicKey"),
    ],
)
def test_load_private_key_refuses_unsupported_types(
    generate: Callable[[], PrivateKeyTypes], description: str
) -> None:
    """A readable key of a type the authority does not sign with is refused."""
    pem = generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidKeyError) as caught:
        load_private_key(pem)
    assert caught.value.detail == description


def test_load_private_key_of_another_curve() -> None:
    """An EC key on another curve loads; the policy judges its curve."""
    pem = private_key_to_pem(ec.generate_private_key(ec.SECP256K1()))
    key = load_private_key(pem)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert public_key_description(key.public_key()) == "EC secp256k1"


def test_public_key_description_of_other_types(dsa_key: dsa.DSAPrivateKey) -> None:
    """Every cryptography public key type gets a readable description."""
    assert (
        public_key_description(ec.generate_private_key(ec.SECP521R1()).public_key())
        == "EC P-521"
    )
    assert public_key_description(ed448.Ed448PrivateKey.generate().public_key()) == (
        "Ed448"
    )
    assert public_key_description(dsa_key.public_key()) == "DSA 2048"
    assert (
        public_key_description(x25519.X25519PrivateKey.generate().public_key())
        == "X25519PublicKey"
    )
    assert public_key_description("not a key") == "str"


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_signature_hash(
    private_keys: dict[KeyAlgorithm, PrivateKey], algorithm: KeyAlgorithm
) -> None:
    """The hash matches the key's strength; Ed25519 hashes internally."""
    expected = HASHES[algorithm]
    digest = signature_hash(private_keys[algorithm])
    if expected is None:
        assert digest is None
    else:
        assert isinstance(digest, expected)


def test_signature_hash_p521() -> None:
    """A P-521 key signs over SHA-512."""
    assert isinstance(
        signature_hash(ec.generate_private_key(ec.SECP521R1())), hashes.SHA512
    )


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_private_key_signer(
    private_keys: dict[KeyAlgorithm, PrivateKey], algorithm: KeyAlgorithm
) -> None:
    """The in-memory signer signs certificates and CRLs that verify under its key."""
    key = private_keys[algorithm]
    signer: SigningKey = PrivateKeySigner(key)
    assert signer.public_key() == key.public_key()

    now = datetime(2025, 6, 1, tzinfo=UTC)
    certificate = signer.sign_certificate(
        x509.CertificateBuilder()
        .subject_name(name("signer"))
        .issuer_name(name("signer"))
        .public_key(signer.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
    )
    certificate.verify_directly_issued_by(certificate)

    crl = signer.sign_crl(
        x509.CertificateRevocationListBuilder()
        .issuer_name(name("signer"))
        .last_update(now)
        .next_update(now + timedelta(days=1))
    )
    assert crl.is_signature_valid(signer.public_key())
    assert "PRIVATE" not in repr(signer)
