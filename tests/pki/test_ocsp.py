"""Tests of OCSP: requests, the home CA's responder, and reading answers."""

from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
import pytest

from custom_components.home_pki.pki.authority import (
    Authority,
    AuthorityMaterial,
    authority_key_identifier,
)
from custom_components.home_pki.pki.errors import (
    OcspRequestError,
    OcspUnauthorizedError,
    PkiError,
    RevocationCheckError,
)
from custom_components.home_pki.pki.inspect import serial_to_hex
from custom_components.home_pki.pki.keys import (
    KeyAlgorithm,
    PrivateKey,
    PrivateKeySigner,
    PublicKey,
    private_key_to_pem,
)
from custom_components.home_pki.pki.revocation import (
    CLOCK_SKEW,
    OCSP_LIFETIME,
    SOURCE_OCSP,
    OcspQuery,
    RevocationAnswer,
    RevocationReason,
    RevocationStatus,
    RevokedEntry,
    build_ocsp_request,
    build_ocsp_response,
    ocsp_error_response,
    read_ocsp_request,
    read_ocsp_response,
    sign_ocsp_response,
    unsuccessful_ocsp_response,
)
from tests.pki.common import (
    OpenSsl,
    build_certificate,
    issue_request,
    make_authority,
    make_policy,
    name,
)

type Materials = Callable[[KeyAlgorithm], AuthorityMaterial]
type Lookup = Callable[[int], RevokedEntry | None]

LIFETIME = timedelta(hours=1)
NONCE = bytes(range(16))
SHA1 = hashes.SHA1()  # noqa: S303 - the CertID hash RFC 5019 asks for


def lookup_of(*entries: RevokedEntry) -> Lookup:
    """Return a lookup of revoked serial numbers."""
    revoked = {entry.serial_number: entry for entry in entries}
    return revoked.get


def respond(
    request: bytes,
    material: AuthorityMaterial,
    now: datetime,
    *,
    lookup: Lookup | None = None,
    responder: tuple[x509.Certificate, PrivateKey] | None = None,
    issued: Callable[[int], bool] | None = None,
) -> bytes:
    """Answer a request as the material's intermediate, or a delegated responder."""
    certificate, key = responder or (
        material.intermediate_certificate,
        material.intermediate_key,
    )
    return build_ocsp_response(
        request,
        issuer=material.intermediate_certificate,
        responder_certificate=certificate,
        responder_key=key,
        lookup=lookup or lookup_of(),
        now=now,
        lifetime=LIFETIME,
        issued=issued,
    )


def read(
    data: bytes,
    leaf: x509.Certificate,
    material: AuthorityMaterial,
    now: datetime,
    nonce: bytes | None = None,
) -> RevocationAnswer:
    """Read an answer about a leaf of the material's intermediate."""
    return read_ocsp_response(
        data,
        certificate=leaf,
        issuer=material.intermediate_certificate,
        now=now,
        nonce=nonce,
    )


def unknown(detail: str) -> RevocationAnswer:
    """Return the answer that tells nothing, for a reason."""
    return RevocationAnswer(
        status=RevocationStatus.UNKNOWN, source=SOURCE_OCSP, detail=detail
    )


def delegated_responder(
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    key: PrivateKey,
    now: datetime,
    *,
    ocsp_signing: bool = True,
    not_after: timedelta = timedelta(days=30),
) -> x509.Certificate:
    """Issue a responder certificate, with or without id-kp-OCSPSigning."""
    usage = (
        ExtendedKeyUsageOID.OCSP_SIGNING
        if ocsp_signing
        else (ExtendedKeyUsageOID.SERVER_AUTH)
    )
    return build_certificate(
        subject=name("Home OCSP Responder"),
        public_key=key.public_key(),  # type: ignore[arg-type]
        issuer=issuer.subject,
        issuer_key=issuer_key,
        not_before=now - timedelta(days=1),
        not_after=now + not_after,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([usage]), False),
            (authority_key_identifier(issuer), False),
        ],
        serial_number=77,
    )


