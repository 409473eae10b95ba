"""The hook's answer cache: `reviewbot hook` run again on an index it has already reviewed whole prints
the answer it gave then, without loading a reviewer.

The key is everything the answer depends on, computed with git and a few stat calls (nothing heavy is
imported): the repository, HEAD, the index as `git diff-index` sees it (modes and full blob ids of every
staged path, renames found) and the diff's bytes, the resolved configuration, the hook's own options,
the environment reviewbot and its tools read (REVIEWBOT_*, RUFF_*, SEMGREP_*, XDG_*, NO_COLOR, PATH,
HOME), reviewbot's code (size and mtime of every module), the packages installed beside it (the tools
the reviewers run), the exported model's manifest, the baseline and the guidelines
file. Only a whole answer is kept: nothing skipped that another run could review (no budget cut, no
missing model, no reviewer that failed; `whole`) and no reviewer left running. Answers live under
($XDG_CACHE_HOME or ~/.cache)/reviewbot/answers ($REVIEWBOT_CACHE_DIR/answers when that is set),
owner-only, the newest MAX_ENTRIES kept; never in the work tree. `--no-cache` neither reads nor writes
them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reviewbot.engine.unixsock import secure_dir
from reviewbot.safefile import atomic_write

VERSION = 1
MAX_ENTRIES = 64
ENV_PREFIXES = ('REVIEWBOT_', 'RUFF_', 'SEMGREP_', 'XDG_')  # what reviewbot and its tools read
ENV_NAMES = ('NO_COLOR', 'PATH', 'HOME')


# skips a later run would decide the same way: the model's triage and the files it does not read
# (a skip with no reviewer is the diff's scope: size limits, generated or binary files, excludes)
DECIDED = ('triage: ', 'model: not a source file')


@dataclasses.dataclass(frozen=True)
class Answer:
    stdout: str
    code: int


def whole(report: Any) -> bool:
    """True when another run of the same review could not answer differently: nothing skipped that it
    could review (no budget cut, no missing model, no failed or missing tool; only skips decided by
    the diff and the configuration, reviewer None, or by the model's triage), the fix stage finished
    (report.unfinished), and no reviewer that depends on the network (cloud)."""
    return (all(s.reviewer is None or s.reason.startswith(DECIDED) for s in report.coverage.skipped)
            and not report.unfinished and 'cloud' not in report.reviewers)


def _outside(root: Path | None, folder: Path) -> bool:
    """True when `folder` is outside the work tree at `root` (a relative or in-repository
    $XDG_CACHE_HOME / $REVIEWBOT_CACHE_DIR would put it inside); no root: no work tree to keep out of."""
    if root is None:
        return True
    if not folder.is_absolute():
        return False
    try:
        folder.resolve().relative_to(root.resolve())
    except ValueError:
        return True
    return False


def answers_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$REVIEWBOT_CACHE_DIR/answers when set (beside the model's results), else <cache home>/answers."""
    from reviewbot.engine.paths import ENV_CACHE_DIR, cache_home
    env = dict(os.environ if environ is None else environ)
    if env.get(ENV_CACHE_DIR):
        return Path(env[ENV_CACHE_DIR]).expanduser() / 'answers'
    return cache_home(env) / 'answers'


def code_identity() -> list[Any]:
    """reviewbot's modules and data (path, size, mtime); the folders Python installs packages into
    (their mtime changes when a package such as ruff or detect-secrets is installed, upgraded or
    removed: its dist-info folder is replaced); and the tools found outside them: ruff and semgrep on
    PATH, semgrep's tool environment."""
    from reviewbot import toolenv
    root = Path(__file__).parent
    files = []
    for p in root.rglob('*'):
        if p.suffix in ('.py', '.yml', '.yaml', '.json', '.npz', '.toml'):
            files.append([p.relative_to(root).as_posix(), *_stat(p)])
    installed = [[entry, *_stat(Path(entry))] for entry in sys.path
                 if entry.endswith(('site-packages', 'dist-packages'))]
    tools = [file_identity(Path(found) if found else None) for found in (shutil.which('ruff'), shutil.which('semgrep'))]
    tools.append(file_identity(toolenv.env_path() / toolenv.MANIFEST))
    return [sorted(files), installed, tools]


def _stat(path: Path) -> list[Any]:
    try:
        st = path.stat()
    except OSError:  # e.g. a dangling link, or a file removed by an upgrade under way
        return [None, None]
    return [st.st_size, st.st_mtime_ns]


def file_identity(path: Path | None) -> list[Any] | None:
    """(path, size, mtime) of a file the answer depends on; None when there is none."""
    if path is None:
        return None
    return [str(path), *_stat(path)]


def key(parts: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str:
    """The answer's key: `parts` (what the caller knows it depends on) with the environment and code."""
    env = os.environ if environ is None else environ
    env_part = sorted((k, v) for k, v in env.items() if k.startswith(ENV_PREFIXES) or k in ENV_NAMES)
    blob = json.dumps({'version': VERSION, 'parts': parts, 'env': env_part, 'code': code_identity()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode('utf-8', 'surrogateescape')).hexdigest()


def load(answer_key: str, folder: Path | None = None) -> Answer | None:
    """The answer stored under the key; None when there is none (or it cannot be read)."""
    folder = folder or answers_dir()
    if not secure_dir(folder, create=False):  # another user could have written it: not trusted
        return None
    path = folder / f'{answer_key}.json'
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
        answer = Answer(str(data['stdout']), int(data['code']))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    _touch(path)  # the newest entries are the ones kept
    return answer


def _touch(path: Path) -> None:
    now = time.time_ns()  # finer than the file system's own clock, so the order of entries is true
    try:
        os.utime(path, ns=(now, now))
    except OSError:
        pass


def store(answer_key: str, answer: Answer, folder: Path | None = None, *, work_tree: Path | None = None) -> None:
    """Keep the answer (atomically; a folder that cannot be written is left alone: it is only a cache),
    never inside `work_tree` and only in a folder of this user closed to others."""
    folder = folder or answers_dir()
    if not _outside(work_tree, folder) or not secure_dir(folder, create=True):
        return
    try:
        atomic_write(folder / f'{answer_key}.json', json.dumps(dataclasses.asdict(answer)))
        _touch(folder / f'{answer_key}.json')
        entries = sorted(folder.glob('*.json'), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in entries[MAX_ENTRIES:]:
            old.unlink(missing_ok=True)
    except OSError:
        return
