"""Reading the JWS that carries every ACME request (RFC 8555 section 6.2)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.errors import DeserializationError
from josepy.jwa import (
    ES256,
    ES384,
    ES512,
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    JWASignature,
)
from josepy.jwk import JWK, JWKOct

from .problems import AcmeProblem

# The algorithms account keys may sign with; HMAC only binds external accounts.
SIGNATURE_ALGORITHMS: dict[str, JWASignature] = {
    "RS256": RS256,
    "RS384": RS384,
    "RS512": RS512,
    "ES256": ES256,
    "ES384": ES384,
    "ES512": ES512,
}
_MAC_ALGORITHMS: dict[str, JWASignature] = {
    "HS256": HS256,
    "HS384": HS384,
    "HS512": HS512,
}
MIN_RSA_BITS = 2048
_EC_CURVES = {"secp256r1", "secp384r1", "secp521r1"}


def b64decode(value: Any, what: str) -> bytes:
    """Decode unpadded base64url, as JOSE writes it."""
    if not isinstance(value, str) or "=" in value:
        raise AcmeProblem(type="malformed", detail=f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise AcmeProblem(type="malformed", detail=f"{what} is not base64url") from None


def b64encode(data: bytes) -> str:
    """Encode as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse bytes that must hold one JSON object."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise AcmeProblem(type="malformed", detail=f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise AcmeProblem(type="malformed", detail=f"{what} is not a JSON object")
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class FlattenedJws:
    """The three parts of a flattened JWS, before its signature is checked."""

    protected_b64: str
    payload_b64: str
    signature: bytes
    header: dict[str, Any]

    @classmethod
    def parse(
        cls, body: bytes | dict[str, Any], what: str = "the request"
    ) -> FlattenedJws:
        """Split a flattened JSON serialization; anything else is malformed."""
        document = body if isinstance(body, dict) else _json_object(body, what)
        if set(document) - {"protected", "payload", "signature"} or not all(
            isinstance(document.get(part), str)
            for part in ("protected", "payload", "signature")
        ):
            raise AcmeProblem(
                type="malformed",
                detail=f"{what} is not a flattened JWS with protected, payload and signature",
            )
        header = _json_object(
            b64decode(document["protected"], "the protected header"),
            "the protected header",
        )
        return cls(
            protected_b64=document["protected"],
            payload_b64=document["payload"],
            signature=b64decode(document["signature"], "the signature"),
            header=header,
        )

    @property
    def signing_input(self) -> bytes:
        """Return what the signature covers."""
        return f"{self.protected_b64}.{self.payload_b64}".encode()

    @property
    def payload(self) -> bytes:
        """Return the payload bytes; empty for a POST-as-GET."""
        return b64decode(self.payload_b64, "the payload") if self.payload_b64 else b""

    def payload_object(self) -> dict[str, Any]:
        """Return the payload as a JSON object."""
        return _json_object(self.payload, "the payload")

    def string(self, name: str) -> str | None:
        """Return a header field that must be a string when present."""
        value = self.header.get(name)
        if value is not None and not isinstance(value, str):
            raise AcmeProblem(
                type="malformed", detail=f"the {name} header is not a string"
            )
        return value


def load_account_key(jwk: Any) -> JWK:
    """Read a public JWK an account may use; refuse weak or private keys."""
    if not isinstance(jwk, dict):
        raise AcmeProblem(type="malformed", detail="the jwk header is not an object")
    if "d" in jwk:
        raise AcmeProblem(type="badPublicKey", detail="the jwk holds a private key")
    try:
        key = JWK.from_json(jwk)
    except (DeserializationError, ValueError, TypeError) as err:
        raise AcmeProblem(
            type="badPublicKey", detail=f"the jwk cannot be read: {err}"
        ) from None
    if not isinstance(key, JWK):  # pragma: no cover - from_json only makes keys
        raise AcmeProblem(type="badPublicKey", detail="the jwk is not a key")
    public = raw_public_key(key)
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size < MIN_RSA_BITS:
            raise AcmeProblem(
                type="badPublicKey",
                detail=f"RSA keys need at least {MIN_RSA_BITS} bits",
            )
    elif isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.name not in _EC_CURVES:
            raise AcmeProblem(
                type="badPublicKey", detail=f"the curve {public.curve.name} is refused"
            )
    else:
        raise AcmeProblem(
            type="badPublicKey", detail="only RSA and EC keys are accepted"
        )
    return key


