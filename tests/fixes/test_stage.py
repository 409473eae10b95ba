"""The fix stage on bad input: no fix, a counted reason, never a traceback; a reviewer's own
suggestion is shown only when it verifies."""
from __future__ import annotations

from reviewbot.config import defaults
from reviewbot.core import Finding, Severity, Side
from reviewbot.diffparse import parse_diff
from reviewbot.fixes import run
from reviewbot.fixes.text import unified_patch
from reviewbot.reviewers import ReviewContext
from reviewbot.reviewers.ruff import RuffReviewer
from reviewbot.reviewers.secrets import SecretsReviewer

NEW = 'import os\n\n\ndef run(cmd):\n    return os.system(cmd)\n'
DIFF = (unified_patch('app.py', 'import os\n', NEW)
        + 'diff --git a/logo.png b/logo.png\nBinary files a/logo.png and b/logo.png differ\n'
        + 'diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n'
          '@@ -1 +0,0 @@\n-x = 1\n')


def stage(findings: list[Finding], texts: dict[str, str] | None = None):
    texts = {'app.py': NEW} if texts is None else texts
    ctx = ReviewContext(config=defaults(), read_new_file=texts.get)
    return run(findings, parse_diff(DIFF.encode()), ctx, [SecretsReviewer(), RuffReviewer(defaults())])


def finding(path: str = 'app.py', line: int | None = 5, **kw) -> Finding:
    return Finding(path, line, line, Severity.WARNING, kw.pop('category', 'bug/x'), 'm',
                   kw.pop('reviewer', 'cloud'), **kw)


def test_bad_inputs_get_no_fix_and_a_reason():
    out = stage([finding(line=None, suggestion='x'), finding('logo.png', 1, suggestion='x'),
                 finding('gone.py', 1, side=Side.LEFT, suggestion='y = 2'),
                 finding('elsewhere.py', 1, suggestion='z'), finding(line=5)],
                texts={'app.py': NEW, 'logo.png': '\0PNG'})
    assert all(f.suggestion is None and f.fix is None for f in out.findings)
    assert out.summary['no_fix'] == {'no-line': 1, 'no-file-text': 1, 'removed-line': 1,
                                     'not-in-diff': 1, 'no-fixer': 1}
    assert out.summary['verified'] == 0


def test_a_reviewers_suggestion_is_kept_only_when_it_verifies():
    good = finding(suggestion='    return os.system(cmd) if cmd else 0')
    bad = finding(suggestion='    return os.system(cmd', category='bug/y')
    out = stage([good, bad])
    kept, dropped = out.findings
    assert kept.verified_fix is not None and kept.fix.source == 'cloud'
    assert 'finding-gone' not in kept.fix.checks  # the cloud is not asked again
    assert out.summary['rejected'] == {'does-not-parse': 1}
    assert dropped.suggestion is None and dropped.fix is None


def test_a_suggestion_that_adds_an_undefined_name_is_rejected():
    # `subprocess` is not imported: ruff's F821 on the patched file is a new finding
    out = stage([finding(suggestion='    return subprocess.call(cmd)')])
    assert out.findings[0].suggestion is None
    assert out.summary['rejected'] == {'new-finding': 1}
