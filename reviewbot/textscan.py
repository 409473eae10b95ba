"""Untrusted text (diff lines, model output): linear-time scanning for secrets.

The scanning helpers are shared by the secrets reviewer and the cloud payload's redaction (showing
untrusted text safely is reviewbot.textsafe's job).

A diff line can be a megabyte of minified code, so nothing here backtracks: URL passwords are
found by anchoring on the literal '://' and '@' with str.find, long lines are scanned in
overlapping windows, and long runs of spaces are squeezed before third-party regexes see them
(detect-secrets' IBM Cloud, IBM COS, SoftLayer and Cloudant plugins are cubic in the spaces after a
keyword: 'api_key' followed by 1,000 spaces takes ~6 s).
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

# Lines longer than WINDOW are scanned as windows of WINDOW characters overlapping by OVERLAP, so
# every secret of up to OVERLAP characters lies whole inside at least one window.
WINDOW = 16384
OVERLAP = 4096
# Runs of spaces longer than this are squeezed to this length before a third-party regex sees them.
MAX_SPACES = 8
# Runs of word characters longer than this are broken by a space for the plugins that need it.
MAX_WORD = 64

_URL_STOP = frozenset(' \t\n\r\f\v"\'`')  # a URL's userinfo never spans whitespace or quotes
_USER_STOP = _URL_STOP | frozenset(':/@')
_SCHEME = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-')


def windows(line: str) -> Iterator[tuple[int, str]]:
    """(offset, text) pieces covering `line`: the line itself when short, else overlapping windows."""
    if len(line) <= WINDOW:
        yield 0, line
        return
    step = WINDOW - OVERLAP
    start = 0
    while True:
        yield start, line[start:start + WINDOW]
        if start + WINDOW >= len(line):
            return
        start += step


_RUNS = re.compile(r' +|[\w-]+')


class View:
    """`line` as a third-party regex may safely see it, with a map back to the original.

    Runs of more than MAX_SPACES spaces are cut to MAX_SPACES; with `break_words`, a space is also
    put after every MAX_WORD characters of a run of word characters (detect-secrets' keyword and
    OpenAI plugins are quadratic in a long word that repeats their keyword: 'password' * 500).
    """

    def __init__(self, line: str, *, break_words: bool = False) -> None:
        self.original = line
        self._at: list[int] = []  # view positions from which ...
        self._delta: list[int] = []  # ... original position = view position + delta
        parts: list[str] = []
        pos = length = delta = 0
        for m in _RUNS.finditer(line):
            a, b = m.span()
            if line[a] == ' ':
                if b - a <= MAX_SPACES:
                    continue
                parts.append(line[pos:a + MAX_SPACES])
                length += a + MAX_SPACES - pos
                delta += b - a - MAX_SPACES
                self._at.append(length)
                self._delta.append(delta)
                pos = b
            elif break_words and b - a > MAX_WORD:
                for cut in range(a + MAX_WORD, b, MAX_WORD):
                    parts += [line[pos:cut], ' ']
                    length += cut - pos + 1
                    delta -= 1
                    self._at.append(length)
                    self._delta.append(delta)
                    pos = cut
        parts.append(line[pos:])
        self.text = ''.join(parts) if self._at else line

    def to_original(self, pos: int) -> int:
        """The position in the original line of view position `pos`."""
        k = bisect.bisect_right(self._at, pos)
        return pos + (self._delta[k - 1] if k else 0)


def url_password_spans(line: str, *, empty_user: bool = False,
                       at_in_password: bool = True) -> Iterator[tuple[int, int]]:
    """Spans of the password in scheme://user:PASSWORD@host, in one left-to-right pass.

    With `at_in_password` the password runs to the last '@' of the URL that is followed by a host
    character (passwords may contain '@', ':' and '/'); without it, it stops at the first '/' or
    '@'. `empty_user` accepts '://:password@'. Each character is looked at a bounded number of times.
    """
    n = len(line)
    i = line.find('://')
    while i != -1:
        # a scheme is a run of [A-Za-z0-9+.-] before '://' with a letter in it (the regex
        # [A-Za-z][A-Za-z0-9+.-]*:// may start at any letter); runs before two '://' never overlap
        s = i
        while s > 0 and line[s - 1] in _SCHEME and not line[s - 1].isalpha():
            s -= 1
        if s == 0 or line[s - 1] not in _SCHEME:
            i = line.find('://', i + 1)  # no scheme before '://'
            continue
        j = k = i + 3
        while k < n and line[k] not in _USER_STOP:
            k += 1
        if k >= n or line[k] != ':' or (k == j and not empty_user):
            i = line.find('://', i + 1)
            continue
        if at_in_password:
            end = k + 1  # the end of the URL token: the first whitespace or quote
            while end < n and line[end] not in _URL_STOP:
                end += 1
            a = line.rfind('@', k + 2, end)
            while a != -1 and (a + 1 >= end or line[a + 1] == '@'):
                a = line.rfind('@', k + 2, a)
            if a != -1:
                yield k + 1, a
            # one password per URL token; and if no '@' fits, none fits a later '://' either
            i = line.find('://', end)
            continue
        e = k + 1
        while e < n and line[e] not in _URL_STOP and line[e] not in '@/':
            e += 1
        if e < n and line[e] == '@' and e > k + 1:
            yield k + 1, e
            i = line.find('://', e + 1)
        else:
            i = line.find('://', i + 1)


# -- redaction precision: digests and names of secrets are not secrets ---------------------------

_DIGEST_PREFIX = re.compile(r'(?i)(?:sha(?:1|224|256|384|512)|md5)[:\-]$')
_DIGEST_LEAD = re.compile(r'(?i)(?:sha(?:1|224|256|384|512)|md5)[:\-]')
_DIGEST_WORD = re.compile(r'(?i)sha|md5|checksum|digest|etag|hash|commit|integrity|fingerprint|'
                          r'revision|\brev\b|crc|blake')
_CREDENTIAL_WORD = re.compile(r'(?i)passw|secret|token|api[_\-]?key|private|credential|auth(?!or)')
_HEX = re.compile(r'[0-9a-fA-F]+')
_B64 = re.compile(r'[A-Za-z0-9+/_\-]+={0,2}')
_HEX_DIGEST_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})  # md5, sha1, sha224, sha256, sha384, sha512
_B64_DIGEST_LENGTHS = frozenset({22, 24, 27, 28, 38, 40, 43, 44, 64, 86, 88})
# a name that refers to a secret without holding one: secret_name, token_type, password_field ...
_REFERENCE_NAME = re.compile(
    r'(?i)(?:secret|token|password|passwd|key|credential)s?[_\-.]?'
    r'(?:name|names|id|ids|arn|path|file|type|field|label|ref|env|var|header|prefix|version|kind)'
    r'["\'\]]{0,2}[ \t]{0,4}(?::=|=>|[:=])[ \t]{0,4}[bru]?["\'`]?$')


CONTEXT = 120  # characters either side of a value that say what it is


def is_digest(value: str, line: str, start: int) -> bool:
    """A hex/base64 value of a digest's length (at `start` in `line`), marked as one: 'sha256:' (or
    'sha512-') right before it, or a word like sha, checksum, digest, etag, hash, commit near it
    and no credential word (a digest-shaped API key named as one stays a secret)."""
    v = value.strip('"\'')
    prefix = _DIGEST_LEAD.match(v)
    if prefix:  # 'sha512-<base64>' (subresource integrity) found as one word
        v = v[prefix.end():]
    if not ((_HEX.fullmatch(v) and len(v) in _HEX_DIGEST_LENGTHS)
            or (_B64.fullmatch(v) and len(v) in _B64_DIGEST_LENGTHS)):
        return False
    if prefix or _DIGEST_PREFIX.search(line[max(0, start - 8):start]):
        return True
    near = line[max(0, start - CONTEXT):start + len(value) + CONTEXT]
    return bool(_DIGEST_WORD.search(near)) and not _CREDENTIAL_WORD.search(near)


def is_reference(line: str, start: int) -> bool:
    """The value at `start` is assigned to a name like secret_name or token_type: it names a secret."""
    return start > 0 and bool(_REFERENCE_NAME.search(line[max(0, start - CONTEXT):start]))