def thumbprint(key: JWK) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of a key, base64url."""
    return b64encode(key.thumbprint())


def check_algorithm(jws: FlattenedJws, key: JWK) -> JWASignature:
    """Return the signature algorithm of a request, refusing what does not fit."""
    name = jws.string("alg")
    algorithm = SIGNATURE_ALGORITHMS.get(name or "")
    if algorithm is None:
        raise AcmeProblem(
            type="badSignatureAlgorithm",
            detail=f"the algorithm {name!r} is not accepted",
        )
    public = raw_public_key(key)
    fits = (
        isinstance(public, rsa.RSAPublicKey)
        if name and name.startswith("RS")
        else isinstance(public, ec.EllipticCurvePublicKey)
        and {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}[
            name or ""
        ]
        == public.curve.name
    )
    if not fits:
        raise AcmeProblem(
            type="badSignatureAlgorithm",
            detail=f"the algorithm {name} does not fit the account key",
        )
    return algorithm


def verify_signature(jws: FlattenedJws, key: JWK) -> None:
    """Check a request's signature with an account key."""
    algorithm = check_algorithm(jws, key)
    try:
        valid = algorithm.verify(key.key, jws.signing_input, jws.signature)
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise AcmeProblem(type="malformed", detail="the JWS signature does not verify")


def key_to_json(key: JWK) -> dict[str, Any]:
    """Return the public JWK as JSON."""
    result: dict[str, Any] = key.public_key().to_json()
    return result


def raw_public_key(key: JWK) -> Any:
    """Return the cryptography public key inside a josepy key."""
    wrapped = key.key
    return getattr(wrapped, "_wrapped", wrapped)


@dataclass(frozen=True, kw_only=True, slots=True)
class ExternalBinding:
    """What an external account binding names: the key it used."""

    key_id: str


def read_external_binding(
    binding: Any,
    url: str,
    account_key: JWK,
    hmac_key_for: Any,
) -> ExternalBinding:
    """Check an external account binding (RFC 8555 section 7.3.4).

    `hmac_key_for` maps a key ID to its MAC key, or None when unknown. The
    binding must be signed with that key over this account's public key, for
    this URL, and carry no nonce.
    """
    jws = FlattenedJws.parse(binding, "the externalAccountBinding")
    name = jws.string("alg")
    algorithm = _MAC_ALGORITHMS.get(name or "")
    if algorithm is None:
        raise AcmeProblem(
            type="malformed",
            detail="the externalAccountBinding must use HS256, HS384 or HS512",
        )
    if "nonce" in jws.header:
        raise AcmeProblem(
            type="malformed", detail="the externalAccountBinding must not carry a nonce"
        )
    if jws.string("url") != url:
        raise AcmeProblem(
            type="unauthorized",
            detail="the externalAccountBinding is for another URL",
        )
    key_id = jws.string("kid")
    mac_key = hmac_key_for(key_id) if key_id else None
    if mac_key is None:
        raise AcmeProblem(
            type="unauthorized",
            detail="the externalAccountBinding names an unknown key ID",
        )
    expected = algorithm.sign(JWKOct(key=mac_key).key, jws.signing_input)
    if not hmac.compare_digest(expected, jws.signature):
        raise AcmeProblem(
            type="unauthorized",
            detail="the externalAccountBinding signature does not verify",
        )
    bound = load_account_key(jws.payload_object())
    if bound.thumbprint() != account_key.thumbprint():
        raise AcmeProblem(
            type="unauthorized",
            detail="the externalAccountBinding binds another account key",
        )
    return ExternalBinding(key_id=key_id or "")
