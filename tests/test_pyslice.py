"""pyslice.narrowed: what semgrep is given of a Python module, the top-level statements a change touches
and the imports, with line numbers and byte offsets unchanged."""
from __future__ import annotations

from reviewbot.pyslice import narrowed

MODULE = '''"""Module doc."""
import os
try:
    from flask import request
except ImportError:  # pragma: no cover
    request = None

CONSTANT = 'café'


def untouched(name):
    return os.path.join('/srv', name)  # été


# nosemgrep: py-request-path-traversal
@app.route('/read')
def changed():
    return open(request.args['p']).read()


class Later:
    def method(self):
        return 1
'''


def rows(text: str) -> list[str]:
    return text.split('\n')


def test_keeps_the_touched_statement_its_decorator_comment_and_the_imports_and_blanks_the_rest():
    line = rows(MODULE).index("    return open(request.args['p']).read()") + 1
    out = narrowed(MODULE, {line})
    assert len(out.encode()) == len(MODULE.encode()) and out.count('\n') == MODULE.count('\n')
    kept = [r for r in rows(out) if r.strip()]
    assert kept == ['import os', 'try:', '    from flask import request', 'except ImportError:  # pragma: no cover',
                    '    request = None', '# nosemgrep: py-request-path-traversal', "@app.route('/read')",
                    'def changed():', "    return open(request.args['p']).read()"]
    # every kept line is where it was, at the same byte offset
    for n, (a, b) in enumerate(zip(rows(MODULE), rows(out))):
        if b.strip():
            assert a == b
            assert len('\n'.join(rows(MODULE)[:n]).encode()) == len('\n'.join(rows(out)[:n]).encode())


def test_a_change_inside_a_class_keeps_the_whole_class():
    line = rows(MODULE).index('        return 1') + 1
    kept = [r for r in rows(narrowed(MODULE, {line})) if r.strip()]
    assert kept[-3:] == ['class Later:', '    def method(self):', '        return 1']
    assert 'def changed():' not in kept


def test_crlf_line_endings_stay():
    text = MODULE.replace('\n', '\r\n')
    out = narrowed(text, {3})
    assert len(out.encode()) == len(text.encode()) and out.count('\r\n') == text.count('\r\n')


def test_left_as_it_is_when_it_cannot_be_narrowed_safely():
    assert narrowed('def f(:\n    pass\n', {1}) == 'def f(:\n    pass\n'  # does not parse
    lone_cr = 'import os\rx = 1\n\ndef f():\n    return 1\n'
    assert narrowed(lone_cr, {5}) == lone_cr  # Python and a '\n' split would count lines differently
    assert narrowed(MODULE, set()) == MODULE
    small = 'import os\n\n\ndef f():\n    return os.sep\n'
    assert narrowed(small, {5}) == small  # nothing to drop