@pytest.fixture
def responder_key(private_keys: dict[KeyAlgorithm, PrivateKey]) -> PrivateKey:
    """Return the delegated responder's key."""
    return private_keys[KeyAlgorithm.EC_P384]


def test_error_reason() -> None:
    """Revocation data that tells nothing is a PKI error of its own reason."""
    error = RevocationCheckError("stale")
    assert isinstance(error, PkiError)
    assert error.reason == "revocation_unknown"
    assert error.detail == "stale"


def test_request(
    authority: Authority, leaf: x509.Certificate, openssl: OpenSsl
) -> None:
    """A request names the leaf by a SHA-1 CertID, with a nonce only when asked."""
    request = ocsp.load_der_ocsp_request(
        build_ocsp_request(leaf, authority.intermediate)
    )
    reference = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(leaf, authority.intermediate, SHA1)
        .build()
    )
    assert isinstance(request.hash_algorithm, hashes.SHA1)
    assert request.serial_number == leaf.serial_number
    assert request.issuer_name_hash == reference.issuer_name_hash
    assert request.issuer_key_hash == reference.issuer_key_hash
    assert len(request.extensions) == 0

    der = build_ocsp_request(leaf, authority.intermediate, nonce=NONCE)
    with_nonce = ocsp.load_der_ocsp_request(der)
    assert with_nonce.extensions.get_extension_for_class(
        x509.OCSPNonce
    ).value.nonce == (NONCE)
    openssl.write("request.der", der)
    text = openssl.ok("ocsp", "-reqin", "request.der", "-req_text")
    assert "Hash Algorithm: sha1" in text
    assert f"Serial Number: {serial_to_hex(leaf.serial_number)}" in text
    assert "OCSP Nonce" in text


@pytest.mark.parametrize(
    "algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_2048, KeyAlgorithm.ED25519]
)
def test_good(
    materials: Materials,
    private_keys: dict[KeyAlgorithm, PrivateKey],
    algorithm: KeyAlgorithm,
    now: datetime,
) -> None:
    """A leaf nobody revoked is good until the response's next update."""
    material = materials(algorithm)
    leaf = make_authority(material, make_policy()).issue(
        issue_request(private_keys[algorithm].public_key()), now
    )
    request = build_ocsp_request(leaf, material.intermediate_certificate)
    response = respond(request, material, now)
    parsed = ocsp.load_der_ocsp_response(response)
    assert parsed.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert parsed.certificates == []
    assert parsed.this_update_utc == now
    assert read(response, leaf, material, now) == RevocationAnswer(
        status=RevocationStatus.GOOD,
        source=SOURCE_OCSP,
        reason=None,
        revoked_at=None,
        next_update=now + LIFETIME,
        detail=None,
    )


@pytest.mark.parametrize(
    ("reason", "flag"),
    [
        (RevocationReason.KEY_COMPROMISE, x509.ReasonFlags.key_compromise),
        (RevocationReason.SUPERSEDED, x509.ReasonFlags.superseded),
        (RevocationReason.UNSPECIFIED, None),
    ],
)
def test_revoked(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
    reason: RevocationReason,
    flag: x509.ReasonFlags | None,
) -> None:
    """A revoked leaf is answered with its time and reason; unspecified has none."""
    revoked_at = now - timedelta(hours=3)
    entry = RevokedEntry(
        serial_number=leaf.serial_number, revoked_at=revoked_at, reason=reason
    )
    request = build_ocsp_request(leaf, authority.intermediate)
    response = respond(request, ec_material, now, lookup=lookup_of(entry))
    parsed = ocsp.load_der_ocsp_response(response)
    assert parsed.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert parsed.revocation_reason == flag
    assert read(response, leaf, ec_material, now) == RevocationAnswer(
        status=RevocationStatus.REVOKED,
        source=SOURCE_OCSP,
        reason=reason,
        revoked_at=revoked_at,
        next_update=now + LIFETIME,
        detail=None,
    )


