"""Layers 2 and 3 of the cloud payload's redaction (reviewbot.privacy.payload): our own patterns for
well-known token formats, URL passwords, secret assignments, high-entropy words and PEM blocks, each
line-preserving; and detect-secrets' file scanner over the final text, whose flagged lines are withheld.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from reviewbot import textscan
from reviewbot.privacy.redact import MASK

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
