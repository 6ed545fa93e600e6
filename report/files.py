"""Atomic file writes, shared by every stage that leaves files for a reader: landing pages and manifests,
run results, delivery files. A reader (or a crash) never sees half a file under the final name, and a
full disk is one StorageError naming the file, with the temp file gone."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from report.errors import storage_error

TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def storage_errors(path) -> Iterator[None]:
    """Turn a disk-full (quota, read-only, I/O) OSError inside the block into a StorageError naming `path`."""
    try:
        yield
    except OSError as exc:
        error = storage_error(exc, path)
        if error is None:
            raise
        raise error from None


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename over the target, fsync the folder."""
    with storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.chmod(temp_name, 0o644)  # mkstemp's 0600 would hide published files from other readers
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)


def write_unlisted(path: Path, data: bytes) -> os.stat_result:
    """Create `path` (never an existing one), write and fsync it; no temp file, no rename, no folder fsync.

    Only for files nobody reads until a later, atomically written index lists them (landed pages and their
    manifest): a crash mid-write leaves a file no index names, which the next writer removes. Before the
    index is written, fsync_dir(path.parent) makes the name durable. Returns the file's stat, by which the
    index's writer checks later that the file is still the one written here.
    """
    with storage_errors(path):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(handle, "wb") as target:
                target.write(data)
                target.flush()
                os.fsync(target.fileno())
                return os.fstat(target.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable: without it a power cut can undo a rename we reported as done."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files write_atomically leaves when its process is killed mid-write.

    Only safe while holding the output folder's lock: a live writer's temp file looks the same.
    """
    removed = []
    if folder.is_dir():
        for temp in folder.rglob(f".*{TEMP_SUFFIX}"):
            if temp.is_file():
                temp.unlink(missing_ok=True)
                removed.append(temp)
    return removed
