"""reviewbot/defaults.py owns every default: the config schema, the model registry, `reviewbot serve`
and the server's own settings all say the same."""
from __future__ import annotations

import argparse

from reviewbot import config, defaults
from reviewbot.commands import serve
from reviewbot.engine import registry


def test_the_config_defaults_come_from_defaults_py() -> None:
    cfg = config.defaults()
    assert cfg.model == defaults.MODEL == registry.default_name()
    assert tuple(cfg.reviewers) == defaults.REVIEWERS
    assert (cfg.fail_level, cfg.threads, cfg.budget, cfg.ci_budget, cfg.triage_threshold) == (
        defaults.FAIL_LEVEL, defaults.THREADS, defaults.BUDGET, defaults.CI_BUDGET, defaults.TRIAGE_THRESHOLD)
    assert (cfg.max_file_changed_lines, cfg.max_diff_changed_lines, cfg.unanchored, cfg.server_token_env) == (
        defaults.MAX_FILE_CHANGED_LINES, defaults.MAX_DIFF_CHANGED_LINES, defaults.UNANCHORED,
        defaults.SERVER_TOKEN_ENV)
    assert cfg.section('hook')['budget'] == defaults.HOOK_BUDGET
    assert cfg.section('hook')['on_missing_model'] == defaults.HOOK_ON_MISSING_MODEL
    assert cfg.section('daemon') == {'mode': defaults.DAEMON_MODE, 'idle_minutes': defaults.DAEMON_IDLE_MINUTES}
    assert cfg.section('fix')['model'] == defaults.FIX_MODEL


def test_serve_and_the_server_use_the_same_defaults() -> None:
    from reviewbot.server.app import Settings
    parser = argparse.ArgumentParser()
    serve.add_parser(parser.add_subparsers())
    args = parser.parse_args(['serve'])
    assert (args.host, args.port, args.queue_size, args.max_request_bytes, args.request_timeout,
            args.max_tokens, args.graceful_timeout) == (
        defaults.SERVER_HOST, defaults.SERVER_PORT, defaults.SERVER_QUEUE_SIZE, defaults.SERVER_MAX_REQUEST_BYTES,
        defaults.SERVER_REQUEST_TIMEOUT, defaults.SERVER_MAX_TOKENS, defaults.SERVER_GRACEFUL_TIMEOUT)
    settings = Settings(model_name='m')
    assert (settings.max_request_bytes, settings.request_timeout, settings.max_tokens) == (
        defaults.SERVER_MAX_REQUEST_BYTES, defaults.SERVER_REQUEST_TIMEOUT, defaults.SERVER_MAX_TOKENS)
