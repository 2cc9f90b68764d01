"""Judge a watched certificate: its chain, its time, its name and the policy."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
import re
import ssl
from typing import Self

from cryptography import x509

from .errors import ChainError, InvalidCertificateError
from .inspect import common_name_of, issued_by, verify_chain
from .paths import MAX_PATH_LENGTH, host_matches
from .policy import (
    FINDING_LIFETIME_TOO_LONG,
    FINDING_SHA1_SIGNATURE,
    FINDING_WEAK_KEY,
    Policy,
    certificate_findings,
)
from .revocation import ca_issuer_urls

REASON_EXPIRED = "expired"
REASON_NOT_YET_VALID = "not_yet_valid"
REASON_HOSTNAME_MISMATCH = "hostname_mismatch"
REASON_UNKNOWN_ISSUER = "unknown_issuer"
REASON_SELF_SIGNED = "self_signed"
REASON_MISSING_INTERMEDIATE = "missing_intermediate"
REASON_UNTRUSTED_CHAIN = "untrusted_chain"

_REASON_ORDER = (
    REASON_EXPIRED,
    REASON_NOT_YET_VALID,
    REASON_HOSTNAME_MISMATCH,
    REASON_SELF_SIGNED,
    REASON_UNKNOWN_ISSUER,
    REASON_MISSING_INTERMEDIATE,
    REASON_UNTRUSTED_CHAIN,
    FINDING_WEAK_KEY,
    FINDING_SHA1_SIGNATURE,
    FINDING_LIFETIME_TOO_LONG,
)
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)

type HostIdentifier = str | IPv4Address | IPv6Address


@dataclass(frozen=True, kw_only=True, slots=True)
class TrustBundle:
    """The certificates a watched chain may lead to, and those it may pass."""

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_certificates(cls, certificates: Iterable[x509.Certificate]) -> Self:
        """Trust the top of each chain in a bundle; keep the rest to build paths.

        A certificate that another one of the bundle issued is an intermediate;
        every other one is an anchor: a self-signed root, but also a lone
        intermediate or leaf, which then means "trust exactly this certificate".
        """
        unique = list(dict.fromkeys(filter(_readable, certificates)))
        issued = [
            certificate
            for certificate in unique
            if any(
                other != certificate and issued_by(certificate, other)
                for other in unique
            )
        ]
        anchors = [certificate for certificate in unique if certificate not in issued]
        if not anchors:
            # Authorities that only cross-sign each other: trust them all.
            return cls(anchors=tuple(unique), intermediates=())
        return cls(anchors=tuple(anchors), intermediates=tuple(issued))


@cache
def system_trust() -> TrustBundle:
    """Return the roots that certifi or the operating system trusts, read once.

    This reads a file: call it outside the event loop.
    """
    return _bundle_at(_system_bundle_path())


def _system_bundle_path() -> Path | None:
    """Locate certifi's bundle, or else the one OpenSSL was built to use."""
    try:
        import certifi  # noqa: PLC0415 - optional, so looked for at call time
    except ImportError:
        cafile = ssl.get_default_verify_paths().cafile
        return None if cafile is None else Path(cafile)
    return Path(certifi.where())


def _bundle_at(path: Path | None) -> TrustBundle:
    """Trust every PEM certificate of a file that parses; none without the file."""
    try:
        data = b"" if path is None else path.read_bytes()
    except OSError:
        data = b""
    found = (_load_pem(block) for block in _PEM_CERTIFICATE.findall(data))
    return TrustBundle(anchors=tuple(item for item in found if item is not None))


