from __future__ import annotations

import pytest

from reviewbot import config
from reviewbot.errors import ConfigError


def test_defaults_without_file(tmp_path):
    (tmp_path / '.git').mkdir()
    cfg = config.load(start=tmp_path)
    assert cfg.fail_level == 'error' and cfg.source is None


def test_pyproject_table_and_dedicated_file(tmp_path):
    (tmp_path / '.git').mkdir()
    (tmp_path / 'pyproject.toml').write_text('[tool.reviewbot]\nfail_level = "warning"\n'
                                             'exclude = ["docs/**"]\n')
    cfg = config.load(start=tmp_path)
    assert cfg.fail_level == 'warning' and cfg.exclude == ['docs/**']
    (tmp_path / '.reviewbot.toml').write_text('fail_level = "info"\n')
    assert config.load(start=tmp_path).fail_level == 'info'


@pytest.mark.parametrize('body, words', [
    ('colour = "red"\n', "unknown key 'colour'"),
    ('fail_level = "fatal"\n', 'fail_level must be one of'),
    ('budget = true\n', 'budget must be'),
    ('max_file_changed_lines = 0\n', 'must be > 0'),
    ('exclude = [1, 2]\n', 'list of strings'),
    ('fail_level = \n', 'invalid TOML'),
])
def test_bad_keys_and_values_are_one_line_errors(tmp_path, body, words):
    (tmp_path / '.git').mkdir()
    (tmp_path / '.reviewbot.toml').write_text(body)
    with pytest.raises(ConfigError) as e:
        config.load(start=tmp_path)
    assert words in str(e.value) and '\n' not in str(e.value)


def test_flags_override_file(tmp_path):
    (tmp_path / '.git').mkdir()
    (tmp_path / '.reviewbot.toml').write_text('fail_level = "info"\nbudget = 5\n')
    cfg = config.load(start=tmp_path).override(fail_level='none', budget=None)
    assert cfg.fail_level == 'none' and cfg.budget == 5


# -- trust (issue 14): which keys a pull request may set for its own review --------------------------

def test_every_config_key_is_classified_trusted_or_ordinary():
    """A key added later must be placed on one side: one that decides egress, reads files or runs a
    program is TRUSTED (taken from the base commit in CI), anything else ORDINARY."""
    assert config.unclassified_keys() == []
    for section, keys in config.SCHEMA.items():
        for key in keys:
            assert config.trust_of(section, key) in (config.TRUSTED, config.ORDINARY), (section, key)
    trusted = {config._qualified(s, k) for s, k in config.trusted_keys()}
    for name in ('server', 'server_is_local', 'server_token_env', 'guidelines', 'model', 'model_dir',
                 'reviewers', 'patterns.semgrep', 'cloud.base_url', 'cloud.api_key_env', 'cloud.enabled',
                 'cloud.receipts_file', 'cloud.deny_paths', 'cloud.stages', 'fix.model'):
        assert name in trusted, name
    assert 'fail_level' not in trusted and 'exclude' not in trusted


def test_a_key_nobody_classified_is_caught_and_treated_as_trusted(monkeypatch):
    monkeypatch.setitem(config.SCHEMA, '', {**config.SCHEMA[''], 'upload_to': config.Key(str, '', 'x')})
    assert config.unclassified_keys() == ['upload_to']
    assert ('', 'upload_to') in config.trusted_keys()  # fail closed until it is classified


def test_with_trusted_from_keeps_ordinary_keys_and_names_what_it_ignored():
    head = config.Config(config.from_table(
        {'fail_level': 'none', 'server': 'http://evil.example', 'server_is_local': True,
         'cloud': {'base_url': 'https://evil.example/v1', 'model': 'm'}}, 'head'))
    base = config.Config(config.from_table({'cloud': {'model': 'm'}}, 'base'))
    split = config.with_trusted_from(head, base, "the base commit's .reviewbot.toml")
    cfg = split.config
    assert cfg.fail_level == 'none'  # ordinary: the head's
    assert cfg.server == '' and cfg.server_is_local is False
    assert cfg.get('base_url', 'cloud') == '' and cfg.get('model', 'cloud') == 'm'
    assert split.ignored == ('server', 'server_is_local', 'cloud.base_url')
    note = split.note()
    assert note is not None and '\n' not in note and "the base commit's .reviewbot.toml" in note
    assert 'evil' not in note  # the head's values are not echoed
    assert config.with_trusted_from(base, base, 'x').note() is None


@pytest.mark.parametrize('table', [
    {'server_token_env': 'GITHUB_TOKEN'}, {'server_token_env': 'CI_JOB_TOKEN'},
    {'cloud': {'api_key_env': 'GITHUB_TOKEN'}}, {'cloud': {'api_key_env': 'GH_TOKEN'}},
    {'cloud': {'api_key_env': 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'}}, {'cloud': {'api_key_env': 'github_token'}},
    {'cloud': {'api_key_env': 'RUNNER_TEMP'}}, {'cloud': {'api_key_env': 'AWS_SECRET_ACCESS_KEY'}},
    {'cloud': {'api_key_env': 'GITLAB_TOKEN'}}, {'cloud': {'api_key_env': 'REVIEWBOT_GITLAB_TOKEN'}},
    {'cloud': {'api_key_env': 'CI_REGISTRY_PASSWORD'}}, {'cloud': {'api_key_env': 'A B'}},
])
def test_platform_credentials_are_refused_as_key_variables(table):
    with pytest.raises(ConfigError) as e:
        config.from_table(table, 'x.toml')
    assert '\n' not in str(e.value)


@pytest.mark.parametrize('table', [{'server_token_env': 'REVIEWBOT_SERVER_TOKEN'},
                                   {'cloud': {'api_key_env': 'OPENAI_API_KEY'}},
                                   {'cloud': {'api_key_env': 'MY_GATEWAY_KEY'}}, {'cloud': {'api_key_env': ''}}])
def test_ordinary_key_variables_are_accepted(table):
    config.from_table(table, 'x.toml')


@pytest.mark.parametrize('value', ['../outside.md', '/etc/passwd', 'docs/../../x', '~/notes.md',
                                   'C:/x.md', '..\\x.md'])
def test_guidelines_outside_the_repository_are_config_errors(value):
    with pytest.raises(ConfigError) as e:
        config.from_table({'guidelines': value}, 'x.toml')
    assert 'inside the repository' in str(e.value)
