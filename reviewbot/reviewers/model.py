"""The local model reviewer: a small code model (ONNX, CPU) reviews the added lines of each hunk.

A 0.5B model is weak, so most of this module is about not letting its weakness reach the user:

* Work is split into units: one hunk, or nearby hunks of one file, at most MAX_UNIT_LINES changed
  lines. The prompt shows the unit's new-file lines with explicit line numbers, added lines marked
  `+`, removed lines shown unnumbered as `-`, a few lines of surrounding code from the new revision,
  the path, the language and the team's guidelines (config `guidelines`).
* Triage: every unit gets a risk score from ONE prefill of the review prompt followed by "NONE"
  (scan_unit): the probability that the model's answer is NONE, and the surprisal of every code
  token, i.e. how unnatural each added line is to the model (Ray et al., "On the Naturalness of
  Buggy Code", ICSE 2016). Units under the threshold (config `triage_threshold`, calibrated on the
  eval set: eval/results/model.md) are cleared without generation; the others are generated
  riskiest first while the budget lasts. Every unit not reviewed is reported as Skipped with its
  reason, never silently.
* Generation does not choose the line: a 0.5B model names wrong line numbers (L1, L2, ... or the
  example's). The answer is started at the least natural added line (`L<n>:`), and the model
  says what is wrong there, or its message fails validation and nothing is reported.
* Output is one line per finding, `L<n>: <category>: <reason>`, or `NONE`; the parser is strict and
  every finding is validated: an added line of this unit, a known category, a message that is not
  boilerplate, a restatement of the code or an echo of the prompt's own example, no duplicates.
* Results (triage scores and generations) are cached on disk by model, precision, prompt version
  and the exact prompt, so re-reviewing unchanged hunks costs no inference and no model load.

`naive_review` is the single-prompt baseline the eval compares against.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

from reviewbot.config import Config
from reviewbot.core import FileChange, Finding, Hunk, LineKind, Severity, Skipped
from reviewbot.engine.paths import cache_home
from reviewbot.errors import ModelError
from reviewbot.reviewers import ReviewContext, ReviewerResult

NAME = 'model'
# Bump when the prompt, the triage question or the parser changes: it is part of every cache key.
PROMPT_VERSION = 'mr-6'

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

MAX_UNIT_LINES = 40  # changed lines per unit: more and a 0.5B model loses track of line numbers
MERGE_GAP = 6  # hunks of one file this close (new-file lines) share a unit
CONTEXT_LINES = 6  # surrounding new-revision lines shown before and after a unit
MAX_LINE_CHARS = 200
MAX_NEW_TOKENS = 64  # three finding lines
MAX_FINDINGS_PER_UNIT = 3
GUIDELINES_MAX_CHARS = 1500
PROMPT_OVERHEAD_CHARS = 1300  # system prompt, examples and instructions around the code

LANGUAGE_BY_SUFFIX = {
    '.py': 'Python', '.pyi': 'Python', '.js': 'JavaScript', '.mjs': 'JavaScript', '.cjs': 'JavaScript',
    '.jsx': 'JavaScript', '.ts': 'TypeScript', '.tsx': 'TypeScript', '.go': 'Go', '.java': 'Java',
    '.kt': 'Kotlin', '.scala': 'Scala', '.c': 'C', '.h': 'C', '.cc': 'C++', '.cpp': 'C++',
    '.cxx': 'C++', '.hpp': 'C++', '.hh': 'C++', '.cs': 'C#', '.rb': 'Ruby', '.php': 'PHP',
    '.rs': 'Rust', '.swift': 'Swift', '.sh': 'Shell', '.bash': 'Shell', '.sql': 'SQL',
    '.lua': 'Lua', '.pl': 'Perl',
}


def language(path: str) -> str | None:
    """The language a file is written in, from its name; None for files the model does not review."""
    return LANGUAGE_BY_SUFFIX.get(Path(path).suffix.lower())


# --- units of work --------------------------------------------------------------------------------

@dataclasses.dataclass
class Unit:
    """One prompt's worth of change: nearby hunks of one file."""
    path: str
    lang: str
    hunk_indexes: list[int]
    hunks: list[Hunk]
    added: dict[int, str]  # new-file line number -> text of each added line in the unit
    view: str = ''  # the numbered code shown to the model
    score: float | None = None  # triage risk, 0..1
    scan: Any = None  # the Scan of the unit, once triaged
    cached_answer: bool = False  # the model's answer came from the result cache

    @property
    def first_line(self) -> int:
        return min(self.added)

    @property
    def last_line(self) -> int:
        return max(self.added)

    @property
    def changed(self) -> int:
        return len(self.added) + sum(len(h.removed) for h in self.hunks)


