"""Configuration: `[tool.reviewbot]` in pyproject.toml, or `.reviewbot.toml` (same keys, top level).

Every key is declared in SCHEMA with its type and default; an unknown key or a value of the wrong
type is a one-line ConfigError naming it. Sub-tables (e.g. `[tool.reviewbot.cloud]`) are sections
of SCHEMA. Command-line flags override the file (see `Config.override`).
"""
from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from reviewbot.errors import ConfigError

SEVERITY_LEVELS = ('info', 'warning', 'error', 'none')


@dataclasses.dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None  # returns an error text or None


def _positive(v: Any) -> str | None:
    return None if v > 0 else 'must be > 0'


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else 'must be >= 0'


def _str_list(v: Any) -> str | None:
    return None if all(isinstance(x, str) for x in v) else 'must be a list of strings'


CLOUD_STAGES = ('cli', 'ci', 'pre-commit', 'pre-push')


def _stage_list(v: Any) -> str | None:
    bad = [x for x in v if x not in CLOUD_STAGES]
    return None if not bad else f'has unknown stage(s) {bad!r} (known: {", ".join(CLOUD_STAGES)})'


def _server_url(v: str) -> str | None:
    if v == '':
        return None
    from urllib.parse import urlsplit
    parts = urlsplit(v)
    return None if parts.scheme in ('http', 'https') and parts.hostname else 'must be an http(s):// URL'


DEFAULT_EXCLUDE = (
    '**/*.lock', '**/package-lock.json', '**/yarn.lock', '**/pnpm-lock.yaml', '**/poetry.lock',
    '**/Cargo.lock', '**/go.sum', '**/*.min.js', '**/*.min.css', '**/*.map',
    '**/vendor/**', '**/node_modules/**', '**/dist/**', '**/*_pb2.py', '**/*.pb.go',
)

