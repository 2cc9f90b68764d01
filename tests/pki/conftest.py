"""Fixtures for the PKI core tests: keys, authorities and an openssl runner."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
import pytest

from custom_components.home_pki.pki.authority import (
    Authority,
    AuthorityMaterial,
    AuthoritySettings,
    create_authority,
)
from custom_components.home_pki.pki.keys import (
    KeyAlgorithm,
    PrivateKey,
    generate_private_key,
)
from custom_components.home_pki.pki.policy import Policy
from tests.pki.common import OpenSsl, issue_request, make_authority, make_policy


@pytest.fixture
def openssl(tmp_path: Path) -> OpenSsl:
    """Return an openssl runner working in the test's temporary directory."""
    return OpenSsl(directory=tmp_path)


@pytest.fixture
def now() -> datetime:
    """Return the current time, since openssl checks certificates against it."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="session")
def policy() -> Policy:
    """Return the default home policy."""
    return make_policy()


@pytest.fixture(scope="session")
def private_keys() -> dict[KeyAlgorithm, PrivateKey]:
    """Return one key of every algorithm, generated once for the session."""
    return {algorithm: generate_private_key(algorithm) for algorithm in KeyAlgorithm}


@pytest.fixture(scope="session")
def materials() -> Callable[[KeyAlgorithm], AuthorityMaterial]:
    """Return a factory of authorities, one per algorithm, created on first use."""
    created: dict[KeyAlgorithm, AuthorityMaterial] = {}
    start = datetime.now(UTC).replace(microsecond=0)

    def material(algorithm: KeyAlgorithm) -> AuthorityMaterial:
        """Return the authority of one algorithm."""
        if algorithm not in created:
            created[algorithm] = create_authority(
                AuthoritySettings(
                    name="Test Home",
                    key_algorithm=algorithm,
                    root_validity_days=3650,
                    intermediate_validity_days=1095,
                    policy=make_policy(),
                ),
                start,
            )
        return created[algorithm]

    return material


@pytest.fixture
def ec_material(
    materials: Callable[[KeyAlgorithm], AuthorityMaterial],
) -> AuthorityMaterial:
    """Return the EC P-256 authority material."""
    return materials(KeyAlgorithm.EC_P256)


@pytest.fixture
def authority(ec_material: AuthorityMaterial, policy: Policy) -> Authority:
    """Return a ready EC P-256 authority."""
    return make_authority(ec_material, policy)


@pytest.fixture
def leaf_key(private_keys: dict[KeyAlgorithm, PrivateKey]) -> PrivateKey:
    """Return an EC P-256 key for leaves."""
    return private_keys[KeyAlgorithm.EC_P256]


@pytest.fixture
def leaf(authority: Authority, leaf_key: PrivateKey, now: datetime) -> x509.Certificate:
    """Return a leaf the EC authority issued for nas.home.arpa and 192.168.1.20."""
    return authority.issue(issue_request(leaf_key.public_key()), now)


@pytest.fixture(scope="session")
def dsa_key() -> dsa.DSAPrivateKey:
    """Return a DSA 2048 key, a type the policy refuses."""
    return dsa.generate_private_key(2048)


@pytest.fixture(scope="session")
def rsa_1024() -> rsa.RSAPrivateKey:
    """Return an RSA key too short for the policy."""
    return rsa.generate_private_key(65537, 1024)  # noqa: S505 - weak on purpose
