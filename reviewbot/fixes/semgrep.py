"""Fixes from semgrep rules' `fix:` / `fix-regex:`.

Two kinds: a bundled pattern rule (reviewbot/data/patterns/*.yaml) that carries a fix, rendered by
semgrep with the finding (`extra['semgrep_fix']`); and fix-only rules (reviewbot/data/fixes/*.yaml)
for ruff's rules that ruff has no fix for (`yaml.load`, `verify=False`, `tempfile.mktemp`, ...):
each names the ruff codes it fixes in `metadata.fixes`, and runs once per review over the files
that have such findings, offline, like the patterns reviewer.
"""
from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from reviewbot.config import Config
from reviewbot.core import Finding, Fix
from reviewbot.fixes.text import fix_from_texts

FIX_RULES_DIR = Path(__file__).resolve().parent.parent / 'data' / 'fixes'


def fix_rule_files() -> list[Path]:
    return sorted(FIX_RULES_DIR.glob('*.yaml'))


def apply_byte_fix(text: str, spec: dict[str, Any]) -> str:
    raw = text.encode('utf-8', 'surrogateescape')
    start, end = int(spec['start']), int(spec['end'])
    if not 0 <= start <= end <= len(raw):
        raise ValueError('fix offsets outside the file')
    return (raw[:start] + str(spec['text']).encode('utf-8', 'surrogateescape') + raw[end:]).decode(
        'utf-8', 'surrogateescape')


def from_spec(f: Finding, text: str, spec: dict[str, Any]) -> Fix | None:
    try:
        new = apply_byte_fix(text, spec)
    except (KeyError, TypeError, ValueError):
        return None
    return fix_from_texts(text, new, source='semgrep', safety=str(spec.get('safety', 'safe')),
                          description=str(spec.get('description') or ''),
                          cover=(f.line, f.end_line or f.line) if f.line else None)


def candidates(f: Finding, text: str) -> list[Fix]:
    spec = f.extra.get('semgrep_fix')
    fx = from_spec(f, text, spec) if isinstance(spec, dict) else None
    return [fx] if fx else []


def _key(f: Finding) -> str:
    """How a fix-only rule names the findings it fixes: a ruff code (S506), else the category."""
    return f.category.removeprefix('ruff/') if f.reviewer == 'ruff' else f.category


def fixed_codes() -> dict[str, list[str]]:
    """ruff code or category -> ids of the fix-only rules for it (the rule files' metadata)."""
    import yaml
    out: dict[str, list[str]] = {}
    for path in fix_rule_files():
        for rule in (yaml.safe_load(path.read_text()) or {}).get('rules', []):
            for code in (rule.get('metadata') or {}).get('fixes', []):
                out.setdefault(str(code), []).append(str(rule['id']))
    return out


MIN_SECONDS = 1.0  # the least time the semgrep fix rules are started with


def rule_fixes(findings: list[Finding], texts: dict[str, str], time_left: float | None,
               config: Config | None = None) -> tuple[dict[int, list[Fix]], list[str]]:
    """Fix-only rules run over the files of the findings they can fix: finding index -> fixes,
    and notes (semgrep missing or failing is said, never fatal). semgrep is found as the patterns
    reviewer finds it (reviewbot.toolenv, `[tool.reviewbot.patterns] semgrep` in `config`)."""
    from reviewbot.reviewers.patterns import _fix_of, _safe_relpath, locate, run_semgrep
    configs = fix_rule_files()
    if not configs:  # never run semgrep without a rule file: it would fetch a registry config
        return {}, []
    codes = fixed_codes()
    wanted = {i: f for i, f in enumerate(findings)
              if _key(f) in codes and f.path in texts and f.line is not None}
    if not wanted:
        return {}, []
    if time_left is not None and time_left < MIN_SECONDS:
        # semgrep does not start in less: a run would only time out, and delay the answer by MIN_SECONDS
        return {}, [f'fixes: budget: {max(time_left, 0):.1f} s left, too little to run the semgrep fix '
                    f'rules for {len(wanted)} finding(s)']
    semgrep = locate(config)
    binary = semgrep.path
    if binary is None:
        return {}, [f'fixes: {semgrep.problem}; its fix rules for ruff findings did not run']
    out: dict[int, list[Fix]] = {}
    with tempfile.TemporaryDirectory(prefix='reviewbot-fixes-') as tmp:
        root = Path(tmp) / 'src'
        root.mkdir()
        (root / '.semgrepignore').write_text('')
        for path in {f.path for f in wanted.values()}:  # each file once, however many findings
            rel = _safe_relpath(path)
            if rel is None:
                continue
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(texts[path], encoding='utf-8', errors='surrogateescape')
        timeout = 120.0 if time_left is None else time_left
        started = time.monotonic()
        try:
            try:
                result = run_semgrep(binary, root, timeout, configs=configs)
            except ValueError:  # the retry gets what the first attempt left of the time
                left = timeout - (time.monotonic() - started)
                if left < MIN_SECONDS:
                    return {}, ['fixes: budget: the semgrep fix rules ran out of time']
                result = run_semgrep(binary, root, left, experimental=False, configs=configs)
        except (OSError, ValueError, subprocess.TimeoutExpired) as e:
            return {}, [f'fixes: semgrep fix rules failed: {e}']
    for r in result.get('results') or []:
        rendered = _fix_of(r).get('semgrep_fix')  # the match's offsets, replacement and safety
        if rendered is None:
            continue
        extra = r.get('extra') or {}
        meta = extra.get('metadata') or {}
        path = str(r.get('path', '')).removeprefix('./')
        first, last = int(r['start']['line']), int(r['end']['line'])
        spec = {**rendered, 'description': ' '.join(str(extra.get('message', '')).split())}
        for i, f in wanted.items():
            if f.path == path and _key(f) in meta.get('fixes', []) and first <= (f.line or 0) <= last:
                fx = from_spec(f, texts[path], spec)
                if fx is not None:
                    out.setdefault(i, []).append(fx)
    return out, []
