"""Helpers shared by the PKI core tests."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path
import subprocess

from cryptography import x509
from cryptography.x509.oid import NameOID

from custom_components.home_pki.pki.authority import (
    Authority,
    AuthorityMaterial,
    IssueRequest,
    new_serial_number,
)
from custom_components.home_pki.pki.inspect import certificate_to_pem
from custom_components.home_pki.pki.keys import (
    PrivateKey,
    PrivateKeySigner,
    PublicKey,
)
from custom_components.home_pki.pki.policy import Policy

CRL_URL = "http://homeassistant.local:8123/api/home_pki/entry/crl"
OCSP_URL = "http://homeassistant.local:8123/api/home_pki/entry/ocsp"
CA_ISSUERS_URL = "http://homeassistant.local:8123/api/home_pki/entry/ca.pem"


def make_policy() -> Policy:
    """Return the policy a new home authority starts with."""
    return Policy(
        permitted_dns_domains=("home.arpa", "local", "lan", "internal"),
        permitted_ip_ranges=tuple(
            ip_network(value)
            for value in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
        ),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class OpenSsl:
    """Run the openssl command line on files in one directory."""

    directory: Path

    def write(self, name: str, data: bytes | str) -> Path:
        """Write a file for openssl to read."""
        path = self.directory / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def write_certificates(self, name: str, *certificates: x509.Certificate) -> Path:
        """Write certificates as one PEM file."""
        return self.write(name, "".join(map(certificate_to_pem, certificates)))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run openssl, returning its exit status and output without raising."""
        return subprocess.run(
            ["openssl", *args],
            cwd=self.directory,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    def ok(self, *args: str) -> str:
        """Run openssl, fail the test unless it succeeds, and return its stdout."""
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout


def make_authority(material: AuthorityMaterial, policy: Policy) -> Authority:
    """Wrap authority material in an Authority with every locator URL set."""
    return Authority(
        root=material.root_certificate,
        intermediate=material.intermediate_certificate,
        signing_key=PrivateKeySigner(material.intermediate_key),
        policy=policy,
        crl_url=CRL_URL,
        ocsp_url=OCSP_URL,
        ca_issuers_url=CA_ISSUERS_URL,
    )


def issue_request(
    public_key: PublicKey,
    *,
    common_name: str = "NAS",
    dns_names: tuple[str, ...] = ("nas.home.arpa",),
    ip_addresses: tuple[IPv4Address | IPv6Address, ...] = (
        IPv4Address("192.168.1.20"),
    ),
    validity_days: int = 90,
    serial_number: int | None = None,
    server_auth: bool = True,
    client_auth: bool = True,
) -> IssueRequest:
    """Build an issue request with defaults inside the home policy."""
    return IssueRequest(
        common_name=common_name,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        public_key=public_key,
        validity_days=validity_days,
        serial_number=new_serial_number(()) if serial_number is None else serial_number,
        server_auth=server_auth,
        client_auth=client_auth,
    )


def name(common_name: str) -> x509.Name:
    """Build a distinguished name of one common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def build_certificate(
    *,
    subject: x509.Name,
    public_key: PublicKey,
    issuer: x509.Name,
    issuer_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    serial_number: int = 1,
) -> x509.Certificate:
    """Sign a certificate with exactly the given extensions, bypassing any policy."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial_number)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return PrivateKeySigner(issuer_key).sign_certificate(builder)
