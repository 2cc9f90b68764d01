"""Certificates for watching tests: foreign CAs, odd leaves, served chains."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

type Key = ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    """Build a distinguished name of one common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> Key:
    """Generate an EC P-256 key."""
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True, kw_only=True, slots=True)
class Issued:
    """A leaf certificate with its key and the chain a server sends with it."""

    key: Key
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @property
    def key_pem(self) -> bytes:
        """Return the key in PEM."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def chain_pem(self) -> bytes:
        """Return the leaf and its chain in PEM."""
        return b"".join(
            certificate.public_bytes(serialization.Encoding.PEM)
            for certificate in (self.certificate, *self.chain)
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ForeignAuthority:
    """A root and an intermediate of a CA other than the home one."""

    root_key: Key
    root: x509.Certificate
    intermediate_key: Key
    intermediate: x509.Certificate

    @property
    def root_pem(self) -> str:
        """Return the root in PEM."""
        return self.root.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def intermediate_pem(self) -> str:
        """Return the intermediate in PEM."""
        return self.intermediate.public_bytes(serialization.Encoding.PEM).decode()

    def issue(
        self,
        now: datetime,
        *,
        names: Sequence[str] = ("localhost",),
        addresses: Sequence[str] = ("127.0.0.1",),
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        send_intermediate: bool = True,
        crl_url: str | None = None,
        ocsp_url: str | None = None,
        ca_issuers_url: str | None = None,
        key: Key | None = None,
    ) -> Issued:
        """Issue a server certificate from the intermediate."""
        key = key or _key()
        builder = _leaf_builder(
            key,
            names,
            addresses,
            not_before or now - timedelta(days=1),
            not_after or now + timedelta(days=60),
        ).issuer_name(self.intermediate.subject)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.intermediate_key.public_key()
            ),
            critical=False,
        )
        if crl_url:
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(crl_url)],
                            None,
                            None,
                            None,
                        )
                    ]
                ),
                critical=False,
            )
        access = []
        if ocsp_url:
            access.append(
                x509.AccessDescription(
                    x509.AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(ocsp_url),
                )
            )
        if ca_issuers_url:
            access.append(
                x509.AccessDescription(
                    x509.AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier(ca_issuers_url),
                )
            )
        if access:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(access), critical=False
            )
        certificate = builder.sign(self.intermediate_key, hashes.SHA256())
        return Issued(
            key=key,
            certificate=certificate,
            chain=(self.intermediate,) if send_intermediate else (),
        )


def make_authority(name: str, now: datetime) -> ForeignAuthority:
    """Create a root and an intermediate for a CA called name."""
    root_key, intermediate_key = _key(), _key()
    root = _ca_builder(
        _name(f"{name} Root"), _name(f"{name} Root"), root_key, now
    ).sign(root_key, hashes.SHA256())
    intermediate = (
        _ca_builder(_name(f"{name} Intermediate"), root.subject, intermediate_key, now)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    return ForeignAuthority(
        root_key=root_key,
        root=root,
        intermediate_key=intermediate_key,
        intermediate=intermediate,
    )


def self_signed(
    now: datetime,
    *,
    names: Sequence[str] = ("localhost",),
    addresses: Sequence[str] = ("127.0.0.1",),
) -> Issued:
    """Make a self-signed server certificate, as a router's web UI has."""
    key = _key()
    builder = _leaf_builder(
        key, names, addresses, now - timedelta(days=1), now + timedelta(days=300)
    ).issuer_name(_name(names[0] if names else "router"))
    return Issued(key=key, certificate=builder.sign(key, hashes.SHA256()), chain=())


def _ca_builder(
    subject: x509.Name, issuer: x509.Name, key: Key, now: datetime
) -> x509.CertificateBuilder:
    """Start a CA certificate valid for ten years."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
    )


def _leaf_builder(
    key: Key,
    names: Sequence[str],
    addresses: Sequence[str],
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    """Start a server certificate for names and addresses."""
    alternative: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alternative.extend(x509.IPAddress(ip_address(value)) for value in addresses)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(names[0] if names else addresses[0]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
    )
