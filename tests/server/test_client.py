"""RemoteModel and model_for: a configured in-house server instead of a local model."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from reviewbot import config as cfgmod
from reviewbot.engine.remote import RemoteModel, model_for
from reviewbot.errors import ConfigError, ModelError
from tests.server.conftest import AUTH, MODEL, TOKEN, chat_body

MESSAGES = [{'role': 'user', 'content': 'Name one fruit.'}]


def server_config(tmp_path: Path, url: str, *, is_local: bool | None, token_env: str = 'RB_TEST_TOKEN') -> Any:
    lines = [f'server = "{url}"', f'server_token_env = "{token_env}"']
    if is_local is not None:
        lines.append(f'server_is_local = {str(is_local).lower()}')
    path = tmp_path / '.reviewbot.toml'
    path.write_text('\n'.join(lines) + '\n')
    return cfgmod.load(path)


def test_a_server_not_declared_in_house_gets_no_code(tmp_path: Path) -> None:
    listener = socket.create_server(('127.0.0.1', 0))
    listener.setblocking(False)
    url = f'http://127.0.0.1:{listener.getsockname()[1]}'
    try:
        for is_local in (None, False):
            with pytest.raises(ConfigError) as err:
                model_for(server_config(tmp_path, url, is_local=is_local))
            message = str(err.value)
            assert '\n' not in message and 'server_is_local = true' in message
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected
    finally:
        listener.close()


@pytest.mark.parametrize('table', [{'server': 'ftp://models.example'}, {'server': 'models.example:8000'},
                                   {'server_is_local': 'yes'}, {'server_token_env': 3}])
def test_bad_server_settings_are_config_errors(table: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        cfgmod.from_table(table, 'test')


def test_remote_model_matches_the_server(served: tuple[Any, str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = served
    monkeypatch.setenv('RB_TEST_TOKEN', TOKEN)
    model = model_for(server_config(tmp_path, base, is_local=True))
    assert isinstance(model, RemoteModel)
    try:
        assert model.name == MODEL and model.context_length > 1000
        prompt = model.chat_prompt(MESSAGES)
        assert 'Name one fruit.' in prompt
        result = model.generate(prompt, max_new_tokens=10)
        with httpx.Client(base_url=base, headers=AUTH, trust_env=False, timeout=120) as c:
            direct = c.post('/v1/chat/completions', json=chat_body('Name one fruit.', max_tokens=10)).json()
        assert result.token_ids == direct['reviewbot']['token_ids']  # same greedy tokens either way
        assert result.text == direct['choices'][0]['message']['content']
        assert result.prompt_tokens == direct['usage']['prompt_tokens']
        assert model.tokenizer.decode(result.token_ids) == result.text
    finally:
        model.close()


def test_remote_model_with_a_wrong_token_is_a_one_line_model_error(served: tuple[Any, str],
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = served
    monkeypatch.setenv('RB_TEST_TOKEN', 'not-the-token-0123456789')
    with pytest.raises(ModelError) as err:
        model_for(server_config(tmp_path, base, is_local=True))
    assert '401' in str(err.value) and '\n' not in str(err.value)


def test_remote_model_on_a_dead_port_is_a_model_error() -> None:
    with socket.create_server(('127.0.0.1', 0)) as s:
        port = s.getsockname()[1]
    with pytest.raises(ModelError) as err:
        RemoteModel(f'http://127.0.0.1:{port}')
    assert 'cannot reach the model server' in str(err.value)


def test_model_for_on_the_model_thread_is_the_servers_own_model(served: tuple[Any, str],
                                                                tmp_path: Path) -> None:
    server, _ = served
    # even a config naming some other server: the model thread never calls out, it is the model
    config = server_config(tmp_path, 'http://127.0.0.1:9', is_local=True)
    same = server.worker.submit(lambda model: model_for(config) is model).result(60)
    assert same is True


def test_remote_scoring_equals_the_model_threads_own(served: tuple[Any, str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    server, base = served
    monkeypatch.setenv('RB_TEST_TOKEN', TOKEN)
    prompt, candidates = 'Is water wet? Answer:', [' yes', ' no', '']
    prefix, text = 'def add(a, b):\n', '    return a + b\n'
    local = server.worker.submit(lambda m: (m.next_token_logprobs(prompt, candidates),
                                            m.token_surprisals(prefix, text))).result(120)
    model = model_for(server_config(tmp_path, base, is_local=True))
    try:
        assert model.next_token_logprobs(prompt, candidates) == local[0]
        assert model.token_surprisals(prefix, text) == pytest.approx(local[1])
        assert len(local[1]) == len(model.encode(text))
        assert model.decode(model.encode(text)) == text
    finally:
        model.close()


def test_model_reviewer_reviews_through_the_in_house_server(served: tuple[Any, str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewbot.diffparse import parse_diff
    from reviewbot.reviewers import ReviewContext
    from reviewbot.reviewers.model import ModelReviewer
    _, base = served
    monkeypatch.setenv('RB_TEST_TOKEN', TOKEN)
    cfg = server_config(tmp_path, base, is_local=True).override(cache=False, model_findings='info')
    diff = parse_diff(b'diff --git a/q.py b/q.py\nnew file mode 100644\n--- /dev/null\n+++ b/q.py\n'
                      b'@@ -0,0 +1,2 @@\n+def f(name, db):\n+    return db.execute("SELECT " + name)\n')
    reviewer = ModelReviewer(cfg)
    result = reviewer.review(diff.files, ReviewContext(config=cfg, read_new_file=lambda p: None))
    assert isinstance(reviewer.model, RemoteModel)  # no local model was loaded
    assert result.stats.get('model_calls', 0) >= 1
    with httpx.Client(base_url=base, headers=AUTH, trust_env=False, timeout=60) as c:
        metrics = c.get('/metrics', params={'format': 'json'}).json()
    assert metrics  # the server answered the reviewer's calls and still serves
    for f in result.findings:
        assert f.path == 'q.py' and f.line in (1, 2)


def test_model_reviewer_refuses_a_server_not_declared_in_house(tmp_path: Path) -> None:
    from reviewbot.reviewers.model import ModelReviewer
    cfg = server_config(tmp_path, 'http://127.0.0.1:9', is_local=False)
    with pytest.raises(ConfigError):
        _ = ModelReviewer(cfg).model


def test_every_request_to_the_in_house_server_is_in_the_reports_egress(served: tuple[Any, str],
                                                                       tmp_path: Path) -> None:
    """An in-house server is still off this machine: each request is in `egress` with host, bytes and
    the token variable, even though server_is_local = true (issue 14: the report said `egress: []`)."""
    import json as json_
    import os
    import subprocess
    import sys

    from reviewbot.core import Report
    from tests.conftest import REPO_ROOT
    _, base = served
    work = tmp_path / 'work'
    work.mkdir()
    (work / '.reviewbot.toml').write_text(f'reviewers = ["model"]\nserver = "{base}"\nserver_is_local = true\n'
                                          'server_token_env = "RB_TEST_TOKEN"\ntriage_threshold = 0.0\n'
                                          'model_findings = "on"\n')
    diff = (b'diff --git a/q.py b/q.py\nnew file mode 100644\n--- /dev/null\n+++ b/q.py\n'
            b'@@ -0,0 +1,2 @@\n+def f(name, db):\n+    return db.execute("SELECT " + name)\n')
    (work / 'change.diff').write_bytes(diff)
    env = {**os.environ, 'RB_TEST_TOKEN': TOKEN, 'REVIEWBOT_CACHE_DIR': str(tmp_path / 'cache'),
           'PYTHONPATH': str(REPO_ROOT) + os.pathsep + os.environ.get('PYTHONPATH', '')}

    def review() -> Report:
        proc = subprocess.run([sys.executable, '-m', 'reviewbot', 'review', '--diff', 'change.diff',
                               '--format', 'json', '--fail-level', 'none', '--budget', '0'],
                              cwd=work, env=env, capture_output=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        return Report.from_dict(json_.loads(proc.stdout))

    first = review()
    assert first.egress, first.notes
    for entry in first.egress:
        assert entry['destination'] == 'server' and entry['endpoint_host'] == '127.0.0.1'
        assert entry['url'].startswith(base + '/v1/') and entry['credential_env'] == 'RB_TEST_TOKEN'
        assert isinstance(entry['bytes'], int) and len(entry['sha256']) == 64
    assert TOKEN not in json_.dumps(first.egress)  # the variable's name, never its value
    calls = [(e['method'], e['url'][len(base):]) for e in first.egress]
    assert ('GET', '/v1/models') in calls and ('POST', '/v1/completions') in calls
    posted = [e for e in first.egress if e['method'] == 'POST']
    assert all(e['bytes'] > 0 for e in posted)
    assert sum(e['bytes'] for e in posted) > len(diff)  # the code itself went there, in prompts
    assert not any(f.extra.get('cached') for f in first.findings)

    again = review()  # every answer is in the result cache now: nothing is sent, and it says so
    assert again.egress == [], [(e["method"], e["url"]) for e in again.egress]
    assert [f.fingerprint for f in again.findings] == [f.fingerprint for f in first.findings]
    assert all(f.extra.get('cached') for f in again.findings)
    if again.findings:
        assert any('answered from the result cache' in n for n in again.notes)