# section name ('' = top level) -> key -> Key. Other modules' keys are declared here too, so that
# one place says what a config file may contain.
SCHEMA: dict[str, dict[str, Key]] = {
    '': {
        'exclude': Key(list, [], 'extra glob patterns of paths never reviewed', check=_str_list),
        'default_exclude': Key(bool, True, 'also skip lock, generated, vendored and minified files'),
        'fail_level': Key(str, 'error', 'exit 1 when a finding is at or above this severity',
                          choices=SEVERITY_LEVELS),
        'max_file_changed_lines': Key(int, 5000, 'skip a file with more changed lines', check=_positive),
        'max_diff_changed_lines': Key(int, 50000, 'skip files past this many changed lines in all',
                                      check=_positive),
        'unanchored': Key(str, 'file-note', 'what to do with a finding on a line outside the diff',
                          choices=('file-note', 'drop')),
        'reviewers': Key(list, ['secrets', 'ruff', 'patterns', 'model'], 'reviewers to run, in order',
                         check=_str_list),
        'model': Key(str, 'qwen2.5-coder-0.5b', 'local model name (see `reviewbot model list`)'),
        'model_dir': Key(str, '', 'where models are cached (default: per-user cache directory)'),
        'threads': Key(int, 2, 'CPU threads for the local model', check=_positive),
        'budget': Key((int, float), 60, 'seconds the model reviewer may spend (0: no limit)',
                      check=_non_negative),
        'ci_budget': Key((int, float), 600, 'the same, in CI (--stage ci)', check=_non_negative),
        'guidelines': Key(str, '', "path of the team's review guidelines file (Markdown)"),
        'cache': Key(bool, True, 'cache model results on disk'),
        'triage_threshold': Key((int, float), 0.87, 'model reviewer: hunks whose risk score (0..1) is '
                                'below this are cleared by triage, not sent to generation',
                                check=lambda v: None if 0 <= v <= 1 else 'must be between 0 and 1'),
        'server': Key(str, '', 'URL of an in-house `reviewbot serve` to use instead of a local model',
                      check=_server_url),
        'server_is_local': Key(bool, False, 'the server is run by your organisation: code may be sent '
                               'to it (never assumed)'),
        'server_token_env': Key(str, 'REVIEWBOT_SERVER_TOKEN',
                                'environment variable holding the bearer token for the server'),
    },
    # [tool.reviewbot.hook]: the pre-commit / pre-push hook (reviewbot.commands.hook)
    'hook': {
        'on_missing_model': Key(str, 'fail-open', 'when the local model is missing or broken: '
                                '"fail-open" commits with the other reviewers and says how to fetch '
                                'it; "fail-closed" blocks the commit', choices=('fail-open', 'fail-closed')),
        'budget': Key((int, float), 20, 'seconds the model reviewer may spend in the hook',
                      check=_non_negative),
        'fail_level': Key(str, '', 'block at this severity in the hook ("" = the top-level fail_level)',
                          choices=('', *SEVERITY_LEVELS)),
    },
    'ruff': {
        'extend_select': Key(list, [], 'extra ruff rule codes to report (beyond the precise default set)',
                             check=_str_list),
        'ignore': Key(list, [], 'ruff rule codes never reported', check=_str_list),
    },
    # The `patterns` reviewer (reviewbot.reviewers.patterns): semgrep with the bundled rules.
    'patterns': {
        'semgrep': Key(str, '', 'semgrep executable ("" = the one installed with reviewbot[patterns], '
                       'else on PATH)'),
        'ignore': Key(list, [], 'pattern rule ids never reported (e.g. "c-system-non-literal")',
                      check=_str_list),
    },
    # The fix stage (reviewbot.fixes): verified fix proposals for findings.
    'fix': {
        'enabled': Key(bool, True, 'propose fixes (ruff, semgrep rules, secrets), each verified on the '
                       'patched text before it is shown; never written unless asked'),
        # off by default: of 7 model fixes that passed the verifier on the eval set, 2 were judged
        # correct (benchmarks/results/fixes-hand-review.md)
        'model': Key(str, 'off', 'the local model proposes fixes for what the other fixers cannot '
                     '(verified the same way): "auto" when the model reviewer runs or in CI, "on", "off"',
                     choices=('auto', 'on', 'off')),
    },
    # The cloud reviewer (reviewbot.reviewers.cloud). Off unless enabled, and even then it runs only
    # when the privacy gate (reviewbot.privacy.gate) verifies the repository public in this run.
    'cloud': {
        'enabled': Key(bool, False, 'opt in to the cloud reviewer (public repositories only)'),
        'provider': Key(str, 'openai', 'API protocol: OpenAI-compatible chat completions, or Anthropic',
                        choices=('openai', 'anthropic')),
        'base_url': Key(str, '', 'API base URL incl. version, e.g. https://api.openai.com/v1 '
                                 '(default: the provider\'s); https only, except loopback'),
        'model': Key(str, '', 'model name sent to the API (required when enabled)'),
        'api_key_env': Key(str, '', 'environment variable holding the API key '
                                    '(default OPENAI_API_KEY / ANTHROPIC_API_KEY)'),
        'timeout_connect': Key((int, float), 5.0, 'seconds to connect to the API', check=_positive),
        'timeout_read': Key((int, float), 120.0, 'seconds to wait for the answer', check=_positive),
        'max_retries': Key(int, 2, 'retries on 429/5xx/connection errors', check=_non_negative),
        'max_retry_wait': Key((int, float), 30.0, 'longest wait before a retry (caps Retry-After)',
                              check=_non_negative),
        'max_payload_bytes': Key(int, 100_000, 'largest request body sent; hunks past it are skipped',
                                 check=_positive),
        'max_output_tokens': Key(int, 2048, 'max_tokens asked of the model', check=_positive),
        'max_tokens_per_run': Key(int, 60_000, 'budget: prompt (estimated) + output tokens per run',
                                  check=_positive),
        'price_per_1k_input': Key((int, float), 0.0, 'price of 1000 prompt tokens (0 = unknown)',
                                  check=_non_negative),
        'price_per_1k_output': Key((int, float), 0.0, 'price of 1000 output tokens (0 = unknown)',
                                   check=_non_negative),
        'max_cost_per_run': Key((int, float), 0.0, 'refuse a run whose worst-case cost is higher '
                                                   '(0 = no limit)', check=_non_negative),
        'deny_paths': Key(list, [], 'glob patterns of paths never sent to the cloud', check=_str_list),
        'default_deny': Key(bool, True, 'also never send .env, keys, certificates, credentials files'),
        'stages': Key(list, ['ci', 'cli'], 'stages where the cloud may run (pre-commit/pre-push only '
                                           'if listed)', check=_stage_list),
        'visibility_timeout': Key((int, float), 5.0, 'seconds for the repository-visibility API call',
                                  check=_positive),
        'receipts_file': Key(str, '', 'JSON-lines log of every request sent (default: '
                                      '<git dir>/reviewbot/egress.jsonl, outside the work tree)'),
    },
}


