"""`--format rdjsonl`: reviewdog's JSON Lines diagnostics, for `reviewdog -f=rdjsonl`.

One Diagnostic per line (proto/rdf/reviewdog.proto): lines and columns are 1-based, columns
count UTF-8 bytes and a range's end is exclusive. reviewdog posts messages as Markdown comments, so a
message has its control characters escaped and its @mentions defused. A suggestion replaces whole lines, which
reviewdog expresses as a range whose positions carry no column.
"""
from __future__ import annotations

import json
from typing import Any

from reviewbot.core import Finding, Report, Severity
from reviewbot.reporters._common import (
    line_span,
    message_with_side,
    rule_id,
    sorted_findings,
)
from reviewbot.textsafe import defuse_mentions, visible

SEVERITY = {Severity.ERROR: 'ERROR', Severity.WARNING: 'WARNING', Severity.INFO: 'INFO'}
SOURCE = {'name': 'reviewbot'}


def _location_range(f: Finding, start: int, end: int) -> dict[str, Any]:
    """From column 1 of the first line to the end of the last one (its text, without the EOL)."""
    code_lines = f.anchored_code.split('\n') if f.anchored_code else []
    if len(code_lines) == end - start + 1:
        end_column = len(code_lines[-1].rstrip('\r').encode('utf-8', 'surrogateescape')) + 1
        return {'start': {'line': start, 'column': 1}, 'end': {'line': end, 'column': end_column}}
    # The anchored text is missing or does not match the span: say "these whole lines" instead.
    return {'start': {'line': start}, 'end': {'line': end}}


def diagnostic(f: Finding) -> dict[str, Any]:
    span = line_span(f)
    location: dict[str, Any] = {'path': f.path}
    if span:
        location['range'] = _location_range(f, *span)
    d: dict[str, Any] = {
        # reviewdog posts the message as Markdown: no control characters, no @mentions
        'message': defuse_mentions(visible(message_with_side(f))),
        'location': location,
        'severity': SEVERITY[f.severity],
        'source': SOURCE,
        'code': {'value': rule_id(f.category)},
    }
    if (fx := f.verified_fix) is not None and span:
        d['suggestions'] = [{
            'range': {'start': {'line': span[0]}, 'end': {'line': span[1]}},
            'text': fx.replacement.rstrip('\n'),
        }]
    return d


def render(report: Report) -> str:
    return ''.join(json.dumps(diagnostic(f)) + '\n'
                   for f in sorted_findings(report.findings))