def test_revoked_for_a_reason_without_a_name(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
) -> None:
    """A reason the home CA never gives, such as a hold, is passed on as detail."""
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=authority.intermediate,
            algorithm=SHA1,
            cert_status=ocsp.OCSPCertStatus.REVOKED,
            this_update=now,
            next_update=None,
            revocation_time=now,
            revocation_reason=x509.ReasonFlags.certificate_hold,
        )
        .responder_id(ocsp.OCSPResponderEncoding.NAME, authority.intermediate)
        .sign(ec_material.intermediate_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    assert read(response, leaf, ec_material, now) == RevocationAnswer(
        status=RevocationStatus.REVOKED,
        source=SOURCE_OCSP,
        reason=None,
        revoked_at=now,
        next_update=None,
        detail="certificateHold",
    )


def test_never_issued(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
) -> None:
    """A serial number the issuer never issued is answered as unknown."""
    request = build_ocsp_request(leaf, authority.intermediate)
    issued = {leaf.serial_number}.__contains__
    known = respond(request, ec_material, now, issued=issued)
    assert read(known, leaf, ec_material, now).status is RevocationStatus.GOOD

    response = respond(request, ec_material, now, issued=lambda serial: False)
    parsed = ocsp.load_der_ocsp_response(response)
    assert parsed.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    assert read(response, leaf, ec_material, now) == unknown(
        "the responder does not know the certificate"
    )


def test_another_issuer(
    materials: Materials, leaf_key: PrivateKey, now: datetime
) -> None:
    """A request about another issuer's certificate is unauthorized, names alike."""
    home = materials(KeyAlgorithm.EC_P256)
    other = materials(KeyAlgorithm.EC_P384)
    # Both authorities bear the same names: only the key hash tells them apart.
    assert (
        other.intermediate_certificate.subject == home.intermediate_certificate.subject
    )
    stranger = make_authority(other, make_policy()).issue(
        issue_request(leaf_key.public_key()), now
    )
    request = build_ocsp_request(stranger, other.intermediate_certificate)
    response = respond(request, home, now)
    parsed = ocsp.load_der_ocsp_response(response)
    assert parsed.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert read(response, stranger, other, now) == unknown(
        "the responder answered unauthorized"
    )


@pytest.mark.parametrize(
    "request_der",
    [
        b"",
        b"garbage",
        bytes.fromhex("3003020101"),
        # A SHA-1 CertID whose hash OID is bent to an unknown one (1.3.14.3.2.27).
        "unknown_hash",
        # A CertID for serial number 0, which no certificate of ours bears.
        "serial_zero",
    ],
)
def test_malformed_request(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
    request_der: bytes | str,
) -> None:
    """A request that does not parse, or cannot be answered, is malformed."""
    if request_der == "unknown_hash":
        good = build_ocsp_request(leaf, authority.intermediate)
        request_der = good.replace(
            bytes.fromhex("06052b0e03021a"), bytes.fromhex("06052b0e03021b")
        )
    elif request_der == "serial_zero":
        reference = ocsp.load_der_ocsp_request(
            build_ocsp_request(leaf, authority.intermediate)
        )
        request_der = (
            ocsp.OCSPRequestBuilder()
            .add_certificate_by_hash(
                reference.issuer_name_hash, reference.issuer_key_hash, 0, SHA1
            )
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
    assert isinstance(request_der, bytes)
    response = respond(request_der, ec_material, now)
    parsed = ocsp.load_der_ocsp_response(response)
    assert parsed.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert read(response, leaf, ec_material, now) == unknown(
        "the responder answered malformed_request"
    )


def test_sha256_cert_id(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
) -> None:
    """A CertID over SHA-256 is answered in kind, and read back."""
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(leaf, authority.intermediate, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    response = respond(request, ec_material, now)
    parsed = ocsp.load_der_ocsp_response(response)
    assert isinstance(parsed.hash_algorithm, hashes.SHA256)
    assert read(response, leaf, ec_material, now).status is RevocationStatus.GOOD


def test_nonce(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
) -> None:
    """A nonce is echoed; a different one is refused, a missing one accepted."""
    request = build_ocsp_request(leaf, authority.intermediate, nonce=NONCE)
    response = respond(request, ec_material, now)
    echoed = ocsp.load_der_ocsp_response(response).extensions
    assert echoed.get_extension_for_class(x509.OCSPNonce).value.nonce == NONCE
    assert read(response, leaf, ec_material, now, NONCE).status is (
        RevocationStatus.GOOD
    )
    assert read(response, leaf, ec_material, now, bytes(16)) == unknown(
        "the response nonce does not match"
    )

    plain = respond(build_ocsp_request(leaf, authority.intermediate), ec_material, now)
    assert len(ocsp.load_der_ocsp_response(plain).extensions) == 0
    assert read(plain, leaf, ec_material, now, NONCE).status is RevocationStatus.GOOD


def test_delegated_responder(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    responder_key: PrivateKey,
    now: datetime,
) -> None:
    """A responder the issuer certified for OCSP signing may answer for it."""
    certificate = delegated_responder(
        authority.intermediate, ec_material.intermediate_key, responder_key, now
    )
    request = build_ocsp_request(leaf, authority.intermediate)
    response = respond(
        request, ec_material, now, responder=(certificate, responder_key)
    )
    parsed = ocsp.load_der_ocsp_response(response)
    assert parsed.certificates == [certificate]
    assert parsed.responder_key_hash == (
        x509.SubjectKeyIdentifier.from_public_key(responder_key.public_key()).digest
    )
    assert read(response, leaf, ec_material, now).status is RevocationStatus.GOOD


@pytest.mark.parametrize(
    ("problem", "detail"),
    [
        ("no_ocsp_signing", "the responder lacks id-kp-OCSPSigning"),
        ("issued_by_root", "the issuer did not issue the responder"),
        ("expired", "the responder certificate is outside its validity"),
    ],
)
def test_delegated_responder_refused(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    responder_key: PrivateKey,
    now: datetime,
    problem: str,
    detail: str,
) -> None:
    """A responder without OCSPSigning, or not the issuer's, or expired, is not."""
    issuer, issuer_key = authority.intermediate, ec_material.intermediate_key
    if problem == "issued_by_root":
        issuer, issuer_key = authority.root, ec_material.root_key
    certificate = delegated_responder(
        issuer,
        issuer_key,
        responder_key,
        now,
        ocsp_signing=problem != "no_ocsp_signing",
        not_after=-timedelta(hours=1) if problem == "expired" else timedelta(days=30),
    )
    request = build_ocsp_request(leaf, authority.intermediate)
    response = respond(
        request, ec_material, now, responder=(certificate, responder_key)
    )
    assert read(response, leaf, ec_material, now) == unknown(detail)


def test_responder_certificate_missing(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    responder_key: PrivateKey,
    now: datetime,
) -> None:
    """A response signed by a responder it does not include cannot be checked."""
    certificate = delegated_responder(
        authority.intermediate, ec_material.intermediate_key, responder_key, now
    )
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=authority.intermediate,
            algorithm=SHA1,
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + LIFETIME,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, certificate)
        .sign(responder_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    assert read(response, leaf, ec_material, now) == unknown(
        "the responder certificate is missing"
    )


def test_dsa_responder(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    dsa_key: dsa.DSAPrivateKey,
    now: datetime,
) -> None:
    """A response a DSA responder signed verifies too."""
    certificate = delegated_responder(
        authority.intermediate,
        ec_material.intermediate_key,
        dsa_key,  # type: ignore[arg-type]
        now,
    )
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=authority.intermediate,
            algorithm=SHA1,
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + LIFETIME,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.NAME, certificate)
        .certificates([certificate])
        .sign(dsa_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    assert read(response, leaf, ec_material, now).status is RevocationStatus.GOOD


@pytest.mark.parametrize(
    ("produced", "read_at", "status"),
    [
        (timedelta(0), LIFETIME, RevocationStatus.GOOD),
        (
            timedelta(0),
            LIFETIME + CLOCK_SKEW - timedelta(seconds=1),
            RevocationStatus.GOOD,
        ),
        (timedelta(0), LIFETIME + CLOCK_SKEW + timedelta(seconds=1), "stale"),
        (CLOCK_SKEW - timedelta(seconds=1), timedelta(0), RevocationStatus.GOOD),
        (CLOCK_SKEW + timedelta(seconds=1), timedelta(0), "future"),
    ],
)
def test_response_time(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
    produced: timedelta,
    read_at: timedelta,
    status: RevocationStatus | str,
) -> None:
    """A thisUpdate ahead or a nextUpdate behind, beyond the clock skew, is refused."""
    request = build_ocsp_request(leaf, authority.intermediate)
    response = respond(request, ec_material, now + produced)
    answer = read(response, leaf, ec_material, now + read_at)
    if status == "stale":
        assert answer == unknown("the response is past its next update")
    elif status == "future":
        assert answer == unknown("the response is not valid yet")
    else:
        assert answer.status is status


def test_tampered_response(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
) -> None:
    """A changed signature, or one by another key, does not verify."""
    request = build_ocsp_request(leaf, authority.intermediate)
    response = respond(request, ec_material, now)
    signature = ocsp.load_der_ocsp_response(response).signature
    at = response.index(signature) + len(signature) - 1
    tampered = response[:at] + bytes([response[at] ^ 0x01]) + response[at + 1 :]
    assert read(tampered, leaf, ec_material, now) == unknown(
        "the response signature does not verify"
    )

    # Signed by another key under the issuer's name as responder ID.
    impostor = build_certificate(
        subject=authority.intermediate.subject,
        public_key=ec_material.root_key.public_key(),
        issuer=authority.root.subject,
        issuer_key=ec_material.root_key,
        not_before=now - LIFETIME,
        not_after=now + LIFETIME,
    )
    forged = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=authority.intermediate,
            algorithm=SHA1,
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + LIFETIME,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.NAME, impostor)
        .sign(ec_material.root_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    assert read(forged, leaf, ec_material, now) == unknown(
        "the response signature does not verify"
    )


def test_answer_about_another_certificate(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    leaf_key: PrivateKey,
    now: datetime,
) -> None:
    """A response about a sibling certificate says nothing about this one."""
    sibling = authority.issue(issue_request(leaf_key.public_key()), now)
    response = respond(
        build_ocsp_request(sibling, authority.intermediate), ec_material, now
    )
    assert read(response, leaf, ec_material, now) == unknown(
        "the response has no answer about the certificate"
    )


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "malformed OCSP response"),
        (b"\x30\x03\x0a\x01\x00", "malformed OCSP response"),
        (
            ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.TRY_LATER
            ).public_bytes(serialization.Encoding.DER),
            "the responder answered try_later",
        ),
        (
            ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.INTERNAL_ERROR
            ).public_bytes(serialization.Encoding.DER),
            "the responder answered internal_error",
        ),
    ],
)
def test_unusable_responses(
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
    data: bytes,
    detail: str,
) -> None:
    """Garbage and error statuses are unknown, never an exception."""
    assert read(data, leaf, ec_material, now) == unknown(detail)