@dataclasses.dataclass
class Config:
    values: dict[str, dict[str, Any]]
    source: Path | None = None  # the file the values came from, if any

    def get(self, key: str, section: str = '') -> Any:
        return self.values[section][key]

    def __getattr__(self, key: str) -> Any:  # top-level keys as attributes: cfg.fail_level
        try:
            return self.__dict__['values'][''][key]
        except KeyError:
            raise AttributeError(key) from None

    def section(self, name: str) -> dict[str, Any]:
        return self.values[name]

    def override(self, section: str = '', **flags: Any) -> Config:
        """A copy with command-line flags applied; None means 'not given on the command line'."""
        values = {s: dict(v) for s, v in self.values.items()}
        for key, value in flags.items():
            if value is None:
                continue
            values[section][key] = _check(section, key, value, origin='command line')
        return Config(values, self.source)


def defaults() -> Config:
    return Config({s: {k: _copy(key.default) for k, key in keys.items()} for s, keys in SCHEMA.items()})


def _copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else v


def _qualified(section: str, key: str) -> str:
    return f'{section}.{key}' if section else key


def _check(section: str, key: str, value: Any, origin: str) -> Any:
    spec = SCHEMA[section].get(key)
    name = _qualified(section, key)
    if spec is None:
        known = ', '.join(sorted(SCHEMA[section]))
        raise ConfigError(f'{origin}: unknown key {name!r} (known: {known})')
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    # bool is an int in Python; never accept true/false where a number is meant, or vice versa
    if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
        want = ' or '.join(t.__name__ for t in types)
        raise ConfigError(f'{origin}: {name} must be {want}, not {type(value).__name__} {value!r}')
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f'{origin}: {name} must be one of {", ".join(map(str, spec.choices))}, '
                          f'not {value!r}')
    if spec.check is not None and (problem := spec.check(value)):
        raise ConfigError(f'{origin}: {name} {problem}')
    return value


def find_config_file(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest .reviewbot.toml, or pyproject.toml with a [tool.reviewbot] table, upwards from start."""
    for d in (start, *start.parents):
        dedicated = d / '.reviewbot.toml'
        if dedicated.is_file():
            return dedicated, _read_toml(dedicated)
        pyproject = d / 'pyproject.toml'
        if pyproject.is_file():
            table = _read_toml(pyproject).get('tool', {}).get('reviewbot')
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError(f'{pyproject}: [tool.reviewbot] must be a table')
                return pyproject, table
        if (d / '.git').exists():
            break  # do not wander out of the repository
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f'{path}: cannot read: {e}') from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f'{path}: invalid TOML: {e}') from None


def from_table(table: dict[str, Any], origin: str) -> dict[str, dict[str, Any]]:
    """Validate a parsed table (top-level keys and sub-tables) against SCHEMA."""
    cfg = defaults().values
    for key, value in table.items():
        if isinstance(value, dict) and key in SCHEMA and key != '':
            for sub_key, sub_value in value.items():
                cfg[key][sub_key] = _check(key, sub_key, sub_value, origin)
        else:
            cfg[''][key] = _check('', key, value, origin)
    return cfg


def load(path: Path | None = None, start: Path | None = None) -> Config:
    """Load an explicit config file, else the nearest one from `start` (default: cwd), else defaults."""
    if path is not None:
        if not path.is_file():
            raise ConfigError(f'config file not found: {path}')
        table = _read_toml(path)
        if path.name == 'pyproject.toml':
            table = table.get('tool', {}).get('reviewbot', {})
        return Config(from_table(table, str(path)), path)
    found = find_config_file((start or Path.cwd()).resolve())
    if found is None:
        return defaults()
    file, table = found
    return Config(from_table(table, str(file)), file)
