"""A secret written in the source becomes a read from the environment, in the file's language.

    AWS_SECRET_ACCESS_KEY = "wJalr..."   ->  AWS_SECRET_ACCESS_KEY = os.environ["AWS_SECRET_ACCESS_KEY"]
    const token = 'ghp_...';             ->  const token = process.env.TOKEN;

The variable's name is taken from what the literal is assigned to (a variable, an attribute, a
keyword argument or a dict/object key); with no such name there is no fix. The fix is always
'unsafe': the program now needs the variable set (and the credential must be rotated anyway).
Python without `import os` gets the import on a line before the statement, when the literal is a
statement of its own; otherwise the verifier rejects the fix (an undefined name), as it should.
"""
from __future__ import annotations

import re

from reviewbot import languages
from reviewbot.core import Finding, Fix
from reviewbot.fixes.text import bare, fix_from_texts, split_lines

# categories this fixer handles besides secret/*: pattern rules about a literal credential
CATEGORIES = ('patterns/py-hardcoded-login-password',)
_NAME_BEFORE = re.compile(
    r'''(?:(?P<name>[A-Za-z_$][\w$]*)\s*(?::\s*[\w\[\]., ]+?)?\s*(?::=|=|:)\s*|'''
    r'''["'](?P<key>[A-Za-z_][\w.-]*)["']\s*(?::|=>|,)\s*)$''')
_QUOTES = ('"', "'", '`')


def _env_read(lang: str, name: str) -> str | None:
    return {
        'python': f'os.environ["{name}"]',
        'javascript': f'process.env.{name}',
        'typescript': f'process.env.{name}',
        'go': f'os.Getenv("{name}")',
        'java': f'System.getenv("{name}")',
        'ruby': f'ENV["{name}"]',
        'php': f"getenv('{name}')",
        'csharp': f'Environment.GetEnvironmentVariable("{name}")',
        'rust': f'std::env::var("{name}").unwrap_or_default()',
        'kotlin': f'System.getenv("{name}")',
    }.get(lang)


def env_name(name: str) -> str:
    """secretKey / secret-key / SECRET_KEY -> SECRET_KEY (the last part of a dotted name)."""
    name = name.rsplit('.', 1)[-1].lstrip('$_')
    name = re.sub(r'(?<=[a-z0-9])(?=[A-Z])', '_', name)
    return re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_').upper()


def _literal_at(line: str, start: int, end: int) -> tuple[int, int] | None:
    """The quoted literal (quotes included) holding line[start:end] whole, else None."""
    for q in _QUOTES:
        left = line.rfind(q, 0, start + 1)
        if left < 0:
            continue
        right = line.find(q, max(end, left + 1))
        if right < 0:
            continue
        inner = line[left + 1:right]
        if '\\' in inner or (q == '`' and '${' in inner):
            continue
        if left <= start and end <= right + 1:
            return left, right + 1
    return None


def _secret_span(line: str, f: Finding) -> tuple[int, int] | None:
    if f.category.startswith('secret/'):
        from reviewbot.privacy.redact import scan_line
        hits = scan_line(line)
        if len(hits) != 1:
            return None
        return hits[0].start, hits[0].end
    # a credential literal found by a pattern rule: the last quoted literal of the line
    m = None
    for m in re.finditer(r'''(["'])[^"'\\]{6,}\1''', line):  # noqa: B007 (the last one is kept)
        pass
    return (m.start() + 1, m.end() - 1) if m else None


def candidates(f: Finding, text: str) -> list[Fix]:
    if not (f.category.startswith('secret/') or f.category in CATEGORIES) or f.line is None:
        return []
    lang = languages.language(f.path)
    if lang is None:
        return []
    lines = split_lines(text)
    if not 1 <= f.line <= len(lines):
        return []
    raw = lines[f.line - 1]
    line = bare(raw)
    span = _secret_span(line, f)
    lit = _literal_at(line, *span) if span else None
    if lit is None:
        return []
    # the literal must be the whole value: `name = "..."`, `name: "..."`, `"key": "..."`, `k="..."`
    m = _NAME_BEFORE.search(line[:lit[0]])
    after = line[lit[1]:].strip()
    if m is None or not re.fullmatch(r'[,;)}\]]*\s*(#.*|//.*)?', after):
        return []
    name = env_name(m.group('name') or m.group('key') or '')
    if not name or name[0].isdigit():
        return []
    read = _env_read(lang, name)
    if read is None:
        return []
    new_line = line[:lit[0]] + read + line[lit[1]:]
    if lang == 'python' and not re.search(r'^\s*import\s+os\b|^\s*import\s+[\w, ]*\bos\b', text, re.MULTILINE):
        stmt = re.match(r'(\s*)[A-Za-z_][\w.]*\s*(:\s*[\w\[\]., ]+)?\s*=', line)
        if stmt is None:
            return []
        new_line = f'{stmt.group(1)}import os\n{new_line}'
    eol = raw[len(line):]
    new_text = ''.join(lines[:f.line - 1]) + new_line + eol + ''.join(lines[f.line:])
    fx = fix_from_texts(text, new_text, source='secrets', safety='unsafe',
                        description=f'read the secret from the environment variable {name} '
                                    '(and rotate the leaked credential)',
                        cover=(f.line, f.end_line or f.line))
    return [fx] if fx else []