def write_ocsp_files(
    openssl: OpenSsl, authority: Authority, leaf: x509.Certificate
) -> None:
    """Write the chain and the leaf for openssl ocsp."""
    openssl.write_certificates("root.pem", authority.root)
    openssl.write_certificates("intermediate.pem", authority.intermediate)
    openssl.write_certificates("leaf.pem", leaf)


@pytest.mark.parametrize("delegated", [False, True])
def test_openssl_accepts_our_responses(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    leaf_key: PrivateKey,
    responder_key: PrivateKey,
    now: datetime,
    openssl: OpenSsl,
    delegated: bool,
) -> None:
    """The openssl client verifies our responses and their nonce, and reads them."""
    write_ocsp_files(openssl, authority, leaf)
    responder = None
    if delegated:
        certificate = delegated_responder(
            authority.intermediate, ec_material.intermediate_key, responder_key, now
        )
        responder = (certificate, responder_key)
    revoked = authority.issue(issue_request(leaf_key.public_key()), now)
    openssl.write_certificates("revoked.pem", revoked)
    lookup = lookup_of(
        RevokedEntry(
            serial_number=revoked.serial_number,
            revoked_at=now - timedelta(hours=1),
            reason=RevocationReason.KEY_COMPROMISE,
        )
    )
    for subject, status in (("leaf", "good"), ("revoked", "revoked")):
        certificate = leaf if subject == "leaf" else revoked
        request = build_ocsp_request(certificate, authority.intermediate, nonce=NONCE)
        openssl.write("request.der", request)
        openssl.write(
            "response.der",
            respond(request, ec_material, now, lookup=lookup, responder=responder),
        )
        verify = openssl.run(
            "ocsp",
            "-reqin",
            "request.der",
            "-respin",
            "response.der",
            "-issuer",
            "intermediate.pem",
            "-CAfile",
            "root.pem",
            "-verify_other",
            "intermediate.pem",
            "-resp_text",
        )
        assert verify.returncode == 0, verify.stderr
        assert "Response verify OK" in verify.stderr
        assert f"Cert Status: {status}" in verify.stdout

        summary = openssl.ok(
            "ocsp",
            "-respin",
            "response.der",
            "-issuer",
            "intermediate.pem",
            "-cert",
            f"{subject}.pem",
            "-CAfile",
            "root.pem",
            "-verify_other",
            "intermediate.pem",
            "-no_nonce",
        )
        assert f"{subject}.pem: {status}" in summary
    assert "Reason: keyCompromise" in summary


