"""`--format github-annotations`: GitHub Actions workflow commands that annotate the PR's files.

    ::error file=src/app.py,line=12,endLine=12,title=secret/aws-access-key (secrets)::AWS key …

Every value is escaped (data: % CR LF; properties also : and ,), so a finding is always one line
and model text can never start a workflow command of its own. GitHub shows at most 10 errors and
10 warnings (and 10 notices) per step: the most severe come first and a last notice counts the
rest. After the annotations the full report follows as plain text inside
`::stop-commands::TOKEN` … `::TOKEN::` with an unguessable token, so the log holds everything
(also what did not fit as an annotation) and nothing in it is run as a command.
"""
from __future__ import annotations

import secrets

from reviewbot.core import Finding, Report, Severity
from reviewbot.reporters import terminal
from reviewbot.reporters._common import (
    line_span,
    message_with_side,
    most_severe_first,
    plural,
    rule_id,
)
from reviewbot.textsafe import escape_data, escape_property, visible

COMMAND = {Severity.ERROR: 'error', Severity.WARNING: 'warning', Severity.INFO: 'notice'}
SHOWN_PER_LEVEL = 10  # GitHub's per-step limit for each of error, warning and notice


def command(name: str, message: str, **properties: object) -> str:
    props = ','.join(f'{k}={escape_property(str(v))}' for k, v in properties.items() if v is not None)
    return f'::{name}{" " + props if props else ""}::{escape_data(message)}'


def annotation(f: Finding) -> str:
    span = line_span(f)
    message = visible(message_with_side(f))
    if (fx := f.verified_fix) is not None:
        message += '\n\nsuggestion:\n' + visible(fx.replacement).rstrip('\n')
    return command(
        COMMAND[f.severity], message,
        # control characters (ESC, CR, U+202E) and undecodable bytes escaped, never written raw
        file=visible(f.path, keep_newlines=False),
        line=span[0] if span else None,
        endLine=span[1] if span else None,
        title=visible(f'{rule_id(f.category)} ({f.reviewer})', keep_newlines=False),
    )


def stop_token(text: str) -> str:
    """A token the report text does not contain, so it cannot end the stop-commands block."""
    while True:
        token = f'reviewbot-{secrets.token_hex(16)}'
        if token not in text:
            return token


def render(report: Report) -> str:
    shown: list[str] = []
    hidden = 0
    used = {name: 0 for name in COMMAND.values()}
    # One notice slot is kept for saying how many did not fit.
    limit = {'error': SHOWN_PER_LEVEL, 'warning': SHOWN_PER_LEVEL, 'notice': SHOWN_PER_LEVEL - 1}
    for f in most_severe_first(report.findings):
        name = COMMAND[f.severity]
        if used[name] < limit[name]:
            used[name] += 1
            shown.append(annotation(f))
        else:
            hidden += 1
    if hidden:
        shown.append(command(
            'notice',
            f'reviewbot: {plural(hidden, "more finding")} not shown as annotations '
            f'(GitHub shows at most {SHOWN_PER_LEVEL} per level and step); '
            'the full list follows in this step\'s log',
            title='reviewbot: more findings'))
    listing = terminal.render(report, color=False)
    token = stop_token(listing)
    return '\n'.join([*shown, f'::stop-commands::{token}', listing.rstrip('\n'), f'::{token}::']) + '\n'
