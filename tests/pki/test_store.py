"""Tests of atomic file writes and file removal."""

from collections.abc import Iterator
import os
from pathlib import Path
import stat

import pytest

from custom_components.home_pki.pki.store import (
    remove_file,
    write_atomic,
    write_private,
)


def mode_of(path: Path) -> int:
    """Return the permission bits of a path."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[None]:
    """Run a test under the permissive umask 0, restoring the old one afterwards."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("umask")
def test_write_atomic_creates_parents_and_file(tmp_path: Path) -> None:
    """A public file is written whole, 0644, under created directories."""
    path = tmp_path / "a" / "b" / "chain.pem"
    write_atomic(path, b"first")
    assert path.read_bytes() == b"first"
    assert mode_of(path) == 0o644
    assert mode_of(path.parent) == 0o755
    assert sorted(p.name for p in path.parent.iterdir()) == ["chain.pem"]


@pytest.mark.usefixtures("umask")
def test_write_atomic_replaces_and_keeps_mode(tmp_path: Path) -> None:
    """A rewrite replaces the content and applies the requested mode."""
    path = tmp_path / "cert.pem"
    write_atomic(path, b"old")
    write_atomic(path, b"new", mode=0o640)
    assert path.read_bytes() == b"new"
    assert mode_of(path) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["cert.pem"]


@pytest.mark.usefixtures("umask")
def test_write_private_is_owner_only(tmp_path: Path) -> None:
    """Key material is 0600 in directories created 0700."""
    path = tmp_path / "storage" / "home_pki" / "entry" / "key.pem"
    write_private(path, b"key material")
    assert path.read_bytes() == b"key material"
    assert mode_of(path) == 0o600
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
        assert mode_of(folder) == 0o700


def test_write_private_overrides_a_strict_umask_for_the_file_only(
    tmp_path: Path,
) -> None:
    """The file mode is exact whatever the umask; the umask only narrows it."""
    previous = os.umask(0o077)
    try:
        write_atomic(tmp_path / "public.pem", b"x")
        write_private(tmp_path / "private.pem", b"y")
    finally:
        os.umask(previous)
    assert mode_of(tmp_path / "public.pem") == 0o644
    assert mode_of(tmp_path / "private.pem") == 0o600


def test_write_atomic_into_existing_directory(tmp_path: Path) -> None:
    """An existing parent directory is used as it is."""
    tmp_path.chmod(0o751)
    write_private(tmp_path / "key.pem", b"z")
    assert mode_of(tmp_path) == 0o751


def test_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    """When the rename fails, the old target is untouched and no temporary remains."""
    target = tmp_path / "cert.pem"
    target.mkdir()
    (target / "inside").write_bytes(b"keep")

    with pytest.raises(OSError, match=r"directory|Directory"):
        write_atomic(target, b"new")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["cert.pem"]
    assert (target / "inside").read_bytes() == b"keep"


def test_remove_file(tmp_path: Path) -> None:
    """A file is removed, and a missing one is no error."""
    path = tmp_path / "old.pem"
    path.write_bytes(b"x")
    remove_file(path)
    assert not path.exists()
    remove_file(path)
