"""Tests of giving the intermediate a new certificate under the same root."""

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa
import pytest

from custom_components.home_pki.pki.authority import (
    CA_BACKDATE,
    AuthorityMaterial,
    AuthoritySettings,
    create_authority,
    renew_intermediate,
)
from custom_components.home_pki.pki.errors import (
    AuthorityExpiredError,
    ChainError,
    ValidityError,
)
from custom_components.home_pki.pki.inspect import verify_chain
from custom_components.home_pki.pki.keys import (
    KeyAlgorithm,
    PrivateKeySigner,
    generate_private_key,
)
from custom_components.home_pki.pki.policy import Policy
from tests.pki.common import build_certificate, issue_request, make_authority

START = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
LATER = START + timedelta(days=150)


@pytest.fixture(scope="module")
def material() -> AuthorityMaterial:
    """Return an authority whose intermediate lives 200 days."""
    return create_authority(
        AuthoritySettings(
            name="Test Home",
            key_algorithm=KeyAlgorithm.EC_P256,
            root_validity_days=3650,
            intermediate_validity_days=200,
            policy=Policy(
                permitted_dns_domains=("home.arpa",),
                permitted_ip_ranges=(),
            ),
        ),
        START,
    )


def renew(material: AuthorityMaterial, **changes: object) -> x509.Certificate:
    """Renew the intermediate of an authority 150 days after its start."""
    arguments: dict[str, object] = {
        "root": material.root_certificate,
        "root_key": PrivateKeySigner(material.root_key),
        "intermediate": material.intermediate_certificate,
        "validity_days": 200,
        "now": LATER,
    } | changes
    return renew_intermediate(**arguments)  # type: ignore[arg-type]


def extension[T: x509.ExtensionType](certificate: x509.Certificate, kind: type[T]) -> T:
    """Return the value of one extension of a certificate."""
    return certificate.extensions.get_extension_for_class(kind).value


def test_same_name_key_and_constraints_to_a_later_end(
    material: AuthorityMaterial,
) -> None:
    """The new certificate differs only in serial number and validity."""
    old = material.intermediate_certificate
    new = renew(material)

    assert new.subject == old.subject
    assert new.issuer == material.root_certificate.subject
    assert new.public_key() == old.public_key()
    assert new.serial_number != old.serial_number
    assert new.not_valid_before_utc == LATER - CA_BACKDATE
    assert new.not_valid_after_utc == LATER + timedelta(days=200)
    for kind in (
        x509.NameConstraints,
        x509.SubjectKeyIdentifier,
        x509.AuthorityKeyIdentifier,
        x509.BasicConstraints,
        x509.KeyUsage,
    ):
        assert extension(new, kind) == extension(old, kind), kind
    new.verify_directly_issued_by(material.root_certificate)


def test_earlier_leaves_chain_to_the_new_certificate(
    material: AuthorityMaterial,
) -> None:
    """A leaf the intermediate signed before verifies with its new certificate."""
    policy = Policy(permitted_dns_domains=("home.arpa",), permitted_ip_ranges=())
    leaf_key = generate_private_key(KeyAlgorithm.EC_P256)
    leaf = make_authority(material, policy).issue(
        issue_request(leaf_key.public_key(), ip_addresses=(), validity_days=90),
        LATER - timedelta(days=10),
    )
    new = renew(material)

    path = verify_chain(
        leaf,
        intermediates=[new],
        roots=[material.root_certificate],
        now=LATER + timedelta(days=40),
    )
    assert path[1] == new


def test_never_past_the_root(material: AuthorityMaterial) -> None:
    """The new certificate ends with the root at the latest; no gain is refused."""
    root_end = material.root_certificate.not_valid_after_utc
    capped = renew(material, validity_days=3650)
    assert capped.not_valid_after_utc == root_end

    with pytest.raises(AuthorityExpiredError):
        renew(material, intermediate=capped, now=root_end - timedelta(days=1))


@pytest.mark.parametrize("days", [0, -5])
def test_validity_must_be_positive(material: AuthorityMaterial, days: int) -> None:
    """A lifetime of no days is refused."""
    with pytest.raises(ValidityError):
        renew(material, validity_days=days)


def test_only_the_root_that_signed_it(material: AuthorityMaterial) -> None:
    """Another key, or an intermediate of another root, is refused."""
    other = create_authority(
        AuthoritySettings(
            name="Other",
            key_algorithm=KeyAlgorithm.EC_P256,
            root_validity_days=3650,
            intermediate_validity_days=200,
            policy=Policy(permitted_dns_domains=("lan",), permitted_ip_ranges=()),
        ),
        START,
    )
    with pytest.raises(ChainError):
        renew(material, root_key=PrivateKeySigner(other.root_key))
    with pytest.raises(ChainError):
        renew(material, intermediate=other.intermediate_certificate)


def test_unsupported_intermediate_key_is_refused(
    material: AuthorityMaterial,
) -> None:
    """An intermediate whose key type Home PKI does not sign with is refused."""
    key = dsa.generate_private_key(2048)
    intermediate = build_certificate(
        subject=material.intermediate_certificate.subject,
        public_key=key.public_key(),  # type: ignore[arg-type]
        issuer=material.root_certificate.subject,
        issuer_key=material.root_key,
        not_before=START,
        not_after=START + timedelta(days=200),
        extensions=[
            (extension(material.intermediate_certificate, x509.NameConstraints), True)
        ],
    )
    with pytest.raises(ChainError):
        renew(material, intermediate=intermediate)
