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
