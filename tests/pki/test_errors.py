"""Tests of the PKI core's exception types."""

import pytest

from custom_components.home_pki.pki.errors import (
    ChainError,
    CsrSignatureError,
    InvalidCertificateError,
    InvalidCsrError,
    InvalidKeyError,
    InvalidNameError,
    NameNotPermittedError,
    PkiError,
    ValidityError,
    WeakKeyError,
)


@pytest.mark.parametrize(
    ("error_class", "reason"),
    [
        (PkiError, "pki_error"),
        (InvalidNameError, "invalid_name"),
        (WeakKeyError, "weak_key"),
        (InvalidCsrError, "invalid_csr"),
        (CsrSignatureError, "csr_signature_invalid"),
        (ValidityError, "validity_out_of_range"),
        (InvalidCertificateError, "invalid_certificate"),
        (InvalidKeyError, "invalid_key"),
        (ChainError, "invalid_chain"),
    ],
)
def test_reason_and_detail(error_class: type[PkiError], reason: str) -> None:
    """Each error carries its stable reason key and an optional detail."""
    error = error_class("some detail")
    assert isinstance(error, PkiError)
    assert error.reason == reason
    assert error.detail == "some detail"
    assert str(error) == "some detail"

    bare = error_class()
    assert bare.detail == ""
    assert str(bare) == reason


def test_name_not_permitted_keeps_the_name() -> None:
    """The refused name is kept for the message shown to the user."""
    error = NameNotPermittedError("google.com")
    assert error.reason == "name_not_permitted"
    assert error.name == "google.com"
    assert error.detail == "google.com"
    assert isinstance(error, PkiError)
