"""The one table from a file name to its language, for every stage that asks.

Language ids are semgrep's (`languages:` in reviewbot/data/patterns/*.yaml), so the patterns
reviewer can tell which changed files any bundled rule covers; `display_name` gives the name a
prompt shows. Other tables are keyed by these ids, never by suffix: the brace family fragments
uses (reviewbot.fragments), the environment-variable read a secret fix writes (reviewbot.fixes.secrets).
"""
from __future__ import annotations

from pathlib import PurePosixPath

BY_SUFFIX = {
    '.py': 'python', '.pyi': 'python',
    '.js': 'javascript', '.jsx': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript',
    '.ts': 'typescript', '.tsx': 'typescript', '.mts': 'typescript', '.cts': 'typescript',
    '.go': 'go', '.java': 'java',
    '.c': 'c', '.h': 'c',
    '.cc': 'cpp', '.cpp': 'cpp', '.cxx': 'cpp', '.c++': 'cpp', '.hh': 'cpp', '.hpp': 'cpp', '.hxx': 'cpp',
    '.kt': 'kotlin', '.scala': 'scala', '.cs': 'csharp', '.rb': 'ruby', '.php': 'php', '.rs': 'rust',
    '.swift': 'swift', '.sh': 'bash', '.bash': 'bash', '.sql': 'sql', '.lua': 'lua', '.pl': 'perl',
}
DISPLAY_NAMES = {
    'python': 'Python', 'javascript': 'JavaScript', 'typescript': 'TypeScript', 'go': 'Go',
    'java': 'Java', 'c': 'C', 'cpp': 'C++', 'kotlin': 'Kotlin', 'scala': 'Scala', 'csharp': 'C#',
    'ruby': 'Ruby', 'php': 'PHP', 'rust': 'Rust', 'swift': 'Swift', 'bash': 'Shell', 'sql': 'SQL',
    'lua': 'Lua', 'perl': 'Perl',
}


def language(path: str) -> str | None:
    """The language id of a file from its name (`src/app.tsx` -> 'typescript'); None if unknown."""
    return BY_SUFFIX.get(PurePosixPath(path).suffix.lower())


def is_python(path: str) -> bool:
    return language(path) == 'python'


def display_name(path: str) -> str | None:
    """The language's name as people write it ('C++', 'TypeScript'), or None."""
    lang = language(path)
    return DISPLAY_NAMES[lang] if lang else None
