"""Every key a reviewbot config file may hold: its type, default (from reviewbot/defaults.py), meaning and
check (SCHEMA), and whether it may come from the code under review (TRUST). reviewbot.config loads and
checks files against these tables."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from reviewbot import defaults as default

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


def _inside_path(v: str) -> str | None:
    p = PurePosixPath(v.replace('\\', '/'))
    if v and (p.is_absolute() or v.startswith('~') or '..' in p.parts or re.match(r'[A-Za-z]:', v)):
        return 'must be a path inside the repository (relative, without "..")'
    return None


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


# Environment variables that hold a CI platform's or a cloud account's own credentials. No config key
# may name one as the variable to send: a config that could would hand the job's token to whatever
# endpoint it names (issue 14). Matched case-insensitively, by exact name or by prefix.
CREDENTIAL_ENV_NAMES = frozenset({
    'GITHUB_TOKEN', 'GH_TOKEN', 'GH_ENTERPRISE_TOKEN', 'GITHUB_ENTERPRISE_TOKEN', 'GITLAB_TOKEN',
    'CI_JOB_TOKEN', 'CI_JOB_JWT', 'CI_REGISTRY_PASSWORD', 'CI_DEPLOY_PASSWORD',
    'REVIEWBOT_GITHUB_TOKEN', 'REVIEWBOT_GITLAB_TOKEN',  # reviewbot's own publishing tokens
    'NODE_AUTH_TOKEN', 'NPM_TOKEN', 'TWINE_PASSWORD', 'TWINE_USERNAME', 'PYPI_TOKEN', 'KUBECONFIG',
})
CREDENTIAL_ENV_PREFIXES = (
    'GITHUB_', 'GH_', 'ACTIONS_', 'RUNNER_', 'CI_', 'GITLAB_', 'AWS_', 'AZURE_', 'ARM_', 'GOOGLE_',
    'GCP_', 'CLOUDSDK_', 'SSH_', 'VAULT_', 'DOCKER_', 'BUILDKITE_', 'CIRCLE_', 'TRAVIS_',
)
_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]{0,127}')


def credential_env_problem(name: str) -> str | None:
    """Why `name` may not be the variable whose value is sent as an API key or token, or None."""
    if name == '':
        return None  # the default applies
    if not _ENV_NAME.fullmatch(name):
        return 'must be the name of an environment variable (letters, digits, _)'
    upper = name.upper()
    if upper in CREDENTIAL_ENV_NAMES or upper.startswith(CREDENTIAL_ENV_PREFIXES):
        return (f'names {name}, a CI platform or cloud credential: refused, it is never sent '
                '(use a variable of its own, e.g. OPENAI_API_KEY or REVIEWBOT_SERVER_TOKEN)')
    return None


# section name ('' = top level) -> key -> Key. Other modules' keys are declared here too, so that
# one place says what a config file may contain.
SCHEMA: dict[str, dict[str, Key]] = {
    '': {
        'exclude': Key(list, [], 'extra glob patterns of paths never reviewed', check=_str_list),
        'default_exclude': Key(bool, True, 'also skip lock, generated, vendored and minified files'),
        'fail_level': Key(str, default.FAIL_LEVEL, 'exit 1 when a finding is at or above this severity',
                          choices=SEVERITY_LEVELS),
        'max_file_changed_lines': Key(int, default.MAX_FILE_CHANGED_LINES,
                                      'skip a file with more changed lines', check=_positive),
        'max_diff_changed_lines': Key(int, default.MAX_DIFF_CHANGED_LINES,
                                      'skip files past this many changed lines in all', check=_positive),
        'unanchored': Key(str, default.UNANCHORED, 'what to do with a finding on a line outside the diff',
                          choices=('file-note', 'drop')),
        'reviewers': Key(list, list(default.REVIEWERS), 'reviewers to run, in order',
                         check=_str_list),
        'model': Key(str, default.MODEL, 'local model name (see `reviewbot model list`)'),
        'model_dir': Key(str, '', 'where models are cached (default: per-user cache directory)'),
        'threads': Key(int, default.THREADS, 'CPU threads for the local model', check=_positive),
        'budget': Key((int, float), default.BUDGET, 'seconds the reviewers, run at once, may spend (0: no limit)',
                      check=_non_negative),
        'ci_budget': Key((int, float), default.CI_BUDGET, 'the same, in CI (--stage ci)',
                         check=_non_negative),
        'guidelines': Key(str, '', "path of the team's review guidelines file (Markdown), relative "
                          'to the repository root and inside it', check=_inside_path),
        'cache': Key(bool, True, 'cache model results on disk'),
        'triage_threshold': Key((int, float), default.TRIAGE_THRESHOLD,
                                'model reviewer: hunks whose risk score (0..1) is below this are cleared '
                                'by triage, not sent to generation',
                                check=lambda v: None if 0 <= v <= 1 else 'must be between 0 and 1'),
        'model_findings': Key(str, default.MODEL_FINDINGS,
                              "the model reviewer's own free-form findings: \"off\" (default: their measured "
                              'precision is under 50 %, eval/results/model-precision.md), "info", or "on" '
                              '(warning for a bug, error for a security finding, as the model labels them)',
                              choices=('off', 'info', 'on')),
        'server': Key(str, '', 'URL of an in-house `reviewbot serve` to use instead of a local model',
                      check=_server_url),
        'server_is_local': Key(bool, False, 'the server is run by your organisation: code may be sent '
                               'to it (never assumed)'),
        'server_token_env': Key(str, default.SERVER_TOKEN_ENV,
                                'environment variable holding the bearer token for the server '
                                '(never a CI platform credential such as GITHUB_TOKEN)',
                                check=credential_env_problem),
    },
    # [tool.reviewbot.hook]: the pre-commit / pre-push hook (reviewbot.commands.hook)
    'hook': {
        'on_missing_model': Key(str, default.HOOK_ON_MISSING_MODEL,
                                'when the local model is missing or broken: "fail-open" commits with the '
                                'other reviewers and says how to fetch it; "fail-closed" blocks the commit',
                                choices=('fail-open', 'fail-closed')),
        'budget': Key((int, float), default.HOOK_BUDGET, 'seconds the reviewers may spend in the hook',
                      check=_non_negative),
        'fail_level': Key(str, '', 'block at this severity in the hook ("" = the top-level fail_level)',
                          choices=('', *SEVERITY_LEVELS)),
    },
    # [tool.reviewbot.daemon]: the warm model (reviewbot.engine.warm, `reviewbot daemon`)
    'daemon': {
        'mode': Key(str, default.DAEMON_MODE,
                    'the warm model daemon: "use" it when it runs, also "start" it when it does not, '
                    'or "off" (never); $REVIEWBOT_DAEMON overrides',
                    choices=('off', 'use', 'start')),
        'idle_minutes': Key((int, float), default.DAEMON_IDLE_MINUTES,
                            'a started daemon exits after this many minutes without a request',
                            check=lambda v: None if v > 0 else 'must be above 0'),
    },
    'ruff': {
        'extend_select': Key(list, [], 'extra ruff rule codes to report (beyond the precise default set)',
                             check=_str_list),
        'ignore': Key(list, [], 'ruff rule codes never reported', check=_str_list),
    },
    # The `patterns` reviewer (reviewbot.reviewers.patterns): semgrep with the bundled rules.
    'patterns': {
        'semgrep': Key(str, '', 'semgrep executable, used as given ("" = reviewbot\'s own environment '
                       'from `reviewbot tools install semgrep`, else a new enough one on PATH; '
                       '$REVIEWBOT_SEMGREP overrides)'),
        'ignore': Key(list, [], 'pattern rule ids never reported (e.g. "c-system-non-literal")',
                      check=_str_list),
    },
    # The fix stage (reviewbot.fixes): verified fix proposals for findings.
    'fix': {
        'enabled': Key(bool, True, 'propose fixes (ruff, semgrep rules, secrets), each verified on the '
                       'patched text before it is shown; never written unless asked'),
        'model': Key(str, default.FIX_MODEL,
                     'the local model proposes fixes for what the other fixers cannot (verified the '
                     'same way): "auto" when the model reviewer runs or in CI, "on", "off"',
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
                                    '(default OPENAI_API_KEY / ANTHROPIC_API_KEY; never a CI '
                                    'platform credential such as GITHUB_TOKEN)',
                           check=credential_env_problem),
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


# --- trust ----------------------------------------------------------------------------------------
# A key is TRUSTED when its value decides where code or credentials go, which files outside the diff
# are read, or which program runs. A pull/merge request is written by its author, while the CI job
# that reviews it holds the maintainers' keys and tokens: so in CI (`reviewbot ci`) trusted keys
# come only from the base commit's config or from a --config file outside the checkout, never from
# the head (see with_trusted_from and reviewbot.ci_env.trusted_config). ORDINARY keys (what to report,
# how strictly) come from the head like everything else under review.
# Every key of SCHEMA is classified here; tests/test_config.py fails on a key that is not, so a key
# added later has to be placed on one side. A section given as a single class covers every key in
# it, including ones added later.
TRUSTED = 'trusted'
ORDINARY = 'ordinary'

TRUST: dict[str, str | dict[str, str]] = {
    '': {
        'exclude': ORDINARY,
        'default_exclude': ORDINARY,
        'fail_level': ORDINARY,
        'max_file_changed_lines': ORDINARY,
        'max_diff_changed_lines': ORDINARY,
        'unanchored': ORDINARY,
        'reviewers': TRUSTED,  # decides whether the cloud reviewer (and a server) is used at all
        'model': TRUSTED,  # a name, or a folder whose model files are read and run
        'model_dir': TRUSTED,  # where model files are read from
        'threads': ORDINARY,
        'budget': ORDINARY,
        'ci_budget': ORDINARY,
        'guidelines': TRUSTED,  # a file that is read and put into every prompt
        'cache': ORDINARY,
        'triage_threshold': ORDINARY,
        'model_findings': ORDINARY,
        'server': TRUSTED,  # where code goes
        'server_is_local': TRUSTED,  # whether code may go there
        'server_token_env': TRUSTED,  # which credential goes with it
    },
    'hook': {'on_missing_model': ORDINARY, 'budget': ORDINARY, 'fail_level': ORDINARY},
    'daemon': {'mode': TRUSTED,  # whether a background process is started
               'idle_minutes': ORDINARY},
    'ruff': {'extend_select': ORDINARY, 'ignore': ORDINARY},
    'patterns': {'semgrep': TRUSTED,  # a program that is run
                 'ignore': ORDINARY},
    'cloud': TRUSTED,  # every cloud.* key: endpoint, key variable, what may be sent, receipts path
    'fix': {'enabled': ORDINARY,
            'model': TRUSTED},  # whether code goes to the model, which may be a `server`
}
