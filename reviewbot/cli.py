"""Command-line entry point: `reviewbot SUBCOMMAND ...`.

Each subcommand lives in its own module under reviewbot.commands and exposes
`add_parser(subparsers)`, which registers the parser and sets `func=run(args) -> int`.
Modules keep heavy imports inside `run`, so `--help` and the hook stay fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from reviewbot import __version__
from reviewbot.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    MissingExtra,
    ReviewbotError,
)
from reviewbot.extras import extra_of
from reviewbot.textsafe import visible

# One line per subcommand module; order is the order in --help.
COMMAND_MODULES = (
    'reviewbot.commands.review',
    'reviewbot.commands.baseline',
    'reviewbot.commands.hook',
    'reviewbot.commands.install_hook',
    'reviewbot.commands.ci',
    'reviewbot.commands.publish',
    'reviewbot.commands.model',
    'reviewbot.commands.tools',
    'reviewbot.commands.serve',
    'reviewbot.commands.daemon',
)


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (not the whole usage) on a usage error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f'reviewbot: error: {message} (see {self.prog} --help)\n')


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog='reviewbot', description='Code review for git diffs by a local model; '
                     'private code never leaves the machine.')
    parser.add_argument('--version', action='version', version=f'reviewbot {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, 'func', None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ReviewbotError as e:
        # one line, whatever the message quotes (a path or diff line with CR, ESC, U+202E)
        print(f'reviewbot: {visible(str(e), keep_newlines=False)}', file=sys.stderr)
        return e.exit_code
    except ModuleNotFoundError as e:
        extra = extra_of(e.name)
        if extra is None:
            raise
        # an optional extra's module met after the command's own check (e.g. httpx for `server`)
        print(f'reviewbot: {MissingExtra(f"reviewbot {args.command}", extra, e.name)}', file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print('reviewbot: interrupted', file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
