"""Every sanitiser of untrusted text (diff lines, paths, model output, report fields), by destination.

Untrusted text is data wherever it is shown; this module is the one place that makes it so:
  - anywhere (terminal, CI log, every report format, stderr): `visible()` shows control and bidi
    characters as escapes (\\x1b, \\u202e) instead of obeying them; `has_unsafe_chars()` tells
    whether it would; `log_line()` keeps a publish log line to one line of printable characters;
  - Markdown that reviewdog posts: `defuse_mentions()` keeps '@name' from pinging anyone;
  - GitHub Actions workflow commands: `escape_data()` and `escape_property()` keep an annotation
    on one line, so no text starts a workflow command of its own;
  - the job summary (Markdown + HTML): `md_text()` turns every markup character into a numeric
    character reference, `html_pre()` escapes what could close a <pre> block;
  - GitHub/GitLab comments: `prose()`, `one_line()`, `code_span()` and `code_block()` (below).

After `prose()` a text cannot:
  - @mention a user or team, or reference an issue, pull/merge request, milestone, label, epic or
    snippet anywhere in a line (`@name`, `#1`, `!1`, `%name`, `~label`, `&1`, `$1`, `GH-1`): a zero-width
    joiner follows every such sigil, and the forges' reference parsers need a name character right
    after it (a reference would post "mentioned in ..." on the issue it names);
  - inject HTML, hide content (`<!-- -->`, `<details>`), or open a code span/fence (every Markdown
    punctuation character is backslash-escaped, so it renders as itself);
  - link anywhere (Markdown link/image brackets are escaped, URLs are defanged inside a code span);
  - run a GitLab quick action (`/approve` at the start of a line);
  - be longer than the limit given (counted before escaping, which at most triples it).
`code_block()` picks a fence longer than any backtick run in the content, so the content cannot close it.
"""
from __future__ import annotations

import re
import unicodedata

# C0/C1 controls (ESC starts terminal escape sequences) and the bidi overrides of "Trojan Source":
# untrusted text must never recolour a terminal, move the cursor, return to column 0 of a CI log
# or reorder what a reviewer reads. Lone surrogates (bytes of a non-UTF-8 path, kept by
# surrogateescape) cannot be printed at all.
_UNSAFE_CHARS = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029'
                           '\u202a-\u202e\u2066-\u2069\ud800-\udfff]')
ZWJ = '\u200d'
_MENTION = re.compile(r'@(?=[A-Za-z0-9_\-])')


