"""User-facing errors and exit codes: each error becomes one line on stderr and a non-zero exit, never
a traceback. EXIT_CODES is the one table of what an exit code means, for every command (README prints it)."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # a finding at or above the fail level (review, hook, ci)
EXIT_USAGE = 2  # bad usage or input, or an error the user can act on (one line on stderr)
EXIT_NOT_POSTED = 3  # publish, ci --publish: a finding could not be posted (each is named on stderr)
EXIT_STALE = 4  # publish, ci --publish: the report is of another commit than the request's head
EXIT_NOT_RUNNING = 5  # daemon status: no daemon runs for this model
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)

EXIT_CODES = {
    EXIT_OK: 'fine',
    EXIT_FINDINGS: 'a finding at or above the fail level (`review`, `hook`, `ci`; `--fail-level`: `error` by '
                   'default, `warning`, `info`, `none`)',
    EXIT_USAGE: 'a usage or input error, one line on stderr (every command): malformed or binary diff, '
                'unknown config key, missing model, API error, corrupt or unreadable baseline, a missing '
                'optional extra',
    EXIT_NOT_POSTED: '`publish`, `ci --publish`: a finding could not be posted (each is named on stderr)',
    EXIT_STALE: '`publish`, `ci --publish`: the report is of another commit than the pull/merge '
                "request's head: nothing posted",
    EXIT_NOT_RUNNING: '`daemon status`: no daemon runs for this model',
    EXIT_INTERRUPTED: 'interrupted (Ctrl-C)',
}


def exit_code_table() -> str:
    """EXIT_CODES as the Markdown table README.md shows (tests/test_exit_codes.py keeps them equal)."""
    rows = ['| code | meaning |', '|---:|---|']
    rows += [f'| `{code}` | {meaning} |' for code, meaning in EXIT_CODES.items()]
    return '\n'.join(rows) + '\n'


class ReviewbotError(Exception):
    """An error the user can act on. str(e) is the one-line message."""

    exit_code = EXIT_USAGE


class DiffError(ReviewbotError):
    """The diff could not be read or parsed."""


class ConfigError(ReviewbotError):
    """The configuration file or a flag has a bad key or value."""


class ModelError(ReviewbotError):
    """A model is missing, corrupt or failed to load."""


class DeadlinePassed(ReviewbotError):
    """A model call stopped at the review's deadline (between two graph calls): what it was for is
    reported as skipped for the budget, never as an error."""


class PublishError(ReviewbotError):
    """Posting to GitHub/GitLab failed."""


class StaleReport(PublishError):
    """The pull/merge request's head is not the commit the report reviewed; nothing was posted."""

    exit_code = EXIT_STALE


class MissingExtra(ReviewbotError):
    """A command needs an optional extra that is not installed (`pip install 'reviewbot[EXTRA]'`)."""

    def __init__(self, what: str, extra: str, module: str | None = None) -> None:
        missing = f' ({module} is not installed)' if module else ''
        super().__init__(f"{what} needs the '{extra}' extra{missing}: pip install 'reviewbot[{extra}]'")
        self.extra = extra
