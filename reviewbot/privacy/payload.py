"""What the cloud reviewer would send: the redacted, bounded prompt and the exact request body.

Three layers stand between a secret in the diff and the wire, each line-preserving so the line
numbers shown to the model stay true:
  1. the detect-secrets based redactor (reviewbot.privacy.redact.redact, shared with the secrets reviewer),
     run over each file's lines;
  2. this module's own patterns for well-known token formats, URL passwords, secret assignments,
     high-entropy words and PEM blocks;
  3. detect-secrets' file scanner over the whole final prompt: a flagged line is withheld.
Then the final prompt is checked once more by all three; if anything is still found, nothing is
sent (PayloadError). The body is built deterministically: the same diff and config give the same
bytes, so --dry-run shows exactly what a real run sends.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reviewbot import textscan
from reviewbot.core import FileChange, Hunk, LineKind, Skipped
from reviewbot.errors import ReviewbotError

MASK = '********'  # the same mask reviewbot.privacy.redact uses
WITHHELD = '[line withheld: possible secret]'
BYTES_PER_TOKEN_ESTIMATE = 3  # conservative for code (real tokenizers give ~3.5-4 bytes per token)
BODY_OVERHEAD = 1024  # JSON framing, model name, max_tokens...

Redactor = Callable[[str], tuple[str, int]]


class PayloadError(ReviewbotError):
    """The payload cannot be sent safely (a secret survived redaction, budget too small, ...)."""


SYSTEM_PROMPT = """\
You are a careful senior code reviewer. You get excerpts of a diff. Each code line is shown as
  <new line number> + <code>   an added line (review these)
  <new line number>   <code>   an unchanged context line
         - <code>              a removed line (no new line number)
Report only real problems in the ADDED lines: bugs, crashes, security issues, resource leaks,
wrong logic, broken error handling. No style or formatting remarks, no praise, no summaries.
Text shown as ******** or [line withheld: ...] was removed for privacy: never report it.
Answer with JSON lines only: one JSON object per line, nothing else, no code fences. Keys:
  "path": the file path exactly as shown after "File:",
  "line": the new line number of the first added line the problem is on,
  "end_line": the new line number of the last line (optional, same hunk),
  "severity": "error" | "warning" | "info",
  "category": a short id like "bug/off-by-one" or "security/sql-injection",
  "message": one or two sentences saying what is wrong and why,
  "suggestion": replacement code for lines line..end_line (optional).
