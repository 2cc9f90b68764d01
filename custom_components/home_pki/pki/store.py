"""Atomic file writes, with owner-only permissions for key material."""

from contextlib import suppress
import os
from pathlib import Path
import secrets

PUBLIC_FILE_MODE = 0o644
PUBLIC_DIR_MODE = 0o755
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def write_atomic(path: Path, data: bytes, *, mode: int = PUBLIC_FILE_MODE) -> None:
    """Replace a file's content so a reader sees the old or the new data, whole."""
    _write(path, data, file_mode=mode, dir_mode=PUBLIC_DIR_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Atomically write key material readable by its owner only."""
    _write(path, data, file_mode=PRIVATE_FILE_MODE, dir_mode=PRIVATE_DIR_MODE)


def remove_file(path: Path) -> None:
    """Remove a file, ignoring one that is already gone."""
    path.unlink(missing_ok=True)


def _write(path: Path, data: bytes, *, file_mode: int, dir_mode: int) -> None:
    """Write through a temporary file in the same directory, then rename it."""
    _make_parents(path.parent, dir_mode)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")

    # The mode is given at creation, so the data is never readable by others, not
    # even between creation and a later chmod; fchmod then undoes the umask.
    descriptor = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, file_mode
    )
    try:
        with open(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), file_mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            temporary.unlink()
        raise

    _fsync_directory(path.parent)


def _make_parents(directory: Path, mode: int) -> None:
    """Create a directory and its missing ancestors, each with the given mode."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for folder in reversed(missing):
        with suppress(FileExistsError):
            folder.mkdir(mode=mode)


def _fsync_directory(directory: Path) -> None:
    """Flush a directory so a completed rename survives a power cut."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