def make_units(fc: FileChange) -> list[Unit]:
    lang = language(fc.path) or 'text'
    units: list[Unit] = []
    for i, h in enumerate(fc.hunks):
        for part in _split_hunk(h):
            added = {ln.new_lineno: ln.text for ln in part.lines if ln.kind is LineKind.ADDED}
            if not added:
                continue  # a pure deletion: nothing new for the model to review
            cur = units[-1] if units else None
            if (cur is not None and part.new_start - cur.hunks[-1].new_end <= MERGE_GAP
                    and cur.changed + len(part.lines) <= MAX_UNIT_LINES):
                cur.hunks.append(part)
                if i not in cur.hunk_indexes:
                    cur.hunk_indexes.append(i)
                cur.added.update(added)
            else:
                units.append(Unit(fc.path, lang, [i], [part], dict(added)))
    return units


def _split_hunk(h: Hunk) -> list[Hunk]:
    """A hunk cut into pieces of at most MAX_UNIT_LINES changed lines (a new 300-line file is
    reviewed in windows, not in one prompt the model cannot keep track of)."""
    changed = [ln for ln in h.lines if ln.kind is not LineKind.CONTEXT]
    if len(changed) <= MAX_UNIT_LINES:
        return [h]
    pieces: list[Hunk] = []
    cur: list = []
    n = 0
    for ln in h.lines:
        cur.append(ln)
        if ln.kind is not LineKind.CONTEXT:
            n += 1
        if n >= MAX_UNIT_LINES and ln.kind is not LineKind.REMOVED:
            pieces.append(_sub_hunk(h, cur))
            cur, n = [], 0
    if cur:
        pieces.append(_sub_hunk(h, cur))
    return [p for p in pieces if p.lines]


def _sub_hunk(h: Hunk, lines: list) -> Hunk:
    news = [ln.new_lineno for ln in lines if ln.new_lineno is not None]
    olds = [ln.old_lineno for ln in lines if ln.old_lineno is not None]
    new_start = news[0] if news else h.new_start
    return Hunk(old_start=olds[0] if olds else h.old_start, old_count=len(olds),
                new_start=new_start, new_count=len(news), section=h.section, lines=list(lines))


def render_view(unit: Unit, new_text: str | None) -> str:
    """The unit's code as the model sees it: `L<n> + code` for added lines, `L<n>   code` for
    unchanged ones, `     - code` (no number: it is not in the new file) for removed ones. The
    `L<n>` label is the very token the answer must start with: a small model copies it from the
    line far more reliably than it counts lines."""
    new_lines = new_text.split('\n') if new_text is not None else None
    lo = max(1, unit.hunks[0].new_start - CONTEXT_LINES)
    hi = unit.hunks[-1].new_end + CONTEXT_LINES
    width = len(str(hi)) + 1
    removed_before: dict[int, list[str]] = {}
    known: dict[int, str] = {}
    for h in unit.hunks:
        pending: list[str] = []
        for ln in h.lines:
            if ln.kind is LineKind.REMOVED:
                pending.append(ln.text)
                continue
            known[ln.new_lineno] = ln.text
            if pending:
                removed_before.setdefault(ln.new_lineno, []).extend(pending)
                pending = []
        if pending:  # removed at the end of the hunk: show them after its last line
            removed_before.setdefault(h.new_end + 1, []).extend(pending)
    out: list[str] = []
    if unit.hunks[0].section.strip():
        out.append(f'(inside: {_clip(unit.hunks[0].section.strip())})')
    for n in range(lo, hi + 1):
        for old in removed_before.get(n, ()):
            out.append(f'{"":<{width}} - {_clip(old)}')
        label = f'L{n}'
        if n in unit.added:
            out.append(f'{label:<{width}} + {_clip(unit.added[n])}')
            continue
        text = known.get(n)
        if text is None and new_lines is not None and n <= len(new_lines):
            text = new_lines[n - 1]
            if n == len(new_lines) and text == '':
                break  # the empty string after the final newline is not a line
        if text is None:
            if n > unit.hunks[-1].new_end:
                break
            continue
        out.append(f'{label:<{width}}   {_clip(text)}')
    return '\n'.join(out)