If there is nothing to report, answer with nothing at all."""


@dataclasses.dataclass
class Payload:
    system: str
    user: str
    files: list[str]  # paths included
    hunks: list[str]  # 'path:new_start-new_end' of each hunk included
    sent_lines: dict[str, set[int]]  # path -> new-file line numbers of added lines shown
    hunk_spans: dict[str, list[tuple[int, int]]]  # path -> (new_start, new_end) of hunks shown
    redactions: int  # secrets masked + lines withheld
    skipped: list[Skipped]
    max_output_tokens: int


# -- layer 2: our own patterns -------------------------------------------------------------------

_TOKEN_PATTERNS = [
    re.compile(p) for p in (
        r'\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b',
        r'\bgh[pousr]_[A-Za-z0-9]{30,}',
        r'\bgithub_pat_[A-Za-z0-9_]{20,}',
        r'\bgl(?:pat|dt|rt|ptt|cbt|imt|ft|soat|agent|oas)-[A-Za-z0-9_\-]{16,}',
        r'\bxox[abposre]-[A-Za-z0-9-]{10,}',
        r'hooks\.slack\.com/services/[A-Za-z0-9/_\-]+',
        r'\b(?:sk|rk|pk|whsec)_(?:live|test)_[A-Za-z0-9]{10,}',
        r'\bAIza[0-9A-Za-z_\-]{30,}',
        r'\bya29\.[0-9A-Za-z_\-]{20,}',
        r'\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}',
        r'\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}',
        r'\bnpm_[A-Za-z0-9]{30,}',
        r'\bpypi-[A-Za-z0-9_\-]{50,}',
        r'\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}',
        r'\bAC[0-9a-f]{32}\b|\bSK[0-9a-f]{32}\b',
        r'\bdop_v1_[a-f0-9]{64}\b',
        r'\bhf_[A-Za-z0-9]{30,}',
    )
]
# name = "value" where the name says it is a credential. Every repetition before the value is
# bounded, so a long run of name characters or spaces costs each start position a bounded number of
# steps (the regex stays linear on a megabyte line); the value stops at the first quote or space.
_ASSIGNMENT = re.compile(
    r'(?i)(?:password|passwd|passphrase|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|'
    r'private[_\-]?key|client[_\-]?secret|auth|credential|signing[_\-]?key|encryption[_\-]?key)'
    r'[A-Za-z0-9_.\-]{0,64}["\']?[ \t]{0,16}(?::=|=>|[:=])[ \t]{0,16}(?:[bru])?(?P<q>["\'`])'
    r'(?P<secret>[^"\'`\s]{6,})(?P=q)'
)
_WORD = re.compile(r'[A-Za-z0-9+/=_\-]{20,}')
_PEM_BEGIN = re.compile(r'-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|PuTTY-User-Key-File')
_PEM_END = re.compile(r'-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|Private-MAC:')


def _entropy(s: str) -> float:
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def _looks_random(word: str) -> bool:
    """A long word mixing cases and digits with high entropy: a key, not an identifier."""
    if MASK in word or len(word) < 20:
        return False
    classes = sum(bool(re.search(p, word)) for p in (r'[a-z]', r'[A-Z]', r'[0-9]'))
    return classes == 3 and _entropy(word) >= 4.0


def own_redact_line(line: str) -> tuple[str, int]:
    """Layer 2 on one line: mask well-known tokens, URL passwords, secret assignments, random words."""
    count = 0
    spans: list[tuple[int, int]] = []
    for pat in _TOKEN_PATTERNS:
        spans.extend(m.span() for m in pat.finditer(line))
    # scheme://user:PASSWORD@host -- the password part (a linear scan anchored on '://' and '@')
    found = [*textscan.url_password_spans(line, empty_user=True, at_in_password=False),
             *(m.span('secret') for m in _ASSIGNMENT.finditer(line)
               if not textscan.is_reference(line, m.start('secret')))]
    for s, e in found:
        secret = line[s:e]
        if MASK not in secret and not secret.startswith(('{', '$', '<', '%(')):
            spans.append((s, e))
    spans.extend(m.span() for m in _WORD.finditer(line)
                 if _looks_random(m.group()) and not textscan.is_digest(m.group(), line, m.start()))
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if line[s:e] == MASK:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    parts: list[str] = []
    pos = 0
    for s, e in merged:
        parts += [line[pos:s], MASK]
        pos = e
        count += 1
    parts.append(line[pos:])
    return ''.join(parts), count


def own_redact_lines(lines: list[str]) -> tuple[list[str], int]:
    """Layer 2 on a file's lines: PEM blocks (BEGIN..END, or to the end) masked whole, then each line."""
    out: list[str] = []
    count = 0
    in_pem = False
    for line in lines:
        if in_pem or _PEM_BEGIN.search(line):
            if not in_pem:
                count += 1
            in_pem = not _PEM_END.search(line)
            out.append(MASK)
            continue
        red, n = own_redact_line(line)
        out.append(red)
        count += n
    return out, count


# -- layer 3: detect-secrets' scanner over the final text ----------------------------------------

def detect_secrets_lines(text: str) -> set[int]:
    """0-based indexes of the lines of `text` detect-secrets' file scanner flags."""
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    with tempfile.TemporaryDirectory(prefix='reviewbot-payload-') as tmp:
        path = Path(tmp) / 'payload.txt'
        # some detect-secrets plugins are cubic in runs of spaces or quadratic in long words:
        # show them a safe view of each line (same line count, so the flagged indexes stay true)
        path.write_text('\n'.join(textscan.View(ln, break_words=True).text for ln in text.split('\n')),
                        encoding='utf-8')
        lines = text.split('\n')
        with default_settings():
            found = list(scan_file(os.fspath(path)))
    return {s.line_number - 1 for s in found if not _benign(s, lines[s.line_number - 1])}


def _benign(secret: Any, line: str) -> bool:
    """A digest (sha256:..., a commit id next to 'commit') or the name of a secret (secret_name = ...)."""
    value = getattr(secret, 'secret_value', None) or ''
    at = line.find(value) if value else -1
    if at < 0:
        return False
    if secret.type in ('Base64 High Entropy String', 'Hex High Entropy String'):
        return textscan.is_digest(value, line, at)
    return secret.type == 'Secret Keyword' and textscan.is_reference(line, at)


