"""The model's answer, parsed strictly and validated: a finding must point at an added line of its unit,
name a known category and say something worth reading (not boilerplate, not the code again, not
an echo of the prompt's example); at most MAX_FINDINGS_PER_UNIT, one per line."""
from __future__ import annotations

import dataclasses
import re

from reviewbot.core import Finding, Severity
from reviewbot.reviewers.model.prompt import _ECHO_MESSAGES, _ECHO_WORDS
from reviewbot.reviewers.model.units import MAX_UNIT_LINES, Unit

NAME = 'model'
# Two categories only: a small model echoes any list of bug classes it is shown onto unrelated lines.
SEVERITY_BY_CATEGORY = {'bug': Severity.WARNING, 'security': Severity.ERROR}
_CATEGORY_SYNONYMS = {
    'bug': 'bug', 'logic': 'bug', 'logic error': 'bug', 'logic bug': 'bug', 'defect': 'bug',
    'crash': 'bug', 'error': 'bug', 'runtime error': 'bug', 'correctness': 'bug',
    'off-by-one': 'bug', 'off by one': 'bug', 'null': 'bug', 'resource leak': 'bug',
    'security': 'security', 'vulnerability': 'security', 'vuln': 'security',
    'injection': 'security', 'sql injection': 'security', 'command injection': 'security',
    'xss': 'security', 'security vulnerability': 'security', 'security issue': 'security',
}
MAX_FINDINGS_PER_UNIT = 3

@dataclasses.dataclass(frozen=True)
class RawFinding:
    line: int  # 0 when the finding names its line by quoting it (see code)
    end_line: int
    category: str  # as the model wrote it, lower case
    message: str
    code: str | None = None  # the quoted line, resolved to an added line by validate()


_FINDING = re.compile(
    r'^\s*(?:[-*•]\s*|\d+[.)]\s+)?\**\s*L(?:ine)?\s*(?P<line>\d{1,7})'
    r'(?:\s*[-–]\s*L?(?:ine)?\s*(?P<end>\d{1,7}))?\**\s*[:.)\-]\s*'
    r'(?P<cat>[A-Za-z][A-Za-z _/-]{0,40}?)\s*:\s*(?P<msg>\S.*?)\s*$')
_QUOTED = re.compile(
    r'^\s*(?:L(?P<hint>\d{1,7})\s*)?\+?\s*(?P<code>\S.*?)\s+(?:#|//|--|/\*)\s*'
    r'(?P<cat>[A-Za-z][A-Za-z _/-]{0,40}?)\s*:\s*(?P<msg>\S.*?)\s*(?:\*/)?\s*$')
_NONE = re.compile(r'^\W*(none|no defects?|no issues?|no bugs?)\W*$', re.IGNORECASE)


def parse_output(text: object) -> list[RawFinding]:
    """Findings in a model answer. Anything that is not a finding line is ignored; never raises."""
    if not isinstance(text, str):
        return []
    out: list[RawFinding] = []
    for line in text.splitlines()[:50]:
        if _NONE.match(line):
            break  # the model said there is nothing; what follows is chatter
        m = _FINDING.match(line)
        if not m:
            q = _QUOTED.match(line.strip('`'))
            if q and category_of(q['cat']) is not None:
                hint = int(q['hint']) if q['hint'] else 0
                out.append(RawFinding(hint, hint, q['cat'].strip().lower(),
                                      q['msg'].strip().strip('`"'), q['code'].strip()))
            continue
        try:
            start = int(m['line'])
            end = int(m['end']) if m['end'] else start
        except ValueError:  # pragma: no cover - the pattern only admits digits
            continue
        if end < start or end - start > MAX_UNIT_LINES:
            end = start
        out.append(RawFinding(start, end, m['cat'].strip().lower(), m['msg'].strip().strip('`"')))
    return out


_BOILERPLATE = re.compile(
    r'\b((add|adding|missing|more|needs?|lacks?) (a |an )?(comments?|docstrings?|documentation)|'
    r'docstring|readab|naming|variable name|rename|style|formatting|pep ?8|'
    r'indent|whitespace|type hint|annotation|unit test|add tests?|more tests|test coverage|logging|'
    r'looks good|lgtm|no (real )?(issue|defect|bug|problem)s?|consider|might want|could be improved|'
    r'best practice|maintainab|more descriptive|clarity|clean ?up|refactor|typo|spelling|'
    r'magic number|hard-?coded value|constant|unused|redundant|simplif|verbose|'
    r'syntax error|missing semicolon|missing import|is not defined|undefined (variable|name)|'
    r'error handling|handle (the )?(error|exception)s?|try[ /-]?except|try[ /-]?catch)\b',
    re.IGNORECASE)
_WORD = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')