def _clip(s: str) -> str:
    s = s.replace('\t', '    ').rstrip()
    return s if len(s) <= MAX_LINE_CHARS else s[:MAX_LINE_CHARS] + ' ...'


# --- prompts --------------------------------------------------------------------------------------

SYSTEM = ('You are a careful senior engineer reviewing a code change. You report only real defects '
          'in the added lines (marked +): code that will crash, compute a wrong result, leak a '
          'resource, or let an attacker in. You never comment on style, naming, comments, '
          'documentation, tests or formatting. Most changes have no defect; then you answer NONE.')

INSTRUCTIONS = ('Answer with one line per real defect, exactly in the form\n'
                'L<line number>: <bug or security>: <what goes wrong, in a few words>\n'
                'or the single word NONE when the added lines have no real defect.')

# One example each way, in a language and a problem unlike the usual eval cases, so that an echo
# of it is recognisable (see _ECHO_MESSAGES) rather than a plausible false finding.
_EXAMPLE_DEFECT_VIEW = '''File: lib/stats.rb (Ruby)
L31   def average(values)
L32 +   total = values.sum
L33 +   total / values.size
L34   end'''
_EXAMPLE_DEFECT_ANSWER = 'L33: bug: an empty list divides by zero'
_EXAMPLE_CLEAN_VIEW = '''File: lib/names.rb (Ruby)
L57   def full_name(user)
    -   user.first + " " + user.last
L58 +   [user.first, user.last].compact.join(" ")
L59   end'''
_EXAMPLE_CLEAN_ANSWER = 'NONE'
_ECHO_MESSAGES = ('empty list divides by zero',)
_ECHO_WORDS = frozenset({'empty', 'list', 'divides', 'zero'})

def unit_header(unit: Unit) -> str:
    return f'File: {unit.path} ({unit.lang})'


def review_messages(unit: Unit, guidelines: str = '') -> list[dict[str, str]]:
    system = SYSTEM
    if guidelines:
        system += '\n\nThe team\'s review guidelines:\n' + guidelines
    return [
        {'role': 'system', 'content': system},
        {'role': 'user', 'content': f'{_EXAMPLE_DEFECT_VIEW}\n\n{INSTRUCTIONS}'},
        {'role': 'assistant', 'content': _EXAMPLE_DEFECT_ANSWER},
        {'role': 'user', 'content': f'{_EXAMPLE_CLEAN_VIEW}\n\n{INSTRUCTIONS}'},
        {'role': 'assistant', 'content': _EXAMPLE_CLEAN_ANSWER},
        {'role': 'user', 'content': f'{unit_header(unit)}\n{unit.view}\n\n{INSTRUCTIONS}'},
    ]


@dataclasses.dataclass
class Scan:
    """What one prefill of the review prompt says about a unit."""
    risk: float  # 1 - P(the answer starts with NONE): the model's own belief that it has a finding
    line_surprisal: dict[int, float]  # added line -> mean surprisal (nats/token) of its code
    lines_scored: bool = True  # False: scanned for the answer only (scan_unit(lines=False))


NONE_ANSWER = 'NONE'
_ADDED_ROW = re.compile(r'^L(?P<n>\d+) +\+ (?P<code>.*)$')  # an added line in render_view's layout