def visible(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with control and bidi characters shown as escapes (\\x1b, \\u202e) instead of obeyed.
    With keep_newlines=False, CR and LF are escaped too (one line, e.g. an error message)."""
    def esc(m: re.Match[str]) -> str:
        c = ord(m.group())
        if 0xdc80 <= c <= 0xdcff:  # an undecodable byte, shown as the byte
            c -= 0xdc00
        return f'\\x{c:02x}' if c < 0x100 else f'\\u{c:04x}'
    out = _UNSAFE_CHARS.sub(esc, text.replace('\r\n', '\n') if keep_newlines else text)
    if not keep_newlines:
        out = out.replace('\r', '\\r').replace('\n', '\\n')
    return out


def log_line(text: str) -> str:
    """One log line: every character str.isprintable() refuses (newlines, ANSI escapes, zero-width
    and bidi characters) shown as its Python escape, so report data cannot forge log lines or CI
    workflow commands. Stricter than `visible(text, keep_newlines=False)`."""
    return ''.join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))


def has_unsafe_chars(text: str) -> bool:
    """True when `text` holds a control or bidi character that `visible` would escape (tab and LF are fine)."""
    return _UNSAFE_CHARS.search(text.replace('\r\n', '\n')) is not None


def defuse_mentions(text: str) -> str:
    """'@name' with a zero-width joiner after the '@': shown the same, but GitHub's and GitLab's
    Markdown no longer notify (or link) the user or team."""
    return _MENTION.sub('@' + ZWJ, text)


# -- GitHub Actions workflow commands (annotations) ----------------------------------------------

def escape_data(text: str) -> str:
    """The message of a workflow command: % CR LF escaped, so it stays one line."""
    return text.replace('%', '%25').replace('\r', '%0D').replace('\n', '%0A')


def escape_property(text: str) -> str:
    """A property value of a workflow command (file=, title=): also : and , escaped."""
    return escape_data(text).replace(':', '%3A').replace(',', '%2C')


# -- the job summary: Markdown with HTML ----------------------------------------------------------

# Markdown punctuation, HTML, autolink and mention triggers.
_MARKUP = re.compile(r'[\\`*_{}\[\]()<>#+\-.!|~&"\':@$=^]')


def md_text(text: str, limit: int) -> str:
    """Untrusted text as inert inline Markdown on one line (line breaks as <br>)."""
    if len(text) > limit:
        text = text[:limit] + '…'
    text = _MARKUP.sub(lambda m: f'&#{ord(m.group())};', visible(text))
    return '<br>'.join(text.split('\n'))


def html_pre(text: str) -> str:
    """Untrusted text for inside <pre>: &, < and > escaped so it cannot close the block."""
    return visible(text).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


# -- GitHub/GitLab comments -----------------------------------------------------------------------

TRUNCATED = ' … truncated'

# Every ASCII punctuation character that can start Markdown/HTML syntax; CommonMark lets any ASCII
# punctuation be backslash-escaped, so escaping renders the character itself and nothing else.
_ESCAPE = set('\\`*_{}[]()<>#+-!|~&$%:/=^"\'')
_ESCAPE -= set('-=+#/:%"\'')  # handled at line starts only (or harmless): keeps prose readable
_LINE_START_ESCAPE = set('-=+#/')
_URL = re.compile(
    r'(?i)(?:[a-z][a-z0-9+.\-]{1,30}://|www\.|(?:mailto|javascript|data|vbscript|file|tel):)'
    r'[^\s<>`"\'\\]*'
)
_BIDI = set('\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f')


def strip_invisible(text: str) -> str:
    """Drop control and format characters (zero-width, bidi overrides) that could hide or reorder text."""
    text = text.replace('\r\n', '\n').replace('\r', '\n')
    return ''.join(
        ch for ch in text
        if ch in '\n\t' or unicodedata.category(ch) not in ('Cc', 'Cf', 'Cs', 'Co', 'Cn')
    )


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:max(0, limit - len(TRUNCATED))] + TRUNCATED


_SIGILS = set('@#!%~&$')  # mention and reference prefixes of GitHub and GitLab
_GH_REF = re.compile(r'(?i)\b(gh)(-\d)')
# GitLab's extended references ([vulnerability:1], [feature_flag:1], *iteration:1, [contact:x]) and
# commit SHAs (7-40 hex digits, autolinked by both forges when such a commit exists): split so no
# forge reads them as one token
_GL_EXT_REF = re.compile(r'(?i)\b(vulnerability|feature_flag|iteration|contact)(:)')
_SHA = re.compile(r'(?i)\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b')
_URL_TRAILING = '.,:;!?\'"*_~'


def _url_end(url: str) -> int:
    """Where a matched URL really ends: trailing punctuation and an unbalanced `)` stay outside
    (as GitHub's autolinker decides), so `(see https://x.example/a)` keeps its `)`."""
    end = len(url)
    while end:
        ch = url[end - 1]
        if ch in _URL_TRAILING or (ch == ')' and url[:end].count('(') < url[:end].count(')')):
            end -= 1
        else:
            break
    return end


def _defang_url(url: str) -> str:
    """A URL as inert text: no scheme, dots bracketed, inside a code span (no backticks can occur)."""
    url = url.replace(':', '[:]').replace('.', '[.]').replace('@', '@' + ZWJ)
    return '`' + url + '`'


def _escape_plain(text: str) -> str:
    text = _GH_REF.sub(lambda m: m.group(1) + ZWJ + m.group(2), text)  # GH-1 is an issue reference
    text = _GL_EXT_REF.sub(lambda m: m.group(1) + ZWJ + m.group(2), text)
    text = _SHA.sub(lambda m: ZWJ.join(m.group()[i:i + 6] for i in range(0, len(m.group()), 6)), text)
    out = []
    for ch in text:
        out.append('\\' + ch if ch in _ESCAPE else ch)
        if ch in _SIGILS:
            out.append(ZWJ)
    return ''.join(out)


def _escape_line(line: str) -> str:
    line = line.lstrip(' \t')  # leading indentation would make an indented code block
    pieces = []
    pos = 0
    for m in _URL.finditer(line):
        if m.start() < pos:
            continue
        end = m.start() + _url_end(m.group(0))
        if end == m.start():
            continue
        pieces.append(_escape_plain(line[pos:m.start()]))
        pieces.append(_defang_url(line[m.start():end]))
        pos = end
    pieces.append(_escape_plain(line[pos:]))
    escaped = ''.join(pieces)
    if escaped and escaped[0] in _LINE_START_ESCAPE:
        escaped = '\\' + escaped  # list/heading/quote/quick-action markers at a line start
    return escaped


def prose(text: str, limit: int = 4000) -> str:
    """Untrusted text rendered literally as Markdown prose (see module doc)."""
    text = truncate(strip_invisible(str(text)).strip(), limit)
    text = re.sub(r'\n{3,}', '\n\n', text)  # no screens of blank lines pushing content out of view
    return '\n'.join(_escape_line(ln) for ln in text.split('\n'))


def one_line(text: str, limit: int = 300) -> str:
    """Untrusted text on one line (titles, categories), escaped like prose."""
    return prose(' '.join(strip_invisible(str(text)).split()), limit)


def code_span(text: str, limit: int = 300) -> str:
    """Untrusted short text (a path) as an inline code span it cannot leave."""
    text = truncate(' '.join(strip_invisible(str(text)).split()), limit).replace('@', '@' + ZWJ)
    longest = max((len(r) for r in re.findall(r'`+', text)), default=0)
    tick = '`' * (longest + 1)
    pad = ' ' if text.startswith('`') or text.endswith('`') or not text else ''
    return f'{tick}{pad}{text}{pad}{tick}'


def has_bidi(text: str) -> bool:
    return any(ch in _BIDI for ch in text)


def code_block(content: str, lang: str = '', limit: int = 20000) -> str:
    """A fenced block that `content` cannot close: the fence is longer than any backtick run in it."""
    if not re.fullmatch(r'[A-Za-z0-9_+:\-]*', lang):
        lang = ''
    content = truncate(content.replace('\r\n', '\n').replace('\r', '\n'), limit)
    longest = max((len(r) for r in re.findall(r'`+', content)), default=0)
    fence = '`' * max(3, longest + 1)
    return f'{fence}{lang}\n{content}\n{fence}'
