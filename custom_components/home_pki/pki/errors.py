"""Exceptions raised by the PKI core, each with a stable reason key."""

from typing import ClassVar


class PkiError(Exception):
    """Signal that the PKI core refused an operation."""

    reason: ClassVar[str] = "pki_error"

    def __init__(self, detail: str = "") -> None:
        """Keep a short detail that names what was refused, never key material."""
        super().__init__(detail or self.reason)
        self.detail = detail


class InvalidNameError(PkiError):
    """Signal a DNS name, IP address or range that is not well formed."""

    reason = "invalid_name"


class NameNotPermittedError(PkiError):
    """Signal a name outside the authority's permitted names."""

    reason = "name_not_permitted"

    def __init__(self, name: str) -> None:
        """Keep the refused name."""
        super().__init__(name)
        self.name = name


class WeakKeyError(PkiError):
    """Signal a public key type or size the policy does not accept."""

    reason = "weak_key"


class InvalidCsrError(PkiError):
    """Signal data that is not a readable certificate signing request."""

    reason = "invalid_csr"


class CsrSignatureError(PkiError):
    """Signal a certificate signing request whose self-signature does not verify."""

    reason = "csr_signature_invalid"


class ValidityError(PkiError):
    """Signal a validity period outside what the policy or the issuer allows."""

    reason = "validity_out_of_range"


class AuthorityExpiredError(ValidityError):
    """Signal an authority whose certificate ended, so it can sign nothing more."""

    reason = "authority_expired"


class InvalidCertificateError(PkiError):
    """Signal data that holds no readable certificate."""

    reason = "invalid_certificate"


class InvalidKeyError(PkiError):
    """Signal data that holds no usable private key."""

    reason = "invalid_key"


class ChainError(PkiError):
    """Signal a certificate that does not chain to a trusted root."""

    reason = "invalid_chain"


class RevocationCheckError(PkiError):
    """Signal revocation data that cannot tell whether a certificate is revoked."""

    reason = "revocation_unknown"


class OcspRequestError(PkiError):
    """Signal an OCSP request that cannot be read, answered malformedRequest."""

    reason = "ocsp_malformed_request"


class OcspUnauthorizedError(OcspRequestError):
    """Signal an OCSP request about another issuer's certificate, unauthorized."""

    reason = "ocsp_unauthorized"
