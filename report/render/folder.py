"""The report folder appears whole or not at all: built beside its target, then swapped in by rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from report.errors import StorageError, storage_error
from report.files import fsync_dir, storage_errors

# Files delivery writes about a period that a re-render must keep: the email's sent marker (so a rerun
# does not mail the period again, report/deliver/email.py).
CARRIED_OVER = (".sent.json",)


@contextlib.contextmanager
def staged(target: Path) -> Iterator[Path]:
    """Yield an empty folder beside `target`; on success it replaces `target`, on any error it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.rendering-", dir=target.parent))
    try:
        yield staging
        swap_in(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if (full_disk := storage_error(exc, target)) is not None:
            raise final_name(full_disk, staging, target) from None
        raise


def final_name(error: StorageError, staging: Path, target: Path) -> StorageError:
    """The error naming the file by the path it was being written for (target/…), not the staging folder
    that is gone by the time anyone reads the message."""
    path = Path(error.path) if isinstance(error.path, (str, Path)) else None
    if path is None or not path.is_relative_to(staging):
        return error
    return StorageError(error.reason, target / path.relative_to(staging))


def write_file(path: Path, data: str | bytes) -> Path:
    """One file of the report folder; a full disk names it (staged() gives it its final path)."""
    with storage_errors(path):
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    return path


def swap_in(staging: Path, target: Path) -> None:
    """Rename the old folder aside, the new one into place, then drop the old one.

    Between the two renames a reader finds no folder rather than half of one; the old report survives a
    crash there as `.<label>.previous-*`.
    """
    os.chmod(staging, 0o755)
    for name in CARRIED_OVER:
        if (target / name).is_file():
            shutil.copy2(target / name, staging / name)
    retired = None
    if target.exists():
        stamp = f"{os.getpid()}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
        retired = target.with_name(f".{target.name}.previous-{stamp}")
        os.replace(target, retired)
    os.replace(staging, target)
    fsync_dir(target.parent)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def sweep_leftovers(target: Path, older_than_s: float = 3600) -> None:
    """Remove half-built or retired folders a killed render left beside the target (not a running one's)."""
    cutoff = time.time() - older_than_s
    for pattern in (f".{target.name}.rendering-*", f".{target.name}.previous-*"):
        for leftover in target.parent.glob(pattern):
            if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