def _load_pem(block: bytes) -> x509.Certificate | None:
    """Load one PEM certificate, or return None."""
    try:
        return x509.load_pem_x509_certificate(block)
    except ValueError:
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class Assessment:
    """What is wrong with a presented chain, and the path it was judged by."""

    reasons: tuple[str, ...]
    path: tuple[x509.Certificate, ...]
    issuer: x509.Certificate | None
    completed_from: tuple[x509.Certificate, ...] = ()
    missing_issuer_urls: tuple[str, ...] = ()
    detail: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class _Verdict:
    """The chain part of an assessment."""

    reasons: tuple[str, ...]
    path: tuple[x509.Certificate, ...]
    issuer: x509.Certificate | None = None
    completed_from: tuple[x509.Certificate, ...] = ()
    missing_issuer_urls: tuple[str, ...] = ()
    detail: str | None = None


def assess_chain(
    presented: Sequence[x509.Certificate],
    *,
    trust: TrustBundle,
    now: datetime,
    hostname: str | None,
    policy: Policy | None,
    extra_intermediates: Sequence[x509.Certificate] = (),
) -> Assessment:
    """Judge a presented chain, its leaf first, against a trust bundle at a time.

    Each reason is told apart from the others:
    - expired, not_yet_valid: the leaf's own time. The chain is verified at a
      moment inside the leaf's validity instead, and must also be valid now.
    - hostname_mismatch: RFC 6125 matching, the common name only counting for a
      leaf without a subjectAltName; the chain is then verified without a name.
    - self_signed: a self-signed leaf that is not an anchor.
    - unknown_issuer: no path of names and signatures reaches an anchor. Whether
      the server left out an intermediate or the chain ends at a root nobody
      trusts cannot be told without the missing certificate, so it is not
      called missing_intermediate; missing_issuer_urls gives the AIA caIssuers
      URLs of the top certificate, to fetch and pass in as extra_intermediates.
    - missing_intermediate: the path is trusted, but only through certificates
      the server did not present (completed_from), from the bundle or extras.
    - untrusted_chain: a path exists, but the verifier refused it (detail).
    - weak_key, sha1_signature, lifetime_too_long: the policy's findings of the
      leaf, and the weak keys and SHA-1 signatures above it, but not the
      signature of an anchor or of a self-signed certificate.
    A leaf that is itself an anchor is pinned: trusted whatever the verifier
    thinks of its form, with its time, name and policy still checked.
    """
    if not presented:
        raise InvalidCertificateError("no certificate presented")
    leaf = presented[0]
    reasons = _time_reasons(leaf, now)

    if not _readable(leaf):
        verdict = _Verdict(
            reasons=(REASON_UNTRUSTED_CHAIN,),
            path=(leaf,),
            detail=_unreadable_detail(leaf),
        )
    else:
        name = None if hostname is None else _host_identifier(hostname)
        if name is not None and not _names_host(leaf, name):
            reasons.append(REASON_HOSTNAME_MISMATCH)
            name = None
        verdict = _judge_chain(
            leaf,
            presented[1:],
            extra_intermediates,
            trust,
            now=now,
            dns_name=None if name is None else str(name),
        )
    reasons.extend(verdict.reasons)
    if policy is not None:
        reasons.extend(_policy_findings(policy, verdict.path, trust.anchors))

    return Assessment(
        reasons=_ordered(reasons),
        path=verdict.path,
        issuer=verdict.issuer,
        completed_from=verdict.completed_from,
        missing_issuer_urls=verdict.missing_issuer_urls,
        detail=verdict.detail,
    )


def _time_reasons(leaf: x509.Certificate, now: datetime) -> list[str]:
    """Tell whether the leaf is not yet or no longer valid."""
    if now < leaf.not_valid_before_utc:
        return [REASON_NOT_YET_VALID]
    if now > leaf.not_valid_after_utc:
        return [REASON_EXPIRED]
    return []