def index_line(
    certificate: x509.Certificate, revoked: tuple[datetime, str] | None = None
) -> str:
    """Return one line of an openssl ca database for a certificate."""
    expiry = certificate.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    status, revocation = "V", ""
    if revoked is not None:
        status = "R"
        revocation = f"{revoked[0].strftime('%y%m%d%H%M%SZ')},{revoked[1]}"
    subject = "/CN=NAS"
    serial = serial_to_hex(certificate.serial_number)
    return f"{status}\t{expiry}\t{revocation}\t{serial}\tunknown\t{subject}\n"


@pytest.mark.parametrize("delegated", [False, True])
def test_we_accept_openssl_responses(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    leaf_key: PrivateKey,
    responder_key: PrivateKey,
    now: datetime,
    openssl: OpenSsl,
    delegated: bool,
) -> None:
    """Responses openssl signs from its index, by name or key, read as it says."""
    write_ocsp_files(openssl, authority, leaf)
    revoked = authority.issue(issue_request(leaf_key.public_key()), now)
    stranger = authority.issue(issue_request(leaf_key.public_key()), now)
    revoked_at = (now - timedelta(days=1)).replace(second=0)
    openssl.write(
        "index.txt",
        index_line(leaf) + index_line(revoked, (revoked_at, "superseded")),
    )
    signer, key = authority.intermediate, ec_material.intermediate_key
    if delegated:
        signer = delegated_responder(
            authority.intermediate, ec_material.intermediate_key, responder_key, now
        )
        key = responder_key
    openssl.write_certificates("signer.pem", signer)
    openssl.write("signer.key", private_key_to_pem(key))
    extra = ["-resp_key_id"] if delegated else []

    answers = {}
    for certificate in (leaf, revoked, stranger):
        request = build_ocsp_request(certificate, authority.intermediate, nonce=NONCE)
        openssl.write("request.der", request)
        openssl.ok(
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "intermediate.pem",
            "-rsigner",
            "signer.pem",
            "-rkey",
            "signer.key",
            "-reqin",
            "request.der",
            "-respout",
            "response.der",
            "-ndays",
            "1",
            *extra,
        )
        data = (openssl.directory / "response.der").read_bytes()
        answers[certificate] = read_ocsp_response(
            data,
            certificate=certificate,
            issuer=authority.intermediate,
            now=now,
            nonce=NONCE,
        )

    assert answers[leaf].status is RevocationStatus.GOOD
    assert answers[leaf].next_update is not None
    assert answers[revoked].status is RevocationStatus.REVOKED
    assert answers[revoked].reason is RevocationReason.SUPERSEDED
    assert answers[revoked].revoked_at == revoked_at
    assert answers[stranger] == unknown("the responder does not know the certificate")


