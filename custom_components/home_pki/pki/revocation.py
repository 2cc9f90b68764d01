"""Revocation: reasons, CRLs and OCSP, both as the home CA and as a client."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from .authority import authority_key_identifier
from .errors import OcspRequestError, OcspUnauthorizedError, RevocationCheckError
from .inspect import issued_by, signature_verifies
from .keys import PrivateKey, PrivateKeySigner, SigningKey

CRL_LIFETIME = timedelta(days=7)
CRL_REFRESH_MARGIN = timedelta(days=2)
OCSP_LIFETIME = timedelta(days=1)
# RFC 5019 §4: clients may allow for some clock skew between them and the CA.
CLOCK_SKEW = timedelta(minutes=5)
SOURCE_OCSP = "ocsp"
SOURCE_CRL = "crl"

_URL_SCHEMES = ("http://", "https://")
_CERT_ID_HASHES = (
    hashes.SHA1,
    hashes.SHA224,
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
)


class RevocationReason(StrEnum):
    """Why a certificate was revoked, as RFC 5280 §5.3.1 names the reasons."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"
    PRIVILEGE_WITHDRAWN = "privilege_withdrawn"

    def to_flag(self) -> x509.ReasonFlags | None:
        """Return the CRL reason code, or None when the reason is unspecified."""
        # RFC 5280 §5.3.1: the reasonCode should be absent rather than unspecified.
        if self is RevocationReason.UNSPECIFIED:
            return None
        return _REASON_FLAGS[self]


_REASON_FLAGS = {
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
}
_REASONS_BY_FLAG = {flag: reason for reason, flag in _REASON_FLAGS.items()} | {
    x509.ReasonFlags.unspecified: RevocationReason.UNSPECIFIED
}


class RevocationStatus(StrEnum):
    """What a CRL or an OCSP responder says of a certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, kw_only=True, slots=True)
class RevocationAnswer:
    """The revocation status of one certificate, and where it came from."""

    status: RevocationStatus
    source: str
    reason: RevocationReason | None = None
    revoked_at: datetime | None = None
    next_update: datetime | None = None
    detail: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RevokedEntry:
    """One revoked certificate, as a CRL lists it."""

    serial_number: int
    revoked_at: datetime
    reason: RevocationReason


def build_crl(
    *,
    issuer: x509.Certificate,
    signing_key: SigningKey,
    entries: Iterable[RevokedEntry],
    crl_number: int,
    now: datetime,
    lifetime: timedelta = CRL_LIFETIME,
) -> x509.CertificateRevocationList:
    """Sign a CRL of the given entries, valid for lifetime from now."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now)
        .next_update(now + lifetime)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(authority_key_identifier(issuer), critical=False)
    )
    for entry in entries:
        builder = builder.add_revoked_certificate(_revoked_certificate(entry))
    return signing_key.sign_crl(builder)


def _revoked_certificate(entry: RevokedEntry) -> x509.RevokedCertificate:
    """Build one CRL entry, with its reason code where there is one."""
    builder = (
        x509.RevokedCertificateBuilder()
        .serial_number(entry.serial_number)
        .revocation_date(entry.revoked_at)
    )
    flag = entry.reason.to_flag()
    if flag is not None:
        builder = builder.add_extension(x509.CRLReason(flag), critical=False)
    return builder.build()


def crl_refresh_time(crl: x509.CertificateRevocationList) -> datetime:
    """Return when to publish a fresh CRL, well before this one goes stale."""
    next_update = crl.next_update_utc
    if next_update is None:
        # RFC 5280 §5.1.2.5 asks for nextUpdate; without one, assume our lifetime.
        next_update = crl.last_update_utc + CRL_LIFETIME
    # A short-lived CRL would otherwise fall due before it was even issued.
    margin = min(CRL_REFRESH_MARGIN, (next_update - crl.last_update_utc) / 2)
    return next_update - margin


def crl_to_der(crl: x509.CertificateRevocationList) -> bytes:
    """Encode a CRL as DER, as served under application/pkix-crl."""
    return crl.public_bytes(Encoding.DER)


def ocsp_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    """Return the HTTP URLs of the certificate's OCSP responders (AIA)."""
    return _access_urls(certificate, AuthorityInformationAccessOID.OCSP)


def ca_issuer_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    """Return the HTTP URLs where the certificate's issuer can be fetched (AIA)."""
    return _access_urls(certificate, AuthorityInformationAccessOID.CA_ISSUERS)


