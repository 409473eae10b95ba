"""`reviewbot tools list | install semgrep`: programs reviewbot runs from environments of their own.

semgrep (the `patterns` reviewer and the semgrep fix rules) is installed into a virtualenv under
the user's cache, never into the environment reviewbot runs in (reviewbot.toolenv). A review never
installs anything: without semgrep the patterns reviewer notes this command and skips.
"""
from __future__ import annotations

import argparse
import sys

from reviewbot.errors import EXIT_OK, EXIT_USAGE


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser('tools', help='install and show the programs reviewers run (semgrep)')
    p.set_defaults(func=run, tools_command=None)
    actions = p.add_subparsers(dest='tools_command', metavar='ACTION', parser_class=type(p))
    actions.add_parser('list', help='where each tool is found (and its version), or why it is not')
    i = actions.add_parser('install', help='build a tool\'s own environment under the user cache '
                           '($REVIEWBOT_TOOLS_DIR or ~/.cache/reviewbot/tools)')
    i.add_argument('tool', metavar='TOOL', choices=('semgrep',), help='semgrep')
    i.add_argument('--force', action='store_true', help='build it again even if it is there')


def run(args: argparse.Namespace) -> int:
    handler = {'list': _list, 'install': _install}.get(args.tools_command)
    if handler is None:
        print('reviewbot: error: say what to do: reviewbot tools {list,install} '
              '(see reviewbot tools --help)', file=sys.stderr)
        return EXIT_USAGE
    return handler(args)


def _list(args: argparse.Namespace) -> int:
    from reviewbot import config, toolenv
    section = config.load().section('patterns')
    found = toolenv.locate_semgrep(str(section.get('semgrep') or ''))
    if found.path is None:
        print(f'semgrep: {found.problem}')
    else:
        print(f'semgrep {found.version or "(version not checked)"}: {found.path} ({found.origin})')
    print(f'tool environments: {toolenv.tools_dir()} (pinned: semgrep {toolenv.SEMGREP_VERSION})')
    return EXIT_OK


def _install(args: argparse.Namespace) -> int:
    from reviewbot import toolenv
    path = toolenv.install_semgrep(force=args.force, say=lambda line: print(f'reviewbot: {line}',
                                                                           file=sys.stderr))
    print(path / 'bin' / 'semgrep')
    return EXIT_OK
