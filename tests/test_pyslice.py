"""pyslice.narrowed: what semgrep is given of a Python module: the untouched top-level functions and
classes blanked, all the rest kept, with line numbers and byte offsets unchanged."""
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


def test_blanks_untouched_functions_and_classes_and_keeps_module_code_and_the_touched_one():
    line = rows(MODULE).index("    return open(request.args['p']).read()") + 1
    out = narrowed(MODULE, {line})
    assert len(out.encode()) == len(MODULE.encode()) and out.count('\n') == MODULE.count('\n')
    kept = [r for r in rows(out) if r.strip()]
    assert kept == ['"""Module doc."""', 'import os', 'try:', '    from flask import request',
                    'except ImportError:  # pragma: no cover', '    request = None', "CONSTANT = 'café'",
                    '# nosemgrep: py-request-path-traversal', "@app.route('/read')",
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


def test_module_level_code_is_one_scope_and_stays_whole():
    # semgrep reads module-level statements together (a rule's `pattern-not-inside: $APP = Flask(...)`,
    # a taint source assigned at the top): a change to one of them keeps all of them
    text = ('import zipfile\nfrom flask import Flask\n\napp = Flask(__name__)\nzf = zipfile.ZipFile("a")\n'
            'names = zf.namelist()\n\n\ndef helper():\n    return 1\n\n\n'
            'for n in names:\n    open(n, "wb")\n\nif __name__ == "__main__":\n    app.run(debug=True)\n')
    out = narrowed(text, {14, 17})
    assert [r for r in rows(out) if r.strip()] == [r for r in rows(text) if r.strip() and 'def helper' not in r
                                                   and r != '    return 1']


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