def crl_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    """Return the HTTP URLs of the certificate's complete CRLs.

    A distribution point limited to some reasons or naming another CRL issuer
    (RFC 5280 §4.2.1.13) cannot answer alone, so it is left out.
    """
    points = _extension(certificate, x509.CRLDistributionPoints) or ()
    return _http_urls(
        name
        for point in points
        if point.reasons is None and point.crl_issuer is None
        for name in point.full_name or ()
    )


def _access_urls(
    certificate: x509.Certificate, method: x509.ObjectIdentifier
) -> tuple[str, ...]:
    """Return the HTTP URLs of one access method of the AIA extension."""
    access = _extension(certificate, x509.AuthorityInformationAccess) or ()
    return _http_urls(
        description.access_location
        for description in access
        if description.access_method == method
    )


def _http_urls(names: Iterable[x509.GeneralName]) -> tuple[str, ...]:
    """Keep the HTTP and HTTPS URIs of general names, once each, in order."""
    return tuple(
        dict.fromkeys(
            name.value
            for name in names
            if isinstance(name, x509.UniformResourceIdentifier)
            and name.value.lower().startswith(_URL_SCHEMES)
        )
    )


def _extension[T: x509.ExtensionType](
    certificate: x509.Certificate, kind: type[T]
) -> T | None:
    """Return one extension of a certificate, or None when absent or unreadable."""
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return None


def read_crl(
    data: bytes, *, issuer: x509.Certificate, now: datetime
) -> x509.CertificateRevocationList:
    """Load a DER or PEM CRL and check that it is the issuer's, complete and current.

    RFC 5280 §6.3.3: the issuer's name, its cRLSign key usage and its signature;
    no delta CRL, no partial scope and no unknown critical extension; thisUpdate
    not in the future and nextUpdate not passed, give or take CLOCK_SKEW.
    """
    try:
        crl = (
            x509.load_pem_x509_crl(data)
            if b"-----BEGIN" in data
            else x509.load_der_x509_crl(data)
        )
        extensions = crl.extensions
    except (ValueError, x509.DuplicateExtension):
        raise RevocationCheckError("unreadable CRL") from None

    if crl.issuer != issuer.subject:
        raise RevocationCheckError("the CRL names another issuer")
    usage = _extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.crl_sign:
        raise RevocationCheckError("the issuer may not sign CRLs")
    if not _crl_signature_valid(crl, issuer):
        raise RevocationCheckError("the CRL signature does not verify")
    _check_crl_scope(extensions)
    if crl.last_update_utc > now + CLOCK_SKEW:
        raise RevocationCheckError("the CRL is not valid yet")
    if _past(crl.next_update_utc, now):
        raise RevocationCheckError("the CRL is past its next update")
    return crl


def _crl_signature_valid(
    crl: x509.CertificateRevocationList, issuer: x509.Certificate
) -> bool:
    """Tell whether the issuer's key signed the CRL, over any hash."""
    try:
        key = issuer.public_key()
        parameters = crl.signature_algorithm_parameters
        algorithm = crl.signature_hash_algorithm
    except (ValueError, UnsupportedAlgorithm):
        return False
    return signature_verifies(
        key,
        crl.signature,
        crl.tbs_certlist_bytes,
        parameters=parameters,
        algorithm=algorithm,
    )


def _check_crl_scope(extensions: x509.Extensions) -> None:
    """Refuse a CRL that does not list every revoked end-entity certificate."""
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.DeltaCRLIndicator):
            raise RevocationCheckError("a delta CRL is not complete")
        if isinstance(value, x509.IssuingDistributionPoint) and (
            value.only_contains_ca_certs
            or value.only_contains_attribute_certs
            or value.indirect_crl
            or value.only_some_reasons is not None
        ):
            raise RevocationCheckError("the CRL covers only some certificates")
        if extension.critical and isinstance(value, x509.UnrecognizedExtension):
            raise RevocationCheckError(
                f"unknown critical CRL extension {extension.oid.dotted_string}"
            )


def _past(next_update: datetime | None, now: datetime) -> bool:
    """Tell whether a nextUpdate lies behind now, beyond the clock skew."""
    return next_update is not None and now > next_update + CLOCK_SKEW


