"""Every key the code raises, shows or registers has its English text and icon."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re
import string

import yaml

from custom_components.home_pki.binary_sensor import PROBLEM
from custom_components.home_pki.button import RENEW
from custom_components.home_pki.const import CertificateStatus
from custom_components.home_pki.pki.errors import PkiError
from custom_components.home_pki.sensor import AUTHORITY_SENSORS, CERTIFICATE_SENSORS

PACKAGE = Path(__file__).parent.parent / "custom_components" / "home_pki"
STRINGS = json.loads((PACKAGE / "translations" / "en.json").read_text())
ICONS = json.loads((PACKAGE / "icons.json").read_text())


def placeholders(text: str) -> set[str]:
    """Return the placeholders a translated text uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def raised_keys() -> dict[str, set[str]]:
    """Return each translation key the HA layer raises, with its placeholders."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            if name == "raise_validation" and isinstance(node.args[0], ast.Constant):
                found[node.args[0].value] = {k for k in keywords if k}
            elif name in {"HomeAssistantError", "ConfigEntryError"}:
                key = keywords["translation_key"]
                assert isinstance(key, ast.Constant)
                given = keywords["translation_placeholders"]
                assert isinstance(given, ast.Dict)
                found[key.value] = {item.value for item in given.keys}  # type: ignore[union-attr]
    return found


def all_errors(cls: type[PkiError] = PkiError) -> list[type[PkiError]]:
    """Return a PKI error class and all its subclasses."""
    return [cls, *(sub for child in cls.__subclasses__() for sub in all_errors(child))]


def test_raised_errors_are_translated() -> None:
    """Each error raised by the HA layer or mapped from the PKI core has a text."""
    exceptions = STRINGS["exceptions"]
    raised = raised_keys()
    assert {"renewal_failed", "not_revocable", "authority_unreadable"} <= set(raised)
    for key, given in raised.items():
        assert key in exceptions, key
        assert placeholders(exceptions[key]["message"]) <= given, key
    for error in all_errors():
        assert error.reason in exceptions, error.reason
        assert placeholders(exceptions[error.reason]["message"]) <= {"detail"}


def test_form_errors_are_translated() -> None:
    """Each error a form can show has a text in that form's section."""
    source = (PACKAGE / "config_flow.py").read_text()
    keys = set(re.findall(r'errors\[[^\]]+\] = "([a-z_]+)"', source))
    assert keys
    known = set(STRINGS["config"]["error"]).union(
        STRINGS["options"]["error"],
        *(section["error"] for section in STRINGS["config_subentries"].values()),
    )
    assert keys <= known
    file_errors = STRINGS["config_subentries"]["file"]["error"]
    assert {"file_missing", "file_unreadable", "file_invalid"} <= set(file_errors)


def test_subentry_kinds_are_named() -> None:
    """Each kind of certificate has its add button, form texts and field names."""
    for kind, section in STRINGS["config_subentries"].items():
        assert section["entry_type"], kind
        assert set(section["initiate_flow"]) == {"user", "reconfigure"}, kind
        for step in section["step"].values():
            assert set(step["data_description"]) <= set(step["data"]), kind


def test_actions_are_described() -> None:
    """Each action and each of its fields has a name and a description."""
    services = yaml.safe_load((PACKAGE / "services.yaml").read_text())
    texts = STRINGS["services"]
    assert set(services) == set(texts)
    for service, spec in services.items():
        assert texts[service]["name"]
        assert texts[service]["description"]
        assert set(spec.get("fields", {})) == set(texts[service].get("fields", {}))
        assert service in ICONS["services"]


def test_entities_have_names_and_icons() -> None:
    """Each entity description has a translated name and an icon."""
    descriptions = {
        "sensor": [*CERTIFICATE_SENSORS, *AUTHORITY_SENSORS],
        "binary_sensor": [PROBLEM],
        "button": [RENEW],
    }
    for platform, items in descriptions.items():
        for description in items:
            key = description.translation_key
            assert STRINGS["entity"][platform][key]["name"], key
            assert key in ICONS["entity"][platform], key
    states = STRINGS["entity"]["sensor"]["status"]["state"]
    assert set(states) == {status.value for status in CertificateStatus}