def is_boilerplate(message: str, code: str) -> bool:
    """A message that is a style nit, a generic remark, an echo of the prompt's own example,
    or just the code said again."""
    if len(message) < 8 or _BOILERPLATE.search(message) or _degenerate(message) \
            or not _prose(message):
        return True
    low = message.lower()
    words = [w.lower() for w in _WORD.findall(message)]
    if any(e in low for e in _ECHO_MESSAGES) or len(_ECHO_WORDS.intersection(words)) >= 2:
        return True  # the prompt's example said again, reworded ('an empty list is not ...')
    if len(words) < 2:
        return True
    code_words = {w.lower() for w in _WORD.findall(code)}
    # Restating the code: nearly every word of the message is an identifier from the line.
    novel = [w for w in words if w not in code_words and len(w) > 2]
    return len(novel) < 2


def _norm_code(code: str) -> str:
    return ' '.join(code.split()).rstrip(';{').strip()


def _resolve_quote(code: str, hint: int, unit: Unit) -> int | None:
    """The added line a quoted line is: an exact match (white space folded), the hinted one among
    several, else the one clearly most similar (a small model drops or adds a character)."""
    import difflib
    want = _norm_code(code)
    if not want:
        return None
    exact = [n for n, text in unit.added.items() if _norm_code(text) == want]
    if exact:
        return hint if hint in exact else exact[0]
    scored = sorted(((difflib.SequenceMatcher(None, want, _norm_code(t)).ratio(), n)
                     for n, t in unit.added.items() if t.strip()), reverse=True)
    if scored and scored[0][0] >= 0.9 and (len(scored) == 1 or scored[1][0] < scored[0][0] - 0.05):
        return scored[0][1]
    return None


def _prose(message: str) -> bool:
    """A sentence, not noise: at least three plain words, and not mostly digits and symbols
    (a small model's answer can be a version string or a run of zeros)."""
    tokens = re.split(r'[\s,.;:()\[\]{}\'"`]+', message)
    words = [t for t in tokens if t.isalpha() and 2 <= len(t) <= 15]
    noise = sum(1 for ch in message if ch.isdigit() or ch == '_')
    return len(words) >= 3 and noise <= 0.3 * len(message)


def _degenerate(message: str) -> bool:
    """A looping answer ('... is not valid, and ... is not valid, and ...'): a repeated 4-gram."""
    words = [w.lower() for w in _WORD.findall(message)]
    grams = [tuple(words[i:i + 4]) for i in range(len(words) - 3)]
    return len(grams) != len(set(grams))


def _shorten(message: str, limit: int = 160) -> str:
    if len(message) <= limit:
        return message
    cut = message[:limit].rsplit(' ', 1)[0].rstrip(',;:')
    return cut + ' ...'


def category_of(raw: str) -> str | None:
    raw = raw.strip().lower().replace('_', ' ')
    if raw in _CATEGORY_SYNONYMS:
        return _CATEGORY_SYNONYMS[raw]
    for key in ('security', 'vulnerab', 'injection'):
        if key in raw:
            return 'security'
    return None


@dataclasses.dataclass
class Validation:
    findings: list[Finding]
    dropped: dict[str, int]


def validate(raws: list[RawFinding], unit: Unit, *, reviewer: str = NAME,
             confidence: float | None = None) -> Validation:
    """Keep only findings that point at an added line of this unit, with a known category and a
    message worth reading; at most MAX_FINDINGS_PER_UNIT, one per line."""
    dropped: dict[str, int] = {}
    kept: list[Finding] = []
    seen_lines: set[int] = set()
    seen_messages: set[str] = set()

    def drop(reason: str) -> None:
        dropped[reason] = dropped.get(reason, 0) + 1

    for r in raws:
        if r.code is not None:
            r = dataclasses.replace(r, line=_resolve_quote(r.code, r.line, unit) or -1)
            r = dataclasses.replace(r, end_line=r.line)
        if r.line not in unit.added:
            drop('not an added line')
            continue
        cat = category_of(r.category)
        if cat is None:
            drop('unknown category')
            continue
        if is_boilerplate(r.message, unit.added[r.line]):
            drop('boilerplate')
            continue
        norm = ' '.join(r.message.lower().split())
        if r.line in seen_lines or norm in seen_messages:
            drop('duplicate')
            continue
        if len(kept) >= MAX_FINDINGS_PER_UNIT:
            drop('too many')
            continue
        seen_lines.add(r.line)
        seen_messages.add(norm)
        end = r.line
        while end + 1 <= r.end_line and end + 1 in unit.added:
            end += 1
        message = _shorten(r.message[0].upper() + r.message[1:])
        kept.append(Finding(path=unit.path, line=r.line, end_line=end,
                            severity=SEVERITY_BY_CATEGORY[cat], category=f'model/{cat}',
                            message=message, reviewer=reviewer, confidence=confidence))
    return Validation(kept, dropped)