def crl_answer(
    crl: x509.CertificateRevocationList, certificate: x509.Certificate, now: datetime
) -> RevocationAnswer:
    """Look a certificate up in a CRL that read_crl accepted."""
    if crl.issuer != certificate.issuer:
        return _unknown(SOURCE_CRL, "the CRL is another issuer's")
    if _past(crl.next_update_utc, now):
        return _unknown(SOURCE_CRL, "the CRL is past its next update")
    # cryptography's type stub gives the lookup's result no attributes.
    entry = cast(
        x509.RevokedCertificate | None,
        crl.get_revoked_certificate_by_serial_number(certificate.serial_number),
    )
    if entry is None:
        return RevocationAnswer(
            status=RevocationStatus.GOOD,
            source=SOURCE_CRL,
            next_update=crl.next_update_utc,
        )
    try:
        flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        flag = None
    except (ValueError, x509.DuplicateExtension):
        flag = x509.ReasonFlags.unspecified
    return _revoked(SOURCE_CRL, entry.revocation_date_utc, flag, crl.next_update_utc)


def _revoked(
    source: str,
    revoked_at: datetime | None,
    flag: x509.ReasonFlags | None,
    next_update: datetime | None,
) -> RevocationAnswer:
    """Build a revoked answer; a reason without a RevocationReason goes in detail."""
    # RFC 5280 §5.3.1: an absent reason code means unspecified.
    reason = (
        RevocationReason.UNSPECIFIED if flag is None else _REASONS_BY_FLAG.get(flag)
    )
    return RevocationAnswer(
        status=RevocationStatus.REVOKED,
        source=source,
        reason=reason,
        revoked_at=revoked_at,
        next_update=next_update,
        detail=None if reason is not None or flag is None else flag.value,
    )


def _unknown(source: str, detail: str) -> RevocationAnswer:
    """Build an answer that tells nothing, with the reason why."""
    return RevocationAnswer(
        status=RevocationStatus.UNKNOWN, source=source, detail=detail
    )


def build_ocsp_request(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """Encode an OCSP request for one certificate, its CertID over SHA-1.

    RFC 5019 §2.1.1 asks for SHA-1 in the CertID, which every responder knows;
    the hash only names the issuer, it protects nothing. A nonce (RFC 8954) is
    left out by default, since responders that pre-sign their answers drop it.
    """
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        certificate,
        issuer,
        hashes.SHA1(),  # noqa: S303 - an identifier, as RFC 5019 asks
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def read_ocsp_response(
    data: bytes,
    *,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime,
    nonce: bytes | None = None,
) -> RevocationAnswer:
    """Read an OCSP response about a certificate; anything amiss is UNKNOWN.

    RFC 6960 §3.2: a successful response whose CertID names this certificate of
    this issuer, signed by the issuer or by a responder certificate the issuer
    issued for id-kp-OCSPSigning (§4.2.2.2), thisUpdate not in the future and
    nextUpdate not passed, give or take CLOCK_SKEW. A nonce, when given, must
    match the response's if it carries one.
    """
    try:
        return _read_ocsp_response(data, certificate, issuer, now, nonce)
    except RevocationCheckError as error:
        return _unknown(SOURCE_OCSP, error.detail)
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension):
        return _unknown(SOURCE_OCSP, "malformed OCSP response")


def _read_ocsp_response(
    data: bytes,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime,
    nonce: bytes | None,
) -> RevocationAnswer:
    """Check an OCSP response step by step, raising at the first fault."""
    response = ocsp.load_der_ocsp_response(data)
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        status = response.response_status.name.lower()
        raise RevocationCheckError(f"the responder answered {status}")

    _check_ocsp_signature(response, _ocsp_signer(response, issuer, now))
    if nonce is not None and _nonce(response.extensions) not in {None, nonce}:
        raise RevocationCheckError("the response nonce does not match")
    single = _single_response(response, certificate, issuer)
    if single.this_update_utc > now + CLOCK_SKEW:
        raise RevocationCheckError("the response is not valid yet")
    if _past(single.next_update_utc, now):
        raise RevocationCheckError("the response is past its next update")

    if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        return _revoked(
            SOURCE_OCSP,
            single.revocation_time_utc,
            single.revocation_reason,
            single.next_update_utc,
        )
    if single.certificate_status is ocsp.OCSPCertStatus.UNKNOWN:
        raise RevocationCheckError("the responder does not know the certificate")
    return RevocationAnswer(
        status=RevocationStatus.GOOD,
        source=SOURCE_OCSP,
        next_update=single.next_update_utc,
    )


