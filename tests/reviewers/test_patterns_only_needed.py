"""Only needed work (issue 17): a change with no file in a language any bundled rule covers runs no
semgrep at all, not even to ask its version. A recording `semgrep` first on PATH proves it: it
writes down every time it is run, and is run (version check, then the scan) once a file qualifies."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from reviewbot import fragments, languages, toolenv
from reviewbot.reviewers.patterns import is_pattern_target, rule_files, rule_languages
from tests.conftest import run_cli

RECORDER = '''#!/bin/sh
echo "$*" >> {log}
case "$*" in
  *--version*) echo 1.187.0 ;;
  *) echo '{{"results": [], "errors": []}}' ;;
esac
'''


def _diff(*paths: str) -> bytes:
    return b''.join(f'diff --git a/{p} b/{p}\n--- a/{p}\n+++ b/{p}\n@@ -1,1 +1,2 @@\n keep\n+added line\n'.encode()
                    for p in paths)


def _review(tmp_path: Path, *paths: str) -> tuple[dict, list[str]]:
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / 'semgrep-calls.log'
    (bin_dir / 'semgrep').write_text(RECORDER.format(log=log))
    (bin_dir / 'semgrep').chmod(0o755)
    (tmp_path / 'change.diff').write_bytes(_diff(*paths))
    env = {'PATH': f'{bin_dir}:/usr/bin:/bin', toolenv.ENV_TOOLS_DIR: str(tmp_path / 'no-tools'),
           toolenv.ENV_SEMGREP: ''}
    proc = run_cli('review', '--diff', str(tmp_path / 'change.diff'), '--reviewers', 'patterns',
                   '--format', 'json', '--fail-level', 'none', cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    calls = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return json.loads(proc.stdout), calls


def test_docs_and_text_only_run_no_semgrep(tmp_path):
    report, calls = _review(tmp_path, 'README.md', 'docs/notes.txt', 'data/table.csv')
    assert calls == []  # neither the version check nor a scan
    assert not any(n.startswith('patterns:') for n in report['notes'])
    assert 'patterns' in report['timings']  # the reviewer ran, and did nothing
    assert not any(s.get('reviewer') == 'patterns' for s in report['coverage']['skipped'])

    # the control: one JS file among them and the same recorder is asked, then run on the files
    report, calls = _review(tmp_path, 'README.md', 'web/app.js')
    assert len(calls) == 2 and '--version' in calls[0] and calls[1].startswith('scan ')


def test_rule_languages_are_read_from_the_bundled_rules():
    """The quick text scan of `languages:` agrees with the rules parsed as YAML, and every
    language a rule names is one reviewbot.languages knows by a file suffix."""
    parsed = {lang for path in rule_files() for rule in yaml.safe_load(path.read_text())['rules']
              for lang in rule['languages']}
    assert rule_languages() == parsed == {'python', 'javascript', 'typescript', 'go', 'java', 'c', 'cpp'}
    assert parsed <= set(languages.BY_SUFFIX.values())
    assert set(fragments.BRACE_FAMILY) <= parsed
    assert set(languages.DISPLAY_NAMES) == set(languages.BY_SUFFIX.values())
    targets = [p for p in ('a.py', 'b.pyi', 'c.tsx', 'd.mjs', 'e.go', 'f.java', 'g.h', 'h.c++', 'i.rb',
                           'j.md', 'k.txt', 'Makefile', 'l.rs', 'M.PY') if is_pattern_target(p)]
    assert targets == ['a.py', 'c.tsx', 'd.mjs', 'e.go', 'f.java', 'g.h', 'h.c++', 'M.PY']  # no stubs
