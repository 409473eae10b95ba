"""Egress receipts: one JSON line per request that leaves the machine, written BEFORE it is sent.

If the receipt cannot be written, the request is not sent: there is no unrecorded egress. The default
file lives in the git directory (never the work tree, which a hook must not touch), else in the
user's cache directory.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from reviewbot.errors import ReviewbotError


class ReceiptError(ReviewbotError):
    """The egress receipt could not be written, so nothing is sent."""


def _git_dir(repo_root: Path) -> Path | None:
    try:
        out = subprocess.run(['git', '-C', str(repo_root), 'rev-parse', '--absolute-git-dir'],
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out) if out else None


def receipts_path(cloud: dict[str, Any], repo_root: Path | None) -> Path:
    configured = cloud.get('receipts_file') or ''
    if configured:
        p = Path(configured).expanduser()
        return p if p.is_absolute() or repo_root is None else repo_root / p
    if repo_root is not None and (git_dir := _git_dir(repo_root)) is not None:
        return git_dir / 'reviewbot' / 'egress.jsonl'
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(cache) / 'reviewbot' / 'egress.jsonl'


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


def append(path: Path, receipt: dict[str, Any]) -> None:
    """Append one JSON line and flush it to disk. Raises ReceiptError."""
    line = json.dumps(receipt, sort_keys=True, ensure_ascii=False) + '\n'
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, 'a', encoding='utf-8') as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as e:
        raise ReceiptError(f'cannot write the egress receipt {path}: {e.strerror or e}') from None


def read(path: Path) -> list[dict[str, Any]]:
    """All receipts in a file (for tests and audits)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines() if line.strip()]