def _ocsp_signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    """Find the certificate the responder ID names, and check it may answer."""
    signer = next(
        (
            candidate
            for candidate in (issuer, *response.certificates)
            if _names_responder(response, candidate)
        ),
        None,
    )
    if signer is None:
        raise RevocationCheckError("the responder certificate is missing")
    if signer == issuer:
        return signer

    # RFC 6960 §4.2.2.2: a delegated responder is issued by the CA itself.
    if not issued_by(signer, issuer):
        raise RevocationCheckError("the issuer did not issue the responder")
    usage = _extension(signer, x509.ExtendedKeyUsage)
    if usage is None or ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
        raise RevocationCheckError("the responder lacks id-kp-OCSPSigning")
    if not signer.not_valid_before_utc <= now <= signer.not_valid_after_utc:
        raise RevocationCheckError("the responder certificate is outside its validity")
    return signer


def _names_responder(response: ocsp.OCSPResponse, candidate: x509.Certificate) -> bool:
    """Tell whether the response's responder ID names a certificate."""
    if response.responder_name is not None:
        return response.responder_name == candidate.subject
    # RFC 6960 §4.2.1: byKey is the SHA-1 of the responder's public key.
    return response.responder_key_hash == _key_hash(candidate, hashes.SHA1())  # noqa: S303


def _check_ocsp_signature(
    response: ocsp.OCSPResponse, signer: x509.Certificate
) -> None:
    """Verify the response's signature with the signer's public key."""
    # cryptography does not tell an OCSP response's RSA padding: RFC 6960
    # responders sign with PKCS #1 v1.5.
    if not signature_verifies(
        signer.public_key(),
        response.signature,
        response.tbs_response_bytes,
        parameters=padding.PKCS1v15(),
        algorithm=response.signature_hash_algorithm,
    ):
        raise RevocationCheckError("the response signature does not verify")


def _single_response(
    response: ocsp.OCSPResponse,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
) -> ocsp.OCSPSingleResponse:
    """Return the answer whose CertID is this certificate's of this issuer."""
    for single in response.responses:
        if single.serial_number == certificate.serial_number and (
            single.issuer_name_hash,
            single.issuer_key_hash,
        ) == _issuer_hashes(issuer, single.hash_algorithm):
            return single
    raise RevocationCheckError("the response has no answer about the certificate")


