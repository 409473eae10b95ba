"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

Rule ids are the finding categories (stable across runs); each result carries our own
fingerprint in partialFingerprints so a viewer tracks a finding across line shifts. Locations
are repo-relative URI references, percent-encoded per RFC 3986. File-level findings have no
region. What was skipped is reported as tool execution notifications, never dropped silently.
"""
from __future__ import annotations

import json
import urllib.parse
from typing import Any

from reviewbot import __version__
from reviewbot.core import Finding, Report, Severity
from reviewbot.reporters._common import (
    line_span,
    message_with_side,
    rule_id,
    skipped_groups,
    sorted_findings,
)
from reviewbot.textsafe import visible

SARIF_VERSION = '2.1.0'
SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json'
FINGERPRINT_KEY = 'reviewbotFingerprint/v1'
SRCROOT = '%SRCROOT%'
LEVEL = {Severity.ERROR: 'error', Severity.WARNING: 'warning', Severity.INFO: 'note'}

# What the first part of a category means, for a rule's short description.
_CATEGORY_KINDS = {
    'secret': 'Secret in code',
    'security': 'Security issue',
    'bug': 'Likely bug',
    'correctness': 'Correctness issue',
    'perf': 'Performance issue',
    'performance': 'Performance issue',
    'style': 'Style issue',
    'maintainability': 'Maintainability issue',
    'docs': 'Documentation issue',
    'test': 'Testing issue',
    'ruff': 'Ruff rule',
    'guideline': 'Team guideline',
}

# RFC 3986 pchar without ':' (a ':' in the first segment would read as a URI scheme) and '%'
# (always encoded): unreserved and sub-delims stay, everything else becomes UTF-8 %XX.
_URI_PATH_SAFE = "/-._~!$&'()*+,;=@"


def artifact_uri(path: str) -> str:
    """Repo-relative path -> relative URI reference: 'my dir/ü.py' -> 'my%20dir/%C3%BC.py'."""
    raw = path.replace('\\', '/').lstrip('/')
    while raw.startswith('./'):
        raw = raw[2:]
    # surrogateescape gives back the original bytes of a path git reported in no UTF-8.
    return urllib.parse.quote(raw.encode('utf-8', 'surrogateescape'), safe=_URI_PATH_SAFE)


def short_description(category: str) -> str:
    kind, _, rest = rule_id(category).partition('/')
    words = rest.replace('-', ' ').replace('_', ' ').replace('/', ': ').strip()
    if kind.lower() in _CATEGORY_KINDS:
        head = _CATEGORY_KINDS[kind.lower()]
        return f'{head}: {words}' if words else head
    return rule_id(category)


def _rules(findings: list[Finding]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    ids = sorted({rule_id(f.category) for f in findings})
    rules = []
    for rid in ids:
        worst = max((f.severity for f in findings if rule_id(f.category) == rid), key=lambda s: s.rank)
        rule: dict[str, Any] = {
            'id': rid,
            'name': ''.join(p.capitalize() for p in rid.replace('/', '-').replace('_', '-').split('-') if p),
            'shortDescription': {'text': short_description(rid)},
            'defaultConfiguration': {'level': LEVEL[worst]},
            'properties': {'tags': [rid.partition('/')[0]]},
        }
        rules.append(rule)
    return rules, {rid: i for i, rid in enumerate(ids)}


def _physical_location(f: Finding) -> dict[str, Any]:
    loc: dict[str, Any] = {'artifactLocation': {'uri': artifact_uri(f.path), 'uriBaseId': SRCROOT}}
    span = line_span(f)
    if span:
        region: dict[str, Any] = {'startLine': span[0], 'endLine': span[1]}
        if f.anchored_code:
            region['snippet'] = {'text': visible(f.anchored_code)}
        loc['region'] = region
    return loc


def _fix(f: Finding) -> dict[str, Any] | None:
    """A whole-line replacement; a region without columns spans its lines without the final EOL."""
    span = line_span(f)
    fx = f.verified_fix
    if fx is None or not span:
        return None
    return {
        'description': {'text': f'{fx.description or "Apply the verified replacement"} '
                                f'({fx.source} fix, {fx.safety}; checks passed: {", ".join(fx.checks)})'},
        'artifactChanges': [{
            'artifactLocation': {'uri': artifact_uri(f.path), 'uriBaseId': SRCROOT},
            'replacements': [{
                'deletedRegion': {'startLine': span[0], 'endLine': span[1]},
                'insertedContent': {'text': fx.replacement.rstrip('\n')},
            }],
        }],
    }


def _result(f: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    rid = rule_id(f.category)
    result: dict[str, Any] = {
        'ruleId': rid,
        'ruleIndex': rule_index[rid],
        'level': LEVEL[f.severity],
        'message': {'text': visible(message_with_side(f)) or rid},
        'locations': [{'physicalLocation': _physical_location(f)}],
        'partialFingerprints': {FINGERPRINT_KEY: f.fingerprint},
        'properties': {'reviewer': f.reviewer},
    }
    if f.confidence is not None:
        result['properties']['confidence'] = f.confidence
    fix = _fix(f)
    if fix:
        result['fixes'] = [fix]
    return result


def _notifications(report: Report) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, n, reason, lines in skipped_groups(report.coverage):
        text = f'skipped {n} {kind}{"s" if n != 1 else ""} ({reason})'
        if lines:
            text += f', {lines} changed lines not reviewed'
        out.append({'level': 'note', 'message': {'text': visible(text)},
                    'descriptor': {'id': 'reviewbot/skipped'}})
    out += [{'level': 'note', 'message': {'text': visible(note)}} for note in report.notes]
    return out


def to_sarif(report: Report) -> dict[str, Any]:
    findings = sorted_findings(report.findings)
    rules, rule_index = _rules(findings)
    driver: dict[str, Any] = {
        'name': 'reviewbot',
        'version': __version__,
        'semanticVersion': __version__,
        'rules': rules,
    }
    uri = information_uri()
    if uri:
        driver['informationUri'] = uri
    invocation: dict[str, Any] = {'executionSuccessful': True}
    notifications = _notifications(report)
    if notifications:
        invocation['toolExecutionNotifications'] = notifications
    run: dict[str, Any] = {
        'tool': {'driver': driver},
        'invocations': [invocation],
        'originalUriBaseIds': {SRCROOT: {'description': {'text': 'The root of the repository'}}},
        'results': [_result(f, rule_index) for f in findings],
        'columnKind': 'unicodeCodePoints',
    }
    return {'$schema': SARIF_SCHEMA_URI, 'version': SARIF_VERSION, 'runs': [run]}


def information_uri() -> str | None:
    """The project's home page from the installed package metadata, if it declares one."""
    from importlib import metadata  # only the SARIF path pays for reading metadata
    try:
        meta = metadata.metadata('reviewbot')
    except metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all('Project-URL') or []:
        label, _, url = entry.partition(',')
        if label.strip().lower() in ('homepage', 'home', 'source', 'repository') and url.strip():
            return url.strip()
    home = meta['Home-page'] if 'Home-page' in meta else None
    return home.strip() if home and home.strip().lower() != 'unknown' else None


def render(report: Report) -> str:
    return json.dumps(to_sarif(report), indent=2) + '\n'
