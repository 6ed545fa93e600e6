"""One exception tree for every error a user can cause. The CLI prints these as one line, no traceback."""


class ReportError(Exception):
    """A problem the user can fix: bad input, configuration, API refusal, failed data test."""

    exit_code = 1


class ConfigError(ReportError):
    """Bad flags, environment or liqreport.toml."""

    exit_code = 2


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
