"""Secrets in a line of text, found by detect-secrets, and the redactor for anything that leaves.

detect-secrets decides *what* is a secret (its plugins: AWS, GitHub, GitLab, Slack, Stripe, JWT,
private keys, basic-auth URLs, keyword assignments, high-entropy strings, ...). This module only
decides *how much* of the line to mask: a plugin may report part of a token (e.g. 'ghp'), so the
mask grows to the whole token-like run around it, and a PEM block is masked from BEGIN to END.
The secrets reviewer (reviewbot.reviewers.secrets) reports what `scan_line` finds; the cloud
payload, the fixes and the model prompts send only what `redact` leaves.
"""
from __future__ import annotations

import bisect
import dataclasses
import functools
import re
from collections.abc import Iterator
from typing import Any

from reviewbot import textscan

MASK = '********'
_TOKEN_RUN = re.compile(r'[A-Za-z0-9_\-+/=.~]+')
_PEM_BEGIN = re.compile(r'-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----')
_PEM_END = re.compile(r'-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----')
# Entropy hits shorter than this are almost always words or ids, not credentials.
_MIN_ENTROPY_SECRET = 16
# a placeholder, not a password: ${DB_PASS}, $DB_PASS, {password}, <password>, %(password)s
_TEMPLATE_PASSWORD = re.compile(r'\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{[^}]*\}|<[^>]*>|%\([^)]*\)s')
# detect-secrets' basic-auth plugin skips passwords with RFC 3986 sub-delimiters ('!', '$', ...),
# which real connection strings do contain: the password part of scheme://user:pass@ is masked too
# (textscan.url_password_spans, a linear scan: the regex it replaced was quadratic on long lines).
_PREFIXED_TYPES = frozenset({'AWS Access Key', 'GitHub Token', 'GitLab Token', 'Slack Token',
                             'Stripe Access Key', 'JSON Web Token', 'OpenAI Token', 'PyPI Token',
                             'NPM tokens', 'SendGrid API Key'})
# detect-secrets plugins whose regexes are quadratic in a long word that repeats their keyword
_WORD_QUADRATIC = frozenset({'KeywordDetector', 'OpenAIDetector'})
_ENTROPY_TYPES = frozenset({'Base64 High Entropy String', 'Hex High Entropy String'})


@dataclasses.dataclass(frozen=True)
class SecretHit:
    type: str  # detect-secrets' name, e.g. 'AWS Access Key'
    start: int  # span in the line that must be masked
    end: int