class CountingSigner:
    """Sign through a wrapped key, as a token would, and count OCSP signatures."""

    def __init__(self, key: PrivateKey) -> None:
        """Wrap a key."""
        self.inner = PrivateKeySigner(key)
        self.signed = 0

    def public_key(self) -> PublicKey:
        """Return the wrapped public key."""
        return self.inner.public_key()

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign a certificate."""
        return self.inner.sign_certificate(builder)

    def sign_crl(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        """Sign a CRL."""
        return self.inner.sign_crl(builder)

    def sign_ocsp_response(
        self, builder: ocsp.OCSPResponseBuilder
    ) -> ocsp.OCSPResponse:
        """Sign an OCSP response and count it."""
        self.signed += 1
        return self.inner.sign_ocsp_response(builder)


def test_read_request(authority: Authority, leaf: x509.Certificate) -> None:
    """A request is read to its serial number, CertID hash and nonce."""
    query = read_ocsp_request(
        build_ocsp_request(leaf, authority.intermediate), issuer=authority.intermediate
    )
    assert query.serial_number == leaf.serial_number
    assert isinstance(query.hash_algorithm, hashes.SHA1)
    assert query.nonce is None

    sha256 = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(leaf, authority.intermediate, hashes.SHA256())
        .add_extension(x509.OCSPNonce(NONCE), critical=False)
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    query = read_ocsp_request(sha256, issuer=authority.intermediate)
    assert isinstance(query.hash_algorithm, hashes.SHA256)
    assert query.nonce == NONCE


def test_read_request_refused(
    materials: Materials,
    authority: Authority,
    leaf: x509.Certificate,
    leaf_key: PrivateKey,
    now: datetime,
) -> None:
    """Garbage is malformed, another issuer's certificate unauthorized."""
    with pytest.raises(OcspRequestError) as malformed:
        read_ocsp_request(b"garbage", issuer=authority.intermediate)
    assert not isinstance(malformed.value, OcspUnauthorizedError)
    assert malformed.value.reason == "ocsp_malformed_request"
    status = ocsp.load_der_ocsp_response(ocsp_error_response(malformed.value))
    assert status.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST

    other = materials(KeyAlgorithm.EC_P384)
    stranger = make_authority(other, make_policy()).issue(
        issue_request(leaf_key.public_key()), now
    )
    with pytest.raises(OcspUnauthorizedError) as unauthorized:
        read_ocsp_request(
            build_ocsp_request(stranger, other.intermediate_certificate),
            issuer=authority.intermediate,
        )
    assert isinstance(unauthorized.value, PkiError)
    assert unauthorized.value.reason == "ocsp_unauthorized"
    status = ocsp.load_der_ocsp_response(ocsp_error_response(unauthorized.value))
    assert status.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_request_for_two_certificates_is_malformed(
    authority: Authority,
    leaf: x509.Certificate,
    leaf_key: PrivateKey,
    now: datetime,
    openssl: OpenSsl,
) -> None:
    """One certificate per request, as RFC 5019 profiles it; two are refused."""
    sibling = authority.issue(issue_request(leaf_key.public_key()), now)
    openssl.write_certificates("intermediate.pem", authority.intermediate)
    openssl.write_certificates("leaf.pem", leaf)
    openssl.write_certificates("sibling.pem", sibling)
    openssl.ok(
        "ocsp",
        "-issuer",
        "intermediate.pem",
        "-cert",
        "leaf.pem",
        "-cert",
        "sibling.pem",
        "-reqout",
        "request.der",
    )
    with pytest.raises(OcspRequestError):
        read_ocsp_request(
            (openssl.directory / "request.der").read_bytes(),
            issuer=authority.intermediate,
        )


