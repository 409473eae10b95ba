"""User-facing errors: each becomes one line on stderr and a non-zero exit, never a traceback."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # a finding at or above the fail level
EXIT_USAGE = 2  # bad usage or bad input


class ReviewbotError(Exception):
    """An error the user can act on. str(e) is the one-line message."""

    exit_code = EXIT_USAGE


class DiffError(ReviewbotError):
    """The diff could not be read or parsed."""


class ConfigError(ReviewbotError):
    """The configuration file or a flag has a bad key or value."""


class ModelError(ReviewbotError):
    """A model is missing, corrupt or failed to load."""


class PublishError(ReviewbotError):
    """Posting to GitHub/GitLab failed."""


EXIT_STALE = 4  # the report was computed on another commit than the request's head: nothing posted


class StaleReport(PublishError):
    """The pull/merge request's head is not the commit the report reviewed; nothing was posted."""

    exit_code = EXIT_STALE
