"""What the cloud reviewer would send: the redacted, bounded prompt and the exact request body.

Three layers stand between a secret in the diff and the wire, each line-preserving so the line
numbers shown to the model stay true:
  1. the detect-secrets based redactor (reviewbot.privacy.redact.redact, shared with the secrets reviewer),
     run over each file's lines;
  2. our own patterns (reviewbot.privacy.layers) for well-known token formats, URL passwords, secret assignments,
     high-entropy words and PEM blocks;
  3. detect-secrets' file scanner over the whole final prompt: a flagged line is withheld.
Then the final prompt is checked once more by all three; if anything is still found, nothing is
sent (PayloadError). The body is built deterministically: the same diff and config give the same
bytes, so --dry-run shows exactly what a real run sends.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from reviewbot.core import FileChange, Hunk, LineKind, Skipped
from reviewbot.errors import ReviewbotError
from reviewbot.privacy.layers import detect_secrets_lines, own_redact_line, own_redact_lines
from reviewbot.privacy.redact import MASK as MASK  # the one mask, as payload.MASK (reviewbot.reviewers.cloud)

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