def _issuer_hashes(
    issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    """Return a CertID's issuerNameHash and issuerKeyHash (RFC 6960 §4.1.1)."""
    digest = hashes.Hash(algorithm)
    digest.update(issuer.subject.public_bytes())
    return digest.finalize(), _key_hash(issuer, algorithm)


def _key_hash(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    """Hash the subjectPublicKey bits, without tag, length or unused-bits octet."""
    info = certificate.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    # SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
    # subjectPublicKey BIT STRING }: step into the sequence, over the algorithm.
    start, _ = _der_content(info, 0)
    _, algorithm_end = _der_content(info, start)
    bits_start, bits_end = _der_content(info, algorithm_end)
    digest = hashes.Hash(algorithm)
    digest.update(info[bits_start + 1 : bits_end])
    return digest.finalize()


def _der_content(data: bytes, offset: int) -> tuple[int, int]:
    """Return where the content of the DER element at offset starts and ends."""
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        octets = length & 0x7F
        length = int.from_bytes(data[start : start + octets])
        start += octets
    return start, start + length


def _nonce(extensions: x509.Extensions) -> bytes | None:
    """Return the nonce of an OCSP request or response, if it has one."""
    try:
        return extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class OcspQuery:
    """What an OCSP request asks of the issuer: one serial number, maybe a nonce."""

    serial_number: int
    hash_algorithm: hashes.HashAlgorithm
    nonce: bytes | None = None


def read_ocsp_request(data: bytes, *, issuer: x509.Certificate) -> OcspQuery:
    """Read a DER OCSP request about one certificate the issuer may have issued.

    A request that does not parse, asks about more than one certificate or
    names its CertID by an unknown hash is an OcspRequestError
    (malformedRequest); one whose CertID names another issuer is an
    OcspUnauthorizedError (RFC 6960 §2.3). The nonce (RFC 8954) is kept.
    """
    try:
        parsed = ocsp.load_der_ocsp_request(data)
        serial_number = parsed.serial_number
        algorithm = parsed.hash_algorithm
        nonce = _nonce(parsed.extensions)
    except NotImplementedError:
        # cryptography reads requests about one certificate only.
        raise OcspRequestError("more than one certificate in the request") from None
    except (ValueError, UnsupportedAlgorithm, x509.DuplicateExtension):
        raise OcspRequestError("unreadable OCSP request") from None
    if serial_number < 1 or not isinstance(algorithm, _CERT_ID_HASHES):
        raise OcspRequestError("unusable CertID")
    if (parsed.issuer_name_hash, parsed.issuer_key_hash) != _issuer_hashes(
        issuer, algorithm
    ):
        raise OcspUnauthorizedError("the CertID names another issuer")
    return OcspQuery(serial_number=serial_number, hash_algorithm=algorithm, nonce=nonce)


def ocsp_error_response(error: OcspRequestError) -> bytes:
    """Encode the error status an OCSP request that read_ocsp_request refused gets."""
    if isinstance(error, OcspUnauthorizedError):
        return unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    return unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)


def unsuccessful_ocsp_response(status: ocsp.OCSPResponseStatus) -> bytes:
    """Encode an OCSP response that only carries an error status, such as tryLater."""
    response = ocsp.OCSPResponseBuilder.build_unsuccessful(status)
    return response.public_bytes(Encoding.DER)


def sign_ocsp_response(
    query: OcspQuery,
    *,
    issuer: x509.Certificate,
    signing_key: SigningKey,
    revoked: RevokedEntry | None,
    issued: bool,
    now: datetime,
    lifetime: timedelta = OCSP_LIFETIME,
    responder_certificate: x509.Certificate | None = None,
) -> bytes:
    """Sign the answer to one query as DER, valid for lifetime from now.

    The answer is revoked, with time and reason, when revoked is given;
    unknown when the issuer never issued the serial number; good else. The
    query's nonce is echoed (RFC 8954). The issuer signs itself unless a
    delegated responder certificate (RFC 6960 §4.2.2.2) is given, in which case
    signing_key is that responder's and its certificate goes along. The
    responder is named by the hash of its key (RFC 5019 §2.2.3). cryptography
    stamps producedAt from the clock itself; thisUpdate is now.
    """
    status = ocsp.OCSPCertStatus.GOOD
    if revoked is not None:
        status = ocsp.OCSPCertStatus.REVOKED
    elif not issued:
        status = ocsp.OCSPCertStatus.UNKNOWN
    responder = responder_certificate or issuer
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=_stand_in(issuer, query.serial_number),
            issuer=issuer,
            algorithm=query.hash_algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + lifetime,
            revocation_time=None if revoked is None else revoked.revoked_at,
            revocation_reason=None if revoked is None else revoked.reason.to_flag(),
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder)
    )
    if responder != issuer:
        builder = builder.certificates([responder])
    if query.nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(query.nonce), critical=False)
    return signing_key.sign_ocsp_response(builder).public_bytes(Encoding.DER)


def build_ocsp_response(
    request: bytes,
    *,
    issuer: x509.Certificate,
    responder_certificate: x509.Certificate,
    responder_key: PrivateKey,
    lookup: Callable[[int], RevokedEntry | None],
    now: datetime,
    lifetime: timedelta,
    issued: Callable[[int], bool] | None = None,
) -> bytes:
    """Answer an OCSP request about a certificate of the issuer, as DER.

    read_ocsp_request and sign_ocsp_response in one step, for a responder that
    holds its key in memory: lookup finds revoked serial numbers, issued (when
    given) tells which the issuer issued. A key that is not the responder
    certificate's is a ValueError.
    """
    try:
        query = read_ocsp_request(request, issuer=issuer)
    except OcspRequestError as error:
        return ocsp_error_response(error)
    return sign_ocsp_response(
        query,
        issuer=issuer,
        signing_key=PrivateKeySigner(responder_key),
        revoked=lookup(query.serial_number),
        issued=issued is None or issued(query.serial_number),
        now=now,
        lifetime=lifetime,
        responder_certificate=responder_certificate,
    )


def _stand_in(issuer: x509.Certificate, serial_number: int) -> x509.Certificate:
    """Make a throwaway certificate that carries a CertID's name and serial number.

    cryptography 44 builds a response's CertID only from a certificate object,
    and a responder knows just the serial number. This one bears the issuer's
    name as its issuer, is signed by a fresh key, and is never sent anywhere.
    """
    key = ed25519.Ed25519PrivateKey.generate()
    builder = (
        x509.CertificateBuilder()
        .subject_name(issuer.subject)
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(serial_number)
        .not_valid_before(issuer.not_valid_before_utc)
        .not_valid_after(issuer.not_valid_after_utc)
    )
    return builder.sign(key, None)
