"""`reviewbot daemon start|stop|status|run`: the warm model the hook and `review` use when it runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reviewbot.errors import EXIT_NOT_RUNNING, EXIT_OK, EXIT_USAGE


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        'daemon', help='keep the local model loaded for hooks (start|stop|status)',
        description='A background process that keeps the local model loaded, on a Unix socket only '
                    'this user can open (mode 0600 in a 0700 folder of the cache dir; other users '
                    'are refused by their uid). The hook and `review` use it when it runs '
                    '([daemon] mode = "use", the default), start it when it does not ("start"), or '
                    'never ("off"; also $REVIEWBOT_DAEMON). It exits after [daemon] idle_minutes '
                    'without a request, and is replaced when the model is re-exported or reviewbot '
                    'is upgraded. Exit 0: fine; 2: error (also: start failed); 5: status found no daemon.')
    p.add_argument('action', choices=('start', 'stop', 'status', 'run'),
                   help='start in the background, stop, show, or run in the foreground')
    p.add_argument('--config', metavar='FILE', help='config file (default: nearest .reviewbot.toml '
                   'or pyproject.toml [tool.reviewbot])')
    p.add_argument('--model', metavar='NAME', help='local model name or exported model folder')
    p.add_argument('--model-dir', metavar='DIR', help='model cache directory')
    p.add_argument('--threads', type=int, metavar='N', help='CPU threads for the model')
    p.add_argument('--idle-minutes', type=float, metavar='M', help='exit after M minutes without a request')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reviewbot.engine import unixsock, warm
    from reviewbot.errors import ConfigError, ModelError

    model, model_dir, threads, idle = args.model, args.model_dir, args.threads, args.idle_minutes
    if args.action != 'run' or model is None or threads is None or idle is None:
        from reviewbot import config as cfgmod
        config = cfgmod.load(Path(args.config) if args.config else None).override(
            model=args.model, model_dir=args.model_dir)
        model = model or config.model
        model_dir = model_dir or config.model_dir or None
        threads = threads if threads is not None else config.threads
        idle = idle if idle is not None else config.section('daemon')['idle_minutes']
    if not unixsock.supported():
        raise ConfigError('the daemon needs Unix sockets with SO_PEERCRED (Linux); the hook loads '
                          'the model itself here')
    if threads < 1 or idle <= 0:
        raise ConfigError('--threads must be >= 1 and --idle-minutes > 0')
    folder = warm.model_folder(model, model_dir)
    path = unixsock.socket_path(folder, threads)
    want = warm.identity(folder, threads)

    if args.action == 'run':
        from reviewbot.server.daemon import Daemon
        return Daemon(folder, threads, idle * 60.0).run()
    if args.action == 'stop':
        stopped = warm.stop(path)
        print(f'reviewbot daemon: {"stopped" if stopped else "not running"} ({folder})')
        return EXIT_OK
    if args.action == 'status':
        try:
            conn, info = warm.hello(path, want)
            conn.close()
        except unixsock.DaemonGone:
            print(f'reviewbot daemon: not running ({folder})')
            return EXIT_NOT_RUNNING
        current = 'current' if info['identity'] == want else 'STALE (another export or version: it ' \
                                                            'will be stopped on next use)'
        print(f'reviewbot daemon: running, pid {info["pid"]}, model {info["name"]} '
              f'{info["precision"]} ({folder}), {current}, {info["requests"]} requests, idle '
              f'{info["idle_seconds"]:.0f} s of {info["idle_exit_seconds"]:.0f} s, socket {path}')
        return EXIT_OK
    # start: the same steps as a hook with [daemon] mode = "start" (warm.reach)
    if not (folder / 'reviewbot-model.json').is_file():
        raise ModelError(f'{folder} is not an exported model: run `reviewbot model export {model}`')
    reached = warm.reach(folder, threads, start=True, idle_minutes=idle)
    if reached.conn is None or reached.info is None:
        print(f'reviewbot: error: the daemon did not start ({reached.failed}); see '
              f'{path.with_suffix(".log")}', file=sys.stderr)
        return EXIT_USAGE
    reached.conn.close()
    if not reached.started:
        print(f'reviewbot daemon: already running, pid {reached.info["pid"]} ({folder})')
        return EXIT_OK
    print(f'reviewbot daemon: started, pid {reached.info["pid"]}, socket {path}')
    return EXIT_OK
