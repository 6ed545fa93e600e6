"""One exception tree for every error a user can cause. The CLI prints these as one line, no traceback."""

from __future__ import annotations

import errno
import re

# Exit codes CI can act on: 1 a failed run, 2 a user mistake, 75 (sysexits EX_TEMPFAIL) "busy, try later".
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 75

# A write that failed because of the storage, not of our code: reported as one line naming the file.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}
# DuckDB names the file in quotes, escaped as in JSON when it reports an asynchronous write:
# `Could not write file "/x": No space …` or `{…"Could not write file \\"/x\\": No space …"}`
_DUCKDB_NO_SPACE = re.compile(r'\\?"([^"\\]+)\\?"[^"]*No space left on device|No space left on device')


class ReportError(Exception):
    """A problem the user can fix: bad input, configuration, API refusal, failed data test."""

    exit_code = EXIT_FAILED


class ConfigError(ReportError):
    """Bad flags, environment or liqreport.toml."""

    exit_code = EXIT_USAGE


class FetchError(ReportError):
    """The API refused, retries ran out, or a page was malformed."""


class ModelError(ReportError):
    """A SQL model failed: bad ref, cycle, SQL error."""


class DataQualityError(ReportError):
    """An error-level data test failed."""


class RenderError(ReportError):
    """The report could not be rendered (e.g. the PDF extra is missing)."""


class DeliveryError(ReportError):
    """The email could not be sent or the site could not be published."""


class StorageError(ReportError):
    """A write failed for a reason of the disk: full, over quota, read-only, I/O error."""

    def __init__(self, reason: str, path):
        super().__init__(f"{reason} while writing {path}")
        self.reason, self.path = reason, path


class OutputBusyError(ReportError):
    """Another liqreport process holds the output folder's lock."""

    exit_code = EXIT_BUSY


def storage_error(exc: BaseException, path=None) -> StorageError | None:
    """The StorageError an OSError (or DuckDB's text of one) stands for, or None when it is something else.

    `path` names the file when the exception does not (write() and fsync() errors carry no filename).
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        reason = (exc.strerror or errno.errorcode.get(exc.errno, "I/O error")).lower()
        return StorageError(reason, exc.filename or path or "the output folder")
    from_duckdb = type(exc).__module__.split(".")[0] in ("duckdb", "_duckdb")
    match = _DUCKDB_NO_SPACE.search(str(exc)) if from_duckdb else None
    if match:
        return StorageError("no space left on device", match.group(1) or path or "the output folder")
    return None
