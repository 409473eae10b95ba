"""Egress receipts: one JSON line per request that leaves the machine, written BEFORE it is sent.

If the receipt cannot be written, the request is not sent: there is no unrecorded egress. The default
file lives in the git directory (never the work tree, which a hook must not touch), else in the
user's cache directory. A configured relative `receipts_file` is under the repository, whose work
tree a pull request controls: it is opened one component at a time with no symbolic link anywhere on
the way (reviewbot.safefile.open_inside), and must be a regular file; otherwise nothing is written
and so nothing is sent.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from reviewbot import git, safefile
from reviewbot.engine.paths import cache_home
from reviewbot.errors import ReviewbotError


class ReceiptError(ReviewbotError):
    """The egress receipt could not be written, so nothing is sent."""


def receipts_path(cloud: dict[str, Any], repo_root: Path | None) -> Path:
    configured = cloud.get('receipts_file') or ''
    if configured:
        p = Path(configured).expanduser()
        return p if p.is_absolute() or repo_root is None else repo_root / p
    if repo_root is not None:
        try:
            git_dir = git.git_dir(repo_root)
        except (git.GitError, OSError):  # git cannot run here: the cache directory
            git_dir = None
        if git_dir is not None:
            return git_dir / 'reviewbot' / 'egress.jsonl'
    return cache_home() / 'egress.jsonl'


def confined_to(cloud: dict[str, Any], repo_root: Path | None) -> Path | None:
    """The repository root a configured relative receipts_file must stay inside (with no link on the
    way), or None when the file is not in the work tree (absolute, the git dir, the cache dir)."""
    configured = cloud.get('receipts_file') or ''
    if not configured or repo_root is None or Path(configured).expanduser().is_absolute():
        return None
    return repo_root


def make_receipt(*, url: str, host: str, provider: str, model: str, body: bytes, files: list[str],
                 hunks: list[str], redactions: int, attempt: int, repo: str, stage: str) -> dict[str, Any]:
    return {
        'time': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'endpoint_host': host,
        'url': url,
        'provider': provider,
        'model': model,
        'bytes': len(body),
        'sha256': hashlib.sha256(body).hexdigest(),
        'files': list(files),
        'hunks': list(hunks),
        'redactions': redactions,
        'attempt': attempt,
        'repository': repo,
        'stage': stage,
    }


def append(path: Path, receipt: dict[str, Any], inside: Path | None = None) -> None:
    """Append one JSON line and flush it to disk. With `inside` (see confined_to), `path` must be
    under it with no symbolic link in any component below it. Raises ReceiptError."""
    line = json.dumps(receipt, sort_keys=True, ensure_ascii=False) + '\n'
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
    try:
        if inside is not None:
            fd = safefile.open_inside(inside, path.relative_to(inside), flags, 0o666, make_dirs=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o666)
        with os.fdopen(fd, 'a', encoding='utf-8') as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise safefile.UnsafePathError('not a regular file')
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
    except ValueError:  # relative_to: a configured relative path that leaves the repository
        raise ReceiptError(f'refusing to write the egress receipt {path}: it is not inside the '
                           'repository') from None
    except safefile.UnsafePathError as e:
        raise ReceiptError(f'refusing to write the egress receipt {path}: {e}') from None
    except OSError as e:
        raise ReceiptError(f'cannot write the egress receipt {path}: {e.strerror or e}') from None


def read(path: Path) -> list[dict[str, Any]]:
    """All receipts in a file (for tests and audits)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines() if line.strip()]
