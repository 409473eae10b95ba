"""`reviewbot review`: review one diff and report findings."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser('review', help='review a diff (staged changes, a range, a file or stdin)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