def scan_unit(model: Any, u: Unit, guidelines: str = '', lines: bool = True) -> Scan:
    """One prefill of the review prompt followed by 'NONE': the surprisal of each code token of
    the view (how unnatural each added line is to the model; Ray et al., ICSE 2016) and, at the
    end, the probability of NONE as the answer. Generation then starts at the least natural
    added line.

    lines=False: only the answer's probability (line_surprisal left empty), when the model can
    score just the last tokens: the prompt is then prefilled without projecting every code
    token onto the vocabulary (a third of the prefill's work for Qwen-0.5B)."""
    prompt = model.chat_prompt(review_messages(u, guidelines))
    at = prompt.rfind('\n' + u.view + '\n')
    if at < 0:  # pragma: no cover - the template keeps the user text intact
        return Scan(0.0, {})
    prefix, text = prompt[:at + 1], prompt[at + 1:]
    head = model.tokenizer.encode(text, add_special_tokens=False)
    full = model.tokenizer.encode(text + NONE_ANSWER, add_special_tokens=False)
    n_head = len(head.ids)
    if full.ids[:n_head] != head.ids or len(full.ids) == n_head:
        return Scan(0.0, {})
    if not lines and 'last' in inspect.signature(model.token_surprisals).parameters:
        tail = list(model.token_surprisals(prefix, text + NONE_ANSWER, last=len(full.ids) - n_head))
        if len(tail) != len(full.ids) - n_head:
            return Scan(0.0, {})
        return Scan(_answer_risk(tail[0]), {}, lines_scored=False)
    surprisals = list(model.token_surprisals(prefix, text + NONE_ANSWER))
    if len(surprisals) != len(full.ids):
        return Scan(0.0, {})
    spans: list[tuple[int, int, int]] = []  # code span of each added line in the view text
    pos = 0
    for row in u.view.split('\n'):
        m = _ADDED_ROW.match(row)
        if m and int(m['n']) in u.added and len(m['code'].strip()) >= 3:
            spans.append((pos + m.start('code'), pos + len(row), int(m['n'])))
        pos += len(row) + 1
    per_line: dict[int, list[float]] = {}
    for (start, _end), value in zip(full.offsets[:n_head], surprisals[:n_head]):
        for lo, hi, n in spans:
            if lo <= start < hi:
                per_line.setdefault(n, []).append(value)
                break
    lines = {n: sum(v) / len(v) for n, v in per_line.items() if v}
    return Scan(_answer_risk(surprisals[n_head]), lines)


def _answer_risk(surprisal: float) -> float:
    """1 - P(the answer starts with NONE), from the surprisal of that first answer token."""
    return min(1.0, max(0.0, 1.0 - math.exp(-max(0.0, surprisal))))


# Which number from the scan is the unit's triage score (chosen on the eval set, see
# eval/results/model.md): 'answer' = scan.risk; 'surprisal' = how unnatural the least natural added
# line is, mapped to 0..1; 'both' = their geometric mean.
TRIAGE_SIGNAL = 'answer'


def unit_risk(scan: Scan, signal: str | None = None) -> float:
    signal = signal or TRIAGE_SIGNAL
    worst = max(scan.line_surprisal.values(), default=0.0)
    surprisal = 1.0 - math.exp(-max(0.0, worst) / 2.0)
    if signal == 'surprisal':
        return surprisal
    if signal == 'both':
        return math.sqrt(max(0.0, scan.risk) * surprisal)
    return scan.risk


def pick_line(scan: Scan) -> int | None:
    """The added line generation starts at: the least natural one."""
    if not scan.line_surprisal:
        return None
    return max(scan.line_surprisal.items(), key=lambda kv: (kv[1], -kv[0]))[0]


# --- parsing and validation -----------------------------------------------------------------------

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


# --- result cache ---------------------------------------------------------------------------------

ENV_CACHE_DIR = 'REVIEWBOT_CACHE_DIR'


def default_cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    return cache_home() / 'results'