@functools.cache
def _plugins() -> tuple[Any, ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    classes: dict[str, Any] = get_mapping_from_secret_type_to_class()
    return tuple(cls() for cls in classes.values())


@functools.cache
def _heuristic_filters() -> tuple[Any, ...]:
    from detect_secrets.filters import heuristic
    names = ('is_sequential_string', 'is_potential_uuid', 'is_likely_id_string',
             'is_templated_secret', 'is_prefixed_with_dollar_sign', 'is_indirect_reference')
    return tuple(getattr(heuristic, n) for n in names if hasattr(heuristic, n))


def _filtered(secret: str, line: str, plugin: Any) -> bool:
    for f in _heuristic_filters():
        params = f.__code__.co_varnames[:f.__code__.co_argcount]
        kwargs = {'secret': secret, 'line': line, 'plugin': plugin}
        try:
            if f(**{k: v for k, v in kwargs.items() if k in params}):
                return True
        except Exception:  # a heuristic that cannot judge does not filter
            continue
    return False


_IDENTIFIER_PARTS = re.compile(r'[A-Za-z]+')


def _looks_like_code(value: str) -> bool:
    """An unquoted word found only by eager search that is an identifier or a dotted/keyword
    expression (DEFAULT_TIMEOUT_CONFIG, trust_env=trust_env, self.follow_redirects) rather than a
    credential: credentials carry digits, or are long runs of mixed case with no word breaks."""
    if any(c.isdigit() for c in value):
        return False
    parts = [p for p in re.split(r'[_.=\-/]+', value) if p]
    if len(parts) > 1 and all(_IDENTIFIER_PARTS.fullmatch(p) and len(p) <= 16 for p in parts):
        return True
    return len(value) < 32


def _token_runs(line: str) -> tuple[list[int], list[int]]:
    """Starts and ends of the runs of token characters in `line` (one linear pass)."""
    runs = [m.span() for m in _TOKEN_RUN.finditer(line)]
    return [a for a, _ in runs], [b for _, b in runs]


def _widen(runs: tuple[list[int], list[int]], start: int, end: int) -> tuple[int, int]:
    """Grow [start, end) to the whole token-like run(s) it touches."""
    starts, ends = runs
    k = bisect.bisect_right(starts, start) - 1  # the run that holds or touches `start`
    if k >= 0 and ends[k] >= start:
        start = min(start, starts[k])
    k = bisect.bisect_left(ends, end)  # the run that holds or touches `end`
    if k < len(starts) and starts[k] <= end:
        end = max(end, ends[k])
    return start, end


def _analyze(plugin: Any, text: str, eager: bool) -> Any:
    try:
        return plugin.analyze_line(filename='reviewbot', line=text, line_number=0,
                                   context=None, enable_eager_search=eager)
    except TypeError:  # older plugin signature
        return plugin.analyze_line(filename='reviewbot', line=text, line_number=0)


def _is_global_ipv4(value: str) -> bool:
    """detect-secrets' public-IP rule leaves out only 127/8, 10/8, 172.16/12 and 192.168/16: an
    address that is not globally routable (0.0.0.0, 169.254/16, 100.64/10, 240/4, ...) names no
    one's public host."""
    import ipaddress
    try:
        return ipaddress.IPv4Address(value.split(':', 1)[0]).is_global
    except ValueError:
        return True


def scan_line(line: str, *, eager: bool = False) -> list[SecretHit]:
    """Secrets in one line. `eager` also checks unquoted words (used when redacting, where a
    false positive costs a masked word and a miss costs a leak).

    Linear in the line's length: detect-secrets sees the line in windows of textscan.WINDOW
    characters (overlapping by textscan.OVERLAP, so no secret up to that length is cut), with long
    runs of spaces squeezed (some of its plugins are cubic in them)."""
    hits: list[SecretHit] = []
    runs: tuple[list[int], list[int]] | None = None
    for offset, window in textscan.windows(line):
        plain = textscan.View(window)
        broken = textscan.View(window, break_words=True) if len(window) > textscan.MAX_WORD else plain
        quoted = any(q in window for q in '\'"`')
        for plugin in _plugins():
            name = type(plugin).__name__
            if name == 'KeywordDetector' and not quoted:
                continue  # every keyword pattern it uses for source files needs a quote
            sq = broken if name in _WORD_QUADRATIC else plain
            for secret in _analyze(plugin, sq.text, eager) or ():
                value = secret.secret_value or ''
                at = sq.text.find(value) if value else -1
                if at < 0:
                    continue
                if secret.type in _ENTROPY_TYPES and len(value) < _MIN_ENTROPY_SECRET:
                    continue
                if secret.type in _ENTROPY_TYPES and not eager and _filtered(value, sq.text, plugin):
                    continue
                if secret.type in _ENTROPY_TYPES and eager and _looks_like_code(value):
                    continue
                if secret.type == 'Private Key':
                    hits.append(SecretHit(secret.type, 0, len(line)))
                    continue
                if secret.type in _ENTROPY_TYPES and textscan.is_digest(value, sq.text, at):
                    continue  # a checksum, commit id or etag, not a credential
                if secret.type == 'Public IP (ipv4)' and not _is_global_ipv4(value):
                    continue  # 0.0.0.0 (bind to all interfaces), link-local, shared, reserved: no one's public address
                if secret.type == 'Secret Keyword' and textscan.is_reference(sq.text, at):
                    continue  # secret_name = "prod/db": the name of a secret, not the secret
                start = offset + sq.to_original(at)
                end = offset + sq.to_original(at + len(value) - 1) + 1
                if secret.type in ('Basic Auth Credentials',):
                    hits.append(SecretHit(secret.type, start, end))  # only the password of user:pass@host
                    continue
                runs = runs or _token_runs(line)
                s, e = _widen(runs, start, end)
                hits.append(SecretHit(secret.type, s, e))
    for s, e in textscan.url_password_spans(line):
        pw = line[s:e]
        if not _TEMPLATE_PASSWORD.fullmatch(pw) and pw.strip('*'):
            hits.append(SecretHit('Basic Auth Credentials', s, e))
    return _merge(hits)


def _merge(hits: list[SecretHit]) -> list[SecretHit]:
    """Overlapping spans become one; the most specific type (not an entropy guess) names it."""
    out: list[SecretHit] = []
    for h in sorted(hits, key=lambda h: (h.start, -h.end)):
        if out and h.start < out[-1].end:
            prev = out[-1]
            name = prev.type if prev.type not in _ENTROPY_TYPES else h.type
            out[-1] = SecretHit(name, prev.start, max(prev.end, h.end))
        else:
            out.append(h)
    return out


def mask_line(line: str, hits: list[SecretHit]) -> str:
    parts: list[str] = []
    pos = 0
    for h in sorted(hits, key=lambda h: h.start):
        if h.start < pos:  # overlapping spans (callers merge them; be safe anyway)
            continue
        value = line[h.start:h.end]
        # a well-known prefix (AKIA, ghp_, xoxb, sk_l, eyJh) says what leaked, not the secret itself
        keep = value[:4] if len(value) >= 20 and h.type in _PREFIXED_TYPES else ''
        parts += [line[pos:h.start], keep, MASK]
        pos = h.end
    parts.append(line[pos:])
    return ''.join(parts)


def pem_spans(lines: list[str]) -> Iterator[tuple[int, int]]:
    """(first, last) line indexes of each PEM private key block; an unterminated block runs to the end."""
    i = 0
    while i < len(lines):
        if _PEM_BEGIN.search(lines[i]):
            j = i
            while j < len(lines) and not _PEM_END.search(lines[j]):
                j += 1
            yield i, min(j, len(lines) - 1)
            i = j + 1
        else:
            i += 1


def redact(text: str) -> tuple[str, int]:
    """Mask every secret in text. Returns the redacted text and how many secrets were masked."""
    lines = text.split('\n')
    count = 0
    for first, last in pem_spans(lines):
        for k in range(first, last + 1):
            lines[k] = MASK
        count += 1
    for k, line in enumerate(lines):
        if line == MASK or not line.strip():
            continue
        hits = scan_line(line, eager=True)  # eager finds all a normal scan does, and more
        if hits:
            lines[k] = mask_line(line, hits)
            count += len(hits)
    return '\n'.join(lines), count
