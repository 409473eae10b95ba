"""The verifier rejects every fix that fails a check, with the reason; the real reviewers (ruff,
semgrep, detect-secrets) re-check the patched text in memory."""
from __future__ import annotations

import dataclasses

import pytest

from reviewbot.config import defaults
from reviewbot.core import Finding, Fix, Severity
from reviewbot.diffparse import parse_diff
from reviewbot.fixes import text as fixtext
from reviewbot.fixes.verify import Candidate, verify
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers.patterns import PatternsReviewer
from reviewbot.reviewers.ruff import RuffReviewer
from reviewbot.reviewers.secrets import SecretsReviewer

# 40 lines of filler, then the change: one added line deep in the file
FILLER = ''.join(f'VALUE_{i} = {i}\n' for i in range(40))
BASE = 'import yaml\n\n\n' + FILLER + 'def read(p):\n    return p\n'
NEW = 'import yaml\n\n\n' + FILLER + 'def read(p):\n    return yaml.load(open(p))\n'
LINE = NEW.split('\n').index('    return yaml.load(open(p))') + 1


def check(replacement: str, *, line: int = LINE, end_line: int | None = None, text: str = NEW,
          base: str = BASE, category: str = 'ruff/S506', reviewer: str = 'ruff') -> Fix:
    diff = parse_diff(fixtext.unified_patch('app.py', base, text).encode())
    end = end_line or line
    original = '\n'.join(text.split('\n')[line - 1:end])
    finding = Finding('app.py', LINE, LINE, Severity.ERROR, category, 'm', reviewer)
    fx = Fix(line=line, end_line=end, replacement=replacement, source='model', original=original)
    ctx = ReviewContext(config=defaults(), read_new_file={'app.py': text}.get)
    reviewers = [SecretsReviewer(), RuffReviewer(defaults()), PatternsReviewer(defaults())]
    [out] = verify([Candidate(finding, fx)], {'app.py': text}, diff, reviewers, ctx)
    return out


def test_a_real_fix_passes_every_check():
    out = check('    return yaml.safe_load(open(p))')
    assert out.verified and out.rejected is None
    assert set(out.checks) == {'in-hunk', 'not-suppression', 'not-deletion', 'no-secret', 'parses',
                               'finding-gone', 'no-new-findings'}


@pytest.mark.parametrize('replacement,reason', [
    ('    return yaml.safe_load(open(p)', 'does-not-parse'),
    ('    return yaml.load(open(p))  # noqa: S506', 'suppression'),
    ('    return yaml.load(open(p))  # nosec', 'suppression'),
    ('', 'deletes-code'),
    ('    pass', 'deletes-code'),
    ('    return None', 'deletes-code'),  # the flagged call replaced by a constant
    ('    return {}', 'deletes-code'),
    ('    return eval(open(p).read())', 'new-finding'),
    ('    return yaml.load(open(p))   ', 'still-raised'),
    ('    return yaml.load(open(p))', 'no-change'),
    ('    return yaml.safe_load(open(p)) or "AKIAZ3MHQW7RNBX5TQ2P"', 'contains-secret'),
    ('    return yaml.safe_load(open(p))  # \u202e reads backwards', 'control-characters'),
    ('    return yaml.safe_load(open(p))  # \x1b[31m', 'control-characters'),
])
def test_the_verifier_rejects(replacement, reason):
    out = check(replacement)
    assert not out.verified and out.rejected == reason


def test_a_fix_outside_the_hunk_is_rejected():
    line = NEW.split('\n').index('VALUE_3 = 3') + 1  # far above the one changed line
    out = check('VALUE_3 = 4', line=line)
    assert not out.verified and out.rejected == 'outside-hunk'


def test_a_finding_the_reviewer_does_not_raise_cannot_be_verified():
    out = check('    return yaml.safe_load(open(p))', category='ruff/S999')
    assert not out.verified and out.rejected == 'not-reproduced'


def test_a_file_that_does_not_parse_before_is_not_fixed():
    broken = NEW + 'def (\n'
    out = check('    return yaml.safe_load(open(p))', text=broken)
    assert out.rejected == 'original-does-not-parse'


def test_text_helpers_round_trip_line_ends():
    crlf = 'a = 1\r\nb = 2\r\nc = 3'
    fx = fixtext.fix_from_texts(crlf, 'a = 1\r\nb = 20\r\nc = 3', source='ruff')
    assert (fx.line, fx.end_line, fx.replacement, fx.original) == (2, 2, 'b = 20', 'b = 2')
    assert fixtext.apply_fix(crlf, fx) == 'a = 1\r\nb = 20\r\nc = 3'
    last = dataclasses.replace(fx, line=3, end_line=3, replacement='c = 30\nd = 4')
    assert fixtext.apply_fix(crlf, last) == 'a = 1\r\nb = 2\r\nc = 30\r\nd = 4'
    # an insertion becomes the replacement of the line before it
    ins = fixtext.fix_from_texts('x\ny\n', 'x\nnew\ny\n', source='ruff')
    assert (ins.line, ins.end_line, ins.replacement) == (1, 1, 'x\nnew')