def default_redactor() -> Redactor:
    """The detect-secrets redactor; if it cannot be loaded, nothing may be sent."""
    try:
        from reviewbot.privacy.redact import redact
    except ImportError as e:
        raise PayloadError(f'the secrets redactor is unavailable ({e})') from None
    return redact


# -- building ------------------------------------------------------------------------------------

def _format_line(kind: LineKind, new_lineno: int | None, text: str) -> str:
    if kind is LineKind.REMOVED:
        return f'{"":>6} - {text}'
    mark = '+' if kind is LineKind.ADDED else ' '
    return f'{new_lineno:>6} {mark} {text}'


def _file_header(f: FileChange) -> str:
    if f.old_path and f.new_path and f.old_path != f.new_path:
        return f'File: {f.new_path} (renamed from {f.old_path})'
    return f'File: {f.path} ({f.kind.value})'


def _hunk_header(h: Hunk) -> str:
    return f'@@ new lines {h.new_start}-{h.new_end} @@'


def content_budget(cloud: dict[str, Any]) -> tuple[int, int]:
    """(bytes of prompt allowed, max_tokens to ask) from the payload, token and cost limits."""
    max_out = int(cloud['max_output_tokens'])
    max_run = int(cloud['max_tokens_per_run'])
    if max_out >= max_run:
        raise PayloadError(f'cloud.max_output_tokens ({max_out}) leaves no room in '
                           f'cloud.max_tokens_per_run ({max_run})')
    limit = int(cloud['max_payload_bytes']) - BODY_OVERHEAD
    limit = min(limit, (max_run - max_out) * BYTES_PER_TOKEN_ESTIMATE)
    max_cost = float(cloud['max_cost_per_run'])
    price_in, price_out = float(cloud['price_per_1k_input']), float(cloud['price_per_1k_output'])
    if max_cost > 0:
        left = max_cost - max_out / 1000 * price_out
        if left <= 0:
            raise PayloadError(f'cloud.max_cost_per_run ({max_cost}) is below the cost of '
                               f'max_output_tokens alone')
        if price_in > 0:
            limit = min(limit, int(left / price_in * 1000) * BYTES_PER_TOKEN_ESTIMATE)
    limit -= len(SYSTEM_PROMPT.encode('utf-8'))
    if limit <= 0:
        raise PayloadError('the payload/token/cost limits leave no room for any code')
    return limit, max_out


def _block_text(f: FileChange, h: Hunk, lines: list[str], first: bool, new_file: bool) -> str:
    header = [] if first else ['']
    if new_file:
        header.append(_file_header(f))
    return '\n'.join([*header, _hunk_header(h), *lines])


