"""A file known only from its diff, made into source an analyzer can parse.

When the new revision of a file cannot be read (a bare patch, a diff on stdin, the server), the
diff still shows each hunk's new side: its added lines with their context lines. `build(f)` joins
the hunks of one file, in order, into one program and repairs what the cuts broke:

* Python: a hunk that starts inside a function (or a loop, a branch, a class) gets scaffold block
  openers above it at the indentation levels it later returns to, the outermost a `def` (so bare
  statements sit in a function, as semgrep's taint mode wants); clauses cut from their statement
  (`else:`, `except:`) get one; a block opener whose body is outside the hunk gets `pass`; brackets
  and triple-quoted strings left open at either end of a hunk are opened or closed. What still does
  not parse is cut out line by line (those lines are listed in `dropped`).
* C, C++, Go, Java, JavaScript/TypeScript: braces, brackets and parentheses left open are closed and
  ones closed without an opener are opened; a hunk inside a function body is wrapped in one (in
  Java, in a class and a method).

All hunks of a file go into one program, in one scope where their indentation says so, so a source
in one hunk and a sink in another still meet. `Fragment.origin` maps every line of the program back
to its new-file line; scaffolding maps to None, and a finding that starts on scaffolding is dropped.
"""
from __future__ import annotations

from reviewbot import languages
from reviewbot.core import FileChange, LineKind
from reviewbot.fragments.braces import brace_fragment
from reviewbot.fragments.fragment import SCAFFOLD, Fragment
from reviewbot.fragments.python import SNIPPET_IMPORTS, python_fragment

__all__ = ['SCAFFOLD', 'SNIPPET_IMPORTS', 'Fragment', 'brace_fragment', 'build', 'language', 'python_fragment']

# the brace family of each brace language (reviewbot.languages ids): how a fragment is repaired
BRACE_FAMILY = {'go': 'go', 'java': 'java', 'javascript': 'js', 'typescript': 'js', 'c': 'c', 'cpp': 'c'}


def language(path: str) -> str | None:
    """'python', a brace family ('go', 'java', 'js', 'c'), or None for a language not repaired."""
    lang = languages.language(path)
    return 'python' if lang == 'python' else BRACE_FAMILY.get(lang or '')


def build(f: FileChange) -> Fragment | None:
    """The file's hunks as one parseable program, or None for a language this does not know."""
    lang = language(f.path)
    segments = [[(ln.new_lineno, ln.text) for ln in h.lines
                 if ln.kind is not LineKind.REMOVED and ln.new_lineno is not None]
                for h in f.hunks]
    segments = [s for s in segments if s]
    if lang == 'python':
        return python_fragment(segments)
    if lang is not None:
        return brace_fragment(segments, lang)
    return None