class ResultCache:
    """JSON files keyed by sha256; a write goes to a temporary file renamed into place, so a
    crash never leaves half an entry, and an unreadable entry is a miss."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f'{key}.json'

    def get(self, key: str) -> dict[str, Any] | None:
        if self.root is None:
            return None
        try:
            value = json.loads(self._path(key).read_text(encoding='utf-8'))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self.root is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f'.{os.getpid()}.tmp')
            tmp.write_text(json.dumps(value), encoding='utf-8')
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs time


def cache_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode('utf-8', 'surrogateescape'))
        h.update(b'\0')
    return h.hexdigest()


# --- the reviewer ---------------------------------------------------------------------------------

DEFAULT_TRIAGE_THRESHOLD = 0.87  # calibrated on the eval set: eval/results/model.md
# Until the first model call has measured them: speeds of the 0.5B int4 model on a busy 2-core machine.
ASSUMED_PREFILL_TOKENS_PER_SECOND = 150.0
ASSUMED_DECODE_TOKENS_PER_SECOND = 20.0
ASSUMED_LOAD_SECONDS = 2.0


class ModelReviewer:
    name = NAME

    def __init__(self, config: Config, model: Any = None) -> None:
        self.config = config
        self._model = model  # loaded lazily: a fully cached review never loads the model
        self.model_name = str(_cfg(config, 'model', '') or '')
        self.model_dir = str(_cfg(config, 'model_dir', '') or '') or None
        self.threads = int(_cfg(config, 'threads', 2))
        self.threshold = float(_cfg(config, 'triage_threshold', DEFAULT_TRIAGE_THRESHOLD))
        use_cache = bool(_cfg(config, 'cache', True))
        self.cache = ResultCache(default_cache_dir() if use_cache else None)
        self.max_new_tokens = MAX_NEW_TOKENS
        self._prefill_rate: float | None = None  # tokens per second, measured as we go
        self._decode_rate: float | None = None
        self._head_kept = False
        self._notes: list[str] = []  # e.g. the warm daemon went away (reviewbot.engine.warm)

    # The model -------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        if self._model is None and _cfg(self.config, 'server', ''):
            # a team's in-house server instead of a local model; model_for refuses (ConfigError)
            # a server that is not declared in-house, so no code reaches it
            from reviewbot.server.client import model_for
            self._model = model_for(self.config)
        if self._model is None:
            self._model = self._warm_model()
        if self._model is None:
            self._model = self._load_local()
        return self._model

    def _warm_model(self) -> Any:
        """The model of a running `reviewbot daemon` (reviewbot.engine.warm); None when there is
        none (or it serves another export or version) and the model loads in this process."""
        from reviewbot.engine import warm
        section = _section(self.config, 'daemon')
        mode = warm.mode_from(str(section.get('mode', 'use')))
        model, notes = warm.connect(self.model_name or None, self.model_dir, self.threads, mode=mode,
                                    fallback=self._load_local,
                                    idle_minutes=float(section.get('idle_minutes', 15)))
        self._notes.extend(notes)
        return model

    def _load_local(self) -> Any:
        """The model loaded in this process."""
        try:
            from reviewbot.engine import load_model
            return load_model(self.model_name or None, model_dir=self.model_dir,
                              threads=self.threads)
        except ModelError:
            raise
        except ImportError as e:
            raise ModelError(f'the local model engine is not available ({e}): reinstall '
                             'reviewbot, or remove "model" from the reviewers') from None
        except Exception as e:  # onnxruntime refusing a file, out of memory, ...
            name = self.model_name or 'qwen2.5-coder-0.5b'
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ModelError(f'cannot load model {name!r} ({first[:200]}): run '
                             f'`reviewbot model fetch {name} --force`') from None

    def model_identity(self) -> str:
        """Model name and precision for cache keys, found without loading the model."""
        server = str(_cfg(self.config, 'server', '') or '')
        if server:  # the same before and after the server is first asked, and never a local model's
            return f'server|{server.rstrip("/")}'
        if self._model is not None:
            return f'{getattr(self._model, "name", "?")}|{getattr(self._model, "precision", "")}'
        try:
            from reviewbot.engine.paths import model_path
            folder = model_path(self.model_name, self.model_dir) if self.model_name else None
        except Exception:  # unknown model name etc.: load_model will say so properly
            folder = None
        if folder is None:
            return f'{self.model_name}|'
        return f'{self.model_name}|{folder.name.removeprefix("onnx-")}'

    # Planning -------------------------------------------------------------------------------
    def units(self, files: list[FileChange], ctx: ReviewContext) -> tuple[list[Unit], list[Skipped]]:
        units: list[Unit] = []
        skipped: list[Skipped] = []
        for fc in files:
            if not fc.hunks or fc.added_count == 0:
                continue
            if language(fc.path) is None:
                skipped.append(Skipped(fc.path, 'model: not a source file the model reviews',
                                       reviewer=NAME, lines=fc.added_count))
                continue
            try:
                text = ctx.read_new_file(fc.path)
            except Exception:  # an unreadable file still has its diff lines
                text = None
            for u in make_units(fc):
                u.view = render_view(u, text)
                units.append(u)
        return units, skipped

    def plan(self, files: list[FileChange], ctx: ReviewContext) -> list[str]:
        units, skipped = self.units(files, ctx)
        left = ctx.time_left()
        budget = 'no time limit' if left is None else f'budget {max(left, 0):.0f} s'
        lines = [(f'model: local model {self.model_name or "(default)"}, {len(units)} units '
                  f'to triage, {budget}; runs on this machine')]
        lines += [f'  model skips {s.path}: {s.reason}' for s in skipped]
        return lines

    def guidelines(self, ctx: ReviewContext) -> str:
        path = str(_cfg(self.config, 'guidelines', '') or '')
        if not path:
            return ''
        from reviewbot import guidelines as guidelines_file
        from reviewbot.errors import ConfigError
        # the file goes into every prompt: in CI from the trusted base commit, never the work tree;
        # never through a symbolic link nor from the git directory (reviewbot.guidelines)
        files_from = getattr(self.config, 'files_from', None)
        if files_from == '':
            raise ConfigError(f'guidelines {path!r}: this CI run has no base commit to read it from '
                              '(the checked-out work tree is the code under review)')
        base = ctx.repo_root or (self.config.source.parent if self.config.source else Path.cwd())
        return guidelines_file.read(Path(base), path, files_from)[:GUIDELINES_MAX_CHARS]

    # Review ---------------------------------------------------------------------------------
    def review(self, files: list[FileChange], ctx: ReviewContext) -> ReviewerResult:
        result = ReviewerResult()
        try:
            return self._review(files, ctx, result)
        finally:
            # every request to an in-house server is in the report's egress log
            take = getattr(self._model, 'take_egress', None)
            if callable(take):
                result.egress.extend(take())
            notes = getattr(self._model, 'take_notes', None)
            result.notes.extend(self._notes + (notes() if callable(notes) else []))
            self._notes = []

    def _review(self, files: list[FileChange], ctx: ReviewContext, result: ReviewerResult) -> ReviewerResult:
        stats: dict[str, Any] = {'units': 0, 'triaged': 0, 'generated': 0, 'cache_hits': 0,
                                 'model_calls': 0, 'findings': 0, 'dropped': {}}
        result.stats = stats
        units, skipped = self.units(files, ctx)
        result.skipped.extend(skipped)
        stats['units'] = len(units)
        if not units:
            return result
        guidelines = self.guidelines(ctx)

        # Phase 1: triage every unit (one prefill each), in diff order, while time allows.
        untriaged: list[Unit] = []
        for u in units:
            score = self.triage(u, guidelines, ctx, stats)
            if score is None:
                untriaged.append(u)

        # Phase 2: generate for units at or above the threshold, riskiest first.
        for u in units:
            if u.score is not None and u.score < self.threshold:
                result.skipped.append(self._skip(u, f'triage: low risk score {u.score:.2f}'))
        for u in untriaged:
            result.skipped.append(self._skip(u, 'budget: not reached'))
        risky = sorted((u for u in units if u.score is not None and u.score >= self.threshold),
                       key=lambda u: (-(u.score or 0.0), u.path, u.first_line))
        for u in risky:
            answer = self.answer(u, guidelines, ctx, stats)
            if answer is None:
                result.skipped.append(self._skip(u, 'budget: not reached'))
                continue
            text, complete = answer
            if not complete:
                result.skipped.append(self._skip(u, 'budget: generation cut at the deadline'))
            stats['generated'] += 1
            checked = validate(parse_output(text), u, confidence=u.score)
            for reason, n in checked.dropped.items():
                stats['dropped'][reason] = stats['dropped'].get(reason, 0) + n
            if u.cached_answer:  # the finding says it was computed in an earlier run
                checked.findings[:] = [dataclasses.replace(f, extra={**f.extra, 'cached': True})
                                       for f in checked.findings]
            result.findings.extend(checked.findings)
        stats['findings'] = len(result.findings)
        cached = sum(1 for f in result.findings if f.extra.get('cached'))
        if cached:
            result.notes.append(f'model: {cached} of {len(result.findings)} findings answered from the '
                                'result cache (computed in an earlier run; nothing was asked of the '
                                'model for them in this one)')
        if stats['dropped']:
            parts = ', '.join(f'{n} {r}' for r, n in sorted(stats['dropped'].items()))
            result.notes.append(f'model: dropped {sum(stats["dropped"].values())} unusable '
                                f'model findings ({parts})')
        return result

    def triage_key(self, u: Unit, guidelines: str) -> str:
        return cache_key('scan', PROMPT_VERSION, self.model_identity(), guidelines,
                         unit_header(u), u.view)

    def answer_key(self, u: Unit, guidelines: str, line: int) -> str:
        return cache_key('review', PROMPT_VERSION, self.model_identity(), guidelines,
                         unit_header(u), u.view, str(line))

    def triage(self, u: Unit, guidelines: str, ctx: ReviewContext,
               stats: dict[str, Any]) -> float | None:
        """The unit's risk score (cached); None when the budget does not allow the prefill."""
        key = self.triage_key(u, guidelines)
        hit = self.cache.get(key)
        if hit is not None:
            try:
                u.scan = Scan(float(hit['risk']), {int(k): float(v) for k, v in hit['lines'].items()},
                              lines_scored=bool(hit.get('lines_scored', True)))
            except (KeyError, TypeError, ValueError, AttributeError):
                u.scan = None
            if u.scan is not None:
                u.score = unit_risk(u.scan)
                stats['cache_hits'] += 1
                stats['triaged'] += 1
                return u.score
        if not self._time_for(ctx, self._prompt_cost(u, 0)):
            return None
        t0 = time.perf_counter()
        self._keep_head(u, guidelines)
        # The line surprisals are needed only to pick where generation starts (or when they are
        # the triage signal): most units are cleared by triage and never need them.
        u.scan = scan_unit(self.model, u, guidelines, lines=TRIAGE_SIGNAL != 'answer')
        self._note_prefill(u.view + ' ' * PROMPT_OVERHEAD_CHARS, time.perf_counter() - t0)
        u.score = unit_risk(u.scan)
        stats['model_calls'] += 1
        stats['triaged'] += 1
        self._remember_scan(key, u.scan)
        return u.score

    def _keep_head(self, u: Unit, guidelines: str) -> None:
        """Once per review: the prompt head every unit shares (system prompt, guidelines and the
        two examples, ~300 tokens) comes from the key/values an earlier run kept in the cache dir,
        so a cold hook does not prefill it again. Off with the result cache off."""
        if self._head_kept or self.cache.root is None:
            return
        self._head_kept = True
        keep = getattr(self.model, 'keep_prefix', None)
        if keep is None:
            return
        prompt = self.model.chat_prompt(review_messages(u, guidelines))
        at = prompt.rfind(unit_header(u))
        if at > 0:
            keep(prompt[:at], self.cache.root / 'kv')

    def _remember_scan(self, key: str, scan: Scan) -> None:
        self.cache.put(key, {'risk': scan.risk, 'lines': scan.line_surprisal, 'lines_scored': scan.lines_scored})

    def _score_lines(self, u: Unit, guidelines: str, ctx: ReviewContext, stats: dict[str, Any]) -> bool:
        """Complete a unit's answer-only scan with its line surprisals; False when out of time."""
        if not self._time_for(ctx, self._prompt_cost(u, 0)):
            return False
        risk = u.scan.risk if u.scan is not None else None
        u.scan = scan_unit(self.model, u, guidelines)
        if risk is not None:
            u.scan.risk = risk  # the same number; the score already decided on stays as it was
        stats['model_calls'] += 1
        self._remember_scan(self.triage_key(u, guidelines), u.scan)
        return True

    def answer(self, u: Unit, guidelines: str, ctx: ReviewContext,
               stats: dict[str, Any]) -> tuple[str, bool] | None:
        """The model's finding for the unit's least natural added line (cached), and whether it
        is complete; None when the budget does not allow it."""
        if u.scan is not None and not u.scan.lines_scored and not self._score_lines(u, guidelines, ctx, stats):
            return None
        line = pick_line(u.scan) if u.scan is not None else None
        if line is None:
            return '', True
        key = self.answer_key(u, guidelines, line)
        hit = self.cache.get(key)
        if hit is not None and isinstance(hit.get('text'), str):
            stats['cache_hits'] += 1
            u.cached_answer = True
            return hit['text'], True
        if not self._time_for(ctx, self._prompt_cost(u, self.max_new_tokens // 3)):
            return None
        # The answer is started at the chosen line: the model only says what is wrong there.
        start = f'L{line}:'
        prompt = self.model.chat_prompt(review_messages(u, guidelines)) + start
        t0 = time.perf_counter()
        gen = self.model.generate(prompt, max_new_tokens=self.max_new_tokens, stop=('\n',),
                                  temperature=0.0, seed=0, deadline=ctx.deadline)
        self._note_generation(gen, prompt, time.perf_counter() - t0)
        stats['model_calls'] += 1
        text = start + gen.text if isinstance(getattr(gen, 'text', None), str) else ''
        if getattr(gen, 'stop_reason', '') == 'deadline':
            return '', False  # a cut message is no message; not cached
        self.cache.put(key, {'text': text})
        return text, True

    def _note_generation(self, gen: Any, prompt: str, seconds: float) -> None:
        prefill = getattr(gen, 'prefill_seconds', None)
        decode = getattr(gen, 'decode_seconds', None)
        if prefill and getattr(gen, 'prompt_tokens', 0):
            self._prefill_rate = gen.prompt_tokens / max(prefill, 1e-3)
        elif prefill is None:
            self._note_prefill(prompt, seconds)
        if decode and getattr(gen, 'token_ids', None):
            self._decode_rate = len(gen.token_ids) / max(decode, 1e-3)

    def _skip(self, u: Unit, reason: str) -> Skipped:
        return Skipped(u.path, reason, reviewer=NAME, hunk=u.hunk_indexes[0], lines=len(u.added))

    # Time -----------------------------------------------------------------------------------
    def _prompt_cost(self, u: Unit, new_tokens: int) -> float:
        """Seconds a prompt for this unit will take: from the speeds seen so far, or, before the
        first call, from conservative speeds of a busy 2-core machine plus the model load. A model
        call cannot be interrupted, so one is never started that would overrun the deadline."""
        tokens = (len(u.view) + PROMPT_OVERHEAD_CHARS) / 3.5  # ~3.5 chars per token of code
        cost = tokens / (self._prefill_rate or ASSUMED_PREFILL_TOKENS_PER_SECOND)
        if new_tokens:
            cost += new_tokens / (self._decode_rate or ASSUMED_DECODE_TOKENS_PER_SECOND)
        if self._model is None:
            cost += ASSUMED_LOAD_SECONDS
        return cost

    def _note_prefill(self, prompt: str, seconds: float) -> None:
        if seconds > 0:
            self._prefill_rate = (len(prompt) / 3.5) / seconds

    @staticmethod
    def _time_for(ctx: ReviewContext, cost: float) -> bool:
        left = ctx.time_left()
        return left is None or left > cost


def _section(config: Config, name: str) -> dict[str, Any]:
    try:
        return config.section(name)
    except (KeyError, AttributeError):
        return {}


def _cfg(config: Config, key: str, default: Any) -> Any:
    try:
        return config.get(key)
    except KeyError:
        return default


# --- the naive baseline ---------------------------------------------------------------------------

NAIVE_SYSTEM = 'You are a code reviewer.'
NAIVE_INSTRUCTIONS = ('Review this diff. The added lines are numbered with their line number in the '
                      'new file. Reply with JSON lines, one object per real defect: '
                      '{"path": ..., "line": ..., "message": ...}. Report real defects only; if '
                      'there are none, reply with nothing.')


def naive_prompt_text(files: list[FileChange]) -> str:
    parts = []
    for fc in files:
        parts.append(f'--- {fc.path}')
        for h in fc.hunks:
            for ln in h.lines:
                if ln.kind is LineKind.ADDED:
                    parts.append(f'{ln.new_lineno}: +{ln.text}')
                elif ln.kind is LineKind.REMOVED:
                    parts.append(f'   -{ln.text}')
                else:
                    parts.append(f'{ln.new_lineno}:  {ln.text}')
    return '\n'.join(parts)


def naive_review(files: list[FileChange], model: Any, *, deadline: float | None = None,
                 max_new_tokens: int = 256) -> list[Finding]:
    """Baseline: one prompt for the whole diff, JSON lines back, no triage and no validation
    beyond what is needed to make a Finding (a line number and a message)."""
    messages = [{'role': 'system', 'content': NAIVE_SYSTEM},
                {'role': 'user', 'content': f'{NAIVE_INSTRUCTIONS}\n\n{naive_prompt_text(files)}'}]
    gen = model.generate(model.chat_prompt(messages), max_new_tokens=max_new_tokens,
                         temperature=0.0, seed=0, deadline=deadline)
    default_path = files[0].path if len(files) == 1 else ''
    out: list[Finding] = []
    for line in str(getattr(gen, 'text', '')).splitlines():
        line = line.strip().strip(',')
        if not line.startswith('{'):
            continue
        try:
            obj = json.loads(line)
            n = int(obj.get('line'))
            msg = str(obj.get('message') or '').strip()
        except (ValueError, TypeError, AttributeError):
            continue
        path = str(obj.get('path') or default_path)
        if msg:
            out.append(Finding(path=path, line=n, end_line=n, severity=Severity.WARNING,
                               category='model/naive', message=msg, reviewer='model-naive'))
    return out


def from_config(config: Config, *, model: Any = None) -> ModelReviewer:
    """The registry's factory (reviewbot.reviewers.REGISTRY). `model`: an already loaded model to use
    (the server's own), else the reviewer loads the configured one when it first needs it."""
    return ModelReviewer(config, model=model)