@pytest.mark.parametrize(
    ("issued", "revoked", "status"),
    [
        (True, False, ocsp.OCSPCertStatus.GOOD),
        (False, False, ocsp.OCSPCertStatus.UNKNOWN),
        (True, True, ocsp.OCSPCertStatus.REVOKED),
    ],
)
def test_sign_through_a_signing_key(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    now: datetime,
    issued: bool,
    revoked: bool,
    status: ocsp.OCSPCertStatus,
) -> None:
    """The issuer signs through its signing key, in the query's hash, nonce echoed."""
    signer = CountingSigner(ec_material.intermediate_key)
    query = OcspQuery(
        serial_number=leaf.serial_number, hash_algorithm=hashes.SHA256(), nonce=NONCE
    )
    entry = RevokedEntry(
        serial_number=leaf.serial_number,
        revoked_at=now - timedelta(minutes=5),
        reason=RevocationReason.PRIVILEGE_WITHDRAWN,
    )
    response = sign_ocsp_response(
        query,
        issuer=authority.intermediate,
        signing_key=signer,
        revoked=entry if revoked else None,
        issued=issued,
        now=now,
    )
    assert signer.signed == 1
    parsed = ocsp.load_der_ocsp_response(response)
    assert parsed.certificate_status is status
    assert isinstance(parsed.hash_algorithm, hashes.SHA256)
    assert parsed.this_update_utc == now
    assert parsed.next_update_utc == now + OCSP_LIFETIME
    assert parsed.certificates == []
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == (
        NONCE
    )
    answer = read(response, leaf, ec_material, now, NONCE)
    if status is ocsp.OCSPCertStatus.REVOKED:
        assert answer.reason is RevocationReason.PRIVILEGE_WITHDRAWN
        assert answer.revoked_at == entry.revoked_at
    elif status is ocsp.OCSPCertStatus.UNKNOWN:
        assert answer == unknown("the responder does not know the certificate")
    else:
        assert answer.status is RevocationStatus.GOOD


def test_sign_as_a_delegated_responder(
    authority: Authority,
    ec_material: AuthorityMaterial,
    leaf: x509.Certificate,
    responder_key: PrivateKey,
    now: datetime,
) -> None:
    """A delegated responder signs with its own key and sends its certificate."""
    certificate = delegated_responder(
        authority.intermediate, ec_material.intermediate_key, responder_key, now
    )
    response = sign_ocsp_response(
        OcspQuery(serial_number=leaf.serial_number, hash_algorithm=SHA1),
        issuer=authority.intermediate,
        signing_key=PrivateKeySigner(responder_key),
        revoked=None,
        issued=True,
        now=now,
        responder_certificate=certificate,
    )
    parsed = ocsp.load_der_ocsp_response(response)
    assert parsed.certificates == [certificate]
    assert len(parsed.extensions) == 0
    assert read(response, leaf, ec_material, now).status is RevocationStatus.GOOD


def test_try_later() -> None:
    """A responder that cannot answer now says tryLater, and nothing else."""
    data = unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.TRY_LATER)
    parsed = ocsp.load_der_ocsp_response(data)
    assert parsed.response_status is ocsp.OCSPResponseStatus.TRY_LATER