def _host_identifier(hostname: str) -> HostIdentifier:
    """Turn a host name or an IP address text into what a SAN would hold."""
    text = hostname.strip().removeprefix("[").removesuffix("]")
    try:
        return ip_address(text)
    except ValueError:
        pass
    name = text.lower().removesuffix(".")
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _names_host(certificate: x509.Certificate, host: HostIdentifier) -> bool:
    """Tell whether a certificate names a host, as RFC 6125 §6 matches them.

    The common name counts only when there is no subjectAltName (§6.4.4).
    """
    san = _subject_alternative_name(certificate)
    if san is None:
        return _common_name_names(certificate, host)
    if isinstance(host, str):
        return any(
            host_matches(host, name.lower())
            for name in san.get_values_for_type(x509.DNSName)
        )
    return host in san.get_values_for_type(x509.IPAddress)


def _common_name_names(certificate: x509.Certificate, host: HostIdentifier) -> bool:
    """Tell whether a certificate's common name is the host."""
    common_name = common_name_of(certificate.subject)
    if common_name is None:
        return False
    if isinstance(host, str):
        return host_matches(host, common_name.lower().removesuffix("."))
    try:
        return ip_address(common_name) == host
    except ValueError:
        return False


def _judge_chain(
    leaf: x509.Certificate,
    presented: Sequence[x509.Certificate],
    extra: Sequence[x509.Certificate],
    trust: TrustBundle,
    *,
    now: datetime,
    dns_name: str | None,
) -> _Verdict:
    """Find and verify the leaf's path to an anchor, or tell why there is none."""
    pool = [
        certificate for certificate in dict.fromkeys(presented) if certificate != leaf
    ]
    known = [
        certificate
        for certificate in dict.fromkeys((*extra, *trust.intermediates))
        if certificate not in pool and certificate != leaf
    ]
    if leaf in trust.anchors:
        return _pinned(leaf, [*pool, *known, *trust.anchors])

    sent = list(filter(_readable, pool))
    attempts = [sent, [*sent, *filter(_readable, known)]] if known else [sent]
    moment = min(max(now, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
    detail = ""
    for intermediates in attempts:
        try:
            path = verify_chain(
                leaf,
                intermediates=intermediates,
                roots=trust.anchors,
                now=moment,
                dns_name=dns_name,
            )
        except ChainError as error:
            detail = error.detail
        else:
            return _trusted(tuple(path), sent, trust.anchors, now)
    return _refused(leaf, [*pool, *known], trust.anchors, detail)


def _pinned(leaf: x509.Certificate, candidates: Sequence[x509.Certificate]) -> _Verdict:
    """Trust a leaf that is an anchor itself, and name its issuer when known."""
    issuer = None
    if not _self_signed(leaf):
        issuer = next(
            (
                candidate
                for candidate in candidates
                if candidate != leaf and issued_by(leaf, candidate)
            ),
            None,
        )
    return _Verdict(reasons=(), path=(leaf,), issuer=issuer)


def _trusted(
    path: tuple[x509.Certificate, ...],
    sent: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    now: datetime,
) -> _Verdict:
    """Judge a verified path: what it needed beyond what was sent, and its time."""
    completed = tuple(
        certificate
        for certificate in path[1:]
        if certificate not in sent and certificate not in anchors
    )
    reasons = [REASON_MISSING_INTERMEDIATE] if completed else []
    detail = None
    stale = [certificate for certificate in path[1:] if not _valid_at(certificate, now)]
    if stale:
        reasons.append(REASON_UNTRUSTED_CHAIN)
        detail = f"outside its validity: {stale[0].subject.rfc4514_string()}"
    return _Verdict(
        reasons=tuple(reasons),
        path=path,
        issuer=path[1],
        completed_from=completed,
        detail=detail,
    )


def _refused(
    leaf: x509.Certificate,
    candidates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    detail: str,
) -> _Verdict:
    """Tell why no path verified: no issuer, a self-signed leaf, or a bad path."""
    path, reached = _link((leaf,), candidates, anchors, tried=set())
    issuer = path[1] if len(path) > 1 else None
    if reached:
        unreadable = next((item for item in path if not _readable(item)), None)
        return _Verdict(
            reasons=(REASON_UNTRUSTED_CHAIN,),
            path=path,
            issuer=issuer,
            detail=detail if unreadable is None else _unreadable_detail(unreadable),
        )
    if issuer is None and _self_signed(leaf):
        return _Verdict(
            reasons=(REASON_SELF_SIGNED,),
            path=path,
            detail="self-signed and not a trust anchor",
        )

    top = path[-1]
    if _self_signed(top):
        return _Verdict(
            reasons=(REASON_UNKNOWN_ISSUER,),
            path=path,
            issuer=issuer,
            detail=f"not a trust anchor: {top.subject.rfc4514_string()}",
        )
    return _Verdict(
        reasons=(REASON_UNKNOWN_ISSUER,),
        path=path,
        issuer=issuer,
        missing_issuer_urls=ca_issuer_urls(top),
        detail=f"issuer not found: {top.issuer.rfc4514_string()}",
    )


def _link(
    chain: tuple[x509.Certificate, ...],
    candidates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    tried: set[x509.Certificate],
) -> tuple[tuple[x509.Certificate, ...], bool]:
    """Extend a chain by names and signatures, depth first, towards an anchor.

    Return the first path that reaches an anchor, or else the longest chain,
    which ends at a self-signed certificate if it meets one. Each candidate is
    tried once, so a crowd of certificates of one name and key cannot make the
    search try them in every order.
    """
    last = chain[-1]
    anchor = next((item for item in anchors if issued_by(last, item)), None)
    if anchor is not None:
        return (*chain, anchor), True
    longest = chain
    if len(chain) > MAX_PATH_LENGTH or _self_signed(last):
        return longest, False
    for candidate in candidates:
        if candidate in tried or candidate in chain:
            continue
        if issued_by(last, candidate):
            tried.add(candidate)
            found, reached = _link(
                (*chain, candidate), candidates, anchors, tried=tried
            )
            if reached:
                return found, True
            if len(found) > len(longest):
                longest = found
    return longest, False


def _policy_findings(
    policy: Policy,
    path: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> list[str]:
    """List the policy findings of a leaf and of the certificates above it."""
    findings = list(_findings(policy, path[0]))
    for certificate in path[1:]:
        signature_counts = certificate not in anchors and not _self_signed(certificate)
        findings.extend(
            finding
            for finding in _findings(policy, certificate)
            if finding == FINDING_WEAK_KEY
            or (finding == FINDING_SHA1_SIGNATURE and signature_counts)
        )
    return findings


def _findings(policy: Policy, certificate: x509.Certificate) -> tuple[str, ...]:
    """Return a readable certificate's policy findings, and none of another."""
    return certificate_findings(policy, certificate) if _readable(certificate) else ()


def _ordered(reasons: Iterable[str]) -> tuple[str, ...]:
    """Put reasons in their stable order, once each."""
    present = dict.fromkeys(reasons)
    known = [reason for reason in _REASON_ORDER if reason in present]
    return (*known, *(reason for reason in present if reason not in _REASON_ORDER))


def _subject_alternative_name(
    certificate: x509.Certificate,
) -> x509.SubjectAlternativeName | None:
    """Return a readable certificate's subjectAltName, if it has one."""
    try:
        return certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return None


def _readable(certificate: x509.Certificate) -> bool:
    """Tell whether a certificate's extensions parse."""
    return _unreadable_detail(certificate) is None


def _unreadable_detail(certificate: x509.Certificate) -> str | None:
    """Say why a certificate's extensions do not parse, or None when they do."""
    try:
        _ = certificate.extensions
    except (ValueError, x509.DuplicateExtension) as error:
        return f"unreadable certificate {certificate.subject.rfc4514_string()}: {error}"
    return None


def _self_signed(certificate: x509.Certificate) -> bool:
    """Tell whether a certificate names itself as issuer and its key signed it."""
    return issued_by(certificate, certificate)


def _valid_at(certificate: x509.Certificate, now: datetime) -> bool:
    """Tell whether a moment lies inside a certificate's validity."""
    return certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc
