"""Comment bodies: one per inline finding, and the summary. Every untrusted field goes through textsafe."""
from __future__ import annotations

import dataclasses

from reviewbot import textsafe
from reviewbot.core import Finding, Severity, Skipped
from reviewbot.publish.markers import finding_marker, strip_marker, summary_marker
from reviewbot.publish.placement import Inline

# GitHub rejects bodies over 65,536 characters; GitLab notes allow 1,000,000. Stay well under both.
MAX_BODY = 60000
MAX_MESSAGE = 4000
MAX_SUGGESTION = 20000
MAX_MARKED = 1000  # fingerprints kept in the summary marker (17 characters each)
_SEVERITY_LABEL = {Severity.ERROR: 'error', Severity.WARNING: 'warning', Severity.INFO: 'info'}
RESOLVED_NOTE = '**Resolved:** reviewbot no longer reports this finding (the code changed or it was fixed).'


def _headline(f: Finding) -> str:
    label = _SEVERITY_LABEL.get(f.severity, 'note')
    who = f' · {textsafe.one_line(f.reviewer, 60)}' if f.reviewer else ''
    return f'**{label}** · {textsafe.code_span(f.category, 120)}{who}'


def _suggestion(f: Finding, platform: str, inline: Inline) -> str:
    """A suggestion block, or '' with a reason line when it cannot be offered safely."""
    text = f.suggestion or ''
    if textsafe.has_bidi(text):
        return '_A suggested change was withheld: it contains bidirectional control characters._'
    if len(text) > MAX_SUGGESTION:
        return '_A suggested change was withheld: it is too long to post._'
    lang = 'suggestion'
    if platform == 'gitlab' and inline.start_line is not None:
        lang = f'suggestion:-{inline.line - inline.start_line}+0'  # the comment sits on the last line
    return textsafe.code_block(text, lang, MAX_SUGGESTION)


def finding_body(f: Finding, platform: str, inline: Inline | None = None) -> str:
    parts = [finding_marker(f.fingerprint), _headline(f), '', textsafe.prose(f.message, MAX_MESSAGE)]
    # a suggestion block is offered only for a fix the verifier passed (reviewbot.fixes.verify)
    if inline is not None and inline.suggestion and f.verified_fix is not None:
        parts += ['', _suggestion(f, platform, inline)]
    elif inline is not None and inline.start_line is None and f.end_line and f.line and f.end_line > f.line:
        parts += ['', f'_Applies to lines {f.line}–{f.end_line}._']
    return '\n'.join(parts)[:MAX_BODY]


def resolved_body(old_body: str, fp: str) -> str:
    """Our comment, marked resolved: the marker changes, a note is prepended, the old text is kept."""
    rest = strip_marker(old_body)
    return '\n'.join([finding_marker(fp, resolved=True), RESOLVED_NOTE, '', rest])[:MAX_BODY]


@dataclasses.dataclass
class SummaryInput:
    head_sha: str
    all_fps: list[str]  # every finding of this run (inline or summary)
    inline_new: int
    inline_kept: int  # already posted by an earlier run
    in_summary: list[tuple[Finding, str]]  # finding, why it is not inline
    duplicates: list[tuple[Finding, Finding]]
    first_run: bool
    new_fps: set[str]
    gone: list[tuple[str, str]]  # (fingerprint, path) of findings of the last run that disappeared
    skipped: list[Skipped] = dataclasses.field(default_factory=list)  # what the review did not cover
    notes: list[str] = dataclasses.field(default_factory=list)  # the report's notes (e.g. cloud not used)
    dismissed: list[tuple[Finding, str]] = dataclasses.field(default_factory=list)  # (finding, how), by a person


def _location(f: Finding) -> str:
    where = textsafe.code_span(f.path, 200)
    if f.line is not None:
        where += f' line {f.line}' + (f'–{f.end_line}' if f.end_line and f.end_line > f.line else '')
    return where


def _summary_item(f: Finding, reason: str, platform: str) -> str:
    lines = [f'- {_headline(f)} at {_location(f)} — {textsafe.one_line(reason, 300)}']
    lines += ['  ' + ln if ln else '' for ln in textsafe.prose(f.message, MAX_MESSAGE).split('\n')]
    if (f.verified_fix is not None and f.suggestion and not textsafe.has_bidi(f.suggestion)
            and len(f.suggestion) <= MAX_SUGGESTION):
        lines += ['', '  Suggested replacement:', '']
        lines += ['  ' + ln for ln in textsafe.code_block(f.suggestion, '', MAX_SUGGESTION).split('\n')]
    lines.append('  ' + f'<!-- reviewbot:item={f.fingerprint} -->')
    return '\n'.join(lines)


def _dismissed_lines(dismissed: list[tuple[Finding, str]]) -> list[str]:
    """The findings a person dismissed (still reported, not posted again); names go in code spans."""
    if not dismissed:
        return []
    n = len(dismissed)
    head = (f'**Dismissed:** {n} finding{"s" if n != 1 else ""} dismissed on this request '
            '(resolved, answered "false positive" / "won\'t fix" / "not a bug", or thumbs-down); '
            'not posted again.')
    lines = ['', head]
    for f, how in dismissed[:50]:
        lines.append(f'- {textsafe.code_span(f.category, 120)} at {_location(f)}: '
                     f'{textsafe.code_span(how, 200)}')
    if n > 50:
        lines.append(f'- … and {n - 50} more dismissed')
    return lines


def summary_body(s: SummaryInput, platform: str) -> tuple[str, list[tuple[Finding, str]]]:
    """The summary, and the summary findings that did not fit (they must be reported as not posted)."""
    total = len(s.all_fps)
    # the marker keeps the run's fingerprints for the next run's "what changed" (capped: body limit)
    head = [summary_marker(s.all_fps[:MAX_MARKED]), '### reviewbot review', '']
    sha = textsafe.code_span(s.head_sha[:12]) if s.head_sha else 'this commit'
    if total == 0:
        head.append(f'No findings on {sha}.')
    else:
        head.append(f'{total} finding{"s" if total != 1 else ""} on {sha}: '
                    f'{s.inline_new + s.inline_kept} inline ({s.inline_new} new, {s.inline_kept} already posted), '
                    f'{len(s.in_summary)} listed below.')
    head += _dismissed_lines(s.dismissed)
    if s.first_run:
        head += ['', '**Since the last run:** this is the first run on this request.']
    else:
        changes = (f'**Since the last run:** {len(s.new_fps)} new, {len(s.gone)} resolved, '
                   f'{total - len(s.new_fps)} unchanged.')
        head += ['', changes]
        for fp, path in s.gone[:50]:
            head.append(f'- resolved: {textsafe.code_span(path, 200) if path else "a finding"} '
                        f'(fingerprint {textsafe.code_span(fp)})')
        if len(s.gone) > 50:
            head.append(f'- … and {len(s.gone) - 50} more resolved')
    body = '\n'.join(head)
    omitted: list[tuple[Finding, str]] = []
    if s.in_summary:
        body += '\n\n#### Findings not attached to a line\n'
        for f, reason in s.in_summary:
            item = '\n' + _summary_item(f, reason, platform)
            if len(body) + len(item) > MAX_BODY - 2000:
                omitted.append((f, 'summary comment too long'))
                continue
            body += item
        if omitted:
            body += f'\n\n**{len(omitted)} finding(s) did not fit in this comment**; see the CI log.'
    if s.skipped:
        body += f'\n\n#### Not reviewed ({len(s.skipped)})\n'
        for sk in s.skipped[:30]:
            who = f' by {textsafe.one_line(sk.reviewer, 60)}' if sk.reviewer else ''
            body += f'\n- {textsafe.code_span(sk.path, 200)}{who}: {textsafe.one_line(sk.reason, 200)}'
        if len(s.skipped) > 30:
            body += f'\n- … and {len(s.skipped) - 30} more (see the CI log)'
    if s.notes:
        body += '\n\n#### Notes\n'
        for note in s.notes[:20]:
            body += f'\n- {textsafe.one_line(note, 500)}'
    if s.duplicates:
        body += '\n\n#### Reported more than once\n'
        for dropped, kept in s.duplicates[:50]:
            body += (f'\n- {textsafe.code_span(dropped.category, 120)} at {_location(dropped)} is the same '
                     f'finding as at {_location(kept)}')
    return body[:MAX_BODY], omitted