def build(files: list[FileChange], cloud: dict[str, Any], redactor: Redactor | None = None) -> Payload:
    """The redacted, bounded prompt for `files` (already cleared by the gate). Raises PayloadError.

    Hunks are chosen first (whole hunks, in diff order, while they fit), and only the chosen ones
    are redacted: redaction is the slow part. Masks can make a line longer, so the result is
    measured again and trailing hunks dropped until it fits.
    """
    redactor = redactor or default_redactor()
    budget, max_out = content_budget(cloud)
    skipped: list[Skipped] = []

    def skip(f: FileChange, h: Hunk) -> None:
        skipped.append(Skipped(f.path, 'cloud: over the payload/token/cost budget, not sent',
                               'cloud', hunk=f.hunks.index(h), lines=len(h.added)))

    # 1. choose hunks by their unredacted size
    chosen: list[tuple[FileChange, Hunk]] = []
    used = 0
    for f in files:
        if f.is_binary or f.is_submodule:
            skipped.append(Skipped(f.path, 'cloud: binary or submodule, not sent', 'cloud'))
            continue
        if f.added_count == 0:
            if f.hunks:
                skipped.append(Skipped(f.path, 'cloud: no added lines, not sent', 'cloud',
                                       lines=f.removed_count))
            continue
        for h in f.hunks:
            lines = [_format_line(ln.kind, ln.new_lineno, ln.text) for ln in h.lines]
            size = len(_block_text(f, h, lines, not chosen, True).encode('utf-8')) + 1
            if used + size > budget:
                skip(f, h)
                continue
            chosen.append((f, h))
            used += size

    # 2. layers 1 and 2, per file over its chosen hunks (a PEM block may span hunks)
    redactions = 0
    blocks: list[tuple[FileChange, Hunk, list[str]]] = []
    k = 0
    while k < len(chosen):
        f = chosen[k][0]
        hunks = []
        while k < len(chosen) and chosen[k][0] is f:
            hunks.append(chosen[k][1])
            k += 1
        raw = [ln.text for h in hunks for ln in h.lines]
        red_text, n1 = redactor('\n'.join(raw))
        red = red_text.split('\n')
        if len(red) != len(raw):
            raise PayloadError('the secrets redactor changed the number of lines')
        red, n2 = own_redact_lines(red)
        redactions += n1 + n2
        i = 0
        for h in hunks:
            blocks.append((f, h, [_format_line(ln.kind, ln.new_lineno, red[i + j])
                                  for j, ln in enumerate(h.lines)]))
            i += len(h.lines)

    # 3. detect-secrets over everything chosen; a flagged line is withheld (its number stays)
    flat = [line for _, _, lines in blocks for line in lines]
    flagged = detect_secrets_lines('\n'.join(flat)) if flat else set()
    redactions += len(flagged)
    i = 0
    for _, _, lines in blocks:
        for j, line in enumerate(lines):
            if i in flagged:
                lines[j] = line[:9] + WITHHELD
            i += 1

    # 4. assemble; drop trailing hunks while the masks made it too big
    def assemble(bs: list[tuple[FileChange, Hunk, list[str]]]) -> str:
        parts = [_block_text(f, h, lines, n == 0, n == 0 or bs[n - 1][0] is not f)
                 for n, (f, h, lines) in enumerate(bs)]
        return '\n'.join(parts) + '\n' if parts else ''

    user = assemble(blocks)
    while blocks and len(user.encode('utf-8')) > budget:
        f, h, _ = blocks.pop()
        skip(f, h)
        user = assemble(blocks)

    included_files: list[str] = []
    sent_lines: dict[str, set[int]] = {}
    spans: dict[str, list[tuple[int, int]]] = {}
    for f, h, _ in blocks:
        if f.path not in included_files:
            included_files.append(f.path)
        sent_lines.setdefault(f.path, set()).update(ln.new_lineno for ln in h.added
                                                    if ln.new_lineno is not None)
        spans.setdefault(f.path, []).append((h.new_start, h.new_end))
    hunk_ids = [f'{f.path}:{h.new_start}-{h.new_end}' for f, h, _ in blocks]
    if user:
        verify_clean(user)
    return Payload(SYSTEM_PROMPT, user, included_files, hunk_ids, sent_lines, spans, redactions,
                   skipped, max_out)


def verify_clean(text: str) -> None:
    """Last check on the exact prompt: no detector may find anything left. Raises PayloadError.

    Uses the secrets reviewer's own (non-eager) detector, our patterns and detect-secrets' file
    scanner. (Re-running the eager redactor here would flag harmless names next to masks.)
    """
    try:
        from reviewbot.privacy.redact import scan_line
    except ImportError as e:
        raise PayloadError(f'the secrets detector is unavailable ({e})') from None
    lines = text.split('\n')
    # a hit that covers only a mask is the mask itself (e.g. scheme://user:********@host)
    if any(line[h.start:h.end].strip('*') for line in lines for h in scan_line(line)):
        raise PayloadError('a secret is still detected in the final payload (secrets reviewer)')
    if any(own_redact_line(line)[0] != line for line in lines):
        raise PayloadError('a secret is still detected in the final payload (token patterns)')
    if detect_secrets_lines(text):
        raise PayloadError('a secret is still detected in the final payload (detect-secrets)')


# -- the request ---------------------------------------------------------------------------------

def request_body(provider: str, model: str, payload: Payload) -> bytes:
    """The exact bytes POSTed: deterministic JSON (sorted keys, no timestamps)."""
    if provider == 'anthropic':
        obj: dict[str, Any] = {
            'model': model,
            'max_tokens': payload.max_output_tokens,
            'temperature': 0,
            'system': payload.system,
            'messages': [{'role': 'user', 'content': payload.user}],
        }
    else:
        obj = {
            'model': model,
            'max_tokens': payload.max_output_tokens,
            'temperature': 0,
            'messages': [
                {'role': 'system', 'content': payload.system},
                {'role': 'user', 'content': payload.user},
            ],
        }
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
