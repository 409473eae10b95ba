"""`reviewbot serve`: share one local model with a team over HTTP (OpenAI-compatible + /v1/review)."""
from __future__ import annotations

import argparse
from pathlib import Path

from reviewbot import defaults as default
from reviewbot.errors import EXIT_OK


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        'serve', help='serve the local model over HTTP for a team (needs the `server` extra)',
        description='Serve one local model over HTTP: OpenAI-compatible /v1/chat/completions and '
        '/v1/completions, /v1/review (unified diff in, JSON report out), /healthz and /metrics. '
        'Binds to loopback unless told otherwise; any other address needs a bearer token '
        '($REVIEWBOT_SERVER_TOKEN or --token-file).')
    p.add_argument('--model', metavar='NAME', help='model name or exported model folder (default: config)')
    p.add_argument('--model-dir', metavar='DIR', help='model cache directory')
    p.add_argument('--precision', help='exported precision to load (default: the best available)')
    p.add_argument('--threads', type=int, metavar='N', help='onnxruntime threads (default: config, 2)')
    p.add_argument('--host', default=default.SERVER_HOST,
                   help=f'address to bind (default: {default.SERVER_HOST})')
    p.add_argument('--port', type=int, default=default.SERVER_PORT,
                   help=f'port (default: {default.SERVER_PORT}; 0 picks a free one)')
    p.add_argument('--token-file', metavar='FILE',
                   help='file holding the bearer token (else $REVIEWBOT_SERVER_TOKEN)')
    p.add_argument('--config', metavar='FILE', help='config file for /v1/review (reviewers, limits)')
    p.add_argument('--reviewers', metavar='A,B', help='reviewers /v1/review runs (default: config)')
    p.add_argument('--queue-size', type=int, default=default.SERVER_QUEUE_SIZE, metavar='N',
                   help='requests that may wait for the model; more get 429 '
                        f'(default: {default.SERVER_QUEUE_SIZE})')
    p.add_argument('--max-request-bytes', type=int, default=default.SERVER_MAX_REQUEST_BYTES, metavar='N',
                   help='larger request bodies get 413 (default: 2 MiB)')
    p.add_argument('--request-timeout', type=float, default=default.SERVER_REQUEST_TIMEOUT, metavar='SECONDS',
                   help='time from arrival to answer, queue wait included '
                        f'(default: {default.SERVER_REQUEST_TIMEOUT:g})')
    p.add_argument('--max-tokens', type=int, default=default.SERVER_MAX_TOKENS, metavar='N',
                   help=f'most new tokens one request may ask for (default: {default.SERVER_MAX_TOKENS})')
    p.add_argument('--graceful-timeout', type=float, default=default.SERVER_GRACEFUL_TIMEOUT,
                   metavar='SECONDS',
                   help='on SIGTERM/SIGINT, how long in-flight requests may take to finish '
                        f'(default: {default.SERVER_GRACEFUL_TIMEOUT:g})')
    p.add_argument('--log-level', default='info', choices=('critical', 'error', 'warning', 'info', 'debug'))
    p.add_argument('--no-access-log', action='store_true', help='do not log one line per request')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reviewbot import config as cfgmod
    from reviewbot import extras
    from reviewbot.errors import ConfigError
    extras.require('server', '`reviewbot serve`')
    from reviewbot.server.runner import ModelServer, load_token
    cfg = cfgmod.load(Path(args.config) if args.config else None)
    reviewers = [r.strip() for r in args.reviewers.split(',') if r.strip()] if args.reviewers else None
    # the server's own config must not send the model elsewhere: it IS the model
    cfg = cfg.override(model=args.model, model_dir=args.model_dir, threads=args.threads,
                       reviewers=reviewers, server='')
    for name, value, low in (('--queue-size', args.queue_size, 1), ('--max-request-bytes',
                             args.max_request_bytes, 1024), ('--max-tokens', args.max_tokens, 1)):
        if value < low:
            raise ConfigError(f'{name} must be >= {low}')
    if args.request_timeout <= 0:
        raise ConfigError('--request-timeout must be > 0')
    token = load_token(args.token_file)

    def load():
        from reviewbot.engine import load_model
        return load_model(cfg.model, model_dir=cfg.model_dir or None, threads=cfg.threads,
                          precision=args.precision)

    server = ModelServer(load, cfg, model_name=cfg.model, host=args.host, port=args.port, token=token,
                         queue_size=args.queue_size, max_request_bytes=args.max_request_bytes,
                         request_timeout=args.request_timeout, max_tokens=args.max_tokens,
                         graceful_timeout=args.graceful_timeout, log_level=args.log_level,
                         access_log=not args.no_access_log)
    server.run()
    return EXIT_OK
