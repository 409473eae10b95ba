from __future__ import annotations

import copy
import importlib.resources
import json
import pathlib

import jsonschema
import pytest

from reviewbot.core import Report
from reviewbot.reporters import json_


def report_schema() -> dict:
    return json.loads(importlib.resources.files('reviewbot').joinpath('data/report.schema.json').read_text())


def validator() -> jsonschema.Draft202012Validator:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_output_is_the_report_dict_indented(nasty):
    text = json_.render(nasty)
    assert text == json.dumps(nasty.to_dict(), indent=2) + '\n'
    assert text.startswith('{\n  "schema_version": 1,')


@pytest.mark.parametrize('which', ['nasty', 'empty'])
def test_output_validates_against_the_shipped_schema(which, request):
    report = request.getfixturevalue(which)
    doc = json.loads(json_.render(report))
    validator().validate(doc)
    assert doc['schema_version'] == 1


def test_round_trips_through_report_from_dict(nasty):
    doc = json.loads(json_.render(nasty))
    back = Report.from_dict(doc)
    assert back.to_dict() == doc
    assert [f.fingerprint for f in back.findings] == [f.fingerprint for f in nasty.findings]
    assert back.findings[0].message == nasty.findings[0].message  # CRLF, escapes and all


@pytest.mark.parametrize('breakage', [
    lambda d: d.update(schema_version=2),
    lambda d: d['findings'][0].update(line=0),
    lambda d: d['findings'][0].update(severity='fatal'),
    lambda d: d['findings'][0].pop('fingerprint'),
    lambda d: d['findings'][0].update(surprise=True),
    lambda d: d['findings'][2].update(end_line=4),  # a file-level note has no end line
    lambda d: d['coverage']['skipped'][0].update(lines=-1),
    lambda d: d.pop('coverage'),
    lambda d: d['findings'][0].update(fix=None),  # a suggestion without its verified fix
    lambda d: d['findings'][1].update(suggestion='x = 2'),  # ... or the other way round
    lambda d: d['findings'][0]['fix'].update(checks=[]),
    lambda d: d['findings'][0]['fix'].update(source='guess'),
])
def test_schema_rejects_malformed_reports(nasty, breakage):
    doc = json.loads(json_.render(nasty))
    assert doc['findings'][2]['line'] is None
    broken = copy.deepcopy(doc)
    breakage(broken)
    assert not validator().is_valid(broken)


def test_every_schema_field_is_documented():
    text = (pathlib.Path(__file__).resolve().parents[2] / 'docs' / 'report-json.md').read_text('utf-8')
    schema = report_schema()
    fields = set(schema['properties'])
    for name in ('finding', 'coverage', 'skipped', 'egress', 'fix', 'fixes'):
        fields |= set(schema['$defs'][name]['properties'])
    missing = [f for f in sorted(fields) if f'| `{f}` |' not in text]
    assert not missing


def test_a_suggestion_is_read_back_only_with_its_fix(nasty):
    doc = json.loads(json_.render(nasty))
    assert doc['findings'][0]['suggestion'] and doc['findings'][0]['fix']['checks']
    doc['findings'][0]['fix'] = None  # a hand-made report cannot smuggle in an unverified suggestion
    back = Report.from_dict(doc)
    assert back.findings[0].suggestion is None and back.findings[0].verified_fix is None
