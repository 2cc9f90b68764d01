"""Tests of the metadata records and their JSON form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.home_pki.pki.revocation import RevocationReason
from custom_components.home_pki.storage import CertificateRecord, Generation, PkiData

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def generation(serial: int) -> Generation:
    """Return a generation with a placeholder certificate."""
    return Generation(
        serial_number=serial,
        certificate_pem="-----BEGIN CERTIFICATE-----\n...\n",
        issued_at=NOW,
        not_after=NOW + timedelta(days=90),
        key_file=f"{serial:X}.key",
    )


def test_json_form_follows_every_change() -> None:
    """A cached JSON form is dropped by any assignment and the data round-trips."""
    record = CertificateRecord(
        certificate_id="camera", jitter=0.25, generations=(generation(10),)
    )
    data = PkiData(root_pem="root", intermediate_pem="intermediate", serials={10})
    data.certificates["camera"] = record
    first = data.as_dict()
    assert data.as_dict()["certificates"][0] is first["certificates"][0]

    record.generations = (*record.generations, generation(11))
    record.revocation_reason = RevocationReason.KEY_COMPROMISE
    record.revoked_at = NOW
    data.serials.add(11)
    second = data.as_dict()
    stored = second["certificates"][0]
    assert [item["serial_number"] for item in stored["generations"]] == ["a", "b"]
    assert stored["revocation_reason"] == "key_compromise"
    assert second["serials"] == ["a", "b"]

    loaded = PkiData.from_dict(second)
    assert loaded.certificates["camera"].generations == record.generations
    assert loaded.certificates["camera"].revoked_at == NOW
    assert loaded.serials == {10, 11}
    assert loaded.as_dict() == second
